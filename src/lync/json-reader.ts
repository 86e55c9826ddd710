/**
 * A small reader for hand-written JSON documents: it reads one object at a
 * time, applies defaults, and collects every problem with its JSON pointer
 * (RFC 6901) instead of stopping at the first one.
 *
 * The topology validator is built on it; nothing in here knows about Lync.
 */

/** One thing wrong with a document: where (a JSON pointer) and what. */
export interface TopologyProblem {
  /** JSON pointer to the offending value, e.g. `/trunks/2/peerPort` (`""` is the whole document). */
  path: string;
  /** What is wrong and what was expected. */
  message: string;
}

/** Appends segments to a JSON pointer, escaping `~` and `/` (RFC 6901 §3). */
export function pointer(base: string, ...segments: (string | number)[]): string {
  let out = base;
  for (const segment of segments) {
    out += '/' + String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
  }
  return out;
}

/** Collects problems in the order they were found. */
export class Problems {
  readonly list: TopologyProblem[] = [];

  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  get count(): number {
    return this.list.length;
  }
}

/** `string`, `integer`, `array`... as a reader names the type of a JSON value. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** JSON text of a value for a message, shortened. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j];
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1;
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The closest name to `name` among `candidates`, if it is close enough to be a typo. */
export function closest(name: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : null;
}

/** ` (did you mean "x"?)` or nothing. */
export function suggestion(name: string, candidates: readonly string[]): string {
  const near = closest(name, candidates);
  return near !== null && near !== name ? ` (did you mean "${near}"?)` : '';
}

export interface IntegerRange {
  min?: number;
  max?: number;
}

function rangeText(range: IntegerRange): string {
  if (range.min !== undefined && range.max !== undefined) return ` from ${range.min} to ${range.max}`;
  if (range.min !== undefined) return ` >= ${range.min}`;
  if (range.max !== undefined) return ` <= ${range.max}`;
  return '';
}

/**
 * Reads the properties of one JSON object. Every property the object may
 * have is declared up front; `finish()` reports the ones the document has
 * but nobody declared (typos), and throws if the code declared a property
 * it never read (a bug: the schema and the reader drifted apart).
 */
export class ObjectReader {
  readonly path: string;
  readonly value: Record<string, unknown>;
  readonly problems: Problems;
  private readonly declared: readonly string[];
  private readonly touched = new Set<string>();

  constructor(value: Record<string, unknown>, path: string, problems: Problems, declared: readonly string[]) {
    this.value = value;
    this.path = path;
    this.problems = problems;
    this.declared = declared;
  }

  /** A reader for `value` if it is an object; otherwise reports `expected <what>` and returns null. */
  static of(
    value: unknown,
    path: string,
    problems: Problems,
    declared: readonly string[],
    what: string,
  ): ObjectReader | null {
    if (!isPlainObject(value)) {
      problems.add(path, `expected ${what} (a JSON object), got ${jsonType(value)}`);
      return null;
    }
    return new ObjectReader(value, path, problems, declared);
  }

  /** Pointer to a property of this object. */
  at(key: string): string {
    return pointer(this.path, key);
  }

  /** The document has this property (even if null). */
  has(key: string): boolean {
    this.touch(key);
    return Object.hasOwn(this.value, key);
  }

  /** The raw value (undefined when absent). */
  raw(key: string): unknown {
    this.touch(key);
    return this.value[key];
  }

  problem(key: string, message: string): void {
    this.problems.add(this.at(key), message);
  }

  missing(key: string, expected: string): void {
    this.problems.add(this.at(key), `required property "${key}" is missing; expected ${expected}`);
  }

  /** A required string; undefined (and a problem) when missing or not a string. */
  requiredString(key: string, expected: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) {
      this.missing(key, expected);
      return undefined;
    }
    return this.checkString(key, value, expected);
  }

  /** An optional string with a default. */
  string(key: string, fallback: string, expected = 'a string'): string {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    return this.checkString(key, value, expected) ?? fallback;
  }

  /** An optional string that may be null; absent gives `fallback`. */
  nullableString(key: string, fallback: string | null, expected = 'a string or null'): string | null {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (value === null) return null;
    return this.checkString(key, value, expected) ?? fallback;
  }

  private checkString(key: string, value: unknown, expected: string): string | undefined {
    if (typeof value !== 'string') {
      this.problem(key, `expected ${expected}, got ${jsonType(value)} ${shown(value)}`);
      return undefined;
    }
    return value;
  }

  /** A required integer in range. */
  requiredInteger(key: string, range: IntegerRange, expected: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined) {
      this.missing(key, expected);
      return undefined;
    }
    return this.checkInteger(key, value, range, expected);
  }

  /** An optional integer in range with a default. */
  integer(key: string, fallback: number, range: IntegerRange, expected = 'an integer'): number {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    return this.checkInteger(key, value, range, expected) ?? fallback;
  }

  /** An optional integer that may be null (null usually means "off"). */
  nullableInteger(
    key: string,
    fallback: number | null,
    range: IntegerRange,
    expected = 'an integer or null',
  ): number | null {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (value === null) return null;
    return this.checkInteger(key, value, range, expected) ?? fallback;
  }

  private checkInteger(key: string, value: unknown, range: IntegerRange, expected: string): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.problem(key, `expected ${expected}${rangeText(range)}, got ${jsonType(value)} ${shown(value)}`);
      return undefined;
    }
    if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
      this.problem(key, `expected ${expected}${rangeText(range)}, got ${value}`);
      return undefined;
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.problem(key, `expected true or false, got ${jsonType(value)} ${shown(value)}`);
      return fallback;
    }
    return value;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(key: string, values: readonly T[], fallback: T): T {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    return this.checkOneOf(key, value, values) ?? fallback;
  }

  requiredOneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const value = this.raw(key);
    if (value === undefined) {
      this.missing(key, `one of ${values.map((v) => `"${v}"`).join(', ')}`);
      return undefined;
    }
    return this.checkOneOf(key, value, values);
  }

  private checkOneOf<T extends string>(key: string, value: unknown, values: readonly T[]): T | undefined {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    const hint = typeof value === 'string' ? suggestion(value, values) : '';
    this.problem(key, `expected one of ${values.map((v) => `"${v}"`).join(', ')}, got ${shown(value)}${hint}`);
    return undefined;
  }

  /** The items of an optional array (empty when absent or wrong). */
  array(key: string, what: string): unknown[] {
    const value = this.raw(key);
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.problem(key, `expected an array of ${what}, got ${jsonType(value)}`);
      return [];
    }
    return value;
  }

  /** The strings of an array with their pointers; non-strings are reported and dropped. */
  stringItems(key: string, what: string): { value: string; path: string }[] {
    const out: { value: string; path: string }[] = [];
    this.array(key, what).forEach((item, index) => {
      const path = pointer(this.at(key), index);
      if (typeof item === 'string') out.push({ value: item, path });
      else this.problems.add(path, `expected ${what} (a string), got ${jsonType(item)} ${shown(item)}`);
    });
    return out;
  }

  /** An array of strings; non-strings are reported and dropped. */
  stringArray(key: string, what: string): string[] {
    return this.stringItems(key, what).map((item) => item.value);
  }

  /** A reader for a nested optional object; null when absent (or wrong, with a problem). */
  object(key: string, declared: readonly string[], what: string): ObjectReader | null {
    const value = this.raw(key);
    if (value === undefined) return null;
    return ObjectReader.of(value, this.at(key), this.problems, declared, what);
  }

  private touch(key: string): void {
    this.touched.add(key);
  }

  /**
   * Reports properties the document has that are not declared, and throws
   * if a declared property was never looked at (a programming error).
   */
  finish(): void {
    for (const key of Object.keys(this.value)) {
      if (!this.declared.includes(key)) {
        this.problems.add(
          this.at(key),
          `unknown property "${key}"${suggestion(key, this.declared)}; expected one of: ${this.declared.join(', ')}`,
        );
      }
    }
    const unread = this.declared.filter((key) => !this.touched.has(key));
    if (unread.length > 0) {
      throw new Error(`internal: reader at "${this.path}" declares but never reads ${unread.join(', ')}`);
    }
  }
}

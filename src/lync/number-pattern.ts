/**
 * Number patterns and translations as Lync writes them: a .NET regular
 * expression (`^(\d{4})$`) and a replacement (`+1425555$1`). Used by
 * normalization rules (`New-CsVoiceNormalizationRule`), trunk translation
 * rules (`New-CsOutboundTranslationRule`) and voice route patterns
 * (`New-CsVoiceRoute -NumberPattern`).
 *
 * The patterns run as JavaScript regular expressions; the subset Lync's UI
 * writes (anchors, classes, groups, quantifiers, alternation, named groups)
 * means the same in both. The translation follows .NET's `Regex.Replace`:
 * every match is replaced, and `$n`, `${n}`, `${name}`, `$$` and `$&` are
 * substituted; for anchored patterns (all that the UI generates) that is the
 * whole number.
 */

const cache = new Map<string, RegExp>();

/** The compiled pattern (cached); throws SyntaxError when invalid. */
export function compilePattern(pattern: string): RegExp {
  let regex = cache.get(pattern);
  if (regex === undefined) {
    regex = new RegExp(pattern);
    cache.set(pattern, regex);
  }
  return regex;
}

/** Why a pattern is not usable, or null. */
export function patternProblem(pattern: string): string | null {
  if (pattern === '') return 'expected a regular expression, got an empty string';
  try {
    compilePattern(pattern);
    return null;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `invalid regular expression ${JSON.stringify(pattern)}: ${reason}`;
  }
}

/** Does the number match the pattern (anywhere, as .NET `IsMatch`)? */
export function matchesPattern(pattern: string, input: string): boolean {
  return compilePattern(pattern).test(input);
}

interface GroupInfo {
  count: number;
  names: string[];
}

function groupsOf(pattern: string): GroupInfo {
  // An alternative that matches the empty string exposes every group.
  const probe = new RegExp(`${pattern}|`).exec('');
  return { count: probe === null ? 0 : probe.length - 1, names: Object.keys(probe?.groups ?? {}) };
}

type Piece = { text: string } | { group: number | string };

/** Splits a .NET replacement string into literal text and group references. */
function parseTranslation(translation: string, groups: GroupInfo): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  let i = 0;
  const flush = (): void => {
    if (literal !== '') pieces.push({ text: literal });
    literal = '';
  };
  while (i < translation.length) {
    const ch = translation[i];
    if (ch !== '$' || i + 1 >= translation.length) {
      literal += ch;
      i += 1;
      continue;
    }
    const next = translation[i + 1];
    if (next === '$') {
      literal += '$';
      i += 2;
    } else if (next === '&') {
      flush();
      pieces.push({ group: 0 });
      i += 2;
    } else if (next === '{') {
      const end = translation.indexOf('}', i + 2);
      const name = end < 0 ? '' : translation.slice(i + 2, end);
      if (/^\d+$/.test(name) || /^[A-Za-z_]\w*$/.test(name)) {
        flush();
        pieces.push({ group: /^\d+$/.test(name) ? Number(name) : name });
        i = end + 1;
      } else {
        literal += ch;
        i += 1;
      }
    } else if (/\d/.test(next)) {
      // .NET takes the longest run of digits that names an existing group.
      let j = i + 1;
      while (j < translation.length && /\d/.test(translation[j])) j += 1;
      let digits = translation.slice(i + 1, j);
      while (digits.length > 1 && Number(digits) > groups.count) digits = digits.slice(0, -1);
      if (Number(digits) <= groups.count) {
        flush();
        pieces.push({ group: Number(digits) });
        i += 1 + digits.length;
      } else {
        literal += ch;
        i += 1;
      }
    } else {
      literal += ch;
      i += 1;
    }
  }
  flush();
  return pieces;
}

/** Why a translation does not fit its pattern (a group it names does not exist), or null. */
export function translationProblem(pattern: string, translation: string): string | null {
  if (patternProblem(pattern) !== null) return null;
  const groups = groupsOf(pattern);
  const missing: string[] = [];
  // Unknown numbered groups parse as literal text; look for them explicitly.
  for (const match of translation.matchAll(/\$(\$)|\$\{(\w+)\}|\$(\d+)/g)) {
    if (match[1] !== undefined) continue;
    const name = match[2] ?? match[3];
    if (/^\d+$/.test(name)) {
      const n = match[3] !== undefined ? Number(name[0]) : Number(name);
      if (n > groups.count) missing.push(`$${match[2] !== undefined ? `{${name}}` : name}`);
    } else if (!groups.names.includes(name)) {
      missing.push(`\${${name}}`);
    }
  }
  if (missing.length === 0) return null;
  const has = groups.count === 1 ? '1 group' : `${groups.count} groups`;
  return `translation ${JSON.stringify(translation)} refers to ${missing.join(', ')} but the pattern has ${has}`;
}

const translators = new Map<string, { pieces: Piece[]; global: RegExp }>();

/** The parsed translation and the global form of the pattern, per rule (cached: every call of a route applies them). */
function translator(pattern: string, translation: string): { pieces: Piece[]; global: RegExp } {
  const key = `${pattern}\u0000${translation}`;
  let t = translators.get(key);
  if (t === undefined) {
    const regex = compilePattern(pattern);
    t = {
      pieces: parseTranslation(translation, groupsOf(pattern)),
      global: new RegExp(regex.source, regex.flags.includes('g') ? regex.flags : `${regex.flags}g`),
    };
    translators.set(key, t);
  }
  return t;
}

/**
 * Applies a rule to a number when the pattern matches: every match is
 * replaced by the expanded translation (.NET `Regex.Replace`). Returns null
 * when the pattern does not match.
 */
export function applyTranslation(pattern: string, translation: string, input: string): string | null {
  const regex = compilePattern(pattern);
  if (!regex.test(input)) return null;
  const { pieces, global } = translator(pattern, translation);
  return input.replace(global, (...args: unknown[]) => {
    const last = args[args.length - 1];
    const named = typeof last === 'object' && last !== null ? (last as Record<string, string | undefined>) : {};
    const numbered = args.slice(0, typeof last === 'object' && last !== null ? -3 : -2) as (string | undefined)[];
    return pieces
      .map((piece) => {
        if ('text' in piece) return piece.text;
        if (typeof piece.group === 'number') return numbered[piece.group] ?? '';
        return named[piece.group] ?? '';
      })
      .join('');
  });
}

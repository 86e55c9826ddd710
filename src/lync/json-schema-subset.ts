/**
 * Test support: a JSON Schema (draft 2020-12) checker for the subset of
 * keywords `topology.schema.json` uses, so the tests can hold the fixtures
 * against the schema without a third-party validator. It throws on any
 * keyword it does not know, so the schema cannot grow a constraint that
 * nobody checks.
 *
 * Supported: $ref (local `#/...`), $defs, type, properties, required,
 * additionalProperties, items, enum, const, minimum, maximum, minLength,
 * maxLength, pattern, minItems, maxItems, uniqueItems, anyOf, oneOf, allOf,
 * if/then/else, format (ipv4, ipv6, asserted); annotations ignored.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface SchemaError {
  path: string;
  message: string;
}

type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', '$defs']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'anyOf',
  'oneOf',
  'allOf',
  'if',
  'then',
  'else',
  'format',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

function escapeSegment(segment: string | number): string {
  return String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
}

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#')) throw new Error(`json-schema-subset: only local $ref is supported, got ${ref}`);
  let node: unknown = root;
  for (const raw of ref
    .slice(1)
    .split('/')
    .filter((s) => s !== '')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = (node as Record<string, unknown>)[key];
    if (node === undefined) throw new Error(`json-schema-subset: unresolved $ref ${ref}`);
  }
  return node as Schema;
}

/** Every error of `value` against `schema` (empty when valid). */
export function validateJsonSchema(schema: Schema, value: unknown): SchemaError[] {
  const errors: SchemaError[] = [];
  check(schema, schema, value, '', errors);
  return errors;
}

function check(root: Schema, schema: Schema, value: unknown, path: string, errors: SchemaError[]): void {
  if (schema === true) return;
  if (schema === false) {
    errors.push({ path, message: 'not allowed' });
    return;
  }
  for (const key of Object.keys(schema)) {
    if (!KNOWN.has(key))
      throw new Error(`json-schema-subset: unsupported keyword "${key}" at schema for ${path || '/'}`);
  }
  const s = schema as Record<string, unknown>;
  const fail = (message: string): void => {
    errors.push({ path, message });
  };
  if (typeof s.$ref === 'string') check(root, resolveRef(root, s.$ref), value, path, errors);
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => typeMatches(value, t))) {
      fail(`expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return;
    }
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    fail(`expected one of ${JSON.stringify(s.enum)}`);
  }
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) fail(`expected ${JSON.stringify(s.const)}`);
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) fail(`expected >= ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) fail(`expected <= ${s.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength)
      fail(`expected at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength)
      fail(`expected at most ${s.maxLength} characters`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) fail(`does not match ${s.pattern}`);
    if (s.format === 'ipv4' && !isIPv4(value)) fail('expected an IPv4 address');
    if (s.format === 'ipv6' && !isIPv6(value)) fail('expected an IPv6 address');
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) fail(`expected at least ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) fail(`expected at most ${s.maxItems} items`);
    if (s.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length)
      fail('expected unique items');
    if (s.items !== undefined) {
      value.forEach((item, i) => {
        check(root, s.items as Schema, item, `${path}/${i}`, errors);
      });
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    for (const name of (s.required ?? []) as string[]) {
      if (!Object.hasOwn(object, name)) fail(`missing required property "${name}"`);
    }
    for (const [name, item] of Object.entries(object)) {
      const sub = `${path}/${escapeSegment(name)}`;
      if (Object.hasOwn(properties, name)) check(root, properties[name], item, sub, errors);
      else if (s.additionalProperties !== undefined) {
        if (s.additionalProperties === false) errors.push({ path: sub, message: 'unknown property' });
        else check(root, s.additionalProperties as Schema, item, sub, errors);
      }
    }
  }
  if (Array.isArray(s.allOf)) for (const sub of s.allOf as Schema[]) check(root, sub, value, path, errors);
  if (Array.isArray(s.anyOf) && !(s.anyOf as Schema[]).some((sub) => passesAt(root, sub, value)))
    fail('matches none of anyOf');
  if (Array.isArray(s.oneOf) && (s.oneOf as Schema[]).filter((sub) => passesAt(root, sub, value)).length !== 1)
    fail('does not match exactly one of oneOf');
  if (s.if !== undefined) {
    if (passesAt(root, s.if as Schema, value)) {
      if (s.then !== undefined) check(root, s.then as Schema, value, path, errors);
    } else if (s.else !== undefined) check(root, s.else as Schema, value, path, errors);
  }
}

function passesAt(root: Schema, schema: Schema, value: unknown): boolean {
  const errors: SchemaError[] = [];
  check(root, schema, value, '', errors);
  return errors.length === 0;
}

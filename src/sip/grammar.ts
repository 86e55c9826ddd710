/**
 * Small hand-written pieces of the RFC 3261 §25 grammar used on the hot path:
 * tokens, generic parameters, comma lists that respect quotes and angle
 * brackets. The strict, complete grammar (JsSIP's) is used by the linter only.
 */

/** RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN_CHARS = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TOKEN_CHARS[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHARS[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_CHARS[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN_CHARS[ch.charCodeAt(0)] = 1;

export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN_CHARS[code] === 1;
}

export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTokenChar(text.charCodeAt(i))) return false;
  return true;
}

export function isWs(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

/** One generic parameter: `name` or `name=value` (value keeps quotes if quoted). */
export interface Param {
  name: string;
  value: string | null;
}

export interface ParamsResult {
  params: Param[];
  /** Index just past the parameters (at a ',' , '?' , '>' or the end). */
  end: number;
  problems: string[];
}

/**
 * Parses `*( SEMI generic-param )` starting at `start` (which should point at ';'
 * or whitespace before it). Stops at `,` (list separator) unless `stopAtComma` is false.
 */
export function parseParams(text: string, start: number, stopAtComma = true): ParamsResult {
  const params: Param[] = [];
  const problems: string[] = [];
  let i = start;
  const n = text.length;
  while (i < n) {
    while (i < n && isWs(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const ch = text.charCodeAt(i);
    if (ch !== 0x3b /* ; */) break;
    i++;
    while (i < n && isWs(text.charCodeAt(i))) i++;
    const nameStart = i;
    while (i < n && isTokenChar(text.charCodeAt(i))) i++;
    const name = text.slice(nameStart, i);
    while (i < n && isWs(text.charCodeAt(i))) i++;
    let value: string | null = null;
    if (i < n && text.charCodeAt(i) === 0x3d /* = */) {
      i++;
      while (i < n && isWs(text.charCodeAt(i))) i++;
      if (i < n && text.charCodeAt(i) === 0x22 /* " */) {
        const close = findQuoteEnd(text, i);
        if (close < 0) {
          problems.push(`unterminated quoted string in parameter "${name}"`);
          value = text.slice(i);
          i = n;
        } else {
          value = text.slice(i, close + 1);
          i = close + 1;
        }
      } else if (i < n && text.charCodeAt(i) === 0x5b /* [ */) {
        const close = text.indexOf(']', i);
        const end = close < 0 ? n : close + 1;
        value = text.slice(i, end);
        i = end;
      } else {
        const vStart = i;
        while (i < n && isParamValueChar(text.charCodeAt(i))) i++;
        value = text.slice(vStart, i);
        if (value.length === 0) problems.push(`parameter "${name}" has "=" but no value`);
      }
    }
    if (name.length === 0) problems.push('empty parameter (";;" or ";" with no name)');
    else params.push({ name, value });
    if (!stopAtComma && i < n && text.charCodeAt(i) === 0x2c) i++;
  }
  return { params, end: i, problems };
}

function isParamValueChar(code: number): boolean {
  // token plus ':' (ipv6 without brackets in the wild) and '/' (rare, tolerated)
  return isTokenChar(code) || code === 0x3a || code === 0x2f;
}

/** Index of the closing quote of a quoted-string that opens at `open`, honouring `\` escapes; -1 if none. */
export function findQuoteEnd(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22) return i;
  }
  return -1;
}

/** Splits a header value on commas that are outside quotes and angle brackets. */
export function splitCommaList(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = findQuoteEnd(text, i);
      if (end < 0) break;
      i = end;
    } else if (c === 0x3c) depth++;
    else if (c === 0x3e) depth = Math.max(0, depth - 1);
    else if (c === 0x2c && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

export function getParam(params: readonly Param[], name: string): string | null | undefined {
  const lower = name.toLowerCase();
  for (const p of params) if (p.name.toLowerCase() === lower) return p.value;
  return undefined;
}

export function formatParams(params: readonly Param[]): string {
  let out = '';
  for (const p of params) out += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  return out;
}

/** Unquotes a quoted-string, resolving quoted-pairs. */
export function unquote(text: string): string {
  if (text.length < 2 || text[0] !== '"') return text;
  const inner = text.endsWith('"') ? text.slice(1, -1) : text.slice(1);
  return inner.replace(/\\(.)/g, '$1');
}

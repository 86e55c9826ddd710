/**
 * name-addr / addr-spec with header parameters, as in From, To, Contact,
 * Route, Record-Route, P-Asserted-Identity, Refer-To (RFC 3261 §20.10, §25.1).
 */
import { findQuoteEnd, getParam, isTokenChar, isWs, type Param, parseParams, splitCommaList, unquote } from './grammar.ts';
import { parseUri, type SipUri } from './uri.ts';

export interface NameAddr {
  /** Display name, unquoted; null when absent. */
  display: string | null;
  /** Whether the URI was enclosed in `<>`. */
  bracketed: boolean;
  uriText: string;
  /** Parsed URI, or null when `uriText` is not a URI. */
  uri: SipUri | null;
  params: Param[];
  /** `Contact: *` */
  wildcard: boolean;
  /** Syntax problems found while parsing (empty when well formed). */
  problems: string[];
}

export function parseNameAddr(text: string): NameAddr {
  const problems: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n && isWs(text.charCodeAt(i))) i++;
  if (text.slice(i).trim() === '*') {
    return { display: null, bracketed: false, uriText: '*', uri: null, params: [], wildcard: true, problems };
  }
  let display: string | null = null;
  const lt = findUnquoted(text, i, 0x3c /* < */);
  if (text.charCodeAt(i) === 0x22 /* " */) {
    const close = findQuoteEnd(text, i);
    if (close < 0) {
      problems.push('unterminated quoted display name');
      return { display: unquote(text.slice(i)), bracketed: false, uriText: '', uri: null, params: [], wildcard: false, problems };
    }
    display = unquote(text.slice(i, close + 1));
    i = close + 1;
    while (i < n && isWs(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== 0x3c) problems.push('quoted display name not followed by <URI>');
  } else if (lt > i) {
    const raw = text.slice(i, lt).trim();
    for (let k = 0; k < raw.length; k++) {
      const c = raw.charCodeAt(k);
      if (!isTokenChar(c) && !isWs(c)) {
        problems.push(`display name "${raw}" has characters that are not allowed unquoted (use a quoted-string)`);
        break;
      }
    }
    display = raw.length > 0 ? raw : null;
    i = lt;
  }
  let uriText: string;
  let bracketed = false;
  let params: Param[] = [];
  if (text.charCodeAt(i) === 0x3c) {
    bracketed = true;
    const gt = text.indexOf('>', i);
    if (gt < 0) {
      problems.push('"<" without a closing ">"');
      uriText = text.slice(i + 1).trim();
      i = n;
    } else {
      const inner = text.slice(i + 1, gt);
      uriText = inner.trim();
      if (uriText.length !== inner.length) problems.push('whitespace inside <> around the URI');
      i = gt + 1;
    }
    const pr = parseParams(text, i);
    params = pr.params;
    problems.push(...pr.problems);
    if (pr.end < n && text.slice(pr.end).trim().length > 0) problems.push(`unexpected text after the URI: "${text.slice(pr.end).trim()}"`);
  } else {
    // addr-spec: the URI runs to the first ';' (params after it belong to the header) or whitespace.
    const start = i;
    while (i < n && text.charCodeAt(i) !== 0x3b && !isWs(text.charCodeAt(i))) i++;
    uriText = text.slice(start, i);
    if (uriText.includes('?') || uriText.includes(',')) problems.push('a URI with "?" or "," must be enclosed in <> (RFC 3261 §20)');
    const pr = parseParams(text, i);
    params = pr.params;
    problems.push(...pr.problems);
    if (pr.end < n && text.slice(pr.end).trim().length > 0) problems.push(`unexpected text after the URI: "${text.slice(pr.end).trim()}"`);
  }
  const uri = uriText.length > 0 ? parseUri(uriText) : null;
  if (uri === null) problems.push(uriText.length === 0 ? 'missing URI' : `"${uriText}" is not a URI`);
  return { display, bracketed, uriText, uri, params, wildcard: false, problems };
}

/** Parses a comma-separated list of name-addrs (Contact, Route, Record-Route, ...). */
export function parseNameAddrList(text: string): NameAddr[] {
  return splitCommaList(text).map(parseNameAddr);
}

export function nameAddrParam(na: NameAddr, name: string): string | null | undefined {
  return getParam(na.params, name);
}

function findUnquoted(text: string, from: number, code: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = findQuoteEnd(text, i);
      if (end < 0) return -1;
      i = end;
    } else if (c === code) return i;
  }
  return -1;
}

export function formatNameAddr(na: { display?: string | null; uriText: string; params?: Param[] }): string {
  let out = na.display ? `"${na.display.replace(/(["\\])/g, '\\$1')}" <${na.uriText}>` : `<${na.uriText}>`;
  for (const p of na.params ?? []) out += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  return out;
}

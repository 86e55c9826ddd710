/**
 * SIP and SIPS URIs (RFC 3261 §19.1), tel URIs (RFC 3966) and any other
 * absolute URI kept opaque. Hand-written for the hot path; the linter checks
 * the strict grammar separately.
 */
import { formatParams, getParam, type Param, parseParams } from './grammar.ts';

export interface SipUri {
  /** Lower-case scheme: `sip`, `sips`, `tel`, or another (opaque) scheme. */
  scheme: string;
  /** userinfo user part as sent (escapes kept); for tel: the number. */
  user: string | null;
  password: string | null;
  /** Host as sent; IPv6 references keep their brackets. Empty for tel and opaque URIs. */
  host: string;
  port: number | null;
  params: Param[];
  /** `?` headers as name/value pairs (escapes kept). */
  headers: Array<{ name: string; value: string }>;
  /** The text this was parsed from. */
  text: string;
}

export class UriError extends Error {}

/** Parses a URI; returns null when it is not a URI at all (no scheme). */
export function parseUri(text: string): SipUri | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  const scheme = text.slice(0, colon).toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) return null;
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(text, scheme, colon + 1);
  if (scheme === 'tel') {
    const semi = text.indexOf(';', colon + 1);
    const number = semi < 0 ? text.slice(colon + 1) : text.slice(colon + 1, semi);
    const params = semi < 0 ? [] : parseParams(text, semi).params;
    return { scheme, user: number, password: null, host: '', port: null, params, headers: [], text };
  }
  return { scheme, user: null, password: null, host: '', port: null, params: [], headers: [], text };
}

function parseSipUri(text: string, scheme: string, start: number): SipUri | null {
  let i = start;
  let user: string | null = null;
  let password: string | null = null;
  const at = text.indexOf('@', i);
  if (at >= 0) {
    const userinfo = text.slice(i, at);
    const pc = userinfo.indexOf(':');
    if (pc >= 0) {
      user = userinfo.slice(0, pc);
      password = userinfo.slice(pc + 1);
    } else user = userinfo;
    i = at + 1;
  }
  let host: string;
  if (text.charCodeAt(i) === 0x5b /* [ */) {
    const close = text.indexOf(']', i);
    if (close < 0) return null;
    host = text.slice(i, close + 1);
    i = close + 1;
  } else {
    const hs = i;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x3a || c === 0x3b || c === 0x3f) break;
      i++;
    }
    host = text.slice(hs, i);
  }
  if (host.length === 0) return null;
  let port: number | null = null;
  if (text.charCodeAt(i) === 0x3a) {
    const ps = ++i;
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === ps) return null;
    port = Number(text.slice(ps, i));
  }
  let params: Param[] = [];
  if (text.charCodeAt(i) === 0x3b) {
    const q = text.indexOf('?', i);
    const paramText = q < 0 ? text.slice(i) : text.slice(i, q);
    params = parseUriParams(paramText);
    i = q < 0 ? text.length : q;
  }
  const headers: Array<{ name: string; value: string }> = [];
  if (text.charCodeAt(i) === 0x3f) {
    for (const pair of text.slice(i + 1).split('&')) {
      const eq = pair.indexOf('=');
      headers.push(eq < 0 ? { name: pair, value: '' } : { name: pair.slice(0, eq), value: pair.slice(eq + 1) });
    }
    i = text.length;
  }
  if (i !== text.length) return null;
  return { scheme, user, password, host, port, params, headers, text };
}

/** URI parameters allow more characters than generic-params (escapes, `[]/:&+$`). */
function parseUriParams(text: string): Param[] {
  const params: Param[] = [];
  for (const part of text.split(';')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    params.push(eq < 0 ? { name: part, value: null } : { name: part.slice(0, eq), value: part.slice(eq + 1) });
  }
  return params;
}

export function uriParam(uri: SipUri, name: string): string | null | undefined {
  return getParam(uri.params, name);
}

/** Host without IPv6 brackets. */
export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export function formatUri(uri: SipUri): string {
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') {
    if (uri.scheme === 'tel') return `tel:${uri.user ?? ''}${formatParams(uri.params)}`;
    return uri.text;
  }
  let out = `${uri.scheme}:`;
  if (uri.user !== null) out += uri.password !== null ? `${uri.user}:${uri.password}@` : `${uri.user}@`;
  out += uri.host;
  if (uri.port !== null) out += `:${uri.port}`;
  out += formatParams(uri.params);
  if (uri.headers.length > 0) out += `?${uri.headers.map((h) => `${h.name}=${h.value}`).join('&')}`;
  return out;
}

/** Percent-decodes a URI component (user part, parameter values); invalid escapes are kept. */
export function unescapeUri(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length + 0 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else for (const b of new TextEncoder().encode(text[i])) bytes.push(b);
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * URI equality, simplified from RFC 3261 §19.1.4: scheme, user (case-sensitive,
 * unescaped), host (case-insensitive), port, and the transport/user/method/maddr/ttl params.
 */
export function uriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.scheme !== 'sip' && a.scheme !== 'sips') return a.text === b.text;
  if (unescapeUri(a.user ?? '') !== unescapeUri(b.user ?? '')) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase()) return false;
  if (a.port !== b.port) return false;
  for (const name of ['transport', 'user', 'method', 'maddr', 'ttl']) {
    const va = getParam(a.params, name);
    const vb = getParam(b.params, name);
    if ((va ?? undefined)?.toLowerCase() !== (vb ?? undefined)?.toLowerCase()) return false;
  }
  return true;
}

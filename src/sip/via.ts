/** The Via header field (RFC 3261 §20.42, §18.2.2; RFC 3581 rport). */
import { getParam, isWs, type Param, parseParams, splitCommaList } from './grammar.ts';

/** RFC 3261 §8.1.1.7: a branch that starts with the magic cookie is RFC 3261 compliant. */
export const MAGIC_COOKIE = 'z9hG4bK';

export interface Via {
  protocolName: string;
  protocolVersion: string;
  /** Upper-case transport as sent (`UDP`, `TCP`, `TLS`, `SCTP`, or anything). */
  transport: string;
  /** sent-by host (IPv6 keeps brackets). */
  host: string;
  port: number | null;
  params: Param[];
  branch: string | null;
  received: string | null;
  /** undefined: no rport; null: `;rport` without a value; number: filled in. */
  rport: number | null | undefined;
  maddr: string | null;
  problems: string[];
  text: string;
}

export function parseVia(text: string): Via {
  const problems: string[] = [];
  let i = 0;
  const n = text.length;
  const readSlashPart = (): string => {
    while (i < n && isWs(text.charCodeAt(i))) i++;
    const s = i;
    while (i < n && text.charCodeAt(i) !== 0x2f && !isWs(text.charCodeAt(i))) i++;
    const part = text.slice(s, i);
    while (i < n && isWs(text.charCodeAt(i))) i++;
    return part;
  };
  const protocolName = readSlashPart();
  if (text.charCodeAt(i) === 0x2f) i++;
  else problems.push('sent-protocol is not of the form SIP/2.0/transport');
  const protocolVersion = readSlashPart();
  if (text.charCodeAt(i) === 0x2f) i++;
  else problems.push('sent-protocol is not of the form SIP/2.0/transport');
  while (i < n && isWs(text.charCodeAt(i))) i++;
  const ts = i;
  while (i < n && !isWs(text.charCodeAt(i))) i++;
  const transport = text.slice(ts, i).toUpperCase();
  while (i < n && isWs(text.charCodeAt(i))) i++;
  let host = '';
  if (text.charCodeAt(i) === 0x5b) {
    const close = text.indexOf(']', i);
    if (close < 0) {
      problems.push('unterminated IPv6 reference in sent-by');
      host = text.slice(i);
      i = n;
    } else {
      host = text.slice(i, close + 1);
      i = close + 1;
    }
  } else {
    const hs = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x3a || c === 0x3b || isWs(c)) break;
      i++;
    }
    host = text.slice(hs, i);
  }
  if (host.length === 0) problems.push('Via has no sent-by host');
  while (i < n && isWs(text.charCodeAt(i))) i++;
  let port: number | null = null;
  if (text.charCodeAt(i) === 0x3a) {
    i++;
    while (i < n && isWs(text.charCodeAt(i))) i++;
    const ps = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (ps === i) problems.push('Via port is not a number');
    else {
      port = Number(text.slice(ps, i));
      if (port > 65535) problems.push(`Via port ${port} out of range`);
    }
  }
  const pr = parseParams(text, i);
  problems.push(...pr.problems);
  if (pr.end < n && text.slice(pr.end).trim().length > 0) problems.push(`unexpected text in Via: "${text.slice(pr.end).trim()}"`);
  const params = pr.params;
  const branch = getParam(params, 'branch');
  const received = getParam(params, 'received');
  const rportRaw = getParam(params, 'rport');
  let rport: number | null | undefined;
  if (rportRaw === undefined) rport = undefined;
  else if (rportRaw === null || rportRaw === '') rport = null;
  else rport = Number(rportRaw);
  const maddr = getParam(params, 'maddr');
  if (protocolName.toUpperCase() !== 'SIP' || protocolVersion !== '2.0') {
    if (protocolName && protocolVersion) problems.push(`Via protocol ${protocolName}/${protocolVersion} is not SIP/2.0`);
  }
  return {
    protocolName,
    protocolVersion,
    transport,
    host,
    port,
    params,
    branch: branch ?? null,
    received: received ?? null,
    rport,
    maddr: maddr ?? null,
    problems,
    text,
  };
}

/** All Via entries of one or more header values, in order. Empty list elements are reported. */
export function parseViaList(values: readonly string[]): Via[] {
  const out: Via[] = [];
  for (const value of values) {
    for (const part of splitCommaList(value)) {
      if (part.length === 0) {
        out.push({ ...parseVia(''), problems: ['empty Via list element (stray ",")'] });
        continue;
      }
      out.push(parseVia(part));
    }
  }
  return out;
}

export function formatVia(v: { transport: string; host: string; port: number | null; params: Param[] }): string {
  let out = `SIP/2.0/${v.transport} ${v.host}`;
  if (v.port !== null) out += `:${v.port}`;
  for (const p of v.params) out += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  return out;
}

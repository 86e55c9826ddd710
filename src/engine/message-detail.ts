/**
 * What the inspector shows of one message: the exact bytes, the parsed
 * start line and headers in wire order, the body, the SDP as a table and
 * every conformance diagnostic. Computed on demand from the stored bytes.
 */
import { Buffer } from 'node:buffer';

import type { DiagnosticInfo, HeaderRow, MessageDetail, MessageSummary, SdpRow } from '../common/api.ts';
import { conformance } from '../sip/conformance.ts';
import { parseMessage } from '../sip/parser.ts';

const SDP_TYPES: Record<string, string> = {
  v: 'protocol version',
  o: 'origin',
  s: 'session name',
  i: 'information',
  u: 'URI',
  e: 'e-mail',
  p: 'phone',
  c: 'connection address',
  b: 'bandwidth',
  t: 'timing',
  r: 'repeat times',
  z: 'time zones',
  k: 'encryption key',
  a: 'attribute',
  m: 'media',
};

/** SDP lines (RFC 4566) grouped under `session` and each m= line. */
export function sdpRows(body: string): SdpRow[] {
  const rows: SdpRow[] = [];
  let section = 'session';
  for (const line of body.split(/\r?\n/)) {
    if (line.length === 0) continue;
    const type = line[0] ?? '';
    const value = line[1] === '=' ? line.slice(2) : line.slice(1);
    if (type === 'm') section = value.split(' ').slice(0, 2).join(' ');
    let meaning = SDP_TYPES[type];
    if (type === 'a') {
      const colon = value.indexOf(':');
      meaning = `attribute ${colon < 0 ? value : value.slice(0, colon)}`;
    }
    rows.push({ section, type, value, ...(meaning !== undefined ? { meaning } : {}) });
  }
  return rows;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function messageDetail(
  summary: MessageSummary,
  bytes: Uint8Array,
  names: { fromName: string; toName: string },
  extraDiagnostics: DiagnosticInfo[] = [],
): MessageDetail {
  const raw = latin1(bytes);
  const parsed = parseMessage(bytes, { datagram: summary.transport === 'udp' });
  if (!parsed.ok) {
    return {
      summary,
      raw,
      startLine: raw.split(/\r?\n/, 1)[0] ?? '',
      headers: [],
      body: '',
      diagnostics: [
        { code: parsed.error.code, severity: 'error', message: parsed.error.message, rule: 'RFC 3261 §7', offset: parsed.error.offset },
        ...extraDiagnostics,
      ],
      parseError: parsed.error.message,
      ...names,
    };
  }
  const msg = parsed.message;
  const headers: HeaderRow[] = msg.headers.map((h) => ({ name: h.name, canonical: h.canonical, value: h.value }));
  const body = msg.bodyText;
  const contentType = msg.contentType ?? undefined;
  const seen = new Set<string>();
  const diagnostics: DiagnosticInfo[] = [];
  for (const d of [...conformance(msg), ...extraDiagnostics]) {
    const key = `${d.code}@${d.offset ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    diagnostics.push({ code: d.code, severity: d.severity, message: d.message, rule: d.rule, ...(d.offset !== undefined ? { offset: d.offset } : {}) });
  }
  return {
    summary,
    raw,
    startLine: msg.startLine,
    headers,
    body,
    ...(contentType !== undefined ? { contentType } : {}),
    ...(contentType === 'application/sdp' && body.length > 0 ? { sdp: sdpRows(body) } : {}),
    diagnostics,
    ...names,
  };
}

/**
 * Two call flows side by side, message by message (a passing run against a
 * failing one, the emulated peer against the device): messages aligned by
 * a longest common subsequence of their signatures (label and direction,
 * with the endpoints named in order of first appearance so two runs on
 * different addresses compare), then for each missing/extra message
 * whether it only moved (reordered), and for each aligned pair the headers
 * present in one only, the values of the headers that matter for interop,
 * and the SDP (direction, codecs, telephone-event, SRTP).
 */
import { summarize } from '../sdp/offer-answer.ts';
import type { SipMessage } from '../sip/message.ts';
import type { TraceStore } from '../trace/store.ts';

export interface FlowMessage {
  index: number;
  /** `INVITE` or `200 OK (INVITE)`. */
  label: string;
  /** `P1 → P2` (endpoints by first appearance) */
  direction: string;
  message: SipMessage | null;
}

export type DiffLine =
  | { kind: 'same'; a: FlowMessage; b: FlowMessage; differences: string[] }
  | { kind: 'missing'; a: FlowMessage; reordered: boolean }
  | { kind: 'extra'; b: FlowMessage; reordered: boolean };

/** Headers whose values differ between any two runs (tags, branches, ids, lengths). */
const VOLATILE = new Set(['via', 'call-id', 'cseq', 'content-length', 'max-forwards', 'date', 'timestamp', 'contact', 'record-route', 'route', 'from', 'to', 'ms-diagnostics-public', 'authorization', 'www-authenticate']);

function labelOf(store: TraceStore, i: number): string {
  const kind = store.kind(i);
  if (kind === 'request') return store.method(i);
  if (kind === 'response') return `${store.status(i)} ${store.reason(i)} (${store.cseqMethod(i)})`;
  return 'invalid';
}

function* everyIndex(store: TraceStore): Generator<number> {
  for (let i = 0; i < store.size; i++) yield i;
}

/**
 * The messages a flow compares, in order: every message of `store`, or the
 * trace `indexes` given. No retransmissions, no REGISTER / OPTIONS unless
 * `background`; addresses named P1, P2… by first appearance.
 */
export function flowMessages(store: TraceStore, options: { background?: boolean; indexes?: Iterable<number> } = {}): FlowMessage[] {
  const names = new Map<string, string>();
  const name = (s: string): string => {
    let n = names.get(s);
    if (n === undefined) {
      n = /^[\d.:[\]]+$/.test(s) ? `P${names.size + 1}` : s;
      names.set(s, n);
    }
    return n;
  };
  const out: FlowMessage[] = [];
  for (const i of options.indexes ?? everyIndex(store)) {
    if (store.isRetransmission(i)) continue;
    const method = store.method(i);
    if (!options.background && (method === 'REGISTER' || method === 'OPTIONS')) continue;
    out.push({ index: i, label: labelOf(store, i), direction: `${name(store.from(i))} → ${name(store.to(i))}`, message: store.message(i) });
  }
  return out;
}

const key = (m: FlowMessage): string => `${m.direction} ${m.label.replace(/^(\d{3}) [^(]*/, '$1')}`;

export function diffFlows(a: FlowMessage[], b: FlowMessage[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = key(a[i]) === key(b[j]) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && key(a[i]) === key(b[j])) {
      out.push({ kind: 'same', a: a[i], b: b[j], differences: messageDifferences(a[i].message, b[j].message) });
      i++;
      j++;
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) out.push({ kind: 'extra', b: b[j++], reordered: false });
    else out.push({ kind: 'missing', a: a[i++], reordered: false });
  }
  // A message missing in one place and extra in another only moved.
  const extras = out.filter((l): l is Extract<DiffLine, { kind: 'extra' }> => l.kind === 'extra');
  for (const l of out) {
    if (l.kind !== 'missing') continue;
    const twin = extras.find((e) => !e.reordered && key(e.b) === key(l.a));
    if (twin !== undefined) {
      twin.reordered = true;
      l.reordered = true;
    }
  }
  return out;
}

const norm = (v: string): string => v.replace(/;\s*(tag|branch|epid|rport|received)=[^;,>\s]*/gi, '').replace(/\s+/g, ' ').trim();

export function messageDifferences(a: SipMessage | null, b: SipMessage | null): string[] {
  if (a === null || b === null) return a === b ? [] : ['one of the two does not parse'];
  const out: string[] = [];
  if (a.kind === 'response' && a.reason !== b.reason) out.push(`reason phrase: "${a.reason}" vs "${b.reason}"`);
  const names = (m: SipMessage): Map<string, string> => {
    const map = new Map<string, string>();
    for (const h of m.headers) map.set(h.key, h.name);
    return map;
  };
  const na = names(a);
  const nb = names(b);
  for (const [k, name] of na) if (!nb.has(k)) out.push(`header ${name} only in A: ${a.getAll(k).join(', ')}`);
  for (const [k, name] of nb) if (!na.has(k)) out.push(`header ${name} only in B: ${b.getAll(k).join(', ')}`);
  for (const [k, name] of na) {
    if (!nb.has(k) || VOLATILE.has(k)) continue;
    const va = a.getAll(k).map(norm).join(', ');
    const vb = b.getAll(k).map(norm).join(', ');
    if (va !== vb) out.push(`${name}: "${va}" vs "${vb}"`);
  }
  out.push(...sdpDifferences(a, b));
  return out;
}

function sdpOf(m: SipMessage): ReturnType<typeof summarize> | null {
  if (m.body.length === 0 || !/application\/sdp/i.test(m.contentType ?? '')) return null;
  try {
    return summarize(m.bodyText);
  } catch {
    return null;
  }
}

function sdpDifferences(a: SipMessage, b: SipMessage): string[] {
  const sa = sdpOf(a);
  const sb = sdpOf(b);
  if (sa === null && sb === null) return [];
  if (sa === null || sb === null) return [`SDP only in ${sa === null ? 'B' : 'A'}`];
  const out: string[] = [];
  const ma = sa.media.find((x) => x.type === 'audio');
  const mb = sb.media.find((x) => x.type === 'audio');
  if (ma === undefined || mb === undefined) return ma === mb ? [] : ['audio m= line only in one'];
  if (ma.direction !== mb.direction) out.push(`SDP direction: a=${ma.direction} vs a=${mb.direction}`);
  const ca = ma.codecs.map((c) => c.name).join(' ');
  const cb = mb.codecs.map((c) => c.name).join(' ');
  if (ca !== cb) out.push(`SDP codecs: ${ca || 'none'} vs ${cb || 'none'}`);
  if (ma.telephoneEvent !== mb.telephoneEvent) out.push(`SDP telephone-event: ${ma.telephoneEvent ?? 'none'} vs ${mb.telephoneEvent ?? 'none'}`);
  if (ma.crypto !== mb.crypto) out.push(`SDP a=crypto: ${ma.crypto ? 'yes' : 'no'} vs ${mb.crypto ? 'yes' : 'no'}`);
  if (ma.protocol !== mb.protocol) out.push(`SDP profile: ${ma.protocol} vs ${mb.protocol}`);
  return out;
}

/** Text lines for the CLI: `=`, `~` (same message, differences indented), `-` missing in B, `+` extra in B. */
export function formatDiff(lines: DiffLine[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (l.kind === 'same') {
      out.push(`${l.differences.length ? '~' : '='} A#${l.a.index} B#${l.b.index}  ${l.a.direction}  ${l.a.label}${l.a.label !== l.b.label ? ` / ${l.b.label}` : ''}`);
      for (const d of l.differences) out.push(`      ${d}`);
    } else if (l.kind === 'missing') out.push(`- A#${l.a.index}      ${l.a.direction}  ${l.a.label}  (${l.reordered ? 'reordered: later in B' : 'missing in B'})`);
    else out.push(`+      B#${l.b.index} ${l.b.direction}  ${l.b.label}  (${l.reordered ? 'reordered: earlier in A' : 'extra in B'})`);
  }
  return out;
}

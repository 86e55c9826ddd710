/**
 * Lync Server 2013 logging-service (CLS) text log writer: one protocol
 * record per SIP message, in the format Snooper reads:
 *
 * ```
 * TL_INFO(TF_PROTOCOL) [0]0F8C.1A2C::11/24/2025-16:00:00.001.0000002A (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))$$begin_record
 * Trace-Correlation-Id: 3412765022
 * Instance-Id: 0000002A
 * Direction: outgoing;source="med-1 127.0.0.20:5068";destination="gw-a 127.0.0.30:5066"
 * Peer: 127.0.0.30:5066
 * Message-Type: request
 * Start-Line: INVITE sip:+14255550150@127.0.0.30:5066;user=phone SIP/2.0
 * From: ...        (the remaining header lines, exactly as sent)
 * Message-Body: v=0
 * o=...            (the body, line by line; "-" when there is none)
 * $$end_record
 * ```
 *
 * Lync logs one server's view: Direction is incoming or outgoing and Peer
 * the other end. From one element's viewpoint (`side`) that is what is
 * written; for a whole trace each message is written once as its sender sent
 * it. The Direction parameters `source` and `destination` (Edge servers put
 * "internal edge" / "external edge" there) name both ends with their
 * addresses, so that reading the log back restores them. Times have the
 * log's millisecond resolution (UTC); the last field is the record sequence
 * number in hex. Lines end with CRLF; header and body bytes are written as
 * they were on the wire.
 */
import { Buffer } from 'node:buffer';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { HostPort } from '../sip/capture.ts';
import type { TraceStore } from '../trace/store.ts';

export interface LyncLogWriterOptions {
  /** Write only what this element (id or `host:port` or host) sent and received, as its own log would show it. */
  side?: string;
  /** Message indexes to write (default all). */
  indexes?: Iterable<number>;
  /** Process and thread ids in the record header (default 0F8C.1A2C). */
  processThread?: string;
}

const CRLF = '\r\n';
const HEADER_TAIL = ' (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))$$begin_record';

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `11/24/2025-16:00:00.001` (UTC, milliseconds). */
export function lyncTime(timeUs: number): string {
  const d = new Date(Math.floor(timeUs / 1000));
  const ms = String(d.getUTCMilliseconds()).padStart(3, '0');
  return `${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${d.getUTCFullYear()}-${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${ms}`;
}

function address(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** FNV-1a of the Call-ID: the records of one call share a Trace-Correlation-Id. */
function correlationId(callId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < callId.length; i++) h = Math.imul(h ^ callId.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Does message `i` involve `side` (an element id, `host:port`, or a host)? 'out' if it sent it, 'in' if it received it. */
export function sideOf(store: TraceStore, i: number, side: string): 'out' | 'in' | null {
  const match = (name: string, hp: HostPort) => name === side || address(hp) === side || hp.host === side;
  if (match(store.from(i), store.src(i))) return 'out';
  if (match(store.to(i), store.dst(i))) return 'in';
  return null;
}

/** The record of one message (latin1 text: one character per byte). */
export function lyncRecord(store: TraceStore, i: number, seq: number, direction: 'out' | 'in', processThread = '0F8C.1A2C'): string {
  const raw = Buffer.from(store.bytes(i).buffer, store.bytes(i).byteOffset, store.bytes(i).byteLength).toString('latin1');
  let headEnd = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = raw.indexOf('\n\n');
  if (headEnd < 0 || (lf >= 0 && lf < headEnd)) {
    headEnd = lf;
    sepLen = 2;
  }
  const head = headEnd < 0 ? raw : raw.slice(0, headEnd);
  const body = headEnd < 0 ? '' : raw.slice(headEnd + sepLen);
  const lines = head.replace(/^(\r?\n)+/, '').split(/\r?\n/);
  const startLine = lines.shift() ?? '';
  const kind = store.kind(i) === 'response' || /^SIP\/\d/i.test(startLine) ? 'response' : 'request';
  const src = store.src(i);
  const dst = store.dst(i);
  const peer = direction === 'out' ? dst : src;
  const out: string[] = [
    `TL_INFO(TF_PROTOCOL) [0]${processThread}::${lyncTime(store.timeUs(i))}.${(seq >>> 0).toString(16).toUpperCase().padStart(8, '0')}${HEADER_TAIL}`,
    `Trace-Correlation-Id: ${correlationId(store.callId(i))}`,
    `Instance-Id: ${(seq >>> 0).toString(16).toUpperCase().padStart(8, '0')}`,
    `Direction: ${direction === 'out' ? 'outgoing' : 'incoming'};source="${store.from(i) === address(src) ? '' : `${store.from(i)} `}${address(src)}";destination="${store.to(i) === address(dst) ? '' : `${store.to(i)} `}${address(dst)}"`,
    `Peer: ${address(peer)}`,
    `Message-Type: ${kind}`,
    `Start-Line: ${startLine}`,
    ...lines,
  ];
  if (body.length === 0) out.push('Message-Body: -');
  else {
    const bl = body.split(/\r?\n/);
    if (bl.length > 1 && bl[bl.length - 1] === '') bl.pop();
    out.push(`Message-Body: ${bl[0]}`, ...bl.slice(1));
  }
  out.push('$$end_record', '');
  return out.join(CRLF);
}

/** Record texts for the store (or one side of it), in order. */
export function* lyncLogRecords(store: TraceStore, options: LyncLogWriterOptions = {}): Generator<string> {
  let seq = 0;
  const list = options.indexes ?? Array.from({ length: store.size }, (_, i) => i);
  for (const i of list) {
    let dir: 'out' | 'in' = 'out';
    if (options.side !== undefined) {
      const s = sideOf(store, i, options.side);
      if (s === null) continue;
      dir = s;
    }
    yield lyncRecord(store, i, ++seq, dir, options.processThread);
  }
}

/** The whole log in one buffer. */
export function writeLyncLog(store: TraceStore, options: LyncLogWriterOptions = {}): Uint8Array {
  const parts: Buffer[] = [];
  for (const r of lyncLogRecords(store, options)) parts.push(Buffer.from(r, 'latin1'));
  return Buffer.concat(parts);
}

/** Streams the log to a file (backpressure respected). */
export async function writeLyncLogFile(path: string, store: TraceStore, options: LyncLogWriterOptions = {}): Promise<number> {
  const ws = createWriteStream(path);
  let n = 0;
  try {
    for (const r of lyncLogRecords(store, options)) {
      n++;
      if (!ws.write(Buffer.from(r, 'latin1'))) await once(ws, 'drain');
    }
  } finally {
    ws.end();
    await finished(ws);
  }
  return n;
}

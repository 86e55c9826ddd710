/**
 * Framing for staging (opening a file): capture records → wire events, as
 * the trace store's WireEventAssembler makes them (src/trace/wire-event.ts,
 * RFC 3261 §18.3 framing by Content-Length), with a fast path for what
 * captures mostly hold: a TCP segment that carries whole messages. Those are
 * handed on as views of the reader's bytes (no copy, no per-message buffer);
 * anything else (a message split over segments, a header without its end, a
 * bad Content-Length) goes through the StreamFramer of src/sip/framing.ts
 * exactly as the store's assembler would take it.
 *
 * Streams are keyed by the reader's connection id and the sending address
 * (numbers and shared strings, no key string per record). Used only for
 * files: `tap` is always null.
 */
import { Buffer } from 'node:buffer';

import type { CaptureRecord, HostPort } from '../sip/capture.ts';
import { StreamFramer } from '../sip/framing.ts';
import { findHeaderEnd } from '../sip/parser.ts';
import { normalizeHost, type SourceRecord, type WireEvent } from '../trace/wire-event.ts';

/** StreamFramer's limits: beyond them the slow path decides. */
const MAX_HEADER = 64 * 1024;
const MAX_BODY = 16 * 1024 * 1024;

interface Stream {
  src: HostPort;
  dst: HostPort;
  transport: 'tcp' | 'tls';
  connId: number | null;
  /** Set while bytes of an incomplete message wait. */
  framer: StreamFramer | null;
  startRef: number;
  lastTimeUs: number;
}

function endpoint(hp: HostPort): HostPort {
  const h = normalizeHost(hp.host);
  return h === hp.host ? hp : { host: h, port: hp.port };
}

function isCrlfOnly(b: Uint8Array, from = 0): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 13 && b[i] !== 10) return false;
  return true;
}

const CONTENT_LENGTH = 'content-length';

/**
 * The body length a header section announces, as the StreamFramer reads it:
 * the first line starting `Content-Length` or `l` (any case), optional blanks,
 * a colon, optional blanks, then a run of non-blanks that must be digits
 * (otherwise, or above 16 MiB, 0: the parser explains the message).
 */
export function announcedBodyLength(b: Uint8Array, start: number, end: number): number {
  let line = start;
  while (line < end) {
    let p = line;
    let named = false;
    const c = b[p]! | 0x20;
    if (c === 0x63 /* c */ && p + CONTENT_LENGTH.length <= end) {
      let k = 1;
      while (k < CONTENT_LENGTH.length && (b[p + k]! | 0x20) === CONTENT_LENGTH.charCodeAt(k)) k++;
      if (k === CONTENT_LENGTH.length) {
        p += k;
        named = true;
      }
    } else if (c === 0x6c /* l */) {
      p += 1;
      named = true;
    }
    if (named) {
      while (p < end && (b[p] === 0x20 || b[p] === 0x09)) p++;
      if (p < end && b[p] === 0x3a) {
        p++;
        while (p < end && (b[p] === 0x20 || b[p] === 0x09)) p++;
        let value = 0;
        let digits = 0;
        let other = false;
        while (p < end) {
          const d = b[p]!;
          if (d === 0x20 || d === 0x09 || d === 0x0d || d === 0x0a || d === 0x0b || d === 0x0c) break;
          if (d >= 0x30 && d <= 0x39) {
            value = value * 10 + (d - 0x30);
            digits++;
          } else other = true;
          p++;
        }
        return other || digits === 0 || value > MAX_BODY ? 0 : value;
      }
    }
    // Next line.
    while (p < end && b[p] !== 0x0a) p++;
    line = p + 1;
  }
  return 0;
}

export class StagingAssembler {
  /** connId → streams of that connection (one per direction). */
  readonly #streams = new Map<number, Stream[]>();
  /** Streams without a connection id. */
  readonly #loose: Stream[] = [];

  #stream(record: SourceRecord, src: HostPort, dst: HostPort, ref: number): Stream {
    const list = record.connId === null ? this.#loose : (this.#streams.get(record.connId) ?? []);
    for (const s of list) {
      if (s.src.port === src.port && s.dst.port === dst.port && s.src.host === src.host && s.dst.host === dst.host && s.transport === record.transport) return s;
    }
    const s: Stream = { src, dst, transport: record.transport as 'tcp' | 'tls', connId: record.connId, framer: null, startRef: ref, lastTimeUs: record.timeUs };
    list.push(s);
    if (record.connId !== null && list.length === 1) this.#streams.set(record.connId, list);
    return s;
  }

  /** Events completed by one record, appended to `out`. */
  push(record: CaptureRecord & { frame?: number; missingBefore?: number }, out: WireEvent[]): void {
    const src = endpoint(record.direction === 'out' ? record.local : record.remote);
    const dst = endpoint(record.direction === 'out' ? record.remote : record.local);
    const ref = record.frame ?? record.seq;
    const bytes = record.bytes;
    if (record.transport === 'udp') {
      if (bytes.length === 0 || isCrlfOnly(bytes)) return;
      out.push({ timeUs: record.timeUs, transport: 'udp', src, dst, connId: null, bytes, tap: null, ref });
      return;
    }
    const st = this.#stream(record, src, dst, ref);
    let missing = record.missingBefore ?? 0;
    if (missing > 0) {
      // The capture lost part of the stream: whatever was pending cannot be completed.
      this.#flushStream(st, out, `${missing} stream bytes were lost by the capture after these`);
    }
    st.lastTimeUs = record.timeUs;
    const event = (b: Uint8Array, itemRef: number, invalid?: string): void => {
      const ev: WireEvent = { timeUs: record.timeUs, transport: st.transport, src: st.src, dst: st.dst, connId: st.connId, bytes: b, tap: null, ref: itemRef };
      if (missing > 0) {
        ev.missingBefore = missing;
        missing = 0;
      }
      if (invalid !== undefined) ev.invalid = invalid;
      out.push(ev);
    };
    if (st.framer === null) {
      // Fast path: whole messages at the start of the segment, as views.
      const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let pos = 0;
      while (pos < buf.length) {
        if (buf[pos] === 13 || buf[pos] === 10) {
          while (pos < buf.length && (buf[pos] === 13 || buf[pos] === 10)) pos++;
          continue;
        }
        const he = findHeaderEnd(buf, pos);
        if (he === null || he.end - pos > MAX_HEADER) break;
        const end = he.end + he.sep + announcedBodyLength(buf, pos, he.end);
        if (end > buf.length) break;
        event(bytes.subarray(pos, end), ref);
        pos = end;
      }
      if (pos >= buf.length) return;
      // The rest is not whole: the StreamFramer takes it from here.
      st.framer = new StreamFramer();
      st.startRef = ref;
      this.#slow(st, bytes.subarray(pos), ref, false, event);
      return;
    }
    this.#slow(st, bytes, ref, st.framer.pendingBytes > 0, event);
  }

  #slow(st: Stream, bytes: Uint8Array, ref: number, wasPending: boolean, event: (b: Uint8Array, ref: number, invalid?: string) => void): void {
    const framer = st.framer!;
    const items = framer.push(bytes);
    let first = true;
    for (const item of items) {
      const itemRef = first && wasPending ? st.startRef : ref;
      first = false;
      if (item.kind === 'keepalive') continue;
      event(item.bytes, itemRef, item.kind === 'garbage' ? item.reason : undefined);
    }
    if (framer.pendingBytes === 0) st.framer = null;
    else if (items.length > 0 || !wasPending) st.startRef = ref;
  }

  #flushStream(st: Stream, out: WireEvent[], reason: string): void {
    const rest = st.framer?.flush() ?? null;
    st.framer = null;
    if (rest === null || rest.length === 0 || isCrlfOnly(rest)) return;
    out.push({
      timeUs: st.lastTimeUs,
      transport: st.transport,
      src: st.src,
      dst: st.dst,
      connId: st.connId,
      bytes: rest,
      tap: null,
      ref: st.startRef,
      invalid: `incomplete message (${rest.length} bytes): ${reason}`,
    });
  }

  /** End of the file: bytes still waiting for the rest of a message become invalid events. */
  flush(out: WireEvent[]): void {
    for (const list of [...this.#streams.values(), this.#loose]) {
      for (const st of list) this.#flushStream(st, out, 'the stream ended before the message was complete');
    }
    this.#streams.clear();
    this.#loose.length = 0;
  }
}

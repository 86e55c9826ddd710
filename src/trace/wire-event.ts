/**
 * Wire events: one SIP message (or one run of bytes that could not be a
 * message) as it crossed the wire, whatever recorded it.
 *
 * Two sources feed them:
 * - the live capture tap ({@link CaptureRecord}): one record per UDP
 *   datagram or TCP/TLS segment, seen by the element that sent ('out') or
 *   received ('in') it;
 * - importers (pcap/pcapng records, Lync log records), seen from outside.
 *
 * A datagram is one message (RFC 3261 §18.3: Content-Length may be absent,
 * octets after it are ignored). A stream is framed per connection and
 * direction with Content-Length ({@link StreamFramer}), so that one event is
 * one message even when a segment carries several or a message spans many.
 * CRLF keep-alives (RFC 5626 §3.5.1) are counted, not turned into events.
 * Bytes that can never become a message are kept as an 'invalid' event:
 * shown, flagged, never dropped.
 *
 * The live trace store and the staging of opened files (src/engine/staging.ts)
 * both assemble with this class; files hand their bytes over for good, so
 * staging asks for events that are views of them (`views`).
 */
import type { CaptureRecord, HostPort, TransportProtocol } from '../sip/capture.ts';
import { StreamFramer } from '../sip/framing.ts';

export interface WireEvent {
  /** When the message was sent (live 'out') or seen (capture, live 'in'), µs since the epoch. */
  timeUs: number;
  transport: TransportProtocol;
  /** Sender and receiver addresses (IPv4-mapped IPv6 hosts are written as IPv4). */
  src: HostPort;
  dst: HostPort;
  /** Connection id of the source (per process for live, per file for imports); null for UDP. */
  connId: number | null;
  /** The exact bytes of one message (or of the unusable run for an invalid event). */
  bytes: Uint8Array;
  /** Which end's tap recorded it (live), or null for imported traffic. */
  tap: 'in' | 'out' | null;
  /** Where it came from: capture seq (live), frame number (pcap), record number (log). */
  ref: number;
  /** Set when the bytes cannot be a SIP message: why. */
  invalid?: string;
  /** Stream bytes the capture lost just before this message (imports). */
  missingBefore?: number;
  /** Receive time at the other end, when a saved trace knows it (both ends emulated). */
  recvTimeUs?: number;
}

/** A record as importers and the tap deliver it; `frame` (capture files) overrides `seq` as the reference. */
export type SourceRecord = CaptureRecord & { frame?: number; missingBefore?: number };

export interface AssemblerStats {
  records: number;
  events: number;
  keepalives: number;
  invalid: number;
}

export interface WireEventAssemblerOptions {
  /**
   * The records' bytes are never reused or changed by whoever made them (a
   * file read into memory): events that lie whole in one record are views of
   * it, not copies (StreamFramer `views`). Default false.
   */
  views?: boolean;
}

interface StreamState {
  framer: StreamFramer;
  /** Reference of the record where the pending bytes began. */
  startRef: number;
  src: HostPort;
  dst: HostPort;
  transport: TransportProtocol;
  connId: number | null;
  tap: 'in' | 'out' | null;
  lastTimeUs: number;
}

/** `::ffff:1.2.3.4` → `1.2.3.4` (dual-stack sockets report IPv4 peers that way). */
export function normalizeHost(host: string): string {
  return host.length > 7 && host.charCodeAt(0) === 0x3a && host.startsWith('::ffff:') && host.indexOf('.') > 0 ? host.slice(7) : host;
}

function endpoint(hp: HostPort): HostPort {
  const h = normalizeHost(hp.host);
  return h === hp.host ? hp : { host: h, port: hp.port };
}

/** Byte runs made only of CR and LF. */
function isCrlfOnly(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 13 && b[i] !== 10) return false;
  return true;
}

/**
 * Turns capture records into wire events: feed records in order with
 * {@link push}; call {@link flush} at the end of the input (an incomplete
 * message left on a stream becomes an invalid event).
 */
export class WireEventAssembler {
  /** Streams by connection id (one per direction and tap end), looked up without a key string per record. */
  readonly #streams = new Map<number, StreamState[]>();
  /** Streams without a connection id. */
  readonly #loose: StreamState[] = [];
  readonly #views: boolean;
  /** Records seen, events made, CRLF keep-alives skipped, invalid events. */
  readonly stats: AssemblerStats = { records: 0, events: 0, keepalives: 0, invalid: 0 };

  constructor(options: WireEventAssemblerOptions = {}) {
    this.#views = options.views === true;
  }

  #stream(record: SourceRecord, src: HostPort, dst: HostPort, tap: 'in' | 'out' | null, ref: number): StreamState {
    const connId = record.connId;
    const list = connId === null ? this.#loose : (this.#streams.get(connId) ?? []);
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.src.port === src.port && s.dst.port === dst.port && s.tap === tap && s.src.host === src.host && s.dst.host === dst.host) return s;
    }
    const st: StreamState = { framer: this.#framer(), startRef: ref, src, dst, transport: record.transport, connId, tap, lastTimeUs: record.timeUs };
    list.push(st);
    if (connId !== null && list.length === 1) this.#streams.set(connId, list);
    return st;
  }

  #framer(): StreamFramer {
    return new StreamFramer({ views: this.#views });
  }

  /**
   * Events completed by one record (none, one or several). `live`: the
   * record comes from the tap, which saw it at one end ('in'/'out' matter
   * for pairing); otherwise from a file, seen from outside.
   */
  push(record: SourceRecord, live: boolean, out: WireEvent[] = []): WireEvent[] {
    this.stats.records++;
    const sending = record.direction === 'out';
    const src = endpoint(sending ? record.local : record.remote);
    const dst = endpoint(sending ? record.remote : record.local);
    const ref = record.frame ?? record.seq;
    const tap = live ? record.direction : null;
    if (record.transport === 'udp') {
      if (record.bytes.length === 0 || isCrlfOnly(record.bytes)) {
        this.stats.keepalives++;
        return out;
      }
      this.stats.events++;
      out.push({ timeUs: record.timeUs, transport: 'udp', src, dst, connId: null, bytes: record.bytes, tap, ref });
      return out;
    }
    const st = this.#stream(record, src, dst, tap, ref);
    if (record.missingBefore !== undefined && record.missingBefore > 0) {
      // The capture lost part of the stream: whatever was pending cannot be completed.
      this.#flushStream(st, out, `${record.missingBefore} stream bytes were lost by the capture after these`);
      st.framer = this.#framer();
    }
    st.lastTimeUs = record.timeUs;
    const wasPending = st.framer.pendingBytes > 0;
    const items = st.framer.push(record.bytes);
    let pendingMissing = record.missingBefore ?? 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      // The first item completes what earlier records began.
      const itemRef = i === 0 && wasPending ? st.startRef : ref;
      if (item.kind === 'keepalive') {
        this.stats.keepalives++;
        continue;
      }
      const ev: WireEvent = { timeUs: record.timeUs, transport: record.transport, src: st.src, dst: st.dst, connId: record.connId, bytes: item.bytes, tap, ref: itemRef };
      if (pendingMissing > 0) {
        ev.missingBefore = pendingMissing;
        pendingMissing = 0;
      }
      if (item.kind === 'garbage') {
        ev.invalid = item.reason;
        this.stats.invalid++;
      }
      this.stats.events++;
      out.push(ev);
    }
    if (st.framer.pendingBytes > 0 && (items.length > 0 || !wasPending)) st.startRef = ref;
    return out;
  }

  #flushStream(st: StreamState, out: WireEvent[], reason: string): void {
    const rest = st.framer.flush();
    if (rest === null || rest.length === 0) return;
    if (isCrlfOnly(rest)) {
      this.stats.keepalives++;
      return;
    }
    this.stats.events++;
    this.stats.invalid++;
    out.push({
      timeUs: st.lastTimeUs,
      transport: st.transport,
      src: st.src,
      dst: st.dst,
      connId: st.connId,
      bytes: rest,
      tap: st.tap,
      ref: st.startRef,
      invalid: `incomplete message (${rest.length} bytes): ${reason}`,
    });
  }

  /** Ends every stream: bytes still waiting for the rest of a message become invalid events. */
  flush(out: WireEvent[] = []): WireEvent[] {
    for (const list of [...this.#streams.values(), this.#loose]) {
      for (const st of list) this.#flushStream(st, out, 'the stream ended before the message was complete');
    }
    this.#streams.clear();
    this.#loose.length = 0;
    return out;
  }

  /** Ends one live connection (the transport closed it). */
  closeConnection(connId: number, out: WireEvent[] = []): WireEvent[] {
    const list = this.#streams.get(connId);
    if (list === undefined) return out;
    for (const st of list) this.#flushStream(st, out, 'the connection closed before the message was complete');
    this.#streams.delete(connId);
    return out;
  }
}

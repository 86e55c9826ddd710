/**
 * Capture import: pcap or pcapng bytes in, SIP {@link CaptureRecord}s out.
 *
 * container (pcap-reader / pcapng-reader, incremental over chunks)
 *   → link layer (link-layer: Ethernet + VLAN, NULL/LOOP, raw IP, Linux SLL/SLL2)
 *   → IPv4 / IPv6 + extension headers (ip-decode), fragment reassembly (ip-reassembly)
 *   → UDP: the datagram, if it starts with a SIP start line (sip-detect)
 *   → TCP: per-connection in-order reassembly (tcp-reassembly), kept when the
 *     connection turns out to be SIP (sip-stream-gate)
 *
 * Records come out in file order of the frame that completed them, numbered
 * from 1 (`seq`), as seen by the receiver: direction 'in', local = destination,
 * remote = source. `connId` numbers the SIP TCP connections from 1. TLS cannot
 * be decrypted: only cleartext SIP is found. Payloads are copied exactly once
 * out of the file chunks (IP-reassembled datagrams are used in place).
 *
 * A truncated or corrupt file yields every record before the bad spot, then a
 * {@link CaptureFormatError} naming the byte offset and frame number:
 * `readCapture` / `readCaptureFile` return `{ records, error }`,
 * `CaptureReader.end()` leaves it in `reader.error`, and `iterateCapture`
 * throws it after the last batch.
 */

import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import type { CaptureRecord } from '../sip/capture.ts';
import { CaptureFormatError } from './capture-error.ts';
import { formatIPv4, formatIPv6 } from './ip-address.ts';
import { decodeIp, type IpInfo, IPPROTO_FRAGMENT, newIpInfo, walkIPv6Extensions } from './ip-decode.ts';
import { IpReassembler } from './ip-reassembly.ts';
import { ipOffset } from './link-layer.ts';
import { IPPROTO_TCP, IPPROTO_UDP, TCP_FIN, TCP_RST, TCP_SYN } from './net-headers.ts';
import type { PacketSink } from './packet-sink.ts';
import { PayloadArena } from './payload-arena.ts';
import { isPcapMagic, PcapParser } from './pcap-reader.ts';
import { isPcapngMagic, PcapngParser } from './pcapng-reader.ts';
import { isCrlfOnly, isSipDatagram } from './sip-detect.ts';
import { type GateState, SipStreamGate } from './sip-stream-gate.ts';
import { type TcpConnection, type TcpDelivery, TcpReassembler } from './tcp-reassembly.ts';
import { UnitStream } from './unit-stream.ts';

export { CaptureFormatError } from './capture-error.ts';

/** A record read from a capture file. */
export interface ReadRecord extends CaptureRecord {
  transport: 'udp' | 'tcp';
  direction: 'in';
  /** 1-based number of the frame the bytes came from (the first one for reassembled data). */
  frame: number;
  /** The frame that completed the bytes (last IP fragment, TCP hole filler); `timeUs` is its time. */
  lastFrame: number;
  /** TCP: bytes of the stream the capture lost right before these bytes (0 normally). */
  missingBefore: number;
}

export type CaptureFormat = 'pcap' | 'pcapng';

export interface ReadStats {
  format: CaptureFormat | null;
  /** Bytes of capture data consumed (uncompressed). */
  bytesRead: number;
  frames: number;
  records: number;
  udpRecords: number;
  tcpRecords: number;
  /** Frames that were not IPv4/IPv6 or had an unsupported link type. */
  nonIpFrames: number;
  /** Link types of the file's interfaces. */
  linkTypes: number[];
  ipFragments: number;
  ipReassembled: number;
  ipReassemblyDropped: number;
  tcpConnections: number;
  sipConnections: number;
  tcpDuplicateBytes: number;
  tcpGaps: number;
  tcpMissingBytes: number;
}

export interface ReadProgress {
  /** Bytes of the file read so far (compressed bytes for .gz). */
  bytesRead: number;
  totalBytes: number | null;
  frames: number;
  records: number;
}

export interface ReadCaptureResult {
  format: CaptureFormat | null;
  records: ReadRecord[];
  /** Set when the file is truncated or corrupt; `records` holds everything before that point. */
  error?: CaptureFormatError;
  stats: ReadStats;
}

/** Decodes packets into records; fed by a container parser. */
class PacketDecoder implements PacketSink {
  out: ReadRecord[] = [];
  private seq = 0;
  private readonly ip: IpInfo = newIpInfo();
  readonly reasm = new IpReassembler();
  readonly gate: SipStreamGate;
  readonly tcp: TcpReassembler<GateState>;
  private readonly arena = new PayloadArena();
  /** UDP flows that carried SIP (CRLF keep-alives on them are kept): IPv4 by number, IPv6 by text. */
  private readonly udpFlows4 = new Map<number, Set<number>>();
  private readonly udpFlows6 = new Set<string>();
  private lastFlowLo = -1;
  private lastFlowHi = -1;
  nonIpFrames = 0;
  ipFragments = 0;
  udpRecords = 0;
  tcpRecords = 0;

  constructor() {
    this.gate = new SipStreamGate((conn, dir, d) => this.emitTcp(conn, dir, d));
    this.tcp = new TcpReassembler(this.gate, { arena: this.arena });
  }

  packet(frame: number, linkType: number, timeUs: number, data: Uint8Array): void {
    const off = ipOffset(linkType, data);
    const ip = this.ip;
    if (off < 0 || !decodeIp(data, off, ip)) {
      this.nonIpFrames++;
      return;
    }
    if (ip.protocol !== IPPROTO_UDP && ip.protocol !== IPPROTO_TCP) return;
    if (!ip.fragmented) {
      this.transport(data, ip.payloadOff, ip.payloadEnd, ip.protocol, false, data, ip.srcOff, ip.dstOff, ip.version === 6, frame, frame, timeUs);
      return;
    }
    this.ipFragments++;
    const v6 = ip.version === 6;
    const src = v6 ? formatIPv6(data, ip.srcOff) : formatIPv4(data, ip.srcOff);
    const dst = v6 ? formatIPv6(data, ip.dstOff) : formatIPv4(data, ip.dstOff);
    const key = `${ip.version} ${src} ${dst} ${ip.protocol} ${ip.fragId}`;
    const whole = this.reasm.add(key, frame, timeUs, ip.fragOffset, ip.moreFragments, data.subarray(ip.payloadOff, ip.payloadEnd));
    if (!whole) return;
    let start = 0;
    let protocol = ip.protocol;
    if (v6) {
      // The fragmentable part may begin with more extension headers (RFC 8200 §4.5).
      const info = newIpInfo();
      start = walkIPv6Extensions(whole.data, 0, whole.data.length, protocol, info);
      if (start < 0 || info.protocol === IPPROTO_FRAGMENT) return;
      protocol = info.protocol;
    }
    if (protocol !== IPPROTO_UDP && protocol !== IPPROTO_TCP) return;
    this.transport(whole.data, start, whole.data.length, protocol, true, data, ip.srcOff, ip.dstOff, v6, whole.firstFrame, frame, timeUs);
  }

  /**
   * UDP or TCP at `b[off..end)`. Addresses are read from `a` (the IP packet)
   * only when needed. `owned`: `b` is a private buffer that may be kept.
   */
  private transport(
    b: Uint8Array,
    off: number,
    end: number,
    protocol: number,
    owned: boolean,
    a: Uint8Array,
    srcOff: number,
    dstOff: number,
    v6: boolean,
    firstFrame: number,
    frame: number,
    timeUs: number,
  ): void {
    if (protocol === IPPROTO_UDP) {
      if (end - off < 8) return;
      const ulen = (b[off + 4] << 8) | b[off + 5];
      const e = ulen >= 8 && off + ulen < end ? off + ulen : end;
      const s = off + 8;
      const sip = isSipDatagram(b, s, e);
      if (!sip && !isCrlfOnly(b, s, e)) return;
      const sport = (b[off] << 8) | b[off + 1];
      const dport = (b[off + 2] << 8) | b[off + 3];
      if (!this.udpFlow(sip, a, srcOff, dstOff, v6, sport, dport)) return;
      const src = v6 ? formatIPv6(a, srcOff) : formatIPv4(a, srcOff);
      const dst = v6 ? formatIPv6(a, dstOff) : formatIPv4(a, dstOff);
      this.udpRecords++;
      this.out.push({
        seq: ++this.seq,
        timeUs,
        direction: 'in',
        transport: 'udp',
        local: { host: dst, port: dport },
        remote: { host: src, port: sport },
        connId: null,
        bytes: owned ? b.subarray(s, e) : this.arena.copy(b, s, e),
        frame: firstFrame,
        lastFrame: frame,
        missingBefore: 0,
      });
      return;
    }
    // TCP
    if (end - off < 20) return;
    const doff = (b[off + 12] >> 4) * 4;
    const flags = b[off + 13];
    const ps = off + doff;
    if (doff < 20 || ps > end) return;
    if (ps === end && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0) return; // pure ACK
    const sport = (b[off] << 8) | b[off + 1];
    const dport = (b[off + 2] << 8) | b[off + 3];
    const seq = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
    const src = v6 ? formatIPv6(a, srcOff) : formatIPv4(a, srcOff);
    const dst = v6 ? formatIPv6(a, dstOff) : formatIPv4(a, dstOff);
    this.tcp.segment(src, sport, dst, dport, seq, flags, b.subarray(ps, end), frame, timeUs, firstFrame);
  }

  /**
   * Records that a UDP flow carried SIP (`sip`), or tells whether it did
   * (for a CRLF keep-alive). Flows are unordered endpoint pairs.
   */
  private udpFlow(sip: boolean, a: Uint8Array, srcOff: number, dstOff: number, v6: boolean, sport: number, dport: number): boolean {
    if (v6) {
      const ka = `${formatIPv6(a, srcOff)} ${sport}`;
      const kb = `${formatIPv6(a, dstOff)} ${dport}`;
      const key = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`;
      if (sip) this.udpFlows6.add(key);
      return sip || this.udpFlows6.has(key);
    }
    // IPv4 endpoint = address * 2^16 + port (48 bits, exact in a double).
    const ea = ((a[srcOff] << 24) | (a[srcOff + 1] << 16) | (a[srcOff + 2] << 8) | a[srcOff + 3]) >>> 0;
    const eb = ((a[dstOff] << 24) | (a[dstOff + 1] << 16) | (a[dstOff + 2] << 8) | a[dstOff + 3]) >>> 0;
    const x = ea * 65536 + sport;
    const y = eb * 65536 + dport;
    const lo = x < y ? x : y;
    const hi = x < y ? y : x;
    if (lo === this.lastFlowLo && hi === this.lastFlowHi) return true;
    let set = this.udpFlows4.get(lo);
    if (sip) {
      if (!set) {
        set = new Set();
        this.udpFlows4.set(lo, set);
      }
      set.add(hi);
      this.lastFlowLo = lo;
      this.lastFlowHi = hi;
      return true;
    }
    return set !== undefined && set.has(hi);
  }

  private emitTcp(conn: TcpConnection<GateState>, dir: 0 | 1, d: TcpDelivery): void {
    const o = 1 - dir;
    this.tcpRecords++;
    this.out.push({
      seq: ++this.seq,
      timeUs: d.timeUs,
      direction: 'in',
      transport: 'tcp',
      local: { host: conn.hosts[o], port: conn.ports[o] },
      remote: { host: conn.hosts[dir], port: conn.ports[dir] },
      connId: conn.state.connId,
      bytes: d.bytes,
      frame: d.firstFrame,
      lastFrame: d.lastFrame,
      missingBefore: d.missingBefore,
    });
  }
}

/**
 * Incremental reader: `push` chunks of a pcap/pcapng file as they arrive and
 * get the records they complete; `end()` returns the rest (buffered TCP data)
 * and sets `error` if the file was truncated or corrupt. Pushing after an
 * error is a no-op: the records before the error stay valid.
 */
export class CaptureReader {
  private readonly decoder = new PacketDecoder();
  private stream: UnitStream | null = null;
  private parser: PcapParser | PcapngParser | null = null;
  private head: Uint8Array = new Uint8Array(0);
  private detectError: CaptureFormatError | null = null;
  private ended = false;
  format: CaptureFormat | null = null;

  /** The format error, once one is found (at the latest after `end()`). */
  get error(): CaptureFormatError | null {
    return this.detectError ?? this.stream?.error ?? null;
  }

  /** Capture bytes consumed. */
  get bytesRead(): number {
    return this.stream ? this.stream.position : this.head.length;
  }

  get frames(): number {
    return this.parser ? this.parser.frames : 0;
  }

  push(chunk: Uint8Array): ReadRecord[] {
    if (this.ended) throw new Error('CaptureReader.push after end()');
    if (this.error) return [];
    if (!this.stream) {
      let joined = chunk;
      if (this.head.length > 0) {
        joined = new Uint8Array(this.head.length + chunk.length);
        joined.set(this.head);
        joined.set(chunk, this.head.length);
      }
      if (joined.length < 4) {
        this.head = joined;
        return [];
      }
      this.head = new Uint8Array(0);
      if (!this.start(joined)) return [];
      // start() set the stream (TypeScript keeps the narrowing from the test above).
      (this.stream as UnitStream | null)?.push(joined);
    } else this.stream.push(chunk);
    return this.take();
  }

  end(): ReadRecord[] {
    if (this.ended) return [];
    this.ended = true;
    if (!this.stream && !this.detectError) {
      this.detectError = new CaptureFormatError('truncated', 0, null, 'a pcap or pcapng file header', `${this.head.length} bytes`);
    }
    this.stream?.end();
    this.decoder.tcp.flush();
    return this.take();
  }

  private start(first: Uint8Array): boolean {
    if (isPcapngMagic(first)) {
      this.parser = new PcapngParser(this.decoder);
      this.format = 'pcapng';
    } else if (isPcapMagic(first)) {
      this.parser = new PcapParser(this.decoder);
      this.format = 'pcap';
    } else {
      const hex = Array.from(first.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
      const gz = first[0] === 0x1f && first[1] === 0x8b ? ' (gzip data: use readCapture/readCaptureFile, which decompress)' : '';
      this.detectError = new CaptureFormatError(
        'bad-magic',
        0,
        null,
        'a pcap magic (a1 b2 c3 d4 / a1 b2 3c 4d, either byte order) or a pcapng Section Header Block (0a 0d 0d 0a)',
        `${hex}${gz}`,
      );
      return false;
    }
    this.stream = new UnitStream(this.parser);
    return true;
  }

  private take(): ReadRecord[] {
    const out = this.decoder.out;
    if (out.length > 0) this.decoder.out = [];
    return out;
  }

  stats(): ReadStats {
    const d = this.decoder;
    return {
      format: this.format,
      bytesRead: this.bytesRead,
      frames: this.frames,
      records: d.udpRecords + d.tcpRecords,
      udpRecords: d.udpRecords,
      tcpRecords: d.tcpRecords,
      nonIpFrames: d.nonIpFrames,
      linkTypes:
        this.parser instanceof PcapngParser
          ? [...this.parser.interfaceLinkTypes]
          : this.parser && this.parser.linkType >= 0
            ? [this.parser.linkType]
            : [],
      ipFragments: d.ipFragments,
      ipReassembled: d.reasm.completed,
      ipReassemblyDropped: d.reasm.dropped + d.reasm.pendingCount,
      tcpConnections: d.tcp.connections,
      sipConnections: d.gate.sipConnections,
      tcpDuplicateBytes: d.tcp.duplicateBytes,
      tcpGaps: d.tcp.gaps,
      tcpMissingBytes: d.tcp.missingBytes,
    };
  }
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Reads a whole capture held in memory (gzip-compressed or not). */
export function readCapture(bytes: Uint8Array): ReadCaptureResult {
  const reader = new CaptureReader();
  const data = isGzip(bytes) ? new Uint8Array(gunzipSync(bytes)) : bytes;
  const records = reader.push(data);
  for (const r of reader.end()) records.push(r);
  return finish(reader, records);
}

function finish(reader: CaptureReader, records: ReadRecord[]): ReadCaptureResult {
  const res: ReadCaptureResult = { format: reader.format, records, stats: reader.stats() };
  if (reader.error) res.error = reader.error;
  return res;
}

export interface ReadCaptureOptions {
  /** Called with each batch of records as they complete, in order. */
  onRecords?: (batch: ReadRecord[]) => void;
  /** Called after each chunk read. */
  onProgress?: (p: ReadProgress) => void;
  /** Keep the records in the result (default true; false when `onRecords` consumes them). */
  keepRecords?: boolean;
  signal?: AbortSignal;
  /** Read size (default 1 MiB). */
  chunkSize?: number;
}

export interface StreamSource {
  chunks: AsyncIterable<Uint8Array>;
  /** Size of the source if known (for progress). */
  totalBytes?: number;
  /** Bytes of the source read so far, if different from the bytes parsed (compressed input). */
  sourceBytesRead?: () => number;
}

/** Reads a capture from any async chunk source (a Node Readable, a web stream...). */
export async function readCaptureStream(source: StreamSource, options: ReadCaptureOptions = {}): Promise<ReadCaptureResult> {
  const reader = new CaptureReader();
  const keep = options.keepRecords ?? true;
  const records: ReadRecord[] = [];
  let count = 0;
  const deliver = (batch: ReadRecord[]) => {
    if (batch.length === 0) return;
    count += batch.length;
    if (keep) for (const r of batch) records.push(r);
    options.onRecords?.(batch);
  };
  let raw = 0;
  for await (const chunk of source.chunks) {
    options.signal?.throwIfAborted();
    raw += chunk.length;
    deliver(reader.push(chunk));
    options.onProgress?.({
      bytesRead: source.sourceBytesRead ? source.sourceBytesRead() : raw,
      totalBytes: source.totalBytes ?? null,
      frames: reader.frames,
      records: count,
    });
    if (reader.error) break;
  }
  deliver(reader.end());
  return finish(reader, records);
}

/** Opens a capture file (`.pcap`, `.pcapng`, either gzip-compressed) as a chunk source. */
export async function openCaptureFile(path: string, chunkSize = 1 << 20): Promise<StreamSource & { close(): void }> {
  const totalBytes = (await stat(path)).size;
  const fh = await open(path, 'r');
  const magic = new Uint8Array(2);
  try {
    await fh.read(magic, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const file = createReadStream(path, { highWaterMark: chunkSize });
  const chunks: AsyncIterable<Uint8Array> = isGzip(magic) ? file.pipe(createGunzip({ chunkSize })) : file;
  return { chunks, totalBytes, sourceBytesRead: () => file.bytesRead, close: () => file.destroy() };
}

/** Reads a capture file with progress (bytes read / total); see {@link ReadCaptureResult}. */
export async function readCaptureFile(path: string, options: ReadCaptureOptions = {}): Promise<ReadCaptureResult> {
  const src = await openCaptureFile(path, options.chunkSize);
  try {
    return await readCaptureStream(src, options);
  } finally {
    src.close();
  }
}

/**
 * Async iteration over a capture file or chunk source: yields batches of
 * records in order; after the last batch, throws the {@link CaptureFormatError}
 * if the file is truncated or corrupt. Returns the statistics.
 */
export async function* iterateCapture(
  source: string | StreamSource,
  options: { chunkSize?: number; onProgress?: (p: ReadProgress) => void } = {},
): AsyncGenerator<ReadRecord[], ReadStats, void> {
  const src = typeof source === 'string' ? await openCaptureFile(source, options.chunkSize) : source;
  const reader = new CaptureReader();
  let count = 0;
  let raw = 0;
  try {
    for await (const chunk of src.chunks) {
      raw += chunk.length;
      const batch = reader.push(chunk);
      count += batch.length;
      options.onProgress?.({
        bytesRead: src.sourceBytesRead ? src.sourceBytesRead() : raw,
        totalBytes: src.totalBytes ?? null,
        frames: reader.frames,
        records: count,
      });
      if (batch.length > 0) yield batch;
      if (reader.error) break;
    }
    const rest = reader.end();
    if (rest.length > 0) yield rest;
  } finally {
    if ('close' in src && typeof src.close === 'function') src.close();
  }
  if (reader.error) throw reader.error;
  return reader.stats();
}

/**
 * Classic libpcap file writer.
 *
 * Format: "PCAP Capture File Format" (IETF draft-ietf-opsawg-pcap, and
 * https://wiki.wireshark.org/Development/LibpcapFileFormat): a 24-byte global
 * header (magic 0xA1B2C3D4 = microsecond timestamps, version 2.4, snaplen,
 * link type) then per packet a 16-byte record header (ts_sec, ts_usec,
 * incl_len, orig_len) and the frame. Written little-endian, link type
 * LINKTYPE_ETHERNET (1); frames come from {@link RecordFramer}.
 *
 * Streaming: `new PcapWriter(opts).push(record)` returns the chunks for that
 * record (the global header comes with the first call); {@link pcapChunks}
 * wraps any (async) iterable of records, {@link writePcapFile} pipes to a file
 * with backpressure, {@link writePcap} returns one buffer.
 */

import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CaptureRecord } from '../sip/capture.ts';
import { type FrameLayout, type FramingOptions, RecordFramer } from './record-framer.ts';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const LINKTYPE_ETHERNET = 1;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
/** The snaplen Wireshark and tcpdump use by default. */
export const DEFAULT_SNAPLEN = 262144;

export interface PcapWriterOptions extends FramingOptions {
  /** Snapshot length written in the global header (default 262144). Frames are never cut. */
  snaplen?: number;
}

/** The 24-byte global header (little-endian, microseconds, version 2.4). */
export function pcapGlobalHeader(snaplen = DEFAULT_SNAPLEN, linkType = LINKTYPE_ETHERNET): Uint8Array {
  const b = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, PCAP_MAGIC_MICROSECONDS, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setInt32(8, 0, true); // thiszone
  dv.setUint32(12, 0, true); // sigfigs
  dv.setUint32(16, snaplen, true);
  dv.setUint32(20, linkType, true);
  return b;
}

const PCAP_LAYOUT: FrameLayout = { headroom: PCAP_RECORD_HEADER_LEN, tailroom: () => 0 };

/** Incremental pcap writer: push records, get byte chunks. */
export class PcapWriter {
  private readonly framer: RecordFramer;
  private readonly snaplen: number;
  private started = false;

  constructor(options: PcapWriterOptions = {}) {
    this.framer = new RecordFramer(options);
    this.snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
  }

  /** The global header; returned by the first {@link push} unless taken here first. */
  header(): Uint8Array {
    this.started = true;
    return pcapGlobalHeader(this.snaplen);
  }

  /** Chunks for one record: its frames, each with its 16-byte record header. */
  push(record: CaptureRecord): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.started) out.push(this.header());
    const sec = Math.floor(record.timeUs / 1e6);
    const usec = record.timeUs - sec * 1e6;
    for (const f of this.framer.frames(record, PCAP_LAYOUT)) {
      const dv = new DataView(f.buf.buffer, f.buf.byteOffset, PCAP_RECORD_HEADER_LEN);
      dv.setUint32(0, sec, true);
      dv.setUint32(4, usec, true);
      dv.setUint32(8, f.length, true);
      dv.setUint32(12, f.length, true);
      out.push(f.buf);
    }
    return out;
  }

  /** Chunks to close the file: just the header if nothing was pushed. */
  end(): Uint8Array[] {
    return this.started ? [] : [this.header()];
  }
}

/** Pcap bytes for a sequence of records, chunk by chunk. */
export function* pcapChunks(records: Iterable<CaptureRecord>, options?: PcapWriterOptions): Generator<Uint8Array> {
  const w = new PcapWriter(options);
  for (const r of records) yield* w.push(r);
  yield* w.end();
}

/** As {@link pcapChunks}, for an async source (e.g. a live tap). */
export async function* pcapChunksAsync(
  records: AsyncIterable<CaptureRecord> | Iterable<CaptureRecord>,
  options?: PcapWriterOptions,
): AsyncGenerator<Uint8Array> {
  const w = new PcapWriter(options);
  for await (const r of records) yield* w.push(r);
  yield* w.end();
}

/** The whole pcap file in one buffer. */
export function writePcap(records: Iterable<CaptureRecord>, options?: PcapWriterOptions): Uint8Array {
  return concatChunks(pcapChunks(records, options));
}

/** Streams records into any Writable (file, socket, HTTP response), respecting backpressure; ends it. */
export async function writePcapTo(
  writable: Writable,
  records: AsyncIterable<CaptureRecord> | Iterable<CaptureRecord>,
  options?: PcapWriterOptions,
): Promise<void> {
  await pipeline(Readable.from(pcapChunksAsync(records, options), { objectMode: false }), writable);
}

/** Streams records to a pcap file (backpressure respected). */
export async function writePcapFile(
  path: string,
  records: AsyncIterable<CaptureRecord> | Iterable<CaptureRecord>,
  options?: PcapWriterOptions,
): Promise<void> {
  await writePcapTo(createWriteStream(path), records, options);
}

/** Concatenates chunks into one buffer. */
export function concatChunks(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = Array.from(chunks);
  let n = 0;
  for (const c of list) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of list) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * pcapng file writer.
 *
 * Format: "PCAP Next Generation (pcapng) Capture File Format"
 * (draft-ietf-opsawg-pcapng): a Section Header Block (§4.1, type 0x0A0D0D0A,
 * byte-order magic 0x1A2B3C4D, version 1.0, section length -1, option
 * shb_userappl), one Interface Description Block per capture element (§4.2,
 * LINKTYPE_ETHERNET, options if_name, if_description, if_tsresol = 6, i.e.
 * microseconds), and one Enhanced Packet Block per frame (§4.3) with an
 * opt_comment (§3.5) when the caller has one. Options are
 * code/length/value padded to 32 bits and closed by opt_endofopt. Written
 * little-endian. Frames (Ethernet/IP/UDP/TCP) come from {@link RecordFramer},
 * exactly as in the pcap writer.
 *
 * Which interface a record belongs to is the caller's choice (e.g. one per
 * emulated element); by default there is one interface per local address.
 * An IDB is emitted just before the first packet that uses it.
 */

import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CaptureRecord } from '../sip/capture.ts';
import { concatChunks, DEFAULT_SNAPLEN, LINKTYPE_ETHERNET } from './pcap.ts';
import { type FrameLayout, type FramingOptions, RecordFramer } from './record-framer.ts';

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;

const EPB_HEADER_LEN = 28;

export interface PcapngInterface {
  interfaceName: string;
  description?: string;
}

export interface PcapngWriterOptions extends FramingOptions {
  /** The interface a record is shown on (default: one per local address). */
  interfaceOf?: (record: CaptureRecord) => PcapngInterface;
  /** The packet comment of a record's frames (e.g. `element=med-1 call=3 leg=2`). */
  commentOf?: (record: CaptureRecord) => string | undefined;
  /** Append "decrypted TLS" to the comment of `tls` records (default true). */
  markTls?: boolean;
  /** shb_userappl (default "Trunklab"). */
  application?: string;
  snaplen?: number;
}

/** Default interface mapping: one interface per local address. */
export function interfacePerLocalAddress(record: CaptureRecord): PcapngInterface {
  return { interfaceName: record.local.host, description: `Trunklab endpoint ${record.local.host}` };
}

const utf8 = new TextEncoder();

const pad4 = (n: number) => (n + 3) & ~3;

/** Encoded size of one option with a `len`-byte value. */
const optSize = (len: number) => 4 + pad4(len);

function writeOption(dv: DataView, buf: Uint8Array, off: number, code: number, value: Uint8Array): number {
  dv.setUint16(off, code, true);
  dv.setUint16(off + 2, value.length, true);
  buf.set(value, off + 4);
  return off + optSize(value.length);
}

function block(type: number, body: (dv: DataView, buf: Uint8Array, off: number) => number, bodyLen: number): Uint8Array {
  const total = 12 + bodyLen;
  const buf = new Uint8Array(total);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  const end = body(dv, buf, 8);
  if (end !== 8 + bodyLen) throw new Error(`pcapng block 0x${type.toString(16)} body size mismatch`);
  dv.setUint32(total - 4, total, true);
  return buf;
}

/** Section Header Block (§4.1). */
export function sectionHeaderBlock(application = 'Trunklab'): Uint8Array {
  const app = utf8.encode(application);
  const bodyLen = 16 + optSize(app.length) + 4;
  return block(
    PCAPNG_SHB,
    (dv, buf, off) => {
      dv.setUint32(off, PCAPNG_BYTE_ORDER_MAGIC, true);
      dv.setUint16(off + 4, 1, true);
      dv.setUint16(off + 6, 0, true);
      dv.setInt32(off + 8, -1, true); // section length: unknown (-1 as int64)
      dv.setInt32(off + 12, -1, true);
      let o = writeOption(dv, buf, off + 16, SHB_USERAPPL, app);
      dv.setUint32(o, OPT_ENDOFOPT, true);
      o += 4;
      return o;
    },
    bodyLen,
  );
}

/** Interface Description Block (§4.2), Ethernet, microsecond timestamps. */
export function interfaceDescriptionBlock(iface: PcapngInterface, snaplen = DEFAULT_SNAPLEN): Uint8Array {
  const name = utf8.encode(iface.interfaceName);
  const descr = iface.description !== undefined ? utf8.encode(iface.description) : null;
  const tsresol = Uint8Array.of(6);
  const bodyLen = 8 + optSize(name.length) + (descr ? optSize(descr.length) : 0) + optSize(1) + 4;
  return block(
    PCAPNG_IDB,
    (dv, buf, off) => {
      dv.setUint16(off, LINKTYPE_ETHERNET, true);
      dv.setUint16(off + 2, 0, true);
      dv.setUint32(off + 4, snaplen, true);
      let o = writeOption(dv, buf, off + 8, IF_NAME, name);
      if (descr) o = writeOption(dv, buf, o, IF_DESCRIPTION, descr);
      o = writeOption(dv, buf, o, IF_TSRESOL, tsresol);
      dv.setUint32(o, OPT_ENDOFOPT, true);
      return o + 4;
    },
    bodyLen,
  );
}

/** Incremental pcapng writer: push records, get byte chunks. */
export class PcapngWriter {
  private readonly framer: RecordFramer;
  private readonly interfaceOf: (r: CaptureRecord) => PcapngInterface;
  private readonly commentOf: ((r: CaptureRecord) => string | undefined) | undefined;
  private readonly markTls: boolean;
  private readonly application: string;
  private readonly snaplen: number;
  private readonly interfaces = new Map<string, number>();
  private started = false;

  constructor(options: PcapngWriterOptions = {}) {
    this.framer = new RecordFramer(options);
    this.interfaceOf = options.interfaceOf ?? interfacePerLocalAddress;
    this.commentOf = options.commentOf;
    this.markTls = options.markTls ?? true;
    this.application = options.application ?? 'Trunklab';
    this.snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
  }

  /** The interface ids assigned so far, by name. */
  interfaceIds(): ReadonlyMap<string, number> {
    return this.interfaces;
  }

  push(record: CaptureRecord): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.started) {
      this.started = true;
      out.push(sectionHeaderBlock(this.application));
    }
    const iface = this.interfaceOf(record);
    let ifId = this.interfaces.get(iface.interfaceName);
    if (ifId === undefined) {
      ifId = this.interfaces.size;
      this.interfaces.set(iface.interfaceName, ifId);
      out.push(interfaceDescriptionBlock(iface, this.snaplen));
    }
    const parts: string[] = [];
    const c = this.commentOf?.(record);
    if (c) parts.push(c);
    if (this.markTls && record.transport === 'tls') parts.push('decrypted TLS');
    const comment = parts.length > 0 ? utf8.encode(parts.join('; ')) : null;
    const synthComment = utf8.encode(comment ? `synthetic TCP handshake; ${parts.join('; ')}` : 'synthetic TCP handshake');
    const optsLen = (cm: Uint8Array | null) => (cm ? optSize(cm.length) + 4 : 0);
    const layout: FrameLayout = {
      headroom: EPB_HEADER_LEN,
      tailroom: (len, synthetic) => pad4(len) - len + optsLen(synthetic ? synthComment : comment) + 4,
    };
    const tsHigh = Math.floor(record.timeUs / 4294967296);
    const tsLow = record.timeUs - tsHigh * 4294967296;
    for (const f of this.framer.frames(record, layout)) {
      const buf = f.buf;
      const total = buf.length;
      const dv = new DataView(buf.buffer, buf.byteOffset, total);
      dv.setUint32(0, PCAPNG_EPB, true);
      dv.setUint32(4, total, true);
      dv.setUint32(8, ifId, true);
      dv.setUint32(12, tsHigh, true);
      dv.setUint32(16, tsLow, true);
      dv.setUint32(20, f.length, true);
      dv.setUint32(24, f.length, true);
      let o = EPB_HEADER_LEN + pad4(f.length);
      const cm = f.synthetic ? synthComment : comment;
      if (cm) {
        o = writeOption(dv, buf, o, OPT_COMMENT, cm);
        dv.setUint32(o, OPT_ENDOFOPT, true);
        o += 4;
      }
      dv.setUint32(o, total, true);
      out.push(buf);
    }
    return out;
  }

  /** Chunks to close the file: just the section header if nothing was pushed. */
  end(): Uint8Array[] {
    if (this.started) return [];
    this.started = true;
    return [sectionHeaderBlock(this.application)];
  }
}

export function* pcapngChunks(records: Iterable<CaptureRecord>, options?: PcapngWriterOptions): Generator<Uint8Array> {
  const w = new PcapngWriter(options);
  for (const r of records) yield* w.push(r);
  yield* w.end();
}

export async function* pcapngChunksAsync(
  records: AsyncIterable<CaptureRecord> | Iterable<CaptureRecord>,
  options?: PcapngWriterOptions,
): AsyncGenerator<Uint8Array> {
  const w = new PcapngWriter(options);
  for await (const r of records) yield* w.push(r);
  yield* w.end();
}

/** The whole pcapng file in one buffer. */
export function writePcapng(records: Iterable<CaptureRecord>, options?: PcapngWriterOptions): Uint8Array {
  return concatChunks(pcapngChunks(records, options));
}

/** Streams records into any Writable (file, socket, HTTP response), respecting backpressure; ends it. */
export async function writePcapngTo(
  writable: Writable,
  records: AsyncIterable<CaptureRecord> | Iterable<CaptureRecord>,
  options?: PcapngWriterOptions,
): Promise<void> {
  await pipeline(Readable.from(pcapngChunksAsync(records, options), { objectMode: false }), writable);
}

/** Streams records to a pcapng file (backpressure respected). */
export async function writePcapngFile(
  path: string,
  records: AsyncIterable<CaptureRecord> | Iterable<CaptureRecord>,
  options?: PcapngWriterOptions,
): Promise<void> {
  await writePcapngTo(createWriteStream(path), records, options);
}

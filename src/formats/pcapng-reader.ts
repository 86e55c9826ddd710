/**
 * Incremental parser of pcapng files (draft-ietf-opsawg-pcapng):
 *
 * - Section Header Blocks (§4.1) in either byte order, several sections per
 *   file (each with its own byte order and interfaces);
 * - Interface Description Blocks (§4.2): link type, snaplen, if_tsresol
 *   (§4.2, code 9: 10^-n or 2^-n seconds) and if_tsoffset (code 14, seconds);
 * - Enhanced (§4.3), Simple (§4.4; no timestamp: the previous packet's time
 *   is used) and obsolete Packet Blocks (Appendix A) are packets; every other
 *   block type is skipped.
 *
 * Every block's leading and trailing Block Total Length must agree, be a
 * multiple of 4 and at least 12; a mismatch is a 'bad-length' error.
 */

import { CaptureFormatError } from './capture-error.ts';
import { type PacketSink, u16, u32 } from './packet-sink.ts';
import type { UnitParser } from './unit-stream.ts';

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const PB = 0x00000002;
const SPB = 0x00000003;
const EPB = 0x00000006;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
/** Far above any real block (Wireshark caps blocks at 16 MiB). */
const MAX_BLOCK = 64 * 1024 * 1024;

interface Iface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second. */
  unitsPerSec: number;
  /** For decimal resolutions finer than 1 µs: 10^(n-6); otherwise 0. */
  decimalDivisor: number;
  offsetUs: number;
}

/** True if the buffer starts with a pcapng Section Header Block type. */
export function isPcapngMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d && b[3] === 0x0a;
}

const TWO32 = 4294967296;

/** A 64-bit timestamp (high, low words) in the interface's units, as microseconds. */
export function timestampToUs(high: number, low: number, unitsPerSec: number, decimalDivisor: number): number {
  if (unitsPerSec === 1e6) return high * TWO32 + low;
  if (decimalDivisor > 0 && decimalDivisor <= 1 << 21) {
    // Exact without BigInt: 2^32 = q*d + r, so ts/d = high*q + (high*r + low)/d.
    const q = Math.floor(TWO32 / decimalDivisor);
    const r = TWO32 - q * decimalDivisor;
    return high * q + Math.floor((high * r + low) / decimalDivisor);
  }
  const ts = high * TWO32 + low;
  if (unitsPerSec < 1e6 && ts < Number.MAX_SAFE_INTEGER / 1e6) return Math.floor((ts * 1e6) / unitsPerSec);
  const big = (BigInt(high) << 32n) | BigInt(low);
  return Number((big * 1000000n) / BigInt(unitsPerSec));
}

export class PcapngParser implements UnitParser {
  private readonly sink: PacketSink;
  private le = true;
  private ifaces: Iface[] = [];
  private lastTimeUs = 0;
  /** Packets handed on so far (all sections). */
  frames = 0;
  sections = 0;
  /** Link types of the interfaces of all sections, in order. */
  readonly interfaceLinkTypes: number[] = [];

  constructor(sink: PacketSink) {
    this.sink = sink;
  }

  headerSize(): number {
    return 12;
  }

  unitLength(b: Uint8Array, o: number, fileOffset: number): number {
    const type = u32(b, o, this.le);
    if (type === SHB) {
      const magicLe = u32(b, o + 8, true);
      if (magicLe === 0x1a2b3c4d) this.le = true;
      else if (magicLe === 0x4d3c2b1a) this.le = false;
      else {
        throw new CaptureFormatError('bad-magic', fileOffset + 8, null, 'pcapng byte-order magic 0x1A2B3C4D', `0x${u32(b, o + 8, false).toString(16)}`);
      }
    } else if (this.sections === 0) {
      throw new CaptureFormatError('bad-magic', fileOffset, null, 'a pcapng Section Header Block (0x0A0D0D0A)', `block type 0x${type.toString(16)}`);
    }
    const len = u32(b, o + 4, this.le);
    if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK || (type === SHB && len < 28)) {
      throw new CaptureFormatError(
        'bad-length',
        fileOffset + 4,
        this.isPacket(type) ? this.frames + 1 : null,
        `a block total length that is a multiple of 4, at least ${type === SHB ? 28 : 12} and at most ${MAX_BLOCK} (block type 0x${type.toString(16)})`,
        `${len}`,
      );
    }
    return len;
  }

  private isPacket(type: number): boolean {
    return type === EPB || type === SPB || type === PB;
  }

  unit(b: Uint8Array, o: number, len: number, fileOffset: number): void {
    const le = this.le;
    const type = u32(b, o, le);
    const trailing = u32(b, o + len - 4, le);
    if (trailing !== len) {
      throw new CaptureFormatError(
        'bad-length',
        fileOffset + len - 4,
        this.isPacket(type) ? this.frames + 1 : null,
        `a trailing block total length of ${len} (block type 0x${type.toString(16)} at offset ${fileOffset})`,
        `${trailing}`,
      );
    }
    switch (type) {
      case EPB:
      case PB: {
        const ifId = type === EPB ? u32(b, o + 8, le) : u16(b, o + 8, le);
        const iface = this.ifaces[ifId];
        if (!iface) {
          throw new CaptureFormatError('bad-value', fileOffset + 8, this.frames + 1, `an interface id below ${this.ifaces.length}`, `${ifId}`);
        }
        const capLen = u32(b, o + 20, le);
        if (28 + capLen > len - 4) {
          throw new CaptureFormatError(
            'bad-length',
            fileOffset + 20,
            this.frames + 1,
            `a captured length of at most ${len - 32} bytes (block of ${len} bytes)`,
            `${capLen}`,
          );
        }
        const timeUs = timestampToUs(u32(b, o + 12, le), u32(b, o + 16, le), iface.unitsPerSec, iface.decimalDivisor) + iface.offsetUs;
        this.lastTimeUs = timeUs;
        this.frames++;
        this.sink.packet(this.frames, iface.linkType, timeUs, b.subarray(o + 28, o + 28 + capLen));
        return;
      }
      case SPB: {
        const iface = this.ifaces[0];
        if (!iface) {
          throw new CaptureFormatError('bad-value', fileOffset, this.frames + 1, 'an Interface Description Block before a Simple Packet Block', 'none');
        }
        const orig = u32(b, o + 8, le);
        let capLen = Math.min(orig, len - 16);
        if (iface.snaplen > 0) capLen = Math.min(capLen, iface.snaplen);
        this.frames++;
        this.sink.packet(this.frames, iface.linkType, this.lastTimeUs, b.subarray(o + 12, o + 12 + capLen));
        return;
      }
      case IDB:
        this.interfaceBlock(b, o, len, fileOffset);
        return;
      case SHB: {
        const major = u16(b, o + 12, le);
        if (major !== 1) throw new CaptureFormatError('bad-value', fileOffset + 12, null, 'pcapng major version 1', `${major}`);
        this.sections++;
        this.ifaces = [];
        return;
      }
      default:
        return;
    }
  }

  private interfaceBlock(b: Uint8Array, o: number, len: number, fileOffset: number): void {
    const le = this.le;
    if (len < 20) throw new CaptureFormatError('bad-length', fileOffset + 4, null, 'an Interface Description Block of at least 20 bytes', `${len}`);
    const iface: Iface = {
      linkType: u16(b, o + 8, le),
      snaplen: u32(b, o + 12, le),
      unitsPerSec: 1e6,
      decimalDivisor: 0,
      offsetUs: 0,
    };
    const end = o + len - 4;
    let p = o + 16;
    while (p + 4 <= end) {
      const code = u16(b, p, le);
      const olen = u16(b, p + 2, le);
      if (code === 0) break;
      const v = p + 4;
      if (v + olen > end) break;
      if (code === IF_TSRESOL && olen >= 1) {
        const r = b[v];
        const exp = r & 0x7f;
        if (r & 0x80) iface.unitsPerSec = 2 ** exp;
        else {
          iface.unitsPerSec = 10 ** exp;
          if (exp > 6) iface.decimalDivisor = 10 ** (exp - 6);
        }
      } else if (code === IF_TSOFFSET && olen >= 8) {
        const lo = u32(b, v, le);
        const hi = u32(b, v + 4, le);
        const seconds = le ? (hi | 0) * TWO32 + lo : (lo | 0) * TWO32 + hi;
        iface.offsetUs = seconds * 1e6;
      }
      p = v + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
    this.interfaceLinkTypes.push(iface.linkType);
  }

  truncated(partial: Uint8Array, fileOffset: number, unitLength: number | null): CaptureFormatError {
    const type = partial.length >= 4 ? u32(partial, 0, this.le) : -1;
    const frame = type >= 0 && this.isPacket(type) ? this.frames + 1 : null;
    if (unitLength === null) {
      return new CaptureFormatError('truncated', fileOffset, frame, 'a pcapng block header (type and total length)', `${partial.length} bytes before the end of the file`);
    }
    return new CaptureFormatError(
      'truncated',
      fileOffset,
      frame,
      `a ${unitLength}-byte block (type 0x${type.toString(16)})`,
      `${partial.length} bytes before the end of the file`,
    );
  }
}

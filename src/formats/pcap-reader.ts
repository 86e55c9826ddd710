/**
 * Incremental parser of classic libpcap files (draft-ietf-opsawg-pcap §4-5):
 * either byte order (magic 0xA1B2C3D4 read as written or swapped), microsecond
 * (0xA1B2C3D4) or nanosecond (0xA1B23C4D) timestamps. Nanoseconds are
 * truncated to microseconds. The link type is the low 16 bits of the
 * LinkType field (the upper bits carry FCS information, §4).
 */

import { CaptureFormatError } from './capture-error.ts';
import { type PacketSink, u32 } from './packet-sink.ts';
import type { UnitParser } from './unit-stream.ts';

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Wireshark's limit for a packet record (WTAP_MAX_PACKET_SIZE_STANDARD). */
const MAX_PACKET = 262144;

/** True if the first 4 bytes are a pcap magic number in either byte order. */
export function isPcapMagic(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  const be = u32(b, 0, false);
  const le = u32(b, 0, true);
  return be === 0xa1b2c3d4 || le === 0xa1b2c3d4 || be === 0xa1b23c4d || le === 0xa1b23c4d;
}

export class PcapParser implements UnitParser {
  private readonly sink: PacketSink;
  private gotHeader = false;
  private le = true;
  private nano = false;
  private snaplen = 0;
  linkType = -1;
  /** Packets handed on so far. */
  frames = 0;

  constructor(sink: PacketSink) {
    this.sink = sink;
  }

  headerSize(): number {
    return this.gotHeader ? RECORD_HEADER : GLOBAL_HEADER;
  }

  unitLength(b: Uint8Array, o: number, fileOffset: number): number {
    if (!this.gotHeader) {
      const le = u32(b, o, true);
      if (le === 0xa1b2c3d4 || le === 0xa1b23c4d) this.le = true;
      else {
        const be = u32(b, o, false);
        if (be !== 0xa1b2c3d4 && be !== 0xa1b23c4d) {
          throw new CaptureFormatError('bad-magic', fileOffset, null, 'pcap magic 0xA1B2C3D4 or 0xA1B23C4D', `0x${be.toString(16)}`);
        }
        this.le = false;
      }
      this.nano = u32(b, o, this.le) === 0xa1b23c4d;
      return GLOBAL_HEADER;
    }
    const incl = u32(b, o + 8, this.le);
    const max = Math.max(this.snaplen, MAX_PACKET);
    if (incl > max) {
      throw new CaptureFormatError(
        'bad-length',
        fileOffset,
        this.frames + 1,
        `a captured length of at most ${max} bytes in the packet record header`,
        `${incl}`,
      );
    }
    return RECORD_HEADER + incl;
  }

  unit(b: Uint8Array, o: number, len: number, fileOffset: number): void {
    if (!this.gotHeader) {
      const major = b[o + 4] | (b[o + 5] << 8);
      const majorBe = (b[o + 4] << 8) | b[o + 5];
      if ((this.le ? major : majorBe) !== 2) {
        throw new CaptureFormatError('bad-value', fileOffset + 4, null, 'pcap version 2.x', `${this.le ? major : majorBe}`);
      }
      this.snaplen = u32(b, o + 16, this.le);
      this.linkType = u32(b, o + 20, this.le) & 0xffff;
      this.gotHeader = true;
      return;
    }
    const sec = u32(b, o, this.le);
    const frac = u32(b, o + 4, this.le);
    const timeUs = sec * 1e6 + (this.nano ? Math.floor(frac / 1000) : frac);
    this.frames++;
    this.sink.packet(this.frames, this.linkType, timeUs, b.subarray(o + RECORD_HEADER, o + len));
    void fileOffset;
  }

  truncated(partial: Uint8Array, fileOffset: number, unitLength: number | null): CaptureFormatError {
    if (!this.gotHeader) {
      return new CaptureFormatError('truncated', fileOffset, null, 'the 24-byte pcap global header', `${partial.length} bytes before the end of the file`);
    }
    if (unitLength === null) {
      return new CaptureFormatError(
        'truncated',
        fileOffset,
        this.frames + 1,
        'a 16-byte packet record header',
        `${partial.length} bytes before the end of the file`,
      );
    }
    return new CaptureFormatError(
      'truncated',
      fileOffset,
      this.frames + 1,
      `${unitLength - RECORD_HEADER} bytes of packet data after the record header`,
      `${partial.length - RECORD_HEADER} bytes before the end of the file`,
    );
  }
}

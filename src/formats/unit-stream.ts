/**
 * Incremental framing of a capture file into its units (pcap global header
 * and packet records, pcapng blocks) over chunks of any size.
 *
 * Whole units inside a chunk are handed to the parser as views of that chunk,
 * without copying; only a unit that straddles chunks is assembled in a carry
 * buffer (just that unit's bytes). Parsers must not keep views past the call.
 * A {@link CaptureFormatError} thrown by the parser stops the stream; every
 * unit before it has already been handled.
 */

import { CaptureFormatError } from './capture-error.ts';

export interface UnitParser {
  /** Bytes needed to know the length of the next unit. */
  headerSize(): number;
  /** Total length of the unit whose first `headerSize()` bytes are at `off` (at least `headerSize()`). */
  unitLength(buf: Uint8Array, off: number, fileOffset: number): number;
  /** Handles one whole unit. */
  unit(buf: Uint8Array, off: number, len: number, fileOffset: number): void;
  /** The error for a file that ends `partial.length` bytes into a unit. */
  truncated(partial: Uint8Array, fileOffset: number, unitLength: number | null): CaptureFormatError;
}

export class UnitStream {
  private readonly parser: UnitParser;
  private carry = new Uint8Array(0);
  private carryLen = 0;
  /** Total length of the carried unit, 0 while its header is incomplete. */
  private carryNeed = 0;
  /** File offset of the first byte not yet handled (start of the carried unit). */
  private fileOffset = 0;
  error: CaptureFormatError | null = null;

  constructor(parser: UnitParser) {
    this.parser = parser;
  }

  /** Bytes consumed so far, including a partly carried unit. */
  get position(): number {
    return this.fileOffset + this.carryLen;
  }

  push(chunk: Uint8Array): void {
    if (this.error || chunk.length === 0) return;
    try {
      this.feed(chunk);
    } catch (e) {
      if (!(e instanceof CaptureFormatError)) throw e;
      this.error = e;
    }
  }

  /** Call at end of input: a partly received unit becomes a 'truncated' error. */
  end(): void {
    if (this.error || this.carryLen === 0) return;
    this.error = this.parser.truncated(this.carry.subarray(0, this.carryLen), this.fileOffset, this.carryNeed || null);
  }

  private append(chunk: Uint8Array, from: number, count: number): void {
    const need = this.carryLen + count;
    if (need > this.carry.length) {
      const grown = new Uint8Array(Math.max(need, this.carryNeed, this.carry.length * 2, 4096));
      grown.set(this.carry.subarray(0, this.carryLen));
      this.carry = grown;
    }
    this.carry.set(chunk.subarray(from, from + count), this.carryLen);
    this.carryLen = need;
  }

  private feed(chunk: Uint8Array): void {
    const p = this.parser;
    const n = chunk.length;
    let pos = 0;
    if (this.carryLen > 0) {
      const h = p.headerSize();
      if (this.carryLen < h) {
        const take = Math.min(h - this.carryLen, n);
        this.append(chunk, 0, take);
        pos = take;
        if (this.carryLen < h) return;
      }
      if (this.carryNeed === 0) this.carryNeed = p.unitLength(this.carry, 0, this.fileOffset);
      const take = Math.min(this.carryNeed - this.carryLen, n - pos);
      if (take > 0) this.append(chunk, pos, take);
      pos += take;
      if (this.carryLen < this.carryNeed) return;
      const len = this.carryNeed;
      this.carryLen = 0;
      this.carryNeed = 0;
      p.unit(this.carry, 0, len, this.fileOffset);
      this.fileOffset += len;
      if (this.carry.length > 1 << 20) this.carry = new Uint8Array(0);
    }
    for (;;) {
      const h = p.headerSize();
      if (n - pos < h) break;
      const len = p.unitLength(chunk, pos, this.fileOffset);
      if (n - pos < len) {
        this.carryNeed = len;
        break;
      }
      p.unit(chunk, pos, len, this.fileOffset);
      pos += len;
      this.fileOffset += len;
    }
    if (pos < n) this.append(chunk, pos, n - pos);
  }
}

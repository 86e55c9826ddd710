/**
 * Copies payload bytes out of the (transient) file chunks into shared slabs.
 *
 * One ArrayBuffer per SIP message makes the garbage collector track hundreds
 * of thousands of backing stores on a large import; packing the copies into
 * slabs (like Node's Buffer pool) makes each copy a memcpy plus a view. A
 * view keeps its whole slab alive: a consumer that keeps only a few records
 * of a huge capture should copy their bytes (`bytes.slice()`).
 */

const SLAB = 256 * 1024;
/** Payloads this large get a buffer of their own. */
const OWN = 16 * 1024;

export class PayloadArena {
  private slab = new Uint8Array(0);
  private used = 0;

  /** A private copy of `src[start..end)`. */
  copy(src: Uint8Array, start = 0, end = src.length): Uint8Array {
    const n = end - start;
    if (n >= OWN) return src.slice(start, end);
    if (this.used + n > this.slab.length) {
      this.slab = new Uint8Array(SLAB);
      this.used = 0;
    }
    const at = this.used;
    this.slab.set(src.subarray(start, end), at);
    // Keep views 8-byte aligned so DataView/typed reads on them stay cheap.
    this.used = (at + n + 7) & ~7;
    return this.slab.subarray(at, at + n);
  }
}

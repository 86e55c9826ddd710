/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
 * complement sum of the data taken as big-endian 16-bit words, used by the
 * IPv4 header (RFC 791 §3.1), UDP (RFC 768, RFC 8200 §8.1 for IPv6) and TCP
 * (RFC 9293 §3.1), the latter two over a pseudo-header.
 *
 * The sum is taken 32 bits at a time (RFC 1071 §2(B): wider words fold to the
 * same result because 2^16 ≡ 1 mod 2^16-1), four bytes per loop step.
 */

/**
 * Adds `len` bytes of `buf` from `off` to a running one's complement sum.
 * `off` must be even relative to the start of the checksummed data (every
 * caller sums whole headers and then the payload that follows them).
 * The returned value is unfolded; pass it to {@link finishChecksum}.
 */
export function sumBytes(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
  const n4 = len & ~3;
  let i = 0;
  // A JS number holds sums exactly up to 2^53: fold every 2^20 words.
  while (i < n4) {
    const stop = Math.min(n4, i + (1 << 22));
    for (; i < stop; i += 4) sum += dv.getUint32(i);
    sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  }
  if (len - i >= 2) {
    sum += dv.getUint16(i);
    i += 2;
  }
  if (i < len) sum += dv.getUint8(i) << 8;
  return sum;
}

/** Folds a running sum to 16 bits and complements it. */
export function finishChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** Checksum of a byte range (e.g. an IPv4 header with its checksum field zeroed). */
export function inetChecksum(buf: Uint8Array, off: number, len: number): number {
  return finishChecksum(sumBytes(buf, off, len));
}

/**
 * IPv4 (RFC 791 §3.1) and IPv6 (RFC 8200 §3-4) header decoding for the
 * capture reader. IPv6 extension headers are walked (Hop-by-Hop, Routing,
 * Destination Options, Mobility, HIP, Shim6, experimental 253/254: length in
 * 8-octet units; AH, RFC 4302: length in 4-octet units) up to the upper-layer
 * header or the Fragment header (RFC 8200 §4.5), which ends the walk: the
 * rest belongs to the fragmentable part, walked again after reassembly.
 *
 * Decoding fills a caller-owned {@link IpInfo} so the hot path allocates
 * nothing. Payload bounds come from the IP length fields (Ethernet padding is
 * ignored); a zero length (TSO captures, jumbograms) means "to the end".
 */

export const IPPROTO_FRAGMENT = 44;
const IPPROTO_AH = 51;
const IPPROTO_NONE = 59;

export interface IpInfo {
  version: 4 | 6;
  /** Offsets of the source and destination addresses in the packet. */
  srcOff: number;
  dstOff: number;
  /** Upper-layer protocol (after extension headers); for a fragment, that of the fragmented payload. */
  protocol: number;
  payloadOff: number;
  payloadEnd: number;
  fragmented: boolean;
  /** Fragment offset in bytes. */
  fragOffset: number;
  moreFragments: boolean;
  fragId: number;
}

export function newIpInfo(): IpInfo {
  return {
    version: 4,
    srcOff: 0,
    dstOff: 0,
    protocol: 0,
    payloadOff: 0,
    payloadEnd: 0,
    fragmented: false,
    fragOffset: 0,
    moreFragments: false,
    fragId: 0,
  };
}

/** True for the IPv6 extension headers with the generic (next, length in 8 octets) layout. */
export function isIPv6GenericExtension(nh: number): boolean {
  return nh === 0 || nh === 43 || nh === 60 || nh === 135 || nh === 139 || nh === 140 || nh === 253 || nh === 254;
}

/**
 * Skips IPv6 extension headers from `off` (first header type `nh`) up to
 * the upper layer or a Fragment header. Returns the offset reached and
 * stores the header type found there in `out.protocol`; -1 if malformed.
 */
export function walkIPv6Extensions(d: Uint8Array, off: number, end: number, nh: number, out: IpInfo): number {
  let p = off;
  let next = nh;
  for (let guard = 0; guard < 16; guard++) {
    if (isIPv6GenericExtension(next)) {
      if (p + 8 > end) return -1;
      next = d[p];
      p += (d[p + 1] + 1) * 8;
    } else if (next === IPPROTO_AH) {
      if (p + 8 > end) return -1;
      next = d[p];
      p += (d[p + 1] + 2) * 4;
    } else {
      out.protocol = next;
      return p <= end ? p : -1;
    }
  }
  return -1;
}

/** Decodes the IP header at `off`. False if it is not a usable IPv4/IPv6 packet. */
export function decodeIp(d: Uint8Array, off: number, out: IpInfo): boolean {
  const len = d.length;
  if (off >= len) return false;
  const v = d[off] >> 4;
  if (v === 4) {
    const ihl = (d[off] & 0x0f) * 4;
    if (ihl < 20 || off + ihl > len) return false;
    const total = (d[off + 2] << 8) | d[off + 3];
    let end = total === 0 ? len : off + total;
    if (end > len) end = len; // snaplen-truncated
    if (end < off + ihl) return false;
    const fo = (d[off + 6] << 8) | d[off + 7];
    out.version = 4;
    out.srcOff = off + 12;
    out.dstOff = off + 16;
    out.protocol = d[off + 9];
    out.payloadOff = off + ihl;
    out.payloadEnd = end;
    out.moreFragments = (fo & 0x2000) !== 0;
    out.fragOffset = (fo & 0x1fff) * 8;
    out.fragmented = out.moreFragments || out.fragOffset !== 0;
    out.fragId = (d[off + 4] << 8) | d[off + 5];
    return true;
  }
  if (v === 6) {
    if (off + 40 > len) return false;
    const plen = (d[off + 4] << 8) | d[off + 5];
    let end = plen === 0 ? len : off + 40 + plen;
    if (end > len) end = len;
    out.version = 6;
    out.srcOff = off + 8;
    out.dstOff = off + 24;
    out.payloadEnd = end;
    out.fragmented = false;
    out.moreFragments = false;
    out.fragOffset = 0;
    out.fragId = 0;
    const p = walkIPv6Extensions(d, off + 40, end, d[off + 6], out);
    if (p < 0) return false;
    if (out.protocol === IPPROTO_FRAGMENT) {
      if (p + 8 > end) return false;
      const fo = (d[p + 2] << 8) | d[p + 3];
      out.protocol = d[p];
      out.fragOffset = fo & 0xfff8;
      out.moreFragments = (fo & 1) !== 0;
      out.fragId = ((d[p + 4] << 24) | (d[p + 5] << 16) | (d[p + 6] << 8) | d[p + 7]) >>> 0;
      // An atomic fragment (offset 0, M=0, RFC 6946) is a whole packet.
      out.fragmented = out.moreFragments || out.fragOffset !== 0;
      out.payloadOff = p + 8;
      if (!out.fragmented) {
        const q = walkIPv6Extensions(d, p + 8, end, out.protocol, out);
        if (q < 0) return false;
        out.payloadOff = q;
      }
      return true;
    }
    if (out.protocol === IPPROTO_NONE) return false;
    out.payloadOff = p;
    return true;
  }
  return false;
}

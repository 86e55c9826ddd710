/**
 * Writers for the layer 2-4 headers of synthetic capture frames:
 *
 * - Ethernet II (IEEE 802.3 clause 3.1.1, EtherType framing): 14 bytes.
 * - IPv4 (RFC 791 §3.1): 20 bytes, no options, header checksum.
 * - IPv6 (RFC 8200 §3) with an optional Fragment header (RFC 8200 §4.5).
 * - UDP (RFC 768) and TCP (RFC 9293 §3.1), checksums over the pseudo-header
 *   of RFC 768 / RFC 9293 §3.1 for IPv4 and RFC 8200 §8.1 for IPv6.
 *
 * All functions write into a caller-allocated buffer so a frame, including
 * its payload, is assembled with a single copy of the payload.
 */

import { finishChecksum, inetChecksum, sumBytes } from './inet-checksum.ts';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPV6_NEXT_FRAGMENT = 44;

export const ETH_HEADER_LEN = 14;
export const IPV4_HEADER_LEN = 20;
export const IPV6_HEADER_LEN = 40;
export const IPV6_FRAGMENT_HEADER_LEN = 8;
export const UDP_HEADER_LEN = 8;
export const TCP_HEADER_LEN = 20;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/**
 * A locally administered unicast MAC (IEEE 802 U/L bit) derived from the last
 * four bytes of an IP address, so each address keeps one stable MAC.
 */
export function macForAddress(ip: Uint8Array): Uint8Array {
  const n = ip.length;
  return Uint8Array.of(0x02, 0x00, ip[n - 4], ip[n - 3], ip[n - 2], ip[n - 1]);
}

export function writeEthernet(buf: Uint8Array, off: number, dst: Uint8Array, src: Uint8Array, etherType: number): number {
  buf.set(dst, off);
  buf.set(src, off + 6);
  buf[off + 12] = etherType >> 8;
  buf[off + 13] = etherType & 0xff;
  return off + ETH_HEADER_LEN;
}

export interface IPv4HeaderFields {
  /** Total length of this IP packet (header + payload). */
  totalLength: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: Uint8Array;
  dst: Uint8Array;
}

export function writeIPv4Header(buf: Uint8Array, off: number, f: IPv4HeaderFields): number {
  buf[off] = 0x45;
  buf[off + 1] = 0;
  buf[off + 2] = f.totalLength >> 8;
  buf[off + 3] = f.totalLength & 0xff;
  buf[off + 4] = (f.id >> 8) & 0xff;
  buf[off + 5] = f.id & 0xff;
  const fo = (f.fragmentOffset >> 3) | (f.dontFragment ? 0x4000 : 0) | (f.moreFragments ? 0x2000 : 0);
  buf[off + 6] = fo >> 8;
  buf[off + 7] = fo & 0xff;
  buf[off + 8] = f.ttl;
  buf[off + 9] = f.protocol;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  buf.set(f.src, off + 12);
  buf.set(f.dst, off + 16);
  const c = inetChecksum(buf, off, IPV4_HEADER_LEN);
  buf[off + 10] = c >> 8;
  buf[off + 11] = c & 0xff;
  return off + IPV4_HEADER_LEN;
}

export function writeIPv6Header(
  buf: Uint8Array,
  off: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
  src: Uint8Array,
  dst: Uint8Array,
): number {
  buf[off] = 0x60;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = payloadLength >> 8;
  buf[off + 5] = payloadLength & 0xff;
  buf[off + 6] = nextHeader;
  buf[off + 7] = hopLimit;
  buf.set(src, off + 8);
  buf.set(dst, off + 24);
  return off + IPV6_HEADER_LEN;
}

/** RFC 8200 §4.5 Fragment header. `offset` in bytes (multiple of 8). */
export function writeIPv6FragmentHeader(
  buf: Uint8Array,
  off: number,
  nextHeader: number,
  offset: number,
  more: boolean,
  id: number,
): number {
  buf[off] = nextHeader;
  buf[off + 1] = 0;
  const v = offset | (more ? 1 : 0);
  buf[off + 2] = v >> 8;
  buf[off + 3] = v & 0xff;
  buf[off + 4] = (id >>> 24) & 0xff;
  buf[off + 5] = (id >>> 16) & 0xff;
  buf[off + 6] = (id >>> 8) & 0xff;
  buf[off + 7] = id & 0xff;
  return off + IPV6_FRAGMENT_HEADER_LEN;
}

/** Sum of the IPv4 (RFC 768) or IPv6 (RFC 8200 §8.1) pseudo-header. */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, l4Length: number): number {
  return sumBytes(src, 0, src.length) + sumBytes(dst, 0, dst.length) + protocol + l4Length;
}

export function writeUdpHeader(buf: Uint8Array, off: number, srcPort: number, dstPort: number, udpLength: number): number {
  buf[off] = srcPort >> 8;
  buf[off + 1] = srcPort & 0xff;
  buf[off + 2] = dstPort >> 8;
  buf[off + 3] = dstPort & 0xff;
  buf[off + 4] = udpLength >> 8;
  buf[off + 5] = udpLength & 0xff;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  return off + UDP_HEADER_LEN;
}

/**
 * Fills the UDP checksum of the datagram at `off` (header + payload already
 * written). A computed zero is sent as 0xffff (RFC 768; mandatory for IPv6).
 */
export function fillUdpChecksum(buf: Uint8Array, off: number, udpLength: number, src: Uint8Array, dst: Uint8Array): void {
  let c = finishChecksum(sumBytes(buf, off, udpLength, pseudoHeaderSum(src, dst, IPPROTO_UDP, udpLength)));
  if (c === 0) c = 0xffff;
  buf[off + 6] = c >> 8;
  buf[off + 7] = c & 0xff;
}

export interface TcpHeaderFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Raw option bytes, a multiple of 4 long. */
  options?: Uint8Array;
}

/** Writes a TCP header (checksum zero); returns the offset after it. */
export function writeTcpHeader(buf: Uint8Array, off: number, f: TcpHeaderFields): number {
  const optLen = f.options ? f.options.length : 0;
  const hdrLen = TCP_HEADER_LEN + optLen;
  buf[off] = f.srcPort >> 8;
  buf[off + 1] = f.srcPort & 0xff;
  buf[off + 2] = f.dstPort >> 8;
  buf[off + 3] = f.dstPort & 0xff;
  writeU32(buf, off + 4, f.seq);
  writeU32(buf, off + 8, f.ack);
  buf[off + 12] = (hdrLen >> 2) << 4;
  buf[off + 13] = f.flags;
  buf[off + 14] = f.window >> 8;
  buf[off + 15] = f.window & 0xff;
  buf[off + 16] = 0;
  buf[off + 17] = 0;
  buf[off + 18] = 0;
  buf[off + 19] = 0;
  if (f.options) buf.set(f.options, off + TCP_HEADER_LEN);
  return off + hdrLen;
}

/** Fills the TCP checksum of the segment at `off` (header + payload already written). */
export function fillTcpChecksum(buf: Uint8Array, off: number, segLength: number, src: Uint8Array, dst: Uint8Array): void {
  const c = finishChecksum(sumBytes(buf, off, segLength, pseudoHeaderSum(src, dst, IPPROTO_TCP, segLength)));
  buf[off + 16] = c >> 8;
  buf[off + 17] = c & 0xff;
}

function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

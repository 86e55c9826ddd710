/**
 * Hand-built capture files for the reader tests: IP packets with any link
 * layer, in pcap (either byte order, micro or nano) or pcapng (several
 * sections and interfaces, any if_tsresol). Independent of the writers under
 * test except for the header helpers of net-headers.ts.
 */

import { parseIp } from '../ip-address.ts';
import {
  fillTcpChecksum,
  fillUdpChecksum,
  IPPROTO_TCP,
  IPPROTO_UDP,
  TCP_ACK,
  TCP_PSH,
  writeIPv4Header,
  writeIPv6Header,
  writeTcpHeader,
  writeUdpHeader,
} from '../net-headers.ts';
import { PcapParser } from '../pcap-reader.ts';
import { UnitStream } from '../unit-stream.ts';

const ip = (s: string) => {
  const p = parseIp(s);
  if (!p) throw new Error(`bad ip ${s}`);
  return p;
};

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** An IPv4 or IPv6 packet carrying a transport segment (`l4` = header + payload, checksum filled). */
export function ipPacket(src: string, dst: string, protocol: number, l4: Uint8Array, opts: { id?: number; ipv6Ext?: Uint8Array; ipv6FirstNext?: number } = {}): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  if (s.version === 4) {
    const b = new Uint8Array(20 + l4.length);
    writeIPv4Header(b, 0, {
      totalLength: b.length,
      id: opts.id ?? 1,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol,
      src: s.bytes,
      dst: d.bytes,
    });
    b.set(l4, 20);
    return b;
  }
  const ext = opts.ipv6Ext ?? new Uint8Array(0);
  const b = new Uint8Array(40 + ext.length + l4.length);
  writeIPv6Header(b, 0, ext.length + l4.length, ext.length ? (opts.ipv6FirstNext ?? 0) : protocol, 64, s.bytes, d.bytes);
  b.set(ext, 40);
  b.set(l4, 40 + ext.length);
  return b;
}

export function udpSegment(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  writeUdpHeader(b, 0, sport, dport, b.length);
  b.set(payload, 8);
  fillUdpChecksum(b, 0, b.length, ip(src).bytes, ip(dst).bytes);
  return b;
}

export function tcpSegment(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  payload: Uint8Array,
  flags = TCP_ACK | TCP_PSH,
): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  writeTcpHeader(b, 0, { srcPort: sport, dstPort: dport, seq, ack, flags, window: 65535 });
  b.set(payload, 20);
  fillTcpChecksum(b, 0, b.length, ip(src).bytes, ip(dst).bytes);
  return b;
}

export function udpPacket(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  return ipPacket(src, dst, IPPROTO_UDP, udpSegment(src, dst, sport, dport, payload));
}

export function tcpPacket(src: string, dst: string, sport: number, dport: number, seq: number, ack: number, payload: Uint8Array, flags?: number): Uint8Array {
  return ipPacket(src, dst, IPPROTO_TCP, tcpSegment(src, dst, sport, dport, seq, ack, payload, flags));
}

const etherTypeOf = (ipPkt: Uint8Array) => (ipPkt[0] >> 4 === 6 ? 0x86dd : 0x0800);

/** Ethernet II with optional VLAN tags (outer first), e.g. [[0x88a8, 100], [0x8100, 200]] for QinQ. */
export function ethernet(ipPkt: Uint8Array, vlans: [number, number][] = []): Uint8Array {
  const b = new Uint8Array(14 + vlans.length * 4 + ipPkt.length);
  b.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
  let o = 12;
  for (const [tpid, vid] of vlans) {
    b[o] = tpid >> 8;
    b[o + 1] = tpid & 0xff;
    b[o + 2] = (vid >> 8) & 0x0f;
    b[o + 3] = vid & 0xff;
    o += 4;
  }
  const et = etherTypeOf(ipPkt);
  b[o] = et >> 8;
  b[o + 1] = et & 0xff;
  b.set(ipPkt, o + 2);
  return b;
}

/** BSD loopback (LINKTYPE_NULL): 4-byte address family in the given byte order. */
export function nullLoopback(ipPkt: Uint8Array, littleEndian: boolean, af6 = 30): Uint8Array {
  const b = new Uint8Array(4 + ipPkt.length);
  const af = ipPkt[0] >> 4 === 6 ? af6 : 2;
  new DataView(b.buffer).setUint32(0, af, littleEndian);
  b.set(ipPkt, 4);
  return b;
}

/** Linux cooked v1 (LINKTYPE_LINUX_SLL): packet type, ARPHRD, address, protocol. */
export function sll(ipPkt: Uint8Array): Uint8Array {
  const b = new Uint8Array(16 + ipPkt.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0); // to us
  dv.setUint16(2, 772); // ARPHRD_LOOPBACK
  dv.setUint16(4, 6);
  const et = etherTypeOf(ipPkt);
  dv.setUint16(14, et);
  b.set(ipPkt, 16);
  return b;
}

/** Linux cooked v2 (LINKTYPE_LINUX_SLL2). */
export function sll2(ipPkt: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + ipPkt.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, etherTypeOf(ipPkt));
  dv.setUint32(4, 1); // interface index
  dv.setUint16(8, 772);
  dv.setUint8(10, 0);
  dv.setUint8(11, 6);
  b.set(ipPkt, 20);
  return b;
}

export interface BuiltPacket {
  timeUs: number;
  data: Uint8Array;
  /** pcapng: interface index. */
  iface?: number;
}

/** A pcap file. `nano`: nanosecond magic; `bigEndian`: written big-endian. */
export function pcapFile(linkType: number, packets: BuiltPacket[], opts: { bigEndian?: boolean; nano?: boolean } = {}): Uint8Array {
  const le = !opts.bigEndian;
  const parts: Uint8Array[] = [];
  const h = new Uint8Array(24);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setUint32(16, 262144, le);
  dv.setUint32(20, linkType, le);
  parts.push(h);
  for (const p of packets) {
    const r = new Uint8Array(16);
    const rv = new DataView(r.buffer);
    const sec = Math.floor(p.timeUs / 1e6);
    const us = p.timeUs - sec * 1e6;
    rv.setUint32(0, sec, le);
    rv.setUint32(4, opts.nano ? us * 1000 + 999 : us, le);
    rv.setUint32(8, p.data.length, le);
    rv.setUint32(12, p.data.length, le);
    parts.push(r, p.data);
  }
  return concat(parts);
}

export interface NgInterface {
  linkType: number;
  /** if_tsresol byte (default: none, i.e. 6). */
  tsresol?: number;
  name?: string;
}

function ngBlock(type: number, body: Uint8Array, le: boolean): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const total = 12 + padded;
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, type, le);
  dv.setUint32(4, total, le);
  b.set(body, 8);
  dv.setUint32(total - 4, total, le);
  return b;
}

function ngOption(code: number, value: Uint8Array, le: boolean): Uint8Array {
  const b = new Uint8Array(4 + ((value.length + 3) & ~3));
  const dv = new DataView(b.buffer);
  dv.setUint16(0, code, le);
  dv.setUint16(2, value.length, le);
  b.set(value, 4);
  return b;
}

/** One pcapng section: SHB, IDBs, EPBs (timestamps converted to each interface's resolution). */
export function pcapngSection(interfaces: NgInterface[], packets: BuiltPacket[], opts: { bigEndian?: boolean } = {}): Uint8Array {
  const le = !opts.bigEndian;
  const parts: Uint8Array[] = [];
  const shb = new Uint8Array(16);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, 0x1a2b3c4d, le);
  sv.setUint16(4, 1, le);
  sv.setInt32(8, -1, le);
  sv.setInt32(12, -1, le);
  parts.push(ngBlock(0x0a0d0d0a, shb, le));
  for (const i of interfaces) {
    const opts: Uint8Array[] = [];
    if (i.name) opts.push(ngOption(2, new TextEncoder().encode(i.name), le));
    if (i.tsresol !== undefined) opts.push(ngOption(9, Uint8Array.of(i.tsresol), le));
    if (opts.length) opts.push(new Uint8Array(4));
    const head = new Uint8Array(8);
    const hv = new DataView(head.buffer);
    hv.setUint16(0, i.linkType, le);
    hv.setUint32(4, 262144, le);
    parts.push(ngBlock(1, concat([head, ...opts]), le));
  }
  for (const p of packets) {
    const iface = interfaces[p.iface ?? 0];
    const r = iface.tsresol ?? 6;
    const ts = r & 0x80 ? (BigInt(p.timeUs) << BigInt(r & 0x7f)) / 1000000n : (BigInt(p.timeUs) * 10n ** BigInt(r)) / 1000000n;
    const head = new Uint8Array(20);
    const hv = new DataView(head.buffer);
    hv.setUint32(0, p.iface ?? 0, le);
    hv.setUint32(4, Number(ts >> 32n), le);
    hv.setUint32(8, Number(ts & 0xffffffffn), le);
    hv.setUint32(12, p.data.length, le);
    hv.setUint32(16, p.data.length, le);
    parts.push(ngBlock(6, concat([head, p.data]), le));
  }
  return concat(parts);
}

/** The packets of a pcap file (copies), via the container parser alone. */
export function pcapPackets(bytes: Uint8Array): { linkType: number; packets: BuiltPacket[] } {
  const packets: BuiltPacket[] = [];
  let linkType = -1;
  const parser = new PcapParser({
    packet(_frame, lt, timeUs, data) {
      linkType = lt;
      packets.push({ timeUs, data: data.slice() });
    },
  });
  const s = new UnitStream(parser);
  s.push(bytes);
  s.end();
  if (s.error) throw s.error;
  return { linkType, packets };
}

/**
 * Turns capture records into Ethernet frames, shared by the pcap and pcapng
 * writers.
 *
 * - `udp` records: one Ethernet II + IPv4/IPv6 + UDP datagram each; a datagram
 *   larger than the MTU is IP-fragmented (RFC 791 §2.3 / RFC 8200 §4.5).
 * - `tcp` and `tls` records: TCP segments (RFC 9293) on the record's ports; a
 *   `tls` record carries its decrypted SIP bytes as plain TCP payload, so
 *   Wireshark/sngrep dissect it as SIP. Sequence and acknowledgement numbers
 *   are consistent per connection in both directions; before a connection's
 *   first record a SYN / SYN-ACK / ACK handshake (MSS and window-scale
 *   options, RFC 9293 §3.7.1, RFC 7323 §2) is synthesized so Wireshark's TCP
 *   analysis and "Follow TCP stream" see a whole connection. The side that
 *   sends the first record is taken as the connecting side. Payloads larger
 *   than one segment are split at the MSS (MTU minus IP and TCP headers).
 *
 * Initial sequence numbers are a hash of the direction's 4-tuple, so if one
 * process recorded both ends of a connection (two connIds, mirrored
 * addresses), the two views get identical sequence numbers and Wireshark sees
 * the second copy as a retransmission instead of a broken stream.
 *
 * IPv4-mapped IPv6 hosts (`::ffff:1.2.3.4`, as dual-stack sockets report
 * them) are written as IPv4 when the other side is IPv4 or mapped too.
 */

import type { CaptureRecord } from '../sip/capture.ts';
import { isIPv4Mapped, parseIp } from './ip-address.ts';
import {
  ETH_HEADER_LEN,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  fillTcpChecksum,
  fillUdpChecksum,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  IPV6_FRAGMENT_HEADER_LEN,
  IPV6_HEADER_LEN,
  IPV6_NEXT_FRAGMENT,
  macForAddress,
  TCP_ACK,
  TCP_HEADER_LEN,
  TCP_PSH,
  TCP_SYN,
  UDP_HEADER_LEN,
  writeEthernet,
  writeIPv4Header,
  writeIPv6FragmentHeader,
  writeIPv6Header,
  writeTcpHeader,
  writeUdpHeader,
} from './net-headers.ts';

export interface FramingOptions {
  /**
   * Largest IP packet (IP header included) put in one frame. Default 65535:
   * only what cannot be one IP packet is split. Use 1500 to mimic Ethernet.
   */
  mtu?: number;
  /** Synthesize SYN / SYN-ACK / ACK before each TCP connection's first record (default true). */
  tcpHandshake?: boolean;
}

/** Room a container format wants around each frame (record header, padding, options). */
export interface FrameLayout {
  headroom: number;
  tailroom(frameLength: number, synthetic: boolean): number;
}

export interface Frame {
  /** `headroom` bytes, then the frame, then `tailroom` bytes; the container fills the rest. */
  buf: Uint8Array;
  /** Length of the link-layer frame inside `buf`. */
  length: number;
  /** True for the synthetic TCP handshake frames. */
  synthetic: boolean;
}

interface Endpoints {
  v6: boolean;
  src: Uint8Array;
  dst: Uint8Array;
  srcText: string;
  dstText: string;
  srcPort: number;
  dstPort: number;
  srcMac: Uint8Array;
  dstMac: Uint8Array;
}

interface EndpointsWithSide extends Endpoints {
  /** True when the record's sender is the connection's connecting side. */
  aIsSrc: boolean;
}

interface TcpConn {
  aHost: string;
  aPort: number;
  /** Next sequence number each side sends: [0] connecting side, [1] the other. */
  next: [number, number];
}

/** Largest UDP payload any IP version can carry (UDP length is 16 bits). */
export const MAX_UDP_PAYLOAD = 65535 - UDP_HEADER_LEN;

const TCP_WINDOW_SHIFT = 14;

export class RecordFramer {
  private readonly mtu: number;
  private readonly handshake: boolean;
  private readonly ipCache = new Map<string, { v6: boolean; bytes: Uint8Array; mac: Uint8Array }>();
  private readonly conns = new Map<string, TcpConn>();
  private ipv4Id = 0;
  private ipv6FragId = 0;

  constructor(options: FramingOptions = {}) {
    this.mtu = options.mtu ?? 65535;
    if (!(this.mtu >= 128 && this.mtu <= 65535)) throw new RangeError(`mtu must be 128..65535, got ${this.mtu}`);
    this.handshake = options.tcpHandshake ?? true;
  }

  /** The frames for one record, in wire order. */
  frames(record: CaptureRecord, layout: FrameLayout): Frame[] {
    const ep = this.endpoints(record);
    return record.transport === 'udp' ? this.udpFrames(record, ep, layout) : this.tcpFrames(record, ep, layout);
  }

  private address(host: string): { v6: boolean; bytes: Uint8Array; mac: Uint8Array } {
    let a = this.ipCache.get(host);
    if (!a) {
      const p = parseIp(host);
      if (!p) throw new TypeError(`capture record host "${host}" is not an IP literal`);
      a = { v6: p.version === 6, bytes: p.bytes, mac: macForAddress(p.bytes) };
      this.ipCache.set(host, a);
    }
    return a;
  }

  private endpoints(r: CaptureRecord): Endpoints {
    const out = r.direction === 'out';
    const s = out ? r.local : r.remote;
    const d = out ? r.remote : r.local;
    let sa = this.address(s.host);
    let da = this.address(d.host);
    const mapped = (x: { v6: boolean; bytes: Uint8Array }) => !x.v6 || isIPv4Mapped(x.bytes);
    if (sa.v6 !== da.v6 || (sa.v6 && da.v6 && isIPv4Mapped(sa.bytes) && isIPv4Mapped(da.bytes))) {
      if (mapped(sa) && mapped(da)) {
        sa = toV4(sa);
        da = toV4(da);
      } else {
        sa = toV6(sa);
        da = toV6(da);
      }
    }
    return {
      v6: sa.v6,
      src: sa.bytes,
      dst: da.bytes,
      srcText: s.host,
      dstText: d.host,
      srcPort: s.port,
      dstPort: d.port,
      srcMac: sa.mac,
      dstMac: da.mac,
    };
  }

  private alloc(layout: FrameLayout, length: number, synthetic: boolean): Frame {
    const buf = new Uint8Array(layout.headroom + length + layout.tailroom(length, synthetic));
    return { buf, length, synthetic };
  }

  private ipHeader(
    buf: Uint8Array,
    off: number,
    v6: boolean,
    src: Uint8Array,
    dst: Uint8Array,
    protocol: number,
    ipPayloadLen: number,
    df: boolean,
  ): number {
    if (v6) return writeIPv6Header(buf, off, ipPayloadLen, protocol, 64, src, dst);
    this.ipv4Id = (this.ipv4Id + 1) & 0xffff;
    return writeIPv4Header(buf, off, {
      totalLength: IPV4_HEADER_LEN + ipPayloadLen,
      id: this.ipv4Id,
      dontFragment: df,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol,
      src,
      dst,
    });
  }

  private udpFrames(r: CaptureRecord, ep: Endpoints, layout: FrameLayout): Frame[] {
    const payload = r.bytes;
    if (payload.length > MAX_UDP_PAYLOAD) {
      throw new RangeError(`UDP record seq ${r.seq}: ${payload.length} bytes exceed the UDP maximum of ${MAX_UDP_PAYLOAD}`);
    }
    const udpLen = UDP_HEADER_LEN + payload.length;
    const ipHdr = ep.v6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
    const etherType = ep.v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    if (ipHdr + udpLen <= this.mtu) {
      const f = this.alloc(layout, ETH_HEADER_LEN + ipHdr + udpLen, false);
      let o = writeEthernet(f.buf, layout.headroom, ep.dstMac, ep.srcMac, etherType);
      o = this.ipHeader(f.buf, o, ep.v6, ep.src, ep.dst, IPPROTO_UDP, udpLen, false);
      writeUdpHeader(f.buf, o, ep.srcPort, ep.dstPort, udpLen);
      f.buf.set(payload, o + UDP_HEADER_LEN);
      fillUdpChecksum(f.buf, o, udpLen, ep.src, ep.dst);
      return [f];
    }
    // Fragment: build the whole datagram once, then cut it at 8-byte multiples.
    const dgram = new Uint8Array(udpLen);
    writeUdpHeader(dgram, 0, ep.srcPort, ep.dstPort, udpLen);
    dgram.set(payload, UDP_HEADER_LEN);
    fillUdpChecksum(dgram, 0, udpLen, ep.src, ep.dst);
    const frames: Frame[] = [];
    if (ep.v6) {
      const piece = Math.floor((this.mtu - IPV6_HEADER_LEN - IPV6_FRAGMENT_HEADER_LEN) / 8) * 8;
      this.ipv6FragId = (this.ipv6FragId + 1) >>> 0;
      for (let at = 0; at < udpLen; at += piece) {
        const n = Math.min(piece, udpLen - at);
        const f = this.alloc(layout, ETH_HEADER_LEN + IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN + n, false);
        let o = writeEthernet(f.buf, layout.headroom, ep.dstMac, ep.srcMac, ETHERTYPE_IPV6);
        o = writeIPv6Header(f.buf, o, IPV6_FRAGMENT_HEADER_LEN + n, IPV6_NEXT_FRAGMENT, 64, ep.src, ep.dst);
        o = writeIPv6FragmentHeader(f.buf, o, IPPROTO_UDP, at, at + n < udpLen, this.ipv6FragId);
        f.buf.set(dgram.subarray(at, at + n), o);
        frames.push(f);
      }
    } else {
      const piece = Math.floor((this.mtu - IPV4_HEADER_LEN) / 8) * 8;
      this.ipv4Id = (this.ipv4Id + 1) & 0xffff;
      for (let at = 0; at < udpLen; at += piece) {
        const n = Math.min(piece, udpLen - at);
        const f = this.alloc(layout, ETH_HEADER_LEN + IPV4_HEADER_LEN + n, false);
        let o = writeEthernet(f.buf, layout.headroom, ep.dstMac, ep.srcMac, ETHERTYPE_IPV4);
        o = writeIPv4Header(f.buf, o, {
          totalLength: IPV4_HEADER_LEN + n,
          id: this.ipv4Id,
          dontFragment: false,
          moreFragments: at + n < udpLen,
          fragmentOffset: at,
          ttl: 64,
          protocol: IPPROTO_UDP,
          src: ep.src,
          dst: ep.dst,
        });
        f.buf.set(dgram.subarray(at, at + n), o);
        frames.push(f);
      }
    }
    return frames;
  }

  private tcpSegment(
    layout: FrameLayout,
    ep: EndpointsWithSide,
    fromA: boolean,
    seq: number,
    ack: number,
    flags: number,
    payload: Uint8Array | null,
    options: Uint8Array | undefined,
    synthetic: boolean,
  ): Frame {
    const ipHdr = ep.v6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
    const tcpLen = TCP_HEADER_LEN + (options ? options.length : 0) + (payload ? payload.length : 0);
    const f = this.alloc(layout, ETH_HEADER_LEN + ipHdr + tcpLen, synthetic);
    // Handshake frames may go against the record's direction.
    const src = fromA === ep.aIsSrc ? ep.src : ep.dst;
    const dst = fromA === ep.aIsSrc ? ep.dst : ep.src;
    const sp = fromA === ep.aIsSrc ? ep.srcPort : ep.dstPort;
    const dp = fromA === ep.aIsSrc ? ep.dstPort : ep.srcPort;
    const smac = fromA === ep.aIsSrc ? ep.srcMac : ep.dstMac;
    const dmac = fromA === ep.aIsSrc ? ep.dstMac : ep.srcMac;
    let o = writeEthernet(f.buf, layout.headroom, dmac, smac, ep.v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
    o = this.ipHeader(f.buf, o, ep.v6, src, dst, IPPROTO_TCP, tcpLen, true);
    const start = o;
    o = writeTcpHeader(f.buf, o, {
      srcPort: sp,
      dstPort: dp,
      seq,
      ack,
      flags,
      window: 65535,
      options,
    });
    if (payload) f.buf.set(payload, o);
    fillTcpChecksum(f.buf, start, tcpLen, src, dst);
    return f;
  }

  private tcpFrames(r: CaptureRecord, epIn: Endpoints, layout: FrameLayout): Frame[] {
    const s = `${epIn.srcText}|${epIn.srcPort}`;
    const d = `${epIn.dstText}|${epIn.dstPort}`;
    const key = `${r.connId ?? ''}|${s < d ? `${s}|${d}` : `${d}|${s}`}`;
    const frames: Frame[] = [];
    let conn = this.conns.get(key);
    const isNew = !conn;
    if (!conn) {
      const isnA = isn(s, d);
      const isnB = isn(d, s);
      conn = { aHost: epIn.srcText, aPort: epIn.srcPort, next: [(isnA + 1) >>> 0, (isnB + 1) >>> 0] };
      this.conns.set(key, conn);
    }
    const aIsSrc = conn.aHost === epIn.srcText && conn.aPort === epIn.srcPort;
    const ep: EndpointsWithSide = { ...epIn, aIsSrc };
    if (isNew && this.handshake) {
      const mss = this.mss(ep.v6);
      const opts = Uint8Array.of(2, 4, mss >> 8, mss & 0xff, 1, 3, 3, TCP_WINDOW_SHIFT);
      const isnA = (conn.next[0] - 1) >>> 0;
      const isnB = (conn.next[1] - 1) >>> 0;
      frames.push(this.tcpSegment(layout, ep, true, isnA, 0, TCP_SYN, null, opts, true));
      frames.push(this.tcpSegment(layout, ep, false, isnB, conn.next[0], TCP_SYN | TCP_ACK, null, opts, true));
      frames.push(this.tcpSegment(layout, ep, true, conn.next[0], conn.next[1], TCP_ACK, null, undefined, true));
    }
    const me = aIsSrc ? 0 : 1;
    const other = 1 - me;
    const payload = r.bytes;
    const mss = this.mss(ep.v6);
    for (let at = 0; at < payload.length; at += mss) {
      const n = Math.min(mss, payload.length - at);
      const last = at + n >= payload.length;
      frames.push(
        this.tcpSegment(
          layout,
          ep,
          aIsSrc,
          conn.next[me],
          conn.next[other],
          last ? TCP_ACK | TCP_PSH : TCP_ACK,
          payload.subarray(at, at + n),
          undefined,
          false,
        ),
      );
      conn.next[me] = (conn.next[me] + n) >>> 0;
    }
    return frames;
  }

  /** Largest TCP payload per segment: the MTU less the IP and TCP headers. */
  private mss(v6: boolean): number {
    return this.mtu - (v6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN) - TCP_HEADER_LEN;
  }
}


/** FNV-1a over a direction's endpoints: a stable, well-spread initial sequence number. */
function isn(from: string, to: string): number {
  const text = `${from}>${to}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function toV4(a: { v6: boolean; bytes: Uint8Array; mac: Uint8Array }) {
  if (!a.v6) return a;
  const bytes = a.bytes.slice(12, 16);
  return { v6: false, bytes, mac: macForAddress(bytes) };
}

function toV6(a: { v6: boolean; bytes: Uint8Array; mac: Uint8Array }) {
  if (a.v6) return a;
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(a.bytes, 12);
  return { v6: true, bytes, mac: macForAddress(bytes) };
}

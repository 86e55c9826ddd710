import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CaptureFormatError, CaptureReader, iterateCapture, type ReadRecord, readCapture, readCaptureFile } from './capture-reader.ts';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
} from './link-layer.ts';
import { IPPROTO_UDP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from './net-headers.ts';
import { writePcap } from './pcap.ts';
import { writePcapng } from './pcapng.ts';
import { classifyStreamStart, sipStartLine } from './sip-detect.ts';
import {
  type BuiltPacket,
  concat,
  ethernet,
  ipPacket,
  nullLoopback,
  pcapFile,
  pcapngSection,
  pcapPackets,
  sll,
  sll2,
  tcpPacket,
  udpPacket,
  udpSegment,
} from './test-support/capture-builder.ts';
import { missingTool } from './test-support/peers.ts';
import { callFlowMessages, exportScenario, T0_US } from './test-support/sip-samples.ts';
import { countSipMessages } from './test-support/sip-framing.ts';
import { sipMessageCount, tsharkFrames, tsharkProblems } from './test-support/tshark.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const noTshark = missingTool('tshark');
const enc = new TextEncoder();

function save(name: string, bytes: Uint8Array): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

const A4 = '192.0.2.1';
const B4 = '192.0.2.2';
const A6 = '2001:db8::1';
const B6 = '2001:db8::2';

const flow4 = callFlowMessages({
  transport: 'udp',
  caller: { host: A4, port: 5060 },
  callee: { host: B4, port: 5070 },
  callId: 'lt4@x',
  startUs: 0,
}).map((m) => ({ ...m, bytes: enc.encode(m.text) }));
const flow6 = callFlowMessages({
  transport: 'udp',
  caller: { host: A6, port: 5060 },
  callee: { host: B6, port: 5070 },
  callId: 'lt6@x',
  startUs: 0,
}).map((m) => ({ ...m, bytes: enc.encode(m.text) }));

/** A UDP call as raw IP packets (plus an RTP-like packet that must be ignored). */
function udpCallPackets(v6: boolean): Uint8Array[] {
  const [a, b] = v6 ? [A6, B6] : [A4, B4];
  const pkts = (v6 ? flow6 : flow4).map((m) => (m.fromCaller ? udpPacket(a, b, 5060, 5070, m.bytes) : udpPacket(b, a, 5070, 5060, m.bytes)));
  pkts.splice(4, 0, udpPacket(a, b, 40000, 40002, Uint8Array.of(0x80, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4, 9, 9, 9, 9)));
  return pkts;
}

const at = (i: number) => T0_US + i * 1000;

function checkUdpCall(records: ReadRecord[], v6: boolean, label: string): void {
  const flow = v6 ? flow6 : flow4;
  const [a, b] = v6 ? [A6, B6] : [A4, B4];
  assert.equal(records.length, 7, `${label}: records`);
  records.forEach((r, i) => {
    const m = flow[i];
    assert.equal(r.transport, 'udp');
    assert.deepEqual(Buffer.from(r.bytes), Buffer.from(m.bytes), `${label} #${i}`);
    assert.deepEqual(r.remote, m.fromCaller ? { host: a, port: 5060 } : { host: b, port: 5070 }, `${label} #${i} remote`);
    assert.deepEqual(r.local, m.fromCaller ? { host: b, port: 5070 } : { host: a, port: 5060 }, `${label} #${i} local`);
    const frame = i < 4 ? i + 1 : i + 2; // frame 5 is the RTP packet
    assert.equal(r.frame, frame, `${label} #${i} frame`);
    assert.equal(r.timeUs, at(frame), `${label} #${i} time`);
  });
}

const LINK_CASES: { name: string; linkType: number; v6: boolean; wrap: (ip: Uint8Array) => Uint8Array }[] = [
  { name: 'ethernet', linkType: LINKTYPE_ETHERNET, v6: false, wrap: (p) => ethernet(p) },
  { name: 'ethernet-802.1q', linkType: LINKTYPE_ETHERNET, v6: false, wrap: (p) => ethernet(p, [[0x8100, 42]]) },
  { name: 'ethernet-qinq-v6', linkType: LINKTYPE_ETHERNET, v6: true, wrap: (p) => ethernet(p, [[0x88a8, 100], [0x8100, 200]]) },
  { name: 'null-le', linkType: LINKTYPE_NULL, v6: false, wrap: (p) => nullLoopback(p, true) },
  { name: 'null-le-v6', linkType: LINKTYPE_NULL, v6: true, wrap: (p) => nullLoopback(p, true, 30) },
  { name: 'null-be-v6', linkType: LINKTYPE_NULL, v6: true, wrap: (p) => nullLoopback(p, false, 24) },
  { name: 'loop', linkType: LINKTYPE_LOOP, v6: false, wrap: (p) => nullLoopback(p, false) },
  { name: 'raw-v4', linkType: LINKTYPE_RAW, v6: false, wrap: (p) => p },
  { name: 'raw-v6', linkType: LINKTYPE_RAW, v6: true, wrap: (p) => p },
  { name: 'ipv4', linkType: LINKTYPE_IPV4, v6: false, wrap: (p) => p },
  { name: 'ipv6', linkType: LINKTYPE_IPV6, v6: true, wrap: (p) => p },
  { name: 'sll', linkType: LINKTYPE_LINUX_SLL, v6: false, wrap: (p) => sll(p) },
  { name: 'sll2-v6', linkType: LINKTYPE_LINUX_SLL2, v6: true, wrap: (p) => sll2(p) },
];

test('reader: every link type (Ethernet+VLAN/QinQ, NULL, LOOP, raw IP, SLL, SLL2) in pcap; tshark agrees', async () => {
  const checks: Promise<void>[] = [];
  for (const c of LINK_CASES) {
    const packets = udpCallPackets(c.v6).map((p, i) => ({ timeUs: at(i + 1), data: c.wrap(p) }));
    const bytes = pcapFile(c.linkType, packets);
    const r = readCapture(bytes);
    assert.equal(r.error, undefined, c.name);
    assert.deepEqual(r.stats.linkTypes, [c.linkType]);
    checkUdpCall(r.records, c.v6, c.name);
    if (!noTshark) {
      const file = save(`lt-${c.name}.pcap`, bytes);
      checks.push(
        tsharkFrames(file).then((frames) => {
          assert.deepEqual(tsharkProblems(frames), [], c.name);
          assert.equal(sipMessageCount(frames), 7, `tshark on ${c.name}`);
        }),
      );
    }
  }
  await Promise.all(checks);
});

test('reader: big-endian and nanosecond pcap', () => {
  for (const opts of [{ bigEndian: true }, { nano: true }, { bigEndian: true, nano: true }]) {
    const packets = udpCallPackets(false).map((p, i) => ({ timeUs: at(i + 1), data: ethernet(p) }));
    const r = readCapture(pcapFile(LINKTYPE_ETHERNET, packets, opts));
    assert.equal(r.error, undefined);
    checkUdpCall(r.records, false, JSON.stringify(opts));
  }
});

test('reader: pcapng with two sections (LE, BE), interfaces of different link types and if_tsresol', async () => {
  const v4 = udpCallPackets(false);
  const v6 = udpCallPackets(true);
  // Section 1 (little-endian): Ethernet µs, raw IPv6 in ns, SLL2 in 2^-20 s.
  const s1 = pcapngSection(
    [
      { linkType: LINKTYPE_ETHERNET, name: 'eth0' },
      { linkType: LINKTYPE_RAW, tsresol: 9, name: 'raw-ns' },
      { linkType: LINKTYPE_LINUX_SLL2, tsresol: 0x80 | 20, name: 'sll2-bin' },
    ],
    [
      ...v4.map((p, i) => ({ timeUs: at(i + 1), data: ethernet(p), iface: 0 })),
      ...v6.map((p, i) => ({ timeUs: at(i + 9), data: p, iface: 1 })),
      ...v4.map((p, i) => ({ timeUs: at(i + 17), data: sll2(p), iface: 2 })),
    ],
  );
  // Section 2 (big-endian): NULL in ms, SLL v1 µs.
  const s2 = pcapngSection(
    [
      { linkType: LINKTYPE_NULL, tsresol: 3, name: 'lo0' },
      { linkType: LINKTYPE_LINUX_SLL, name: 'any' },
    ],
    [...v6.map((p, i) => ({ timeUs: at(i + 25), data: nullLoopback(p, false, 24), iface: 0 })), ...v4.map((p, i) => ({ timeUs: at(i + 33), data: sll(p), iface: 1 }))],
    { bigEndian: true },
  );
  const bytes = concat([s1, s2]);
  const r = readCapture(bytes);
  assert.equal(r.error, undefined);
  assert.equal(r.format, 'pcapng');
  assert.deepEqual(r.stats.linkTypes, [1, 101, 276, 0, 113]);
  assert.equal(r.records.length, 35);
  assert.equal(r.stats.frames, 40);
  const groups = [r.records.slice(0, 7), r.records.slice(7, 14), r.records.slice(14, 21), r.records.slice(21, 28), r.records.slice(28)];
  const v6s = [false, true, false, true, false];
  groups.forEach((g, k) => {
    assert.equal(g.length, 7);
    g.forEach((rec, i) => {
      const flow = v6s[k] ? flow6 : flow4;
      assert.deepEqual(Buffer.from(rec.bytes), Buffer.from(flow[i].bytes));
      assert.equal(rec.frame, k * 8 + (i < 4 ? i + 1 : i + 2));
      const want = at(rec.frame);
      if (k === 2) assert.ok(Math.abs(rec.timeUs - want) <= 1, `2^-20 s resolution: ${rec.timeUs} vs ${want}`);
      else assert.equal(rec.timeUs, want, `group ${k} record ${i}`);
    });
  });
  if (noTshark) return;
  const frames = await tsharkFrames(save('multi.pcapng', bytes));
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), 35);
});

test('reader: IPv6 extension headers before UDP', async () => {
  // Hop-by-Hop (PadN) → Destination Options (PadN) → UDP.
  const ext = Uint8Array.of(60, 0, 1, 4, 0, 0, 0, 0, IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0);
  const pkts = flow6.map((m, i) => {
    const [s, d, sp, dp] = m.fromCaller ? [A6, B6, 5060, 5070] : [B6, A6, 5070, 5060];
    return { timeUs: at(i + 1), data: ethernet(ipPacket(s, d, IPPROTO_UDP, udpSegment(s, d, sp, dp, m.bytes), { ipv6Ext: ext, ipv6FirstNext: 0 })) };
  });
  const bytes = pcapFile(LINKTYPE_ETHERNET, pkts);
  const r = readCapture(bytes);
  assert.equal(r.records.length, 7);
  r.records.forEach((rec, i) => {
    assert.deepEqual(Buffer.from(rec.bytes), Buffer.from(flow6[i].bytes));
  });
  if (noTshark) return;
  const frames = await tsharkFrames(save('v6ext.pcap', bytes));
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), 7);
});

/** A SIP MESSAGE of `total` bytes. */
function bigMessage(callId: string, host: string, total: number): Uint8Array {
  const h = host.includes(':') ? `[${host}]` : host;
  const head = (n: number) =>
    `MESSAGE sip:bob@${h} SIP/2.0\r\nVia: SIP/2.0/UDP ${h}:5060;branch=z9hG4bK${callId}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@${h}>;tag=9\r\n` +
    `To: <sip:bob@${h}>\r\nCall-ID: ${callId}\r\nCSeq: 7 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: ${n}\r\n\r\n`;
  let n = total - head(0).length;
  while (head(n).length + n !== total) n = total - head(n).length;
  return enc.encode(head(n) + 'z'.repeat(n));
}

test('reader: IPv4 and IPv6 fragments, in and out of order, reassembled; tshark agrees', async () => {
  const recs = [
    { host: '192.0.2.50', peer: '192.0.2.51' },
    { host: '2001:db8::50', peer: '2001:db8::51' },
  ].map((x, i) => ({
    seq: i + 1,
    timeUs: T0_US + i * 1000,
    direction: 'out' as const,
    transport: 'udp' as const,
    local: { host: x.host, port: 5060 },
    remote: { host: x.peer, port: 5060 },
    connId: null,
    bytes: bigMessage(`frag${i}`, x.peer, 4000 + i * 1111),
  }));
  const inOrder = writePcap(recs, { mtu: 1500 });
  const { packets } = pcapPackets(inOrder);
  assert.equal(packets.length, 3 + 4, 'fragments written'); // 4,008 B over IPv4 → 3; 5,119 B over IPv6 → 4
  // Out of order: reverse each datagram's fragments, interleave the two datagrams.
  const v4 = packets.slice(0, 3).reverse();
  const v6 = packets.slice(3).reverse();
  const shuffled: BuiltPacket[] = [v6[0], v4[0], v6[1], v4[1], v6[2], v4[2], v6[3]].map((p, i) => ({ timeUs: T0_US + i, data: p.data }));
  for (const [name, bytes] of [
    ['in-order', inOrder],
    ['shuffled', pcapFile(LINKTYPE_ETHERNET, shuffled)],
  ] as const) {
    const r = readCapture(bytes);
    assert.equal(r.error, undefined);
    assert.equal(r.records.length, 2, name);
    assert.equal(r.stats.ipFragments, 7);
    assert.equal(r.stats.ipReassembled, 2);
    const byBytes = new Map(r.records.map((x) => [Buffer.from(x.bytes).toString('latin1'), x]));
    for (const w of recs) assert.ok(byBytes.has(Buffer.from(w.bytes).toString('latin1')), `${name}: datagram of ${w.bytes.length} B reassembled`);
    if (name === 'shuffled') {
      const v4rec = r.records.find((x) => !x.local.host.includes(':'));
      assert.deepEqual([v4rec?.frame, v4rec?.lastFrame], [2, 6]);
    }
    if (noTshark) continue;
    const frames = await tsharkFrames(save(`frag-${name}.pcap`, bytes));
    assert.deepEqual(tsharkProblems(frames), []);
    assert.equal(sipMessageCount(frames), 2, `tshark: ${name}`);
    const sipFrames = frames.filter((f) => f.cseqs.length > 0).map((f) => f.number);
    assert.deepEqual(
      sipFrames,
      r.records.map((x) => x.lastFrame),
      'tshark shows each message on the frame that completed it',
    );
  }
});

/** A TCP stream as packets, for reassembly tests. */
function tcpConversation(opts: { isnA: number; isnB: number; port?: number; syn?: boolean }) {
  const port = opts.port ?? 40500;
  const flow = callFlowMessages({
    transport: 'tcp',
    caller: { host: A4, port },
    callee: { host: B4, port: 5060 },
    callId: `tcp${port}@x`,
    startUs: 0,
  }).map((m) => ({ ...m, bytes: enc.encode(m.text) }));
  let seqA = (opts.isnA + 1) >>> 0;
  let seqB = (opts.isnB + 1) >>> 0;
  const segs: { fromA: boolean; seq: number; data: Uint8Array }[] = [];
  for (const m of flow) {
    const s = m.fromCaller ? seqA : seqB;
    segs.push({ fromA: m.fromCaller, seq: s, data: m.bytes });
    if (m.fromCaller) seqA = (seqA + m.bytes.length) >>> 0;
    else seqB = (seqB + m.bytes.length) >>> 0;
  }
  const pkt = (fromA: boolean, seq: number, data: Uint8Array, flags = TCP_ACK | TCP_PSH) =>
    fromA ? tcpPacket(A4, B4, port, 5060, seq, 0, data, flags) : tcpPacket(B4, A4, 5060, port, seq, 0, data, flags);
  const handshake = [pkt(true, opts.isnA, new Uint8Array(0), TCP_SYN), pkt(false, opts.isnB, new Uint8Array(0), TCP_SYN | TCP_ACK)];
  return { flow, segs, pkt, handshake, streamA: concat(flow.filter((m) => m.fromCaller).map((m) => m.bytes)), streamB: concat(flow.filter((m) => !m.fromCaller).map((m) => m.bytes)) };
}

function joinDir(records: ReadRecord[], srcPort: number): Buffer {
  return Buffer.concat(records.filter((r) => r.remote.port === srcPort).map((r) => r.bytes));
}

test('reader: TCP out-of-order segments, retransmissions and overlaps; sequence wrap-around', async () => {
  // ISN near 2^32 so sequence numbers wrap inside the stream.
  const c = tcpConversation({ isnA: 0xffffff00, isnB: 0xfffffe00 });
  const [invite, trying, ringing, ok, ack, bye, byeOk] = c.segs;
  const half = (s: typeof invite, from: number, to?: number) => c.pkt(s.fromA, (s.seq + from) >>> 0, s.data.subarray(from, to));
  const packets = [
    ...c.handshake,
    half(invite, 300), // second part of the INVITE first (out of order)
    half(invite, 0, 300), // then its head
    half(invite, 0, 300), // retransmission of the head
    c.pkt(trying.fromA, trying.seq, trying.data),
    c.pkt(ringing.fromA, ringing.seq, ringing.data),
    half(ok, 100), // 200 OK tail ahead
    half(ok, 0, 200), // overlapping head (bytes 100-199 duplicate)
    c.pkt(ack.fromA, ack.seq, ack.data),
    c.pkt(bye.fromA, bye.seq, bye.data),
    c.pkt(bye.fromA, bye.seq, bye.data), // BYE retransmitted
    c.pkt(byeOk.fromA, byeOk.seq, byeOk.data, TCP_ACK | TCP_PSH | TCP_FIN),
  ];
  const bytes = pcapFile(
    LINKTYPE_ETHERNET,
    packets.map((p, i) => ({ timeUs: at(i + 1), data: ethernet(p) })),
  );
  const r = readCapture(bytes);
  assert.equal(r.error, undefined);
  assert.deepEqual(joinDir(r.records, 40500), Buffer.from(c.streamA));
  assert.deepEqual(joinDir(r.records, 5060), Buffer.from(c.streamB));
  assert.equal(r.stats.tcpDuplicateBytes, 300 + 100 + bye.data.length);
  assert.equal(r.stats.tcpGaps, 0);
  assert.ok(r.records.every((x) => x.connId === 1 && x.transport === 'tcp' && x.missingBefore === 0));
  // The INVITE is delivered when its head arrives (frame 4), starting at frame 3's data.
  assert.deepEqual([r.records[0].frame, r.records[0].lastFrame, r.records[0].bytes.length], [3, 4, invite.data.length]);
  assert.equal(r.records[0].timeUs, at(4));
  assert.equal(countSipMessages(r.records).count, 7);
  if (noTshark) return;
  // tshark 4.0 reassembles out-of-order TCP only when asked to.
  const frames = await tsharkFrames(save('tcp-ooo.pcap', bytes), { prefs: ['tcp.reassemble_out_of_order:TRUE'] });
  assert.equal(sipMessageCount(frames), 7);
});

test('reader: a lost TCP segment is skipped and reported as missing bytes', () => {
  const c = tcpConversation({ isnA: 1000, isnB: 5000 });
  const [invite, trying, ringing, ok, ack, bye, byeOk] = c.segs;
  const packets = [...c.handshake, ...[invite, trying, ringing, /* ok lost */ ack, bye, byeOk].map((s) => c.pkt(s.fromA, s.seq, s.data))];
  const r = readCapture(pcapFile(LINKTYPE_ETHERNET, packets.map((p, i) => ({ timeUs: at(i + 1), data: ethernet(p) }))));
  assert.equal(r.error, undefined);
  assert.equal(r.stats.tcpGaps, 1);
  assert.equal(r.stats.tcpMissingBytes, ok.data.length);
  const fromB = r.records.filter((x) => x.remote.port === 5060);
  assert.deepEqual(
    fromB.map((x) => x.missingBefore),
    [0, 0, ok.data.length],
  );
  assert.deepEqual(Buffer.from(fromB[2].bytes), Buffer.from(byeOk.data));
  assert.equal(countSipMessages(r.records).count, 6);
});

test('reader: TCP keep-alives, streams caught mid-way, non-SIP TCP and UDP, reused 4-tuples', () => {
  const packets: Uint8Array[] = [];
  // 1. Stream starting with CRLF keep-alives, then SIP: all kept.
  const k = tcpConversation({ isnA: 10, isnB: 20, port: 40601 });
  packets.push(...k.handshake, k.pkt(true, 11, enc.encode('\r\n\r\n')));
  for (const s of k.segs) packets.push(k.pkt(s.fromA, (s.seq + (s.fromA ? 4 : 0)) >>> 0, s.data));
  // 2. Mid-stream (no SYN): first segment is the end of an INVITE body, then whole messages.
  const m = tcpConversation({ isnA: 7000, isnB: 9000, port: 40602 });
  const [inv, ...rest] = m.segs;
  packets.push(m.pkt(true, (inv.seq + inv.data.length - 40) >>> 0, inv.data.subarray(inv.data.length - 40)));
  for (const s of rest) packets.push(m.pkt(s.fromA, s.seq, s.data));
  // 3. HTTP on port 5060 and a TLS-looking stream: dropped.
  packets.push(tcpPacket(A4, B4, 40603, 5060, 1, 0, new Uint8Array(0), TCP_SYN));
  packets.push(tcpPacket(A4, B4, 40603, 5060, 2, 0, enc.encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
  packets.push(tcpPacket(A4, B4, 40604, 5061, 1, 0, new Uint8Array(0), TCP_SYN));
  packets.push(tcpPacket(A4, B4, 40604, 5061, 2, 0, Uint8Array.of(0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0)));
  // 4. UDP: a CRLF keep-alive on the SIP flow is kept, on another flow dropped, RTP dropped.
  packets.push(udpPacket(A4, B4, 5060, 5070, flow4[0].bytes));
  packets.push(udpPacket(B4, A4, 5070, 5060, enc.encode('\r\n\r\n')));
  packets.push(udpPacket(B4, A4, 5999, 5060, enc.encode('\r\n\r\n')));
  packets.push(udpPacket(A4, B4, 30000, 30002, Uint8Array.of(0x80, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1)));
  // 5. The first connection's 4-tuple reused after FIN with a new ISN: a new connection.
  packets.push(k.pkt(true, 99999, new Uint8Array(0), TCP_FIN | TCP_ACK), k.pkt(false, 99999, new Uint8Array(0), TCP_FIN | TCP_ACK));
  const again = tcpConversation({ isnA: 50000, isnB: 60000, port: 40601 });
  packets.push(...again.handshake, again.pkt(true, again.segs[0].seq, again.segs[0].data));

  const r = readCapture(pcapFile(LINKTYPE_RAW, packets.map((p, i) => ({ timeUs: at(i + 1), data: p }))));
  assert.equal(r.error, undefined);
  const byConn = new Map<number | null, ReadRecord[]>();
  for (const x of r.records) byConn.set(x.connId, [...(byConn.get(x.connId) ?? []), x]);
  assert.deepEqual([...byConn.keys()], [1, 2, null, 3]);
  const c1 = byConn.get(1) ?? [];
  assert.equal(Buffer.from(c1[0].bytes).toString(), '\r\n\r\n');
  assert.deepEqual(joinDir(c1, 40601), Buffer.concat([enc.encode('\r\n\r\n'), k.streamA]));
  const c2 = byConn.get(2) ?? [];
  assert.equal(countSipMessages(c2).count, 6, 'mid-stream: the partial INVITE tail is dropped, 6 messages follow');
  assert.deepEqual(joinDir(c2, 5060), Buffer.from(m.streamB));
  const udp = byConn.get(null) ?? [];
  assert.deepEqual(
    udp.map((x) => Buffer.from(x.bytes).toString('latin1').slice(0, 6)),
    ['INVITE', '\r\n\r\n'],
  );
  assert.equal(byConn.get(3)?.length, 1);
  assert.equal(r.stats.sipConnections, 3);
  assert.equal(r.stats.tcpConnections, 5);
});

test('reader: any chunking gives the same records (1, 7, 4096 bytes, whole)', () => {
  const bytes = concat([
    writePcapng(exportScenario(), { mtu: 700 }),
  ]);
  const whole = readCapture(bytes).records;
  assert.equal(whole.length > 28, true);
  for (const size of [1, 7, 4096]) {
    const reader = new CaptureReader();
    const got: ReadRecord[] = [];
    for (let o = 0; o < bytes.length; o += size) got.push(...reader.push(bytes.subarray(o, o + size)));
    got.push(...reader.end());
    assert.equal(reader.error, null);
    assert.deepEqual(
      got.map((x) => [x.seq, x.frame, x.timeUs, x.connId, Buffer.from(x.bytes).toString('latin1')]),
      whole.map((x) => [x.seq, x.frame, x.timeUs, x.connId, Buffer.from(x.bytes).toString('latin1')]),
      `chunks of ${size}`,
    );
  }
});

test('reader: truncated and corrupt files keep every record before the damage and say where', () => {
  const pcap = writePcap(exportScenario());
  const pcapRecs = readCapture(pcap).records;
  // Frame k starts at this offset; the export's frames 1-7 are UDP, one record each.
  const offsets: number[] = [];
  {
    let o = 24;
    while (o < pcap.length) {
      offsets.push(o);
      o += 16 + new DataView(pcap.buffer, pcap.byteOffset + o + 8).getUint32(0, true);
    }
  }
  // Cut inside frame 5's data.
  const cut = readCapture(pcap.subarray(0, offsets[4] + 16 + 30));
  assert.ok(cut.error instanceof CaptureFormatError);
  assert.equal(cut.error.code, 'truncated');
  assert.equal(cut.error.offset, offsets[4]);
  assert.equal(cut.error.frame, 5);
  assert.match(cut.error.message, new RegExp(`byte offset ${offsets[4]}, frame 5`));
  assert.deepEqual(
    cut.records.map((x) => x.seq),
    [1, 2, 3, 4],
  );
  assert.deepEqual(Buffer.from(cut.records[3].bytes), Buffer.from(pcapRecs[3].bytes));
  // Cut inside frame 3's record header.
  const cutHdr = readCapture(pcap.subarray(0, offsets[2] + 9));
  assert.equal(cutHdr.error?.frame, 3);
  assert.match(cutHdr.error?.expected ?? '', /16-byte packet record header/);
  assert.equal(cutHdr.records.length, 2);
  // Cut inside the global header.
  assert.equal(readCapture(pcap.subarray(0, 10)).error?.offset, 0);
  // Absurd captured length in frame 2's header.
  const bad = pcap.slice();
  new DataView(bad.buffer).setUint32(offsets[1] + 8, 0x7fffffff, true);
  const br = readCapture(bad);
  assert.equal(br.error?.code, 'bad-length');
  assert.equal(br.error?.frame, 2);
  assert.equal(br.records.length, 1);
  // Bad magic.
  const magic = readCapture(enc.encode('GIF89a not a capture'));
  assert.equal(magic.error?.code, 'bad-magic');
  assert.equal(magic.records.length, 0);

  // pcapng: bad trailing length in the 10th block, and a cut block.
  const ng = writePcapng(exportScenario());
  const blocks: number[] = [];
  for (let o = 0; o < ng.length; o += new DataView(ng.buffer, ng.byteOffset + o + 4).getUint32(0, true)) blocks.push(o);
  const ngBad = ng.slice();
  const len9 = new DataView(ngBad.buffer).getUint32(blocks[9] + 4, true);
  new DataView(ngBad.buffer).setUint32(blocks[9] + len9 - 4, len9 + 4, true);
  const nb = readCapture(ngBad);
  assert.equal(nb.error?.code, 'bad-length');
  assert.equal(nb.error?.offset, blocks[9] + len9 - 4);
  // Blocks: SHB, IDB, 7 UDP EPBs, IDB? no: the second interface comes with the IPv6 call. Block 9 is frame 8.
  assert.equal(nb.error?.frame, 8);
  assert.equal(nb.records.length, 7);
  const ngLen = new DataView(ngBad.buffer);
  ngLen.setUint32(blocks[9] + len9 - 4, len9, true);
  ngLen.setUint32(blocks[9] + 4, 13, true);
  const nl = readCapture(ngBad);
  assert.equal(nl.error?.code, 'bad-length');
  assert.equal(nl.error?.offset, blocks[9] + 4);
  const nc = readCapture(ng.subarray(0, blocks[12] + 20));
  assert.equal(nc.error?.code, 'truncated');
  assert.equal(nc.error?.offset, blocks[12]);
  assert.equal(nc.error?.frame, 11);
  // Frames 8-10 are the TCP handshake; everything up to frame 10 is delivered.
  assert.equal(nc.records.length, 7);
});

test('reader: gzip input, file reading with progress, batches and async iteration with the error at the end', async () => {
  const pcap = writePcap(exportScenario());
  const gz = gzipSync(pcap);
  assert.equal(readCapture(gz).records.length, 28);
  const file = save('export.pcap.gz', gz);
  const progress: number[] = [];
  const batches: number[] = [];
  const res = await readCaptureFile(file, {
    chunkSize: 1024,
    onProgress: (p) => {
      progress.push(p.bytesRead);
      assert.equal(p.totalBytes, gz.length);
    },
    onRecords: (b) => batches.push(b.length),
    keepRecords: false,
  });
  assert.equal(res.error, undefined);
  assert.equal(res.records.length, 0);
  assert.equal(res.stats.records, 28);
  assert.equal(
    batches.reduce((a, b) => a + b, 0),
    28,
  );
  assert.equal(progress[progress.length - 1], gz.length);

  const plain = save('cut.pcap', pcap.subarray(0, pcap.length - 10));
  const seen: ReadRecord[] = [];
  await assert.rejects(
    async () => {
      for await (const batch of iterateCapture(plain, { chunkSize: 333 })) seen.push(...batch);
    },
    (e: unknown) => e instanceof CaptureFormatError && e.code === 'truncated' && e.frame === 34,
  );
  assert.equal(seen.length, 27);
});

test('sip-detect: start lines', () => {
  const t = (s: string) => sipStartLine(enc.encode(s), 0, enc.encode(s).length);
  assert.equal(t('INVITE sip:bob@example.com SIP/2.0\r\n'), 1);
  assert.equal(t('OPTIONS sips:a@b;transport=tls SIP/2.0\n'), 1);
  assert.equal(t('MESSAGE tel:+15551234 SIP/2.0\r\n'), 1);
  assert.equal(t('SIP/2.0 200 OK\r\n'), 1);
  assert.equal(t('sip/2.0 180 Ringing\r\n'), 1);
  assert.equal(t('INVITE sip:bob@example.com SIP/2.0'), -1);
  assert.equal(t('INV'), -1);
  assert.equal(t('SIP/2'), -1);
  assert.equal(t('GET / HTTP/1.1\r\n'), 0);
  assert.equal(t('GET http://x/ HTTP/1.1\r\n'), 0);
  assert.equal(t('SIP/2.0 2x0 OK\r\n'), 0);
  assert.equal(t('\x16\x03\x01'), 0);
  assert.equal(t('Via: SIP/2.0/UDP x\r\n'), 0);
  const mid = enc.encode('a=sendrecv\r\n\r\nBYE sip:x@y SIP/2.0\r\nVia: x\r\n');
  assert.deepEqual(classifyStreamStart(mid, true, false), { verdict: 'sip', skip: 14 });
  assert.equal(classifyStreamStart(mid, false, false).verdict, 'not-sip');
  assert.equal(classifyStreamStart(enc.encode('\r\n\r\n'), false, false).verdict, 'more');
  assert.equal(classifyStreamStart(enc.encode('\r\n\r\n'), false, true).verdict, 'not-sip');
});

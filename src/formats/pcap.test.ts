import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CaptureRecord } from '../sip/capture.ts';
import { readCapture } from './capture-reader.ts';
import { PcapWriter, writePcap, writePcapFile } from './pcap.ts';
import { assertRoundTrip } from './test-support/compare.ts';
import { missingTool } from './test-support/peers.ts';
import { callFlowRecords, coalescedTcpScenario, exportScenario, T0_US } from './test-support/sip-samples.ts';
import { countSipMessages } from './test-support/sip-framing.ts';
import { sngrepFile } from './test-support/sngrep.ts';
import { sipMessageCount, tsharkFrames, tsharkProblems } from './test-support/tshark.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-pcap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const noTshark = missingTool('tshark');
const noSngrep = missingTool('tshark', 'sngrep');

const enc = new TextEncoder();

function save(name: string, bytes: Uint8Array): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

/** What each SIP message of the export scenario is, in order. */
const EXPECTED_SIP = ['INVITE', '100', '180', '200', 'ACK', 'BYE', '200'];

test('pcap: tshark dissects all 28 SIP messages with good checksums and no malformed packet', async (t) => {
  if (noTshark) return t.skip(noTshark);
  const file = save('export.pcap', writePcap(exportScenario()));
  const frames = await tsharkFrames(file);
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), 28);
  const seen = frames.flatMap((f) => [...f.methods, ...f.statusCodes]);
  assert.deepEqual(seen, [...EXPECTED_SIP, ...EXPECTED_SIP, ...EXPECTED_SIP, ...EXPECTED_SIP]);
  // Every IP frame had its checksums verified good: IPv4 header + UDP/TCP.
  for (const f of frames) assert.ok(f.checksumStatuses.length >= 1 && f.checksumStatuses.every((s) => s === '1'), `frame ${f.number}`);
  // 28 messages + 2 synthetic handshakes of 3 frames.
  assert.equal(frames.length, 34);
});

test('pcap: sngrep opens the file and finds the 4 dialogs and 28 messages', async (t) => {
  if (noSngrep) return t.skip(noSngrep);
  const file = save('export-sngrep.pcap', writePcap(exportScenario()));
  const r = await sngrepFile(file, dir);
  assert.equal(r.dialogs, 4);
  assert.equal(r.sipPackets, 28);
});

test('pcap: TCP records with two messages in one segment and one message over two segments', async (t) => {
  if (noTshark) return t.skip(noTshark);
  const recs = coalescedTcpScenario();
  const file = save('coalesced.pcap', writePcap(recs));
  const frames = await tsharkFrames(file);
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), 7);
  // One frame carries both ACK and BYE.
  assert.ok(frames.some((f) => f.cseqs.length === 2 && f.methods.join() === 'ACK,BYE'));
  const read = readCapture(readFileSync(file));
  assert.equal(read.error, undefined);
  assertRoundTrip(recs, read.records);
  const framed = countSipMessages(read.records);
  assert.equal(framed.count, 7);
  assert.equal(framed.pendingBytes, 0);
});

test('pcap: round trip keeps bytes, addresses, ports, transport and microsecond times', () => {
  const recs = exportScenario();
  const read = readCapture(writePcap(recs));
  assert.equal(read.format, 'pcap');
  assert.equal(read.error, undefined);
  assertRoundTrip(recs, read.records);
  // Frame numbers skip the synthetic handshakes.
  assert.deepEqual(
    read.records.slice(7, 9).map((r) => r.frame),
    [11, 12],
  );
});

/** A MESSAGE request of exactly `total` bytes (body padded with 'x'). */
function sizedMessage(transport: string, host: string, peer: string, callId: string, total: number): Uint8Array {
  const h = (a: string) => (a.includes(':') ? `[${a}]` : a);
  const head = (n: number) =>
    `MESSAGE sip:bob@${h(peer)} SIP/2.0\r\nVia: SIP/2.0/${transport} ${h(host)};branch=z9hG4bK${callId}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:alice@${h(host)}>;tag=1\r\nTo: <sip:bob@${h(peer)}>\r\nCall-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\n` +
    `Content-Type: text/plain\r\nContent-Length: ${n}\r\n\r\n`;
  let n = total - head(0).length;
  while (head(n).length + n !== total) n = total - head(n).length;
  const out = enc.encode(head(n) + 'x'.repeat(n));
  assert.equal(out.length, total);
  return out;
}

test('pcap: large payloads become several TCP segments or IP fragments that tshark reassembles', async (t) => {
  const v4 = { host: '192.0.2.10', port: 5060 };
  const v4peer = { host: '198.51.100.20', port: 5060 };
  const v6 = { host: '2001:db8::10', port: 5060 };
  const v6peer = { host: '2001:db8::20', port: 5060 };
  const bigTcp = sizedMessage('TCP', '192.0.2.10', '198.51.100.20', 'bigtcp', 150_000);
  const recs: CaptureRecord[] = [
    { seq: 1, timeUs: T0_US, direction: 'out', transport: 'tcp', local: { host: '192.0.2.10', port: 40010 }, remote: v4peer, connId: 1, bytes: bigTcp },
    // 65,520 bytes: more than one IPv4 packet holds (65,507), fragmented even at the default MTU.
    {
      seq: 2,
      timeUs: T0_US + 10,
      direction: 'out',
      transport: 'udp',
      local: v4,
      remote: v4peer,
      connId: null,
      bytes: sizedMessage('UDP', '192.0.2.10', '198.51.100.20', 'bigudp4', 65_520),
    },
    {
      seq: 3,
      timeUs: T0_US + 20,
      direction: 'in',
      transport: 'udp',
      local: v6,
      remote: v6peer,
      connId: null,
      bytes: sizedMessage('UDP', '2001:db8::20', '2001:db8::10', 'bigudp6', 9_000),
    },
  ];

  for (const mtu of [undefined, 1500]) {
    const bytes = writePcap(recs, mtu ? { mtu } : {});
    const read = readCapture(bytes);
    assert.equal(read.error, undefined);
    // TCP comes back as the segments' in-order bytes: join them per connection.
    const tcp = read.records.filter((r) => r.transport === 'tcp');
    assert.deepEqual(Buffer.concat(tcp.map((r) => r.bytes)), Buffer.from(bigTcp));
    assert.ok(tcp.length >= (mtu ? Math.ceil(bigTcp.length / 1460) : 3), `${tcp.length} TCP segments at mtu ${mtu}`);
    const udp = read.records.filter((r) => r.transport === 'udp');
    assert.equal(udp.length, 2);
    assert.deepEqual(Buffer.from(udp[0].bytes), Buffer.from(recs[1].bytes));
    assert.deepEqual(Buffer.from(udp[1].bytes), Buffer.from(recs[2].bytes));
    assert.ok(udp[0].lastFrame > udp[0].frame, 'IPv4 datagram was fragmented');
    if (mtu) assert.ok(udp[1].lastFrame > udp[1].frame, 'IPv6 datagram was fragmented');
    if (noTshark) continue;
    const frames = await tsharkFrames(save(`big-${mtu ?? 'default'}.pcap`, bytes));
    assert.deepEqual(tsharkProblems(frames), []);
    assert.equal(sipMessageCount(frames), 3, `tshark SIP messages at mtu ${mtu}`);
  }
  if (noTshark) t.diagnostic(`tshark checks skipped: ${noTshark}`);
});

test('pcap: the streaming writer produces the same bytes as writePcap', async () => {
  const recs = exportScenario();
  async function* source() {
    for (const r of recs) {
      await Promise.resolve();
      yield r;
    }
  }
  const file = join(dir, 'streamed.pcap');
  await writePcapFile(file, source());
  assert.deepEqual(readFileSync(file), Buffer.from(writePcap(recs)));
  const w = new PcapWriter();
  const chunks = recs.flatMap((r) => w.push(r));
  assert.deepEqual(Buffer.concat(chunks), Buffer.from(writePcap(recs)));
});

test('pcap: an empty export is a valid file with just the global header', () => {
  const bytes = writePcap([]);
  assert.equal(bytes.length, 24);
  const read = readCapture(bytes);
  assert.equal(read.error, undefined);
  assert.equal(read.records.length, 0);
});

test('pcap: IPv4-mapped IPv6 hosts are written as IPv4; hostnames are refused', () => {
  const recs = callFlowRecords({
    transport: 'udp',
    caller: { host: '::ffff:192.0.2.77', port: 5060 },
    callee: { host: '198.51.100.9', port: 5062 },
    callId: 'mapped@x',
    startUs: T0_US,
  });
  const read = readCapture(writePcap(recs));
  assert.equal(read.records[0].remote.host, '192.0.2.77');
  assert.equal(read.records[0].local.host, '198.51.100.9');
  assert.throws(() => writePcap([{ ...recs[0], local: { host: 'example.com', port: 5060 } }]), /not an IP literal/);
});

/**
 * RTP over real UDP sockets on loopback: the port pool (bound before an
 * SDP names the port, EADDRINUSE skipped, nothing left open), a session
 * round trip of RFC 4733 digits with symmetric RTP, malformed datagrams,
 * G.711 silence, and the relay between two legs with payload type
 * translation.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { bindUdp, RtpPortPool } from './port-pool.ts';
import type { ReceivedDigit } from './dtmf-receiver.ts';
import { decodeRtp } from './rtp-packet.ts';
import { RtpRelay } from './rtp-relay.ts';
import { type MalformedMedia, RtpSession } from './rtp-session.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: () => boolean, ms: number, label: string): Promise<void> {
  const end = performance.now() + ms;
  while (!what()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${label}`);
    await sleep(5);
  }
}
const udpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap' || r === 'UDPWRAP').length;

/** An SDP with one audio stream (PCMU, and telephone-event on `te` unless null). */
function sdp(address: string, port: number, te: number | null): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0${te === null ? '' : ` ${te}`}`,
    'a=rtpmap:0 PCMU/8000',
    ...(te === null ? [] : [`a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-16`]),
    'a=sendrecv',
    '',
  ].join('\r\n');
}

test('port pool: ports are bound before they are handed out, a port in use elsewhere is skipped, close leaves nothing bound', async () => {
  const before = udpHandles();
  // Another process (here: another socket) holds the pool's first port: an even one.
  let squatter = await bindUdp('127.0.0.1', 0);
  while (squatter.address().port % 2 !== 0) {
    squatter.close();
    squatter = await bindUdp('127.0.0.1', 0);
  }
  const base = squatter.address().port;
  const warnings: string[] = [];
  const pool = new RtpPortPool({ address: '127.0.0.1', base, low: 1024, high: 65534, spare: 2, onWarning: (w) => warnings.push(w) });
  try {
    await pool.fill();
    assert.equal(pool.openSockets, 2);
    const a = pool.take();
    const b = pool.take();
    assert.notEqual(a, base, 'the port in use was skipped');
    assert.ok(a % 2 === 0 && b % 2 === 0 && a !== b);
    const sa = await pool.claim(a);
    assert.ok(sa !== null);
    assert.equal(sa.address().port, a, 'the socket is bound to the port the SDP names');
    // Taken with no spare ready: bound on the spot.
    const c = pool.take();
    const sc = await pool.claim(c);
    assert.equal(sc?.address().port, c);
    assert.equal(await pool.claim(12345), null, 'a port never taken has no socket');
    await pool.fill();
    assert.ok(pool.openSockets >= 3);
    await pool.release(a);
    assert.ok(pool.openSockets >= 2);
  } finally {
    await pool.close();
    squatter.close();
  }
  assert.equal(pool.openSockets, 0);
  await until(() => udpHandles() === before, 2000, 'every UDP handle closed');
  assert.deepEqual(warnings, []);
});

test('port pool: a port taken and never claimed is closed after leaseMs, unless its owner still holds it; releaseIfLeased leaves claimed ports alone', async () => {
  const keep = new Set<number>();
  const pool = new RtpPortPool({ address: '127.0.0.1', base: 42000, spare: 1, leaseMs: 50, inUse: (p) => keep.has(p) });
  try {
    await pool.fill();
    const unused = pool.take();
    const held = pool.take();
    keep.add(held);
    const claimed = pool.take();
    const sc = await pool.claim(claimed);
    assert.ok(sc !== null);
    await sleep(80);
    pool.take(); // takes sweep
    assert.equal(await pool.claim(unused), null, 'the unused lease was closed');
    const sh = await pool.claim(held);
    assert.equal(sh?.address().port, held, 'the held one survived');
    pool.releaseIfLeased(claimed);
    assert.equal(sc.address().port, claimed, 'a claimed socket is not closed by releaseIfLeased');
  } finally {
    await pool.close();
  }
  assert.equal(pool.openSockets, 0);
});

test('RTP session round trip: digits as RFC 4733 events, received as digits with their payload type; symmetric RTP answers the source', async () => {
  const [sa, sb] = await Promise.all([bindUdp('127.0.0.1', 0), bindUdp('127.0.0.1', 0)]);
  const gotB: ReceivedDigit[] = [];
  const gotA: ReceivedDigit[] = [];
  const latched: string[] = [];
  const a = new RtpSession(sa, { isTelephoneEvent: (pt) => pt === 101, onDigit: (d) => gotA.push(d) });
  const b = new RtpSession(sb, { isTelephoneEvent: (pt) => pt === 101, onDigit: (d) => gotB.push(d), onLatch: (from) => latched.push(`${from.address}:${from.port}`) });
  const wire: number[] = [];
  sb.on('message', (m) => {
    const d = decodeRtp(new Uint8Array(m));
    if (d.ok) wire.push(d.packet.sequenceNumber);
  });
  try {
    a.remote = b.local;
    const sent = await a.sendDigits('123#', { payloadType: 101 });
    assert.equal(sent.completed, 4);
    assert.equal(sent.packets, 20);
    await until(() => gotB.length === 4, 2000, 'four digits at B');
    assert.equal(gotB.map((d) => d.digit).join(''), '123#');
    assert.ok(gotB.every((d) => d.payloadType === 101 && d.ssrc === a.ssrc && d.endedBy === 'end-packet' && d.durationMs === 100));
    // One timestamp per event, 1600 units (200 ms) apart; consecutive sequence numbers.
    assert.deepEqual(gotB.map((d) => (d.rtpTimestamp - sent.timestamp) >>> 0), [0, 1600, 3200, 4800]);
    assert.ok(wire.every((s, i) => i === 0 || s === ((wire[i - 1] + 1) & 0xffff)));
    // B never had A's address from an SDP: it answers where A's packets came from.
    assert.equal(b.remote, null);
    assert.deepEqual(latched, [`127.0.0.1:${a.local.port}`]);
    await b.sendDigits('9', { payloadType: 101, toneMs: 60, updateMs: 20 });
    await until(() => gotA.length === 1, 2000, 'digit at A');
    assert.equal(gotA[0].digit, '9');
    assert.equal(gotA[0].durationMs, 60);
    assert.equal(b.digits.length, 4);
  } finally {
    a.close();
    b.close();
  }
  const late = await a.sendDigits('1', { payloadType: 101 });
  assert.equal(late.completed, 0, 'a closed session sends nothing');
});

test('malformed datagrams are reported with their bytes and the session goes on', async () => {
  const sb = await bindUdp('127.0.0.1', 0);
  const bad: MalformedMedia[] = [];
  const got: string[] = [];
  const b = new RtpSession(sb, { isTelephoneEvent: (pt) => pt === 101, onMalformed: (m) => bad.push(m), onDigit: (d) => got.push(d.digit) });
  const raw = await bindUdp('127.0.0.1', 0);
  const sa = await bindUdp('127.0.0.1', 0);
  const a = new RtpSession(sa);
  try {
    raw.send(Buffer.from('not rtp at all'), b.local.port, '127.0.0.1');
    // Valid RTP, PT 101, with a 3-byte event payload.
    raw.send(Buffer.from([0x80, 0xe5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 1, 0x8a, 3]), b.local.port, '127.0.0.1');
    await until(() => bad.length === 2, 2000, 'two malformed reports');
    assert.match(bad[0].error, /RTP version 1/);
    assert.equal(Buffer.from(bad[0].bytes).toString(), 'not rtp at all');
    assert.match(bad[1].error, /telephone-event.*3 bytes/);
    assert.equal(b.stats.malformed, 2);
    a.remote = b.local;
    await a.sendDigits('5', { payloadType: 101 });
    await until(() => got.length === 1, 2000, 'a digit after the garbage');
    assert.deepEqual(got, ['5']);
  } finally {
    a.close();
    b.close();
    raw.close();
  }
});

test('G.711 silence every 20 ms only while the flag is on', async () => {
  const [sa, sb] = await Promise.all([bindUdp('127.0.0.1', 0), bindUdp('127.0.0.1', 0)]);
  const a = new RtpSession(sa);
  const seen: Array<{ pt: number; len: number; ts: number; marker: boolean }> = [];
  const b = new RtpSession(sb, { onPacket: (p) => seen.push({ pt: p.payloadType, len: p.payload.length, ts: p.timestamp, marker: p.marker }) });
  try {
    a.remote = b.local;
    await sleep(100);
    assert.equal(seen.length, 0, 'off by default');
    a.setSilence(true, 8);
    await until(() => seen.length >= 5, 2000, 'silence packets');
    a.setSilence(false);
    await sleep(60);
    const count = seen.length;
    await sleep(100);
    assert.equal(seen.length, count, 'stopped');
    assert.ok(seen.every((p) => p.pt === 8 && p.len === 160));
    assert.equal(seen[0].marker, true);
    assert.ok(seen.slice(1).every((p, i) => ((p.ts - seen[i].ts) >>> 0) === 160 && !p.marker));
  } finally {
    a.close();
    b.close();
  }
});

test('relay: digits cross between legs with the payload type renumbered (101 → 96), or are dropped and reported when the far leg has no telephone-event', async () => {
  const sockets = await Promise.all([0, 1, 2, 3].map(() => bindUdp('127.0.0.1', 0)));
  const [sA, sX, sY, sB] = sockets;
  const port = (s: dgram.Socket): number => s.address().port;
  // A (a Lync user) ↔ X: both speak 101. Y ↔ B (a gateway): 96, or none.
  let bTe: number | null = 96;
  const legSdp = {
    lync: () => ({ local: sdp('127.0.0.1', port(sX), 101), remote: sdp('127.0.0.1', port(sA), 101) }),
    peer: () => ({ local: sdp('127.0.0.1', port(sY), bTe ?? null), remote: sdp('127.0.0.1', port(sB), bTe) }),
  };
  const relayed: string[] = [];
  const relay = new RtpRelay({ name: 'lync', socket: sX, sdp: legSdp.lync }, { name: 'peer', socket: sY, sdp: legSdp.peer }, {
    onDigit: (from, d, as) => relayed.push(`${from}:${d.digit}:${d.payloadType}->${as}`),
  });
  const atB: ReceivedDigit[] = [];
  const atA: ReceivedDigit[] = [];
  const a = new RtpSession(sA, { isTelephoneEvent: (pt) => pt === 101, onDigit: (d) => atA.push(d) });
  const b = new RtpSession(sB, { isTelephoneEvent: (pt) => pt === 96, onDigit: (d) => atB.push(d) });
  try {
    a.remote = { address: '127.0.0.1', port: port(sX) };
    b.remote = { address: '127.0.0.1', port: port(sY) };
    await a.sendDigits('12', { payloadType: 101 });
    await until(() => atB.length === 2, 2000, 'digits at B');
    assert.deepEqual(atB.map((d) => `${d.digit}/${d.payloadType}`), ['1/96', '2/96']);
    await b.sendDigits('7', { payloadType: 96 });
    await until(() => atA.length === 1, 2000, 'digit at A');
    assert.deepEqual(atA.map((d) => `${d.digit}/${d.payloadType}`), ['7/101']);
    assert.deepEqual(relayed, ['lync:1:101->96', 'lync:2:101->96', 'peer:7:96->101']);
    await until(() => relay.stats.forwarded === 15, 2000, 'every packet forwarded (2 digits × 5 one way, 5 back)');
    // Now the gateway's leg has no telephone-event: the digit reaches the relay, not B.
    bTe = null;
    await a.sendDigits('5', { payloadType: 101 });
    await until(() => relayed.length === 4, 2000, 'the relay saw the digit');
    assert.equal(relayed[3], 'lync:5:101->null');
    await sleep(100);
    assert.equal(atB.length, 2, 'nothing reached B');
    await until(() => relay.stats.eventsDropped === 5, 2000, 'the five packets of 5 dropped');
  } finally {
    relay.close();
    a.close();
    b.close();
  }
});

/**
 * RFC 4733 DTMF through the lab on real RTP sockets: a Lync user's digits
 * reach the gateway through the Mediation Server's media relay, a
 * gateway's digits reach the user with the payload type renumbered
 * (96 on the trunk, 101 on the Lync side), digits both ways during early
 * media (183 with SDP, before the answer), a gateway without
 * telephone-event (the relay reports the digits as not relayable), RTP
 * ports in use elsewhere skipped, no socket left open, and `media: false`.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { bindUdp } from '../media/port-pool.ts';
import type { EngineEvent } from '../common/api.ts';
import { type DigitReceipt, Lab } from './lab.ts';
import { address, connectedCall, fixtureTopology, quick, sdpLines, startQuickLab as start, until, wait } from './lab-test-support.ts';

const udpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap' || r === 'UDPWRAP').length;
const at = (lab: Lab, callId: string, element: string): DigitReceipt[] => lab.receivedDigits(callId).filter((d) => d.element === element);
const digits = (list: DigitReceipt[]): string => list.map((d) => d.digit).join('');
const logs = (events: Array<{ type: string; text?: string; level?: string }>, re: RegExp): string[] => events.filter((e) => e.type === 'log' && re.test(e.text ?? '')).map((e) => `${e.level}: ${e.text}`);

test('Lync user → gateway: digits go out as RFC 4733 on the user\'s RTP, the Mediation Server relays them, the gateway receives 123# on payload 101', async () => {
  const before = udpHandles();
  const { lab, wire, events } = await start('single-gateway.json');
  try {
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    const summary = await lab.callAction(callId, { action: 'dtmf', digits: '123#' });
    assert.equal(summary.state, 'connected');
    await until(() => at(lab, callId, 'gw-a').length === 4, 3000, 'four digits at the gateway');
    const gw = at(lab, callId, 'gw-a');
    assert.equal(digits(gw), '123#');
    assert.ok(gw.every((d) => d.payloadType === 101 && d.role === 'peer' && d.endedBy === 'end-packet' && d.durationMs === 100), JSON.stringify(gw));
    // The gateway's leg is the trunk dialog (another Call-ID than alice's: the Mediation Server is a B2BUA).
    const trunkInvite = wire.requests('INVITE', { to: address(lab, 'gw-a') })[0];
    assert.ok(gw.every((d) => d.leg === trunkInvite.callId));
    const med = at(lab, callId, 'med-1');
    assert.equal(digits(med), '123#');
    assert.ok(med.every((d) => d.from === 'lync' && d.relayedTo === 'gw-a' && d.relayedAs === 101 && d.payloadType === 101));
    // The relay forwards the sender's stream: same SSRC and event timestamps at the gateway as at the Mediation Server.
    assert.deepEqual(gw.map((d) => `${d.ssrc}/${d.rtpTimestamp}`), med.map((d) => `${d.ssrc}/${d.rtpTimestamp}`));
    assert.ok(med.every((d, i) => d.receivedUs <= gw[i].receivedUs));
    await until(() => logs(events, /gw-a: received DTMF/).length > 0, 3000, 'the receive log line');
    assert.deepEqual(logs(events, /DTMF 123#/).map((l) => l.replace(/ on \S+$/, '')), [
      'info: alice: DTMF 123# as RFC 4733 events (payload 101)',
      'info: med-1: DTMF 123# relayed to gw-a as RFC 4733 events (payload 101)',
      'info: gw-a: received DTMF 123# (RFC 4733, payload 101)',
    ]);
    assert.equal(at(lab, callId, 'alice').length, 0, 'nothing came back');
    // The call's summary (what the UI shows) carries what the gateway received, and nothing for alice.
    const callEvents = events.filter((e): e is Extract<typeof e, { type: 'call' }> => e.type === 'call' && e.call.id === callId);
    assert.deepEqual(callEvents.at(-1)?.call.dtmfReceived, [{ element: 'gw-a', digits: '123#' }]);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
  await until(() => udpHandles() === before, 3000, 'every RTP socket closed');
});

test('gateway → Lync user with payload type 96 on the trunk: the relay renumbers to the 101 of the Lync side', async () => {
  const before = udpHandles();
  const { lab, wire } = await start('single-gateway.json', (input) => {
    input.peers?.[0].numbers?.push({ number: '+14255550196', behaviour: { dtmfPayloadType: 96, sendDigits: '47*', sendDigitsAfterMs: 100 } });
  });
  try {
    const callId = await connectedCall(lab, '+14255550196', 'alice');
    await until(() => at(lab, callId, 'alice').length === 3, 4000, 'three digits at alice');
    const alice = at(lab, callId, 'alice');
    assert.equal(digits(alice), '47*');
    assert.ok(alice.every((d) => d.payloadType === 101 && d.role === 'user'));
    const med = at(lab, callId, 'med-1');
    assert.ok(med.every((d) => d.from === 'peer' && d.payloadType === 96 && d.relayedAs === 101 && d.relayedTo === 'lync'), JSON.stringify(med));
    // The SDPs say so: 96 between the gateway and the Mediation Server, 101 on the Lync side.
    const offer = sdpLines(wire.requests('INVITE', { from: address(lab, 'gw-a') })[0]);
    assert.ok(offer.includes('a=rtpmap:96 telephone-event/8000'), offer.join('\n'));
    const toAlice = sdpLines(wire.requests('INVITE', { to: address(lab, 'alice') })[0]);
    assert.ok(toAlice.includes('a=rtpmap:101 telephone-event/8000'), toAlice.join('\n'));
    // And back: alice's 101 becomes 96 for the gateway.
    await lab.callAction(callId, { action: 'dtmf', digits: '9' });
    await until(() => at(lab, callId, 'gw-a').length === 1, 3000, 'the digit at the gateway');
    assert.deepEqual(at(lab, callId, 'gw-a').map((d) => `${d.digit}/${d.payloadType}`), ['9/96']);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
  await until(() => udpHandles() === before, 3000, 'every RTP socket closed');
});

test('early media: digits both ways before the answer (183 with SDP): the Lync user keys an IVR, the gateway plays its digits', async () => {
  const before = udpHandles();
  const { lab, events } = await start('single-gateway.json', (input) => {
    const n = input.peers?.[0].numbers?.find((x) => x.number === '+14255550115');
    if (n) n.behaviour = { ...n.behaviour, earlyMediaAfterMs: 50, sendDigitsAfterMs: 700, answerAfterMs: 3500 };
  });
  try {
    const { callId } = lab.placeCall({ from: 'alice', to: '+14255550115' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'early-media', 3000, 'early media');
    await lab.callAction(callId, { action: 'dtmf', digits: '0*' });
    await until(() => at(lab, callId, 'gw-a').length === 2 && at(lab, callId, 'alice').length === 4, 4000, 'digits both ways');
    const call = lab.calls().find((c) => c.id === callId);
    assert.equal(call?.state, 'early-media', 'not answered yet');
    assert.equal(digits(at(lab, callId, 'gw-a')), '0*');
    assert.equal(digits(at(lab, callId, 'alice')), '123#');
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 6000, 'answered');
    const answeredUs = lab.calls().find((c) => c.id === callId)?.answeredUs ?? 0;
    assert.ok(lab.receivedDigits(callId).every((d) => d.receivedUs < answeredUs), 'every digit arrived before the answer');
    assert.ok(logs(events, /gw-a: DTMF 123# as RFC 4733 events \(payload 101\)/).length === 1);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
  await until(() => udpHandles() === before, 3000, 'every RTP socket closed');
});

test('no DTMF while the call only rings (180, no SDP): refused, nothing sent', async () => {
  const before = udpHandles();
  const { lab } = await start('single-gateway.json');
  try {
    const { callId } = lab.placeCall({ from: 'alice', to: '+14255550112' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'ringing', 3000, 'ringing');
    await assert.rejects(lab.callAction(callId, { action: 'dtmf', digits: '1' }), /no SDP from the far end yet/);
    await wait(200);
    assert.equal(lab.receivedDigits(callId).length, 0);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
  await until(() => udpHandles() === before, 3000, 'every RTP socket closed');
});

test('gateway without telephone-event: the Lync user\'s digits reach the Mediation Server, which reports them as not relayable; nothing reaches the gateway', async () => {
  const before = udpHandles();
  const { lab, events } = await start('single-gateway.json');
  try {
    const callId = await connectedCall(lab, 'alice', '+14255550119');
    await lab.callAction(callId, { action: 'dtmf', digits: '58' });
    const med = at(lab, callId, 'med-1');
    assert.deepEqual(med.map((d) => `${d.digit}:${d.relayedAs}`), ['5:null', '8:null']);
    assert.deepEqual(logs(events, /cannot go to/), ['warn: med-1: DTMF 58 (RFC 4733 payload 101 from Lync) cannot go to gw-a as RFC 4733: no telephone-event on its leg (in band only)']);
    await wait(300);
    assert.equal(at(lab, callId, 'gw-a').length, 0);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
  await until(() => udpHandles() === before, 3000, 'every RTP socket closed');
});

test('RTP ports held by another process are skipped: the SDP names a port the element bound, and digits still arrive', async () => {
  const before = udpHandles();
  // alice's RTP ports start at 30200 on 127.0.0.101 (30000 + 101 % 100 * 200).
  const squat: dgram.Socket[] = [];
  for (const port of [30200, 30202, 30204]) {
    const s = await bindUdp('127.0.0.101', port).catch(() => null);
    if (s !== null) squat.push(s);
  }
  assert.ok(squat.length > 0, 'could hold at least one of alice\'s first ports');
  const held = squat.map((s) => s.address().port);
  const { lab, wire } = await start('single-gateway.json');
  try {
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    const offer = sdpLines(wire.requests('INVITE', { from: address(lab, 'alice') })[0]);
    const port = Number(/^m=audio (\d+)/.exec(offer.find((l) => l.startsWith('m=audio')) ?? '')?.[1]);
    assert.ok(port > 0 && !held.includes(port), `alice's SDP port ${port} is not one of ${held.join(', ')}`);
    await lab.callAction(callId, { action: 'dtmf', digits: '7' });
    await until(() => at(lab, callId, 'gw-a').length === 1, 3000, 'the digit at the gateway');
    await lab.callAction(callId, { action: 'dtmf', digits: '#' });
    await until(() => at(lab, callId, 'gw-a').length === 2, 3000, 'the second digit');
    assert.equal(digits(at(lab, callId, 'gw-a')), '7#');
  } finally {
    await lab.stop();
    await Promise.all(squat.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  await until(() => udpHandles() === before, 3000, 'every RTP socket closed');
});

test('media: false binds no RTP socket; digits are logged as not sent', async () => {
  const before = udpHandles();
  const events: EngineEvent[] = [];
  const lab = await Lab.start(fixtureTopology('single-gateway.json', quick), { timers: { t1: 100 }, media: false, onEvent: (e) => events.push(e) });
  try {
    assert.equal(udpHandles(), before, 'the lab (SIP over TCP/TLS) holds no UDP socket');
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    assert.equal(udpHandles(), before);
    await lab.callAction(callId, { action: 'dtmf', digits: '1' });
    assert.equal(logs(events, /alice: DTMF 1 as RFC 4733 events \(payload 101\) on \S+ \(media sockets off: not sent\)/).length, 1);
    await wait(200);
    assert.equal(lab.receivedDigits(callId).length, 0);
  } finally {
    await lab.stop();
  }
});

test('silence: true: both ends send G.711 silence every 20 ms through the relay, digits still arrive', async () => {
  const before = udpHandles();
  const lab = await Lab.start(fixtureTopology('single-gateway.json', quick), { timers: { t1: 100 }, silence: true });
  try {
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    const record = lab.registry.get(callId);
    const gwSession = record?.callee ?? null;
    const aliceSession = record?.caller ?? null;
    assert.ok(gwSession !== null && aliceSession !== null);
    const gw = lab.peers.find((p) => p.name === 'gw-a')?.media.rtpOf(gwSession) ?? null;
    const alice = lab.users.find((u) => u.user.name === 'alice')?.media.rtpOf(aliceSession) ?? null;
    assert.ok(gw !== null && alice !== null);
    const start = { gw: gw.stats.received, alice: alice.stats.received };
    await wait(500);
    // ~25 packets in 500 ms each way; a loaded machine may send fewer.
    assert.ok(gw.stats.received - start.gw >= 10, `gateway received ${gw.stats.received - start.gw}`);
    assert.ok(alice.stats.received - start.alice >= 10, `alice received ${alice.stats.received - start.alice}`);
    await lab.callAction(callId, { action: 'dtmf', digits: '3' });
    await until(() => at(lab, callId, 'gw-a').length === 1, 3000, 'the digit at the gateway');
    assert.equal(at(lab, callId, 'gw-a')[0].digit, '3');
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
    await until(() => gwSession.ended && gw.closed && alice.closed, 3000, 'both ends closed their RTP');
    const after = gw.stats.sent;
    await wait(100);
    assert.equal(gw.stats.sent, after, 'no silence after the call ended');
  } finally {
    await lab.stop();
  }
  await until(() => udpHandles() === before, 3000, 'every RTP socket closed');
});

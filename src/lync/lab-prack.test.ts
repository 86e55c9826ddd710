/**
 * Reliable provisional responses (RFC 3262) through the lab, over real
 * sockets, checked on the wire: the Mediation Server PRACKs a gateway's
 * reliable 183 before relaying it; a gateway that requires 100rel gets every
 * 18x reliably and its PRACKs answered; a Lync user's early media goes to a
 * peer that supports 100rel as a reliable 183 ([MS-SIPAE] 3.1.5.13), and the
 * 200 waits for its PRACK.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRAck, reliableRSeq } from '../sip/user-agent.ts';
import type { SipMessage } from '../sip/message.ts';
import { address, startQuickLab, until, type WireLog } from './lab-test-support.ts';

/** Position of a message on the wire (capture order), found by Call-ID, CSeq and status. */
function position(wire: WireLog, message: SipMessage): number {
  return wire.all().findIndex((w) => w.message.callId === message.callId && w.message.get('cseq') === message.get('cseq') && w.message.status === message.status);
}

function sequence(wire: WireLog, between: [string, string], callId: string): string[] {
  return wire
    .all()
    .filter((w) => w.message.callId === callId && ((w.from.host === between[0] && w.to.host === between[1]) || (w.from.host === between[1] && w.to.host === between[0])))
    .map((w) => (w.message.kind === 'request' ? w.message.method : `${w.message.status} ${w.message.cseq?.method}`))
    .filter((s) => s !== '100 INVITE');
}

test('outbound: a reliable 183 from the gateway is PRACKed (RAck = RSeq CSeq INVITE), relayed to Lync unreliably, and the 200 comes after the PRACK', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    wire.clear();
    const { callId } = lab.placeCall({ from: 'alice', to: '+14255550122' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 8000, 'connected');
    const invite = wire.requests('INVITE', { from: med.gatewayAddress, to: gw })[0];
    assert.ok(invite.tokens('supported').includes('100rel'), 'the Mediation Server announces 100rel');
    const p183 = wire.responses('INVITE', { from: gw, status: 183 });
    assert.equal(p183.length, 1);
    assert.deepEqual(p183[0].tokens('require'), ['100rel']);
    const rseq = reliableRSeq(p183[0]);
    assert.ok(rseq !== null);
    const pracks = wire.requests('PRACK', { from: med.gatewayAddress, to: gw });
    assert.equal(pracks.length, 1, 'one PRACK');
    assert.deepEqual(parseRAck(pracks[0].get('rack')), { rseq, cseq: invite.cseq?.seq, method: 'INVITE' });
    assert.equal(pracks[0].toTag, p183[0].toTag);
    assert.deepEqual(sequence(wire, [med.gatewayAddress, gw], invite.callId), ['INVITE', '183 INVITE', 'PRACK', '200 PRACK', '200 INVITE', 'ACK']);
    // Lync clients do not support 100rel: the 183 reaches Alice without Require/RSeq, and after the PRACK went out.
    const toAlice = wire.responses('INVITE', { to: address(lab, 'alice'), status: 183 })[0];
    assert.ok(toAlice);
    assert.equal(toAlice.get('rseq'), undefined);
    assert.equal(toAlice.tokens('require').length, 0);
    assert.ok(position(wire, toAlice) > position(wire, pracks[0]), 'relayed once acknowledged');
    await lab.callAction(callId, { action: 'hangup' });
    assert.equal((await lab.waitForCall(callId)).state, 'ended');
  } finally {
    await lab.stop();
  }
});

test('inbound: a gateway that requires 100rel gets a reliable 180 and its PRACK answered; the 200 follows the 200 (PRACK)', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    wire.clear();
    const { callId } = lab.placeCall({ from: '+14255550122', to: 'alice' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 8000, 'connected');
    const invite = wire.requests('INVITE', { from: gw })[0];
    assert.deepEqual(invite.tokens('require'), ['100rel']);
    const ringing = wire.responses('INVITE', { from: med.gatewayAddress, status: 180 });
    assert.ok(ringing.length >= 1);
    assert.deepEqual(ringing[0].tokens('require'), ['100rel']);
    const prack = wire.requests('PRACK', { from: gw })[0];
    assert.deepEqual(parseRAck(prack.get('rack')), { rseq: reliableRSeq(ringing[0]), cseq: invite.cseq?.seq, method: 'INVITE' });
    assert.deepEqual(sequence(wire, [gw, med.gatewayAddress], invite.callId), ['INVITE', '180 INVITE', 'PRACK', '200 PRACK', '200 INVITE', 'ACK']);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
});

test('inbound: a Lync user\'s early media reaches a gateway that supports 100rel as a reliable 183; the 200 comes after its PRACK', async () => {
  const { lab, wire } = await startQuickLab('lab.json', (input) => {
    const bob = input.users?.find((u) => u.name === 'bob');
    if (bob) bob.behaviour = { outcome: 'answer', answerAfterMs: 150, earlyMedia: 'with-sdp', earlyMediaAfterMs: 0 };
  });
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    wire.clear();
    const { callId } = lab.placeCall({ from: '+14255550110', to: 'bob' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 8000, 'connected');
    const invite = wire.requests('INVITE', { from: gw })[0];
    assert.ok(invite.tokens('supported').includes('100rel') && invite.tokens('require').length === 0, 'supported, not required');
    const p183 = wire.responses('INVITE', { from: med.gatewayAddress, status: 183 });
    assert.equal(p183.length >= 1, true);
    assert.deepEqual(p183[0].tokens('require'), ['100rel']);
    assert.equal(p183[0].contentType, 'application/sdp');
    const seq = sequence(wire, [gw, med.gatewayAddress], invite.callId);
    assert.deepEqual(seq.slice(seq.indexOf('183 INVITE')).filter((s) => s !== '183 INVITE'), ['PRACK', '200 PRACK', '200 INVITE', 'ACK'], seq.join(', '));
    // The 180 that came before the 183 went unreliably (only 183 is sent reliably to a peer that merely supports 100rel).
    for (const r of wire.responses('INVITE', { from: med.gatewayAddress, status: 180 })) assert.equal(r.get('rseq'), undefined);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
});

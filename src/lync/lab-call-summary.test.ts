/**
 * What a lab call's summary says beyond its state, checked against the
 * wire over real sockets: a withheld caller identity (`presentation`), the
 * Lync user and whether a PSTN party is on the call (`lyncUser`, `pstn`),
 * and which side holds it (`heldBy`: the lab's actions, and a hold
 * re-INVITE from a device outside the lab). An external device is played
 * by our own SIP core (`externalDevice`), as the lab's --external peers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallSummary, EngineEvent } from '../common/api.ts';
import { DeviceCalls } from '../qualify/device-call.ts';
import { buildAnswer, buildOffer, reoffer } from '../sdp/offer-answer.ts';
import type { Session } from '../sip/user-agent.ts';
import { address, connectedCall, externalDevice, startQuickLab, until } from './lab-test-support.ts';
import type { Lab } from './lab.ts';

const summaryOf = (lab: Lab, callId: string): CallSummary => {
  const s = lab.calls().find((c) => c.id === callId);
  assert.ok(s, `no call ${callId}`);
  return s;
};

/** The call events of one call, in order. */
const callEvents = (events: EngineEvent[], callId: string): CallSummary[] => events.flatMap((e) => (e.type === 'call' && e.call.id === callId ? [e.call] : []));

async function hangUp(lab: Lab, callId: string): Promise<CallSummary> {
  await lab.callAction(callId, { action: 'hangup' });
  return lab.waitForCall(callId);
}

test('presentation: anonymous callers and numbers or users that restrict it are "restricted" (and withheld on the wire); lyncUser and pstn name the parties', async () => {
  const { lab, wire } = await startQuickLab('lab.json', (input) => {
    const carol = input.users?.find((u) => u.name === 'carol');
    if (carol) carol.behaviour = { ...carol.behaviour, callerPresentation: 'restricted' };
  });
  try {
    const gw = address(lab, 'gw-a');
    const cases: Array<{ from: string; to: string; restricted: boolean; lyncUser: string; pstn: boolean; withheldBy: string }> = [
      { from: 'anonymous', to: 'alice', restricted: true, lyncUser: 'alice', pstn: true, withheldBy: gw },
      { from: 'anonymous@gw-a', to: 'alice', restricted: true, lyncUser: 'alice', pstn: true, withheldBy: gw },
      { from: 'anonymous:+14255550110', to: 'alice', restricted: true, lyncUser: 'alice', pstn: true, withheldBy: gw },
      // The fixture's number with callerPresentation: restricted.
      { from: '+14255550123', to: 'alice', restricted: true, lyncUser: 'alice', pstn: true, withheldBy: gw },
      { from: '+14255550110', to: 'alice', restricted: false, lyncUser: 'alice', pstn: true, withheldBy: gw },
      { from: 'carol', to: '+14255550110', restricted: true, lyncUser: 'carol', pstn: true, withheldBy: address(lab, 'carol') },
      { from: 'alice', to: '+14255550110', restricted: false, lyncUser: 'alice', pstn: true, withheldBy: address(lab, 'alice') },
      { from: 'alice', to: 'bob', restricted: false, lyncUser: 'alice', pstn: false, withheldBy: address(lab, 'alice') },
    ];
    for (const c of cases) {
      wire.clear();
      const { callId } = lab.placeCall({ from: c.from, to: c.to });
      // Known as soon as the call is placed.
      assert.equal(summaryOf(lab, callId).presentation, c.restricted ? 'restricted' : undefined, `${c.from}: at once`);
      await until(() => summaryOf(lab, callId).state === 'connected', 5000, `${c.from} → ${c.to} connected`);
      const s = summaryOf(lab, callId);
      assert.equal(s.presentation, c.restricted ? 'restricted' : undefined, c.from);
      assert.equal(s.lyncUser, c.lyncUser, `${c.from} → ${c.to}: the Lync user`);
      assert.equal(s.pstn, c.pstn ? true : undefined, `${c.from} → ${c.to}: a PSTN party`);
      // The caller's INVITE withheld its identity exactly when the summary says so.
      const invite = wire.requests('INVITE', { from: c.withheldBy }).find((m) => m.toTag === null);
      assert.ok(invite, `${c.from}: the caller's INVITE`);
      const withheld = invite.tokens('privacy').includes('id') || /^sips?:anonymous@/i.test(invite.from?.uriText ?? '');
      assert.equal(withheld, c.restricted, `${c.from}: Privacy / anonymous From on the wire`);
      assert.equal((await hangUp(lab, callId)).presentation, c.restricted ? 'restricted' : undefined, `${c.from}: kept in the final summary`);
    }
  } finally {
    await lab.stop();
  }
});

test('presentation of a call an external device places: restricted when its INVITE has Privacy: id or an anonymous From, not otherwise', async () => {
  const device = await externalDevice();
  const { lab } = await startQuickLab('single-gateway.json', undefined, [`gw-a=127.0.0.1:${device.port}/tcp`]);
  const peer = lab.topology.peers.find((p) => p.name === 'gw-a');
  assert.ok(peer);
  const sessions: Session[] = [];
  const invites: Array<{ from: string; headers: Array<{ name: string; value: string }> }> = [
    { from: '<sip:+14255550110@127.0.0.1;user=phone>', headers: [{ name: 'Privacy', value: 'id' }, { name: 'P-Asserted-Identity', value: '<sip:+14255550110@127.0.0.1;user=phone>' }] },
    { from: '"Anonymous" <sip:anonymous@anonymous.invalid>', headers: [] },
    { from: '<sip:+14255550110@127.0.0.1;user=phone>', headers: [] },
  ];
  let next = 0;
  const devices = new DeviceCalls(lab, 'presentation', {
    waitMs: 5000,
    request: (r) => {
      if (r.action !== 'call') return undefined;
      const { from, headers } = invites[next++];
      sessions.push(
        device.ua.invite({
          target: `sip:${r.dial}@${r.mediation.host}:${r.mediation.port};user=phone`,
          dest: { transport: 'tcp', host: r.mediation.host, port: r.mediation.port },
          from,
          sdp: buildOffer({ address: '127.0.0.1', port: 41000 }),
          headers,
        }),
      );
      return undefined;
    },
  });
  try {
    const expected = ['restricted', 'restricted', undefined];
    for (const [i, want] of expected.entries()) {
      const placed = await devices.place(`call-${i}`, '+14255550110', 'alice', peer);
      assert.ok(placed.ok, placed.ok ? '' : placed.reason);
      const session = sessions[i];
      await until(() => session.state === 'confirmed', 5000, 'the device call answered');
      const s = placed.call.record.summary();
      assert.equal(s.presentation, want, `INVITE ${i}: ${invites[i].from} ${JSON.stringify(invites[i].headers)}`);
      assert.equal(s.pstn, true);
      assert.equal(s.lyncUser, 'alice', 'the Lync user who took the call');
      assert.ok(lab.calls().some((c) => c.id === placed.call.record.id && c.presentation === want), 'the lab lists it so');
      session.hangup();
      await until(() => placed.call.record.finished, 5000, 'the device call ended');
    }
  } finally {
    await devices.close();
    await lab.stop();
    await device.close();
  }
});

test('heldBy: the Lync side\'s hold and the PSTN side\'s, each until its resume; a call between two Lync users is held by Lync', async () => {
  const { lab, wire, events } = await startQuickLab('lab.json');
  try {
    const alice = address(lab, 'alice');
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    assert.equal(summaryOf(lab, callId).heldBy, undefined);
    const held = await lab.callAction(callId, { action: 'hold' });
    assert.deepEqual([held.state, held.heldBy], ['held', 'lync']);
    assert.equal(callEvents(events, callId).at(-1)?.heldBy, 'lync', 'the event says so too');
    const resumed = await lab.callAction(callId, { action: 'resume' });
    assert.deepEqual([resumed.state, resumed.heldBy], ['connected', undefined]);

    wire.clear();
    const peerHeld = await lab.callAction(callId, { action: 'peer-hold', direction: 'inactive' });
    assert.deepEqual([peerHeld.state, peerHeld.heldBy], ['held', 'pstn']);
    // The hold relayed to alice: her answer is on the wire, and the summary still says PSTN.
    await until(() => wire.responses('INVITE', { from: alice, status: 200 }).length === 1, 3000, 'alice answered the relayed hold');
    assert.deepEqual([summaryOf(lab, callId).state, summaryOf(lab, callId).heldBy], ['held', 'pstn']);
    const peerResumed = await lab.callAction(callId, { action: 'peer-resume' });
    assert.deepEqual([peerResumed.state, peerResumed.heldBy], ['connected', undefined]);
    await until(() => wire.responses('INVITE', { from: alice, status: 200 }).length === 2, 3000, 'alice answered the relayed resume');
    assert.deepEqual([summaryOf(lab, callId).state, summaryOf(lab, callId).heldBy], ['connected', undefined]);
    assert.equal((await hangUp(lab, callId)).heldBy, undefined, 'not held once ended');

    const internal = await connectedCall(lab, 'alice', 'bob');
    const internalHeld = await lab.callAction(internal, { action: 'hold' });
    assert.deepEqual([internalHeld.state, internalHeld.heldBy, internalHeld.pstn], ['held', 'lync', undefined]);
    await until(() => wire.responses('INVITE', { from: address(lab, 'bob'), status: 200 }).length >= 2, 3000, 'bob answered the hold');
    assert.equal(summaryOf(lab, internal).heldBy, 'lync', 'bob sees a Lync user\'s hold');
    await hangUp(lab, internal);
  } finally {
    await lab.stop();
  }
});

test('heldBy from an external gateway\'s own re-INVITE: a=sendonly holds the call from the PSTN side, a=sendrecv resumes it', async () => {
  const device = await externalDevice();
  let answered: Session | null = null;
  device.ua.onInvite = (session) => {
    const answer = buildAnswer(session.remoteSdp ?? '', { address: '127.0.0.1', port: 41002 });
    session.answer(answer.ok ? answer.sdp : null);
    answered = session;
  };
  const { lab, wire, events } = await startQuickLab('single-gateway.json', undefined, [`gw-a=127.0.0.1:${device.port}/tcp`]);
  try {
    const alice = address(lab, 'alice');
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    const s = summaryOf(lab, callId);
    assert.equal(s.pstn, true, 'a device behind the trunk is a PSTN party, although the lab does not play it');
    assert.equal(s.lyncUser, 'alice');
    const session = answered as Session | null;
    assert.ok(session?.localSdp);
    wire.clear();
    const hold = await session.reinvite(reoffer(session.localSdp, 'sendonly'));
    assert.equal(hold?.status, 200);
    await until(() => summaryOf(lab, callId).state === 'held', 3000, 'held');
    assert.equal(summaryOf(lab, callId).heldBy, 'pstn');
    assert.equal(callEvents(events, callId).at(-1)?.heldBy, 'pstn');
    // What the lab saw: the Mediation Server relayed the device's hold to alice.
    const relayed = wire.requests('INVITE', { to: alice }).at(-1);
    assert.match(relayed?.bodyText ?? '', /a=sendonly/);

    const resume = await session.reinvite(reoffer(session.localSdp, 'sendrecv'));
    assert.equal(resume?.status, 200);
    await until(() => summaryOf(lab, callId).state === 'connected', 3000, 'resumed');
    assert.equal(summaryOf(lab, callId).heldBy, undefined);
    await hangUp(lab, callId);
  } finally {
    await lab.stop();
    await device.close();
  }
});

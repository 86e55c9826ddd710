/**
 * The call an attended transfer (REFER with Replaces, RFC 3891 / RFC 3515)
 * makes, as a lab call of its own, over real sockets: the transferee and
 * the consultation's other party, with the Call-IDs of its legs as the wire
 * has them, linked so the trace groups them as one call (the engine links a
 * lab call's legs as the Mediation Server's B2BUA joined them), its state
 * from connected to ended, and actions on it. With EnableReferSupport on
 * (the gateway INVITEs with Replaces) and off (the Mediation Server does
 * it, keeping the PBX leg); a Replaces that fails makes a failed call.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallSummary } from '../common/api.ts';
import { Engine } from '../engine/engine.ts';
import { labPort, topologyInfo } from '../engine/lab-adapter.ts';
import { address, connectedCall, direction, fixtureTopology, quick, sdpLines, startQuickLab, until, WireLog } from './lab-test-support.ts';
import { Lab } from './lab.ts';

/** The lab calls that were not there before. */
const newCalls = (lab: Lab, before: readonly CallSummary[]): CallSummary[] => lab.calls().filter((c) => !before.some((b) => b.id === c.id));

/** The one call the transfer made, once it is in `state`. */
async function joinedCall(lab: Lab, before: readonly CallSummary[], state: CallSummary['state']): Promise<CallSummary> {
  await until(() => newCalls(lab, before).some((c) => c.state === state), 5000, `the joined call ${state}`);
  const added = newCalls(lab, before);
  assert.equal(added.length, 1, JSON.stringify(added));
  return added[0];
}

test('EnableReferSupport on, to a Lync user: the gateway\'s party and bob are a new lab call whose legs are the INVITE with Replaces and its leg to bob, one call in the trace; held from the PSTN side, hung up', async () => {
  const engine = new Engine({ version: 'test' });
  const wire = new WireLog();
  const lab = await Lab.start(fixtureTopology('lab.json', quick), {
    timers: { t1: 100 },
    tap: (record) => {
      engine.tap(record);
      wire.tap(record);
    },
    onEvent: engine.onLabEvent,
  });
  engine.attachLab(labPort(lab), topologyInfo(lab.topology));
  try {
    const gw = address(lab, 'gw-a');
    const bob = address(lab, 'bob');
    const main = await connectedCall(lab, 'alice', '+14255550110');
    await lab.callAction(main, { action: 'hold' });
    const consult = await connectedCall(lab, 'alice', 'bob');
    const before = lab.calls();
    const consultLeg = before.find((c) => c.id === consult)?.legs[0];
    assert.ok(consultLeg);
    await lab.callAction(main, { action: 'transfer', replaces: consult });
    const joined = await joinedCall(lab, before, 'connected');
    assert.equal(joined.from, '+14255550110', 'the transferee: the PSTN party of the transferred call');
    assert.equal(joined.to, 'bob', 'the consultation\'s other party');
    assert.deepEqual([joined.lyncUser, joined.pstn, joined.presentation, joined.status], ['bob', true, undefined, 200]);
    assert.deepEqual(joined.trunks, ['t-med-1-gw-a']);
    await Promise.all([lab.waitForCall(main), lab.waitForCall(consult)]);

    // Its legs: the gateway's INVITE with Replaces (naming the consultation) and the one that reached bob.
    const withReplaces = wire.requests('INVITE', { from: gw }).find((m) => m.has('replaces'));
    const toBob = wire.requests('INVITE', { to: bob }).find((m) => m.has('replaces'));
    assert.ok(withReplaces && toBob);
    assert.match(withReplaces.get('replaces') ?? '', new RegExp(`^${consultLeg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')};`));
    assert.deepEqual(new Set(joined.legs), new Set([withReplaces.callId, toBob.callId]));
    // One call in the trace, joined by the B2BUA as the lab call says, without the consultation's leg.
    const traced = await engine.traceCall(joined.id);
    assert.ok(traced);
    const traceCallIds = new Set(traced.legs.map((l) => l.callId));
    for (const leg of joined.legs) assert.ok(traceCallIds.has(leg), `${leg} in the trace call (${[...traceCallIds].join(', ')})`);
    assert.ok(!traceCallIds.has(consultLeg), 'the consultation is another call');
    assert.ok(traced.links.some((k) => k.source === 'b2bua' && k.evidence.some((e) => e.includes(joined.id))), JSON.stringify(traced.links));
    assert.ok((await engine.calls()).some((c) => c.id === joined.id && c.state === 'connected'), 'the engine lists it');

    // The gateway's party holds: relayed to bob, who answers a=recvonly; the joined call is held from the PSTN side.
    wire.clear();
    const held = await lab.callAction(joined.id, { action: 'peer-hold' });
    assert.deepEqual([held.state, held.heldBy], ['held', 'pstn']);
    await until(() => wire.responses('INVITE', { from: bob, status: 200 }).length === 1, 3000, 'bob answered the hold');
    assert.equal(direction(sdpLines(wire.responses('INVITE', { from: bob, status: 200 })[0])), 'recvonly');
    const resumed = await lab.callAction(joined.id, { action: 'peer-resume' });
    assert.deepEqual([resumed.state, resumed.heldBy], ['connected', undefined]);
    await lab.callAction(joined.id, { action: 'hangup' });
    assert.equal((await lab.waitForCall(joined.id)).state, 'ended');
    await until(() => wire.requests('BYE', { to: bob }).length === 1, 3000, 'bob gets the BYE');
  } finally {
    await lab.stop();
    await engine.close();
  }
});

test('a caller with its identity withheld, transferred by alice to bob: the joined call is restricted too', async () => {
  const { lab } = await startQuickLab('lab.json');
  try {
    const main = await connectedCall(lab, 'anonymous:+14255550110', 'alice');
    await lab.callAction(main, { action: 'hold' });
    const consult = await connectedCall(lab, 'alice', 'bob');
    const before = lab.calls();
    await lab.callAction(main, { action: 'transfer', replaces: consult });
    const joined = await joinedCall(lab, before, 'connected');
    assert.deepEqual([joined.from, joined.to, joined.presentation, joined.lyncUser], ['anonymous:+14255550110', 'bob', 'restricted', 'bob']);
    await lab.callAction(joined.id, { action: 'hangup' });
    await lab.waitForCall(joined.id);
  } finally {
    await lab.stop();
  }
});

test('EnableReferSupport off (IP-PBX): the Mediation Server\'s INVITE with Replaces joins the PBX leg it kept to bob, and to another PBX extension (three legs); hanging up ends every leg', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const pbx = address(lab, 'pbx');
    const bob = address(lab, 'bob');
    const med = lab.topology.mediationServers[0];
    for (const target of ['bob', '2163'] as const) {
      const main = await connectedCall(lab, 'alice', '2160');
      await lab.callAction(main, { action: 'hold' });
      const consult = await connectedCall(lab, 'alice', target);
      const before = lab.calls();
      const pbxLeg = (id: string): string | undefined => before.find((c) => c.id === id)?.legs.find((l) => wire.requests('INVITE', { from: med.gatewayAddress, to: pbx }).some((m) => m.callId === l));
      const kept = pbxLeg(main);
      const other = pbxLeg(consult);
      assert.ok(kept, 'the PBX leg of the transferred call');
      wire.clear();
      await lab.callAction(main, { action: 'transfer', replaces: consult });
      const joined = await joinedCall(lab, before, 'connected');
      const withReplaces = wire.requests('INVITE', { from: med.address }).find((m) => m.has('replaces'));
      assert.ok(withReplaces);
      assert.equal(joined.from, '2160');
      assert.equal(joined.to, target);
      assert.ok(joined.legs.includes(kept), 'the PBX leg the Mediation Server kept');
      assert.ok(joined.legs.includes(withReplaces.callId), 'the Mediation Server\'s INVITE with Replaces');
      if (target === 'bob') {
        assert.equal(joined.legs.length, 2);
        assert.deepEqual([joined.lyncUser, joined.pstn], ['bob', true]);
      } else {
        assert.ok(other, 'the consultation\'s PBX leg');
        assert.deepEqual(new Set(joined.legs), new Set([kept, withReplaces.callId, other]), 'the other extension\'s leg too');
        assert.deepEqual([joined.lyncUser, joined.pstn], [undefined, true]);
      }
      await Promise.all([lab.waitForCall(main), lab.waitForCall(consult)]);
      wire.clear();
      await lab.callAction(joined.id, { action: 'hangup' });
      assert.equal((await lab.waitForCall(joined.id)).state, 'ended');
      // The PBX hangs up its leg (the caller of the joined call); the Mediation Server ends the rest.
      await until(() => wire.requests('BYE', { from: pbx }).length === 1, 3000, `${target}: the PBX's BYE`);
      if (target === 'bob') await until(() => wire.requests('BYE', { to: bob }).length === 1, 3000, 'bob gets the BYE');
      else await until(() => wire.requests('BYE', { to: pbx }).length === 1, 3000, 'the other extension gets the BYE');
    }
  } finally {
    await lab.stop();
  }
});

test('a Replaces that names a dialog gone meanwhile: the joined call fails with bob\'s 481', async () => {
  const { lab } = await startQuickLab('lab.json');
  try {
    const main = await connectedCall(lab, 'alice', '+14255550110');
    const consult = await connectedCall(lab, 'alice', 'bob');
    const before = lab.calls();
    const ended = lab.waitForCall(consult);
    const res = lab.callAction(main, { action: 'transfer', replaces: consult });
    lab.users.find((u) => u.user.name === 'bob')?.ua.hangupAll();
    await res;
    await ended;
    const joined = await joinedCall(lab, before, 'failed');
    assert.deepEqual([joined.from, joined.to, joined.status], ['+14255550110', 'bob', 481]);
  } finally {
    await lab.stop();
  }
});

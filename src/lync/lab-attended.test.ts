/**
 * Hold from the PSTN side and attended transfer (RFC 3891 Replaces with
 * RFC 3515 REFER) through the lab, over real sockets, checked on the wire:
 * - the peer holds with a=sendonly (or a=inactive): the Mediation Server
 *   answers a=recvonly (a=inactive) and relays the hold to the Lync user,
 *   who answers in kind; resume with a=sendrecv; on calls placed either way;
 * - attended transfer with EnableReferSupport on and off, to a Lync user and
 *   to a PSTN number, and the 481 of a Replaces that names nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReplaces, splitUriHeaders } from '../sip/dialog.ts';
import { address, connectedCall, direction, sdpLines, startQuickLab, until, wait } from './lab-test-support.ts';

test('hold from the PSTN side: a=sendonly → a=recvonly on both legs, then a=sendrecv; a=inactive on a call from the PSTN', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const gw = address(lab, 'gw-a');
    const alice = address(lab, 'alice');
    const med = lab.topology.mediationServers[0];
    const reinvites = (from: string, to: string) => wire.requests('INVITE', { from, to }).filter((m) => m.toTag !== null);
    const answers = (from: string, to: string) => wire.responses('INVITE', { from, to, status: 200 });
    for (const placed of ['by alice', 'from the PSTN'] as const) {
      wire.clear();
      const callId = placed === 'by alice' ? await connectedCall(lab, 'alice', '+14255550110') : await connectedCall(lab, '+14255550110', 'alice');
      const hold = placed === 'by alice' ? 'sendonly' : 'inactive';
      const answer = placed === 'by alice' ? 'recvonly' : 'inactive';
      const held = await lab.callAction(callId, { action: 'peer-hold', direction: hold });
      assert.equal(held.state, 'held');
      await until(() => answers(alice, lab.topology.frontEnd.address).length >= 1 + (placed === 'by alice' ? 0 : 1), 3000, 'alice answered the relayed hold');
      assert.equal(direction(sdpLines(reinvites(gw, med.gatewayAddress)[0])), hold, `${placed}: the gateway's hold`);
      assert.equal(direction(sdpLines(answers(med.gatewayAddress, gw).at(-1)!)), answer, `${placed}: the Mediation Server's answer`);
      assert.equal(direction(sdpLines(reinvites(lab.topology.frontEnd.address, alice)[0])), hold, `${placed}: relayed to alice`);
      assert.equal(direction(sdpLines(answers(alice, lab.topology.frontEnd.address).at(-1)!)), answer, `${placed}: alice's answer`);

      const resumed = await lab.callAction(callId, { action: 'peer-resume' });
      assert.equal(resumed.state, 'connected');
      await until(() => reinvites(lab.topology.frontEnd.address, alice).length === 2 && answers(alice, lab.topology.frontEnd.address).length >= 2 + (placed === 'by alice' ? 0 : 1), 3000, 'alice answered the resume');
      assert.equal(direction(sdpLines(reinvites(gw, med.gatewayAddress)[1])), 'sendrecv');
      assert.equal(direction(sdpLines(answers(alice, lab.topology.frontEnd.address).at(-1)!)), 'sendrecv');
      await lab.callAction(callId, { action: 'hangup' });
      assert.equal((await lab.waitForCall(callId)).state, 'ended');
      assert.equal(wire.requests('BYE').filter((b) => b.get('ms-diagnostics') !== undefined).length, 0, 'no call dropped');
    }
  } finally {
    await lab.stop();
  }
});

test('peer-hold on a call whose PSTN party has not answered is refused', async () => {
  const { lab } = await startQuickLab('lab.json');
  try {
    const { callId } = lab.placeCall({ from: 'alice', to: '+14255550112' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'ringing', 3000, 'ringing');
    await assert.rejects(lab.callAction(callId, { action: 'peer-hold' }), /no answered PSTN party/);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
});

test('attended transfer, EnableReferSupport on, to a Lync user: REFER with Replaces to the gateway, INVITE with Replaces to bob, the consultation BYEd', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const gw = address(lab, 'gw-a');
    const bob = address(lab, 'bob');
    const alice = address(lab, 'alice');
    const med = lab.topology.mediationServers[0];
    const main = await connectedCall(lab, 'alice', '+14255550110');
    await lab.callAction(main, { action: 'hold' });
    const consult = await connectedCall(lab, 'alice', 'bob');
    const consultInvite = wire.requests('INVITE', { from: alice }).find((m) => m.toTag === null && /bob@/.test(m.requestUri));
    assert.ok(consultInvite);
    const bobsTag = wire.responses('INVITE', { from: bob, status: 200 }).find((r) => r.callId === consultInvite.callId)?.toTag;
    assert.ok(bobsTag);
    wire.clear();
    await lab.callAction(main, { action: 'transfer', replaces: consult });
    await Promise.all([lab.waitForCall(main), lab.waitForCall(consult)]);

    const aliceRefer = wire.requests('REFER', { from: alice })[0];
    const referTo = splitUriHeaders(/<([^>]*)>/.exec(aliceRefer.get('refer-to') ?? '')?.[1] ?? '');
    assert.equal(referTo.uri, 'sip:bob@contoso.com');
    const named = parseReplaces(referTo.replaces ?? undefined);
    assert.ok(named);
    assert.equal(named.callId, consultInvite.callId);
    assert.equal(named.fromTag, consultInvite.fromTag, 'from-tag: alice\'s tag of the consultation');
    assert.equal(named.toTag, bobsTag, 'to-tag: bob\'s own tag (RFC 3891 §6.1: as the recipient sees the dialog)');

    const gwRefer = wire.requests('REFER', { from: med.gatewayAddress, to: gw })[0];
    const gwReferTo = splitUriHeaders(/<([^>]*)>/.exec(gwRefer.get('refer-to') ?? '')?.[1] ?? '');
    assert.match(gwReferTo.uri, /^sip:\+14255550102@/);
    assert.deepEqual(parseReplaces(gwReferTo.replaces ?? undefined), named, 'a Lync dialog: the Replaces goes to the gateway unchanged');
    const withReplaces = wire.requests('INVITE', { from: gw }).find((m) => m.has('replaces'));
    assert.ok(withReplaces, 'the gateway INVITEs with Replaces');
    assert.deepEqual(parseReplaces(withReplaces.get('replaces')), named);
    const toBob = wire.requests('INVITE', { to: bob }).find((m) => m.has('replaces'));
    assert.ok(toBob);
    assert.equal(wire.responses('INVITE', { from: bob, status: 180 }).filter((r) => r.callId === toBob.callId).length, 0, 'answered without ringing');
    assert.equal(wire.responses('INVITE', { from: bob, status: 200 }).filter((r) => r.callId === toBob.callId).length >= 1, true);
    const byeFromBob = wire.requests('BYE', { from: bob });
    assert.equal(byeFromBob.length, 1);
    assert.equal(byeFromBob[0].callId, named.callId, 'the replaced dialog ends with BYE');
    const notifies = wire.requests('NOTIFY', { from: gw });
    assert.deepEqual(notifies.map((n) => [n.contentType, n.bodyText.trim()]), [['message/sipfrag', 'SIP/2.0 100 Trying'], ['message/sipfrag', 'SIP/2.0 200 OK']]);
    await until(() => wire.requests('BYE', { from: gw }).length === 1, 3000, 'the gateway ends the transferred call');
    // The gateway and bob are connected: the new call is still up.
    await wait(100);
    assert.equal(wire.requests('BYE').filter((b) => b.callId === toBob.callId || b.callId === withReplaces.callId).length, 0);
  } finally {
    await lab.stop();
  }
});

test('attended transfer, EnableReferSupport on, to a PSTN number behind the same gateway: the Replaces is translated to the gateway\'s dialog, which joins both calls', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    const main = await connectedCall(lab, 'alice', '+14255550110');
    await lab.callAction(main, { action: 'hold' });
    const consult = await connectedCall(lab, 'alice', '+14255550119');
    const consultAtGw = wire.requests('INVITE', { from: med.gatewayAddress, to: gw }).find((m) => m.toTag === null && /^sip:\+14255550119@/.test(m.requestUri));
    assert.ok(consultAtGw);
    const gwTag = wire.responses('INVITE', { from: gw, status: 200 }).find((r) => r.callId === consultAtGw.callId)?.toTag;
    wire.clear();
    await lab.callAction(main, { action: 'transfer', replaces: consult });
    await Promise.all([lab.waitForCall(main), lab.waitForCall(consult)]);
    const gwRefer = wire.requests('REFER', { from: med.gatewayAddress, to: gw })[0];
    const named = parseReplaces(splitUriHeaders(/<([^>]*)>/.exec(gwRefer.get('refer-to') ?? '')?.[1] ?? '').replaces ?? undefined);
    assert.deepEqual(named, { callId: consultAtGw.callId, toTag: gwTag, fromTag: consultAtGw.fromTag, earlyOnly: false }, 'the gateway-side dialog of the consultation');
    assert.equal(wire.requests('INVITE', { from: gw }).length, 0, 'joined inside the gateway: no new INVITE');
    await until(() => wire.requests('BYE', { from: gw }).length === 2, 3000, 'both dialogs ended by the gateway');
    assert.deepEqual(new Set(wire.requests('BYE', { from: gw }).map((b) => b.callId)).has(consultAtGw.callId), true);
  } finally {
    await lab.stop();
  }
});

test('attended transfer, EnableReferSupport off: the Mediation Server INVITEs with Replaces (to bob, and through the Front End back to itself for a PBX extension), then re-INVITEs the PBX to sendrecv', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const pbx = address(lab, 'pbx');
    const bob = address(lab, 'bob');
    const alice = address(lab, 'alice');
    const med = lab.topology.mediationServers[0];
    for (const target of ['bob', '2163'] as const) {
      const main = await connectedCall(lab, 'alice', '2160');
      await lab.callAction(main, { action: 'hold' });
      const consult = await connectedCall(lab, 'alice', target);
      wire.clear();
      await lab.callAction(main, { action: 'transfer', replaces: consult });
      await Promise.all([lab.waitForCall(main), lab.waitForCall(consult)]);
      assert.equal(wire.requests('REFER', { to: pbx }).length, 0, `${target}: no REFER to the PBX`);
      const withReplaces = wire.requests('INVITE', { from: med.address }).find((m) => m.has('replaces'));
      assert.ok(withReplaces, `${target}: the Mediation Server's INVITE with Replaces`);
      assert.match(withReplaces.get('referred-by') ?? '', /alice@contoso\.com/);
      if (target === 'bob') {
        assert.equal(wire.requests('INVITE', { to: bob }).filter((m) => m.has('replaces')).length, 1);
        assert.equal(wire.requests('BYE', { from: bob }).length, 1, 'bob ends the replaced consultation');
      } else {
        // Routed as alice's call back to the PBX trunk: the Mediation Server replaces its own Lync-side leg.
        assert.equal(wire.requests('INVITE', { from: lab.topology.frontEnd.address, to: med.address }).filter((m) => m.has('replaces')).length, 1);
        assert.equal(wire.requests('INVITE', { to: pbx }).filter((m) => m.toTag === null).length, 0, 'no new call to the PBX');
      }
      await until(() => wire.requests('INVITE', { from: med.gatewayAddress, to: pbx }).some((m) => m.toTag !== null), 3000, `${target}: the re-INVITE to the PBX`);
      const reinvite = wire.requests('INVITE', { from: med.gatewayAddress, to: pbx }).find((m) => m.toTag !== null);
      assert.equal(direction(sdpLines(reinvite!)), 'sendrecv', 'off hold');
      assert.ok(wire.requests('BYE', { to: alice }).length >= 2, 'alice is out of both calls');
      assert.equal(wire.requests('BYE', { to: pbx }).length, 0, `${target}: the PBX leg stays up`);
      const aliceNotifies = wire.requests('NOTIFY', { to: alice });
      assert.deepEqual(aliceNotifies.map((n) => n.bodyText.trim()), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
      for (const c of lab.calls()) if (c.state !== 'ended' && c.state !== 'failed') await lab.callAction(c.id, { action: 'hangup' }).catch(() => undefined);
      lab.mediationServers[0].feUa.hangupAll();
      await wait(200);
    }
  } finally {
    await lab.stop();
  }
});

test('an INVITE with a Replaces that names no dialog gets 481 from the Lync user', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const main = await connectedCall(lab, 'alice', '+14255550110');
    const consult = await connectedCall(lab, 'alice', 'bob');
    // Bob hangs up the consultation as the REFER goes out: the Replaces the gateway then sends names nothing.
    const ended = lab.waitForCall(consult);
    const res = lab.callAction(main, { action: 'transfer', replaces: consult });
    lab.users.find((u) => u.user.name === 'bob')?.ua.hangupAll();
    await res;
    await ended;
    await until(() => wire.responses('INVITE', { from: address(lab, 'bob'), status: 481 }).length === 1, 5000, '481 from bob');
    await until(() => wire.requests('NOTIFY', { from: address(lab, 'gw-a') }).some((n) => /481/.test(n.bodyText)), 3000, 'the failure reported in a NOTIFY');
  } finally {
    await lab.stop();
  }
});

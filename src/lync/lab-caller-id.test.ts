/**
 * Caller ID privacy (RFC 3323, RFC 3325) through the lab, on the wire: an
 * anonymous PSTN caller stays anonymous to the Lync user whatever
 * ForwardPAI says (the asserted number goes as far as the Front End only
 * with ForwardPAI on); a Lync user with caller ID blocked reaches the
 * gateway as anonymous, with P-Asserted-Identity only where ForwardPAI is on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { address, connectedCall, startQuickLab } from './lab-test-support.ts';

const ANONYMOUS = /^"Anonymous" <sip:anonymous@anonymous\.invalid>/;

test('inbound, presentation restricted by the number (ForwardPAI off): From anonymous on every hop, Privacy: id kept, the number only on the trunk', async () => {
  const { lab, wire } = await startQuickLab('lab.json');
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    wire.clear();
    const callId = await connectedCall(lab, '+14255550123', 'alice');
    const fromGw = wire.requests('INVITE', { from: gw })[0];
    assert.match(fromGw.get('from') ?? '', ANONYMOUS);
    assert.deepEqual(fromGw.tokens('privacy'), ['id']);
    assert.match(fromGw.get('p-asserted-identity') ?? '', /^<sip:\+14255550123@/);
    assert.match(fromGw.rawText, /14255550123/, 'the number is on the trunk (so its absence below means something)');
    const toFe = wire.requests('INVITE', { from: med.address, to: lab.topology.frontEnd.address })[0];
    assert.match(toFe.get('from') ?? '', ANONYMOUS);
    assert.deepEqual(toFe.tokens('privacy'), ['id']);
    assert.equal(toFe.get('p-asserted-identity'), undefined, 'ForwardPAI is off on this trunk');
    const toAlice = wire.requests('INVITE', { to: address(lab, 'alice') })[0];
    assert.match(toAlice.get('from') ?? '', ANONYMOUS);
    assert.equal(toAlice.get('p-asserted-identity'), undefined);
    // Nowhere on the Lync side does the number show.
    for (const w of wire.all().filter((x) => x.message.callId === toFe.callId)) assert.doesNotMatch(w.message.rawText, /14255550123/, `${w.message.method || w.message.status}`);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
});

test('inbound, a call placed as "anonymous" with ForwardPAI on: P-Asserted-Identity and Privacy: id to the Front End, neither the number nor PAI to the Lync user', async () => {
  const { lab, wire } = await startQuickLab('lab.json', (input) => {
    const trunk = input.trunks?.find((t) => t.name === 't-med-1-gw-a');
    if (trunk) trunk.configuration = { ...(trunk.configuration ?? input.trunkConfiguration ?? {}), forwardPai: true };
  });
  try {
    const med = lab.topology.mediationServers[0];
    wire.clear();
    const callId = await connectedCall(lab, 'anonymous', 'alice');
    assert.equal(lab.calls().find((c) => c.id === callId)?.from, 'anonymous');
    const toFe = wire.requests('INVITE', { from: med.address, to: lab.topology.frontEnd.address })[0];
    assert.match(toFe.get('from') ?? '', ANONYMOUS);
    assert.deepEqual(toFe.tokens('privacy'), ['id']);
    assert.match(toFe.get('p-asserted-identity') ?? '', /^<sip:\+14255550110@/, 'the first number of the first peer, asserted');
    const toAlice = wire.requests('INVITE', { to: address(lab, 'alice') })[0];
    assert.match(toAlice.get('from') ?? '', ANONYMOUS);
    assert.equal(toAlice.get('p-asserted-identity'), undefined);
    assert.doesNotMatch(toAlice.rawText, /14255550110/);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
});

test('outbound, Lync user with caller ID blocked: Privacy: id from the client; From anonymous to the gateway, PAI only where ForwardPAI is on (IP-PBX)', async () => {
  const { lab, wire } = await startQuickLab('lab.json', (input) => {
    const alice = input.users?.find((u) => u.name === 'alice');
    if (alice) alice.behaviour = { ...alice.behaviour, callerPresentation: 'restricted' };
  });
  try {
    const med = lab.topology.mediationServers[0];
    wire.clear();
    const toGateway = await connectedCall(lab, 'alice', '+14255550110');
    assert.deepEqual(wire.requests('INVITE', { from: address(lab, 'alice') })[0].tokens('privacy'), ['id']);
    const gwInvite = wire.requests('INVITE', { from: med.gatewayAddress, to: address(lab, 'gw-a') })[0];
    assert.match(gwInvite.get('from') ?? '', ANONYMOUS);
    assert.match(gwInvite.get('from') ?? '', /;epid=/, 'the Mediation Server From keeps its epid');
    assert.deepEqual(gwInvite.tokens('privacy'), ['id']);
    assert.equal(gwInvite.get('p-asserted-identity'), undefined);
    assert.doesNotMatch(gwInvite.rawText, /14255550101/);

    const toPbx = await connectedCall(lab, 'alice', '2160');
    const pbxInvite = wire.requests('INVITE', { from: med.gatewayAddress, to: address(lab, 'pbx') })[0];
    assert.match(pbxInvite.get('from') ?? '', ANONYMOUS);
    assert.deepEqual(pbxInvite.tokens('privacy'), ['id']);
    assert.equal(pbxInvite.get('p-asserted-identity'), '<sip:0101@127.0.0.20;user=phone>', 'translated calling number, asserted');
    for (const id of [toGateway, toPbx]) {
      await lab.callAction(id, { action: 'hangup' });
      await lab.waitForCall(id);
    }
  } finally {
    await lab.stop();
  }
});

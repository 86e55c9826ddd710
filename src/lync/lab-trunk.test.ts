/**
 * Trunk configuration (`Set-CsTrunkConfiguration`) as it shows on the wire,
 * over real sockets: translation rules and RemovePlusFromUri on what the
 * peer receives, ForwardPAI and ForwardCallHistory both ways, the SIP
 * response code translation turning a 486 into a failover, and the
 * Mediation Server refusing an unknown peer and a peer's REFER.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildOffer } from '../sdp/offer-answer.ts';
import type { Session } from '../sip/user-agent.ts';
import type { Lab } from './lab.ts';
import { address, connectedCall, externalDevice, startQuickLab, until, wait } from './lab-test-support.ts';

const tel = (value: string | undefined): string => value ?? '';

test('IP-PBX trunk: outbound translation rules (called and calling number), PAI and History-Info on the INVITE the PBX receives', async () => {
  const { lab, wire } = await startQuickLab('ip-pbx.json');
  try {
    const pbx = address(lab, 'pbx');
    const med = lab.topology.mediationServers[0];
    const ext = await connectedCall(lab, 'alice', '2160');
    const invite = wire.requests('INVITE', { to: pbx })[0];
    assert.match(invite.requestUri, /^sip:2160@127\.0\.0\.40:\d+;user=phone$/, 'DID +14255550160 → extension 2160');
    assert.match(tel(invite.get('to')), /^<sip:2160@127\.0\.0\.40;user=phone>$/);
    assert.equal(invite.from?.uriText, `sip:0101@${med.gatewayAddress};user=phone`, 'calling +14255550101 → 0101');
    assert.match(tel(invite.get('from')), /^"Alice Anders" <sip:0101@/);
    assert.equal(invite.get('p-asserted-identity'), `<sip:0101@${med.gatewayAddress};user=phone>`, 'ForwardPAI');
    const history = invite.getAll('history-info');
    assert.equal(history.length, 2, 'ForwardCallHistory');
    assert.match(history[0], /^<sip:\+14255550160@pbx\.contoso\.com;user=phone>;index=1$/);
    assert.match(history[1], /^<sip:2160@127\.0\.0\.40:\d+;user=phone>;index=1\.1$/);
    assert.equal(invite.get('diversion'), undefined, 'Lync never sends Diversion');
    await lab.callAction(ext, { action: 'hangup' });
    await lab.waitForCall(ext);

    const national = await connectedCall(lab, 'alice', '+12065550100');
    assert.match(wire.requests('INVITE', { to: pbx }).filter((m) => m.toTag === null)[1].requestUri, /^sip:92065550100@/, 'the PBX wants 9 + the national number');
    await lab.callAction(national, { action: 'hangup' });
    await lab.waitForCall(national);
  } finally {
    await lab.stop();
  }
});

test('gateway trunk with RemovePlusFromUri: no + in Request-URI, To and From; no PAI or History-Info with ForwardPAI/ForwardCallHistory off', async () => {
  const { lab, wire } = await startQuickLab('single-gateway.json', (input) => {
    const trunk = input.trunks?.[0];
    if (trunk) trunk.configuration = { removePlusFromUri: true };
  });
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    const invite = wire.requests('INVITE', { to: gw })[0];
    assert.match(invite.requestUri, /^sip:14255550110@127\.0\.0\.30:\d+;user=phone$/);
    assert.match(tel(invite.get('to')), /^<sip:14255550110@/);
    assert.equal(invite.from?.uriText, `sip:14255550101@${med.gatewayAddress};user=phone`);
    assert.equal(invite.get('p-asserted-identity'), undefined);
    assert.equal(invite.get('history-info'), undefined);
    await lab.callAction(callId, { action: 'hangup' });
    assert.equal((await lab.waitForCall(callId)).status, 200, 'the gateway still finds its number');
  } finally {
    await lab.stop();
  }
});

/** Calls from an external device on `trunk` to `number` with a PAI and a History-Info of its own; resolves once answered. */
async function callFromDevice(lab: Lab, device: Awaited<ReturnType<typeof externalDevice>>, trunkName: string, from: string, number: string): Promise<Session> {
  const trunk = lab.topology.trunks.find((t) => t.name === trunkName);
  assert.ok(trunk);
  const session = device.ua.invite({
    target: `sip:${number}@${trunk.mediationAddress}:${trunk.mediationPort};user=phone`,
    dest: { transport: 'tcp', host: trunk.mediationAddress, port: trunk.mediationPort },
    from: `<sip:${from}@127.0.0.1;user=phone>`,
    sdp: buildOffer({ address: '127.0.0.1', port: 41000 }),
    headers: [
      { name: 'P-Asserted-Identity', value: `<sip:${from}@127.0.0.1;user=phone>` },
      { name: 'History-Info', value: '<sip:2199@127.0.0.1;user=phone>;index=1' },
    ],
  });
  await until(() => session.state === 'confirmed' || session.ended, 5000, 'the device call answered');
  assert.equal(session.state, 'confirmed', JSON.stringify(session.endReason));
  return session;
}

test('ForwardPAI and ForwardCallHistory on calls from the peer: a device on the IP-PBX trunk sends PAI and History-Info and Lync gets them; a peer REFER is refused (10006)', async () => {
  const device = await externalDevice();
  const { lab, wire } = await startQuickLab('ip-pbx.json', undefined, [`pbx=127.0.0.1:${device.port}/tcp`]);
  try {
    const med = lab.topology.mediationServers[0];
    const fe = lab.topology.frontEnd.address;
    const session = await callFromDevice(lab, device, 't-med-1-pbx', '2161', '0101');
    const invite = wire.requests('INVITE', { from: med.address, to: fe })[0];
    assert.ok(invite);
    assert.equal(invite.get('p-asserted-identity'), '<sip:2161@127.0.0.1;user=phone>');
    assert.deepEqual(invite.getAll('history-info'), ['<sip:2199@127.0.0.1;user=phone>;index=1']);
    assert.equal(invite.get('ms-call-source'), 'non-ms-rtc');
    assert.match(tel(invite.get('from')), /^<sip:2161;phone-context=dialstring@contoso\.com;user=phone>;epid=\w+;tag=/);
    // Alice (Line URI +14255550101, the PBX dialed 0101) rang and answered.
    assert.equal(wire.responses('INVITE', { from: address(lab, 'alice'), status: 200 }).length, 1);

    const refer = await session.sendInDialog('REFER', undefined, [{ name: 'Refer-To', value: '<sip:2162@127.0.0.1>' }]);
    assert.equal(refer?.status, 403);
    assert.match(tel(refer?.get('ms-diagnostics')), /^10006;reason="REFER from the gateway side is not supported";source="med1\.contoso\.com"/);
    session.hangup();
    await until(() => wire.requests('BYE', { to: address(lab, 'alice') }).length === 1, 3000, 'BYE to Alice');
  } finally {
    await lab.stop();
    await device.close();
  }
});

test('ForwardPAI and ForwardCallHistory off (gateway trunk): the peer\'s PAI and History-Info stop at the Mediation Server', async () => {
  const device = await externalDevice();
  const { lab, wire } = await startQuickLab('single-gateway.json', undefined, [`gw-a=127.0.0.1:${device.port}/tcp`]);
  try {
    const med = lab.topology.mediationServers[0];
    const session = await callFromDevice(lab, device, 't-med-1-gw-a', '+14255550110', '+14255550101');
    const invite = wire.requests('INVITE', { from: med.address, to: lab.topology.frontEnd.address })[0];
    assert.ok(invite);
    assert.equal(invite.get('p-asserted-identity'), undefined);
    assert.equal(invite.get('history-info'), undefined);
    assert.equal(invite.get('ms-call-source'), undefined, 'a PSTN gateway is not a non-ms-rtc source');
    assert.match(tel(invite.get('from')), /^<sip:\+14255550110@contoso\.com;user=phone>;epid=\w+;tag=/);
    session.hangup();
  } finally {
    await lab.stop();
    await device.close();
  }
});

test('SipResponseCodeTranslationRulesList: a 486 translated to 503 fails over to the next trunk; without the rule the 486 ends the call', async () => {
  const twoGateways = (translate: boolean) => (input: Parameters<NonNullable<Parameters<typeof startQuickLab>[1]>>[0]): void => {
    input.peers?.push({ name: 'gw-b', kind: 'gateway', address: '127.0.0.31', port: 0, transport: 'tcp', behaviour: { unknownNumber: { outcome: 'answer', answerAfterMs: 50 } } });
    input.trunks?.push({ name: 't-med-1-gw-b', mediationServer: 'med-1', peer: 'gw-b', transport: 'tcp' });
    const first = input.trunks?.[0];
    if (first && translate) {
      first.configuration = { sipResponseCodeTranslationRules: [{ name: 'Busy-Is-Congestion', receivedResponseCode: 486, translatedResponseCode: 503 }] };
    }
    for (const r of input.voiceRoutes ?? []) r.trunks = ['t-med-1-gw-a', 't-med-1-gw-b'];
  };
  const { lab, wire } = await startQuickLab('single-gateway.json', twoGateways(true));
  try {
    const med = lab.topology.mediationServers[0];
    const callId = await connectedCall(lab, 'alice', '+14255550111');
    const summary = lab.calls().find((c) => c.id === callId);
    assert.deepEqual(summary?.trunks, ['t-med-1-gw-a', 't-med-1-gw-b']);
    assert.equal(wire.responses('INVITE', { from: address(lab, 'gw-a'), status: 486 }).length, 1, 'gw-a is busy');
    const toFe = wire.responses('INVITE', { from: med.address, to: lab.topology.frontEnd.address, status: 503 })[0];
    assert.ok(toFe, 'the Mediation Server reports 503 to the Front End');
    assert.match(tel(toFe.get('ms-diagnostics')), /^10001;.*GatewayResponse="486 Busy Here";Trunk="t-med-1-gw-a"/);
    assert.equal(wire.requests('INVITE', { to: address(lab, 'gw-b') }).length, 1, 'then the next trunk');
    await lab.callAction(callId, { action: 'hangup' });
    assert.equal((await lab.waitForCall(callId)).status, 200);
  } finally {
    await lab.stop();
  }
  const plain = await startQuickLab('single-gateway.json', twoGateways(false));
  try {
    const { callId } = plain.lab.placeCall({ from: 'alice', to: '+14255550111' });
    const done = await plain.lab.waitForCall(callId);
    assert.equal(done.status, 486);
    assert.deepEqual(done.trunks, ['t-med-1-gw-a']);
    await wait(100);
    assert.equal(plain.wire.requests('INVITE', { to: address(plain.lab, 'gw-b') }).length, 0, 'a 4xx ends the call');
  } finally {
    await plain.lab.stop();
  }
});

test('an unknown peer is refused: 403 with ms-diagnostics 10005 naming it', async () => {
  const rogue = await externalDevice('127.0.0.2');
  const { lab, wire } = await startQuickLab('single-gateway.json');
  try {
    const trunk = lab.topology.trunks[0];
    const session = rogue.ua.invite({
      target: `sip:+14255550101@${trunk.mediationAddress}:${trunk.mediationPort};user=phone`,
      dest: { transport: 'tcp', host: trunk.mediationAddress, port: trunk.mediationPort },
      from: '<sip:+12065550100@127.0.0.2;user=phone>',
      sdp: buildOffer({ address: '127.0.0.2', port: 41000 }),
    });
    await until(() => session.ended, 3000, 'the refusal');
    assert.equal(session.endReason?.kind, 'rejected');
    const refusal = wire.responses('INVITE', { to: '127.0.0.2' })[0];
    assert.equal(refusal.status, 403);
    assert.match(tel(refusal.get('ms-diagnostics')), /^10005;reason="Request from a peer that is not configured as a trunk of this Mediation Server";source="med1\.contoso\.com";Peer="127\.0\.0\.2:\d+"$/);
    assert.equal(wire.requests('INVITE', { to: lab.topology.frontEnd.address }).length, 0, 'nothing reached the Front End');
  } finally {
    await lab.stop();
    await rogue.close();
  }
});

/**
 * Call features over real sockets, checked on the wire (the lab's capture
 * tap, parsed): hold and resume (Lync's a=inactive passed to the peer, a
 * sendrecv answer drops the call), blind transfer with EnableReferSupport on
 * and off, RFC 4733 DTMF, a Lync user answering by hand, the session timer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { address, connectedCall, direction, sdpLines, startQuickLab as start, until, wait } from './lab-test-support.ts';

test('hold: a=inactive from Lync reaches the gateway as a re-INVITE, the proper answer keeps the call; resume sends a=sendrecv', async () => {
  const { lab, wire } = await start('single-gateway.json');
  try {
    const gw = address(lab, 'gw-a');
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    const initial = wire.requests('INVITE', { to: gw }).find((m) => m.toTag === null);
    assert.ok(initial);
    const held = await lab.callAction(callId, { action: 'hold' });
    assert.equal(held.state, 'held');
    const reinvites = () => wire.requests('INVITE', { to: gw }).filter((m) => m.toTag !== null);
    await until(() => wire.responses('INVITE', { from: gw, status: 200 }).length >= 2, 3000, 'the gateway answered the hold');
    const hold = reinvites()[0];
    assert.equal(direction(sdpLines(hold)), 'inactive', hold.bodyText);
    // Same SDP session, next version (RFC 3264 §8).
    const origin = (m: { bodyText: string }) => /^o=\S+ (\d+) (\d+)/m.exec(m.bodyText)?.slice(1).map(Number) ?? [];
    assert.equal(origin(hold)[0], origin(initial)[0]);
    assert.equal(origin(hold)[1], origin(initial)[1] + 1);
    const holdAnswer = wire.responses('INVITE', { from: gw, status: 200 }).at(-1);
    assert.ok(holdAnswer);
    assert.equal(direction(sdpLines(holdAnswer)), 'inactive');
    // Alice's own re-INVITE was answered by the Mediation Server with a=inactive too.
    const toAlice = wire.responses('INVITE', { to: address(lab, 'alice'), status: 200 }).at(-1);
    assert.ok(toAlice);
    assert.equal(direction(sdpLines(toAlice)), 'inactive');

    const resumed = await lab.callAction(callId, { action: 'resume' });
    assert.equal(resumed.state, 'connected');
    await until(() => reinvites().length >= 2 && wire.responses('INVITE', { from: gw, status: 200 }).length >= 3, 3000, 'the gateway answered the resume');
    assert.equal(direction(sdpLines(reinvites()[1])), 'sendrecv');
    await wait(100);
    assert.equal(lab.calls().find((c) => c.id === callId)?.state, 'connected', 'still up after hold and resume');
    assert.equal(wire.requests('BYE').length, 0);
    await lab.callAction(callId, { action: 'hangup' });
    const done = await lab.waitForCall(callId);
    assert.equal(done.state, 'ended');
    assert.equal(done.status, 200);
  } finally {
    await lab.stop();
  }
});

test('hold: a gateway answering a=inactive with a=sendrecv gets the call dropped, BYE both ways with ms-diagnostics 10010', async () => {
  const { lab, wire } = await start('single-gateway.json');
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    const callId = await connectedCall(lab, 'alice', '+14255550117');
    await lab.callAction(callId, { action: 'hold' });
    const done = await lab.waitForCall(callId);
    assert.equal(done.state, 'ended');
    const answer = wire.responses('INVITE', { from: gw, status: 200 }).at(-1);
    assert.ok(answer);
    assert.equal(direction(sdpLines(answer)), 'sendrecv', 'the misbehaving answer');
    await until(() => wire.requests('BYE', { to: gw }).length === 1 && wire.requests('BYE', { to: address(lab, 'alice') }).length === 1, 3000, 'both BYEs');
    const byeToGw = wire.requests('BYE', { from: med.gatewayAddress, to: gw })[0];
    assert.match(byeToGw.get('ms-diagnostics') ?? '', /^10010;reason="Call dropped: the gateway did not accept hold";source="med1\.contoso\.com"/);
    const byeToFe = wire.requests('BYE', { from: med.address, to: lab.topology.frontEnd.address })[0];
    assert.match(byeToFe.get('ms-diagnostics') ?? '', /^10010;/);
    // The Front End relays it to Alice, diagnostics included.
    assert.match(wire.requests('BYE', { to: address(lab, 'alice') })[0].get('ms-diagnostics') ?? '', /^10010;/);
  } finally {
    await lab.stop();
  }
});

test('hold: a=recvonly (IP-PBX 2163) keeps the call, and a Lync user called from the PBX holds the PBX leg too', async () => {
  const { lab, wire } = await start('ip-pbx.json');
  try {
    const pbx = address(lab, 'pbx');
    const out = await connectedCall(lab, 'alice', '2163');
    await lab.callAction(out, { action: 'hold' });
    await until(() => wire.responses('INVITE', { from: pbx, status: 200 }).length >= 2, 3000, 'the PBX answered the hold');
    assert.equal(direction(sdpLines(wire.responses('INVITE', { from: pbx, status: 200 }).at(-1)!)), 'recvonly');
    await wait(150);
    assert.equal(lab.calls().find((c) => c.id === out)?.state, 'held');
    assert.equal(wire.requests('BYE').length, 0, 'recvonly is an acceptable hold answer');
    await lab.callAction(out, { action: 'hangup' });
    assert.equal((await lab.waitForCall(out)).status, 200);

    // PSTN/PBX → Lync: Alice is the callee and holds.
    wire.clear();
    const inbound = await connectedCall(lab, '2160', 'alice');
    const callee = lab.calls().find((c) => c.id === inbound);
    assert.ok(callee);
    await lab.callAction(inbound, { action: 'hold' });
    await until(() => wire.requests('INVITE', { to: pbx }).some((m) => m.toTag !== null), 3000, 're-INVITE to the PBX');
    const reinvite = wire.requests('INVITE', { to: pbx }).find((m) => m.toTag !== null);
    assert.ok(reinvite);
    assert.equal(direction(sdpLines(reinvite)), 'inactive');
    await lab.callAction(inbound, { action: 'hangup' });
    await lab.waitForCall(inbound);
  } finally {
    await lab.stop();
  }
});

test('transfer, EnableReferSupport true: REFER to the gateway, which calls the target back through Lync and reports with NOTIFY', async () => {
  const { lab, wire } = await start('single-gateway.json');
  try {
    const gw = address(lab, 'gw-a');
    const med = lab.topology.mediationServers[0];
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    await lab.callAction(callId, { action: 'transfer', target: 'bob' });
    // Alice's REFER was accepted by the Mediation Server; its own REFER to the gateway follows.
    await until(() => wire.responses('REFER', { from: gw }).length === 1, 3000, 'the gateway answered the REFER');
    const refer = wire.requests('REFER', { from: med.gatewayAddress, to: gw })[0];
    assert.ok(refer, 'REFER to the gateway');
    assert.match(refer.get('refer-to') ?? '', /^<sip:\+14255550102@[^>]*;user=phone>$/, 'Refer-To is Bob\'s number');
    assert.ok(refer.get('referred-by'));
    assert.equal(wire.responses('REFER', { from: gw })[0]?.status, 202);
    await until(() => wire.requests('INVITE', { to: address(lab, 'bob') }).length === 1, 3000, 'Bob rings');
    const newCall = wire.requests('INVITE', { from: gw, to: med.gatewayAddress }).find((m) => m.toTag === null);
    assert.ok(newCall, 'the gateway placed the transferred call towards Lync');
    assert.match(newCall.requestUri, /^sip:\+14255550102@/);
    const done = await lab.waitForCall(callId);
    assert.equal(done.state, 'ended', 'the transferred call ended for Alice');
    const notifies = wire.requests('NOTIFY', { from: gw });
    assert.deepEqual(notifies.map((n) => n.bodyText.trim()), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
    // Relayed to Alice (the transferor).
    await until(() => wire.requests('NOTIFY', { to: address(lab, 'alice') }).length === 2, 3000, 'NOTIFYs relayed to Alice');
    assert.equal(wire.requests('BYE', { from: gw }).length, 1, 'the gateway ended the original call');
  } finally {
    await lab.stop();
  }
});

test('transfer, EnableReferSupport false (IP-PBX): no REFER to the PBX; the Mediation Server calls the target, keeps the PBX leg and BYEs the transferor', async () => {
  const { lab, wire } = await start('ip-pbx.json');
  try {
    const pbx = address(lab, 'pbx');
    const bob = address(lab, 'bob');
    const med = lab.topology.mediationServers[0];
    const callId = await connectedCall(lab, 'alice', '2160');
    await lab.callAction(callId, { action: 'transfer', target: 'bob' });
    assert.equal(wire.responses('REFER', { to: address(lab, 'alice') })[0]?.status, 202);
    await until(() => wire.responses('INVITE', { from: bob, status: 200 }).length === 1, 3000, 'Bob answers');
    const invite = wire.requests('INVITE', { from: med.address, to: lab.topology.frontEnd.address }).find((m) => m.toTag === null);
    assert.ok(invite, 'the Mediation Server placed the new call to the Front End');
    assert.match(invite.requestUri, /^sip:bob@contoso\.com/);
    assert.match(invite.get('referred-by') ?? '', /sip:alice@contoso\.com/);
    assert.match(invite.get('ms-call-source') ?? '', /non-ms-rtc/);
    const done = await lab.waitForCall(callId);
    assert.equal(done.state, 'ended');
    await until(() => wire.requests('NOTIFY', { to: address(lab, 'alice') }).length === 2, 3000, 'NOTIFYs to Alice');
    assert.deepEqual(wire.requests('NOTIFY', { to: address(lab, 'alice') }).map((n) => n.bodyText.trim()), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
    assert.equal(wire.requests('REFER', { to: pbx }).length, 0, 'never a REFER to the PBX');
    await wait(100);
    assert.equal(wire.requests('BYE', { to: pbx }).length, 0, 'the PBX leg stays up, now joined to Bob');
    // Bob hangs up: the BYE reaches the PBX through the new pairing.
    lab.users.find((u) => u.user.name === 'bob')?.ua.hangupAll();
    await until(() => wire.requests('BYE', { to: pbx }).length === 1, 3000, 'BYE to the PBX after Bob hangs up');
  } finally {
    await lab.stop();
  }
});

test('DTMF: telephone-event 101 (0-16) offered to the gateway; digits relayed as RFC 4733, or reported in-band-only for a number without it', async () => {
  const { lab, wire, events } = await start('single-gateway.json', (input) => {
    const early = input.peers?.[0].numbers?.find((n) => n.number === '+14255550115');
    if (early) early.behaviour = { ...early.behaviour, answerAfterMs: 400, earlyMediaAfterMs: 20, sendDigitsAfterMs: 50 };
  });
  try {
    const gw = address(lab, 'gw-a');
    const callId = await connectedCall(lab, 'alice', '+14255550110');
    const offer = sdpLines(wire.requests('INVITE', { to: gw })[0]);
    assert.ok(offer.some((l) => /^m=audio \d+ RTP\/AVP 8 0 101$/.test(l)), offer.join('\n'));
    assert.ok(offer.includes('a=rtpmap:101 telephone-event/8000'));
    assert.ok(offer.includes('a=fmtp:101 0-16'));
    const answer = sdpLines(wire.responses('INVITE', { from: gw, status: 200 })[0]);
    assert.ok(answer.includes('a=fmtp:101 0-16'), answer.join('\n'));
    await lab.callAction(callId, { action: 'dtmf', digits: '123#' });
    assert.ok(events.some((e) => e.type === 'log' && /alice: DTMF 123# as RFC 4733 events \(payload 101\)/.test(e.text)));
    assert.ok(events.some((e) => e.type === 'log' && /med-1: DTMF 123# relayed to gw-a as RFC 4733 events \(payload 101\)/.test(e.text)));
    await assert.rejects(lab.callAction(callId, { action: 'dtmf', digits: '12x' }), /not DTMF digits/);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);

    const plain = await connectedCall(lab, 'alice', '+14255550119');
    const noTe = wire.responses('INVITE', { from: gw, status: 200 }).at(-1);
    assert.ok(noTe && !/telephone-event/.test(noTe.bodyText), 'this number answers without telephone-event');
    await lab.callAction(plain, { action: 'dtmf', digits: '5' });
    assert.ok(events.some((e) => e.type === 'log' && e.level === 'warn' && /DTMF 5 .*cannot go to gw-a as RFC 4733/.test(e.text)));
    await lab.callAction(plain, { action: 'hangup' });
    await lab.waitForCall(plain);

    // A PSTN number sending digits during early media (183 with SDP).
    const early = lab.placeCall({ from: 'alice', to: '+14255550115' });
    await until(() => events.some((e) => e.type === 'log' && /gw-a: DTMF 123# as RFC 4733 events \(payload 101\)/.test(e.text)), 3000, 'digits in early media');
    assert.ok(wire.responses('INVITE', { from: gw, status: 183 }).some((m) => /a=fmtp:101 0-16/.test(m.bodyText)));
    await lab.callAction(early.callId, { action: 'hangup' });
    await lab.waitForCall(early.callId);
  } finally {
    await lab.stop();
  }
});

test('manual answer: a PSTN call rings Frank (no-answer) until callAction answer; then 200 OK from Frank', async () => {
  const { lab, wire } = await start('single-gateway.json');
  try {
    const frank = address(lab, 'frank');
    const { callId } = lab.placeCall({ from: '+14255550110', to: 'frank' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'ringing', 3000, 'ringing');
    await wait(200);
    assert.equal(wire.responses('INVITE', { from: frank, status: 200 }).length, 0, 'not answered by itself');
    assert.equal(wire.responses('INVITE', { from: frank, status: 180 }).length, 1);
    await lab.callAction(callId, { action: 'answer' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 3000, 'connected');
    assert.equal(wire.responses('INVITE', { from: frank, status: 200 }).length, 1);
    await assert.rejects(lab.callAction(callId, { action: 'answer' }), /no ringing Lync user/);
    await lab.callAction(callId, { action: 'hangup' });
    const done = await lab.waitForCall(callId);
    assert.equal(done.status, 200);
  } finally {
    await lab.stop();
  }
});

test('session timer (EnableSessionTimer, IP-PBX): Session-Expires on the INVITE and the answer, refresh re-INVITEs from the Mediation Server; none on a trunk without it', async () => {
  const { lab, wire } = await start('ip-pbx.json', (input) => {
    const config = input.trunks?.[0].configuration;
    if (config) config.sessionRefreshIntervalMs = 250;
  });
  try {
    const pbx = address(lab, 'pbx');
    const med = lab.topology.mediationServers[0];
    const out = await connectedCall(lab, 'alice', '2160');
    const invite = wire.requests('INVITE', { to: pbx }).find((m) => m.toTag === null);
    assert.ok(invite);
    assert.equal(invite.get('session-expires'), '1800;refresher=uac');
    assert.equal(invite.get('min-se'), '90');
    assert.ok(invite.getAll('supported').join(',').includes('timer'));
    await until(() => wire.requests('INVITE', { to: pbx }).filter((m) => m.toTag !== null).length >= 2, 3000, 'two refreshes');
    const refreshes = wire.requests('INVITE', { from: med.gatewayAddress, to: pbx }).filter((m) => m.toTag !== null);
    for (const r of refreshes) {
      assert.equal(r.get('session-expires'), '1800;refresher=uac');
      assert.equal(direction(sdpLines(r)), 'sendrecv', 'a refresh keeps the media as it is');
    }
    await until(() => wire.responses('INVITE', { from: pbx, status: 200 }).length >= 3, 3000, 'each refresh answered');
    await lab.callAction(out, { action: 'hangup' });
    await lab.waitForCall(out);
    const refreshCount = wire.requests('INVITE', { to: pbx }).filter((m) => m.toTag !== null).length;
    await wait(400);
    assert.equal(wire.requests('INVITE', { to: pbx }).filter((m) => m.toTag !== null).length, refreshCount, 'refreshes stop with the call');

    // PBX → Lync: the Mediation Server answers with Session-Expires (it refreshes: refresher=uas).
    wire.clear();
    const inbound = await connectedCall(lab, '2160', 'alice');
    const ok = wire.responses('INVITE', { from: med.gatewayAddress, to: pbx, status: 200 })[0];
    assert.ok(ok);
    assert.equal(ok.get('session-expires'), '1800;refresher=uas');
    assert.equal(ok.get('require'), 'timer', 'the PBX said Supported: timer');
    await until(() => wire.requests('INVITE', { from: med.gatewayAddress, to: pbx }).length >= 1, 3000, 'a refresh of the inbound call');
    await lab.callAction(inbound, { action: 'hangup' });
    await lab.waitForCall(inbound);
  } finally {
    await lab.stop();
  }
  const plain = await start('single-gateway.json');
  try {
    const callId = await connectedCall(plain.lab, 'alice', '+14255550110');
    const invite = plain.wire.requests('INVITE', { to: address(plain.lab, 'gw-a') })[0];
    assert.equal(invite.get('session-expires'), undefined);
    await plain.lab.callAction(callId, { action: 'hangup' });
    await plain.lab.waitForCall(callId);
  } finally {
    await plain.lab.stop();
  }
});

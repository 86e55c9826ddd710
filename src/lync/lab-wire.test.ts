/**
 * What a Mediation Server's messages look like on the wire (domain doc "How
 * a real Mediation Server message looks"), read from the lab's capture tap:
 * User-Agent, upper-case header names on the gateway side, Supported:
 * 100rel, epid before the tag, the SDP, SRTP lines per SRTPMode, and on the
 * Lync side `ms-call-source: non-ms-rtc` and dialstring callers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MEDIATION_PRODUCT } from './mediation-server.ts';
import { address, connectedCall, headerNamesAsSent, sdpLines, startQuickLab, until } from './lab-test-support.ts';
import type { TopologyInput } from './topology.ts';

const upperCase = (names: string[]): string[] => names.filter((n) => n !== n.toUpperCase());

test('gateway side: RTCC/5.0.0.0 MediationServer, upper-case header names on every message, SUPPORTED: 100rel, epid before the tag, the Mediation SDP', async () => {
  const { lab, wire } = await startQuickLab('single-gateway.json');
  try {
    const gw = address(lab, 'gw-a');
    const fe = lab.topology.frontEnd.address;
    const med = lab.topology.mediationServers[0];
    const out = await connectedCall(lab, 'alice', '+14255550110');
    await lab.callAction(out, { action: 'hangup' });
    await lab.waitForCall(out);
    const inbound = await connectedCall(lab, '+14255550110', 'alice');
    await lab.callAction(inbound, { action: 'hangup' });
    await lab.waitForCall(inbound);
    await until(() => wire.responses('BYE', { to: gw }).length === 1, 3000, 'the 200 to the gateway\'s BYE');

    const invite = wire.requests('INVITE', { from: med.gatewayAddress, to: gw })[0];
    const raw = Buffer.from(invite.raw).toString('latin1');
    for (const name of ['FROM', 'TO', 'CALL-ID', 'CSEQ', 'VIA', 'MAX-FORWARDS', 'CONTACT', 'SUPPORTED', 'USER-AGENT', 'CONTENT-TYPE', 'CONTENT-LENGTH']) {
      assert.match(raw, new RegExp(`^${name}: `, 'm'), `${name}: in\n${raw}`);
    }
    assert.equal(invite.get('user-agent'), MEDIATION_PRODUCT);
    assert.equal(MEDIATION_PRODUCT, 'RTCC/5.0.0.0 MediationServer');
    assert.match(invite.getAll('supported').join(', '), /\b100rel\b/);
    assert.match(invite.get('from') ?? '', /^"Alice Anders" <sip:\+14255550101@127\.0\.0\.20;user=phone>;epid=[0-9a-z]+;tag=[0-9a-z]+$/);
    const sdp = sdpLines(invite);
    assert.ok(sdp.includes('s=session'), sdp.join('\n'));
    assert.ok(sdp.includes('b=CT:1000'));
    assert.ok(sdp.some((l) => /^m=audio \d+ RTP\/AVP 8 0 101$/.test(l)));
    assert.ok(sdp.includes('a=rtpmap:8 PCMA/8000') && sdp.includes('a=rtpmap:0 PCMU/8000'));
    assert.ok(sdp.includes('a=fmtp:101 0-16'));
    assert.ok(!sdp.some((l) => /^a=(crypto|tcap|pcfg):/.test(l)), 'no SRTP on a TCP trunk (SRTPMode forced to NotSupported)');

    // Every message the gateway side sent (INVITE, ACK, BYE, 100 Trying, 180, 200, OPTIONS...): upper-case names only.
    const sentToGw = wire.find({ from: med.gatewayAddress, to: gw });
    const kinds = new Set(sentToGw.map((w) => (w.message.kind === 'request' ? w.message.method : `${w.message.status} ${w.message.method}`)));
    for (const k of ['INVITE', 'ACK', 'BYE', '100 INVITE', '180 INVITE', '200 INVITE', '200 BYE']) assert.ok(kinds.has(k), `${k} in ${[...kinds].join(', ')}`);
    for (const w of sentToGw) assert.deepEqual(upperCase(headerNamesAsSent(w.message)), [], w.message.kind === 'request' ? w.message.method : String(w.message.status));
    // The Lync side keeps the usual spelling.
    const toFe = wire.requests('INVITE', { from: med.address, to: fe })[0];
    assert.ok(headerNamesAsSent(toFe).includes('Via') && headerNamesAsSent(toFe).includes('From'));
    assert.match(toFe.get('from') ?? '', /^<sip:\+14255550110@contoso\.com;user=phone>;epid=[0-9a-z]+;tag=/);
    assert.equal(toFe.get('ms-call-source'), undefined, 'a PSTN gateway is not a non-ms-rtc source');
  } finally {
    await lab.stop();
  }
});

test('SRTP on TLS trunks: Required and Optional offer a=tcap:1 RTP/SAVP, a=pcfg:1 t=1 and a=crypto; NotSupported offers none', async () => {
  const modes = { '+12065550001': 'Required', '+12065550002': 'Optional', '+12065550003': 'NotSupported' } as const;
  const { lab, wire } = await startQuickLab('single-gateway.json', (input: TopologyInput) => {
    let i = 0;
    for (const [number, srtpMode] of Object.entries(modes)) {
      i++;
      const name = `gw-tls-${i}`;
      input.peers?.push({ name, kind: 'gateway', address: `127.0.0.${60 + i}`, port: 0, transport: 'tls', behaviour: { unknownNumber: { outcome: 'answer', answerAfterMs: 20 } } });
      input.trunks?.push({ name: `t-med-1-${name}`, mediationServer: 'med-1', peer: name, transport: 'tls', configuration: { srtpMode } });
      input.voiceRoutes?.unshift({ name: `to-${name}`, numberPattern: `^\\${number}$`, pstnUsages: ['Local'], trunks: [`t-med-1-${name}`] });
    }
  });
  try {
    let i = 0;
    for (const [number, mode] of Object.entries(modes)) {
      i++;
      const callId = await connectedCall(lab, 'alice', number);
      const invite = wire.requests('INVITE', { to: `127.0.0.${60 + i}` })[0];
      assert.ok(invite, mode);
      const sdp = sdpLines(invite);
      const srtp = ['a=tcap:1 RTP/SAVP', 'a=pcfg:1 t=1'].every((l) => sdp.includes(l)) && sdp.some((l) => /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\S+/.test(l));
      assert.equal(srtp, mode !== 'NotSupported', `${mode}:\n${sdp.join('\n')}`);
      if (mode === 'NotSupported') assert.ok(!sdp.some((l) => /^a=(crypto|tcap|pcfg):/.test(l)));
      assert.ok(sdp.some((l) => /^m=audio \d+ RTP\/AVP 8 0 101$/.test(l)), 'SRTP optional: the m-line stays RTP/AVP');
      assert.deepEqual(upperCase(headerNamesAsSent(invite)), [], 'upper-case over TLS too');
      await lab.callAction(callId, { action: 'hangup' });
      await lab.waitForCall(callId);
    }
  } finally {
    await lab.stop();
  }
});

test('calls from an IP-PBX: ms-call-source: non-ms-rtc on the Lync side, the extension as sip:2160;phone-context=dialstring@contoso.com;user=phone', async () => {
  const { lab, wire } = await startQuickLab('ip-pbx.json');
  try {
    const med = lab.topology.mediationServers[0];
    const alice = address(lab, 'alice');
    // The PBX dials Alice's last four digits; the Front End normalizes them with the PBX's dial plan.
    const callId = await connectedCall(lab, '2160', '0101');
    const toFe = wire.requests('INVITE', { from: med.address, to: lab.topology.frontEnd.address })[0];
    assert.equal(toFe.get('ms-call-source'), 'non-ms-rtc');
    assert.match(toFe.get('from') ?? '', /^<sip:2160;phone-context=dialstring@contoso\.com;user=phone>;epid=[0-9a-z]+;tag=/);
    assert.match(toFe.requestUri, /^sip:0101;phone-context=dialstring@contoso\.com;user=phone$/, 'the PBX dialed 0101: normalized by the Front End, not the Mediation Server');
    // The Front End passes both on to the user's endpoint.
    const toAlice = wire.requests('INVITE', { to: alice })[0];
    assert.equal(toAlice.get('ms-call-source'), 'non-ms-rtc');
    assert.match(toAlice.get('from') ?? '', /^<sip:2160;phone-context=dialstring@contoso\.com;user=phone>/);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
  } finally {
    await lab.stop();
  }
});

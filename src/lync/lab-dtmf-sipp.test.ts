/**
 * RFC 4733 interop with SIPp playing an external PSTN gateway: SIPp answers
 * with an SDP whose telephone-event stream goes to the device's media port
 * (here a plain UDP socket of the test, the "device" side of the RTP), and
 * plays SIPp's own recorded DTMF digit 5 (`play_pcap_audio`) towards the
 * Mediation Server.
 * - The digits a Lync user sends arrive at the device's media port: our
 *   decoder on that socket and tshark capturing the same port (an
 *   independent dissector) both read them, as RTP events with nothing
 *   malformed.
 * - SIPp's recorded digit crosses the Mediation Server's relay and reaches
 *   the Lync user as 5.
 * - The qualification case `dtmf-rfc4733-outbound` run against SIPp as the
 *   external gateway passes, and its digits are the ones the device's port
 *   received.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { EngineEvent } from '../common/api.ts';
import { DtmfReceiver, type ReceivedDigit } from '../media/dtmf-receiver.ts';
import { bindUdp } from '../media/port-pool.ts';
import { decodeRtp } from '../media/rtp-packet.ts';
import { decodeTelephoneEvents } from '../media/telephone-event.ts';
import { captureUdpPort, HAS_TSHARK, type LiveCapture, rtpFields, rtpProblems } from '../media/test-support/tshark-rtp.ts';
import { builtInCases, selectCases } from '../qualify/cases.ts';
import { runSuite } from '../qualify/suite.ts';
import { NO_SIPP, scenarioFile, startSippServer } from '../qualify/test-support/sipp-process.ts';
import { freePort } from '../sip/transport-testing.ts';
import { readTopologyInput } from './free-ports.ts';
import { Lab } from './lab.ts';
import { FIXTURES, fixtureTopology, until } from './lab-test-support.ts';

const PCAP_5 = '/usr/share/sip-tester/dtmf_2833_5.pcap';
const hasTools = NO_SIPP === false && HAS_TSHARK && existsSync(PCAP_5);

/** SIPp as a gateway: 200 OK with telephone-event 101 on `devicePort`; after the ACK it plays SIPp's recorded digit 5; then waits for the BYE. */
function gatewayScenario(devicePort: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="PSTN gateway with RFC 4733 telephone-event">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
SIP/2.0 100 Trying
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=gw 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio ${devicePort} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv

    ]]>
  </send>
  <recv request="ACK" crlf="true">
    <action>
      <exec play_pcap_audio="${PCAP_5}"/>
    </action>
  </recv>
  <recv request="BYE"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
</scenario>
`;
}

test('SIPp as an external gateway: a Lync user\'s digits arrive at the device\'s media port (our decoder and tshark agree); SIPp\'s recorded digit reaches the Lync user', { skip: !hasTools, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-dtmf-'));
  // The device's media port: a plain socket, our own decoder on it.
  const device = await bindUdp('127.0.0.1', 0);
  const devicePort = device.address().port;
  const atDevice: ReceivedDigit[] = [];
  const malformed: string[] = [];
  const receiver = new DtmfReceiver({ onDigit: (d) => atDevice.push(d) });
  device.on('message', (m) => {
    const d = decodeRtp(new Uint8Array(m));
    if (!d.ok) return malformed.push(d.error);
    const e = decodeTelephoneEvents(d.packet.payload);
    if (d.packet.payloadType !== 101 || !e.ok) return malformed.push(`PT ${d.packet.payloadType}`);
    receiver.push(d.packet, e.events, performance.now());
  });
  const sippMediaPort = await freePort('udp');
  const sipp = await startSippServer(['-sf', scenarioFile(dir, 'gateway', gatewayScenario(devicePort)), '-mi', '127.0.0.1', '-mp', String(sippMediaPort), '-aa']);
  const sipPort = sipp.port;
  const events: EngineEvent[] = [];
  const topology = fixtureTopology(
    'single-gateway.json',
    (input) => {
      for (const u of input.users ?? []) if (u.name === 'alice') u.behaviour = { outcome: 'answer', answerAfterMs: 100 };
    },
    [`gw-a=127.0.0.1:${sipPort}/tcp`],
  );
  const lab = await Lab.start(topology, { timers: { t1: 100 }, onEvent: (e) => events.push(e) });
  const pcap = path.join(dir, 'device.pcap');
  let cap: LiveCapture | null = null;
  try {
    cap = await captureUdpPort(pcap, devicePort);
    const { callId } = lab.placeCall({ from: 'alice', to: '+14255550110' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 15_000, `connected to SIPp\n${sipp.output()}\n${JSON.stringify(lab.calls())}`);
    await lab.callAction(callId, { action: 'dtmf', digits: '159#' });
    await until(() => atDevice.length === 4, 5000, 'four digits at the device');
    assert.equal(atDevice.map((d) => d.digit).join(''), '159#');
    assert.ok(atDevice.every((d) => d.payloadType === 101 && d.endedBy === 'end-packet' && d.durationMs === 100));
    assert.deepEqual(malformed, []);
    // SIPp's recorded "5" went the other way, through the relay, to alice.
    await until(() => lab.receivedDigits(callId).some((d) => d.element === 'alice'), 10_000, `SIPp's digit at alice\n${sipp.output()}`);
    const alice = lab.receivedDigits(callId).filter((d) => d.element === 'alice');
    assert.deepEqual(alice.map((d) => `${d.digit}/${d.payloadType}`), ['5/101']);
    const relayed = lab.receivedDigits(callId).filter((d) => d.element === 'med-1' && d.from === 'peer');
    assert.deepEqual(relayed.map((d) => `${d.digit}/${d.relayedAs}`), ['5/101']);
    await until(() => (cap?.packetsTo() ?? 0) >= 20, 10_000, 'tshark saw the 20 packets to the device');
    await cap.stop();
    cap = null;
    // tshark, on the capture of the device's port: the same four events, nothing malformed.
    const rows = await rtpFields(pcap, devicePort, ['rtpevent.event_id', 'rtpevent.end_of_event', 'rtp.marker'], ['-Y', `udp.dstport == ${devicePort}`]);
    const starts = rows.filter((r) => r[2] === '1').map((r) => r[0]);
    assert.deepEqual(starts, ['1', '5', '9', '11'], JSON.stringify(rows));
    assert.equal(rows.filter((r) => r[1] === '1').length, 12, 'three end packets per digit');
    assert.deepEqual(await rtpProblems(pcap, devicePort), [], 'tshark finds nothing malformed');
    await lab.callAction(callId, { action: 'hangup' });
    const done = await lab.waitForCall(callId);
    assert.equal(done.state, 'ended');
    assert.equal(done.status, 200);
  } finally {
    await cap?.stop();
    await sipp.stop();
    await lab.stop();
    device.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the case dtmf-rfc4733-outbound against SIPp as the external gateway: pass, and the device\'s media port received 123#', { skip: !hasTools, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-dtmf-'));
  const device = await bindUdp('127.0.0.1', 0);
  const atDevice: string[] = [];
  const receiver = new DtmfReceiver({ onDigit: (d) => atDevice.push(`${d.digit}/${d.payloadType}`) });
  device.on('message', (m) => {
    const d = decodeRtp(new Uint8Array(m));
    const e = d.ok ? decodeTelephoneEvents(d.packet.payload) : null;
    if (d.ok && e?.ok) receiver.push(d.packet, e.events, performance.now());
  });
  const sipPort = await freePort('tcp');
  const sipp = await startSippServer(['-sf', scenarioFile(dir, 'gateway', gatewayScenario(device.address().port)), '-mi', '127.0.0.1', '-mp', String(sipPort + 2 > 65000 ? 40000 : sipPort + 2), '-aa'], { port: sipPort });
  try {
    const input = readTopologyInput(path.join(FIXTURES, 'lab.json'));
    const suite = await runSuite(selectCases(builtInCases(), 'dtmf-rfc4733-outbound'), input, { external: [`gw-a=127.0.0.1:${sipPort}/tcp`], freePorts: true, timeScale: 0.25, timers: { t1: 100 } });
    const [c] = suite.cases;
    assert.equal(c.verdict, 'pass', c.reason);
    const step = c.steps.find((s) => s.action === 'expect-dtmf');
    assert.equal(step?.observed, '123# relayed towards Gateway-A (RFC 4733, payload 101)');
    await until(() => atDevice.length === 4, 3000, 'the digits at the device');
    assert.deepEqual(atDevice, ['1/101', '2/101', '3/101', '#/101']);
  } finally {
    await sipp.stop();
    device.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

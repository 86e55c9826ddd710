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
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { EngineEvent } from '../common/api.ts';
import { DtmfReceiver, type ReceivedDigit } from '../media/dtmf-receiver.ts';
import { bindUdp } from '../media/port-pool.ts';
import { decodeRtp } from '../media/rtp-packet.ts';
import { decodeTelephoneEvents } from '../media/telephone-event.ts';
import { builtInCases, selectCases } from '../qualify/cases.ts';
import { runSuite } from '../qualify/suite.ts';
import { readTopologyInput } from './free-ports.ts';
import { Lab } from './lab.ts';
import { FIXTURES, fixtureTopology, until } from './lab-test-support.ts';

const run = promisify(execFile);
const PCAP_5 = '/usr/share/sip-tester/dtmf_2833_5.pcap';
const hasTools = spawnSync('sipp', ['-v'], { stdio: 'ignore' }).error === undefined && spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0 && existsSync(PCAP_5);

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

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

/** A live tshark capture of one UDP port, ready once a probe datagram shows it is capturing. */
async function capture(file: string, port: number): Promise<{ stop(): Promise<void>; packetsTo(): number }> {
  const probe = await bindUdp('127.0.0.1', 0);
  const probePort = probe.address().port;
  const child: ChildProcess = spawn('tshark', ['-i', 'lo', '-f', `udp port ${port} or udp port ${probePort}`, '-a', 'duration:90', '-w', file, '-P', '-l'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let seen = false;
  let err = '';
  let printed = '';
  child.stdout?.on('data', (d) => {
    seen = true;
    printed += String(d);
  });
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  const limit = performance.now() + 20_000;
  while (!seen) {
    if (performance.now() > limit || child.exitCode !== null) {
      child.kill('SIGKILL');
      probe.close();
      throw new Error(`tshark did not capture: ${err}`);
    }
    probe.send('probe', probePort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
  }
  probe.close();
  return {
    stop: async () => {
      child.kill('SIGINT');
      await done;
    },
    // tshark's one-line summaries (-P): "… 48200 → 44354 Len=16".
    packetsTo: () => printed.split('\n').filter((l) => new RegExp(`\\d (?:→|->) ${port}\\b`).test(l)).length,
  };
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
  const scenario = path.join(dir, 'gateway.xml');
  writeFileSync(scenario, gatewayScenario(devicePort));
  const sipPort = await freeTcpPort();
  const rtpEcho = await bindUdp('127.0.0.1', 0);
  const sippMediaPort = rtpEcho.address().port;
  rtpEcho.close();
  let output = '';
  const sipp = spawn('sipp', ['-sf', scenario, '-t', 't1', '-i', '127.0.0.1', '-p', String(sipPort), '-mi', '127.0.0.1', '-mp', String(sippMediaPort), '-aa', '-nostdin'], { stdio: ['ignore', 'pipe', 'pipe'] });
  sipp.stdout?.on('data', (d) => {
    output += String(d);
  });
  sipp.stderr?.on('data', (d) => {
    output += String(d);
  });
  const sippExit = new Promise<number | null>((resolve) => sipp.once('exit', (code) => resolve(code)));
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
  let cap: { stop(): Promise<void>; packetsTo(): number } | null = null;
  try {
    cap = await capture(pcap, devicePort);
    const { callId } = lab.placeCall({ from: 'alice', to: '+14255550110' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 15_000, `connected to SIPp\n${output}\n${JSON.stringify(lab.calls())}`);
    await lab.callAction(callId, { action: 'dtmf', digits: '159#' });
    await until(() => atDevice.length === 4, 5000, 'four digits at the device');
    assert.equal(atDevice.map((d) => d.digit).join(''), '159#');
    assert.ok(atDevice.every((d) => d.payloadType === 101 && d.endedBy === 'end-packet' && d.durationMs === 100));
    assert.deepEqual(malformed, []);
    // SIPp's recorded "5" went the other way, through the relay, to alice.
    await until(() => lab.receivedDigits(callId).some((d) => d.element === 'alice'), 10_000, `SIPp's digit at alice\n${output}`);
    const alice = lab.receivedDigits(callId).filter((d) => d.element === 'alice');
    assert.deepEqual(alice.map((d) => `${d.digit}/${d.payloadType}`), ['5/101']);
    const relayed = lab.receivedDigits(callId).filter((d) => d.element === 'med-1' && d.from === 'peer');
    assert.deepEqual(relayed.map((d) => `${d.digit}/${d.relayedAs}`), ['5/101']);
    await until(() => (cap?.packetsTo() ?? 0) >= 20, 10_000, 'tshark saw the 20 packets to the device');
    await cap.stop();
    cap = null;
    // tshark, on the capture of the device's port: the same four events, nothing malformed.
    const { stdout } = await run('tshark', ['-r', pcap, '-d', `udp.port==${devicePort},rtp`, '-Y', `udp.dstport == ${devicePort}`, '-T', 'fields', '-E', 'separator=|', '-e', 'rtpevent.event_id', '-e', 'rtpevent.end_of_event', '-e', 'rtp.marker']);
    const rows = stdout.trim().split('\n').map((l) => l.split('|'));
    const starts = rows.filter((r) => r[2] === '1').map((r) => r[0]);
    assert.deepEqual(starts, ['1', '5', '9', '11'], stdout);
    assert.equal(rows.filter((r) => r[1] === '1').length, 12, 'three end packets per digit');
    const bad = await run('tshark', ['-r', pcap, '-d', `udp.port==${devicePort},rtp`, '-Y', `udp.dstport == ${devicePort} && (_ws.malformed || _ws.expert.severity >= "warning")`, '-T', 'fields', '-e', 'frame.number']);
    assert.equal(bad.stdout.trim(), '', 'tshark finds nothing malformed');
    await lab.callAction(callId, { action: 'hangup' });
    const done = await lab.waitForCall(callId);
    assert.equal(done.state, 'ended');
    assert.equal(done.status, 200);
  } finally {
    await cap?.stop();
    sipp.kill('SIGKILL');
    await sippExit;
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
  const scenario = path.join(dir, 'gateway.xml');
  writeFileSync(scenario, gatewayScenario(device.address().port));
  const sipPort = await freeTcpPort();
  const sipp = spawn('sipp', ['-sf', scenario, '-t', 't1', '-i', '127.0.0.1', '-p', String(sipPort), '-mi', '127.0.0.1', '-mp', String(sipPort + 2 > 65000 ? 40000 : sipPort + 2), '-aa', '-nostdin'], { stdio: 'ignore' });
  const sippExit = new Promise<void>((resolve) => sipp.once('exit', () => resolve()));
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
    sipp.kill('SIGKILL');
    await sippExit;
    device.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

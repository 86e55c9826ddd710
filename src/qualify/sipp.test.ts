/**
 * The suite against a real, misbehaving device: SIPp plays a gateway on an
 * external trunk, and exactly the cases that hold it to the broken rule fail,
 * with a reason that names the problem.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTopologyInput } from '../lync/free-ports.ts';
import { builtInCases, selectCases } from './cases.ts';
import { runSuite, type SuiteResult } from './suite.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-'));
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const SDP = (version: number, direction: string): string => `v=0
o=gw 1 ${version} IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=${direction}
`;

/** A gateway that answers, and answers every re-INVITE (hold included) with `holdAnswer`; without `toTag` it never tags To. */
function answeringGateway(o: { holdAnswer: string; toTag: boolean }): string {
  const to = o.toTag ? '[last_To:];tag=[pid]gw[call_number]' : '[last_To:]';
  const response = (status: string, toLine: string, body: string | null): string => `<![CDATA[

SIP/2.0 ${status}
[last_Via:]
[last_From:]
${toLine}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
${body === null ? 'Content-Length: 0\n' : `Content-Type: application/sdp\nContent-Length: [len]\n\n${body}`}
]]>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="misbehaving gateway">
  <recv request="INVITE"/>
  <send>${response('180 Ringing', to, null)}</send>
  <send>${response('200 OK', to, SDP(1, 'sendrecv'))}</send>
  <recv request="ACK"/>
  <label id="1"/>
  <recv request="INVITE" optional="true" next="2"/>
  <recv request="BYE" next="3"/>
  <label id="2"/>
  <send>${response('200 OK', '[last_To:]', SDP(2, o.holdAnswer))}</send>
  <recv request="ACK" next="1"/>
  <label id="3"/>
  <send>${response('200 OK', '[last_To:]', null)}</send>
</scenario>
`;
}

/** A gateway that answers every call 486 Busy Here (where the route needs a 503 to fail over). */
const BUSY_GATEWAY = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="always busy">
  <recv request="INVITE"/>
  <send><![CDATA[

SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]gw[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
`;

async function againstSipp(name: string, xml: string, peer: string, cases: string): Promise<SuiteResult> {
  const file = path.join(dir, `${name}.xml`);
  writeFileSync(file, xml);
  const port = await freePort();
  const child = spawn('sipp', ['-sf', file, '-t', 't1', '-i', '127.0.0.1', '-p', String(port), '-nostdin', '-timeout', '60s'], { stdio: 'ignore' });
  children.push(child);
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const input = readTopologyInput(path.join(root, 'fixtures/topologies/lab.json'));
    return await runSuite(selectCases(builtInCases(), cases), input, { external: [`${peer}=127.0.0.1:${port}/tcp`], freePorts: true, timeScale: 0.25, timers: { t1: 100 }, drainMs: 100 });
  } finally {
    child.kill('SIGKILL');
  }
}

const verdicts = (s: SuiteResult): Record<string, string> => Object.fromEntries(s.cases.map((c) => [c.id, c.verdict]));

test('SIPp gateway answers a hold (a=inactive) with a=sendrecv: only the hold case fails, naming it; the inbound case is skipped', async () => {
  const s = await againstSipp('hold-sendrecv', answeringGateway({ holdAnswer: 'sendrecv', toTag: true }), 'gw-a', 'basic-outbound-answer,basic-inbound-answer,caller-id-outbound-no-pai,hold-resume-outbound,dtmf-rfc4733-outbound,session-timer-off');
  assert.deepEqual(verdicts(s), {
    'basic-outbound-answer': 'pass',
    'basic-inbound-answer': 'skip',
    'caller-id-outbound-no-pai': 'pass',
    'hold-resume-outbound': 'fail',
    'dtmf-rfc4733-outbound': 'pass',
    'session-timer-off': 'pass',
  }, JSON.stringify(s.cases.map((c) => [c.id, c.reason])));
  const hold = s.cases.find((c) => c.id === 'hold-resume-outbound');
  assert.match(hold?.reason ?? '', /the gateway answers the hold with a=inactive\): expected a=inactive, observed a=sendrecv in 200 OK \(INVITE\) gw-a → med-1 \(message #\d+\)/);
  assert.match(s.cases.find((c) => c.id === 'basic-inbound-answer')?.reason ?? '', /external device/);
});

test('SIPp gateway without To tags: the cases that check the answer fail, naming the To header', async () => {
  const s = await againstSipp('no-to-tag', answeringGateway({ holdAnswer: 'inactive', toTag: false }), 'gw-a', 'basic-outbound-answer,caller-id-outbound-no-pai,session-timer-off');
  for (const c of s.cases) {
    assert.equal(c.verdict, 'fail', c.id);
    assert.match(c.reason ?? '', /expected a tag in the To header .*observed To: <sip:\+14255550110@127\.0\.0\.1;user=phone> in 200 OK \(INVITE\) gw-a → med-1/);
  }
});

test('SIPp gateway answers 486 where the route needs 503 to fail over: the failover case fails on that response', async () => {
  const s = await againstSipp('busy', BUSY_GATEWAY, 'gw-b', 'failover-trunk-503');
  const [c] = s.cases;
  assert.equal(c.verdict, 'fail');
  assert.match(c.reason ?? '', /^step 2 .*expected status 503, observed 486 Busy Here in 486 Busy Here \(INVITE\) gw-b → med-1 \(message #\d+\)$/);
});

/**
 * The suite against a real, misbehaving device: SIPp plays a gateway on an
 * external trunk, and exactly the cases that hold it to the broken rule fail,
 * with a reason that names the problem.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTopologyInput } from '../lync/free-ports.ts';
import { builtInCases, selectCases } from './cases.ts';
import { runSuite, type SuiteResult } from './suite.ts';
import { BUSY_GATEWAY, gatewayScenario } from './test-support/sipp-devices.ts';
import { scenarioFile, startSippServer } from './test-support/sipp-process.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function againstSipp(name: string, xml: string, peer: string, cases: string): Promise<SuiteResult> {
  const sipp = await startSippServer(['-sf', scenarioFile(dir, name, xml), '-timeout', '60s']);
  try {
    const input = readTopologyInput(path.join(root, 'fixtures/topologies/lab.json'));
    return await runSuite(selectCases(builtInCases(), cases), input, { external: [`${peer}=127.0.0.1:${sipp.port}/tcp`], freePorts: true, timeScale: 0.25, timers: { t1: 100 }, drainMs: 100 });
  } finally {
    await sipp.stop();
  }
}

const verdicts = (s: SuiteResult): Record<string, string> => Object.fromEntries(s.cases.map((c) => [c.id, c.verdict]));

test('SIPp gateway answers a hold (a=inactive) with a=sendrecv: only the hold case fails, naming it; the inbound case is skipped', async () => {
  const s = await againstSipp('hold-sendrecv', gatewayScenario({ holdAnswer: 'sendrecv', toTag: true }), 'gw-a', 'basic-outbound-answer,basic-inbound-answer,caller-id-outbound-no-pai,hold-resume-outbound,dtmf-rfc4733-outbound,session-timer-off');
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
  const s = await againstSipp('no-to-tag', gatewayScenario({ holdAnswer: 'inactive', toTag: false }), 'gw-a', 'basic-outbound-answer,caller-id-outbound-no-pai,session-timer-off');
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

test('SIPp gateway that never answers OPTIONS: only the keep-alive case fails, saying the peer did not answer them; its calls still work', async () => {
  const s = await againstSipp('ignores-options', gatewayScenario({ holdAnswer: 'inactive', options: 'ignore' }), 'gw-a', 'basic-outbound-answer,basic-outbound-100-trying,hold-resume-outbound,options-keepalive');
  assert.deepEqual(verdicts(s), { 'basic-outbound-answer': 'pass', 'basic-outbound-100-trying': 'pass', 'hold-resume-outbound': 'pass', 'options-keepalive': 'fail' }, JSON.stringify(s.cases.map((c) => [c.id, c.reason])));
  const c = s.cases.find((x) => x.id === 'options-keepalive');
  assert.match(
    c?.reason ?? '',
    /^step 2 \(gw-a answers the OPTIONS keep-alive 200 \(a peer that never answers is marked down and gets no calls\)\): expected 200 response to OPTIONS from gw-a on the trunk within 3000 ms, observed none; last seen: #\d+ OPTIONS med-1 → gw-a(, #\d+ OPTIONS med-1 → gw-a)*$/,
  );
  // The probe the device left unanswered is in the case's trace.
  assert.ok(c?.messages.some((m) => m.label === 'OPTIONS' && m.from === 'med-1' && m.to === 'gw-a'));
  assert.ok(!c?.messages.some((m) => m.from === 'gw-a' && m.label.endsWith('(OPTIONS)')), 'gw-a answered no OPTIONS');
  assert.ok(c?.messages.some((m) => m.from === 'gw-b' && m.label === '200 OK (OPTIONS)'), 'the emulated peers do answer');
});

test('SIPp gateway that never sends 100 Trying (rings after 500 ms; or answers after 1 s with nothing before): only the 100 Trying case fails, naming the missing 100', async () => {
  const cases = 'basic-outbound-answer,basic-outbound-100-trying,ringback-180-post-dial-delay';
  const late180 = await againstSipp('no-trying-late-180', gatewayScenario({ holdAnswer: 'inactive', trying: false, ringAfterMs: 500 }), 'gw-a', cases);
  assert.deepEqual(verdicts(late180), { 'basic-outbound-answer': 'pass', 'basic-outbound-100-trying': 'fail', 'ringback-180-post-dial-delay': 'pass' }, JSON.stringify(late180.cases.map((c) => [c.id, c.reason])));
  const a = late180.cases.find((x) => x.id === 'basic-outbound-100-trying');
  assert.match(a?.reason ?? '', /^step 3 \(100 Trying from the gateway within 200 ms of the INVITE\): expected 100 response to INVITE from peer on the trunk within 2000 ms, observed none; last seen: .*#\d+ 180 Ringing \(INVITE\) gw-a → med-1/);

  const lateAnswer = await againstSipp('no-trying-late-200', gatewayScenario({ holdAnswer: 'inactive', trying: false, ringing: false, ringAfterMs: 1000 }), 'gw-a', 'basic-outbound-answer,basic-outbound-100-trying');
  assert.deepEqual(verdicts(lateAnswer), { 'basic-outbound-answer': 'pass', 'basic-outbound-100-trying': 'fail' }, JSON.stringify(lateAnswer.cases.map((c) => [c.id, c.reason])));
  const b = lateAnswer.cases.find((x) => x.id === 'basic-outbound-100-trying');
  assert.match(b?.reason ?? '', /^step 3 \(100 Trying from the gateway within 200 ms of the INVITE\): expected 100 response to INVITE from peer on the trunk within 2000 ms, observed none; last seen: .*#\d+ 200 OK \(INVITE\) gw-a → med-1/);
  assert.doesNotMatch(b?.reason ?? '', /100 Trying \(INVITE\)|180/);
});

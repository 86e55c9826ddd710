import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readTopologyInput } from '../lync/free-ports.ts';
import { builtInCases, selectCases } from './cases.ts';
import { htmlReport } from './report-html.ts';
import { junitXml } from './report-junit.ts';
import { runSuite } from './suite.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const lab = (): ReturnType<typeof readTopologyInput> => readTopologyInput(path.join(root, 'fixtures/topologies/lab.json'));
const run = promisify(execFile);

// One case or more per area, fast ones (the whole suite is `trunklab suite`).
const FAST = [
  'basic-outbound-answer',
  'basic-outbound-100-trying',
  'basic-inbound-answer',
  'caller-id-outbound-pai',
  'cancel-outbound',
  'busy-outbound-486',
  'no-answer-inbound-unregistered',
  'early-media-183-with-sdp',
  'hold-resume-outbound',
  'transfer-refer-on',
  'session-timer-on',
  'dtmf-rfc4733-outbound',
  'options-keepalive',
  'failover-trunk-503',
  'failover-mediation-server',
  'response-code-translation-486-cause-34',
  'translation-remove-plus',
  'history-info-forwarded',
  'tls-srtp-required-sbc',
].join(',');

test('a fast subset of the suite passes against the emulated peers; JUnit and HTML reports', async () => {
  const cases = selectCases(builtInCases(), FAST);
  assert.equal(cases.length, 19);
  const suite = await runSuite(cases, lab(), { timeScale: 0.25, timers: { t1: 100 }, source: 'lab.json' });
  const failed = suite.cases.filter((c) => c.verdict !== 'pass');
  assert.deepEqual(failed.map((c) => `${c.id}: ${c.reason}`), []);
  assert.equal(suite.passed, 19);
  for (const c of suite.cases) {
    assert.ok(c.steps.every((s) => s.verdict === 'pass'));
    assert.ok(c.messages.length > 0 && c.records.length >= c.messages.length, c.id);
  }
  // Every message a step cites is in the case's trace.
  const cited = suite.cases.flatMap((c) => c.steps.filter((s) => s.messageIndex !== undefined).map((s) => ({ c, i: s.messageIndex as number })));
  assert.ok(cited.length > 40);
  for (const { c, i } of cited) assert.ok(c.messages.some((m) => m.index === i) || c.records.length > i, `${c.id} #${i}`);

  const xml = junitXml(suite);
  assert.match(xml, /<testsuites name="trunklab qualification" tests="19" failures="0" errors="0" skipped="0"/);
  assert.match(xml, /<testcase classname="trunklab.hold-resume" name="hold-resume-outbound" time="\d+\.\d{3}">/);
  const html = htmlReport(suite);
  assert.match(html, /<title>Trunklab qualification: 19 passed, 0 failed<\/title>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 19, 'one ladder per case');
  assert.match(html, /id="basic-outbound-answer-m\d+"/);
});

test('a failing step says what was expected, what was observed and which message', async () => {
  const [scenario] = selectCases(builtInCases(), 'busy-outbound-486');
  // The same script against a number that answers: the 486 check fails on the 200.
  const wrong = structuredClone(scenario);
  const call = wrong.steps[0];
  assert.ok(call.action === 'call');
  call.to = '+14255550110';
  const suite = await runSuite([wrong], lab(), { timeScale: 0.25, timers: { t1: 100 } });
  const [r] = suite.cases;
  assert.equal(r.verdict, 'fail');
  const step = r.steps.find((s) => s.verdict === 'fail');
  assert.ok(step);
  assert.equal(step.index, 1);
  assert.equal(step.expected, 'status 486');
  assert.match(step.observed ?? '', /^200 OK in 200 OK \(INVITE\) gw-a → med-1$/);
  const msg = r.messages.find((m) => m.index === step.messageIndex);
  assert.ok(msg);
  assert.match(msg.text, /^SIP\/2\.0 200 OK\r\n/);
  assert.ok(r.steps.slice(2).every((s) => s.verdict === 'not-run'));
  assert.match(r.reason ?? '', /^step 2 \(final response to INVITE from peer on the trunk within 10000 ms\): expected status 486, observed 200 OK .* \(message #\d+\)$/);
});

test('trunklab run: a scenario file passes (exit 0), the misbehaving hold fails naming a=sendrecv (exit 1), an invalid file exits 2', async () => {
  const main = path.join(root, 'src/cli/main.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-run-'));
  try {
    const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const r = await run(process.execPath, [main, 'run', ...args, '--time-scale', '0.25', '--t1-ms', '100'], { timeout: 60_000 });
        return { code: 0, ...r };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    };
    const ok = await cli([path.join(root, 'fixtures/scenarios/inbound-busy-user.json'), '--junit', path.join(dir, 'j.xml'), '--pcap', path.join(dir, 'pcap')]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^busy-inbound-user +PASS/m);
    assert.match(ok.stdout, /^1 passed, 0 failed$/m);
    assert.match(readFileSync(path.join(dir, 'j.xml'), 'utf8'), /name="busy-inbound-user"/);
    assert.deepEqual(readdirSync(path.join(dir, 'pcap')), ['busy-inbound-user.pcap']);

    const bad = await cli([path.join(root, 'fixtures/scenarios/hold-peer-answers-sendrecv.json')]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /FAIL .*step 5 .*expected a=inactive, observed a=sendrecv in 200 OK \(INVITE\) gw-a → med-1 \(message #\d+\)/);
    assert.match(bad.stdout, /^0 passed, 1 failed$/m);

    const invalid = path.join(dir, 'bad.json');
    (await import('node:fs')).writeFileSync(invalid, JSON.stringify({ id: 'x', title: 't', steps: [{ action: 'expect', request: 'INVITE', sdp: { direction: 'held' } }] }));
    const usage = await cli([invalid]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /\/steps\/0\/sdp\/direction: must be one of sendrecv/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flow diff: two runs of one case align; a hold answered a=sendrecv shows as an SDP difference', async () => {
  const { writePcap } = await import('../formats/pcap.ts');
  const { importTraceFile } = await import('../formats/trace-io.ts');
  const { diffFlows, flowMessages } = await import('./flow-diff.ts');
  const { parseScenario } = await import('./scenario.ts');
  const good = selectCases(builtInCases(), 'hold-resume-outbound')[0];
  const misbehaving = parseScenario(JSON.parse(readFileSync(path.join(root, 'fixtures/scenarios/hold-peer-answers-sendrecv.json'), 'utf8')));
  const proper = structuredClone(misbehaving);
  const call = proper.steps[0];
  assert.ok(call.action === 'call');
  call.to = '+14255550110';
  const suite = await runSuite([good, good, proper, misbehaving], lab(), { timeScale: 0.25, timers: { t1: 100 } });
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-diff-'));
  try {
    const flows = [];
    for (const [i, c] of suite.cases.entries()) {
      const file = path.join(dir, `${i}.pcap`);
      (await import('node:fs')).writeFileSync(file, writePcap(c.records));
      flows.push(flowMessages((await importTraceFile(file)).store));
    }
    const same = diffFlows(flows[0], flows[1]);
    // Two runs of one case: the same messages; concurrent legs may interleave differently (reported as reordered, never missing).
    const moved = same.flatMap((l) => (l.kind === 'missing' ? [{ reordered: l.reordered, label: `- ${l.a.label}` }] : l.kind === 'extra' ? [{ reordered: l.reordered, label: `+ ${l.b.label}` }] : []));
    assert.ok(moved.every((l) => l.reordered), JSON.stringify(moved));
    assert.ok(same.filter((l) => l.kind === 'same').length > 20);
    const hold = diffFlows(flows[2], flows[3]);
    const answer = hold.find((l) => l.kind === 'same' && l.differences.includes('SDP direction: a=inactive vs a=sendrecv'));
    assert.ok(answer, JSON.stringify(hold.map((l) => (l.kind === 'same' ? [l.a.label, l.differences] : [l.kind, l.kind === 'missing' ? l.a.label : l.b.label]))));
    assert.ok(hold.some((l) => l.kind === 'extra' && l.b.label === 'BYE'), 'the Mediation Server drops the call: BYE only in B');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The suite cases of PRACK, caller ID privacy, hold from the PSTN side and
 * attended transfer pass against the emulated peers (each on a fresh lab,
 * real sockets), and each step that checks the wire points at a message.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTopologyInput } from '../lync/free-ports.ts';
import { builtInCases, selectCases } from './cases.ts';
import { parseScenario } from './scenario.ts';
import { runSuite } from './suite.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const CASES = [
  'prack-outbound-183-reliable',
  'prack-inbound-require-100rel',
  'caller-id-inbound-anonymous',
  'caller-id-inbound-anonymous-forward-pai',
  'caller-id-outbound-anonymous',
  'caller-id-outbound-anonymous-forward-pai',
  'hold-resume-from-pstn',
  'hold-resume-from-pstn-inactive',
  'transfer-attended-replaces',
  'transfer-attended-refer-off',
  'session-timer-refresh-now',
  'session-timer-peer-refresh',
];

test('PRACK, anonymous caller ID, hold from the PSTN and attended transfer cases pass against the emulated peers', { timeout: 180_000 }, async () => {
  const cases = selectCases(builtInCases(), CASES.join(','));
  assert.deepEqual(cases.map((c) => c.id).sort(), [...CASES].sort());
  const suite = await runSuite(cases, readTopologyInput(path.join(root, 'fixtures/topologies/lab.json')), { timeScale: 0.25, timers: { t1: 100 }, source: 'lab.json' });
  assert.deepEqual(
    suite.cases.filter((c) => c.verdict !== 'pass').map((c) => `${c.id}: ${c.reason}`),
    [],
  );
  for (const c of suite.cases) {
    const expects = c.steps.filter((s) => s.action === 'expect');
    assert.ok(expects.length > 0 && expects.every((s) => s.messageIndex !== undefined), `${c.id}: every expectation cites its message`);
  }
  const prack = suite.cases.find((c) => c.id === 'prack-outbound-183-reliable')?.steps.find((s) => s.action === 'prack');
  assert.ok(prack?.messageIndex !== undefined && /^200 OK \(PRACK\) .*\(RAck: \d+ \d+ INVITE\)$/.test(prack.observed ?? ''), `the prack step cites the 200 (PRACK): ${prack?.observed}`);
});

test('prack and refresh steps fail with what was expected and observed', { timeout: 120_000 }, async () => {
  const cases = [
    parseScenario({
      id: 'prack-none',
      title: 'a call without reliable provisional responses has no PRACK',
      steps: [{ action: 'call', from: 'alice', to: '+14255550110' }, { action: 'expect-call', state: 'connected', within: 10_000 }, { action: 'prack', within: 300 }],
    }),
    parseScenario({
      id: 'session-timer-refresh-same-version',
      title: "the Mediation Server's refresh raises the o= version: 'same' fails",
      steps: [
        { action: 'call', from: 'alice', to: '2160' },
        { action: 'expect-call', state: 'connected', within: 10_000 },
        { action: 'refresh' },
        { action: 'expect', from: 'mediation', request: 'INVITE', sdp: { version: 'same' } },
      ],
    }),
    parseScenario({
      id: 'session-timer-peer-refresh-relayed',
      title: "the peer's refresh is not relayed: expecting it on the Lync side fails",
      userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
      steps: [
        { action: 'call', from: '+14255550122', to: 'alice' },
        { action: 'expect-call', state: 'connected', within: 10_000 },
        { action: 'refresh', side: 'pstn' },
        { action: 'expect', from: 'peer', request: 'INVITE', sdp: { version: 'same', sameMedia: true } },
        { action: 'expect', side: 'lync', request: 'INVITE', within: 500 },
      ],
    }),
    parseScenario({
      id: 'session-timer-refresh-ringing',
      title: 'a call not answered yet has no session to refresh',
      steps: [
        { action: 'call', from: 'alice', to: '+14255550112' },
        { action: 'expect', from: 'peer', response: 180 },
        { action: 'refresh' },
      ],
    }),
  ];
  const suite = await runSuite(cases, readTopologyInput(path.join(root, 'fixtures/topologies/lab.json')), { timeScale: 0.25, timers: { t1: 100 }, source: 'lab.json' });
  const [none, same, relayed, ringing] = suite.cases;
  assert.equal(none.verdict, 'fail');
  assert.match(none.reason ?? '', /expected a reliable provisional response \(RSeq\).* within 300 ms, observed no reliable provisional response in the call/);
  assert.equal(same.verdict, 'fail', same.reason);
  assert.equal(same.steps[3].verdict, 'fail');
  const wanted = /^o= version (\d+) \(the same as in message #\d+\)$/.exec(same.steps[3].expected ?? '');
  const seen = /^o= version (\d+) in INVITE/.exec(same.steps[3].observed ?? '');
  assert.ok(wanted !== null && seen !== null, `${same.steps[3].expected} / ${same.steps[3].observed}`);
  assert.equal(BigInt(seen[1]), BigInt(wanted[1]) + 1n, 'the refresh re-INVITE raises the o= version by one');
  assert.equal(relayed.verdict, 'fail', relayed.reason);
  assert.deepEqual(relayed.steps.map((s) => s.verdict), ['pass', 'pass', 'pass', 'pass', 'fail']);
  assert.equal(ringing.verdict, 'fail', ringing.reason);
  assert.match(ringing.reason ?? '', /step 3 .*expected refresh to succeed, observed .*no answered PSTN party in this call/);
});

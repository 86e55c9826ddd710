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
});

/**
 * The RFC 4733 qualification cases against the emulated peers (digits
 * checked where they arrive on RTP), the `expect-dtmf` step's schema
 * errors, and verdicts that name what was expected and what was observed
 * when the digits that arrive are not the ones expected.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTopologyInput } from '../lync/free-ports.ts';
import { builtInCases, selectCases } from './cases.ts';
import { parseScenario, ScenarioError } from './scenario.ts';
import { runSuite } from './suite.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const lab = (): ReturnType<typeof readTopologyInput> => readTopologyInput(path.join(root, 'fixtures/topologies/lab.json'));

test('the DTMF cases pass against the emulated peers, with the digits seen where they arrive', async () => {
  const cases = selectCases(builtInCases(), 'dtmf-rfc4733-outbound,dtmf-rfc4733-inbound,dtmf-no-telephone-event,early-media-dtmf-before-answer');
  assert.equal(cases.length, 4);
  const suite = await runSuite(cases, lab(), { timeScale: 0.25, timers: { t1: 100 } });
  assert.deepEqual(suite.cases.map((c) => `${c.id}: ${c.verdict}${c.reason ? ` ${c.reason}` : ''}`), cases.map((c) => `${c.id}: pass`));
  const observed = (id: string): string[] => (suite.cases.find((c) => c.id === id)?.steps ?? []).filter((s) => s.action === 'expect-dtmf').map((s) => s.observed ?? '');
  assert.deepEqual(observed('dtmf-rfc4733-outbound'), ['123# at Gateway-A (RFC 4733, payload 101)']);
  assert.deepEqual(observed('dtmf-rfc4733-inbound'), ['456* at Mediation-1 (RFC 4733, payload 101), relayed as RFC 4733 (payload 101)', '456* at Gateway-A (RFC 4733, payload 101)']);
  assert.deepEqual(observed('dtmf-no-telephone-event'), ['5 at Mediation-1 (RFC 4733, payload 101), reported as not relayable', 'no DTMF at the peer within 1000 ms']);
  assert.deepEqual(observed('early-media-dtmf-before-answer'), ['0* at Gateway-A (RFC 4733, payload 101), before the answer', '123# at Alice Anders (RFC 4733, payload 101)']);
});

test('a verdict names the digits expected and the digits received', async () => {
  /** Alice calls Gateway-A's number, the call connects, she sends `digits`. */
  const callAndSend = (digits: string): unknown[] => [
    { action: 'call', from: 'alice', to: '+14255550110' },
    { action: 'expect-call', state: 'connected', within: 10_000 },
    { action: 'dtmf', digits },
  ];
  const scenario = parseScenario({
    id: 'dtmf-wrong-digits',
    title: 'expects other digits than the ones sent',
    steps: [...callAndSend('12'), { action: 'expect-dtmf', to: 'gw-a', digits: '123#', within: 1500 }, { action: 'hangup' }],
  });
  const wrongPt = parseScenario({
    id: 'dtmf-wrong-payload',
    title: 'expects another payload type',
    steps: [...callAndSend('9'), { action: 'expect-dtmf', to: 'peer', digits: '9', payloadType: 96 }],
  });
  const suite = await runSuite([scenario, wrongPt], lab(), { timeScale: 0.25, timers: { t1: 100 } });
  const [digits, pt] = suite.cases;
  assert.equal(digits.verdict, 'fail');
  const step = digits.steps.find((s) => s.verdict === 'fail');
  assert.equal(step?.action, 'expect-dtmf');
  assert.equal(step?.expected, '123# at Gateway-A within 1500 ms');
  assert.equal(step?.observed, 'received 12');
  assert.match(digits.reason ?? '', /expected 123# at Gateway-A within 1500 ms, observed received 12/);
  assert.equal(pt.verdict, 'fail');
  const ptStep = pt.steps.find((s) => s.verdict === 'fail');
  assert.equal(ptStep?.expected, '9 at the peer on telephone-event payload type 96');
  assert.equal(ptStep?.observed, '9 on payload type 101');
});

test('expect-dtmf schema errors name their JSON path', () => {
  const errors = (steps: unknown[]): string[] => {
    try {
      parseScenario({ id: 'x', title: 'x', steps: [{ action: 'call', from: 'alice', to: '+1' }, ...steps] });
      return [];
    } catch (error) {
      assert.ok(error instanceof ScenarioError);
      return error.problems.map((p) => `${p.path}: ${p.message}`);
    }
  };
  assert.deepEqual(errors([{ action: 'expect-dtmf', to: 'gw-a', digits: '12x', payloadType: 200, within: -1, colour: 'red' }]), [
    '/steps/1/colour: unknown property; expected one of action, label, call, to, digits, payloadType, within, absent, relayed, beforeAnswer',
    '/steps/1/within: must be an integer from 0 to 600000, got number -1',
    '/steps/1/digits: must be DTMF digits 0-9 * # A-D, got "12x"',
    '/steps/1/payloadType: must be an integer from 0 to 127, got number 200',
  ]);
  assert.deepEqual(errors([{ action: 'expect-dtmf', digits: '1' }]), ['/steps/1/to: is required']);
  assert.deepEqual(errors([{ action: 'expect-dtmf', to: 'peer' }]), ['/steps/1/digits: is required']);
  assert.deepEqual(errors([{ action: 'expect-dtmf', to: 'peer', absent: true, payloadType: 101 }]), ['/steps/1: "absent" checks that no digit arrives: "payloadType" and "beforeAnswer" do not apply']);
  assert.deepEqual(errors([{ action: 'expect-dtmf', call: 'other', to: 'peer', digits: '1' }]), ['/steps/1/call: no earlier "call" step placed a call named "other" (known: main)']);
  assert.deepEqual(errors([{ action: 'expect-dtmf', to: 'peer', absent: true }]), []);
});

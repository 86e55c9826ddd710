/** The scenario steps of PRACK, hold from the PSTN side and attended transfer: what they parse to, and their errors by JSON path. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScenario, ScenarioError } from './scenario.ts';

function problems(value: unknown): Map<string, string> {
  try {
    parseScenario(value, 'test.json');
  } catch (error) {
    assert.ok(error instanceof ScenarioError, String(error));
    return new Map(error.problems.map((p) => [p.path, p.message]));
  }
  assert.fail('expected a ScenarioError');
}

test('peer-hold, peer-resume, attended transfer and rack parse to steps', () => {
  const s = parseScenario({
    id: 'transfer-x',
    title: 't',
    steps: [
      { action: 'call', from: 'alice', to: '+14255550110' },
      { action: 'peer-hold' },
      { action: 'peer-hold', direction: 'inactive', mayFail: true },
      { action: 'peer-resume' },
      { action: 'call', call: 'consult', from: 'alice', to: 'bob' },
      { action: 'transfer', replaces: 'consult' },
      { action: 'expect', from: 'peer', request: 'PRACK', rack: true },
      { action: 'expect', from: 'peer', response: 200, afterPrack: true },
    ],
  });
  assert.deepEqual(s.steps[1], { action: 'peer-hold', call: 'main', direction: 'sendonly', mayFail: false });
  assert.deepEqual(s.steps[2], { action: 'peer-hold', call: 'main', direction: 'inactive', mayFail: true });
  assert.deepEqual(s.steps[3], { action: 'peer-resume', call: 'main', mayFail: false });
  assert.deepEqual(s.steps[5], { action: 'transfer', call: 'main', replaces: 'consult', mayFail: false });
  const rack = s.steps[6];
  assert.ok(rack.action === 'expect' && rack.expect.rack === true && rack.expect.match.request === 'PRACK');
  const after = s.steps[7];
  assert.ok(after.action === 'expect' && after.expect.afterPrack === true);
});

test('their mistakes are named by JSON path', () => {
  const byPath = problems({
    id: 'prack-x',
    title: 't',
    steps: [
      { action: 'call', from: 'alice', to: '+14255550110' },
      { action: 'peer-hold', direction: 'recvonly' },
      { action: 'peer-resume', call: 'other' },
      { action: 'transfer', replaces: 'consult' },
      { action: 'transfer', replaces: 'main' },
      { action: 'call', call: 'consult', from: 'alice', to: 'bob' },
      { action: 'transfer', replaces: 'consult', target: 'bob' },
      { action: 'transfer' },
      { action: 'expect', from: 'peer', response: 180, rack: true },
      { action: 'expect', from: 'peer', request: 'PRACK', rack: 'yes' },
      { action: 'peer-hold', colour: 'red' },
      { action: 'expect', from: 'mediation', request: 'BYE', afterPrack: true },
    ],
  });
  assert.match(byPath.get('/steps/1/direction') ?? '', /must be one of sendonly, inactive/);
  assert.match(byPath.get('/steps/2/call') ?? '', /no earlier "call" step placed a call named "other"/);
  assert.match(byPath.get('/steps/3/replaces') ?? '', /no earlier "call" step placed a call named "consult" to replace/);
  assert.match(byPath.get('/steps/4/replaces') ?? '', /must be another call than the one transferred/);
  assert.match(byPath.get('/steps/6/target') ?? '', /give "target" or "replaces", not both/);
  assert.match(byPath.get('/steps/7/target') ?? '', /is required/);
  assert.match(byPath.get('/steps/8/rack') ?? '', /use it with "request": "PRACK"/);
  assert.match(byPath.get('/steps/9/rack') ?? '', /must be true or false/);
  assert.match(byPath.get('/steps/10/colour') ?? '', /unknown property/);
  assert.match(byPath.get('/steps/11/afterPrack') ?? '', /a response to an INVITE/);
});

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

test('prack and refresh parse to steps, with their defaults', () => {
  const s = parseScenario({
    id: 'session-timer-x',
    title: 't',
    steps: [
      { action: 'call', from: 'alice', to: '+14255550122' },
      { action: 'prack' },
      { action: 'prack', call: 'main', within: 2000, label: 'PRACK' },
      { action: 'refresh' },
      { action: 'refresh', side: 'pstn' },
      { action: 'expect', from: 'peer', request: 'INVITE', sdp: { version: 'same', sameMedia: true } },
    ],
  });
  assert.deepEqual(s.steps[1], { action: 'prack', call: 'main', within: 5000 });
  assert.deepEqual(s.steps[2], { action: 'prack', call: 'main', within: 2000, label: 'PRACK' });
  assert.deepEqual(s.steps[3], { action: 'refresh', call: 'main', side: 'lync' });
  assert.deepEqual(s.steps[4], { action: 'refresh', call: 'main', side: 'pstn' });
  const sdp = s.steps[5];
  assert.ok(sdp.action === 'expect');
  assert.deepEqual(sdp.expect.sdp, { version: 'same', sameMedia: true });
});

test('prack and refresh mistakes are named by JSON path', () => {
  const byPath = problems({
    id: 'session-timer-x',
    title: 't',
    steps: [
      { action: 'prack' },
      { action: 'call', from: 'alice', to: '+14255550122' },
      { action: 'prack', within: -1 },
      { action: 'prack', rack: true },
      { action: 'refresh', side: 'gateway' },
      { action: 'refresh', call: 'other' },
      { action: 'expect', from: 'peer', request: 'INVITE', sdp: { version: 'previous', sameMedia: 'yes' } },
    ],
  });
  assert.match(byPath.get('/steps/0/call') ?? '', /no earlier "call" step placed a call named "main"/);
  assert.match(byPath.get('/steps/2/within') ?? '', /must be an integer from 0 to 600000/);
  assert.match(byPath.get('/steps/3/rack') ?? '', /unknown property; expected one of action, label, call, within/);
  assert.match(byPath.get('/steps/4/side') ?? '', /must be one of lync, pstn/);
  assert.match(byPath.get('/steps/5/call') ?? '', /no earlier "call" step placed a call named "other"/);
  assert.match(byPath.get('/steps/6/sdp/version') ?? '', /must be one of same, next/);
  assert.match(byPath.get('/steps/6/sdp/sameMedia') ?? '', /must be true or false/);
});

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { builtInCases, selectCases } from './cases.ts';
import { areaOf, parseScenario, ScenarioError } from './scenario.ts';

const SCENARIOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/scenarios');

function problems(value: unknown): Array<{ path: string; message: string }> {
  try {
    parseScenario(value, 'test.json');
  } catch (error) {
    assert.ok(error instanceof ScenarioError, String(error));
    return error.problems;
  }
  assert.fail('expected a ScenarioError');
}

test('a scenario file with mistakes: every problem is named by its JSON path', () => {
  const found = problems({
    id: 'Basic Outbound',
    title: 'x',
    colour: 'red',
    steps: [
      { action: 'call', from: 'alice' },
      { action: 'hold', call: 'other' },
      { action: 'expect', request: 'INVITE', response: 200 },
      { action: 'expect', response: '18z', sdp: { direction: 'hold', codecs: [] }, within: -1 },
      { action: 'expect', request: 'INVITE', status: 200, headers: { 'P-Asserted-Identity': '(' } },
      { action: 'fly' },
    ],
  });
  const byPath = new Map(found.map((p) => [p.path, p.message]));
  assert.match(byPath.get('/id') ?? '', /lower-case words joined by dashes/);
  assert.match(byPath.get('/colour') ?? '', /unknown property/);
  assert.match(byPath.get('/steps/0/to') ?? '', /is required/);
  assert.match(byPath.get('/steps/1/call') ?? '', /no earlier "call" step placed a call named "other"/);
  assert.match(byPath.get('/steps/2') ?? '', /not both/);
  assert.match(byPath.get('/steps/3/response') ?? '', /class like 18x/);
  assert.match(byPath.get('/steps/3/sdp/direction') ?? '', /sendrecv, sendonly, recvonly, inactive/);
  assert.match(byPath.get('/steps/3/sdp/codecs') ?? '', /codec names/);
  assert.match(byPath.get('/steps/3/within') ?? '', /integer from 0/);
  assert.match(byPath.get('/steps/4/status') ?? '', /a request has no status/);
  assert.match(byPath.get('/steps/4/headers/P-Asserted-Identity') ?? '', /regular expression/);
  assert.match(byPath.get('/steps/5/action') ?? '', /must be one of call, answer/);
  assert.equal(problems('nope')[0]?.path, '');
  assert.match(problems({ id: 'a', title: 'b' })[0]?.message ?? '', /is required: a list of steps/);
});

test('the error message lists every problem with its path', () => {
  assert.throws(() => parseScenario({ id: 'x-y', title: 't', steps: [{ action: 'wait' }] }, 'my.json'), /my\.json: 1 problem in the scenario:\n {2}\/steps\/0\/ms: is required/);
});

test('defaults: side trunk, since the last action, first match, 5 s; early-media is a 183 from the peer', () => {
  const s = parseScenario({ id: 'early-media-x', title: 't', steps: [{ action: 'call', from: 'alice', to: '+1' }, { action: 'early-media', sdp: false }, { action: 'early-media', side: 'lync', to: 'alice' }] });
  assert.deepEqual(s.steps[1], { action: 'expect', expect: { match: { side: 'trunk', from: 'peer', response: 183, since: 'action', nth: 1 }, within: 5000, absent: false, sdp: { present: false } } });
  const lync = s.steps[2];
  assert.ok(lync.action === 'expect' && lync.expect.match.from === undefined && lync.expect.match.to === 'alice');
});

test('built-in cases: at least 30, valid, unique ids that start with their area', () => {
  const cases = builtInCases();
  assert.ok(cases.length >= 30, `${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.id)).size, cases.length);
  const areas = new Set(cases.map((c) => areaOf(c.id)));
  for (const area of ['basic-outbound', 'basic-inbound', 'caller-id', 'cancel', 'busy', 'no-answer', 'ringback', 'early-media', 'hold-resume', 'transfer', 'session-timer', 'dtmf', 'options', 'failover', 'translation', 'history-info', 'response-code', 'tls']) {
    assert.ok(areas.has(area), `no case for ${area}`);
  }
});

test('--cases: globs, comma lists and substrings', () => {
  const cases = builtInCases();
  assert.deepEqual(selectCases(cases, 'hold-resume-*').map((c) => c.id), ['hold-resume-outbound', 'hold-resume-inbound', 'hold-resume-from-pstn', 'hold-resume-from-pstn-inactive']);
  assert.deepEqual(selectCases(cases, 'busy-outbound-486,cancel-in').map((c) => c.id), ['cancel-inbound', 'busy-outbound-486']);
  assert.equal(selectCases(cases, undefined).length, cases.length);
});

test('the scenario files in fixtures/scenarios are valid', () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of files) parseScenario(JSON.parse(readFileSync(path.join(SCENARIOS, f), 'utf8')), f);
});

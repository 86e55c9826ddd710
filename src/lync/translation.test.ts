import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failsOver } from './routing.ts';
import { defaultTopologyPath, loadTopology, type Trunk } from './topology.ts';
import {
  isupCauseOf,
  translateCalledNumber,
  translateCallingNumber,
  translateNumber,
  translateResponseCode,
} from './translation.ts';
import { defaultTrunkConfiguration } from './trunk-configuration.ts';

const lab = loadTopology(defaultTopologyPath());
const trunk = (name: string): Trunk => lab.trunks.find((t) => t.name === name) as Trunk;

describe('outbound number translation', () => {
  const pbx = trunk('t-med-1-pbx').configuration;

  test('called number: first matching rule of OutboundTranslationRulesList', () => {
    assert.deepEqual(
      [translateCalledNumber('+14255550161', pbx).number, translateCalledNumber('+14255550161', pbx).rule?.name],
      ['2161', 'DID-To-PBX-Extension'],
    );
    assert.equal(translateCalledNumber('+12065550100', pbx).number, '92065550100');
    assert.equal(translateCalledNumber('+442079460123', pbx).number, '9011442079460123');
  });

  test('calling number: OutboundCallingNumberTranslationRulesList', () => {
    const result = translateCallingNumber('+14255550101', pbx);
    assert.deepEqual([result.number, result.rule?.name], ['0101', 'Lync-DID-To-4-Digit']);
    assert.equal(translateCallingNumber('+12065550100', pbx).number, '+12065550100', 'no rule matches: unchanged');
  });

  test('RemovePlusFromUri strips the + after the rules', () => {
    const gwb = trunk('t-med-1-gw-b').configuration;
    const result = translateCalledNumber('+14255550140', gwb);
    assert.deepEqual([result.number, result.plusRemoved, result.rule], ['14255550140', true, null]);
    assert.equal(translateCallingNumber('+14255550101', gwb).number, '14255550101');
    const rules = [{ name: 'r', description: '', pattern: '^\\+1(\\d+)$', translation: '+$1' }];
    assert.deepEqual(translateNumber('+1425', rules, true), {
      input: '+1425',
      number: '425',
      rule: rules[0],
      plusRemoved: true,
    });
  });

  test('defaults change nothing', () => {
    const result = translateCalledNumber('+14255550160', defaultTrunkConfiguration());
    assert.deepEqual(result, { input: '+14255550160', number: '+14255550160', rule: null, plusRemoved: false });
  });
});

describe('SipResponseCodeTranslationRulesList', () => {
  const gwb = trunk('t-med-1-gw-b').configuration;

  test('486 with ISUP cause 34 becomes 503 (the Microsoft example), and then fails over', () => {
    const result = translateResponseCode(486, gwb, 34);
    assert.deepEqual([result.code, result.rule?.name], [503, 'Busy-No-Circuit-To-503']);
    assert.equal(failsOver({ kind: 'response', status: result.code }), true);
  });

  test('a rule with an ISUP cause needs that cause', () => {
    assert.equal(translateResponseCode(486, gwb).code, 486);
    assert.equal(translateResponseCode(486, gwb, 17).code, 486);
    assert.equal(failsOver({ kind: 'response', status: 486 }), false, 'a plain busy ends the call');
  });

  test('a rule without an ISUP cause matches any', () => {
    assert.equal(translateResponseCode(406, gwb).code, 503);
    assert.equal(translateResponseCode(406, gwb, 65).code, 503);
  });

  test('codes outside 400-699 and codes without a rule are left alone', () => {
    assert.deepEqual(translateResponseCode(200, gwb), { received: 200, code: 200, rule: null });
    assert.deepEqual(translateResponseCode(183, gwb), { received: 183, code: 183, rule: null });
    assert.equal(translateResponseCode(404, gwb).code, 404);
  });

  test('rules apply in order, first match wins', () => {
    const config = {
      sipResponseCodeTranslationRules: [
        { name: 'specific', receivedResponseCode: 480, receivedIsupCauseValue: 18, translatedResponseCode: 408 },
        { name: 'any', receivedResponseCode: 480, receivedIsupCauseValue: null, translatedResponseCode: 503 },
        { name: 'never', receivedResponseCode: 480, receivedIsupCauseValue: null, translatedResponseCode: 404 },
      ],
    };
    assert.equal(translateResponseCode(480, config, 18).rule?.name, 'specific');
    assert.equal(translateResponseCode(480, config, 19).rule?.name, 'any');
  });

  test('isupCauseOf reads the Q.850 cause of a Reason header', () => {
    assert.equal(isupCauseOf('Q.850;cause=34;text="No circuit/channel available"'), 34);
    assert.equal(isupCauseOf('SIP;cause=200;text="Call completed elsewhere", Q.850 ; cause = 16'), 16);
    assert.equal(isupCauseOf('SIP;cause=486'), null);
    assert.equal(isupCauseOf(null), null);
  });
});

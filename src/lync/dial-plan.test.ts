import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { dialPlanForGateway, dialPlanForUser, dialString, isE164, normalize } from './dial-plan.ts';
import { applyTranslation, translationProblem } from './number-pattern.ts';
import { type DialPlan, defaultTopologyPath, loadTopology, parseTopology, type TopologyInput } from './topology.ts';

const lab = loadTopology(defaultTopologyPath());
const fixture = (name: string) => loadTopology(path.join(path.dirname(defaultTopologyPath()), `${name}.json`));

function plan(rules: [string, string][]): DialPlan {
  return {
    identity: 'Tag:Test',
    scope: { kind: 'user', tag: 'Test' },
    description: '',
    normalizationRules: rules.map(([pattern, translation], i) => ({
      name: `r${i}`,
      description: '',
      pattern,
      translation,
      isInternalExtension: false,
    })),
  };
}

describe('normalization: the domain doc examples', () => {
  test('^(\\d{4})$ → +1425555$1 turns a 4-digit extension into E.164', () => {
    const result = normalize('0150', plan([['^(\\d{4})$', '+1425555$1']]));
    assert.equal(result.number, '+14255550150');
    assert.equal(result.rule?.name, 'r0');
    assert.equal(result.isE164, true);
  });

  test('^011(\\d*)$ → +$1 turns the international prefix into +', () => {
    assert.equal(normalize('011442079460123', plan([['^011(\\d*)$', '+$1']])).number, '+442079460123');
  });

  test('rules run top-down and the first match wins', () => {
    const p = plan([
      ['^(\\d{4})$', '+1425555$1'],
      ['^(0\\d{3})$', '+99$1'],
    ]);
    const result = normalize('0101', p);
    assert.equal(result.number, '+14255550101');
    assert.equal(result.rule?.name, 'r0');
  });

  test('no matching rule leaves the number as dialed (not E.164)', () => {
    const result = normalize('999', plan([['^(\\d{4})$', '+1425555$1']]));
    assert.deepEqual([result.number, result.rule, result.isE164], ['999', null, false]);
  });
});

describe('normalization with the lab dial plans', () => {
  const global = lab.dialPlans.find((d) => d.identity === 'Global') as DialPlan;
  const cases: [string, string, string][] = [
    ['0101', '+14255550101', 'Four-Digit-Internal'],
    ['111', '+14255550150;ext=111', 'Main-Number-Extensions'],
    ['2161', '+14255550161', 'PBX-Extensions'],
    ['5550160', '+14255550160', 'Local-7-Digit'],
    ['4255550160', '+14255550160', 'NANP-10-Digit'],
    ['12065550100', '+12065550100', 'NANP-11-Digit'],
    ['011442079460123', '+442079460123', 'International'],
    ['(425) 555-0160', '+14255550160', 'NANP-10-Digit'],
    ['sip:0102;phone-context=dialstring@contoso.com;user=phone', '+14255550102', 'Four-Digit-Internal'],
  ];
  for (const [dialed, expected, rule] of cases) {
    test(`${dialed} → ${expected} (${rule})`, () => {
      const result = normalize(dialed, global);
      assert.equal(result.number, expected);
      assert.equal(result.rule?.name, rule);
      assert.equal(result.dialPlan, 'Global');
    });
  }

  test('an E.164 number matches no rule and passes through', () => {
    const result = normalize('+14255550160', global);
    assert.deepEqual([result.number, result.rule, result.isE164], ['+14255550160', null, true]);
  });
});

describe('dial plan scope', () => {
  test('a user with a Tag: dial plan gets it; others get the global one', () => {
    assert.equal(dialPlanForUser(lab, 'bob').identity, 'Tag:LegacyDialing');
    assert.equal(dialPlanForUser(lab, 'alice').identity, 'Global');
    assert.equal(normalize('94255550160', dialPlanForUser(lab, 'bob')).number, '+14255550160');
    assert.equal(normalize('94255550160', dialPlanForUser(lab, 'alice')).rule, null);
  });

  test('user > pool > site > global', () => {
    const doc: TopologyInput = {
      frontEnd: { address: '127.0.0.10' },
      site: 'Redmond',
      users: [
        { name: 'u1', address: '127.0.0.101', dialPlan: 'Mine' },
        { name: 'u2', address: '127.0.0.102' },
      ],
      dialPlans: [
        { identity: 'Global' },
        { identity: 'Site:Redmond' },
        { identity: 'Service:Registrar:fe' },
        { identity: 'Tag:Mine' },
      ],
    };
    const t = parseTopology(doc, 'scopes');
    assert.equal(dialPlanForUser(t, 'u1').identity, 'Tag:Mine');
    assert.equal(dialPlanForUser(t, 'u2').identity, 'Service:Registrar:fe');
    doc.dialPlans = [{ identity: 'Global' }, { identity: 'Site:Redmond' }, { identity: 'Tag:Mine' }];
    assert.equal(dialPlanForUser(parseTopology(doc, 'scopes'), 'u2').identity, 'Site:Redmond');
    doc.dialPlans = [{ identity: 'Tag:Mine' }];
    assert.equal(dialPlanForUser(parseTopology(doc, 'scopes'), 'u2').identity, 'Global');
  });

  test("a gateway's own dial plan normalizes its calls; others fall back to global", () => {
    const gwa = dialPlanForGateway(lab, 'gw-a');
    assert.equal(gwa.identity, 'Service:PstnGateway:gw-a');
    assert.equal(normalize('0101', gwa).number, '+14255550101');
    assert.equal(normalize('4255550160', gwa).number, '+14255550160');
    const pbx = dialPlanForGateway(fixture('ip-pbx'), 'pbx');
    assert.equal(normalize('2160', pbx).number, '+14255550160');
    assert.equal(normalize('sip:2160;phone-context=dialstring@contoso.com;user=phone', pbx).number, '+14255550160');
    assert.equal(dialPlanForGateway(lab, 'gw-b').identity, 'Global');
  });

  test('unknown user is a programming error', () => {
    assert.throws(() => dialPlanForUser(lab, 'nobody'), /no user named "nobody"/);
  });
});

describe('dial strings and patterns', () => {
  test('dialString strips schemes, hosts, parameters except ext, and separators', () => {
    assert.equal(dialString('tel:+14255550150;ext=111'), '+14255550150;ext=111');
    assert.equal(dialString('sip:+1 (425) 555-0160@contoso.com;user=phone'), '+14255550160');
    assert.equal(dialString(' 425.555.0160 '), '4255550160');
  });

  test('isE164', () => {
    assert.ok(isE164('+14255550101'));
    assert.ok(isE164('+14255550150;ext=111'));
    assert.ok(!isE164('14255550101'));
    assert.ok(!isE164('+0123'));
    assert.ok(!isE164('+1234567890123456'));
  });

  test('.NET replacement syntax: $n in braces, $$, $&, named groups, longest valid group number', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: .NET replacement syntax, not a template
    assert.equal(applyTranslation('^(\\d{3})$', '${1}0', '123'), '1230');
    assert.equal(applyTranslation('^(\\d{3})$', '$10', '123'), '1230', '$10 with one group is $1 then 0');
    assert.equal(applyTranslation('^(\\d)$', '$$$1', '7'), '$7');
    assert.equal(applyTranslation('^\\d+$', '<$&>', '42'), '<42>');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: .NET replacement syntax, not a template
    assert.equal(applyTranslation('^(?<ext>\\d{4})$', '+1425555${ext}', '0101'), '+14255550101');
    assert.equal(applyTranslation('\\d', '#', 'a1b2'), 'a#b#', 'every match is replaced, as Regex.Replace');
    assert.equal(applyTranslation('^9', '', '123'), null);
  });

  test('translations naming a missing group are caught', () => {
    assert.equal(translationProblem('^(\\d)$', '+$1'), null);
    assert.match(translationProblem('^(\\d)$', '+$2') ?? '', /refers to \$2/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: .NET replacement syntax, not a template
    assert.match(translationProblem('^(\\d)$', '${x}') ?? '', /refers to \$\{x\}/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: .NET replacement syntax, not a template
    assert.equal(translationProblem('^(?<x>\\d)$', '${x}'), null);
  });
});

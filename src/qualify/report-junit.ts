/**
 * JUnit XML for CI servers (the de-facto schema Jenkins, GitLab and Azure
 * DevOps read): one <testcase> per case, classname = its area, a <failure>
 * naming the failed step with expected / observed / message index, and the
 * step list in <system-out>.
 */
import type { CaseResult, StepResult } from './runner.ts';
import { areaOf } from './scenario.ts';
import type { SuiteResult } from './suite.ts';

const xml = (s: string): string =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

export function stepLine(s: StepResult): string {
  const parts = [`${String(s.index + 1).padStart(2)}. ${s.verdict.toUpperCase().padEnd(7)} ${s.description}`];
  if (s.expected !== undefined && s.verdict === 'fail') parts.push(`      expected: ${s.expected}`);
  if (s.observed !== undefined) parts.push(`      observed: ${s.observed}${s.messageIndex !== undefined ? ` (message #${s.messageIndex})` : ''}`);
  return parts.join('\n');
}

function testcase(r: CaseResult): string {
  const attrs = `classname="trunklab.${xml(areaOf(r.id))}" name="${xml(r.id)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
  const out = [`    <testcase ${attrs}>`];
  const failed = r.steps.find((s) => s.verdict === 'fail');
  if (r.verdict === 'fail') {
    const detail = failed === undefined ? (r.reason ?? '') : stepLine(failed);
    out.push(`      <failure message="${xml(r.reason ?? 'failed')}" type="${failed ? `step ${failed.index + 1}` : 'case'}">${xml(detail)}</failure>`);
  } else if (r.verdict === 'error') out.push(`      <error message="${xml(r.reason ?? 'error')}" type="error"/>`);
  else if (r.verdict === 'skip') out.push(`      <skipped message="${xml(r.reason ?? 'skipped')}"/>`);
  out.push(`      <system-out>${xml(`${r.title}\n${r.steps.map(stepLine).join('\n')}`)}</system-out>`);
  out.push('    </testcase>');
  return out.join('\n');
}

export function junitXml(suite: SuiteResult): string {
  const errors = suite.cases.filter((c) => c.verdict === 'error').length;
  const failures = suite.cases.filter((c) => c.verdict === 'fail').length;
  const time = (suite.durationMs / 1000).toFixed(3);
  const head = `tests="${suite.cases.length}" failures="${failures}" errors="${errors}" skipped="${suite.skipped}" time="${time}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="trunklab qualification" ${head}>`,
    `  <testsuite name="trunklab qualification (${xml(suite.topology)}${suite.external.length ? `; external ${xml(suite.external.join(', '))}` : ''})" ${head} timestamp="${suite.startedAt.slice(0, 19)}">`,
    ...suite.cases.map(testcase),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

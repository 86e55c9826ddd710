/**
 * The qualification report as one self-contained HTML file (no scripts from
 * anywhere, styles inline): the summary, then per case its verdict, steps
 * (expected / observed / the message they are about), the ladder as SVG
 * (src/common/ladder-svg.ts) with message numbers and the failing message
 * marked, and every raw message. Failed cases are open, the rest folded.
 */
import { ladderLayout, usedIds } from '../common/ladder.ts';
import { ladderSvg } from '../common/ladder-svg.ts';
import type { CaseResult } from './runner.ts';
import type { SuiteResult } from './suite.ts';

const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** ladder-svg.ts's defaults: the row geometry the message numbers are placed on. */
const ROW = 26;
const HEAD = 56;

function ladder(r: CaseResult): string {
  if (r.summaries.length === 0) return '<p class="muted">No SIP message was exchanged.</p>';
  const layout = ladderLayout(r.elements, usedIds(r.summaries), { onlyUsed: true, columnWidth: 120 });
  let svg = ladderSvg(layout, r.summaries, { title: r.id });
  const cited = new Set(r.steps.filter((s) => s.verdict === 'fail' && s.messageIndex !== undefined).map((s) => s.messageIndex));
  const marks: string[] = [];
  r.summaries.forEach((m, row) => {
    const y = HEAD + row * ROW + 18;
    if (cited.has(m.index)) marks.push(`<rect x="0" y="${y - 16}" width="100%" height="${ROW - 2}" fill="#fee2e2" opacity="0.6"/>`);
    marks.push(`<text x="100" y="${y}" fill="#4b5563" font-weight="600"><a href="#${esc(r.id)}-m${m.index}">#${m.index}</a></text>`);
  });
  // Highlights go under the arrows (after the background rect), numbers on top.
  svg = svg.replace(/(<rect width="[^"]*" height="[^"]*" fill="#ffffff"\/>)/, `$1${marks.filter((x) => x.startsWith('<rect')).join('')}`);
  svg = svg.replace(/<\/svg>$/, `${marks.filter((x) => x.startsWith('<text')).join('')}</svg>`);
  return `<div class="ladder">${svg}</div>`;
}

function steps(r: CaseResult): string {
  if (r.steps.length === 0) return '';
  const rows = r.steps.map((s) => {
    const msg = s.messageIndex === undefined ? '' : `<a href="#${esc(r.id)}-m${s.messageIndex}">#${s.messageIndex}</a>`;
    const expected = s.verdict === 'fail' ? esc(s.expected ?? '') : '';
    return `<tr class="${s.verdict}"><td>${s.index + 1}</td><td><span class="badge ${s.verdict}">${s.verdict}</span></td><td>${esc(s.description)}</td><td>${expected}</td><td>${esc(s.observed ?? '')}</td><td>${msg}</td><td class="num">${s.atMs}</td></tr>`;
  });
  return `<table class="steps"><thead><tr><th>#</th><th>verdict</th><th>step</th><th>expected</th><th>observed</th><th>message</th><th>ms</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function messages(r: CaseResult): string {
  if (r.messages.length === 0) return '';
  const items = r.messages.map(
    (m) =>
      `<details class="msg" id="${esc(r.id)}-m${m.index}"><summary><b>#${m.index}</b> ${esc(m.from)} → ${esc(m.to)} <span class="muted">${m.transport.toUpperCase()} · ${m.side}</span> ${esc(m.label)}</summary><pre>${esc(m.text)}</pre></details>`,
  );
  return `<details class="raw"><summary>Raw messages (${r.messages.length})</summary>${items.join('')}</details>`;
}

function caseSection(r: CaseResult): string {
  const open = r.verdict === 'fail' || r.verdict === 'error' ? ' open' : '';
  const reason = r.reason ? `<p class="reason">${esc(r.reason)}</p>` : '';
  return `<details class="case ${r.verdict}" id="${esc(r.id)}"${open}><summary><span class="badge ${r.verdict}">${r.verdict}</span> <b>${esc(r.id)}</b> <span class="muted">${esc(r.title)} · ${r.durationMs} ms</span></summary>${reason}${steps(r)}${r.verdict === 'skip' || r.verdict === 'error' ? '' : ladder(r)}${messages(r)}</details>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#111827;background:#f9fafb}
h1{font-size:20px;margin:0 0 4px}.muted{color:#6b7280;font-weight:normal}
.summary{display:flex;gap:12px;margin:16px 0}.tile{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 16px;min-width:90px}
.tile b{display:block;font-size:22px}.tile.pass b{color:#15803d}.tile.fail b{color:#b91c1c}.tile.skip b{color:#a16207}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}.num{text-align:right}
table.overview{margin-bottom:20px}
.badge{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:700;text-transform:uppercase;color:#fff;background:#6b7280}
.badge.pass{background:#15803d}.badge.fail,.badge.error{background:#b91c1c}.badge.skip{background:#a16207}.badge.not-run{background:#9ca3af}
details.case{background:#fff;border:1px solid #e5e7eb;border-left:4px solid #15803d;border-radius:6px;margin:8px 0;padding:8px 12px}
details.case.fail,details.case.error{border-left-color:#b91c1c}details.case.skip{border-left-color:#a16207}
details.case>summary{cursor:pointer}.reason{color:#b91c1c;font-weight:600}
table.steps{margin:8px 0;font-size:13px;width:100%}tr.fail td{background:#fef2f2}tr.not-run td{color:#9ca3af}
.ladder{overflow-x:auto;margin:8px 0;border:1px solid #e5e7eb}
details.raw{margin:6px 0}details.msg summary{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;cursor:pointer}
pre{background:#111827;color:#e5e7eb;padding:8px;overflow-x:auto;font-size:12px;margin:4px 0 8px}
`;

export function htmlReport(suite: SuiteResult): string {
  const overview = suite.cases
    .map((r) => `<tr><td><span class="badge ${r.verdict}">${r.verdict}</span></td><td><a href="#${esc(r.id)}">${esc(r.id)}</a></td><td>${esc(r.title)}</td><td>${esc(r.reason ?? '')}</td><td class="num">${r.durationMs}</td></tr>`)
    .join('');
  const against = suite.external.length > 0 ? `external device${suite.external.length > 1 ? 's' : ''} ${esc(suite.external.join(', '))}` : 'the emulated peers';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trunklab qualification: ${suite.passed} passed, ${suite.failed} failed</title><style>${CSS}</style></head>
<body>
<h1>Trunklab qualification report</h1>
<div class="muted">Lync Server 2013 direct SIP · topology ${esc(suite.topology)} · against ${against} · ${esc(suite.startedAt)} · ${(suite.durationMs / 1000).toFixed(1)} s</div>
<div class="summary"><div class="tile pass"><b>${suite.passed}</b>passed</div><div class="tile fail"><b>${suite.failed}</b>failed</div><div class="tile skip"><b>${suite.skipped}</b>skipped</div><div class="tile"><b>${suite.cases.length}</b>cases</div></div>
<table class="overview"><thead><tr><th>verdict</th><th>case</th><th>what it checks</th><th>why it failed</th><th>ms</th></tr></thead><tbody>${overview}</tbody></table>
${suite.cases.map(caseSection).join('\n')}
</body></html>
`;
}

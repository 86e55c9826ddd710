/**
 * Qualification: the built-in cases (picked by area, pattern and one by
 * one), run on fresh labs next to the live one, against the emulated peers
 * or external devices; live progress; each case's verdict, and its steps
 * with what was expected and observed. A step's message opens on the
 * ladder (the case's messages are a source of the trace). JUnit XML and
 * the HTML report of the last run download from here.
 */
import { Fragment, useEffect, useMemo, useState } from 'react';

import type { QualifyCaseInfo, QualifyCaseResult, QualifyReportFormat, QualifyStep, TraceFilter } from '../../../src/common/api.ts';
import { connect } from '../bridge.ts';
import { saveBase64 } from '../files.ts';
import { nameOf, useStore } from '../store.ts';
import { openOnLadder, startQualify, useQualify } from './qualify-store.ts';
import './qualify.css';

const TIME_SCALES: [number, string][] = [
  [1, 'as in the topology'],
  [0.5, '½ (faster)'],
  [0.25, '¼ (fastest)'],
];

/** Same matching as `trunklab suite --cases`: comma-separated globs, or substrings. */
function matcher(pattern: string): (id: string) => boolean {
  const parts = pattern
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) return () => true;
  const tests = parts.map((p) =>
    p.includes('*') || p.includes('?')
      ? ((re: RegExp) => (id: string) => re.test(id))(new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`))
      : (id: string) => id.includes(p),
  );
  return (id) => tests.some((t) => t(id));
}

function Verdict({ verdict, title }: { verdict: string; title?: string }) {
  return (
    <span className={`verdict verdict-${verdict}`} title={title}>
      {verdict.replace('-', ' ')}
    </span>
  );
}

/** `INVITE med-1 → gw-b` with the elements' display names. */
function messageWords(step: QualifyStep): string {
  const words = (step.messageLabel ?? '').split(' ');
  if (words.length < 4 || words.at(-2) !== '→') return step.messageLabel ?? `message #${step.caseMessage}`;
  return `${words.slice(0, -3).join(' ')} · ${nameOf(words.at(-3)!)} → ${nameOf(words.at(-1)!)}`;
}

/** The ladder filter of a case: its source, keep-alives hidden unless the case (or the step's message) is about them. */
function caseFilter(result: QualifyCaseResult, step?: QualifyStep): TraceFilter {
  const options = result.area === 'options' || (step?.messageLabel ?? '').includes('OPTIONS');
  return { source: result.source, ...(options ? {} : { hideOptions: true }) };
}

function StepRows({ result, stale }: { result: QualifyCaseResult; stale: boolean }) {
  return (
    <table className="q-steps" aria-label={`Steps of ${result.id}`}>
      <thead>
        <tr>
          <th className="num">#</th>
          <th>Verdict</th>
          <th>Step</th>
          <th>Expected</th>
          <th>Observed</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {result.steps.map((s) => (
          <tr key={s.index} className={`q-step q-step-${s.verdict}`}>
            <td className="num">{s.index + 1}</td>
            <td>
              <Verdict verdict={s.verdict} />
            </td>
            <td>{s.description}</td>
            <td className="q-expected">{s.verdict === 'fail' ? s.expected : ''}</td>
            <td className="q-observed">{s.observed}</td>
            <td>
              {s.caseMessage !== undefined &&
                (s.messageIndex !== undefined && !stale ? (
                  <button
                    type="button"
                    className="q-msg"
                    onClick={() => void openOnLadder(s.messageIndex!, caseFilter(result, s))}
                    title={`Message #${s.caseMessage} of the case (frame ${s.caseMessage + 1} of its pcap): open it on the ladder (#${s.messageIndex + 1})`}
                  >
                    <span className="q-msg-label">{messageWords(s)}</span>
                    <span className="q-msg-idx">#{s.messageIndex + 1} ↗</span>
                  </button>
                ) : (
                  <span className="dim" title="The trace was cleared since the run">
                    {messageWords(s)} (case #{s.caseMessage})
                  </span>
                ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CasePicker({ running }: { running: boolean }) {
  const cases = useQualify((s) => s.cases);
  const notify = useStore((s) => s.notify);
  const elements = useStore((s) => s.elements);
  const [area, setArea] = useState('');
  const [pattern, setPattern] = useState('');
  const [excluded, setExcluded] = useState<Set<string>>(new Set());
  const [external, setExternal] = useState('');
  const [scale, setScale] = useState(1);
  const areas = useMemo(() => [...new Set(cases.map((c) => c.area))], [cases]);
  const test = useMemo(() => matcher(pattern), [pattern]);
  // Grouped by area, in the order areas first appear.
  const shown = areas.flatMap((a) => cases.filter((c) => c.area === a && (!area || c.area === area) && test(c.id)));
  const chosen = shown.filter((c) => !excluded.has(c.id));
  const allChosen = shown.length > 0 && chosen.length === shown.length;
  const peers = elements.filter((e) => e.role === 'gateway' || e.role === 'ip-pbx' || e.role === 'sbc');

  const toggle = (id: string): void => {
    const next = new Set(excluded);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setExcluded(next);
  };
  const toggleAll = (): void => {
    const next = new Set(excluded);
    for (const c of shown) {
      if (allChosen) next.add(c.id);
      else next.delete(c.id);
    }
    setExcluded(next);
  };
  const run = async (): Promise<void> => {
    const devices = external
      .split(/[\s,]+/)
      .map((d) => d.trim())
      .filter((d) => d.length > 0);
    try {
      await connect().api.qualifyRun({ ids: chosen.map((c) => c.id), ...(devices.length ? { external: devices } : {}), ...(scale !== 1 ? { timeScale: scale } : {}) });
    } catch (error) {
      notify('error', `The run did not start: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  let lastArea = '';
  return (
    <aside className="q-picker" aria-label="Choose cases">
      <div className="q-picker-filters">
        <label>
          Area
          <select aria-label="Area" value={area} onChange={(e) => setArea(e.target.value)}>
            <option value="">All areas ({cases.length} cases)</option>
            {areas.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Cases
          <input
            type="search"
            aria-label="Case pattern"
            placeholder="hold-*, basic-outbound-…"
            title="Comma-separated globs or parts of case ids, as trunklab suite --cases"
            value={pattern}
            onChange={(e) => setPattern(e.target.value)}
          />
        </label>
      </div>
      <div className="q-picker-head">
        <label className="check">
          <input type="checkbox" aria-label="Choose every case shown" checked={allChosen} onChange={toggleAll} disabled={shown.length === 0} />
          {chosen.length} of {shown.length} shown chosen
        </label>
      </div>
      <ul className="q-case-list" aria-label="Cases">
        {shown.map((c: QualifyCaseInfo) => {
          const head = c.area !== lastArea;
          lastArea = c.area;
          return (
            <Fragment key={c.id}>
              {head && <li className="q-area">{c.area}</li>}
              <li className="q-case-pick" title={c.title}>
                <label>
                  <input type="checkbox" aria-label={c.id} checked={!excluded.has(c.id)} onChange={() => toggle(c.id)} />
                  <span className="q-case-id">{c.id}</span>
                </label>
                <span className="q-case-title">{c.title}</span>
              </li>
            </Fragment>
          );
        })}
        {shown.length === 0 && <li className="empty">No case matches.</li>}
      </ul>
      <div className="q-run-options">
        <label>
          External devices
          <input
            aria-label="External devices"
            placeholder="gw-a=10.0.0.5:5060/udp"
            title={`PEER=HOST:PORT[/udp|tcp|tls], separated by spaces or commas; peers: ${peers.map((p) => p.id).join(', ') || 'those of the topology'}`}
            value={external}
            onChange={(e) => setExternal(e.target.value)}
          />
        </label>
        <label>
          Emulated delays
          <select aria-label="Time scale" value={scale} onChange={(e) => setScale(Number(e.target.value))}>
            {TIME_SCALES.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="primary q-run" disabled={running || chosen.length === 0} onClick={() => void run()}>
          {running ? 'Running…' : `Run ${chosen.length} case${chosen.length === 1 ? '' : 's'}`}
        </button>
      </div>
    </aside>
  );
}

async function download(format: QualifyReportFormat): Promise<void> {
  try {
    const r = await connect().api.qualifyReport(format);
    saveBase64(r.fileName, r.mimeType, r.data);
  } catch (error) {
    useStore.getState().notify('error', `No report: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function RunHeader() {
  const run = useQualify((s) => s.run);
  if (run === null) return null;
  const done = run.results.length;
  const total = run.cases.length;
  const passed = run.results.filter((r) => r.verdict === 'pass').length;
  const failed = run.results.filter((r) => r.verdict === 'fail' || r.verdict === 'error').length;
  const skipped = run.results.filter((r) => r.verdict === 'skip').length;
  const against = run.external.length > 0 ? run.external.join(', ') : 'the emulated peers';
  return (
    <div className="q-run-head">
      <div className="q-tiles">
        <div className="q-tile q-tile-pass">
          <b>{passed}</b> passed
        </div>
        <div className="q-tile q-tile-fail">
          <b>{failed}</b> failed
        </div>
        <div className="q-tile q-tile-skip">
          <b>{skipped}</b> skipped
        </div>
        <div className="q-tile">
          <b>
            {done}/{total}
          </b>{' '}
          run
        </div>
      </div>
      <div className="q-progress-box">
        <div className="q-progress-line" aria-live="polite">
          {run.running ? (
            <>
              Running <span className="mono">{run.current ?? '…'}</span> ({Math.min(done + 1, total)} of {total})
            </>
          ) : run.totals?.error ? (
            <span className="q-bad">Stopped: {run.totals.error}</span>
          ) : (
            <>
              {run.totals?.stopped ? 'Stopped' : 'Done'}: {passed} passed, {failed} failed
              {skipped ? `, ${skipped} skipped` : ''} in {((run.totals?.durationMs ?? 0) / 1000).toFixed(1)} s
            </>
          )}
          <span className="dim"> · against {against}</span>
        </div>
        <progress className="q-progress" max={total} value={done} aria-label="Qualification progress" />
      </div>
      <div className="q-run-actions">
        {run.running && (
          <button type="button" onClick={() => void connect().api.qualifyStop()} title="Stop after the case that runs">
            Stop
          </button>
        )}
        <button type="button" disabled={done === 0} onClick={() => void download('junit')} title="JUnit XML for CI servers">
          JUnit XML
        </button>
        <button type="button" disabled={done === 0} onClick={() => void download('html')} title="Self-contained HTML report: summary, steps, ladders, raw messages">
          HTML report
        </button>
      </div>
    </div>
  );
}

function Results() {
  const run = useQualify((s) => s.run);
  const expanded = useQualify((s) => s.expanded);
  const toggle = useQualify((s) => s.toggle);
  const generation = useStore((s) => s.generation);
  const setView = useStore((s) => s.setView);
  if (run === null) {
    return <div className="empty q-empty">Choose cases on the left and press Run. Each runs on a fresh lab of its own, next to the live one.</div>;
  }
  const stale = run.generation !== generation;
  const byId = new Map(run.results.map((r) => [r.id, r]));
  return (
    <div className="q-results-scroll">
      <table className="q-results" aria-label="Qualification results">
        <colgroup>
          <col style={{ width: 28 }} />
          <col style={{ width: 78 }} />
          <col style={{ width: '34%' }} />
          <col />
          <col style={{ width: 74 }} />
          <col style={{ width: 156 }} />
        </colgroup>
        <thead>
          <tr>
            <th />
            <th>Verdict</th>
            <th>Case</th>
            <th>Why</th>
            <th className="num">Time</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {run.cases.map((c) => {
            const r = byId.get(c.id);
            const open = expanded.has(c.id) && r !== undefined;
            const state = r?.verdict ?? (run.current === c.id ? 'running' : run.running ? 'queued' : 'not-run');
            return (
              <Fragment key={c.id}>
                <tr className={`q-case q-case-${state}${open ? ' open' : ''}`} aria-expanded={r ? open : undefined}>
                  <td>
                    {r && r.steps.length > 0 && (
                      <button type="button" className="q-expand" aria-label={`${open ? 'Hide' : 'Show'} the steps of ${c.id}`} onClick={() => toggle(c.id)}>
                        {open ? '▾' : '▸'}
                      </button>
                    )}
                  </td>
                  <td>
                    <Verdict verdict={state} />
                  </td>
                  <td>
                    <div className="q-case-id">{c.id}</div>
                    <div className="q-case-title">{c.title}</div>
                  </td>
                  <td title={r?.reason}>
                    <div className="q-reason">{r?.reason}</div>
                  </td>
                  <td className="num mono">{r ? `${r.durationMs} ms` : ''}</td>
                  <td className="q-row-actions">
                    {r?.source && !stale && r.firstMessage !== undefined && (
                      <button type="button" onClick={() => void openOnLadder(r.firstMessage!, caseFilter(r))} title="The case's messages on the ladder">
                        Ladder
                      </button>
                    )}
                    {r?.source && !stale && (
                      <button
                        type="button"
                        onClick={() => {
                          useQualify.setState({ diffA: `source:${r.source}`, diff: null });
                          setView('diff');
                        }}
                        title="Compare this case's flow with another flow of the trace"
                      >
                        Diff…
                      </button>
                    )}
                  </td>
                </tr>
                {open && (
                  <tr className="q-steps-row">
                    <td />
                    <td colSpan={5}>
                      <StepRows result={r} stale={stale} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function Qualify() {
  useEffect(startQualify, []);
  const running = useQualify((s) => s.run?.running ?? false);
  return (
    <section className="qualify-view" aria-label="Qualification">
      <CasePicker running={running} />
      <div className="q-main">
        <RunHeader />
        <Results />
      </div>
    </section>
  );
}

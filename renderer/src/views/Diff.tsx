/**
 * Flow diff: two flows of the trace (calls, imported files, suite cases,
 * the live lab) message by message, as `trunklab diff` aligns them: side by
 * side, missing in B, extra in B, reordered, and the header and SDP
 * differences of aligned messages. A click on either side opens that
 * message on the ladder, filtered to its flow.
 */
import { useEffect, useState } from 'react';

import type { FlowDiffLine, FlowDiffMessage, FlowRef, TraceCallInfo, TraceFilter } from '../../../src/common/api.ts';
import { formatTime } from '../../../src/common/ladder.ts';
import { connect } from '../bridge.ts';
import { nameOf, useStore } from '../store.ts';
import { openOnLadder, startQualify, useQualify } from './qualify-store.ts';
import './qualify.css';

/** `source:ID` or `call:KEY` → the engine's FlowRef. */
function refOf(value: string): FlowRef | null {
  if (value.startsWith('source:')) return { source: value.slice(7) };
  if (value.startsWith('call:')) return { callKey: value.slice(5) };
  return null;
}

function filterOf(value: string): TraceFilter {
  const ref = refOf(value);
  return ref?.source ? { source: ref.source } : ref?.callKey ? { callKey: ref.callKey } : {};
}

/** Calls of the trace for the pickers (refreshed as the trace grows). */
function useTraceCalls(): TraceCallInfo[] {
  const indexed = useStore((s) => s.indexedCount);
  const revision = useStore((s) => s.revision);
  const generation = useStore((s) => s.generation);
  const [calls, setCalls] = useState<TraceCallInfo[]>([]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: indexing, grouping and clearing change the calls
  useEffect(() => {
    let live = true;
    connect()
      .api.traceCalls(0, 2000)
      .then((r) => live && setCalls(r.calls))
      .catch(() => live && setCalls([]));
    return () => {
      live = false;
    };
  }, [Math.floor(indexed / 50), revision, generation]);
  return calls;
}

function callLabel(c: TraceCallInfo): string {
  const first = c.legs[0];
  const who = first ? `${nameOf(first.from)} → ${nameOf(first.to)}` : 'call';
  return `${who} · ${formatTime(c.startUs).slice(0, 8)} · ${c.messages} msgs (${c.key})`;
}

function FlowPicker({ side, value, onChange, calls }: { side: 'A' | 'B'; value: string; onChange(v: string): void; calls: TraceCallInfo[] }) {
  const sources = useStore((s) => s.sources);
  const suite = sources.filter((s) => s.kind === 'suite');
  const files = sources.filter((s) => s.kind !== 'suite' && s.kind !== 'live');
  const live = sources.find((s) => s.kind === 'live');
  return (
    <label className="d-pick">
      <span className={`d-side d-side-${side.toLowerCase()}`}>{side}</span>
      <select aria-label={`Flow ${side}`} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Choose a flow…</option>
        {suite.length > 0 && (
          <optgroup label="Suite cases">
            {suite.map((s) => (
              <option key={s.id} value={`source:${s.id}`}>
                {s.name} ({s.id.replace(/^suite-(\d+)-\d+$/, 'run $1')}, {s.messages} msgs)
              </option>
            ))}
          </optgroup>
        )}
        {files.length > 0 && (
          <optgroup label="Opened files">
            {files.map((s) => (
              <option key={s.id} value={`source:${s.id}`}>
                {s.name} ({s.messages} msgs)
              </option>
            ))}
          </optgroup>
        )}
        {live && (
          <optgroup label="Live lab">
            <option value="source:live">Everything the live lab sent ({live.messages} msgs)</option>
          </optgroup>
        )}
        {calls.length > 0 && (
          <optgroup label="Calls of the trace">
            {calls.map((c) => (
              <option key={c.key} value={`call:${c.key}`}>
                {callLabel(c)}
              </option>
            ))}
          </optgroup>
        )}
      </select>
    </label>
  );
}

function Cell({ m, flow, side }: { m: FlowDiffMessage | undefined; flow: string; side: 'A' | 'B' }) {
  if (!m) return <td className="d-cell d-none" />;
  return (
    <td className="d-cell">
      <button
        type="button"
        className="d-msg"
        onClick={() => void openOnLadder(m.index, filterOf(flow))}
        title={`Open ${side}'s message #${m.index + 1} on the ladder`}
        aria-label={`${side}: ${m.label} from ${nameOf(m.from)} to ${nameOf(m.to)}, message ${m.index + 1}`}
      >
        <span className="d-idx">#{m.index + 1}</span>
        <span className="d-dir">
          {nameOf(m.from)} → {nameOf(m.to)}
        </span>
        <span className="d-label">{m.label}</span>
        {m.sdp && <span className="d-sdp">SDP</span>}
      </button>
    </td>
  );
}

const MARK: Record<string, [string, string]> = {
  same: ['=', 'aligned'],
  differ: ['≠', 'aligned, with differences'],
  missing: ['−', 'missing in B'],
  extra: ['+', 'extra in B'],
  moved: ['↕', 'reordered'],
};

function lineClass(l: FlowDiffLine): string {
  if (l.kind === 'same') return l.differences.length > 0 ? 'differ' : 'same';
  return l.reordered ? 'moved' : l.kind;
}

export function Diff() {
  useEffect(startQualify, []);
  const a = useQualify((s) => s.diffA);
  const b = useQualify((s) => s.diffB);
  const all = useQualify((s) => s.diffAll);
  const diff = useQualify((s) => s.diff);
  const generation = useStore((s) => s.generation);
  const notify = useStore((s) => s.notify);
  const calls = useTraceCalls();
  const [busy, setBusy] = useState(false);
  const ra = refOf(a);
  const rb = refOf(b);

  const compare = async (): Promise<void> => {
    if (!ra || !rb) return;
    setBusy(true);
    try {
      const result = await connect().api.flowDiff({ a: ra, b: rb, ...(all ? { all: true } : {}) });
      useQualify.setState({ diff: result });
    } catch (error) {
      notify('error', `Cannot compare: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      setBusy(false);
    }
  };
  const stale = diff !== null && diff.generation !== generation;

  return (
    <section className="diff-view" aria-label="Flow diff">
      <form
        className="d-bar"
        aria-label="Flows to compare"
        onSubmit={(e) => {
          e.preventDefault();
          void compare();
        }}
      >
        <FlowPicker side="A" value={a} onChange={(v) => useQualify.setState({ diffA: v })} calls={calls} />
        <button type="button" className="d-swap" title="Swap A and B" aria-label="Swap A and B" onClick={() => useQualify.setState({ diffA: b, diffB: a })}>
          ⇄
        </button>
        <FlowPicker side="B" value={b} onChange={(v) => useQualify.setState({ diffB: v })} calls={calls} />
        <label className="check">
          <input type="checkbox" checked={all} onChange={(e) => useQualify.setState({ diffAll: e.target.checked })} />
          REGISTER and OPTIONS too
        </label>
        <button type="submit" className="primary" disabled={!ra || !rb || busy}>
          {busy ? 'Comparing…' : 'Compare'}
        </button>
      </form>
      {diff === null ? (
        <div className="empty">
          Pick two flows: a golden capture you opened and a suite case, two calls of the trace, a device's run and the emulated peer's. Messages are
          aligned by what they are and who sent them to whom; tags, branches and addresses do not count.
        </div>
      ) : (
        <>
          <div className="d-summary">
            <span className="d-chip d-chip-same">{diff.same} aligned</span>
            <span className="d-chip d-chip-differ">{diff.differing} with differences</span>
            <span className="d-chip d-chip-missing">{diff.missing} missing in B</span>
            <span className="d-chip d-chip-extra">{diff.extra} extra in B</span>
            <span className="d-chip d-chip-moved">{diff.reordered} reordered</span>
            <span className="dim">
              A: {diff.a.label} ({diff.a.messages}) · B: {diff.b.label} ({diff.b.messages})
            </span>
            {stale && <span className="q-bad">The trace was cleared: compare again.</span>}
          </div>
          <div className="d-scroll">
            <table className="d-table" aria-label="Aligned messages">
              <colgroup>
                <col style={{ width: 34 }} />
                <col />
                <col style={{ width: 34 }} />
                <col />
              </colgroup>
              <thead>
                <tr>
                  <th />
                  <th>A · {diff.a.label}</th>
                  <th />
                  <th>B · {diff.b.label}</th>
                </tr>
              </thead>
              <tbody>
                {diff.lines.flatMap((l) => {
                  const key = `${l.a?.index ?? ''}-${l.b?.index ?? ''}`;
                  const cls = lineClass(l);
                  const [mark, what] = MARK[cls]!;
                  const rows = [
                    <tr key={`l${key}`} className={`d-line d-${cls}`} aria-label={what}>
                      <td className="d-mark" title={what}>
                        {mark}
                      </td>
                      {stale ? <td className="d-cell">{l.a?.label}</td> : <Cell m={l.a} flow={a} side="A" />}
                      <td className="d-mark" title={what}>
                        {l.kind === 'same' ? '' : l.reordered ? '↕' : ''}
                      </td>
                      {stale ? <td className="d-cell">{l.b?.label}</td> : <Cell m={l.b} flow={b} side="B" />}
                    </tr>,
                  ];
                  if (l.differences.length > 0) {
                    rows.push(
                      <tr key={`d${key}`} className="d-diffs">
                        <td />
                        <td colSpan={3}>
                          <ul aria-label="Differences">
                            {l.differences.map((d) => (
                              <li key={d}>{d}</li>
                            ))}
                          </ul>
                        </td>
                      </tr>,
                    );
                  }
                  return rows;
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

/**
 * Calls: place a call from any Lync user or PSTN number to any number or
 * user; answer, hold, resume, transfer, send DTMF, hang up; the live list
 * of calls with state, duration and post-dial delay.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';

import type { CallActionRequest, CallSummary } from '../../../src/common/api.ts';
import { formatDuration, formatTime } from '../../../src/common/ladder.ts';
import { connect } from '../bridge.ts';
import { nameOf, useStore } from '../store.ts';
import { TraceCalls } from './TraceCalls.tsx';

const LIVE = new Set(['dialing', 'proceeding', 'ringing', 'early-media', 'connected', 'held']);

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

function duration(c: CallSummary, nowMs: number): string {
  if (c.answeredUs === undefined) return '';
  const end = c.endedUs !== undefined ? c.endedUs / 1000 : nowMs;
  return formatDuration(end - c.answeredUs / 1000);
}

function Dialer() {
  const elements = useStore((s) => s.elements);
  const notify = useStore((s) => s.notify);
  const selectCall = useStore((s) => s.selectCall);
  const topology = useStore((s) => s.topology);
  const users = elements.filter((e) => e.role === 'lync-user');
  const peers = elements.filter((e) => e.role === 'gateway' || e.role === 'ip-pbx' || e.role === 'sbc');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [busy, setBusy] = useState(false);
  const fromValue = from || users[0]?.id || '';

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!fromValue || !to.trim()) return;
    setBusy(true);
    try {
      const call = await connect().api.placeCall({ from: fromValue, to: to.trim() });
      selectCall(call.id);
    } catch (error) {
      notify('error', `Call not placed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="dialer" onSubmit={(e) => void submit(e)} aria-label="Place a call">
      <label>
        From
        <select aria-label="From" value={fromValue} onChange={(e) => setFrom(e.target.value)} disabled={!topology}>
          <optgroup label="Lync users">
            {users.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name} ({u.lineUri?.replace(/^tel:/, '') ?? u.uri})
              </option>
            ))}
          </optgroup>
          {peers.map((p) => (
            <optgroup key={p.id} label={`PSTN via ${p.name}`}>
              {(p.numbers ?? []).map((n) => (
                <option key={`${p.id}:${n}`} value={n}>
                  {n}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </label>
      <label>
        To
        <input
          list="dial-targets"
          value={to}
          onChange={(e) => setTo(e.target.value)}
          placeholder="2160, +14255550140, bob…"
          disabled={!topology}
          aria-label="To"
        />
        <datalist id="dial-targets">
          {users.map((u) => (
            <option key={u.id} value={u.lineUri?.replace(/^tel:/, '').replace(/;ext=.*/, '') ?? u.id}>
              {u.name}
            </option>
          ))}
          {peers.flatMap((p) =>
            (p.numbers ?? []).map((n) => (
              <option key={`${p.id}:${n}`} value={n}>
                {p.name}
              </option>
            )),
          )}
        </datalist>
      </label>
      <button type="submit" className="primary" disabled={busy || !topology || !to.trim()}>
        {busy ? 'Calling…' : 'Call'}
      </button>
      {!topology && <span className="dim">No lab is running: this window views files only.</span>}
    </form>
  );
}

function CallControls({ call }: { call: CallSummary }) {
  const notify = useStore((s) => s.notify);
  const showCall = useStore((s) => s.showCall);
  const [target, setTarget] = useState('');
  const [digits, setDigits] = useState('');
  const live = LIVE.has(call.state);
  const act = async (request: CallActionRequest): Promise<void> => {
    try {
      await connect().api.callAction(call.id, request);
    } catch (error) {
      notify('error', `${request.action} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const ringing = call.state === 'ringing' || call.state === 'early-media' || call.state === 'proceeding';
  return (
    <fieldset className="call-controls" aria-label={`Controls of call ${call.id}`}>
      <button type="button" disabled={!ringing} onClick={() => void act({ action: 'answer' })}>
        Answer
      </button>
      <button type="button" disabled={call.state !== 'connected'} onClick={() => void act({ action: 'hold' })}>
        Hold
      </button>
      <button type="button" disabled={call.state !== 'held'} onClick={() => void act({ action: 'resume' })}>
        Resume
      </button>
      <span className="inline-field">
        <input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="transfer to" aria-label="Transfer target" />
        <button
          type="button"
          disabled={!live || !target.trim()}
          onClick={() => void act({ action: 'transfer', target: target.trim() })}
        >
          Transfer
        </button>
      </span>
      <span className="inline-field">
        <input value={digits} onChange={(e) => setDigits(e.target.value)} placeholder="DTMF" aria-label="DTMF digits" size={6} />
        <button
          type="button"
          disabled={call.state !== 'connected' || !/^[0-9*#A-Da-d]+$/.test(digits)}
          onClick={() => void act({ action: 'dtmf', digits })}
        >
          Send
        </button>
      </span>
      <button type="button" className="danger" disabled={!live} onClick={() => void act({ action: 'hangup' })}>
        Hang up
      </button>
      <button type="button" onClick={() => showCall(call)}>
        Show ladder
      </button>
    </fieldset>
  );
}

const CALL_ROW = 30;

export function Calls() {
  const calls = useStore((s) => s.calls);
  const selectedCall = useStore((s) => s.selectedCall);
  const selectCall = useStore((s) => s.selectCall);
  const sorted = useMemo(() => [...calls].sort((a, b) => b.startedUs - a.startedUs), [calls]);
  const anyLive = calls.some((c) => LIVE.has(c.state));
  const now = useNow(anyLive);
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: sorted.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => CALL_ROW,
    overscan: 10,
  });
  const current = sorted.find((c) => c.id === selectedCall) ?? null;
  const items = virtualizer.getVirtualItems();
  // Rows outside the window are stood in for by two spacer rows: a real table, virtualized.
  const before = items[0]?.start ?? 0;
  const after = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0);
  const topology = useStore((s) => s.topology);
  return (
    <section className={`calls-view${topology ? '' : ' files-only'}`} aria-label="Calls">
      {topology && <Dialer />}
      {current && <CallControls call={current} />}
      <div className="calls-scroll lab-calls" ref={scrollRef} hidden={!topology}>
        <table className="calls-table" aria-label="Calls" aria-rowcount={sorted.length + 1}>
          <colgroup>
            <col style={{ width: 124 }} />
            <col />
            <col />
            <col style={{ width: 120 }} />
            <col style={{ width: 90 }} />
            <col style={{ width: 100 }} />
            <col />
            <col />
          </colgroup>
          <thead>
            <tr>
              <th>Started (UTC)</th>
              <th>From</th>
              <th>To</th>
              <th>State</th>
              <th>Duration</th>
              <th>PDD</th>
              <th>Final</th>
              <th>Trunks</th>
            </tr>
          </thead>
          <tbody className="calls-body">
            {before > 0 && (
              <tr>
                <td colSpan={8} style={{ height: before, padding: 0, border: 0 }} />
              </tr>
            )}
            {items.map((item) => {
              const c = sorted[item.index]!;
              return (
                <tr key={c.id} aria-rowindex={item.index + 2} aria-selected={c.id === selectedCall} className={c.id === selectedCall ? 'selected' : undefined}>
                  <td>
                    <button type="button" className="pick" onClick={() => selectCall(c.id)} title="Select this call">
                      {formatTime(c.startedUs).slice(0, 8)}
                    </button>
                  </td>
                  <td title={c.from}>{nameOf(c.from)}</td>
                  <td title={c.to}>{nameOf(c.to)}</td>
                  <td>
                    <span className={`state state-${c.state}`}>{c.state}</span>
                  </td>
                  <td className="mono">{duration(c, now)}</td>
                  <td className="mono">{c.pddMs !== undefined ? `${Math.round(c.pddMs)} ms` : ''}</td>
                  <td title={c.reason}>{c.status !== undefined ? `${c.status} ${c.reason ?? ''}` : ''}</td>
                  <td className="dim">{(c.trunks ?? []).join(' → ')}</td>
                </tr>
              );
            })}
            {after > 0 && (
              <tr>
                <td colSpan={8} style={{ height: after, padding: 0, border: 0 }} />
              </tr>
            )}
          </tbody>
        </table>
        {sorted.length === 0 && <div className="empty">No calls yet. Pick a caller, dial a number and press Call.</div>}
      </div>
      <TraceCalls />
    </section>
  );
}

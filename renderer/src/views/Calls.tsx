/**
 * Calls: place a call from any Lync user or PSTN number (or from a PSTN
 * number with its caller ID withheld) to any number or user; answer, hold
 * and resume on the Lync side or from the PSTN side, transfer (blind, or
 * attended to the Lync user's other call with Replaces), send DTMF, hang
 * up; the live list of calls with state, duration and post-dial delay.
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

const restricted = (c: CallSummary): boolean => c.presentation === 'restricted';

/** The caller as the engine reports it: a withheld caller ID shows as Anonymous. */
function callerName(c: CallSummary): string {
  return restricted(c) ? 'Anonymous' : nameOf(c.from);
}

function callerTitle(c: CallSummary): string {
  if (!restricted(c)) return c.from;
  // The lab names a caller placed anonymously `anonymous`, `anonymous@<peer>` or `anonymous:<number>`.
  const origin = /^anonymous[@:](.+)$/i.exec(c.from)?.[1] ?? (/^anonymous$/i.test(c.from) ? '' : c.from);
  return origin ? `Caller ID withheld (placed from ${origin})` : 'Caller ID withheld';
}

/** The held state with the side that holds the call, as the engine says. */
function stateLabel(c: CallSummary): string {
  return c.state === 'held' && c.heldBy !== undefined ? `held · ${c.heldBy === 'pstn' ? 'PSTN' : 'Lync'}` : c.state;
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
  const [withhold, setWithhold] = useState(false);
  const [busy, setBusy] = useState(false);
  const fromValue = from || users[0]?.id || '';
  // Only a PSTN caller can withhold its number here: the lab places it as `anonymous:<number>`.
  const fromPstn = fromValue !== '' && !users.some((u) => u.id === fromValue);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!fromValue || !to.trim()) return;
    setBusy(true);
    try {
      const caller = fromPstn && withhold ? `anonymous:${fromValue}` : fromValue;
      const call = await connect().api.placeCall({ from: caller, to: to.trim() });
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
      <label className="dialer-check" title={fromPstn ? 'Calls with Privacy: id and an anonymous From (the number stays in P-Asserted-Identity)' : 'Pick a PSTN number as the caller to withhold its caller ID'}>
        <input type="checkbox" checked={fromPstn && withhold} disabled={!fromPstn} onChange={(e) => setWithhold(e.target.checked)} />
        Withhold caller ID
      </label>
      <button type="submit" className="primary" disabled={busy || !topology || !to.trim()}>
        {busy ? 'Calling…' : 'Call'}
      </button>
      {!topology && <span className="dim">No lab is running: this window views files only.</span>}
    </form>
  );
}

/** Attended transfer: the Lync user's other calls, each a consultation the selected call can be transferred to (REFER with Replaces). */
function TransferPicker({ others, onPick }: { others: readonly CallSummary[]; onPick(consultation: CallSummary): void }) {
  const [open, setOpen] = useState(false);
  const anchor = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent): void => {
      if (!anchor.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') setOpen(false);
    };
    window.addEventListener('pointerdown', onDown);
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('pointerdown', onDown);
      window.removeEventListener('keydown', onKey);
    };
  }, [open]);
  return (
    <span className="menu-anchor" ref={anchor}>
      <button
        type="button"
        aria-haspopup="menu"
        aria-expanded={open && others.length > 0}
        disabled={others.length === 0}
        onClick={() => setOpen(!open)}
        title={others.length === 0 ? 'Attended transfer: place a second call from the same Lync user first (the consultation)' : 'Attended transfer: REFER with Replaces to the consultation call'}
      >
        Transfer to… ▾
      </button>
      {open && others.length > 0 && (
        <div className="menu transfer-menu" role="menu" aria-label="Transfer to call">
          {others.map((o) => (
            <button
              key={o.id}
              type="button"
              role="menuitem"
              onClick={() => {
                setOpen(false);
                onPick(o);
              }}
            >
              <span>
                {callerName(o)} → {nameOf(o.to)}
              </span>
              <span className={`state state-${o.state}`}>{o.state}</span>
            </button>
          ))}
        </div>
      )}
    </span>
  );
}

function CallControls({ call, calls }: { call: CallSummary; calls: readonly CallSummary[] }) {
  const notify = useStore((s) => s.notify);
  const showCall = useStore((s) => s.showCall);
  const [target, setTarget] = useState('');
  const [digits, setDigits] = useState('');
  const [pstnHold, setPstnHold] = useState<'sendonly' | 'inactive'>('sendonly');
  const live = LIVE.has(call.state);
  const heldBy = call.state === 'held' ? call.heldBy : undefined;
  const act = async (request: CallActionRequest): Promise<boolean> => {
    try {
      await connect().api.callAction(call.id, request);
      return true;
    } catch (error) {
      notify('error', `${request.action} failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  };
  const ringing = call.state === 'ringing' || call.state === 'early-media' || call.state === 'proceeding';
  const held = call.state === 'held';
  // The same Lync user's other answered calls: consultations for an attended transfer.
  const consultations =
    call.lyncUser === undefined || (call.state !== 'connected' && !held)
      ? []
      : calls.filter((o) => o.id !== call.id && (o.state === 'connected' || o.state === 'held') && o.lyncUser === call.lyncUser);
  return (
    <fieldset className="call-controls" aria-label={`Controls of call ${call.id}`}>
      <span className="call-controls-who" title={`${call.id}: ${callerTitle(call)} → ${call.to}`}>
        {callerName(call)} → {nameOf(call.to)}
      </span>
      <fieldset className="control-group" aria-label="Lync side">
        <button type="button" disabled={!ringing} onClick={() => void act({ action: 'answer' })}>
          Answer
        </button>
        <button type="button" disabled={call.state !== 'connected'} onClick={() => void act({ action: 'hold' })}>
          Hold
        </button>
        <button type="button" disabled={!held || heldBy === 'pstn'} onClick={() => void act({ action: 'resume' })}>
          Resume
        </button>
      </fieldset>
      {call.pstn === true && (
        <fieldset className="control-group" aria-label="PSTN side">
          <span className="inline-field">
            <button
              type="button"
              disabled={call.state !== 'connected'}
              onClick={() => void act({ action: 'peer-hold', direction: pstnHold })}
              title="The PSTN party re-INVITEs with this direction (RFC 3264 §8.4)"
            >
              Hold from PSTN
            </button>
            <select aria-label="PSTN hold direction" value={pstnHold} disabled={call.state !== 'connected'} onChange={(e) => setPstnHold(e.target.value as 'sendonly' | 'inactive')}>
              <option value="sendonly">a=sendonly</option>
              <option value="inactive">a=inactive</option>
            </select>
          </span>
          <button type="button" disabled={!held || heldBy === 'lync'} onClick={() => void act({ action: 'peer-resume' })} title="The PSTN party re-INVITEs with a=sendrecv">
            Resume from PSTN
          </button>
        </fieldset>
      )}
      <fieldset className="control-group" aria-label="Transfer">
        <span className="inline-field">
          <input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="transfer to" aria-label="Transfer target" />
          <button type="button" disabled={!live || !target.trim()} onClick={() => void act({ action: 'transfer', target: target.trim() })} title="Blind transfer: REFER to this number or user">
            Transfer
          </button>
        </span>
        {call.lyncUser !== undefined && <TransferPicker key={call.id} others={consultations} onPick={(o) => void act({ action: 'transfer', replaces: o.id })} />}
      </fieldset>
      <fieldset className="control-group" aria-label="DTMF">
        <span className="inline-field">
          <input className="dtmf-digits" value={digits} onChange={(e) => setDigits(e.target.value)} placeholder="DTMF" aria-label="DTMF digits" size={6} />
          <button
            type="button"
            disabled={(call.state !== 'connected' && call.state !== 'early-media') || !/^[0-9*#A-Da-d]+$/.test(digits)}
            title="RFC 4733 events on the call's RTP (also during early media, once a 183 brought SDP)"
            onClick={() => void act({ action: 'dtmf', digits })}
          >
            Send
          </button>
        </span>
        {call.dtmfReceived !== undefined && (
          <output className="dtmf-received" aria-label="DTMF received" title="RFC 4733 digits that reached each end on the wire">
            {call.dtmfReceived.map((r) => `${nameOf(r.element)}: ${r.digits}`).join(' · ')}
          </output>
        )}
      </fieldset>
      <span className="control-group end">
        <button type="button" className="danger" disabled={!live} onClick={() => void act({ action: 'hangup' })}>
          Hang up
        </button>
        <button type="button" onClick={() => showCall(call)}>
          Show ladder
        </button>
      </span>
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
      {current && <CallControls call={current} calls={sorted} />}
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
                  <td title={callerTitle(c)} className={restricted(c) ? 'anonymous' : undefined}>
                    {callerName(c)}
                  </td>
                  <td title={c.to}>{nameOf(c.to)}</td>
                  <td>
                    <span className={`state state-${c.state}`}>{stateLabel(c)}</span>
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

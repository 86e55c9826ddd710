/**
 * The ladder's filter bar: call (the lab's calls, or the trace call of the
 * selected message) and its legs as the trace store grouped them, element,
 * method, text, OPTIONS, follow-live, go to a message number, and the count.
 */
import { type FormEvent, useEffect, useRef, useState } from 'react';

import type { TraceCallInfo } from '../../../src/common/api.ts';
import { formatTime, isFilterEmpty } from '../../../src/common/ladder.ts';
import { connect } from '../bridge.ts';
import { rows } from '../rows.ts';
import { nameOf, useStore } from '../store.ts';

const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REFER', 'NOTIFY', 'INFO', 'UPDATE', 'PRACK', 'MESSAGE', 'SUBSCRIBE', 'REGISTER'];

/** The trace call a filter names (its legs for the Leg choice), refreshed as the store groups more. */
function useTraceCall(key: string | undefined, revision: number, indexed: number): TraceCallInfo | null {
  const [call, setCall] = useState<TraceCallInfo | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: revision and indexed mark new grouping
  useEffect(() => {
    if (!key) {
      setCall(null);
      return;
    }
    let live = true;
    connect()
      .api.traceCall(key)
      .then((c) => live && setCall(c))
      .catch(() => live && setCall(null));
    return () => {
      live = false;
    };
  }, [key, revision, Math.floor(indexed / 1000)]);
  return call;
}

function legLabel(l: TraceCallInfo['legs'][number]): string {
  return `${nameOf(l.from)} → ${nameOf(l.to)}${l.method && l.method !== 'INVITE' ? ` ${l.method}` : ''}${l.finalStatus ? ` · ${l.finalStatus}` : ''}`;
}

/** How the store joined the call's legs, short (the select) and long (its tooltip). */
function grouping(call: TraceCallInfo): [string, string] {
  if (call.legs.length < 2) return ['1 leg', 'One leg: nothing to join.'];
  const sources = new Set(call.links.map((k) => k.source));
  const short = sources.has('b2bua') ? 'B2BUA' : sources.has('import') ? 'from file' : `${Math.round(call.confidence * 100)}% sure`;
  const long = call.links
    .map((k) => `${k.a} ↔ ${k.b}: ${k.source === 'b2bua' ? 'joined by the Mediation Server (B2BUA)' : k.source === 'import' ? 'joined in the imported trace' : `${k.source}, ${Math.round(k.confidence * 100)}%`}${k.evidence.length ? ` (${k.evidence.join('; ')})` : ''}`)
    .join('\n');
  return [`${call.legs.length} legs, ${short}`, long];
}

function GoTo() {
  const [text, setText] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'g') {
        e.preventDefault();
        input.current?.focus();
        input.current?.select();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const n = Number(text.replace(/[^\d]/g, ''));
    if (!Number.isSafeInteger(n) || n < 1) return;
    window.dispatchEvent(new CustomEvent('trunklab:goto', { detail: n - 1 }));
  };
  return (
    <form className="goto" onSubmit={submit} aria-label="Go to message">
      <input
        ref={input}
        inputMode="numeric"
        aria-label="Go to message number"
        placeholder="Go to #"
        title="Go to a message number (Ctrl+G)"
        value={text}
        onChange={(e) => setText(e.target.value)}
        size={14}
      />
    </form>
  );
}

/** A trace source in words: `case busy-outbound-486`, a file name, `live lab`. */
function sourceLabel(id: string): string {
  const source = useStore.getState().sources.find((s) => s.id === id);
  if (!source) return `source ${id}`;
  return source.kind === 'suite' ? `case ${source.name}` : source.kind === 'live' ? 'live lab' : source.name;
}

export function FilterBar() {
  const filter = useStore((s) => s.filter);
  const setFilter = useStore((s) => s.setFilter);
  const showCall = useStore((s) => s.showCall);
  const calls = useStore((s) => s.calls);
  const elements = useStore((s) => s.elements);
  const seenIds = useStore((s) => s.seenIds);
  const follow = useStore((s) => s.follow);
  const setFollow = useStore((s) => s.setFollow);
  const view = useStore((s) => s.ladder);
  const messageCount = useStore((s) => s.messageCount);
  const indexedCount = useStore((s) => s.indexedCount);
  const revision = useStore((s) => s.revision);
  const selected = useStore((s) => s.selected);
  const selectedPos = useStore((s) => s.selectedPos);
  useStore((s) => s.rowsVersion);
  const selectedRow = selectedPos !== null ? rows.get(selectedPos) : undefined;
  const selectedCallKey = selectedRow?.index === selected ? selectedRow?.callKey : undefined;
  const callKey = filter.callKey ?? filter.labCall;
  const traceCall = useTraceCall(callKey, revision, indexedCount);
  const ids = [...new Set([...elements.map((e) => e.id), ...seenIds])];
  const empty = isFilterEmpty(filter) && !filter.source;
  const callValue = filter.labCall ? `lab:${filter.labCall}` : filter.callKey ? `trace:${filter.callKey}` : '';
  const pickCall = (value: string): void => {
    const { labCall: _l, callKey: _c, legKey: _g, ...rest } = filter;
    if (value.startsWith('lab:')) showCall(calls.find((c) => c.id === value.slice(4)) ?? null);
    else if (value.startsWith('trace:')) setFilter({ ...rest, callKey: value.slice(6) });
    else setFilter(rest);
  };
  const indexing = indexedCount < messageCount;
  return (
    <search className="filterbar" aria-label="Ladder filter">
      <select aria-label="Call" value={callValue} onChange={(e) => pickCall(e.target.value)}>
        <option value="">All calls</option>
        {calls.length > 0 && (
          <optgroup label="Lab calls">
            {calls.map((c) => (
              <option key={c.id} value={`lab:${c.id}`}>
                {c.presentation === 'restricted' ? 'Anonymous' : nameOf(c.from)} → {nameOf(c.to)} · {c.state}
              </option>
            ))}
          </optgroup>
        )}
        {filter.callKey && (
          <option value={`trace:${filter.callKey}`}>
            {traceCall?.legs[0]
              ? `${nameOf(traceCall.legs[0].from)} → ${nameOf(traceCall.legs[0].to)} · ${formatTime(traceCall.startUs).slice(0, 8)}`
              : 'A call of the trace'}
          </option>
        )}
        {selectedCallKey && selectedCallKey !== filter.callKey && (
          <option value={`trace:${selectedCallKey}`}>Call of message #{(selected ?? 0) + 1}</option>
        )}
      </select>
      {traceCall && (
        <select aria-label="Leg" value={filter.legKey ?? ''} onChange={(e) => setFilter({ ...filter, legKey: e.target.value || undefined })} title={grouping(traceCall)[1]}>
          <option value="">All legs ({grouping(traceCall)[0]})</option>
          {traceCall.legs.map((l) => (
            <option key={l.key} value={l.key}>
              {legLabel(l)}
            </option>
          ))}
        </select>
      )}
      <select aria-label="Element" value={filter.element ?? ''} onChange={(e) => setFilter({ ...filter, element: e.target.value || undefined })}>
        <option value="">All elements</option>
        {ids.map((id) => (
          <option key={id} value={id}>
            {nameOf(id)}
          </option>
        ))}
      </select>
      <select aria-label="Method" value={filter.method ?? ''} onChange={(e) => setFilter({ ...filter, method: e.target.value || undefined })}>
        <option value="">All methods</option>
        {METHODS.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
      <input
        id="ladder-search"
        type="search"
        aria-label="Search"
        placeholder="Search (/)"
        title="Search method, status, Call-ID, CSeq, addresses and element names (/)"
        value={filter.text ?? ''}
        onChange={(e) => setFilter({ ...filter, text: e.target.value || undefined })}
      />
      {filter.callId && (
        <button type="button" className="chip" onClick={() => setFilter({ ...filter, callId: undefined })} title={`Call-ID ${filter.callId}: click to remove`}>
          <span className="chip-text">Call-ID {filter.callId}</span> ✕
        </button>
      )}
      {filter.source && (
        <button type="button" className="chip" onClick={() => setFilter({ ...filter, source: undefined })} title="Only the messages of this source (a suite case, an opened file): click to remove">
          <span className="chip-text">{sourceLabel(filter.source)}</span> ✕
        </button>
      )}
      {filter.legKey && !traceCall && (
        <button type="button" className="chip" onClick={() => setFilter({ ...filter, legKey: undefined })} title="Remove the leg filter">
          leg {filter.legKey.slice(1)} ✕
        </button>
      )}
      <label className="check">
        <input type="checkbox" checked={filter.hideOptions ?? false} onChange={(e) => setFilter({ ...filter, hideOptions: e.target.checked || undefined })} />
        Hide OPTIONS
      </label>
      <label className="check">
        <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
        Follow live
      </label>
      <GoTo />
      <span className="count" aria-live="polite">
        {(view?.count ?? 0).toLocaleString('en-US')} of {messageCount.toLocaleString('en-US')} messages
        {view && !view.complete && !indexing ? ' (filtering…)' : ''}
        {indexing ? ` · indexing ${Math.floor((100 * indexedCount) / Math.max(1, messageCount))}%` : ''}
      </span>
      {!empty && (
        <button type="button" onClick={() => setFilter({})}>
          Clear filter
        </button>
      )}
    </search>
  );
}

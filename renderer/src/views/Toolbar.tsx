/** The ladder's filter bar: call, element, method, text, OPTIONS, follow-live. */
import { useMemo } from 'react';

import { isFilterEmpty } from '../../../src/common/ladder.ts';
import { messageLog, nameOf, useStore } from '../store.ts';
import type { Filtered } from './useFiltered.ts';

const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REFER', 'NOTIFY', 'INFO', 'UPDATE', 'PRACK', 'MESSAGE', 'SUBSCRIBE', 'REGISTER'];

export function FilterBar({ filtered }: { filtered: Filtered }) {
  const filter = useStore((s) => s.filter);
  const setFilter = useStore((s) => s.setFilter);
  const callFilter = useStore((s) => s.callFilter);
  const showCall = useStore((s) => s.showCall);
  const calls = useStore((s) => s.calls);
  const elements = useStore((s) => s.elements);
  const follow = useStore((s) => s.follow);
  const setFollow = useStore((s) => s.setFollow);
  const logVersion = useStore((s) => s.logVersion);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the log is mutable; logVersion marks its changes
  const ids = useMemo(() => {
    const seen = new Set(elements.map((e) => e.id));
    for (let i = 0; i < Math.min(messageLog.length, 50_000); i++) {
      seen.add(messageLog[i]!.from);
      seen.add(messageLog[i]!.to);
    }
    return [...seen];
  }, [elements, logVersion > 0 ? Math.min(messageLog.length, 50_000) : 0]);
  const empty = isFilterEmpty(filter) && callFilter === null;
  return (
    <search className="filterbar" aria-label="Ladder filter">
      <select
        aria-label="Call"
        value={callFilter?.id ?? ''}
        onChange={(e) => showCall(calls.find((c) => c.id === e.target.value) ?? null)}
      >
        <option value="">All calls</option>
        {calls.map((c) => (
          <option key={c.id} value={c.id}>
            {nameOf(c.from)} → {nameOf(c.to)} ({c.state})
          </option>
        ))}
      </select>
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
        placeholder="Search (/): method, status, Call-ID, address…"
        value={filter.text ?? ''}
        onChange={(e) => setFilter({ ...filter, text: e.target.value || undefined })}
      />
      {filter.callId && (
        <button type="button" className="chip" onClick={() => setFilter({ ...filter, callId: undefined })} title="Remove the Call-ID filter">
          Call-ID {filter.callId.slice(0, 12)}… ✕
        </button>
      )}
      {filter.legKey && (
        <button type="button" className="chip" onClick={() => setFilter({ ...filter, legKey: undefined })} title="Remove the leg filter">
          leg ✕
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
      <span className="count" aria-live="polite">
        {filtered.indexes.length.toLocaleString()} of {messageLog.length.toLocaleString()} messages
      </span>
      {!empty && (
        <button
          type="button"
          onClick={() => {
            setFilter({});
            showCall(null);
          }}
        >
          Clear filter
        </button>
      )}
    </search>
  );
}

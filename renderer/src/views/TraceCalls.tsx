/**
 * Calls in the trace, as the trace store grouped them: every leg the
 * Mediation Server joined (B2BUA, certain) or that the evidence in the
 * messages ties together (imports, with how sure the grouping is). A
 * virtualized table fetched from the engine a page at a time; "Ladder"
 * filters the ladder to the call.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, useState } from 'react';

import type { TraceCallInfo } from '../../../src/common/api.ts';
import { formatDuration, formatTime } from '../../../src/common/ladder.ts';
import { connect } from '../bridge.ts';
import { nameOf, useStore } from '../store.ts';

const ROW = 30;
const PAGE = 200;

function grouping(c: TraceCallInfo): string {
  if (c.legs.length < 2) return '1 leg';
  const sources = new Set(c.links.map((l) => l.source));
  if (sources.has('b2bua')) return `${c.legs.length} legs · B2BUA`;
  if (sources.has('import')) return `${c.legs.length} legs · from file`;
  return `${c.legs.length} legs · ${Math.round(c.confidence * 100)}% sure`;
}

function finalOf(c: TraceCallInfo): string {
  const statuses = c.legs.map((l) => l.finalStatus).filter((s) => s > 0);
  return statuses.length === 0 ? '' : String(statuses[statuses.length - 1]);
}

export function TraceCalls() {
  const generation = useStore((s) => s.generation);
  const indexed = useStore((s) => s.indexedCount);
  const revision = useStore((s) => s.revision);
  const setFilter = useStore((s) => s.setFilter);
  const [total, setTotal] = useState(0);
  const [pages, setPages] = useState(() => new Map<number, TraceCallInfo[]>());
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: total, getScrollElement: () => scrollRef.current, estimateSize: () => ROW, overscan: 10 });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items.length > 0 ? items[items.length - 1]!.index : 0;
  // Grouping changes as messages are indexed: refetch at most about once a second.
  const epoch = `${generation}:${revision}:${Math.floor(indexed / 5000)}:${Math.floor(Date.now() / 1000)}`;

  // biome-ignore lint/correctness/useExhaustiveDependencies: epoch stands for the engine's grouping having changed
  useEffect(() => {
    let live = true;
    const wanted = new Set<number>();
    for (let p = Math.floor(first / PAGE); p <= Math.floor(last / PAGE); p++) wanted.add(p);
    if (wanted.size === 0) wanted.add(0);
    void Promise.all(
      [...wanted].map((p) =>
        connect()
          .api.traceCalls(p * PAGE, (p + 1) * PAGE)
          .then((r) => [p, r] as const),
      ),
    ).then((results) => {
      if (!live) return;
      const next = new Map<number, TraceCallInfo[]>();
      let count = 0;
      for (const [p, r] of results) {
        next.set(p, r.calls);
        count = r.total;
      }
      setPages(next);
      setTotal(count);
    });
    return () => {
      live = false;
    };
  }, [first, last, epoch]);

  const before = items[0]?.start ?? 0;
  const after = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0);
  return (
    <section className="trace-calls" aria-label="Calls in the trace">
      <h2 className="section-head">
        Calls in the trace <span className="dim">{total.toLocaleString('en-US')} · legs grouped by the trace store</span>
      </h2>
      <div className="calls-scroll" ref={scrollRef}>
        <table className="calls-table" aria-label="Calls in the trace" aria-rowcount={total + 1}>
          <colgroup>
            <col style={{ width: 124 }} />
            <col />
            <col style={{ width: 170 }} />
            <col style={{ width: 80 }} />
            <col style={{ width: 90 }} />
            <col style={{ width: 100 }} />
            <col style={{ width: 90 }} />
          </colgroup>
          <thead>
            <tr>
              <th>Started (UTC)</th>
              <th>First leg</th>
              <th>Grouping</th>
              <th>Final</th>
              <th>Duration</th>
              <th>Messages</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {before > 0 && (
              <tr>
                <td colSpan={7} style={{ height: before, padding: 0, border: 0 }} />
              </tr>
            )}
            {items.map((item) => {
              const c = pages.get(Math.floor(item.index / PAGE))?.[item.index % PAGE];
              if (!c) {
                return (
                  <tr key={`p${item.index}`} aria-rowindex={item.index + 2}>
                    <td colSpan={7} className="dim">
                      …
                    </td>
                  </tr>
                );
              }
              const leg = c.legs[0];
              const title = c.links.map((l) => `${l.a} ↔ ${l.b}: ${l.source} ${Math.round(l.confidence * 100)}% ${l.evidence.join('; ')}`).join('\n');
              return (
                <tr key={c.key} aria-rowindex={item.index + 2}>
                  <td className="mono">{formatTime(c.startUs).slice(0, 12)}</td>
                  <td title={leg?.callId}>{leg ? `${nameOf(leg.from)} → ${nameOf(leg.to)}${leg.method && leg.method !== 'INVITE' ? ` (${leg.method})` : ''}` : ''}</td>
                  <td title={title || undefined}>{grouping(c)}</td>
                  <td className="mono">{finalOf(c)}</td>
                  <td className="mono">{formatDuration((c.endUs - c.startUs) / 1000)}</td>
                  <td className="mono">{c.messages.toLocaleString('en-US')}</td>
                  <td>
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        setFilter({ callKey: c.key });
                        useStore.setState({ view: 'ladder', follow: false });
                      }}
                    >
                      Ladder
                    </button>
                  </td>
                </tr>
              );
            })}
            {after > 0 && (
              <tr>
                <td colSpan={7} style={{ height: after, padding: 0, border: 0 }} />
              </tr>
            )}
          </tbody>
        </table>
        {total === 0 && <div className="empty">{indexed === 0 ? 'No messages in the trace yet.' : 'No call in the trace yet (only OPTIONS and other requests outside calls).'}</div>}
      </div>
    </section>
  );
}

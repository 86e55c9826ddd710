/**
 * The ladder: one column per element (Mediation pool members grouped), one
 * arrow per message, as sngrep's call flow and Wireshark's flow graph draw
 * them. Virtualized: only the visible rows exist, so a million messages
 * scroll like ten. Each arrow is a list item named for assistive technology
 * (`INVITE from Mediation-1 to Gateway-A`).
 *
 * Keys: ↑/↓ or k/j move, PgUp/PgDn, Home/End, f toggles follow-live,
 * / focuses the search.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { type KeyboardEvent, memo, useCallback, useEffect, useMemo, useRef } from 'react';

import type { MessageSummary } from '../../../src/common/api.ts';
import { arrowName, formatDelta, formatTime, type LadderLayout, ladderLayout, messageClass, messageLabel } from '../../../src/common/ladder.ts';
import { messageLog, nameOf, useStore } from '../store.ts';
import { useFiltered } from './useFiltered.ts';

export const ROW_HEIGHT = 26;
const GUTTER = 204;

function roleClass(role: string | undefined): string {
  return role ? `role-${role}` : 'role-unknown';
}

const LadderHeader = memo(function LadderHeader({ layout }: { layout: LadderLayout }) {
  return (
    <div className="ladder-head" style={{ width: GUTTER + layout.width }}>
      <div className="ladder-head-gutter">
        <span className="c-idx">#</span>
        <span className="c-time">Time (UTC)</span>
        <span className="c-delta">Delta</span>
      </div>
      <div className="ladder-head-cols" style={{ width: layout.width }}>
        {layout.groups.map((g) => (
          <div
            key={`${g.id}-${g.first}`}
            className="ladder-group"
            style={{ left: g.first * layout.columnWidth + 4, width: (g.last - g.first + 1) * layout.columnWidth - 8 }}
          >
            {g.name}
          </div>
        ))}
        {layout.columns.map((c) => (
          <div
            key={c.id}
            className={`ladder-col ${roleClass(c.role)}`}
            style={{ left: c.x - layout.columnWidth / 2 + 6, width: layout.columnWidth - 12 }}
            title={c.id}
          >
            <span className="ladder-col-name">{c.name}</span>
            <span className="ladder-col-role">{c.role ?? 'address'}</span>
          </div>
        ))}
      </div>
    </div>
  );
});

interface RowProps {
  m: MessageSummary;
  prevUs: number | null;
  layout: LadderLayout;
  selected: boolean;
  position: number;
  total: number;
  start: number;
  onSelect(index: number): void;
}

const Row = memo(function Row({ m, prevUs, layout, selected, position, total, start, onSelect }: RowProps) {
  const fromCol = layout.indexOf.get(m.from);
  const toCol = layout.indexOf.get(m.to);
  const x1 = fromCol === undefined ? 0 : layout.columns[fromCol]!.x;
  const x2 = toCol === undefined ? 0 : layout.columns[toCol]!.x;
  const self = fromCol === toCol;
  const dir = x2 >= x1 ? 1 : -1;
  const label = messageLabel(m);
  const cls = messageClass(m);
  const y = 18;
  const mid = self ? x1 + 30 : (x1 + x2) / 2;
  const badges: string[] = [];
  if (m.errors > 0) badges.push(`${m.errors} error${m.errors > 1 ? 's' : ''}`);
  if (m.warnings > 0) badges.push(`${m.warnings} warning${m.warnings > 1 ? 's' : ''}`);
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the list's arrow keys select rows (onKeyDown on the ladder)
    <li
      aria-label={arrowName(m, nameOf)}
      aria-posinset={position + 1}
      aria-setsize={total}
      aria-current={selected ? 'true' : undefined}
      data-index={m.index}
      className={`lrow k-${cls}${selected ? ' selected' : ''}${m.retransmission ? ' retrans' : ''}`}
      style={{ transform: `translateY(${start}px)`, width: GUTTER + layout.width }}
      onClick={() => onSelect(m.index)}
    >
      <div className="lrow-gutter">
        <span className="c-idx">{m.index + 1}</span>
        <span className="c-time">{formatTime(m.timeUs)}</span>
        <span className="c-delta">{prevUs === null ? '' : formatDelta(m.timeUs - prevUs)}</span>
      </div>
      <svg className="lrow-svg" width={layout.width} height={ROW_HEIGHT} aria-hidden="true">
        {layout.columns.map((c) => (
          <line key={c.id} className="lifeline" x1={c.x} x2={c.x} y1={0} y2={ROW_HEIGHT} />
        ))}
        {self ? (
          <path className="arrow" d={`M${x1},${y - 6} h24 v8 h-20`} fill="none" />
        ) : (
          <>
            <line className="arrow" x1={x1} x2={x2 - dir * 6} y1={y} y2={y} />
            <path className="arrowhead" d={`M${x2},${y} l${-dir * 8},-4 v8 z`} />
          </>
        )}
        <text className="alabel" x={mid} y={y - 5} textAnchor="middle">
          {label}
          {m.sdp ? ' (SDP)' : ''}
        </text>
      </svg>
      <span className="lrow-badges" style={{ left: GUTTER + Math.max(x1, x2) + 8 }}>
        {m.retransmission && <span className="badge badge-retrans">retransmission</span>}
        {badges.map((b) => (
          <span key={b} className={`badge ${b.includes('error') ? 'badge-error' : 'badge-warning'}`}>
            {b}
          </span>
        ))}
        <span className="lrow-transport">{m.transport.toUpperCase()}</span>
      </span>
    </li>
  );
});

export function Ladder() {
  const elements = useStore((s) => s.elements);
  const selected = useStore((s) => s.selected);
  const follow = useStore((s) => s.follow);
  const select = useStore((s) => s.select);
  const setFollow = useStore((s) => s.setFollow);
  const filtered = useFiltered();
  const { indexes } = filtered;
  const usedKey = [...filtered.used].join('|');
  // biome-ignore lint/correctness/useExhaustiveDependencies: usedKey stands for the used set's contents
  const layout = useMemo(() => ladderLayout(elements, filtered.used, { onlyUsed: true }), [elements, usedKey]);
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: indexes.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  const count = indexes.length;
  useEffect(() => {
    if (follow && count > 0) virtualizer.scrollToIndex(count - 1, { align: 'end' });
  }, [follow, count, virtualizer]);

  const position = selected === null ? -1 : indexes.indexOf(selected);
  const moveTo = useCallback(
    (pos: number) => {
      if (indexes.length === 0) return;
      const p = Math.max(0, Math.min(indexes.length - 1, pos));
      select(indexes[p]!);
      virtualizer.scrollToIndex(p, { align: 'auto' });
    },
    [indexes, select, virtualizer],
  );

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / ROW_HEIGHT) - 1);
    const up = position < 0 ? indexes.length - 1 : position - 1;
    switch (e.key) {
      case 'ArrowDown':
      case 'j':
        moveTo(position + 1);
        break;
      case 'ArrowUp':
      case 'k':
        moveTo(up);
        break;
      case 'PageDown':
        moveTo(position + page);
        break;
      case 'PageUp':
        moveTo(position - page);
        break;
      case 'Home':
        moveTo(0);
        break;
      case 'End':
        moveTo(indexes.length - 1);
        break;
      case 'f':
        setFollow(!follow);
        break;
      case 'Escape':
        select(null);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const onScroll = (): void => {
    const el = scrollRef.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 2;
    if (atBottom !== follow && (selected === null || !atBottom)) setFollow(atBottom);
  };

  const items = virtualizer.getVirtualItems();
  return (
    // The scroll area takes the focus: keyboard users scroll and move through the arrows from here.
    // biome-ignore lint/a11y/noStaticElementInteractions: the focusable scroll area handles the ladder's keys
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <div className="ladder" ref={scrollRef} onScroll={onScroll} onKeyDown={onKeyDown} tabIndex={0} id="ladder-scroll">
      <LadderHeader layout={layout} />
      {count === 0 ? (
        <div className="empty">
          {messageLog.length === 0
            ? 'No messages yet. Place a call, or open a capture file.'
            : 'No message matches the filter.'}
        </div>
      ) : null}
      <ul aria-label="Ladder" className="ladder-body" style={{ height: virtualizer.getTotalSize(), width: GUTTER + layout.width }}>
        {items.map((item) => {
          const index = indexes[item.index]!;
          const m = messageLog[index]!;
          const prev = item.index > 0 ? messageLog[indexes[item.index - 1]!] : undefined;
          return (
            <Row
              key={index}
              m={m}
              prevUs={prev ? prev.timeUs : null}
              layout={layout}
              selected={index === selected}
              position={item.index}
              total={count}
              start={item.start}
              onSelect={select}
            />
          );
        })}
      </ul>
    </div>
  );
}

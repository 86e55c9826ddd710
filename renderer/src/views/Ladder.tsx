/**
 * The ladder: one column per element (Mediation pool members grouped), one
 * arrow per message, as sngrep's call flow and Wireshark's flow graph draw
 * them. Virtualized: only the visible rows exist, so a million messages
 * scroll like ten. Each arrow is a list item named for assistive technology
 * (`INVITE from Mediation-1 to Gateway-A`).
 *
 * Rows come from the engine's view of the filter, a page at a time (see
 * rows.ts); a row not fetched yet is drawn as a placeholder of the same height.
 *
 * Keys: ↑/↓ or k/j move, PgUp/PgDn, Home/End, f toggles follow-live,
 * / focuses the search, Ctrl+G goes to a message number, Shift+←/→ scroll
 * sideways a column (Space and ←/→ belong to the player, Player.tsx).
 *
 * While the player is in use (player.ts), the arrows after its position are
 * dimmed, so the flow draws itself as it plays, and each of its moves
 * brings the position into view with a few rows of what comes next.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { type CSSProperties, type KeyboardEvent, memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';

import type { MessageSummary } from '../../../src/common/api.ts';
import {
  arrowName,
  DEFAULT_COLUMN_WIDTH,
  formatDelta,
  formatTime,
  isFilterEmpty,
  type LadderLayout,
  ladderLayout,
  messageClass,
  messageLabel,
} from '../../../src/common/ladder.ts';
import { connect } from '../bridge.ts';
import { pause, selectAt, usePlayer } from '../player.ts';
import { rows } from '../rows.ts';
import { nameOf, useStore } from '../store.ts';

export const ROW_HEIGHT = 26;
/** Width of the #, time and delta columns: the # column grows with the trace (a million needs 7 digits). */
function gutterWidths(count: number): { gutter: number; idx: number } {
  const digits = String(Math.max(1, count)).length;
  const idx = Math.max(34, digits * 7 + 6);
  return { gutter: 170 + idx, idx };
}

function roleClass(role: string | undefined): string {
  return role ? `role-${role}` : 'role-unknown';
}

const LadderHeader = memo(function LadderHeader({ layout, gutter }: { layout: LadderLayout; gutter: number }) {
  return (
    <div className="ladder-head" style={{ width: gutter + layout.width }}>
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
  gutter: number;
  prevUs: number | null;
  layout: LadderLayout;
  selected: boolean;
  /** Not played yet: the player's position is before it. */
  future: boolean;
  position: number;
  total: number;
  start: number;
  onSelect(index: number, position: number): void;
}

const Row = memo(function Row({ m, gutter, prevUs, layout, selected, future, position, total, start, onSelect }: RowProps) {
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
  // The trace linter's counts (message and dialog rules) once it has run, else the parser's.
  const errors = m.lintErrors ?? m.errors;
  const warnings = m.lintWarnings ?? m.warnings;
  const badges: string[] = [];
  if (errors > 0) badges.push(`${errors} error${errors > 1 ? 's' : ''}`);
  if (warnings > 0) badges.push(`${warnings} warning${warnings > 1 ? 's' : ''}`);
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the list's arrow keys select rows (onKeyDown on the ladder)
    <li
      aria-label={arrowName(m, nameOf)}
      aria-posinset={position + 1}
      aria-setsize={total}
      aria-current={selected ? 'true' : undefined}
      data-index={m.index}
      className={`lrow k-${cls}${selected ? ' selected' : ''}${future ? ' future' : ''}${m.retransmission ? ' retrans' : ''}`}
      style={{ transform: `translateY(${start}px)`, width: gutter + layout.width }}
      onClick={() => onSelect(m.index, position)}
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
      <span className="lrow-badges" style={{ left: gutter + Math.max(x1, x2) + 8 }}>
        {m.retransmission && <span className="badge badge-retrans">retransmission</span>}
        {badges.map((b) => (
          <span key={b} className={`badge ${b.includes('error') ? 'badge-error' : 'badge-warning'}`} title="Open the Diagnostics tab of the inspector for the findings">
            {b}
          </span>
        ))}
        <span className="lrow-transport">{m.transport.toUpperCase()}</span>
      </span>
    </li>
  );
});

const MIN_COLUMN = 112;

/**
 * Scrolls the ladder just enough that the row at `pos` shows below the
 * sticky column header with `margin` rows around it (a row far away is
 * centred instead).
 */
function reveal(el: HTMLElement | null, pos: number, margin: number): void {
  const body = el?.querySelector<HTMLElement>('.ladder-body');
  if (!el || !body) return;
  const head = body.offsetTop;
  const visible = el.clientHeight - head;
  const room = Math.max(0, Math.min(margin, Math.floor((visible / ROW_HEIGHT - 1) / 2))) * ROW_HEIGHT;
  const top = head + pos * ROW_HEIGHT;
  const viewTop = el.scrollTop + head;
  const viewBottom = el.scrollTop + el.clientHeight;
  if (top + ROW_HEIGHT < viewTop - visible || top > viewBottom + visible) el.scrollTop = top - head - (visible - ROW_HEIGHT) / 2;
  else if (top - room < viewTop) el.scrollTop = top - room - head;
  else if (top + ROW_HEIGHT + room > viewBottom) el.scrollTop = top + ROW_HEIGHT + room - el.clientHeight;
}

/** The element's width, kept up to date. */
function useWidth(ref: { current: HTMLElement | null }): number {
  const [width, setWidth] = useState(1200);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

/** A row not fetched yet: same height, no arrow. */
function Placeholder({ position, start, width }: { position: number; start: number; width: number }) {
  return (
    <li aria-hidden="true" className="lrow lrow-loading" data-position={position} style={{ transform: `translateY(${start}px)`, width }}>
      <div className="lrow-gutter">
        <span className="c-idx">…</span>
      </div>
    </li>
  );
}

export function Ladder() {
  const elements = useStore((s) => s.elements);
  const selected = useStore((s) => s.selected);
  const selectedPos = useStore((s) => s.selectedPos);
  const follow = useStore((s) => s.follow);
  const select = useStore((s) => s.select);
  const setFollow = useStore((s) => s.setFollow);
  const view = useStore((s) => s.ladder);
  const messageCount = useStore((s) => s.messageCount);
  const rowsVersion = useStore((s) => s.rowsVersion);
  const revision = useStore((s) => s.revision);
  const playerActive = usePlayer((s) => s.active);
  const playerMoves = usePlayer((s) => s.moves);
  const count = view?.count ?? 0;
  const usedKey = view?.used.join('|') ?? '';
  const scrollRef = useRef<HTMLDivElement>(null);
  const areaWidth = useWidth(scrollRef);
  // The # column shows trace indexes: as wide as the whole trace needs, even in a view of a few messages.
  const { gutter, idx } = gutterWidths(Math.max(count, messageCount));
  const columns = (view?.used.length ?? 0) || elements.length;
  // Columns share the width there is, between a narrow and the default width: fewer sideways scrolls.
  const columnWidth = Math.round(Math.max(MIN_COLUMN, Math.min(DEFAULT_COLUMN_WIDTH, (areaWidth - gutter - 24) / Math.max(1, columns))));
  // biome-ignore lint/correctness/useExhaustiveDependencies: usedKey stands for the used list's contents
  const layout = useMemo(() => ladderLayout(elements, new Set(view?.used ?? []), { onlyUsed: true, columnWidth }), [elements, usedKey, columnWidth]);
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  useEffect(() => {
    if (follow && count > 0) virtualizer.scrollToIndex(count - 1, { align: 'end' });
  }, [follow, count, virtualizer]);

  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items.length > 0 ? items[items.length - 1]!.index + 1 : 0;
  // The row before the first one drawn gives its delta.
  // biome-ignore lint/correctness/useExhaustiveDependencies: rowsVersion, revision and the view ask for the rows again
  useEffect(() => rows.ensure(first - 1, last), [first, last, count, view?.id, revision, rowsVersion]);

  const moveTo = useCallback(
    (pos: number, align: 'auto' | 'center' = 'auto') => {
      if (count === 0) return;
      const p = Math.max(0, Math.min(count - 1, pos));
      // Selected at once, or when its row arrives (store.ts): asked for now, not after the scroll has been drawn.
      selectAt(p);
      if (align === 'center') virtualizer.scrollToIndex(p, { align });
      else reveal(scrollRef.current, p, 0);
    },
    [count, virtualizer],
  );

  // The player moved: its position in view, with a few of the arrows still to come below it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: each move of the player (playerMoves) asks for it
  useEffect(() => {
    const pos = useStore.getState().selectedPos;
    if (pos !== null) reveal(scrollRef.current, pos, 3);
  }, [playerMoves]);

  // "Go to message #n" (the filter bar's field, Ctrl+G): the message or the first one after it in this view.
  useEffect(() => {
    const onGoTo = (e: Event): void => {
      const index = (e as CustomEvent<number>).detail;
      if (!view) return;
      // The whole trace: position and index are the same, no round trip.
      if (isFilterEmpty(useStore.getState().filter) && view.count > 0) {
        moveTo(Math.min(index, view.count - 1), 'center');
        return;
      }
      void connect()
        .api.viewLocate(view.id, index)
        .then((pos) => {
          if (pos < 0) useStore.getState().notify('info', `No message #${index + 1} or later in this view.`);
          else moveTo(pos, 'center');
        });
    };
    window.addEventListener('trunklab:goto', onGoTo);
    return () => window.removeEventListener('trunklab:goto', onGoTo);
  }, [view, moveTo]);

  // The selected arrow in view sideways too (a wide ladder scrolls; the gutter stays).
  const selectedRow = selectedPos !== null ? rows.get(selectedPos) : undefined;
  const arrowFrom = selectedRow ? layout.indexOf.get(selectedRow.from) : undefined;
  const arrowTo = selectedRow ? layout.indexOf.get(selectedRow.to) : undefined;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new selection brings its arrow back in view, even between the same columns
  useEffect(() => {
    const el = scrollRef.current;
    if (!el || arrowFrom === undefined || arrowTo === undefined) return;
    const left = gutter + Math.min(layout.columns[arrowFrom]!.x, layout.columns[arrowTo]!.x) - layout.columnWidth / 2;
    const right = gutter + Math.max(layout.columns[arrowFrom]!.x, layout.columns[arrowTo]!.x) + layout.columnWidth / 2;
    const viewLeft = el.scrollLeft + gutter;
    const viewRight = el.scrollLeft + el.clientWidth;
    if (left < viewLeft) el.scrollLeft = Math.max(0, left - gutter);
    else if (right > viewRight) el.scrollLeft = Math.min(left - gutter, right - el.clientWidth);
  }, [selectedPos, arrowFrom, arrowTo, gutter, layout]);

  const position = selectedPos ?? -1;
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / ROW_HEIGHT) - 1);
    const up = position < 0 ? count - 1 : position - 1;
    if (e.shiftKey && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
      scrollRef.current?.scrollBy({ left: (e.key === 'ArrowRight' ? 1 : -1) * layout.columnWidth });
      e.preventDefault();
      return;
    }
    // Moving by hand stops a play (as the player's own step does).
    if (['ArrowDown', 'ArrowUp', 'j', 'k', 'PageDown', 'PageUp', 'Home', 'End'].includes(e.key)) pause();
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
        moveTo(count - 1);
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

  const width = gutter + layout.width;
  const sizes = { '--gutter': `${gutter}px`, '--idx': `${idx}px` } as CSSProperties;
  return (
    // The scroll area takes the focus: keyboard users scroll and move through the arrows from here.
    // biome-ignore lint/a11y/noStaticElementInteractions: the focusable scroll area handles the ladder's keys
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <div className="ladder" ref={scrollRef} onScroll={onScroll} onKeyDown={onKeyDown} tabIndex={0} id="ladder-scroll" style={sizes}>
      <LadderHeader layout={layout} gutter={gutter} />
      {count === 0 ? (
        <div className="empty">
          {messageCount === 0 ? 'No messages yet. Place a call, or open a capture file.' : view && !view.complete ? 'Filtering…' : 'No message matches the filter.'}
        </div>
      ) : null}
      <ul aria-label="Ladder" className="ladder-body" style={{ height: virtualizer.getTotalSize(), width }}>
        {items.map((item) => {
          const m = rows.get(item.index);
          if (!m) return <Placeholder key={`p${item.index}`} position={item.index} start={item.start} width={width} />;
          const prev = item.index > 0 ? rows.get(item.index - 1) : undefined;
          return (
            <Row
              key={m.index}
              m={m}
              gutter={gutter}
              prevUs={prev ? prev.timeUs : null}
              layout={layout}
              selected={m.index === selected}
              future={playerActive && selectedPos !== null && item.index > selectedPos}
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

/**
 * The ladder (call flow) layout, as sngrep's call flow and Wireshark's flow
 * graph draw it: one column per element, one arrow per message. Pure
 * functions over plain data, shared by the renderer and the SVG exporter.
 *
 * Column order follows the path of a call through a Lync deployment: Lync
 * users, the Front End, the Mediation pools (members side by side, grouped
 * under their pool), then gateways, IP-PBXs and SBCs; addresses outside the
 * topology come last, in order of first appearance.
 */
import type { ElementRole, ElementStatus, MessageSummary, TraceFilter } from './api.ts';

export interface LadderColumn {
  /** Element id, or `host:port` for an address outside the topology. */
  id: string;
  name: string;
  role?: ElementRole;
  /** Mediation pool id, for grouped members. */
  group?: string;
  /** Centre of the column's lifeline, in px from the ladder's left edge. */
  x: number;
}

export interface LadderGroup {
  id: string;
  name: string;
  /** First and last column index (inclusive). */
  first: number;
  last: number;
}

export interface LadderLayout {
  columns: LadderColumn[];
  groups: LadderGroup[];
  /** Total width of the columns area, px. */
  width: number;
  columnWidth: number;
  indexOf: Map<string, number>;
}

export interface LayoutOptions {
  columnWidth?: number;
  /** Keep only elements that send or receive one of the messages (all while there is no message). */
  onlyUsed?: boolean;
}

const ROLE_ORDER: Record<ElementRole, number> = {
  'lync-user': 0,
  'front-end': 1,
  mediation: 2,
  gateway: 3,
  'ip-pbx': 4,
  sbc: 5,
};

export const DEFAULT_COLUMN_WIDTH = 150;

/** Element ids the messages use, in order of first appearance. */
export function usedIds(messages: Iterable<MessageSummary>, into = new Set<string>()): Set<string> {
  for (const m of messages) {
    into.add(m.from);
    into.add(m.to);
  }
  return into;
}

/**
 * Columns for `elements` and the ids `used` by the messages shown (in order
 * of first appearance; ids outside the topology become extra columns).
 */
export function ladderLayout(elements: readonly ElementStatus[], used: ReadonlySet<string>, options: LayoutOptions = {}): LadderLayout {
  const columnWidth = options.columnWidth ?? DEFAULT_COLUMN_WIDTH;
  const known = new Set(elements.map((e) => e.id));
  const extra = [...used].filter((id) => !known.has(id));
  // With nothing used yet (an empty trace) every element shows; otherwise only the used ones, so an
  // imported capture between unknown addresses is not pushed off screen by the lab's columns.
  const keep = (e: ElementStatus): boolean => !options.onlyUsed || used.size === 0 || used.has(e.id);
  const position = new Map(elements.map((e, i) => [e.id, i]));
  const poolOrder = new Map<string, number>();
  for (const e of elements) if (e.pool !== undefined && !poolOrder.has(e.pool)) poolOrder.set(e.pool, poolOrder.size);
  const sorted = elements.filter(keep).sort((a, b) => {
    const byRole = ROLE_ORDER[a.role] - ROLE_ORDER[b.role];
    if (byRole !== 0) return byRole;
    const byPool = (poolOrder.get(a.pool ?? '') ?? 0) - (poolOrder.get(b.pool ?? '') ?? 0);
    if (byPool !== 0) return byPool;
    return (position.get(a.id) ?? 0) - (position.get(b.id) ?? 0);
  });
  const columns: LadderColumn[] = sorted.map((e, i) => ({
    id: e.id,
    name: e.name,
    role: e.role,
    ...(e.pool !== undefined ? { group: e.pool } : {}),
    x: columnWidth * i + columnWidth / 2,
  }));
  for (const id of extra) columns.push({ id, name: id, x: columnWidth * columns.length + columnWidth / 2 });
  const groups: LadderGroup[] = [];
  columns.forEach((c, i) => {
    if (c.group === undefined) return;
    const last = groups[groups.length - 1];
    if (last !== undefined && last.id === c.group && last.last === i - 1) {
      last.last = i;
      return;
    }
    const member = elements.find((e) => e.id === c.id);
    groups.push({ id: c.group, name: member?.poolName ?? c.group, first: i, last: i });
  });
  return {
    columns,
    groups,
    width: columns.length * columnWidth,
    columnWidth,
    indexOf: new Map(columns.map((c, i) => [c.id, i])),
  };
}

/** What an arrow's label says: the method, or the status and reason. */
export function messageLabel(m: MessageSummary): string {
  if (m.kind === 'request') return m.method;
  if (m.kind === 'response') return `${m.status ?? ''} ${m.reason ?? ''}`.trim();
  return m.method ? `${m.method} (malformed)` : 'malformed message';
}

/** Colour class of an arrow. */
export type MessageClass =
  | 'invite'
  | 'ack'
  | 'bye'
  | 'cancel'
  | 'options'
  | 'refer'
  | 'request'
  | 'provisional'
  | 'success'
  | 'redirect'
  | 'client-error'
  | 'server-error'
  | 'invalid';

export function messageClass(m: MessageSummary): MessageClass {
  if (m.kind === 'invalid') return 'invalid';
  if (m.kind === 'response') {
    const s = m.status ?? 0;
    if (s < 200) return 'provisional';
    if (s < 300) return 'success';
    if (s < 400) return 'redirect';
    if (s < 500) return 'client-error';
    return 'server-error';
  }
  switch (m.method) {
    case 'INVITE':
      return 'invite';
    case 'ACK':
      return 'ack';
    case 'BYE':
      return 'bye';
    case 'CANCEL':
      return 'cancel';
    case 'OPTIONS':
      return 'options';
    case 'REFER':
    case 'NOTIFY':
      return 'refer';
    default:
      return 'request';
  }
}

/** The accessible name of an arrow: `INVITE from Mediation-1 to Gateway-A`. */
export function arrowName(m: MessageSummary, nameOf: (id: string) => string): string {
  return `${messageLabel(m)} from ${nameOf(m.from)} to ${nameOf(m.to)}`;
}

/** Wall-clock time of day, `HH:MM:SS.mmm` (UTC keeps captures from other zones comparable). */
export function formatTime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** A gap between two messages: `+0.512 ms`, `+12.3 ms`, `+1.250 s`. */
export function formatDelta(us: number): string {
  if (us < 0) return `−${formatDelta(-us).slice(1)}`;
  if (us < 1000) return `+${(us / 1000).toFixed(3)} ms`;
  if (us < 100_000) return `+${(us / 1000).toFixed(1)} ms`;
  if (us < 60_000_000) return `+${(us / 1_000_000).toFixed(3)} s`;
  if (us < 3_600_000_000) return `+${(us / 60_000_000).toFixed(1)} min`;
  return `+${(us / 3_600_000_000).toFixed(1)} h`;
}

/** Seconds as `m:ss` (call durations). */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`;
}

/** The ladder's filter: the engine's TraceFilter (a view of the trace). */
export type LadderFilter = TraceFilter;

export function isFilterEmpty(f: LadderFilter): boolean {
  return !f.callKey && !f.legKey && !f.labCall && !f.callId && !f.element && !f.method && !f.text && !f.hideOptions && !f.source;
}

/**
 * A predicate for `f`; `nameOf` gives element display names for the text
 * search. `labCall` is not checked here: only the engine knows a lab call's legs.
 */
export function messageFilter(f: LadderFilter, nameOf: (id: string) => string): (m: MessageSummary) => boolean {
  const text = f.text?.trim().toLowerCase() ?? '';
  const method = f.method?.toUpperCase();
  return (m) => {
    if (f.callKey && m.callKey !== f.callKey) return false;
    if (f.legKey && m.legKey !== f.legKey) return false;
    if (f.callId && m.callId !== f.callId) return false;
    if (f.element && m.from !== f.element && m.to !== f.element) return false;
    if (method && m.method !== method) return false;
    if (f.hideOptions && m.method === 'OPTIONS') return false;
    if (text) {
      const hay = `${messageLabel(m)}\n${m.callId}\n${m.cseq}\n${m.src}\n${m.dst}\n${nameOf(m.from)}\n${nameOf(m.to)}`.toLowerCase();
      if (!hay.includes(text)) return false;
    }
    return true;
  };
}

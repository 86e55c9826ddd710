/**
 * Views: what a ladder filter shows, kept by the engine so that a renderer
 * holds only the rows on screen. A view is
 * - the whole trace (no filter): nothing to keep, every index is a row;
 * - a call or a leg of the trace store: its messages, from the store's
 *   grouping (recomputed when the store changes), then the other criteria;
 * - otherwise a scan: the indexes of the messages that pass, built in time
 *   slices as the store indexes messages (a new filter over a million
 *   messages never blocks the bridge).
 * Filters read the store's columns; only a text search builds summaries.
 */
import type { TraceFilter, ViewInfo } from '../common/api.ts';
import { isFilterEmpty, messageFilter } from '../common/ladder.ts';
import type { TraceStore } from '../trace/store.ts';
import type { TraceIndex } from './trace-index.ts';

/** Views kept at once (a renderer replaces its own; old ones are dropped first). */
const MAX_VIEWS = 16;
/** Messages a scan looks at between two deadline checks. */
const SCAN_STEP = 2048;

export interface ViewContext {
  index: TraceIndex;
  nameOf(id: string): string;
  /** The Call-IDs of a lab call's legs (empty when the lab does not know it). */
  labCallLegs(id: string): string[];
  generation(): number;
  /** Whether message i belongs to a source of the trace (an imported file, a suite case, `live`): null when there is no such source. */
  inSource?(id: string): ((i: number) => boolean) | null;
}

type Predicate = (i: number) => boolean;

/** A predicate over the store's columns for everything but the call and leg. */
export function columnPredicate(
  filter: TraceFilter,
  store: TraceStore,
  nameOf: (id: string) => string,
  inSource?: ViewContext['inSource'],
): Predicate | null {
  const tests: Predicate[] = [];
  if (filter.source) tests.push(inSource?.(filter.source) ?? (() => false));
  if (filter.callId) {
    const callId = filter.callId;
    tests.push((i) => store.callId(i) === callId);
  }
  if (filter.element) {
    const el = filter.element;
    tests.push((i) => store.from(i) === el || store.to(i) === el);
  }
  if (filter.method) {
    const method = filter.method.toUpperCase();
    tests.push((i) => store.method(i) === method);
  }
  if (filter.hideOptions) tests.push((i) => store.method(i) !== 'OPTIONS');
  if (filter.text?.trim()) {
    const text = messageFilter({ text: filter.text }, nameOf);
    tests.push((i) => text(store.summary(i)));
  }
  if (tests.length === 0) return null;
  if (tests.length === 1) return tests[0]!;
  return (i) => {
    for (const t of tests) if (!t(i)) return false;
    return true;
  };
}

class IndexList {
  data = new Int32Array(1024);
  length = 0;

  push(i: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = i;
  }

  /** First position holding an index ≥ i, or -1. */
  locate(i: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.data[mid]! < i) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.length ? lo : -1;
  }
}

export class TraceView {
  readonly id: number;
  readonly filter: TraceFilter;
  readonly generation: number;
  readonly #ctx: ViewContext;
  readonly #mode: 'all' | 'call' | 'scan';
  #list = new IndexList();
  #scanned = 0;
  #used: string[] = [];
  #usedSet = new Set<string>();
  /** Call views: the store state their list was made from. */
  #madeAt = -1;
  #predicate: Predicate | null;
  lastUsed = 0;

  constructor(id: number, filter: TraceFilter, ctx: ViewContext) {
    this.id = id;
    this.filter = filter;
    this.generation = ctx.generation();
    this.#ctx = ctx;
    this.#predicate = columnPredicate(filter, ctx.index.store, ctx.nameOf, ctx.inSource);
    this.#mode = isFilterEmpty(filter) && !filter.source ? 'all' : filter.callKey || filter.legKey || filter.labCall ? 'call' : 'scan';
  }

  get count(): number {
    return this.#mode === 'all' ? this.#ctx.index.size : this.#list.length;
  }

  /** True when the view has looked at every message there is. */
  get complete(): boolean {
    if (this.#mode === 'all') return true;
    const index = this.#ctx.index;
    return this.#scanned >= index.size || (this.#mode === 'call' && this.#madeAt === this.#stamp());
  }

  info(): ViewInfo {
    const index = this.#ctx.index;
    return {
      id: this.id,
      count: this.count,
      scanned: this.#mode === 'all' ? index.size : this.#scanned,
      complete: this.complete,
      used: this.#mode === 'all' ? [...index.used] : [...this.#used],
      generation: this.generation,
    };
  }

  /** Message index at view position `pos`. */
  at(pos: number): number {
    if (this.#mode === 'all') return pos;
    return this.#list.data[pos] ?? -1;
  }

  locate(index: number): number {
    if (this.#mode === 'all') return index < this.#ctx.index.size ? index : -1;
    return this.#list.locate(index);
  }

  #stamp(): number {
    const store = this.#ctx.index.store;
    // Grouping changes with every message and every link.
    return store.size * 65_536 + store.links.length;
  }

  /** Brings the view up to date until `deadline`; true while work is left. */
  advance(deadline: number): boolean {
    if (this.#mode === 'all') return false;
    const store = this.#ctx.index.store;
    if (this.#mode === 'call') {
      const stamp = this.#stamp();
      if (stamp === this.#madeAt) return false;
      this.#rebuildCall();
      this.#madeAt = stamp;
      this.#scanned = store.size;
      return false;
    }
    const end = store.size;
    const pass = this.#predicate;
    while (this.#scanned < end) {
      const stop = Math.min(end, this.#scanned + SCAN_STEP);
      for (let i = this.#scanned; i < stop; i++) {
        if (pass === null || pass(i)) this.#add(i);
      }
      this.#scanned = stop;
      if (performance.now() >= deadline) break;
    }
    return this.#scanned < end;
  }

  #add(i: number): void {
    this.#list.push(i);
    const store = this.#ctx.index.store;
    const from = store.from(i);
    const to = store.to(i);
    if (!this.#usedSet.has(from)) {
      this.#usedSet.add(from);
      this.#used.push(from);
    }
    if (!this.#usedSet.has(to)) {
      this.#usedSet.add(to);
      this.#used.push(to);
    }
  }

  #rebuildCall(): void {
    const { index } = this.#ctx;
    const store = index.store;
    const f = this.filter;
    let messages: number[] = [];
    if (f.legKey) {
      const leg = Number(f.legKey.slice(1));
      if (f.legKey.startsWith('l') && Number.isInteger(leg) && leg >= 0 && leg < store.legCount) messages = store.legMessages(leg);
    } else if (f.callKey) {
      const root = Number(f.callKey.slice(1));
      if (f.callKey.startsWith('c') && Number.isInteger(root) && root >= 0 && root < store.legCount) messages = store.callMessages(root);
    } else if (f.labCall) {
      // The legs the Mediation Server reported, and every leg the store grouped with them.
      const roots = new Set<number>();
      for (const callId of this.#ctx.labCallLegs(f.labCall)) {
        const leg = index.legOfCallId(callId);
        if (leg >= 0) roots.add(store.callOfLeg(leg));
      }
      const all = new Set<number>();
      for (const root of roots) for (const m of store.callMessages(root)) all.add(m);
      messages = [...all].sort((a, b) => a - b);
    }
    this.#list = new IndexList();
    this.#used = [];
    this.#usedSet = new Set();
    const pass = this.#predicate;
    for (const i of messages) if (pass === null || pass(i)) this.#add(i);
  }
}

/** The open views, numbered from 1. */
export class TraceViews {
  readonly #views = new Map<number, TraceView>();
  readonly #ctx: ViewContext;
  #nextId = 1;
  #clock = 0;

  constructor(ctx: ViewContext) {
    this.#ctx = ctx;
  }

  open(filter: TraceFilter, replaces?: number): TraceView {
    if (replaces !== undefined) this.#views.delete(replaces);
    const view = new TraceView(this.#nextId++, filter, this.#ctx);
    view.lastUsed = ++this.#clock;
    this.#views.set(view.id, view);
    if (this.#views.size > MAX_VIEWS) {
      const oldest = [...this.#views.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]!;
      this.#views.delete(oldest.id);
    }
    return view;
  }

  get(id: number): TraceView {
    const view = this.#views.get(id);
    if (!view || view.generation !== this.#ctx.generation()) throw new RangeError(`view ${id} is closed (the trace was cleared, or too many views were opened)`);
    view.lastUsed = ++this.#clock;
    return view;
  }

  close(id: number): void {
    this.#views.delete(id);
  }

  clear(): void {
    this.#views.clear();
  }

  all(): TraceView[] {
    return [...this.#views.values()];
  }

  /** Advances every view until the deadline; true while work is left. */
  advance(deadline: number): boolean {
    let more = false;
    for (const v of this.#views.values()) {
      if (performance.now() >= deadline) return true;
      more = v.advance(deadline) || more;
    }
    return more;
  }
}

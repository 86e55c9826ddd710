/**
 * The rows of the ladder's view that the renderer holds: pages of summaries
 * fetched from the engine around what is on screen (a million-message trace
 * costs the page what forty rows cost). Pages are refetched when the
 * engine's revision changes (call grouping, linter badges) or when a partly
 * filled last page grows; far pages are dropped.
 */
import type { MessageSummary, ViewInfo } from '../../src/common/api.ts';
import { connect } from './bridge.ts';

export const PAGE = 128;
/** Pages kept (about 8,000 rows). */
const MAX_PAGES = 64;

interface Page {
  rows: MessageSummary[];
  stale: boolean;
  used: number;
}

class RowCache {
  viewId = 0;
  count = 0;
  /** A position to select as soon as its row arrives (keyboard or "go to" beyond what is fetched). */
  pendingSelect: number | null = null;
  readonly #pages = new Map<number, Page>();
  readonly #inflight = new Set<number>();
  #clock = 0;
  #arrivePending = false;
  /** Called (at most once per frame) when rows arrive. */
  onArrive: () => void = () => {};

  reset(view: ViewInfo): void {
    this.pendingSelect = null;
    this.viewId = view.id;
    this.count = view.count;
    this.#pages.clear();
    this.#inflight.clear();
  }

  /** The view has new counts: partly filled pages that can now hold more are fetched again. */
  resize(view: ViewInfo): void {
    if (view.id !== this.viewId) return;
    if (view.count < this.count) {
      this.#pages.clear();
    } else {
      for (const [p, page] of this.#pages) if (page.rows.length < PAGE && p * PAGE + page.rows.length < view.count) page.stale = true;
    }
    this.count = view.count;
  }

  /** Summaries changed on the engine's side: refetch, but keep showing what is there meanwhile. */
  stale(): void {
    for (const page of this.#pages.values()) page.stale = true;
  }

  get(pos: number): MessageSummary | undefined {
    const page = this.#pages.get(Math.floor(pos / PAGE));
    return page?.rows[pos % PAGE];
  }

  /** Fetches the pages of positions from … to (exclusive) that are missing or stale. */
  ensure(from: number, to: number): void {
    if (this.viewId === 0) return;
    const last = Math.min(to, this.count);
    this.#clock++;
    for (let p = Math.floor(Math.max(0, from) / PAGE); p * PAGE < last; p++) {
      const page = this.#pages.get(p);
      if (page) page.used = this.#clock;
      if (page && !page.stale) continue;
      if (this.#inflight.has(p)) continue;
      void this.#fetch(p);
    }
  }

  async #fetch(p: number): Promise<void> {
    const viewId = this.viewId;
    this.#inflight.add(p);
    try {
      const res = await connect().api.viewRows(viewId, p * PAGE, (p + 1) * PAGE);
      if (viewId !== this.viewId) return;
      this.#pages.set(p, { rows: res.rows, stale: false, used: this.#clock });
      if (res.view.count > this.count) this.count = res.view.count;
      this.#evict();
      this.#arrived();
    } catch {
      // The view was replaced or the link dropped: the next ensure() asks again.
    } finally {
      if (viewId === this.viewId) this.#inflight.delete(p);
    }
  }

  #evict(): void {
    if (this.#pages.size <= MAX_PAGES) return;
    const byAge = [...this.#pages].sort((a, b) => a[1].used - b[1].used);
    for (const [p] of byAge.slice(0, this.#pages.size - MAX_PAGES)) this.#pages.delete(p);
  }

  /** Rows answered by one message of the bridge are drawn together, at once (not a frame later). */
  #arrived(): void {
    if (this.#arrivePending) return;
    this.#arrivePending = true;
    queueMicrotask(() => {
      this.#arrivePending = false;
      this.onArrive();
    });
  }

  /** Every row of the view, at most `max` (exports drawn by the renderer). */
  async all(max: number): Promise<MessageSummary[]> {
    const out: MessageSummary[] = [];
    const viewId = this.viewId;
    for (let from = 0; from < Math.min(this.count, max); from += 5000) {
      const res = await connect().api.viewRows(viewId, from, Math.min(from + 5000, max));
      out.push(...res.rows);
      if (res.rows.length === 0) break;
    }
    return out;
  }
}

export const rows = new RowCache();

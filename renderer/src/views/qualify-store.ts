/**
 * What the Qualification and Diff panels keep while the user looks
 * elsewhere (a failing message on the ladder, say): the built-in cases, the
 * current or last run as `qualify-*` events build it, and the last diff.
 * Fed by its own subscription to the bridge (started when either panel
 * first shows), resynchronized from `qualifyState` whenever the link
 * opens or the trace is cleared.
 */
import { create } from 'zustand';

import type { BridgeEvent, FlowDiffResult, QualifyCaseInfo, QualifyState, TraceFilter } from '../../../src/common/api.ts';
import { connect } from '../bridge.ts';
import { openLadderView, useStore } from '../store.ts';
import { ROW_HEIGHT } from './Ladder.tsx';

export interface QualifyUiState {
  cases: QualifyCaseInfo[];
  run: QualifyState | null;
  /** Cases whose steps are shown. */
  expanded: Set<string>;
  /** The diff's two sides (`source:ID` or `call:KEY`) and its result. */
  diffA: string;
  diffB: string;
  diffAll: boolean;
  diff: FlowDiffResult | null;
  toggle(id: string): void;
}

export const useQualify = create<QualifyUiState>()((set, get) => ({
  cases: [],
  run: null,
  expanded: new Set(),
  diffA: '',
  diffB: '',
  diffAll: false,
  diff: null,
  toggle: (id) => {
    const expanded = new Set(get().expanded);
    if (expanded.has(id)) expanded.delete(id);
    else expanded.add(id);
    set({ expanded });
  },
}));

function apply(events: BridgeEvent[]): void {
  let { run } = useQualify.getState();
  let changed = false;
  let resync = false;
  for (const e of events) {
    switch (e.type) {
      case 'qualify-start':
        run = { ...e.run, running: true, results: [], generation: useStore.getState().generation };
        changed = true;
        useQualify.setState({ expanded: new Set() });
        break;
      case 'qualify-case-start':
        if (run?.run === e.run) {
          run = { ...run, current: e.id };
          changed = true;
        }
        break;
      case 'qualify-case':
        if (run?.run === e.run) {
          run = { ...run, results: [...run.results.filter((r) => r.id !== e.result.id), e.result] };
          changed = true;
          // A failed case opens on its steps: the verdict explains itself.
          if (e.result.verdict === 'fail' || e.result.verdict === 'error') useQualify.setState({ expanded: new Set([...useQualify.getState().expanded, e.result.id]) });
        }
        break;
      case 'qualify-done':
        if (run?.run === e.run) {
          const { current: _current, ...rest } = run;
          run = { ...rest, running: false, totals: e.totals };
          changed = true;
        }
        break;
      case 'trace-cleared':
        resync = true;
        break;
      default:
        break;
    }
  }
  if (changed) useQualify.setState({ run });
  if (resync) {
    useQualify.setState({ diff: null });
    void refresh();
  }
}

async function refresh(): Promise<void> {
  const api = connect().api;
  try {
    const [cases, run] = await Promise.all([api.qualifyCases(), api.qualifyState()]);
    useQualify.setState({ cases, run });
  } catch (error) {
    useStore.getState().notify('error', `Cannot read the qualification cases: ${error instanceof Error ? error.message : String(error)}`);
  }
}

let started = false;

/** Subscribes once to the engine's qualification events. */
export function startQualify(): void {
  if (started) return;
  started = true;
  const c = connect();
  c.api.subscribe(apply);
  c.onState((state) => {
    if (state === 'open') void refresh();
  });
}

/** Waits for the ladder's scroll area to exist with room for `pos` (the view switch renders it). */
async function ladderArea(pos: number): Promise<HTMLElement | null> {
  for (let i = 0; i < 120; i++) {
    const el = document.getElementById('ladder-scroll');
    const body = el?.querySelector<HTMLElement>('.ladder-body');
    if (el && body && body.offsetHeight >= (pos + 1) * ROW_HEIGHT) return el;
    await new Promise((r) => requestAnimationFrame(r));
  }
  return null;
}

/**
 * Opens trace message `index` on the ladder: filtered to `filter` (a suite
 * case's source, a call), selected (the inspector shows it) and scrolled
 * to the middle of the view.
 */
export async function openOnLadder(index: number, filter: TraceFilter): Promise<void> {
  useStore.setState({ view: 'ladder', filter, selected: index, selectedPos: null, follow: false });
  await openLadderView();
  let s = useStore.getState();
  let pos = s.selected === index ? s.selectedPos : null;
  // A view over a large trace fills in slices: ask until the message is in it.
  for (let i = 0; pos === null && s.ladder && i < 30; i++) {
    const at = await connect().api.viewLocate(s.ladder.id, index);
    if (at >= 0 && (await connect().api.viewRows(s.ladder.id, at, at + 1)).rows[0]?.index === index) pos = at;
    else await new Promise((r) => setTimeout(r, 100));
    s = useStore.getState();
  }
  if (pos === null) {
    s.notify('error', `Message #${index + 1} is not in the trace any more.`);
    return;
  }
  useStore.setState({ selected: index, selectedPos: pos, follow: false });
  const el = await ladderArea(pos);
  if (!el) return;
  const head = el.querySelector<HTMLElement>('.ladder-head')?.offsetHeight ?? 0;
  el.scrollTop = Math.max(0, head + pos * ROW_HEIGHT - (el.clientHeight - head) / 2);
}

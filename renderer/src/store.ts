/**
 * The renderer's state. Engine events arrive in batches from the bridge and
 * are applied once per animation frame, in one `set()`.
 *
 * Messages do not live here: the engine keeps the trace and, per ladder
 * filter, a view of it. The renderer holds the view's count and the rows it
 * has fetched (see rows.ts), a few pages around what is on screen. A
 * `trace` tick (at most one per 50 ms, counts only) says when to fetch
 * again, so the cost of a message to the page does not grow with the rate.
 */
import { create } from 'zustand';

import type {
  BridgeEvent,
  CallSummary,
  ElementStatus,
  EngineSnapshot,
  TopologyInfo,
  TraceFilter,
  TraceSourceInfo,
  TraceTick,
  TrunkStatus,
  ViewInfo,
} from '../../src/common/api.ts';
import { type ConnectionState, connect } from './bridge.ts';
import { rows } from './rows.ts';

export type View = 'topology' | 'calls' | 'ladder' | 'qualify' | 'diff';

export interface ImportProgress {
  id: string;
  name: string;
  bytes: number;
  totalBytes: number;
  done: boolean;
  /** Client side: uploading the file to the engine. */
  uploading?: boolean;
}

export interface Notice {
  id: number;
  level: 'info' | 'error';
  text: string;
}

export interface TrunklabState {
  connection: ConnectionState;
  hostKind: 'desktop' | 'browser';
  appVersion: string;
  topology: TopologyInfo | null;
  exportFormats: EngineSnapshot['exportFormats'];
  elements: ElementStatus[];
  elementById: Map<string, ElementStatus>;
  trunks: TrunkStatus[];
  calls: CallSummary[];
  sources: TraceSourceInfo[];
  imports: ImportProgress[];
  generation: number;
  /** Messages in the trace, and how many of them are grouped and filterable. */
  messageCount: number;
  indexedCount: number;
  /** The engine's summary revision (grouping, linter badges): rows of an older one are refetched. */
  revision: number;
  /** The ladder's view of the trace (its filter's messages), or null before the engine answers. */
  ladder: ViewInfo | null;
  /** Bumps when fetched rows arrive. */
  rowsVersion: number;
  view: View;
  filter: TraceFilter;
  /** The selected message (trace index) and its position in the ladder's view. */
  selected: number | null;
  selectedPos: number | null;
  follow: boolean;
  selectedCall: string | null;
  notices: Notice[];
  /** Element ids seen in any view so far (the Element filter's choices). */
  seenIds: string[];
  setView(view: View): void;
  setFilter(filter: TraceFilter): void;
  showCall(call: CallSummary | null): void;
  select(index: number | null, position?: number | null): void;
  setFollow(follow: boolean): void;
  selectCall(id: string | null): void;
  notify(level: Notice['level'], text: string): void;
  dismiss(id: number): void;
  setUpload(progress: ImportProgress | null, id: string): void;
}

let noticeId = 0;
/** The engine runs no lab (a window on files only), as its last snapshot said. */
let filesOnly = false;
/** The user picked a view: the window no longer picks one for them. */
let viewChosen = false;

export const useStore = create<TrunklabState>()((set, get) => ({
  connection: 'connecting',
  hostKind: 'browser',
  appVersion: '',
  topology: null,
  exportFormats: [],
  elements: [],
  elementById: new Map(),
  trunks: [],
  calls: [],
  sources: [],
  imports: [],
  generation: 0,
  messageCount: 0,
  indexedCount: 0,
  revision: 0,
  ladder: null,
  rowsVersion: 0,
  view: 'calls',
  filter: {},
  selected: null,
  selectedPos: null,
  follow: true,
  selectedCall: null,
  notices: [],
  seenIds: [],
  setView: (view) => {
    viewChosen = true;
    set({ view });
  },
  setFilter: (filter) => {
    set({ filter });
    void openLadderView();
  },
  showCall: (call) => {
    const { filter, view } = get();
    const { labCall: _l, callKey: _c, legKey: _g, callId: _i, ...rest } = filter;
    set({ filter: call ? { ...rest, labCall: call.id } : rest, view: call ? 'ladder' : view, selected: null, selectedPos: null, follow: call === null });
    void openLadderView();
  },
  select: (selected, position) =>
    set({ selected, selectedPos: selected === null ? null : (position ?? get().selectedPos), follow: selected === null ? get().follow : false }),
  setFollow: (follow) => set({ follow }),
  selectCall: (selectedCall) => set({ selectedCall }),
  notify: (level, text) => {
    const id = ++noticeId;
    set({ notices: [...get().notices.slice(-3), { id, level, text }] });
    setTimeout(() => get().dismiss(id), level === 'error' ? 10_000 : 5000);
  },
  dismiss: (id) => set({ notices: get().notices.filter((n) => n.id !== id) }),
  setUpload: (progress, id) => {
    const rest = get().imports.filter((p) => p.id !== id);
    set({ imports: progress ? [...rest, progress] : rest });
  },
}));

export const nameOf = (id: string): string => useStore.getState().elementById.get(id)?.name ?? id;

function mergeSeen(seen: string[], used: readonly string[]): string[] {
  let out = seen;
  for (const id of used) {
    if (out.includes(id)) continue;
    if (out === seen) out = seen.slice();
    out.push(id);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The ladder's view

let viewRequest = 0;

/** Opens the engine view for the current filter (replacing the previous one) and starts over the row cache. */
export async function openLadderView(): Promise<void> {
  const ticket = ++viewRequest;
  const { filter, ladder, selected } = useStore.getState();
  try {
    const view = await connect().api.openView(filter, ladder?.id);
    if (ticket !== viewRequest) return;
    rows.reset(view);
    const selectedPos = selected === null ? null : await connect().api.viewLocate(view.id, selected);
    if (ticket !== viewRequest) return;
    const s = useStore.getState();
    const keep = selectedPos !== null && selectedPos >= 0;
    useStore.setState({
      ladder: view,
      seenIds: mergeSeen(s.seenIds, view.used),
      selectedPos: keep ? selectedPos : null,
      rowsVersion: s.rowsVersion + 1,
    });
  } catch (error) {
    if (ticket === viewRequest) useStore.getState().notify('error', `Cannot filter the trace: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// ---------------------------------------------------------------------------
// Event intake: queue, then apply once per frame.

let queue: BridgeEvent[] = [];
let frameRequested = false;

function requestFrame(): void {
  if (frameRequested) return;
  frameRequested = true;
  // Hidden tabs get no animation frames: fall back to a timer there.
  if (document.hidden) setTimeout(applyQueued, 200);
  else requestAnimationFrame(applyQueued);
}

function upsert<T>(list: T[], item: T, key: (t: T) => string): T[] {
  const k = key(item);
  const i = list.findIndex((x) => key(x) === k);
  if (i < 0) return [...list, item];
  const copy = list.slice();
  copy[i] = item;
  return copy;
}

function applyQueued(): void {
  frameRequested = false;
  const events = queue;
  queue = [];
  if (events.length === 0) return;
  const s = useStore.getState();
  let { calls, elements, trunks, sources, imports, generation, selected, selectedPos, ladder, seenIds } = s;
  let tick: TraceTick | null = null;
  let cleared = false;
  for (const e of events) {
    switch (e.type) {
      case 'trace':
        tick = e;
        break;
      case 'call':
        calls = upsert(calls, e.call, (c) => c.id);
        break;
      case 'element':
        elements = upsert(elements, e.element, (x) => x.id);
        break;
      case 'trunk':
        trunks = upsert(trunks, e.trunk, (t) => t.name);
        break;
      case 'health':
        trunks = trunks.map((t) => (t.name === e.trunk ? { ...t, health: e.health } : t));
        break;
      case 'source':
        sources = upsert(sources, e.source, (x) => x.id);
        break;
      case 'import-progress':
        imports = e.done ? imports.filter((p) => p.id !== e.id) : upsert(imports, { ...e }, (p) => p.id);
        break;
      case 'trace-cleared':
        generation = e.generation;
        selected = null;
        selectedPos = null;
        seenIds = [];
        cleared = true;
        break;
      case 'log':
        if (e.level === 'error') s.notify('error', e.text);
        break;
      case 'lab':
        void resync();
        break;
      case 'open-request':
        window.dispatchEvent(new CustomEvent('trunklab:menu', { detail: { what: e.what, detail: e.detail } }));
        break;
      default:
        break;
    }
  }
  const next: Partial<TrunklabState> = {
    calls,
    elements,
    elementById: elements === s.elements ? s.elementById : new Map(elements.map((x) => [x.id, x])),
    trunks,
    sources,
    imports,
    generation,
    selected,
    selectedPos,
    seenIds,
  };
  if (tick && tick.generation === generation) {
    next.messageCount = tick.messageCount;
    next.indexedCount = tick.indexedCount;
    next.revision = tick.revision;
    if (tick.revision !== s.revision) rows.stale();
    // Files opened on a window that had none yet (the snapshot came before the import's first messages): show the ladder.
    if (filesOnly && !viewChosen && s.view === 'calls' && s.messageCount === 0 && tick.messageCount > 0) {
      next.view = 'ladder';
      next.follow = false;
    }
    const mine = ladder ? tick.views.find((v) => v.id === ladder!.id) : undefined;
    if (mine) {
      ladder = mine;
      next.ladder = mine;
      next.seenIds = mergeSeen(seenIds, mine.used);
      rows.resize(mine);
    }
  }
  useStore.setState(next);
  if (cleared || (ladder && ladder.generation !== generation)) void openLadderView();
}

async function resync(): Promise<void> {
  const api = connect().api;
  const snap = await api.status();
  const s = useStore.getState();
  filesOnly = snap.topology === null;
  useStore.setState({
    appVersion: snap.version,
    topology: snap.topology,
    exportFormats: snap.exportFormats,
    elements: snap.elements,
    elementById: new Map(snap.elements.map((e) => [e.id, e])),
    trunks: snap.trunks,
    calls: snap.calls,
    sources: snap.sources,
    generation: snap.generation,
    messageCount: snap.messageCount,
    indexedCount: snap.indexedCount,
    // A window opened on files only starts on the ladder, at the top of the trace (as a capture viewer does).
    view: s.ladder === null && snap.topology === null && snap.messageCount > 0 ? 'ladder' : s.view,
    ...(s.ladder === null && snap.topology === null ? { follow: false } : {}),
  });
  await openLadderView();
}

let started = false;

/** Connects the store to the engine (once). */
export function startStore(): void {
  if (started) return;
  started = true;
  const c = connect();
  useStore.setState({ hostKind: c.kind });
  rows.onArrive = () => {
    const s = useStore.getState();
    const pos = rows.pendingSelect;
    const m = pos === null ? undefined : rows.get(pos);
    if (pos !== null && m) {
      rows.pendingSelect = null;
      useStore.setState({ rowsVersion: s.rowsVersion + 1, selected: m.index, selectedPos: pos, follow: false });
    } else useStore.setState({ rowsVersion: s.rowsVersion + 1 });
  };
  c.api.subscribe((events) => {
    for (const e of events) queue.push(e);
    requestFrame();
  });
  c.onState((state) => {
    useStore.setState({ connection: state });
    if (state === 'open') {
      resync().catch((error: unknown) => useStore.getState().notify('error', `Cannot read the engine's state: ${String(error)}`));
    }
  });
}

/**
 * The renderer's state. Engine events arrive in batches from the bridge;
 * they are queued and applied once per animation frame, in one `set()`.
 * Message summaries go into a mutable log (`messageLog`), not into React
 * state: views read it and re-render on `logVersion` (measured: per-event
 * store updates cap a page at a few hundred events/s, this at ~27,000).
 */
import { create } from 'zustand';

import type {
  BridgeEvent,
  CallSummary,
  ElementStatus,
  EngineSnapshot,
  MessageSummary,
  TopologyInfo,
  TraceSourceInfo,
  TrunkStatus,
} from '../../src/common/api.ts';
import type { LadderFilter } from '../../src/common/ladder.ts';
import { type ConnectionState, connect } from './bridge.ts';

export type View = 'topology' | 'calls' | 'ladder';

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
  /** Bumps whenever messageLog changes. */
  logVersion: number;
  generation: number;
  view: View;
  filter: LadderFilter;
  /** The call the ladder is filtered to (its legs). */
  callFilter: CallSummary | null;
  selected: number | null;
  follow: boolean;
  selectedCall: string | null;
  notices: Notice[];
  setView(view: View): void;
  setFilter(filter: LadderFilter): void;
  showCall(call: CallSummary | null): void;
  select(index: number | null): void;
  setFollow(follow: boolean): void;
  selectCall(id: string | null): void;
  notify(level: Notice['level'], text: string): void;
  dismiss(id: number): void;
  setUpload(progress: ImportProgress | null, id: string): void;
}

/** Every message summary so far, index = position. Mutated in place. */
export const messageLog: MessageSummary[] = [];
const held = new Map<number, MessageSummary>();

let noticeId = 0;

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
  logVersion: 0,
  generation: 0,
  view: 'calls',
  filter: {},
  callFilter: null,
  selected: null,
  follow: true,
  selectedCall: null,
  notices: [],
  setView: (view) => set({ view }),
  setFilter: (filter) => set({ filter }),
  showCall: (call) => set({ callFilter: call, view: call ? 'ladder' : get().view, selected: null, follow: call === null }),
  select: (selected) => set({ selected, follow: selected === null ? get().follow : false }),
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

function putMessage(m: MessageSummary): boolean {
  if (m.index < messageLog.length) return false;
  if (m.index > messageLog.length) {
    held.set(m.index, m);
    return false;
  }
  messageLog.push(m);
  let next = held.get(messageLog.length);
  while (next !== undefined) {
    held.delete(next.index);
    messageLog.push(next);
    next = held.get(messageLog.length);
  }
  return true;
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
  let logChanged = false;
  let { calls, elements, trunks, sources, imports, generation, selected } = s;
  for (const e of events) {
    switch (e.type) {
      case 'message':
        logChanged = putMessage(e.message) || logChanged;
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
        messageLog.length = 0;
        held.clear();
        generation = e.generation;
        selected = null;
        logChanged = true;
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
    }
  }
  useStore.setState({
    calls,
    elements,
    elementById: elements === s.elements ? s.elementById : new Map(elements.map((x) => [x.id, x])),
    trunks,
    sources,
    imports,
    generation,
    selected,
    ...(logChanged ? { logVersion: s.logVersion + 1 } : {}),
  });
  if (held.size > 0) void fillGap();
}

let filling = false;

/** Fetches summaries the event stream skipped (before subscribing, or a lost batch). */
async function fillGap(): Promise<void> {
  if (filling) return;
  filling = true;
  try {
    const api = connect().api;
    while (held.size > 0 || pendingCount > messageLog.length) {
      const firstHeld = held.size > 0 ? Math.min(...held.keys()) : pendingCount;
      const from = messageLog.length;
      const to = Math.min(firstHeld, from + 20_000);
      if (to <= from) break;
      const page = await api.messages(from, to);
      if (page.length === 0) break;
      for (const m of page) putMessage(m);
      useStore.setState({ logVersion: useStore.getState().logVersion + 1 });
    }
  } finally {
    filling = false;
  }
}

let pendingCount = 0;

async function resync(): Promise<void> {
  const api = connect().api;
  const snap = await api.status();
  const s = useStore.getState();
  if (snap.generation !== s.generation) {
    messageLog.length = 0;
    held.clear();
  }
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
    logVersion: s.logVersion + 1,
    view: s.logVersion === 0 && snap.topology === null && snap.messageCount > 0 ? 'ladder' : s.view,
  });
  pendingCount = snap.messageCount;
  await fillGap();
}

let started = false;

/** Connects the store to the engine (once). */
export function startStore(): void {
  if (started) return;
  started = true;
  const c = connect();
  useStore.setState({ hostKind: c.kind });
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

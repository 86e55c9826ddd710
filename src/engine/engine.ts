/**
 * The Engine: the one EngineApi over the lab and the trace. The CLI, the
 * headless host and the Electron main process each hold one; the renderer
 * reaches it through a bridge (WebSocket or IPC) as plain data.
 *
 * Road of a message: socket → `tap` (or an imported file) → TraceIndex (the
 * TraceStore of src/trace/, behind a staging area for large files) → views
 * (what each ladder filter shows) → a `trace` tick (counts only, at most one
 * per 50 ms) → bridge → the renderer, which fetches the rows it draws.
 * No summary crosses the bridge unless a row on screen needs it: the cost of
 * a message to the UI does not grow with the message rate.
 *
 * Opening a capture: read on a worker thread (capture-worker.ts), framed and
 * staged here (staging.ts, trace-index.ts): every message is navigable once
 * the file is read; the store indexes it in the background.
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type {
  BridgeEvent,
  CallActionRequest,
  CallSummary,
  DiagnosticInfo,
  ElementStatus,
  EngineApi,
  EngineEvent,
  EngineSnapshot,
  ExportFormat,
  ExportRequest,
  ExportResult,
  FlowDiffRequest,
  FlowDiffResult,
  FlowRef,
  ImportResult,
  MessageDetail,
  MessageSummary,
  PlaceCallRequest,
  QualifyCaseInfo,
  QualifyReportFormat,
  QualifyRunInfo,
  QualifyRunRequest,
  QualifyState,
  TopologyInfo,
  TraceCallInfo,
  TraceFilter,
  TraceSourceInfo,
  TraceTick,
  TransportName,
  TrunkStatus,
  UploadStart,
  ViewInfo,
  ViewRows,
} from '../common/api.ts';
import { readCaptureFile } from '../formats/capture-reader.ts';
import { readJsonTraceFile } from '../formats/json.ts';
import { readLyncLogFile } from '../formats/lync-log-reader.ts';
import { detectImportFormat, exportTrace as writeExport } from '../formats/trace-io.ts';
import type { TopologyInput } from '../lync/topology.ts';
import type { CaseResult } from '../qualify/runner.ts';
import type { CaptureRecord, HostPort } from '../sip/capture.ts';
import { type LintFinding, lintTrace } from '../trace/lint-dialog.ts';
import type { CallInfo, LegLink } from '../trace/store.ts';
import type { WireEvent } from '../trace/wire-event.ts';
import { EventBatcher, type EventBatcherOptions } from './event-batcher.ts';
import type { LabPort } from './lab-port.ts';
import { readCaptureInWorker } from './capture-worker.ts';
import { DEFAULT_TOPOLOGY_SOURCE, defaultTopologyInput } from './default-topology.ts';
import { diffTraceFlows, type Flow } from './flow-diff-view.ts';
import { messageDetail } from './message-detail.ts';
import { Qualification } from './qualification.ts';
import { StagingAssembler } from './staging.ts';
import { TraceIndex } from './trace-index.ts';
import { TraceView, TraceViews, type ViewContext } from './trace-views.ts';

export interface EngineOptions {
  version?: string;
  topology?: TopologyInfo | null;
  batching?: EventBatcherOptions;
  /** Shortest gap between two `trace` ticks (default 50 ms). */
  tickMs?: number;
  /** The linter runs over traces of at most this many messages (default 20,000, about 0.3 s): it parses every message again, in one go. */
  lintLimit?: number;
  /** The topology qualification cases run on (default: the built-in lab topology, which the cases are written against). */
  qualifyTopology?: { input: TopologyInput; source: string };
}

/** Messages of one source: an imported file or a suite case (contiguous indexes; the live lab's are the rest). */
interface SourceRange {
  from: number;
  count(): number;
}

interface Upload {
  name: string;
  size: number;
  received: number;
  file: string;
  stream: WriteStream;
}

interface LintCounts {
  errors: number;
  warnings: number;
  /** Findings across the dialog (the per-message ones the inspector computes itself). */
  dialog: LintFinding[];
}

const MIME: Record<ExportFormat, string> = {
  pcap: 'application/vnd.tcpdump.pcap',
  pcapng: 'application/x-pcapng',
  cls: 'text/plain',
  json: 'application/x-ndjson',
  sipp: 'application/xml',
};
const EXTENSION: Record<ExportFormat, string> = { pcap: 'pcap', pcapng: 'pcapng', cls: 'log', json: 'json', sipp: 'xml' };
const EXPORT_FORMATS: ExportFormat[] = ['pcap', 'pcapng', 'cls', 'json', 'sipp'];

const hostPortKey = (hp: HostPort): string => (hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`);

export class Engine implements EngineApi {
  readonly version: string;
  readonly #batcher: EventBatcher;
  #index: TraceIndex;
  #views: TraceViews;
  #lab: LabPort | null = null;
  #topology: TopologyInfo | null;
  #pendingRecords: CaptureRecord[] | null = [];
  #generation = 1;
  /** Bumps when summaries already handed out changed (grouping, linter). */
  #revision = 0;
  readonly #sources = new Map<string, TraceSourceInfo>();
  readonly #calls = new Map<string, CallSummary>();
  readonly #linked = new Set<string>();
  readonly #trunks = new Map<string, TrunkStatus>();
  readonly #elements = new Map<string, ElementStatus>();
  readonly #hostIndex = new Map<string, string | null>();
  /** Element names found in imported logs and JSON traces (`127.0.0.20:5068` → `med-1`). */
  readonly #importedNames = new Map<string, string>();
  readonly #uploads = new Map<string, Upload>();
  #importQueue: Promise<unknown> = Promise.resolve();
  #importAbort = new AbortController();
  #tempDir: string | null = null;
  #closed = false;
  readonly #tickMs: number;
  #tickTimer: ReturnType<typeof setTimeout> | null = null;
  #lastTick = { count: -1, indexed: -1, revision: -1, views: '' };
  readonly #lintLimit: number;
  #lint = new Map<number, LintCounts>();
  #lintedSize = 0;
  #lintTimer: ReturnType<typeof setTimeout> | null = null;
  #liveCounted = 0;
  readonly #sourceRanges = new Map<string, SourceRange>();
  /** Names of the addresses suite cases used (their labs ran on free ports): `127.0.0.20:40123` → `med-1`. */
  readonly #caseNames = new Map<string, string>();
  #qualifyTopology: { input: TopologyInput; source: string } | null;
  readonly #qualification: Qualification;

  constructor(options: EngineOptions = {}) {
    this.version = options.version ?? '0.0.0';
    this.#topology = options.topology ?? null;
    this.#batcher = new EventBatcher(options.batching);
    this.#tickMs = options.tickMs ?? 50;
    this.#lintLimit = options.lintLimit ?? 20_000;
    this.#index = this.#newIndex();
    this.#views = this.#newViews();
    this.#qualifyTopology = options.qualifyTopology ?? null;
    this.#qualification = new Qualification({
      addCase: (result, run, position) => this.#addCase(result, run, position),
      emit: (event) => this.#batcher.push(event),
      generation: () => this.#generation,
      topology: () => this.#qualifyTopology ?? { input: defaultTopologyInput(), source: DEFAULT_TOPOLOGY_SOURCE },
    });
  }

  /** Where qualification cases run: the topology file the lab was started from (as written, before free ports). */
  setQualifyTopology(input: TopologyInput, source: string): void {
    this.#qualifyTopology = { input: structuredClone(input), source };
  }

  #newIndex(): TraceIndex {
    const index = new TraceIndex({
      resolve: (hp, transport) =>
        this.#lab?.elementOf(hp.host, hp.port, transport) ??
        this.#caseNames.get(hostPortKey(hp)) ??
        this.#elementOf(hp.host, hp.port, transport) ??
        this.#importedNames.get(hostPortKey(hp)) ??
        null,
      onChange: () => this.#changed(),
    });
    // Views catching up in the background: the next tick carries their counts.
    index.background = (deadline) => {
      const more = this.#views.advance(deadline);
      this.#changed();
      return more;
    };
    return index;
  }

  #newViews(): TraceViews {
    return new TraceViews(this.#viewContext());
  }

  #viewContext(): ViewContext {
    return {
      index: this.#index,
      nameOf: (id) => this.#nameOf(id),
      labCallLegs: (id) => this.#calls.get(id)?.legs ?? [],
      generation: () => this.#generation,
      inSource: (id) => this.#inSource(id),
    };
  }

  /** A test for the messages of a source of the trace, or null when there is no such source. */
  #inSource(id: string): ((i: number) => boolean) | null {
    if (id === 'live') {
      if (!this.#sources.has('live')) return null;
      // Files and cases added later are not live either: the ranges are read at each test.
      return (i) => {
        for (const r of this.#sourceRanges.values()) if (i >= r.from && i < r.from + r.count()) return false;
        return true;
      };
    }
    const r = this.#sourceRanges.get(id);
    if (r === undefined) return null;
    return (i) => i >= r.from && i < r.from + r.count();
  }

  /** The trace (for the CLI and tests: the same store the UI shows). */
  get trace(): TraceIndex {
    return this.#index;
  }

  // -------------------------------------------------------------------------
  // Wiring to the lab

  /** The capture tap to hand to the lab: every datagram and segment it sends or receives. */
  readonly tap = (record: CaptureRecord): void => {
    if (this.#closed) return;
    if (this.#pendingRecords !== null) {
      this.#pendingRecords.push(record);
      return;
    }
    this.#index.tap(record);
  };

  /** Lab events (calls, health, elements, log lines) to forward. */
  readonly onLabEvent = (event: EngineEvent): void => {
    if (this.#closed) return;
    switch (event.type) {
      case 'call':
        this.#noteCall(event.call);
        break;
      case 'element':
        this.#elements.set(event.element.id, event.element);
        this.#hostIndex.clear();
        break;
      case 'health': {
        const trunk = this.#trunks.get(event.trunk);
        if (trunk) this.#trunks.set(event.trunk, { ...trunk, health: event.health });
        break;
      }
      default:
        break;
    }
    this.#batcher.push(event);
  };

  /** A lab call: kept for the Calls view; its legs (Call-IDs the Mediation Server joined) are linked in the store. */
  #noteCall(call: CallSummary): void {
    this.#calls.set(call.id, call);
    const [first, ...rest] = call.legs;
    if (first === undefined) return;
    for (const other of rest) {
      const key = `${first}\n${other}`;
      if (this.#linked.has(key)) continue;
      this.#linked.add(key);
      this.#index.linkLegs(first, other, { source: 'b2bua', confidence: 1, evidence: [`Mediation Server B2BUA, lab call ${call.id}`] });
      this.#revision += 1;
      this.#changed();
    }
  }

  /** Starts naming trace columns after the lab's elements and releases records tapped before. */
  attachLab(lab: LabPort, topology?: TopologyInfo): void {
    this.#lab = lab;
    if (topology) this.#topology = topology;
    for (const e of lab.elements()) this.#elements.set(e.id, e);
    for (const t of lab.trunks()) this.#trunks.set(t.name, t);
    for (const c of lab.calls()) this.#noteCall(c);
    this.#hostIndex.clear();
    this.#sources.set('live', { id: 'live', kind: 'live', name: topology?.source ?? 'lab', messages: 0 });
    this.#releasePending();
    this.#batcher.push({ type: 'lab', topology: this.#topology });
  }

  /** Without a lab (viewing files): records tapped so far go in as they are. */
  detached(): void {
    this.#releasePending();
  }

  #releasePending(): void {
    const pending = this.#pendingRecords;
    this.#pendingRecords = null;
    for (const r of pending ?? []) this.#index.tap(r);
  }

  #elementOf(host: string, port: number, transport: TransportName): string | undefined {
    if (this.#lab === null) return undefined;
    const exact = this.#lab.elementOf(host, port, transport);
    if (exact) return exact;
    // An ephemeral port (the client side of a TCP connection): the address alone names the element, when only one listens there.
    if (this.#hostIndex.size === 0) {
      for (const e of this.#elements.values()) {
        for (const listen of e.listen) {
          const h = listen.replace(/^[a-z]+:/, '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
          const seen = this.#hostIndex.get(h);
          this.#hostIndex.set(h, seen === undefined || seen === e.id ? e.id : null);
        }
      }
    }
    return this.#hostIndex.get(host) ?? undefined;
  }

  #nameOf(id: string): string {
    return this.#elements.get(id)?.name ?? id;
  }

  // -------------------------------------------------------------------------
  // Ticks: what changed in the trace, at most one per tickMs

  #changed(): void {
    if (this.#closed || this.#tickTimer !== null) return;
    // While a file is read, fewer ticks: the page has less to draw and the reader more of the CPU.
    this.#tickTimer = setTimeout(() => this.#tick(), this.#index.reading ? Math.max(this.#tickMs, 250) : this.#tickMs);
    this.#tickTimer.unref?.();
    this.#index.wake();
  }

  #tick(): void {
    this.#tickTimer = null;
    if (this.#closed) return;
    // Views of a small trace catch up at once; large ones go on in the background slices.
    const more = this.#views.advance(performance.now() + 8);
    if (more) this.#index.wake();
    this.#countLive();
    const views = this.#views.all().map((v) => v.info());
    const viewsKey = views.map((v) => `${v.id}:${v.count}:${v.scanned}:${v.used.length}`).join(',');
    const count = this.#index.size;
    const indexed = this.#index.indexed;
    const last = this.#lastTick;
    if (last.count !== count || last.indexed !== indexed || last.revision !== this.#revision || last.views !== viewsKey) {
      this.#lastTick = { count, indexed, revision: this.#revision, views: viewsKey };
      const tick: TraceTick = { type: 'trace', generation: this.#generation, messageCount: count, indexedCount: indexed, revision: this.#revision, views };
      this.#batcher.push(tick);
    }
    if (more) this.#changed();
    this.#scheduleLint();
  }

  /** Live messages are what the store holds beyond the imported ones (known once no import is being indexed). */
  #countLive(): void {
    const live = this.#sources.get('live');
    if (!live || this.#index.busy) return;
    let imported = 0;
    for (const s of this.#sources.values()) if (s.id !== 'live') imported += s.messages;
    live.messages = Math.max(this.#liveCounted, this.#index.indexed - imported);
    this.#liveCounted = live.messages;
  }

  // -------------------------------------------------------------------------
  // The linter: dialog-wide findings become ladder badges

  /** Runs the linter once the trace has been quiet for a moment (it parses every message again: never while messages pour in). */
  #scheduleLint(): void {
    const store = this.#index.store;
    if (store.size === this.#lintedSize || store.size > this.#lintLimit || this.#index.busy) return;
    if (this.#lintTimer !== null) clearTimeout(this.#lintTimer);
    const size = store.size;
    this.#lintTimer = setTimeout(() => {
      this.#lintTimer = null;
      if (this.#index.store.size === size) this.#runLint();
      else this.#scheduleLint();
    }, 750);
    this.#lintTimer.unref?.();
  }

  #runLint(): void {
    if (this.#closed || this.#index.busy) return;
    const store = this.#index.store;
    if (store.size > this.#lintLimit || store.size === this.#lintedSize) return;
    const roles = new Map([...this.#elements.values()].map((e) => [e.id, e.role]));
    const lint = new Map<number, LintCounts>();
    lintTrace(store, { roleOf: (id) => roles.get(id) ?? null, retransmissions: false }, (i, findings) => {
      let errors = 0;
      let warnings = 0;
      for (const f of findings) {
        if (f.severity === 'error') errors++;
        else if (f.severity === 'warning') warnings++;
      }
      lint.set(i, { errors, warnings, dialog: findings.filter((f) => f.scope === 'dialog') });
    });
    this.#lint = lint;
    this.#lintedSize = store.size;
    this.#revision += 1;
    this.#changed();
  }

  #summary(i: number): MessageSummary {
    const s = this.#index.summary(i);
    if (i < this.#lintedSize) {
      const l = this.#lint.get(i);
      s.lintErrors = l?.errors ?? 0;
      s.lintWarnings = l?.warnings ?? 0;
    }
    return s;
  }

  // -------------------------------------------------------------------------
  // EngineApi

  async status(): Promise<EngineSnapshot> {
    this.#countLive();
    return {
      version: this.version,
      topology: this.#topology,
      elements: [...this.#elements.values()],
      trunks: [...this.#trunks.values()],
      calls: [...this.#calls.values()],
      messageCount: this.#index.size,
      indexedCount: this.#index.indexed,
      generation: this.#generation,
      sources: [...this.#sources.values()].map((s) => ({ ...s })),
      exportFormats: EXPORT_FORMATS,
    };
  }

  async messages(from: number, to: number): Promise<MessageSummary[]> {
    const end = Math.min(to, this.#index.size);
    const out: MessageSummary[] = [];
    for (let i = from; i < end; i++) out.push(this.#summary(i));
    return out;
  }

  async messageDetail(index: number): Promise<MessageDetail> {
    if (index >= this.#index.size) throw new RangeError(`no message ${index}: the trace holds ${this.#index.size}`);
    const summary = this.#summary(index);
    const extra: DiagnosticInfo[] = (this.#lint.get(index)?.dialog ?? []).map((f) => ({
      code: f.code,
      severity: f.severity === 'error' ? 'error' : f.severity === 'warning' ? 'warning' : 'info',
      message: f.message,
      rule: f.rule,
      ...(f.offset !== undefined ? { offset: f.offset } : {}),
    }));
    return messageDetail(summary, this.#index.bytes(index), { fromName: this.#nameOf(summary.from), toName: this.#nameOf(summary.to) }, extra);
  }

  async openView(filter: TraceFilter, replaces?: number): Promise<ViewInfo> {
    const view = this.#views.open(filter, replaces);
    // A small trace or a call is done at once; the rest follows in ticks.
    if (view.advance(performance.now() + 25)) this.#changed();
    return view.info();
  }

  async viewRows(viewId: number, from: number, to: number): Promise<ViewRows> {
    const view = this.#views.get(viewId);
    const end = Math.min(to, view.count);
    const rows: MessageSummary[] = [];
    for (let p = from; p < end; p++) rows.push(this.#summary(view.at(p)));
    return { view: view.info(), from, rows };
  }

  async viewLocate(viewId: number, index: number): Promise<number> {
    return this.#views.get(viewId).locate(index);
  }

  async closeView(viewId: number): Promise<void> {
    this.#views.close(viewId);
  }

  #callsCache: { stamp: number; calls: CallInfo[] } | null = null;

  /** The store's calls that are calls: at least one leg began with an INVITE (not OPTIONS keep-alives or REGISTERs). */
  #storeCalls(): CallInfo[] {
    const store = this.#index.store;
    const stamp = store.size * 65_536 + store.links.length;
    if (this.#callsCache?.stamp !== stamp) {
      const calls = store.calls().filter((c) => c.legs.some((l) => store.method(store.legFirst(l)) === 'INVITE'));
      this.#callsCache = { stamp, calls };
    }
    return this.#callsCache.calls;
  }

  #callInfo(c: CallInfo): TraceCallInfo {
    const store = this.#index.store;
    const legKey = (l: number): string => `l${l}`;
    return {
      key: c.key,
      legs: c.legs.map((l) => {
        const leg = store.leg(l);
        return {
          key: leg.key,
          callId: leg.callId,
          from: leg.from,
          to: leg.to,
          method: leg.method,
          finalStatus: leg.finalStatus,
          messages: leg.messages,
          startUs: leg.startUs,
          endUs: leg.endUs,
        };
      }),
      confidence: c.confidence,
      links: c.links.map((k: LegLink) => ({ a: legKey(k.a), b: legKey(k.b), source: k.source, confidence: k.confidence, evidence: k.evidence })),
      messages: c.messages,
      startUs: c.startUs,
      endUs: c.endUs,
    };
  }

  async traceCalls(from: number, to: number): Promise<{ total: number; calls: TraceCallInfo[] }> {
    const calls = this.#storeCalls();
    return { total: calls.length, calls: calls.slice(from, to).map((c) => this.#callInfo(c)) };
  }

  async traceCall(key: string): Promise<TraceCallInfo | null> {
    const store = this.#index.store;
    let root = -1;
    if (/^c\d+$/.test(key) || /^l\d+$/.test(key)) {
      const n = Number(key.slice(1));
      if (n < store.legCount) root = store.callOfLeg(n);
    } else if (/^#\d+$/.test(key)) {
      const i = Number(key.slice(1));
      if (i < store.size) root = store.callOf(i);
    } else {
      for (const callId of this.#calls.get(key)?.legs ?? []) {
        const leg = this.#index.legOfCallId(callId);
        if (leg >= 0) {
          root = store.callOfLeg(leg);
          break;
        }
      }
    }
    if (root < 0) return null;
    const legs = store.callLegs(root);
    const call: CallInfo = {
      key: `c${root}`,
      legs,
      links: store.links.filter((k) => legs.includes(k.a) || legs.includes(k.b)),
      confidence: 1,
      startUs: Number.POSITIVE_INFINITY,
      endUs: 0,
      messages: 0,
    };
    for (const l of legs) {
      const leg = store.leg(l);
      call.startUs = Math.min(call.startUs, leg.startUs);
      call.endUs = Math.max(call.endUs, leg.endUs);
      call.messages += leg.messages;
    }
    for (const k of call.links) call.confidence = Math.min(call.confidence, k.confidence);
    return this.#callInfo(call);
  }

  async calls(): Promise<CallSummary[]> {
    return [...this.#calls.values()];
  }

  async placeCall(request: PlaceCallRequest): Promise<CallSummary> {
    const lab = this.#requireLab();
    const call = await lab.placeCall(request);
    this.#noteCall(call);
    this.#batcher.push({ type: 'call', call });
    return call;
  }

  async callAction(callId: string, request: CallActionRequest): Promise<CallSummary | null> {
    const lab = this.#requireLab();
    const call = await lab.callAction(callId, request);
    if (call) {
      this.#noteCall(call);
      this.#batcher.push({ type: 'call', call });
    }
    return call;
  }

  #requireLab(): LabPort {
    if (this.#lab === null) throw new Error('no lab is running: start one with `trunklab serve` (this window only views files)');
    return this.#lab;
  }

  /**
   * Imports a capture (pcap, pcapng, gzip of either), a Lync/OCSLogger log
   * or a Trunklab JSON trace. Resolves once the file is read and every
   * message is navigable; grouping and filters catch up in the background
   * (`indexedCount` in ticks). One file at a time.
   */
  importPath(file: string, name = path.basename(file)): Promise<ImportResult> {
    const run = this.#importQueue.then(() => this.#import(file, name));
    this.#importQueue = run.catch(() => undefined);
    return run;
  }

  async #import(file: string, name: string): Promise<ImportResult> {
    if (this.#closed) throw new Error('the engine is closed');
    const format = await detectImportFormat(file);
    const kind: TraceSourceInfo['kind'] = format === 'cls' ? 'lync-log' : format === 'json' ? 'trace' : 'capture';
    const id = `import-${this.#sources.size + 1}`;
    const source: TraceSourceInfo = { id, kind, name, messages: 0 };
    if (format === null) {
      throw new Error(`${name}: not a file Trunklab reads (pcap, pcapng, Lync/OCSLogger log, Trunklab JSON trace, or gzip of one)`);
    }
    this.#sources.set(id, source);
    this.#batcher.push({ type: 'source', source: { ...source } });
    const totalBytes = (await stat(file)).size;
    const signal = this.#importAbort.signal;
    const generation = this.#generation;
    const index = this.#index;
    const batch = index.beginStaging(id);
    this.#sourceRanges.set(id, { from: batch.base, count: () => batch.count });
    const assembler = new StagingAssembler();
    const events: WireEvent[] = [];
    const stageRecords = (records: readonly CaptureRecord[]): void => {
      events.length = 0;
      for (const r of records) assembler.push(r, events);
      if (events.length > 0) index.staged(batch, events);
    };
    let lastProgress = 0;
    const progress = (p: { bytesRead: number; totalBytes: number | null }): void => {
      const now = performance.now();
      if (now - lastProgress < 100) return;
      lastProgress = now;
      this.#batcher.push({ type: 'import-progress', id, name, bytes: p.bytesRead, totalBytes: p.totalBytes ?? totalBytes, done: false });
    };
    let error: Error | undefined;
    try {
      if (format === 'pcap' || format === 'pcapng') {
        // On a second core when a worker can be started (Node); in this thread otherwise (the Electron bundle).
        const r =
          (await readCaptureInWorker(file, { onRecords: stageRecords, onProgress: progress, signal })) ??
          (await readCaptureFile(file, { keepRecords: false, onRecords: stageRecords, onProgress: progress, signal, chunkSize: 4 << 20 }));
        error = r.error ?? undefined;
      } else if (format === 'cls') {
        const r = await readLyncLogFile(file, { names: this.#importedNames, keepRecords: false, onRecords: stageRecords, onProgress: progress, signal });
        error = r.error;
      } else {
        const r = await readJsonTraceFile(file, (evs) => index.staged(batch, evs), progress, this.#importedNames);
        error = r.error;
        const links = r.links;
        if (links.length > 0) {
          batch.afterIndexing = (legBase) => {
            const store = index.store;
            for (const l of links) {
              const a = legBase + l.a;
              const b = legBase + l.b;
              if (a < store.legCount && b < store.legCount) store.linkLegs(a, b, { source: 'import', confidence: l.confidence, evidence: l.evidence });
            }
            this.#revision += 1;
          };
        }
      }
      stageRecords([]);
      events.length = 0;
      assembler.flush(events);
      if (events.length > 0) index.staged(batch, events);
    } catch (e) {
      index.abandon(batch);
      if (batch.count === 0) this.#sourceRanges.delete(id);
      this.#batcher.push({ type: 'import-progress', id, name, bytes: totalBytes, totalBytes, done: true });
      if (generation !== this.#generation) throw new Error(`${name}: import stopped (the trace was cleared)`);
      throw e;
    }
    index.endStaging(batch);
    source.messages = batch.count;
    if (error) source.error = error.message;
    this.#batcher.push({ type: 'import-progress', id, name, bytes: totalBytes, totalBytes, done: true });
    this.#batcher.push({ type: 'source', source: { ...source } });
    this.#changed();
    if (batch.count === 0 && error) throw new Error(`${name}: ${error.message}`);
    return { source: { ...source }, added: batch.count };
  }

  async uploadStart(request: UploadStart): Promise<string> {
    this.#tempDir ??= await mkdtemp(path.join(tmpdir(), 'trunklab-upload-'));
    const id = randomUUID();
    const file = path.join(this.#tempDir, id);
    this.#uploads.set(id, { name: request.name, size: request.size, received: 0, file, stream: createWriteStream(file) });
    return id;
  }

  async uploadChunk(uploadId: string, data: string): Promise<number> {
    const upload = this.#uploads.get(uploadId);
    if (!upload) throw new Error('unknown upload');
    const bytes = Buffer.from(data, 'base64');
    if (upload.received + bytes.byteLength > upload.size) throw new Error('upload larger than announced');
    upload.received += bytes.byteLength;
    await new Promise<void>((resolve, reject) => upload.stream.write(bytes, (error) => (error ? reject(error) : resolve())));
    return upload.received;
  }

  async uploadFinish(uploadId: string): Promise<ImportResult> {
    const upload = this.#uploads.get(uploadId);
    if (!upload) throw new Error('unknown upload');
    this.#uploads.delete(uploadId);
    await new Promise<void>((resolve) => upload.stream.end(resolve));
    try {
      if (upload.received !== upload.size) throw new Error(`upload incomplete: ${upload.received} of ${upload.size} bytes`);
      return await this.importPath(upload.file, upload.name);
    } finally {
      await rm(upload.file, { force: true });
    }
  }

  /** Resolves when every staged message is in the store (exports read the store). */
  async #indexed(): Promise<void> {
    while (this.#index.busy && !this.#closed) await new Promise((r) => setTimeout(r, 20));
  }

  #selected(request: ExportRequest): number[] | undefined {
    const store = this.#index.store;
    const s = request.selection;
    if (!s || (!s.indexes && !s.callKey && !s.filter)) return undefined;
    let chosen: number[] | undefined = s.indexes ? s.indexes.filter((i) => i < store.size) : undefined;
    const narrow = (keep: Set<number> | number[]): void => {
      const set = keep instanceof Set ? keep : new Set(keep);
      chosen = chosen ? chosen.filter((i) => set.has(i)) : [...set].sort((a, b) => a - b);
    };
    if (s.callKey) {
      const view = new TraceView(0, { callKey: s.callKey }, this.#viewContext());
      narrow(this.#drain(view));
    }
    if (s.filter) {
      const view = new TraceView(0, s.filter, this.#viewContext());
      narrow(this.#drain(view));
    }
    return chosen;
  }

  #drain(view: TraceView): number[] {
    while (view.advance(Number.POSITIVE_INFINITY)) {
      // until done
    }
    const out: number[] = [];
    for (let p = 0; p < view.count; p++) out.push(view.at(p));
    return out;
  }

  async exportTrace(request: ExportRequest): Promise<ExportResult> {
    await this.#indexed();
    const store = this.#index.store;
    const indexes = this.#selected(request);
    let bytes: Uint8Array;
    if (request.format === 'sipp') {
      // One call: the one the selection names, or the call of its first message.
      let call: string | undefined = request.selection?.callKey;
      const first = indexes?.[0];
      if (call === undefined && first !== undefined && store.callOf(first) >= 0) call = `c${store.callOf(first)}`;
      if (call !== undefined && !/^c\d+$/.test(call)) call = (await this.traceCall(call))?.key;
      bytes = writeExport(store, 'sipp', { side: request.side ?? 'callee', ...(call !== undefined ? { call } : {}) });
    } else {
      bytes = writeExport(store, request.format, { ...(indexes ? { indexes } : {}), ...(request.side ? { side: request.side } : {}) });
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    return {
      fileName: `trunklab-${stamp}.${EXTENSION[request.format]}`,
      mimeType: MIME[request.format],
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      messages: request.format === 'sipp' ? 0 : (indexes?.length ?? store.size),
    };
  }

  async clear(): Promise<void> {
    this.#importAbort.abort();
    this.#importAbort = new AbortController();
    this.#index.close();
    this.#generation += 1;
    this.#revision += 1;
    this.#index = this.#newIndex();
    this.#views = this.#newViews();
    this.#lint = new Map();
    this.#lintedSize = 0;
    this.#liveCounted = 0;
    this.#callsCache = null;
    this.#linked.clear();
    for (const c of this.#calls.values()) this.#noteCall(c);
    for (const [id, source] of this.#sources) {
      if (id === 'live') source.messages = 0;
      else this.#sources.delete(id);
    }
    this.#sourceRanges.clear();
    this.#qualification.cleared(this.#generation);
    this.#batcher.push({ type: 'trace-cleared', generation: this.#generation });
    this.#changed();
  }

  // -------------------------------------------------------------------------
  // Qualification and flow diff

  async qualifyCases(): Promise<QualifyCaseInfo[]> {
    return this.#qualification.cases();
  }

  async qualifyRun(request: QualifyRunRequest): Promise<QualifyRunInfo> {
    if (this.#closed) throw new Error('the engine is closed');
    return this.#qualification.start(request);
  }

  async qualifyStop(): Promise<void> {
    this.#qualification.stop();
  }

  async qualifyState(): Promise<QualifyState | null> {
    return this.#qualification.state();
  }

  async qualifyReport(format: QualifyReportFormat): Promise<ExportResult> {
    return this.#qualification.report(format);
  }

  /**
   * A case's messages as a source of the trace: one wire event per message
   * of the case's own trace, in its order, so its `#N` is trace index
   * base + N. Staged like a file: the indexes are contiguous even while the
   * live lab sends (its records wait until the case is indexed).
   */
  #addCase(result: CaseResult, run: number, position: number): { source: string; base: number; count: number } | null {
    if (this.#closed || result.records.length === 0) return null;
    this.#nameCaseAddresses(result);
    const id = `suite-${run}-${position + 1}`;
    const index = this.#index;
    const batch = index.beginStaging(id);
    const events: WireEvent[] = result.records.map((r, k) => ({
      timeUs: r.timeUs,
      transport: r.transport,
      src: r.local,
      dst: r.remote,
      connId: r.connId,
      bytes: r.bytes,
      tap: null,
      ref: k + 1,
    }));
    index.staged(batch, events);
    // The Mediation Server's legs of each call, joined as the live lab's are.
    const joins = result.calls.filter((c) => c.legs.length > 1);
    if (joins.length > 0) {
      batch.afterIndexing = () => {
        for (const call of joins) {
          const [first, ...rest] = call.legs;
          for (const other of rest) {
            index.store.linkLegs({ callId: first! }, { callId: other }, { source: 'b2bua', confidence: 1, evidence: [`Mediation Server B2BUA, suite case ${result.id}`] });
          }
        }
        this.#revision += 1;
      };
    }
    index.endStaging(batch);
    const source: TraceSourceInfo = { id, kind: 'suite', name: result.id, messages: batch.count };
    this.#sources.set(id, source);
    this.#sourceRanges.set(id, { from: batch.base, count: () => batch.count });
    this.#batcher.push({ type: 'source', source: { ...source } });
    this.#changed();
    return { source: id, base: batch.base, count: batch.count };
  }

  /** Names every address of a case after the element of its lab there: listening points, then the one element on that host. */
  #nameCaseAddresses(result: CaseResult): void {
    const exact = new Map<string, string>();
    const byHost = new Map<string, string | null>();
    for (const e of result.elements) {
      for (const listen of e.listen) {
        const hp = listen.replace(/^[a-z]+:/, '');
        exact.set(hp, e.id);
        const host = hp.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
        const seen = byHost.get(host);
        byHost.set(host, seen === undefined || seen === e.id ? e.id : null);
      }
    }
    for (const s of result.summaries) {
      if (!/^[\d.:[\]]+$/.test(s.from)) exact.set(s.src, s.from);
      if (!/^[\d.:[\]]+$/.test(s.to)) exact.set(s.dst, s.to);
    }
    for (const r of result.records) {
      for (const hp of [r.local, r.remote]) {
        const key = hostPortKey(hp);
        const name = exact.get(key) ?? byHost.get(hp.host) ?? null;
        if (name !== null) this.#caseNames.set(key, name);
      }
    }
  }

  /** The trace indexes of one side of a diff, and its name in words. */
  async #flow(ref: FlowRef): Promise<Flow> {
    const store = this.#index.store;
    if (ref.source !== undefined) {
      const source = this.#sources.get(ref.source);
      const test = this.#inSource(ref.source);
      if (source === undefined || test === null) throw new Error(`no source ${ref.source} in the trace`);
      const r = this.#sourceRanges.get(ref.source);
      const indexes: number[] = [];
      const from = r?.from ?? 0;
      const to = r === undefined ? store.size : Math.min(store.size, r.from + r.count());
      for (let i = from; i < to; i++) if (test(i)) indexes.push(i);
      const what = source.kind === 'suite' ? `suite case ${source.name}` : source.kind === 'live' ? 'the live lab' : source.name;
      return { label: what, indexes };
    }
    const call = await this.traceCall(ref.callKey ?? '');
    if (call === null) throw new Error(`no call ${ref.callKey} in the trace`);
    const root = Number(call.key.slice(1));
    const first = call.legs[0];
    const label = `call ${call.key}${first ? `: ${this.#nameOf(first.from)} → ${this.#nameOf(first.to)}` : ''}`;
    return { label, indexes: store.callMessages(root) };
  }

  async flowDiff(request: FlowDiffRequest): Promise<FlowDiffResult> {
    await this.#indexed();
    const a = await this.#flow(request.a);
    const b = await this.#flow(request.b);
    return diffTraceFlows(this.#index.store, a, b, request.all === true, this.#generation);
  }

  subscribe(listener: (events: BridgeEvent[]) => void): () => void {
    return this.#batcher.subscribe(listener);
  }

  /** Pushes an event of the host's own (a menu's request to the UI, a log line). */
  emit(event: BridgeEvent): void {
    this.#batcher.push(event);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#qualification.close();
    this.#importAbort.abort();
    this.#index.close();
    if (this.#tickTimer !== null) clearTimeout(this.#tickTimer);
    if (this.#lintTimer !== null) clearTimeout(this.#lintTimer);
    this.#batcher.close();
    for (const u of this.#uploads.values()) u.stream.destroy();
    this.#uploads.clear();
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
  }
}

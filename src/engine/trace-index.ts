/**
 * The engine's trace: the TraceStore (src/trace/store.ts) behind a staging
 * area that makes a large file navigable before it is fully indexed.
 *
 * Opening a file has two phases:
 * 1. staging: the file is read and framed into wire events (the store's own
 *    WireEventAssembler), which go into compact columns and one byte arena
 *    (no object per message). From here the trace has its final size and
 *    every message its final index; a row's summary is read from the bytes
 *    on demand (only the rows on screen are ever asked for).
 * 2. indexing: the staged events are appended to the TraceStore in time
 *    slices between bridge requests (parse, transactions, dialogs, legs,
 *    calls). Filters, call grouping and the linter work on what is indexed.
 * The store numbers imported events in the order they are appended and never
 * merges two of them, so staged index k is store index k.
 *
 * Live records go straight into the store (`tap`), unless a file is being
 * staged or indexed: then they wait and follow it, so indexes never move.
 */
import type { MessageSummary, TransportName } from '../common/api.ts';
import type { CaptureRecord, HostPort } from '../sip/capture.ts';
import { parseMessage } from '../sip/parser.ts';
import { extractFields } from '../trace/extract.ts';
import { type ElementResolver, formatAddress, type LinkOptions, type MessageRecord, TraceStore } from '../trace/store.ts';
import type { WireEvent } from '../trace/wire-event.ts';

const TRANSPORTS: readonly TransportName[] = ['udp', 'tcp', 'tls'];
const INITIAL = 4096;

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  let n = a.length * 2;
  while (n < need) n *= 2;
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a as never);
  return b;
}

/** Events of one file, read but not yet in the store. */
export class StagedBatch {
  /** Message index of the batch's first event. */
  readonly base: number;
  readonly source: string;
  count = 0;
  /** Events already appended to the store. */
  next = 0;
  /** Still being read. */
  reading = true;
  #time = new Float64Array(INITIAL);
  #recv = new Float64Array(INITIAL);
  #transport = new Uint8Array(INITIAL);
  #src = new Int32Array(INITIAL);
  #dst = new Int32Array(INITIAL);
  #conn = new Int32Array(INITIAL);
  #ref = new Float64Array(INITIAL);
  /**
   * The bytes stay where the reader put them (its slabs, the framer's pooled
   * buffers): one reference to a shared buffer and two numbers per message,
   * no copy and no object of their own.
   */
  #buffers: ArrayBufferLike[] = [];
  #offset = new Float64Array(INITIAL);
  #len = new Int32Array(INITIAL);
  readonly #extras = new Map<number, { invalid?: string; missingBefore?: number }>();
  readonly #endpoints: Endpoints;
  /** Run once the batch's last event is in the store (a JSON trace's call links). */
  afterIndexing: ((legBase: number) => void) | null = null;
  /** Legs of the store before the batch's first event went in. */
  legBase = -1;

  constructor(base: number, source: string, endpoints: Endpoints) {
    this.base = base;
    this.source = source;
    this.#endpoints = endpoints;
  }

  add(ev: WireEvent): void {
    const k = this.count;
    if (k === this.#time.length) {
      const n = k + 1;
      this.#time = grow(this.#time, n);
      this.#recv = grow(this.#recv, n);
      this.#transport = grow(this.#transport, n);
      this.#src = grow(this.#src, n);
      this.#dst = grow(this.#dst, n);
      this.#conn = grow(this.#conn, n);
      this.#ref = grow(this.#ref, n);
      this.#offset = grow(this.#offset, n);
      this.#len = grow(this.#len, n);
    }
    this.#time[k] = ev.timeUs;
    this.#recv[k] = ev.recvTimeUs ?? Number.NaN;
    this.#transport[k] = ev.transport === 'udp' ? 0 : ev.transport === 'tcp' ? 1 : 2;
    this.#src[k] = this.#endpoints.id(ev.src, ev.transport);
    this.#dst[k] = this.#endpoints.id(ev.dst, ev.transport);
    this.#conn[k] = ev.connId ?? -1;
    this.#ref[k] = ev.ref;
    this.#buffers.push(ev.bytes.buffer);
    this.#offset[k] = ev.bytes.byteOffset;
    this.#len[k] = ev.bytes.length;
    if (ev.invalid !== undefined || ev.missingBefore) {
      this.#extras.set(k, { ...(ev.invalid !== undefined ? { invalid: ev.invalid } : {}), ...(ev.missingBefore ? { missingBefore: ev.missingBefore } : {}) });
    }
    this.count = k + 1;
  }

  bytes(k: number): Uint8Array {
    return new Uint8Array(this.#buffers[k]!, this.#offset[k]!, this.#len[k]!);
  }

  /** The wire event of staged message k, as the store wants it. */
  event(k: number): WireEvent {
    const transport = TRANSPORTS[this.#transport[k]!]!;
    const conn = this.#conn[k]!;
    const ev: WireEvent = {
      timeUs: this.#time[k]!,
      transport,
      src: this.#endpoints.address(this.#src[k]!),
      dst: this.#endpoints.address(this.#dst[k]!),
      connId: conn < 0 ? null : conn,
      bytes: this.bytes(k),
      tap: null,
      ref: this.#ref[k]!,
    };
    const recv = this.#recv[k]!;
    if (!Number.isNaN(recv)) ev.recvTimeUs = recv;
    const extra = this.#extras.size > 0 ? this.#extras.get(k) : undefined;
    if (extra?.invalid !== undefined) ev.invalid = extra.invalid;
    if (extra?.missingBefore) ev.missingBefore = extra.missingBefore;
    return ev;
  }

  /** What the ladder needs of staged message k, read from its bytes (no call grouping yet). */
  summary(k: number): MessageSummary {
    const transport = TRANSPORTS[this.#transport[k]!]!;
    const src = this.#src[k]!;
    const dst = this.#dst[k]!;
    const bytes = this.bytes(k);
    const base = {
      index: this.base + k,
      timeUs: this.#time[k]!,
      transport,
      from: this.#endpoints.name(src),
      to: this.#endpoints.name(dst),
      src: formatAddress(this.#endpoints.address(src)),
      dst: formatAddress(this.#endpoints.address(dst)),
      size: bytes.length,
      retransmission: false,
    };
    const invalid = this.#extras.get(k)?.invalid;
    const parsed = invalid === undefined ? parseMessage(bytes, { datagram: transport === 'udp' }) : null;
    if (parsed === null || !parsed.ok) {
      const reason = invalid ?? (parsed && !parsed.ok ? `${parsed.error.message} (at byte ${parsed.error.offset})` : 'invalid message');
      return { ...base, kind: 'invalid', method: '', reason, callId: '', cseq: '', sdp: false, errors: 1, warnings: 0 };
    }
    const msg = parsed.message;
    const f = extractFields(msg);
    const request = msg.kind === 'request';
    return {
      ...base,
      kind: msg.kind,
      method: request ? msg.method : f.cseqMethod,
      ...(request ? {} : { status: msg.status, reason: msg.reason }),
      callId: f.callId,
      cseq: `${f.cseq} ${f.cseqMethod}`,
      sdp: f.sdp,
      errors: f.errors,
      warnings: f.warnings,
    };
  }

  /** Frees the bytes once the store holds them all. */
  release(): void {
    this.#buffers = [];
    this.#extras.clear();
  }
}

/** Addresses of staged events, interned, with the element names the resolver gives them. */
class Endpoints {
  /** transport → host → port → id (readers share one host string per connection, so lookups stay cheap). */
  readonly #ids: [Map<string, Map<number, number>>, Map<string, Map<number, number>>, Map<string, Map<number, number>>] = [new Map(), new Map(), new Map()];
  readonly #addresses: HostPort[] = [];
  readonly #names: string[] = [];
  readonly #resolve: ElementResolver;
  /** Names of addresses first seen since the last takeFresh(). */
  #fresh: string[] = [];

  constructor(resolve: ElementResolver) {
    this.#resolve = resolve;
  }

  id(hp: HostPort, transport: TransportName): number {
    const byHost = this.#ids[transport === 'udp' ? 0 : transport === 'tcp' ? 1 : 2];
    let byPort = byHost.get(hp.host);
    if (byPort === undefined) {
      byPort = new Map();
      byHost.set(hp.host, byPort);
    }
    let id = byPort.get(hp.port);
    if (id === undefined) {
      id = this.#addresses.length;
      byPort.set(hp.port, id);
      this.#addresses.push({ host: hp.host, port: hp.port });
      const name = this.#resolve(hp, transport) ?? formatAddress(hp);
      this.#names.push(name);
      this.#fresh.push(name);
    }
    return id;
  }

  takeFresh(): string[] {
    const fresh = this.#fresh;
    if (fresh.length > 0) this.#fresh = [];
    return fresh;
  }

  address(id: number): HostPort {
    return this.#addresses[id]!;
  }

  name(id: number): string {
    return this.#names[id]!;
  }
}

export interface TraceIndexOptions {
  resolve: ElementResolver;
  /** Called (synchronously) when messages were added, staged or indexed. */
  onChange(): void;
}

/** Longest slice of indexing work between two turns of the event loop: a request from the page waits at most about this long. */
const SLICE_MS = 5;

export class TraceIndex {
  readonly store: TraceStore;
  readonly #batches: StagedBatch[] = [];
  readonly #heldLive: CaptureRecord[] = [];
  readonly #endpoints: Endpoints;
  readonly #onChange: () => void;
  /** Call-ID → leg of its first message (lab calls name their legs by Call-ID). */
  readonly #legOfCallId = new Map<string, number>();
  #mappedUpTo = 0;
  #working = false;
  #closed = false;
  /** Element ids used by any message, in order of first appearance (the unfiltered ladder's columns). */
  readonly used: string[] = [];
  readonly #usedSet = new Set<string>();
  #usedStoreUpTo = 0;
  readonly #usedEndpointsStore = new Set<number>();

  constructor(options: TraceIndexOptions) {
    this.store = new TraceStore({ resolveElement: options.resolve });
    this.#endpoints = new Endpoints(options.resolve);
    this.#onChange = options.onChange;
  }

  /** Messages of the trace: indexed and staged. */
  get size(): number {
    let n = this.store.size;
    for (const b of this.#batches) n += b.count - b.next;
    return n;
  }

  /** Messages in the store (grouped, filterable). */
  get indexed(): number {
    return this.store.size;
  }

  get busy(): boolean {
    return this.#batches.length > 0;
  }

  /** A file is being read (staged). */
  get reading(): boolean {
    return this.#batches.some((b) => b.reading);
  }

  /** A live capture record (the lab's tap). */
  tap(record: CaptureRecord): void {
    if (this.#closed) return;
    if (this.#batches.length > 0) {
      this.#heldLive.push(record);
      return;
    }
    this.store.tap(record);
    this.#afterAppend();
  }

  /** A live connection closed: its incomplete message, if any, becomes an invalid message. */
  connectionClosed(connId: number): void {
    if (this.#batches.length > 0) return;
    this.store.connectionClosed(connId);
    this.#afterAppend();
  }

  linkLegs(a: string, b: string, options: LinkOptions): void {
    this.store.linkLegs({ callId: a }, { callId: b }, options);
  }

  /** Starts staging a file; events go in with `batch.add`, then `endStaging`. One file at a time. */
  beginStaging(source: string): StagedBatch {
    const batch = new StagedBatch(this.size, source, this.#endpoints);
    this.#batches.push(batch);
    return batch;
  }

  /** Adds staged events and tells the engine (throttled by the caller). */
  staged(batch: StagedBatch, events: readonly WireEvent[]): void {
    for (const ev of events) batch.add(ev);
    // An address first seen now is one more column of the ladder.
    for (const name of this.#endpoints.takeFresh()) this.#noteUsed(name);
    this.#onChange();
  }

  endStaging(batch: StagedBatch): void {
    batch.reading = false;
    this.#schedule();
  }

  /** Drops a batch whose reading failed before anything was staged. */
  abandon(batch: StagedBatch): void {
    if (batch.count > 0) {
      this.endStaging(batch);
      return;
    }
    const i = this.#batches.indexOf(batch);
    if (i >= 0) this.#batches.splice(i, 1);
    this.#releaseHeld();
  }

  #batchOf(i: number): StagedBatch | null {
    for (const b of this.#batches) if (i >= b.base + b.next && i < b.base + b.count) return b;
    return null;
  }

  summary(i: number): MessageSummary {
    if (i < this.store.size) return this.store.summary(i);
    const b = this.#batchOf(i);
    if (b === null) throw new RangeError(`no message ${i}: the trace holds ${this.size}`);
    return b.summary(i - b.base);
  }

  bytes(i: number): Uint8Array {
    if (i < this.store.size) return this.store.bytes(i);
    const b = this.#batchOf(i);
    if (b === null) throw new RangeError(`no message ${i}: the trace holds ${this.size}`);
    return b.bytes(i - b.base);
  }

  record(i: number): MessageRecord {
    if (i < this.store.size) return this.store.record(i);
    const b = this.#batchOf(i);
    if (b === null) throw new RangeError(`no message ${i}: the trace holds ${this.size}`);
    const ev = b.event(i - b.base);
    return { index: i, timeUs: ev.timeUs, recvTimeUs: ev.recvTimeUs ?? Number.NaN, transport: ev.transport, src: ev.src, dst: ev.dst, connId: ev.connId, bytes: ev.bytes };
  }

  /** The leg whose first message carried this Call-ID, or -1. */
  legOfCallId(callId: string): number {
    this.#mapLegs();
    return this.#legOfCallId.get(callId) ?? -1;
  }

  #mapLegs(): void {
    const store = this.store;
    for (let i = this.#mappedUpTo; i < store.size; i++) {
      const leg = store.legOf(i);
      if (leg >= 0 && store.legFirst(leg) === i) {
        const callId = store.callId(i);
        if (!this.#legOfCallId.has(callId)) this.#legOfCallId.set(callId, leg);
      }
    }
    this.#mappedUpTo = store.size;
  }

  #noteUsed(name: string): void {
    if (this.#usedSet.has(name)) return;
    this.#usedSet.add(name);
    this.used.push(name);
  }

  #afterAppend(): void {
    const store = this.store;
    for (let i = this.#usedStoreUpTo; i < store.size; i++) {
      const s = store.srcEndpoint(i);
      const d = store.dstEndpoint(i);
      if (!this.#usedEndpointsStore.has(s)) {
        this.#usedEndpointsStore.add(s);
        this.#noteUsed(store.endpointName(s));
      }
      if (!this.#usedEndpointsStore.has(d)) {
        this.#usedEndpointsStore.add(d);
        this.#noteUsed(store.endpointName(d));
      }
    }
    this.#usedStoreUpTo = store.size;
    this.#onChange();
  }

  // -------------------------------------------------------------------------
  // Indexing in the background

  /** Extra work the engine wants done in the same slices (views catching up); returns true while it has more. */
  background: ((deadline: number) => boolean) | null = null;

  /** Runs indexing (and the engine's background work) in slices until nothing is left. */
  #schedule(): void {
    if (this.#working || this.#closed) return;
    this.#working = true;
    setImmediate(() => this.#slice());
  }

  /** Asks for a turn of background work (a new view to fill). */
  wake(): void {
    this.#schedule();
  }

  #slice(): void {
    this.#working = false;
    if (this.#closed) return;
    const deadline = performance.now() + SLICE_MS;
    let more = this.#index(deadline);
    if (this.background && performance.now() < deadline) more = this.background(deadline) || more;
    else if (this.background) more = true;
    if (more) this.#schedule();
  }

  /** Appends staged events to the store until the deadline; true while some are left. */
  #index(deadline: number): boolean {
    const store = this.store;
    let progressed = false;
    while (this.#batches.length > 0) {
      const b = this.#batches[0]!;
      if (b.reading) {
        // Opening first: indexing waits for the file to be read (the trace is navigable from the staged copy).
        break;
      }
      if (b.legBase < 0) b.legBase = store.legCount;
      while (b.next < b.count) {
        const end = Math.min(b.count, b.next + 128);
        for (let k = b.next; k < end; k++) store.appendEvent(b.event(k));
        b.next = end;
        progressed = true;
        if (performance.now() >= deadline) break;
      }
      if (b.next < b.count) break;
      this.#batches.shift();
      b.afterIndexing?.(b.legBase);
      b.release();
      if (this.#batches.length === 0) this.#releaseHeld();
    }
    if (progressed) this.#afterAppend();
    return this.#batches.length > 0 && !this.#batches[0]!.reading;
  }

  #releaseHeld(): void {
    if (this.#batches.length > 0 || this.#heldLive.length === 0) return;
    const held = this.#heldLive.splice(0);
    for (const r of held) this.store.tap(r);
    this.#afterAppend();
  }

  close(): void {
    this.#closed = true;
    this.#batches.length = 0;
    this.#heldLive.length = 0;
  }
}

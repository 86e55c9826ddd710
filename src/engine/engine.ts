/**
 * The Engine: the one EngineApi over the lab and the trace. The CLI, the
 * headless host and the Electron main process each hold one; the renderer
 * reaches it through a bridge (WebSocket or IPC) as plain data.
 *
 * Road of a message: socket → `tap` (or an imported file) → WireTrace →
 * summary event (batched, ≤ 1 delivery per 50 ms) → bridge → renderer.
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
  ElementStatus,
  EngineApi,
  EngineEvent,
  EngineSnapshot,
  ExportFormat,
  ExportRequest,
  ExportResult,
  ImportResult,
  MessageDetail,
  MessageSummary,
  PlaceCallRequest,
  TopologyInfo,
  TraceSourceInfo,
  TransportName,
  TrunkStatus,
  UploadStart,
} from '../common/api.ts';
import { readCaptureFile } from '../formats/capture-reader.ts';
import { writePcap } from '../formats/pcap.ts';
import { writePcapng } from '../formats/pcapng.ts';
import type { CaptureRecord } from '../sip/capture.ts';
import { EventBatcher, type EventBatcherOptions } from './event-batcher.ts';
import type { LabPort } from './lab-port.ts';
import { messageDetail } from './message-detail.ts';
import { type StoredMessage, WireTrace } from './wire-trace.ts';

export interface EngineOptions {
  version?: string;
  topology?: TopologyInfo | null;
  batching?: EventBatcherOptions;
}

interface Upload {
  name: string;
  size: number;
  received: number;
  file: string;
  stream: WriteStream;
}

const MIME: Record<ExportFormat, string> = {
  pcap: 'application/vnd.tcpdump.pcap',
  pcapng: 'application/x-pcapng',
  cls: 'text/plain',
  json: 'application/json',
  sipp: 'application/xml',
};
const EXTENSION: Record<ExportFormat, string> = { pcap: 'pcap', pcapng: 'pcapng', cls: 'log', json: 'json', sipp: 'xml' };

export class Engine implements EngineApi {
  readonly version: string;
  readonly #batcher: EventBatcher;
  readonly #trace: WireTrace;
  #lab: LabPort | null = null;
  #topology: TopologyInfo | null;
  #pendingRecords: CaptureRecord[] | null = [];
  #generation = 1;
  readonly #sources = new Map<string, TraceSourceInfo>();
  readonly #calls = new Map<string, CallSummary>();
  readonly #trunks = new Map<string, TrunkStatus>();
  readonly #elements = new Map<string, ElementStatus>();
  readonly #hostIndex = new Map<string, string | null>();
  readonly #uploads = new Map<string, Upload>();
  #tempDir: string | null = null;
  #closed = false;

  constructor(options: EngineOptions = {}) {
    this.version = options.version ?? '0.0.0';
    this.#topology = options.topology ?? null;
    this.#batcher = new EventBatcher(options.batching);
    this.#trace = new WireTrace(
      (host, port, transport) => this.#elementOf(host, port, transport),
      (m) => this.#onMessage(m),
    );
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
    this.#trace.add(record, 'live', true);
  };

  /** Lab events (calls, health, elements, log lines) to forward. */
  readonly onLabEvent = (event: EngineEvent): void => {
    if (this.#closed) return;
    switch (event.type) {
      case 'call':
        this.#calls.set(event.call.id, event.call);
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

  /** Starts naming trace columns after the lab's elements and releases records tapped before. */
  attachLab(lab: LabPort, topology?: TopologyInfo): void {
    this.#lab = lab;
    if (topology) this.#topology = topology;
    for (const e of lab.elements()) this.#elements.set(e.id, e);
    for (const t of lab.trunks()) this.#trunks.set(t.name, t);
    for (const c of lab.calls()) this.#calls.set(c.id, c);
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
    for (const r of pending ?? []) this.#trace.add(r, 'live', true);
  }

  #elementOf(host: string, port: number, transport: TransportName): string | undefined {
    const exact = this.#lab?.elementOf(host, port, transport);
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

  #onMessage(m: StoredMessage): void {
    const source = this.#sources.get(m.source);
    if (source) source.messages += 1;
    this.#batcher.push({ type: 'message', message: m.summary });
  }

  #nameOf(id: string): string {
    return this.#elements.get(id)?.name ?? id;
  }

  // -------------------------------------------------------------------------
  // EngineApi

  async status(): Promise<EngineSnapshot> {
    return {
      version: this.version,
      topology: this.#topology,
      elements: [...this.#elements.values()],
      trunks: [...this.#trunks.values()],
      calls: [...this.#calls.values()],
      messageCount: this.#trace.size,
      generation: this.#generation,
      sources: [...this.#sources.values()],
      exportFormats: ['pcap', 'pcapng'],
    };
  }

  async messages(from: number, to: number): Promise<MessageSummary[]> {
    return this.#trace.messages.slice(from, Math.min(to, this.#trace.size)).map((m) => m.summary);
  }

  async messageDetail(index: number): Promise<MessageDetail> {
    const m = this.#trace.messages[index];
    if (m === undefined) throw new RangeError(`no message ${index}: the trace holds ${this.#trace.size}`);
    return messageDetail(m.summary, m.bytes, { fromName: this.#nameOf(m.summary.from), toName: this.#nameOf(m.summary.to) });
  }

  async calls(): Promise<CallSummary[]> {
    return [...this.#calls.values()];
  }

  async placeCall(request: PlaceCallRequest): Promise<CallSummary> {
    const lab = this.#requireLab();
    const call = await lab.placeCall(request);
    this.#calls.set(call.id, call);
    this.#batcher.push({ type: 'call', call });
    return call;
  }

  async callAction(callId: string, request: CallActionRequest): Promise<CallSummary | null> {
    const lab = this.#requireLab();
    const call = await lab.callAction(callId, request);
    if (call) {
      this.#calls.set(call.id, call);
      this.#batcher.push({ type: 'call', call });
    }
    return call;
  }

  #requireLab(): LabPort {
    if (this.#lab === null) throw new Error('no lab is running: start one with `trunklab serve` (this window only views files)');
    return this.#lab;
  }

  /** Imports a capture file (pcap, pcapng, gzip) from disk into the trace. */
  async importPath(file: string, name = path.basename(file)): Promise<ImportResult> {
    const id = `import-${this.#sources.size + 1}`;
    const source: TraceSourceInfo = { id, kind: 'capture', name, messages: 0 };
    this.#sources.set(id, source);
    this.#batcher.push({ type: 'source', source: { ...source } });
    const before = this.#trace.size;
    const totalBytes = (await stat(file)).size;
    const result = await readCaptureFile(file, {
      keepRecords: false,
      onRecords: (records) => {
        for (const r of records) this.#trace.add(r, id, false);
      },
      onProgress: (p) => {
        this.#batcher.push({ type: 'import-progress', id, name, bytes: p.bytesRead, totalBytes: p.totalBytes ?? totalBytes, done: false });
      },
    });
    if (result.format === null && result.error) source.error = result.error.message;
    else if (result.error) source.error = result.error.message;
    this.#batcher.push({ type: 'import-progress', id, name, bytes: totalBytes, totalBytes, done: true });
    this.#batcher.push({ type: 'source', source: { ...source } });
    if (result.format === null && this.#trace.size === before) {
      throw new Error(`${name}: not a capture file Trunklab reads (pcap, pcapng, gzip of either)${source.error ? `: ${source.error}` : ''}`);
    }
    return { source: { ...source }, added: this.#trace.size - before };
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

  #selected(request: ExportRequest): StoredMessage[] {
    const all = this.#trace.messages;
    const s = request.selection;
    let chosen = s?.indexes ? s.indexes.map((i) => all[i]).filter((m): m is StoredMessage => m !== undefined) : all;
    if (s?.callKey) {
      const call = this.#calls.get(s.callKey);
      const legs = new Set(call?.legs ?? []);
      chosen = chosen.filter((m) => m.summary.callKey === s.callKey || legs.has(m.summary.legKey ?? '') || legs.has(m.summary.callId));
    }
    return chosen;
  }

  async exportTrace(request: ExportRequest): Promise<ExportResult> {
    const chosen = this.#selected(request);
    const records: CaptureRecord[] = chosen.map((m, i) => ({
      seq: i + 1,
      timeUs: m.summary.timeUs,
      direction: 'out',
      transport: m.summary.transport,
      local: m.src,
      remote: m.dst,
      connId: m.connId,
      bytes: m.bytes,
    }));
    let bytes: Uint8Array;
    switch (request.format) {
      case 'pcap':
        bytes = writePcap(records);
        break;
      case 'pcapng':
        bytes = writePcapng(records, {
          interfaceOf: (r) => ({ interfaceName: this.#elementOf(r.local.host, r.local.port, r.transport) ?? r.local.host }),
        });
        break;
      default:
        throw new Error(`export to ${request.format} is not available in this build`);
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    return {
      fileName: `trunklab-${stamp}.${EXTENSION[request.format]}`,
      mimeType: MIME[request.format],
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      messages: chosen.length,
    };
  }

  async clear(): Promise<void> {
    this.#trace.clear();
    this.#generation += 1;
    for (const [id, source] of this.#sources) {
      if (id === 'live') source.messages = 0;
      else this.#sources.delete(id);
    }
    this.#batcher.push({ type: 'trace-cleared', generation: this.#generation });
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
    this.#batcher.close();
    for (const u of this.#uploads.values()) u.stream.destroy();
    this.#uploads.clear();
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
  }
}

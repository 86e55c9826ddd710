/**
 * The trace as JSON lines (one object per line), for scripts and for a
 * lossless round trip of a trace:
 *
 * ```
 * {"type":"trunklab-trace","version":1,"messages":6,"legs":1,"calls":1}
 * {"type":"message","index":0,"timeUs":…,"transport":"udp","from":"med-1","to":"gw-a","src":"127.0.0.20:5068",…,"text":"INVITE sip:…"}
 * {"type":"link","a":0,"b":1,"source":"b2bua","confidence":1,"evidence":[]}
 * ```
 *
 * A message line is the UI's MessageSummary plus `recvTimeUs` (both ends
 * emulated), `connId`, `ref` (capture seq, frame or log record), and the
 * exact bytes: `text` when they are printable ASCII (with CR, LF, TAB),
 * else `base64`.
 */
import { Buffer } from 'node:buffer';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { MessageSummary } from '../common/api.ts';
import type { HostPort, TransportProtocol } from '../sip/capture.ts';
import type { TraceStore } from '../trace/store.ts';
import type { WireEvent } from '../trace/wire-event.ts';
import { openCaptureFile } from './capture-reader.ts';
import { parseAddress } from './lync-log-reader.ts';

export interface JsonMessageLine extends MessageSummary {
  type: 'message';
  connId: number | null;
  ref: number;
  text?: string;
  base64?: string;
}

export interface JsonLinkLine {
  type: 'link';
  a: number;
  b: number;
  source: string;
  confidence: number;
  evidence: string[];
}

function printable(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c > 126 || (c < 32 && c !== 9 && c !== 10 && c !== 13)) return false;
  }
  return true;
}

export function* jsonLines(store: TraceStore, indexes?: Iterable<number>): Generator<string> {
  const calls = store.calls();
  yield JSON.stringify({ type: 'trunklab-trace', version: 1, messages: store.size, legs: store.legCount, calls: calls.length });
  const list = indexes ?? Array.from({ length: store.size }, (_, i) => i);
  for (const i of list) {
    const bytes = store.bytes(i);
    const line: JsonMessageLine = { type: 'message', ...store.summary(i), connId: store.connId(i), ref: store.ref(i) };
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (printable(bytes)) line.text = buf.toString('latin1');
    else line.base64 = buf.toString('base64');
    yield JSON.stringify(line);
  }
  if (indexes === undefined) {
    for (const l of store.links) {
      const link: JsonLinkLine = { type: 'link', a: l.a, b: l.b, source: l.source, confidence: l.confidence, evidence: l.evidence };
      yield JSON.stringify(link);
    }
  }
}

export function writeJsonTrace(store: TraceStore, indexes?: Iterable<number>): Uint8Array {
  const parts: string[] = [];
  for (const l of jsonLines(store, indexes)) parts.push(l);
  return Buffer.from(`${parts.join('\n')}\n`, 'utf8');
}

export async function writeJsonTraceFile(path: string, store: TraceStore, indexes?: Iterable<number>): Promise<void> {
  const ws = createWriteStream(path);
  try {
    for (const l of jsonLines(store, indexes)) if (!ws.write(`${l}\n`)) await once(ws, 'drain');
  } finally {
    ws.end();
    await finished(ws);
  }
}

export class JsonTraceError extends Error {
  override readonly name = 'JsonTraceError';
  readonly line: number;
  constructor(line: number, detail: string) {
    super(`corrupt trace at line ${line}: ${detail}`);
    this.line = line;
  }
}

export interface JsonTraceRead {
  events: WireEvent[];
  links: JsonLinkLine[];
  /** Element names of addresses (`127.0.0.20:5068` → `med-1`). */
  names: Map<string, string>;
}

/** Incremental reader of the JSON lines trace. */
export class JsonTraceReader {
  #carry = '';
  #line = 0;
  #sawHeader = false;
  error: JsonTraceError | null = null;
  readonly names: Map<string, string>;
  readonly links: JsonLinkLine[] = [];

  constructor(names: Map<string, string> = new Map()) {
    this.names = names;
  }

  push(chunk: Uint8Array): WireEvent[] {
    if (this.error) return [];
    const text = this.#carry + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
    const out: WireEvent[] = [];
    let pos = 0;
    for (;;) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break;
      this.#one(text.slice(pos, nl), out);
      pos = nl + 1;
      if (this.error) break;
    }
    this.#carry = this.error ? '' : text.slice(pos);
    return out;
  }

  end(): WireEvent[] {
    const out: WireEvent[] = [];
    if (!this.error && this.#carry.trim() !== '') {
      // A last line without its newline is complete only if it parses.
      this.#one(this.#carry, out);
    }
    this.#carry = '';
    return out;
  }

  #one(line: string, out: WireEvent[]): void {
    this.#line++;
    if (line.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      this.error = new JsonTraceError(this.#line, `not JSON (${(err as Error).message})`);
      return;
    }
    if (o.type === 'trunklab-trace') {
      this.#sawHeader = true;
      return;
    }
    if (!this.#sawHeader) {
      this.error = new JsonTraceError(this.#line, 'the first line must be {"type":"trunklab-trace",...}');
      return;
    }
    if (o.type === 'link') {
      this.links.push(o as unknown as JsonLinkLine);
      return;
    }
    if (o.type !== 'message') return;
    const m = o as unknown as JsonMessageLine;
    const src = parseAddress(m.src);
    const dst = parseAddress(m.dst);
    if (!src || !dst || typeof m.timeUs !== 'number' || (m.text === undefined && m.base64 === undefined)) {
      this.error = new JsonTraceError(this.#line, 'a message needs timeUs, src, dst and text or base64');
      return;
    }
    if (m.transport !== 'udp' && m.transport !== 'tcp' && m.transport !== 'tls') {
      this.error = new JsonTraceError(this.#line, `transport ${JSON.stringify(m.transport)} is not udp, tcp or tls`);
      return;
    }
    if (m.from !== m.src) this.names.set(m.src, m.from);
    if (m.to !== m.dst) this.names.set(m.dst, m.to);
    const bytes = m.text !== undefined ? Buffer.from(m.text, 'latin1') : Buffer.from(m.base64 ?? '', 'base64');
    const ev: WireEvent = {
      timeUs: m.timeUs,
      transport: m.transport as TransportProtocol,
      src: src as HostPort,
      dst: dst as HostPort,
      connId: m.connId ?? null,
      bytes,
      tap: null,
      ref: typeof m.ref === 'number' ? m.ref : this.#line,
    };
    if (typeof m.recvTimeUs === 'number') ev.recvTimeUs = m.recvTimeUs;
    out.push(ev);
  }
}

export function readJsonTrace(bytes: Uint8Array): JsonTraceRead & { error?: JsonTraceError } {
  const r = new JsonTraceReader();
  const events = r.push(bytes);
  events.push(...r.end());
  const res: JsonTraceRead & { error?: JsonTraceError } = { events, links: r.links, names: r.names };
  if (r.error) res.error = r.error;
  return res;
}

/** Streams a JSON trace file into events. */
export async function readJsonTraceFile(
  path: string,
  onEvents: (events: WireEvent[]) => void,
  onProgress?: (p: { bytesRead: number; totalBytes: number | null; records: number }) => void,
  names?: Map<string, string>,
): Promise<{ links: JsonLinkLine[]; names: Map<string, string>; error?: JsonTraceError }> {
  const src = await openCaptureFile(path);
  const r = new JsonTraceReader(names);
  let n = 0;
  try {
    for await (const chunk of src.chunks) {
      const evs = r.push(chunk as Uint8Array);
      n += evs.length;
      if (evs.length > 0) onEvents(evs);
      onProgress?.({ bytesRead: src.sourceBytesRead ? src.sourceBytesRead() : 0, totalBytes: src.totalBytes ?? null, records: n });
      if (r.error) break;
    }
    const rest = r.end();
    if (rest.length > 0) onEvents(rest);
  } finally {
    src.close();
  }
  const res: { links: JsonLinkLine[]; names: Map<string, string>; error?: JsonTraceError } = { links: r.links, names: r.names };
  if (r.error) res.error = r.error;
  return res;
}

/** Does the start of a file look like a Trunklab JSON trace? */
export function looksLikeJsonTrace(head: Uint8Array): boolean {
  const t = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 200)).toString('utf8').trimStart();
  return t.startsWith('{') && t.includes('"trunklab-trace"');
}

/**
 * Reads Lync Server 2013 logging-service (CLS) and OCS/Lync 2010 OCSLogger
 * text logs: the SIP protocol records between `$$begin_record` and
 * `$$end_record` (see lync-log.ts for the layout). Tolerant of what real
 * logs contain:
 *
 * - CRLF or LF line ends; other trace lines (TL_INFO(TF_DIAG)...) between
 *   records; `$$begin_record` at the end of the TL_ line or on a line of its
 *   own; a correlation id between the two;
 * - Lync 2013 preambles (Trace-Correlation-Id, Instance-Id, Direction with
 *   source/destination, Peer, Message-Type) and OCSLogger ones (LogType,
 *   Severity, Text, Local-IP, Peer-IP, Connection-ID, Transport, Direction);
 * - records without a Start-Line (diagnostic records) are skipped;
 * - `Message-Body: -` (or an en dash) for no body; bodies over several lines,
 *   rejoined with the line ends their Content-Length asks for.
 *
 * Streaming: feed chunks, get records; a record cut by the end of the file
 * or by the start of another one stops the reader with a {@link LyncLogError}
 * naming the line, and every record before it is kept.
 */
import { Buffer } from 'node:buffer';
import type { CaptureRecord, HostPort, TransportProtocol } from '../sip/capture.ts';
import { openCaptureFile } from './capture-reader.ts';

export interface LogRecord extends CaptureRecord {
  /** 1-based number of the record in the file (every `$$begin_record` counts). */
  frame: number;
  /** Line where the record begins. */
  line: number;
}

export class LyncLogError extends Error {
  override readonly name = 'LyncLogError';
  readonly code: 'truncated' | 'corrupt';
  /** 1-based line where the problem shows. */
  readonly line: number;
  /** Record number (1-based) of the record that is incomplete. */
  readonly record: number;

  constructor(code: 'truncated' | 'corrupt', line: number, record: number, detail: string) {
    super(`${code === 'truncated' ? 'truncated log' : 'corrupt log'} at line ${line}, record ${record}: ${detail}`);
    this.code = code;
    this.line = line;
    this.record = record;
  }
}

export interface LogReadStats {
  lines: number;
  records: number;
  sipRecords: number;
  skippedRecords: number;
  bytesRead: number;
}

export interface LogReaderOptions {
  /** The host name for the log's own end when the record does not say (default `local`). */
  self?: string;
  /** Where to put the element names the records give for addresses (default: a new map, `reader.names`). */
  names?: Map<string, string>;
}

type State = 'outside' | 'preamble' | 'headers' | 'body';

interface Pending {
  line: number;
  number: number;
  timeUs: number;
  fields: Map<string, string>;
  start: string;
  headers: string[];
  body: string[];
}

const TIME_RE = /(\d{1,2})\/(\d{1,2})\/(\d{4})-(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?/;
const FIELD_RE = /^([A-Za-z][A-Za-z0-9-]*):[ \t]?(.*)$/;
const TL_LINE = /^TL_[A-Z]+\(TF_/;
const EMPTY_BODY = new Set(['-', '\u2013', '\u00e2\u0080\u0093', '\u0096', '']);

function parseTime(line: string): number | null {
  const m = TIME_RE.exec(line);
  if (!m) return null;
  const ms = Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]), Number((m[7] ?? '0').padEnd(3, '0')));
  return ms * 1000;
}

/** `host:port`, `[v6]:port`, `host` → HostPort (port 0 when absent); null when empty. */
export function parseAddress(text: string): HostPort | null {
  const t = text.trim();
  if (t === '') return null;
  let m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (m) return { host: m[1], port: m[2] ? Number(m[2]) : 0 };
  m = /^([^\s:]+):(\d+)$/.exec(t);
  if (m) return { host: m[1], port: Number(m[2]) };
  if (/^[0-9a-fA-F:]+$/.test(t) && t.includes(':')) return { host: t, port: 0 };
  return /^\S+$/.test(t) ? { host: t, port: 0 } : null;
}

/** A Direction parameter like `source="med-1 127.0.0.20:5068"`: the element name (if any) and the address. */
function endpointParam(direction: string, name: string): { element: string | null; address: HostPort } | null {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*"([^"]*)"`, 'i').exec(direction);
  if (!m) return null;
  const parts = m[1].trim().split(/\s+/);
  const address = parseAddress(parts[parts.length - 1] ?? '');
  if (!address || (address.port === 0 && !/[.:]/.test(address.host))) return null;
  return { element: parts.length > 1 ? parts.slice(0, -1).join(' ') : null, address };
}

export class LyncLogReader {
  readonly #self: string;
  #carry = '';
  #state: State = 'outside';
  #pending: Pending | null = null;
  #lineNo = 0;
  #records = 0;
  #lastTimeUs = 0;
  #seq = 0;
  #out: LogRecord[] = [];
  #ended = false;
  readonly #conns = new Map<string, number>();
  error: LyncLogError | null = null;
  readonly stats: LogReadStats = { lines: 0, records: 0, sipRecords: 0, skippedRecords: 0, bytesRead: 0 };
  /** Element names the records give for addresses (`127.0.0.20:5068` → `med-1`), filled as records are read. */
  readonly names: Map<string, string>;

  constructor(options: LogReaderOptions = {}) {
    this.#self = options.self ?? 'local';
    this.names = options.names ?? new Map();
  }

  push(chunk: Uint8Array): LogRecord[] {
    if (this.#ended) throw new Error('LyncLogReader.push after end()');
    if (this.error) return [];
    this.stats.bytesRead += chunk.length;
    const text = this.#carry + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    let pos = 0;
    for (;;) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break;
      const end = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.#line(text.slice(pos, end));
      pos = nl + 1;
      if (this.error) break;
    }
    this.#carry = this.error ? '' : text.slice(pos);
    return this.#take();
  }

  end(): LogRecord[] {
    if (this.#ended) return [];
    this.#ended = true;
    if (!this.error && this.#carry !== '') {
      const last = this.#carry.endsWith('\r') ? this.#carry.slice(0, -1) : this.#carry;
      this.#carry = '';
      this.#line(last);
    }
    if (!this.error && this.#state !== 'outside' && this.#pending) {
      this.error = new LyncLogError(
        'truncated',
        this.#lineNo,
        this.#pending.number,
        `the log ends inside the record that begins at line ${this.#pending.line} (no $$end_record)`,
      );
    }
    return this.#take();
  }

  #take(): LogRecord[] {
    const out = this.#out;
    if (out.length > 0) this.#out = [];
    return out;
  }

  #line(line: string): void {
    this.#lineNo++;
    this.stats.lines++;
    const begins = line.includes('$$begin_record');
    if (this.#state !== 'outside') {
      if (begins || TL_LINE.test(line)) {
        const p = this.#pending as Pending;
        this.error = new LyncLogError('corrupt', this.#lineNo, p.number, `a new trace record starts before $$end_record of the record that begins at line ${p.line}`);
        return;
      }
      if (line.startsWith('$$end_record')) {
        this.#finish();
        return;
      }
    }
    switch (this.#state) {
      case 'outside': {
        const t = parseTime(line);
        if (t !== null && line.startsWith('TL_')) this.#lastTimeUs = t;
        if (!begins) return;
        this.#records++;
        this.stats.records++;
        this.#pending = { line: this.#lineNo, number: this.#records, timeUs: t ?? this.#lastTimeUs, fields: new Map(), start: '', headers: [], body: [] };
        this.#state = 'preamble';
        return;
      }
      case 'preamble': {
        const p = this.#pending as Pending;
        const m = FIELD_RE.exec(line);
        if (!m) return; // a continuation of a multi-line Text field, or noise
        const name = m[1].toLowerCase();
        if (name === 'start-line') {
          p.start = m[2];
          this.#state = 'headers';
        } else if (!p.fields.has(name)) p.fields.set(name, m[2]);
        return;
      }
      case 'headers': {
        const p = this.#pending as Pending;
        if (/^Message-Body:/i.test(line)) {
          const rest = line.slice(line.indexOf(':') + 1).replace(/^[ \t]/, '');
          if (!EMPTY_BODY.has(rest.trim())) p.body.push(rest);
          this.#state = 'body';
          return;
        }
        p.headers.push(line);
        return;
      }
      case 'body':
        (this.#pending as Pending).body.push(line);
        return;
    }
  }

  #finish(): void {
    const p = this.#pending as Pending;
    this.#pending = null;
    const state = this.#state;
    this.#state = 'outside';
    if (state === 'preamble' || p.start === '') {
      this.stats.skippedRecords++;
      return;
    }
    this.stats.sipRecords++;
    if (p.timeUs > 0) this.#lastTimeUs = p.timeUs;
    const headers = p.headers;
    while (headers.length > 0 && headers[headers.length - 1] === '') headers.pop();
    const head = `${p.start}\r\n${headers.length > 0 ? `${headers.join('\r\n')}\r\n` : ''}\r\n`;
    const body = rebuildBody(p.body, headers);
    const bytes = Buffer.from(head + body, 'latin1');

    const f = p.fields;
    const direction = f.get('direction') ?? '';
    const outgoing = /^\s*(outgoing|sent|send)/i.test(direction) || /sent/i.test(f.get('text') ?? '');
    const src = endpointParam(direction, 'source');
    const dst = endpointParam(direction, 'destination');
    const peer = parseAddress(f.get('peer') ?? f.get('peer-ip') ?? '') ?? { host: 'peer', port: 0 };
    const localField = parseAddress(f.get('local-ip') ?? f.get('local') ?? '');
    let local: HostPort;
    let remote: HostPort;
    if (src && dst) {
      local = outgoing ? src.address : dst.address;
      remote = outgoing ? dst.address : src.address;
      if (src.element) this.names.set(addressKey(src.address), src.element);
      if (dst.element) this.names.set(addressKey(dst.address), dst.element);
    } else {
      local = localField ?? { host: this.#self, port: 0 };
      remote = peer;
    }
    const transport = transportOf(f.get('transport'), headers);
    let connId: number | null = null;
    if (transport !== 'udp') {
      const cid = f.get('connection-id');
      const key = cid !== undefined ? `id ${cid}` : [addressKey(local), addressKey(remote)].sort().join(' ');
      connId = this.#conns.get(key) ?? this.#conns.size + 1;
      this.#conns.set(key, connId);
    }
    this.#out.push({
      seq: ++this.#seq,
      timeUs: p.timeUs || this.#lastTimeUs,
      direction: outgoing ? 'out' : 'in',
      transport,
      local,
      remote,
      connId,
      bytes,
      frame: p.number,
      line: p.line,
    });
  }
}

function addressKey(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

function transportOf(field: string | undefined, headers: string[]): TransportProtocol {
  const t = (field ?? '').trim().toLowerCase();
  if (t === 'udp' || t === 'tcp' || t === 'tls') return t;
  if (t === 'mtls') return 'tls';
  for (const h of headers) {
    const m = /^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*([A-Za-z]+)/i.exec(h);
    if (m) {
      const v = m[1].toLowerCase();
      return v === 'udp' ? 'udp' : v === 'tls' ? 'tls' : 'tcp';
    }
  }
  return 'tcp';
}

/** Joins body lines with the line ends that make the Content-Length come out right (CRLF by default). */
function rebuildBody(lines: string[], headers: string[]): string {
  if (lines.length === 0) return '';
  let declared: number | null = null;
  for (const h of headers) {
    const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(h);
    if (m) {
      declared = Number(m[1]);
      break;
    }
  }
  const crlf = lines.join('\r\n');
  const candidates = [`${crlf}\r\n`, crlf, `${lines.join('\n')}\n`, lines.join('\n')];
  if (declared !== null) {
    for (const c of candidates) if (c.length === declared) return c;
  }
  return candidates[0];
}

export interface ReadLogResult {
  records: LogRecord[];
  error?: LyncLogError;
  stats: LogReadStats;
  names: Map<string, string>;
}

/** Reads a whole log held in memory. */
export function readLyncLog(bytes: Uint8Array, options: LogReaderOptions = {}): ReadLogResult {
  const r = new LyncLogReader(options);
  const records = r.push(bytes);
  records.push(...r.end());
  const res: ReadLogResult = { records, stats: r.stats, names: r.names };
  if (r.error) res.error = r.error;
  return res;
}

export interface ReadLogFileOptions extends LogReaderOptions {
  onRecords?: (batch: LogRecord[]) => void;
  onProgress?: (p: { bytesRead: number; totalBytes: number | null; records: number }) => void;
  keepRecords?: boolean;
  signal?: AbortSignal;
  chunkSize?: number;
}

/** Streams a log file (gzip accepted) with progress; see {@link ReadLogResult}. */
export async function readLyncLogFile(path: string, options: ReadLogFileOptions = {}): Promise<ReadLogResult> {
  const src = await openCaptureFile(path, options.chunkSize);
  const reader = new LyncLogReader(options);
  const keep = options.keepRecords ?? true;
  const records: LogRecord[] = [];
  let count = 0;
  const deliver = (batch: LogRecord[]) => {
    if (batch.length === 0) return;
    count += batch.length;
    if (keep) for (const r of batch) records.push(r);
    options.onRecords?.(batch);
  };
  try {
    for await (const chunk of src.chunks) {
      options.signal?.throwIfAborted();
      deliver(reader.push(chunk as Uint8Array));
      options.onProgress?.({ bytesRead: src.sourceBytesRead ? src.sourceBytesRead() : reader.stats.bytesRead, totalBytes: src.totalBytes ?? null, records: count });
      if (reader.error) break;
    }
    deliver(reader.end());
  } finally {
    src.close();
  }
  const res: ReadLogResult = { records, stats: reader.stats, names: reader.names };
  if (reader.error) res.error = reader.error;
  return res;
}

/** Does this look like a Lync/OCS text log (first 64 KiB)? */
export function looksLikeLyncLog(head: Uint8Array): boolean {
  const t = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 65536)).toString('latin1');
  return t.includes('$$begin_record') || /^TL_[A-Z]+\(TF_/m.test(t);
}

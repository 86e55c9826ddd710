/**
 * Files in and out of the trace store, whatever the format.
 *
 * Import: pcap / pcapng (gzip too), Lync or OCSLogger text logs, Trunklab
 * JSON traces; the format is found from the file's first bytes. Large files
 * stream with progress; a truncated or corrupt file keeps every message
 * before the damage and reports where it is.
 *
 * Export: pcap, pcapng (an interface per sending element, a comment naming
 * element, call and leg), Lync log (`cls`), JSON, and a SIPp scenario for
 * one side of one call.
 */
import { Buffer } from 'node:buffer';
import { open, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { HostPort } from '../sip/capture.ts';
import { TraceStore, type TraceStoreOptions } from '../trace/store.ts';
import { CaptureFormatError, readCaptureFile } from './capture-reader.ts';
import { JsonTraceError, looksLikeJsonTrace, readJsonTraceFile, writeJsonTrace, writeJsonTraceFile } from './json.ts';
import { writeLyncLog, writeLyncLogFile } from './lync-log.ts';
import { LyncLogError, looksLikeLyncLog, readLyncLogFile } from './lync-log-reader.ts';
import { isPcapMagic } from './pcap-reader.ts';
import { writePcap, writePcapFile } from './pcap.ts';
import { isPcapngMagic } from './pcapng-reader.ts';
import { writePcapng, writePcapngFile } from './pcapng.ts';
import { sippScenario } from './sipp-scenario.ts';
import { CallNumbering, messageRecords, pcapngOptionsFor } from './trace-records.ts';

export type ImportFormat = 'pcap' | 'pcapng' | 'cls' | 'json';
export type ExportFormat = 'pcap' | 'pcapng' | 'cls' | 'json' | 'sipp';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['pcap', 'pcapng', 'cls', 'json', 'sipp'];

export type TraceFileError = CaptureFormatError | LyncLogError | JsonTraceError;

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number | null;
  /** Messages in the store so far. */
  messages: number;
}

export interface ImportOptions {
  /** Append to this store (default: a new one). */
  store?: TraceStore;
  /** Options of the new store; element names found in the file (logs, JSON) are used when no resolver is given. */
  storeOptions?: TraceStoreOptions;
  onProgress?: (p: ImportProgress) => void;
  signal?: AbortSignal;
  /** Logs: the name of the log's own end when records do not say (default `local`). */
  self?: string;
  chunkSize?: number;
}

export interface ImportResult {
  store: TraceStore;
  format: ImportFormat;
  /** Messages this import added. */
  added: number;
  /** Set when the file is truncated or corrupt: everything before it was imported. */
  error?: TraceFileError;
}

export class UnknownFormatError extends Error {}

/** The import format of a file, from its first bytes (gzip looked through). */
export async function detectImportFormat(path: string): Promise<ImportFormat | null> {
  const fh = await open(path, 'r');
  let head: Uint8Array;
  try {
    const b = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    head = b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    try {
      head = gunzipSync(head, { finishFlush: 2 /* Z_SYNC_FLUSH: a partial stream is fine */ });
    } catch {
      return null;
    }
  }
  if (isPcapngMagic(head)) return 'pcapng';
  if (isPcapMagic(head)) return 'pcap';
  if (looksLikeJsonTrace(head)) return 'json';
  if (looksLikeLyncLog(head)) return 'cls';
  return null;
}

function resolverFrom(names: Map<string, string>): (hp: HostPort) => string | null {
  return (hp) => names.get(hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`) ?? null;
}

/** Imports a capture, log or JSON trace file into a store, streaming, with progress. */
export async function importTraceFile(path: string, options: ImportOptions = {}): Promise<ImportResult> {
  const format = await detectImportFormat(path);
  if (format === null) throw new UnknownFormatError(`${path}: not a pcap, pcapng, Lync/OCSLogger log or Trunklab JSON trace`);
  const names = new Map<string, string>();
  // A JSON trace carries its own call links: no second guess by heuristics unless asked.
  const store = options.store ?? new TraceStore({ resolveElement: resolverFrom(names), ...(format === 'json' ? { linkHeuristics: false } : {}), ...options.storeOptions });
  const before = store.size;
  const progress = (p: { bytesRead: number; totalBytes: number | null }) => options.onProgress?.({ bytesRead: p.bytesRead, totalBytes: p.totalBytes, messages: store.size });
  let error: TraceFileError | undefined;
  if (format === 'pcap' || format === 'pcapng') {
    const r = await readCaptureFile(path, {
      keepRecords: false,
      onRecords: (batch) => store.appendRecords(batch),
      onProgress: progress,
      signal: options.signal,
      chunkSize: options.chunkSize,
    });
    error = r.error;
  } else if (format === 'cls') {
    const r = await readLyncLogFile(path, {
      self: options.self,
      names,
      keepRecords: false,
      onRecords: (batch) => store.appendRecords(batch),
      onProgress: progress,
      signal: options.signal,
      chunkSize: options.chunkSize,
    });
    error = r.error;
  } else {
    const r = await readJsonTraceFile(
      path,
      (events) => {
        for (const ev of events) store.appendEvent(ev);
        store.flushEvents();
      },
      progress,
      names,
    );
    for (const l of r.links) {
      if (l.a < store.legCount && l.b < store.legCount) store.linkLegs(l.a, l.b, { source: l.source as 'import', confidence: l.confidence, evidence: l.evidence });
    }
    error = r.error;
  }
  store.endInput();
  const res: ImportResult = { store, format, added: store.size - before };
  if (error) res.error = error;
  return res;
}

export interface ExportOptions {
  /** Messages to export (default all). */
  indexes?: number[];
  /** cls: one element's view; sipp: the side SIPp plays (required). */
  side?: string;
  /** sipp: which call (number, Call-ID or call key). */
  call?: number | string;
}

/** The export format a file name asks for (`.pcap`, `.pcapng`, `.log`/`.txt`/`.cls`, `.json`/`.jsonl`, `.xml`), or null. */
export function formatFromPath(path: string): ExportFormat | null {
  const p = path.toLowerCase().replace(/\.gz$/, '');
  if (p.endsWith('.pcapng') || p.endsWith('.ntar')) return 'pcapng';
  if (p.endsWith('.pcap') || p.endsWith('.cap')) return 'pcap';
  if (p.endsWith('.log') || p.endsWith('.txt') || p.endsWith('.cls')) return 'cls';
  if (p.endsWith('.json') || p.endsWith('.jsonl') || p.endsWith('.ndjson')) return 'json';
  if (p.endsWith('.xml')) return 'sipp';
  return null;
}

/** One export in memory (for the engine's exportTrace). */
export function exportTrace(store: TraceStore, format: ExportFormat, options: ExportOptions = {}): Uint8Array {
  switch (format) {
    case 'pcap':
      return writePcap(messageRecords(store, options.indexes));
    case 'pcapng':
      return writePcapng(messageRecords(store, options.indexes), pcapngOptionsFor(store));
    case 'cls':
      return writeLyncLog(store, { side: options.side, indexes: options.indexes });
    case 'json':
      return writeJsonTrace(store, options.indexes);
    case 'sipp': {
      if (options.side === undefined) throw new RangeError('a SIPp scenario needs a side (element, host:port, caller or callee)');
      return Buffer.from(sippScenario(store, { side: options.side, call: options.call }), 'latin1');
    }
  }
}

/** One export streamed to a file. */
export async function writeTraceFile(store: TraceStore, path: string, format: ExportFormat, options: ExportOptions = {}): Promise<void> {
  switch (format) {
    case 'pcap':
      return writePcapFile(path, messageRecords(store, options.indexes));
    case 'pcapng':
      return writePcapngFile(path, messageRecords(store, options.indexes), pcapngOptionsFor(store, new CallNumbering(store)));
    case 'cls':
      await writeLyncLogFile(path, store, { side: options.side, indexes: options.indexes });
      return;
    case 'json':
      return writeJsonTraceFile(path, store, options.indexes);
    case 'sipp':
      return writeFile(path, exportTrace(store, 'sipp', options));
  }
}

export interface TraceFiles {
  pcap?: string;
  pcapng?: string;
  cls?: string;
  /** The JSON trace. */
  trace?: string;
}

/**
 * Writes a run's trace to every file given (`trunklab call --pcap F
 * --pcapng F --cls F --trace F`). Resolves with the number of messages
 * written.
 */
export async function writeTrace(store: TraceStore, files: TraceFiles, options: { side?: string } = {}): Promise<{ messages: number; files: string[] }> {
  store.flushEvents();
  const written: string[] = [];
  const jobs: Array<Promise<void>> = [];
  if (files.pcap) jobs.push(writeTraceFile(store, files.pcap, 'pcap'));
  if (files.pcapng) jobs.push(writeTraceFile(store, files.pcapng, 'pcapng'));
  if (files.cls) jobs.push(writeTraceFile(store, files.cls, 'cls', { side: options.side }));
  if (files.trace) jobs.push(writeTraceFile(store, files.trace, 'json'));
  for (const f of [files.pcap, files.pcapng, files.cls, files.trace]) if (f) written.push(f);
  await Promise.all(jobs);
  return { messages: store.size, files: written };
}

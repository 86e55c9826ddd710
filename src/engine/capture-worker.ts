/**
 * Reading a capture file on a second core: a worker thread runs the capture
 * reader (pcap/pcapng, IP reassembly, TCP reassembly, src/formats/) and hands
 * the records to the engine in packed batches (numbers in typed arrays,
 * payloads in one transferred buffer, host strings once each), while the
 * engine's thread frames and stages the previous batch. Opening a large file
 * then takes the longer of the two, not their sum.
 *
 * `readCaptureInWorker` resolves with null where no worker can be started
 * (the Electron main bundle has no file for it): the caller reads in-process.
 * This file is also the worker's entry: it runs `serve()` when loaded as one.
 */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { readCaptureFile } from '../formats/capture-reader.ts';
import type { CaptureRecord, HostPort } from '../sip/capture.ts';

/** One record as the staging wants it (the reader's ReadRecord, minus what staging does not use). */
export type StagedRecord = CaptureRecord & { frame: number; missingBefore: number };

interface Packed {
  type: 'records';
  n: number;
  /** timeUs, frame, missingBefore, connId (-1: none) per record. */
  numbers: Float64Array;
  /** local host id, local port, remote host id, remote port, payload offset, payload length per record. */
  ints: Int32Array;
  /** 0 udp, 1 tcp. */
  transports: Uint8Array;
  payload: Uint8Array;
  /** Host strings first seen in this batch, in id order. */
  hosts: string[];
}

type FromWorker =
  | Packed
  | { type: 'progress'; bytesRead: number; totalBytes: number | null }
  | { type: 'done'; format: string | null; error: string | null }
  | { type: 'failed'; error: string };

export interface WorkerReadResult {
  format: string | null;
  error: Error | null;
}

/** Batches the worker may have sent and the engine not yet taken: it reads ahead, but never floods the engine's thread (whose timers and bridge must keep running). */
const AHEAD = 8;

function serve(): void {
  const { file, credit } = workerData as { file: string; credit: Int32Array };
  /** Waits for the engine to take a batch when AHEAD are waiting already. */
  const take = (): void => {
    for (;;) {
      const c = Atomics.load(credit, 0);
      if (c > 0) {
        if (Atomics.compareExchange(credit, 0, c, c - 1) === c) return;
        continue;
      }
      Atomics.wait(credit, 0, c, 1000);
    }
  };
  const hostIds = new Map<string, number>();
  const hostId = (h: string, fresh: string[]): number => {
    let id = hostIds.get(h);
    if (id === undefined) {
      id = hostIds.size;
      hostIds.set(h, id);
      fresh.push(h);
    }
    return id;
  };
  const send = (m: FromWorker, transfer: ArrayBuffer[] = []): void => parentPort!.postMessage(m, transfer);
  readCaptureFile(file, {
    keepRecords: false,
    chunkSize: 4 << 20,
    onRecords: (records) => {
      take();
      const n = records.length;
      const numbers = new Float64Array(n * 4);
      const ints = new Int32Array(n * 6);
      const transports = new Uint8Array(n);
      let bytes = 0;
      for (const r of records) bytes += r.bytes.length;
      const payload = new Uint8Array(bytes);
      const hosts: string[] = [];
      let at = 0;
      for (let k = 0; k < n; k++) {
        const r = records[k]!;
        numbers[k * 4] = r.timeUs;
        numbers[k * 4 + 1] = r.frame;
        numbers[k * 4 + 2] = r.missingBefore;
        numbers[k * 4 + 3] = r.connId ?? -1;
        ints[k * 6] = hostId(r.local.host, hosts);
        ints[k * 6 + 1] = r.local.port;
        ints[k * 6 + 2] = hostId(r.remote.host, hosts);
        ints[k * 6 + 3] = r.remote.port;
        ints[k * 6 + 4] = at;
        ints[k * 6 + 5] = r.bytes.length;
        transports[k] = r.transport === 'udp' ? 0 : 1;
        payload.set(r.bytes, at);
        at += r.bytes.length;
      }
      send({ type: 'records', n, numbers, ints, transports, payload, hosts }, [numbers.buffer, ints.buffer, transports.buffer, payload.buffer as ArrayBuffer]);
    },
    onProgress: (p) => send({ type: 'progress', bytesRead: p.bytesRead, totalBytes: p.totalBytes }),
  })
    .then((r) => send({ type: 'done', format: r.format, error: r.error ? r.error.message : null }))
    .catch((e: unknown) => send({ type: 'failed', error: e instanceof Error ? e.message : String(e) }));
}

/** The records of a packed batch, as objects (views into the batch's payload; addresses shared, one object per host and port). */
function unpack(m: Packed, hosts: string[], addresses: Map<number, HostPort>): StagedRecord[] {
  for (const h of m.hosts) hosts.push(h);
  const address = (host: number, port: number): HostPort => {
    const key = host * 65_536 + port;
    let a = addresses.get(key);
    if (a === undefined) {
      a = { host: hosts[host]!, port };
      addresses.set(key, a);
    }
    return a;
  };
  const out: StagedRecord[] = [];
  const buf = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  for (let k = 0; k < m.n; k++) {
    const connId = m.numbers[k * 4 + 3]!;
    const at = m.ints[k * 6 + 4]!;
    out.push({
      seq: 0,
      timeUs: m.numbers[k * 4]!,
      frame: m.numbers[k * 4 + 1]!,
      missingBefore: m.numbers[k * 4 + 2]!,
      direction: 'in',
      transport: m.transports[k] === 0 ? 'udp' : 'tcp',
      local: address(m.ints[k * 6]!, m.ints[k * 6 + 1]!),
      remote: address(m.ints[k * 6 + 2]!, m.ints[k * 6 + 3]!),
      connId: connId < 0 ? null : connId,
      bytes: buf.subarray(at, at + m.ints[k * 6 + 5]!),
    });
  }
  return out;
}

/**
 * Reads a pcap/pcapng file on a worker thread; `onRecords` gets the records
 * in file order on this thread. Null when no worker could be started.
 */
export async function readCaptureInWorker(
  file: string,
  options: { onRecords(records: StagedRecord[]): void; onProgress?(p: { bytesRead: number; totalBytes: number | null }): void; signal?: AbortSignal },
): Promise<WorkerReadResult | null> {
  let worker: Worker;
  const credit = new Int32Array(new SharedArrayBuffer(4));
  credit[0] = AHEAD;
  // TRUNKLAB_READ_WORKER=0: read in the engine's thread (to compare).
  if (process.env.TRUNKLAB_READ_WORKER === '0') return null;
  try {
    const self = new URL(import.meta.url);
    if (self.protocol !== 'file:' || !/\.[cm]?[jt]s$/.test(self.pathname)) return null;
    worker = new Worker(self, { workerData: { file, credit } });
  } catch {
    return null;
  }
  const hosts: string[] = [];
  const addresses = new Map<number, HostPort>();
  return new Promise<WorkerReadResult>((resolve, reject) => {
    const stop = (): void => {
      void worker.terminate();
      reject(new Error('import stopped'));
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    worker.on('message', (m: FromWorker) => {
      try {
        if (m.type === 'records') {
          options.onRecords(unpack(m, hosts, addresses));
          Atomics.add(credit, 0, 1);
          Atomics.notify(credit, 0);
        }
        else if (m.type === 'progress') options.onProgress?.(m);
        else {
          options.signal?.removeEventListener('abort', stop);
          void worker.terminate();
          if (m.type === 'failed') reject(new Error(m.error));
          else resolve({ format: m.format, error: m.error === null ? null : new Error(m.error) });
        }
      } catch (error) {
        void worker.terminate();
        reject(error);
      }
    });
    worker.once('error', reject);
  });
}

if (!isMainThread && (workerData as { file?: unknown } | null)?.file !== undefined && parentPort) serve();

/**
 * Import speed and peak memory of the trace store against tshark and sngrep
 * on the same SIPp captures, in the same run, then a store of a million
 * messages:
 *
 *   node_modules/.bin/node bench/import.ts [--udp-calls 100000] [--tcp-calls 10000] [--tshark-timeout 300] [--store-messages 1000000]
 *
 * - Trunklab: `importTraceFile` (capture reader → wire events → parse →
 *   correlate into transactions, dialogs, legs, calls), in a child process
 *   so that its peak RSS is its own.
 * - tshark: `tshark -r FILE -Y sip`, bounded by a timeout (reported as
 *   "> N s" when it hits it).
 * - sngrep: `sngrep -F -N -l 1000000 -I FILE -O OUT` (no UI; -l lifts the
 *   20,000-dialog limit).
 *
 * Times are wall-clock seconds; memory is peak RSS (VmHWM sampled from
 * /proc for the peers, process.resourceUsage().maxRSS for the child). Captures of SIPp
 * uac → uas over loopback are made once (dumpcap) under the OS temp dir and
 * reused. Prints a Markdown table for BENCHMARKS.md.
 *
 * The store part (`--million N` runs only it) appends N generated messages
 * and reports the append rate, memory per message (store accounting and
 * RSS), and the time to read a page of 100 summaries and to parse one
 * message again. `benchImport()` and `benchMillion()` are exported for
 * bench/run.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importTraceFile } from '../src/formats/trace-io.ts';
import { exportScenario } from '../src/formats/test-support/sip-samples.ts';
import { captureSippCalls } from '../src/formats/test-support/sipp-capture.ts';
import type { CaptureRecord } from '../src/sip/capture.ts';
import { TraceStore } from '../src/trace/store.ts';

export interface Measure {
  seconds: number;
  peakMB: number;
  messages: number | null;
  timedOut?: boolean;
  extra?: Record<string, unknown>;
}

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') {
  // The measured import, alone in its process.
  const file = process.argv[3];
  const t = performance.now();
  const { store, error } = await importTraceFile(file);
  const seconds = (performance.now() - t) / 1000;
  if (error) throw error;
  const mem = store.memory();
  const calls = store.calls().length;
  let retrans = 0;
  for (let i = 0; i < store.size; i++) if (store.isRetransmission(i)) retrans++;
  const heap = process.memoryUsage();
  const out: Measure = {
    seconds,
    peakMB: process.resourceUsage().maxRSS / 1024,
    messages: store.size,
    extra: {
      legs: store.legCount,
      calls,
      transactions: store.transactionCount,
      retransmissions: retrans,
      overheadPerMessage: mem.overheadPerMessage,
      payloadPerMessage: Math.round(mem.payloadBytes / store.size),
      columnMB: +(mem.columnBytes / 1e6).toFixed(1),
      arenaMB: +(mem.arenaBytes / 1e6).toFixed(1),
      heapUsedMB: +(heap.heapUsed / 1e6).toFixed(1),
      rssAfterMB: +(heap.rss / 1e6).toFixed(1),
    },
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

if (process.argv[2] === '--million') {
  // A million messages straight into the store (no file): append rate, memory per message,
  // and what the UI pays to read a page of rows at any point of the trace.
  const n = Number(process.argv[3] ?? 1_000_000);
  const base = exportScenario();
  const rssBefore = process.memoryUsage().rss;
  const store = new TraceStore();
  const t = performance.now();
  let k = 0;
  let batch: CaptureRecord[] = [];
  while (store.size < n) {
    for (const r of base) {
      const text = Buffer.from(r.bytes).toString('latin1').replaceAll('-call@', `-call-${k}@`);
      batch.push({ ...r, seq: k * base.length + r.seq, timeUs: r.timeUs + k * 1000, bytes: Buffer.from(text, 'latin1') });
    }
    k++;
    if (batch.length >= 2800) {
      store.appendRecords(batch);
      batch = [];
    }
  }
  store.appendRecords(batch);
  const appendS = (performance.now() - t) / 1000;
  const mem = store.memory();
  const rss = process.memoryUsage().rss;
  // A page of 100 rows at 1,000 random places, as a virtualized list asks for them.
  const t2 = performance.now();
  let rows = 0;
  for (let p = 0; p < 1000; p++) {
    const from = Math.floor(Math.random() * (store.size - 100));
    rows += store.summaries(from, from + 100).length;
  }
  const pageUs = ((performance.now() - t2) * 1000) / 1000;
  const t3 = performance.now();
  for (let p = 0; p < 1000; p++) store.message(Math.floor(Math.random() * store.size));
  const inspectUs = performance.now() - t3;
  process.stdout.write(
    `${JSON.stringify({
      messages: store.size,
      appendSeconds: +appendS.toFixed(2),
      messagesPerSecond: Math.round(store.size / appendS),
      overheadPerMessage: mem.overheadPerMessage,
      payloadPerMessage: Math.round(mem.payloadBytes / store.size),
      rssPerMessage: Math.round((rss - rssBefore) / store.size),
      peakMB: Math.round(process.resourceUsage().maxRSS / 1024),
      pageOf100RowsUs: Math.round(pageUs),
      inspectOneMessageUs: +inspectUs.toFixed(1),
      rows,
    })}\n`,
  );
  process.exit(0);
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

/** Peak RSS so far of a running process (VmHWM), in MB; NaN once it is gone. */
async function peakRssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * Runs a command (its own process group, killed whole on timeout); stdout
 * is counted in lines, not kept; peak RSS is sampled from /proc every 50 ms.
 */
function timed(cmd: string, args: string[], timeoutS: number): Promise<Measure & { lines: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    let lines = 0;
    let peak = 0;
    child.stdout.on('data', (b: Buffer) => {
      for (let i = 0; i < b.length; i++) if (b[i] === 10) lines++;
    });
    const sampler = setInterval(() => {
      if (child.pid !== undefined) void peakRssMB(child.pid).then((mb) => {
        if (mb > peak) peak = mb;
      });
    }, 50);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutS * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(sampler);
      resolve({ seconds: (performance.now() - t) / 1000, peakMB: peak, messages: null, lines, code, timedOut });
    });
  });
}

function childImport(file: string): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, '--child', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`import child exited ${code}`));
      else resolve(JSON.parse(out) as Measure);
    });
  });
}

const dir = join(tmpdir(), 'trunklab-bench');

async function capture(transport: 'udp' | 'tcp', calls: number, log: (s: string) => void): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const name = `sipp-${transport}-${calls}.pcap`;
  const file = join(dir, name);
  if (!existsSync(file)) {
    log(`capturing ${calls} SIPp calls over ${transport}...`);
    await captureSippCalls({ transport, host: '127.0.0.1', calls, rate: 2000, dir, bufferMiB: 64, captures: [{ file: name }] });
  }
  return file;
}

export interface ImportBenchRow {
  transport: 'udp' | 'tcp';
  calls: number;
  file: string;
  fileMB: number;
  trunklab: Measure;
  tshark: Measure & { timeoutS: number };
  sngrep: Measure;
}

export interface ImportBenchOptions {
  udpCalls?: number;
  tcpCalls?: number;
  /** tshark is stopped after this long (default 300 s). */
  tsharkTimeoutS?: number;
  log?: (line: string) => void;
}

/** Imports each capture with trunklab, tshark -Y sip and sngrep, one after the other. */
export async function benchImport(o: ImportBenchOptions = {}): Promise<{ rows: ImportBenchRow[]; markdown: string }> {
  const log = o.log ?? ((l: string) => console.log(l));
  const tsharkTimeout = o.tsharkTimeoutS ?? 300;
  const rows: ImportBenchRow[] = [];
  for (const [transport, calls] of [
    ['udp', o.udpCalls ?? 100000],
    ['tcp', o.tcpCalls ?? 10000],
  ] as const) {
    const file = await capture(transport, calls, log);
    const fileMB = statSync(file).size / 1e6;
    log(`${file}: ${fileMB.toFixed(1)} MB, ${calls} calls over ${transport.toUpperCase()}`);
    const ours = await childImport(file);
    log(`  trunklab import: ${ours.seconds.toFixed(2)} s, peak ${ours.peakMB.toFixed(0)} MB, ${ours.messages} messages ${JSON.stringify(ours.extra)}`);
    const ts = await timed('tshark', ['-r', file, '-Y', 'sip'], tsharkTimeout);
    log(`  tshark -Y sip: ${ts.timedOut ? `> ${tsharkTimeout}` : ts.seconds.toFixed(1)} s, peak ${ts.peakMB.toFixed(0)} MB${ts.timedOut ? ' (stopped)' : `, ${ts.lines} SIP frames`}`);
    const sngOut = join(dir, `sngrep-out-${process.pid}.pcap`);
    const sg = await timed('sngrep', ['-F', '-N', '-l', '1000000', '-I', file, '-O', sngOut], 600);
    rmSync(sngOut, { force: true });
    log(`  sngrep: ${sg.seconds.toFixed(1)} s, peak ${sg.peakMB.toFixed(0)} MB`);
    rows.push({ transport, calls, file, fileMB, trunklab: ours, tshark: { ...ts, timeoutS: tsharkTimeout }, sngrep: sg });
  }
  return { rows, markdown: importMarkdown(rows) };
}

export function importMarkdown(rows: ImportBenchRow[]): string {
  const out = [
    '| capture | trunklab import | tshark -r FILE -Y sip | tshark / trunklab (time) | sngrep -F -N -l 1000000 -I FILE -O OUT | sngrep / trunklab (time) | peak memory: tshark / trunklab, sngrep / trunklab |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const us = r.trunklab;
    const ratio = (x: number) => (x / us.seconds).toFixed(1);
    const ts = r.tshark.timedOut ? `> ${r.tshark.timeoutS} s (stopped), ${r.tshark.peakMB.toFixed(0)} MB so far` : `${r.tshark.seconds.toFixed(1)} s, ${r.tshark.peakMB.toFixed(0)} MB`;
    out.push(
      `| ${r.calls.toLocaleString('en')} SIPp calls, ${r.transport.toUpperCase()} (${r.fileMB.toFixed(0)} MB, ${us.messages?.toLocaleString('en')} messages) ` +
        `| ${us.seconds.toFixed(1)} s, ${us.peakMB.toFixed(0)} MB ` +
        `| ${ts} | ${r.tshark.timedOut ? '> ' : ''}${ratio(r.tshark.timedOut ? r.tshark.timeoutS : r.tshark.seconds)}× ` +
        `| ${r.sngrep.seconds.toFixed(1)} s, ${r.sngrep.peakMB.toFixed(0)} MB | ${ratio(r.sngrep.seconds)}× ` +
        `| ${(r.tshark.peakMB / us.peakMB).toFixed(1)}×${r.tshark.timedOut ? '+' : ''}, ${(r.sngrep.peakMB / us.peakMB).toFixed(1)}× |`,
    );
  }
  return out.join('\n');
}

/** The million-message store run, in a child process (its own memory). */
export function benchMillion(n = 1_000_000): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, '--million', String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, number>) : reject(new Error(`million child exited ${code}`))));
  });
}

if (process.argv[1] === self && process.argv[2] !== '--child' && process.argv[2] !== '--million') {
  const { markdown } = await benchImport({ udpCalls: arg('udp-calls', 100000), tcpCalls: arg('tcp-calls', 10000), tsharkTimeoutS: arg('tshark-timeout', 300) });
  console.log(`\n${markdown}`);
  const m = await benchMillion(arg('store-messages', 1_000_000));
  console.log(`\nstore with ${m.messages.toLocaleString('en')} messages: append ${m.appendSeconds} s (${m.messagesPerSecond.toLocaleString('en')}/s, message generation included), ` +
    `${m.overheadPerMessage} bytes/message beyond the ${m.payloadPerMessage} bytes of the message itself (RSS: ${m.rssPerMessage} bytes/message), peak ${m.peakMB} MB; ` +
    `a page of 100 summaries ${m.pageOf100RowsUs} µs, one message parsed again ${m.inspectOneMessageUs} µs`);
}

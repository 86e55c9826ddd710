/**
 * Call rate of a UAS under SIPp's built-in `uac` scenario (INVITE, 100/180
 * optional, 200, ACK, BYE, 200): `trunklab uas` next to `sipp -sn uas`, the
 * same machine, the same search, one after the other.
 *
 * One trial is `rate × seconds` calls at `-r rate`. It passes when SIPp's uac
 * exits 0 with every call successful and none failed (no call lost to
 * retransmission timeouts; retransmissions that recovered are counted, not
 * failed), the run kept its schedule (a backlog in the UAS stretches it), and
 * the UAS itself counts every call ended by BYE (trunklab's summary line, SIPp
 * uas's own statistics). The last check matters: SIPp's `recv response="200"`
 * after the BYE also accepts a retransmitted 200 for the INVITE, so a BYE lost
 * under overload can still count as a successful call on the uac side.
 *
 * The search doubles the rate from `startRate` until a trial fails, then
 * bisects between the last pass and the first failure. With two cores, SIPp's
 * uac runs on CPU 0 and the UAS under test on CPU 1 (`taskset`), both with
 * 4 MiB UDP socket buffers (`-buff_size 4194304`; trunklab's transport asks
 * for 4 MiB by default).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TRUNKLAB = process.env.TRUNKLAB_BIN ?? path.join(ROOT, 'src', 'cli', 'trunklab.js');

export type Uas = 'trunklab' | 'sipp';
export type Transport = 'udp' | 'tcp';

export interface Trial {
  rate: number;
  seconds: number;
  calls: number;
  pass: boolean;
  /** Why it failed, or '' */
  why: string;
  successful: number;
  failed: number;
  retransmissions: number;
  /** Calls the UAS counted ended by BYE. */
  uasCompleted: number;
  /** calls / (uac wall time): what SIPp achieved. */
  achievedRate: number;
  /** CPU time of the UAS process per call, µs (user + system). */
  uasCpuUsPerCall: number;
  wallSeconds: number;
}

export interface RateSearch {
  uas: Uas;
  transport: Transport;
  /** The long-trial check of `best`, when it was run. */
  sustained?: Sustained;
  /** Highest passing rate, calls/s (0 when even the lowest failed). */
  best: number;
  bestTrial: Trial | null;
  trials: Trial[];
  uacCommand: string;
  uasCommand: string;
}

export interface SearchOptions {
  /** Seconds of calls per trial (calls = rate × seconds). */
  seconds: number;
  startRate: number;
  maxRate: number;
  /** Bisection stops when the bracket is narrower than this fraction of the passing rate. */
  precision: number;
  /** Upper bound on trials per search. */
  maxTrials: number;
  log?: (line: string) => void;
}

export const DEFAULT_SEARCH: SearchOptions = { seconds: 5, startRate: 2000, maxRate: 64_000, precision: 0.08, maxTrials: 9 };

export interface Sustained {
  seconds: number;
  /** Highest rate that passed a trial of `seconds` (0: none of the steps passed). */
  best: number;
  trials: Trial[];
}

/** Calls of the warm-up before each trial of trunklab, at WARM_UP_RATE calls/s. */
export const WARM_UP_CALLS = 2000;
const WARM_UP_RATE = 1000;

const TWO_CORES = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;

function pinned(cpu: number, command: string, args: string[]): [string, string[]] {
  return TWO_CORES ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

export function sippVersion(): string {
  const r = spawnSync('sipp', ['-v'], { encoding: 'latin1' });
  const m = /SIPp v?([^\s,]+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : 'not installed';
}

async function freePort(transport: Transport): Promise<number> {
  if (transport === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** utime + stime of a process, in µs (from /proc; 0 when unreadable). */
function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5), counted from the state field (3).
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return 0;
  }
}

function sippStats(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'latin1').split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length < 2) return {};
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h, last[i]]));
}

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Spawns a child. Its stdout goes to `stdoutFile` (a file, not a pipe: on Linux a pipe write blocks the writer
 * whenever the reader, sharing two busy cores, falls behind) or nowhere.
 */
function run(command: string, args: string[], cwd: string, stdoutFile?: string): Running & { out: () => string } {
  const fd = stdoutFile === undefined ? 'ignore' : openSync(stdoutFile, 'w');
  const child = spawn(command, args, { cwd, stdio: ['ignore', fd, 'ignore'] });
  if (typeof fd === 'number') closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const out = (): string => {
    if (stdoutFile === undefined) return '';
    try {
      return readFileSync(stdoutFile, 'utf8');
    } catch {
      return '';
    }
  };
  return { child, exited, out };
}

async function stop(r: Running, signal: NodeJS.Signals, ms: number): Promise<number | null> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill(signal);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), ms);
  try {
    return await r.exited;
  } finally {
    clearTimeout(timer);
  }
}

export function uasArgs(uas: Uas, transport: Transport, port: number, calls: number): [string, string[]] {
  if (uas === 'trunklab') return pinned(1, process.execPath, [TRUNKLAB, 'uas', '--listen', `127.0.0.1:${port}`, '--transport', transport]);
  return pinned(1, 'sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-t', transport === 'udp' ? 'u1' : 't1', '-buff_size', '4194304', '-m', String(calls), '-nostdin']);
}

export function uacArgs(transport: Transport, uasPort: number, port: number, rate: number, calls: number, timeoutS: number): [string, string[]] {
  return pinned(0, 'sipp', [
    '-sn', 'uac', `127.0.0.1:${uasPort}`, '-i', '127.0.0.1', '-p', String(port), '-t', transport === 'udp' ? 'u1' : 't1',
    '-r', String(rate), '-m', String(calls), '-l', String(calls), '-buff_size', '4194304',
    '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin',
  ]);
}

/** One trial at `rate` calls/s. */
export async function trial(uas: Uas, transport: Transport, rate: number, seconds: number): Promise<Trial> {
  const calls = Math.max(1, Math.round(rate * seconds));
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-bench-'));
  const uasPort = await freePort(transport);
  const uacPort = await freePort(transport);
  const base: Trial = { rate, seconds, calls, pass: false, why: '', successful: 0, failed: 0, retransmissions: 0, uasCompleted: 0, achievedRate: 0, uasCpuUsPerCall: 0, wallSeconds: 0 };
  let server: (Running & { out: () => string }) | null = null;
  let client: (Running & { out: () => string }) | null = null;
  try {
    const [uasCmd, uasArgv] = uasArgs(uas, transport, uasPort, calls);
    const uasStf = path.join(dir, 'uas.csv');
    server = run(uasCmd, uas === 'sipp' ? [...uasArgv, '-trace_stat', '-stf', uasStf, '-fd', '1'] : uasArgv, dir, uas === 'trunklab' ? path.join(dir, 'uas.out') : undefined);
    // Ready: trunklab prints its listening line; SIPp binds at once (TCP: wait until it accepts).
    const readyBy = Date.now() + 15_000;
    for (;;) {
      if (server.child.exitCode !== null) return { ...base, why: 'the UAS exited at start' };
      if (Date.now() > readyBy) return { ...base, why: 'the UAS did not start' };
      if (uas === 'trunklab' ? server.out().includes('"listening"') : await listening(transport, uasPort)) break;
      await sleep(50);
    }
    // Warm-up of trunklab (not measured): a cold Node process (interpreted code, small heap) stalls on a sudden burst for
    // long enough to draw retransmissions; a long-running one does not. SIPp, compiled ahead of time, needs none (and its
    // uas miscounts a call when the warm-up's TCP connection closes).
    const warmUp = uas === 'trunklab' ? WARM_UP_CALLS : 0;
    if (warmUp > 0) {
      const [warmCmd, warmArgv] = uacArgs(transport, uasPort, await freePort(transport), WARM_UP_RATE, warmUp, 20);
      await run(warmCmd, warmArgv, dir).exited;
    }
    await sleep(200);
    const cpu0 = cpuMicros(server.child.pid);
    const stf = path.join(dir, 'uac.csv');
    const timeoutS = Math.ceil(seconds + 10);
    const [uacCmd, uacArgv] = uacArgs(transport, uasPort, uacPort, rate, calls, timeoutS);
    const t0 = performance.now();
    client = run(uacCmd, [...uacArgv, '-trace_stat', '-stf', stf, '-fd', '1'], dir);
    // A trial with a failed call, or retransmitting more than 1 % of its calls (it will fall behind), is over: stop it
    // early instead of waiting out SIPp's timers.
    let abortedEarly = false;
    const watch = setInterval(() => {
      const s = sippStats(stf);
      if (Number(s['FailedCall(C)'] ?? 0) > 0 || Number(s['Retransmissions(C)'] ?? 0) > calls / 100) {
        abortedEarly = true;
        client?.child.kill('SIGKILL');
      }
    }, 500);
    const code = await client.exited;
    clearInterval(watch);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuMicros(server.child.pid) - cpu0;
    const s = sippStats(stf);
    const result: Trial = {
      ...base,
      successful: Number(s['SuccessfulCall(C)'] ?? 0),
      failed: Number(s['FailedCall(C)'] ?? 0),
      retransmissions: Number(s['Retransmissions(C)'] ?? 0),
      achievedRate: calls / wall,
      uasCpuUsPerCall: cpu / calls,
      wallSeconds: wall,
    };
    // The UAS's own count.
    if (uas === 'trunklab') {
      await stop(server, 'SIGTERM', 10_000);
      const summary = server
        .out()
        .split('\n')
        .find((l) => l.startsWith('{"summary"'));
      result.uasCompleted = summary ? Number(JSON.parse(summary).summary.completed) - warmUp : 0;
    } else {
      // SIPp's uas exits by itself after -m calls (each call ends with a 4 s timewait).
      const uasCode = await Promise.race([server.exited, sleep(abortedEarly ? 0 : 8000).then(() => -1)]);
      if (uasCode === -1 || abortedEarly) await stop(server, 'SIGKILL', 2000);
      result.uasCompleted = Number(sippStats(uasStf)['SuccessfulCall(C)'] ?? 0);
    }
    const reasons: string[] = [];
    if (abortedEarly) reasons.push(`stopped early (${result.failed} failed, ${result.retransmissions} retransmissions)`);
    if (code !== 0) reasons.push(`SIPp uac exit ${code}`);
    if (result.failed > 0) reasons.push(`${result.failed} failed`);
    if (result.successful !== calls) reasons.push(`${result.successful}/${calls} successful`);
    if (result.uasCompleted !== calls) reasons.push(`UAS counts ${result.uasCompleted}/${calls} completed`);
    // SIPp creates calls on a timer; when it (or the UAS) cannot keep up, the run stretches. Allowed: SIPp's start-up and
    // the last call's round trip, not a backlog.
    if (wall > seconds * 1.05 + 0.3) reasons.push(`took ${wall.toFixed(2)} s for ${seconds} s of calls`);
    result.pass = reasons.length === 0;
    result.why = reasons.join(', ');
    return result;
  } finally {
    if (client) await stop(client, 'SIGKILL', 2000);
    if (server) await stop(server, 'SIGKILL', 2000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True once a UAS listens on `port` (UDP: bound, read from /proc/net/udp; TCP: accepts). */
export async function listening(transport: Transport, port: number): Promise<boolean> {
  if (transport === 'udp') {
    // A bound UDP socket shows in /proc/net/udp (127.0.0.1 is 0100007F there); binding the port to test it would race SIPp.
    const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    try {
      return readFileSync('/proc/net/udp', 'latin1').includes(hex);
    } catch {
      await sleep(500);
      return true;
    }
  }
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Whether a rate holds beyond the life of a transaction: every INVITE and BYE server transaction over UDP keeps its
 * state for 64×T1 = 32 s after the call (RFC 3261 §17.2, RFC 6026), so a short trial never reaches the steady-state
 * memory of a long run. From `rate`, each failure steps down by 30 %, `steps` times at most.
 */
export async function sustain(uas: Uas, transport: Transport, rate: number, seconds: number, steps: number, log: (line: string) => void = () => undefined): Promise<Sustained> {
  const trials: Trial[] = [];
  for (let i = 0; i < steps && rate > 0; i++) {
    const t = await trial(uas, transport, rate, seconds);
    trials.push(t);
    log(`  ${uas} ${transport} ${String(rate).padStart(6)} calls/s for ${seconds} s: ${t.pass ? 'pass' : `FAIL (${t.why})`}, UAS ${t.uasCpuUsPerCall.toFixed(0)} µs CPU/call`);
    if (t.pass) return { seconds, best: rate, trials };
    rate = roundRate(rate * 0.7);
    await sleep(300);
  }
  return { seconds, best: 0, trials };
}

function roundRate(r: number): number {
  const step = r >= 10_000 ? 500 : r >= 2000 ? 100 : 50;
  return Math.max(step, Math.round(r / step) * step);
}

/** Highest passing rate: doubling from `startRate`, then bisection. */
export async function searchRate(uas: Uas, transport: Transport, o: SearchOptions = DEFAULT_SEARCH): Promise<RateSearch> {
  const trials: Trial[] = [];
  const log = o.log ?? (() => undefined);
  const attempt = async (rate: number): Promise<Trial> => {
    const t = await trial(uas, transport, rate, o.seconds);
    trials.push(t);
    log(`  ${uas} ${transport} ${String(rate).padStart(6)} calls/s: ${t.pass ? 'pass' : `FAIL (${t.why})`}, ${t.achievedRate.toFixed(0)} achieved, UAS ${t.uasCpuUsPerCall.toFixed(0)} µs CPU/call`);
    await sleep(300);
    return t;
  };
  let lo = 0;
  let loTrial: Trial | null = null;
  let hi = 0;
  let rate = o.startRate;
  // Up (or down, if the first rate fails).
  for (;;) {
    if (trials.length >= o.maxTrials) break;
    const t = await attempt(rate);
    if (t.pass) {
      lo = rate;
      loTrial = t;
      if (hi !== 0 || rate >= o.maxRate) break;
      rate = Math.min(o.maxRate, rate * 2);
    } else {
      hi = rate;
      if (lo !== 0 || rate <= 100) break;
      rate = roundRate(rate / 2);
    }
  }
  // Bisect.
  while (hi !== 0 && lo !== 0 && trials.length < o.maxTrials && hi - lo > Math.max(50, lo * o.precision)) {
    const mid = roundRate((lo + hi) / 2);
    if (mid <= lo || mid >= hi) break;
    const t = await attempt(mid);
    if (t.pass) {
      lo = mid;
      loTrial = t;
    } else hi = mid;
  }
  const [uasCmd, uasArgv] = uasArgs(uas, transport, 5060, 0);
  const [uacCmd, uacArgv] = uacArgs(transport, 5060, 5070, lo || o.startRate, Math.round((lo || o.startRate) * o.seconds), Math.ceil(o.seconds + 10));
  const show = (cmd: string, argv: string[]) => [cmd, ...argv].map((a) => (a === process.execPath ? 'node' : a === TRUNKLAB ? 'src/cli/trunklab.js' : a)).join(' ');
  return {
    uas,
    transport,
    best: lo,
    bestTrial: loTrial,
    trials,
    uacCommand: show(uacCmd, uacArgv),
    uasCommand: show(uasCmd, uas === 'sipp' ? uasArgv.map((a, i, all) => (all[i - 1] === '-m' ? 'N' : a)) : uasArgv),
  };
}

/** UAS CPU per call at one fixed rate, the median of a few trials: a figure to compare runs and UAS with. */
export interface FixedRateCpu {
  uas: Uas;
  transport: Transport;
  rate: number;
  seconds: number;
  /** Median over the trials that passed (0 when none did). */
  cpuUsPerCall: number;
  trials: Trial[];
}

/**
 * Runs `rounds` trials of `uas` at `rate` for `seconds` and takes the median
 * CPU time per call of those that passed. CPU per call at a rate both UAS
 * keep up with is what the UAS pays per call, with less of the machine's
 * other load in it than the highest passing rate has (on a shared machine a
 * busy sibling core still slows each instruction down: compare figures of
 * one run).
 */
export async function fixedRateCpu(uas: Uas, transport: Transport, rate: number, seconds: number, rounds: number, log: (line: string) => void = () => undefined): Promise<FixedRateCpu> {
  const trials: Trial[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = await trial(uas, transport, rate, seconds);
    trials.push(t);
    log(`  ${uas} ${transport} ${rate} calls/s, round ${i + 1}: ${t.pass ? 'pass' : `FAIL (${t.why})`}, UAS ${t.uasCpuUsPerCall.toFixed(0)} µs CPU/call`);
    await sleep(300);
  }
  const cpu = trials
    .filter((t) => t.pass)
    .map((t) => t.uasCpuUsPerCall)
    .sort((a, b) => a - b);
  return { uas, transport, rate, seconds, cpuUsPerCall: cpu.length === 0 ? 0 : cpu[Math.floor(cpu.length / 2)], trials };
}

/**
 * Full-path call rate: Lync user → Front End → Mediation Server → PSTN
 * gateway → 200 OK → ACK → BYE, every element on its own socket, capture tap
 * on (records kept in memory as the trace store would), next to SIPp
 * uac ↔ uas direct in the same run. For each transport of the trunk (UDP,
 * TCP; the Lync side is TCP) it finds the highest call rate that passes:
 * the rate doubles from `startRate` until a step fails, then it bisects
 * between the last rate that passed and the first that failed until they
 * are within `precision` of each other.
 *
 * Both sides are judged as bench/cps.ts judges a UAS: a step passes when
 * every call completed and the step did not fall behind (done within 5 %
 * of its time, + 0.3 s). Each lab step runs on a fresh lab, so an
 * overloaded step leaves nothing behind for the next; SIPp's uac and uas
 * are pinned to a core each, with 4 MB socket buffers.
 *
 * One full-path call is 17 SIP messages on 3 hops (INVITE, 200, ACK, BYE,
 * 200 on each, the 100 Trying of the Mediation Server and of the gateway),
 * each sent and received in the same Node process; SIPp's call is 6
 * messages between two processes. `messageRatio` compares the two message
 * for message.
 *
 * `benchFullPath()` returns the figures; `node bench/full-path.ts` prints
 * them, `node bench/full-path.ts --profile [udp|tcp] [RATE] [SECONDS]`
 * runs the lab under `node --cpu-prof` at a fixed rate (after a 2 s
 * warm-up) and prints where the time goes (`profileFullPath()`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTopologyInput, withFreePorts } from '../src/lync/free-ports.ts';
import { Lab } from '../src/lync/lab.ts';
import { parseTopology, type Transport } from '../src/lync/topology.ts';
import type { CaptureRecord } from '../src/sip/capture.ts';
import { listening } from './cps.ts';
import { type ProfileLine, summarizeProfile } from './profile.ts';

export interface FullPathFigure {
  transport: 'udp' | 'tcp';
  /** Highest calls/s through the full path with 0 failed calls. */
  labCps: number;
  /** Highest calls/s SIPp uac → SIPp uas direct with 0 failed calls. */
  sippCps: number;
  /** labCps / sippCps (goal ≥ 0.3). */
  ratio: number;
  capturedRecords: number;
  /** CPU time of the lab process per call (µs, user + system, all threads) at the highest passing rate. */
  labCpuUsPerCall?: number;
  /** SIP messages sent per full-path call (17: three hops, the 100 Trying of the Mediation Server and of the gateway). */
  labMessagesPerCall?: number;
  /**
   * Messages/s through the lab over messages/s between SIPp uac and uas (6
   * per call: INVITE, 180, 200, ACK, BYE, 200): the work rate compared
   * message for message. SIPp runs as two processes on two cores, the lab
   * in one process.
   */
  messageRatio?: number;
  /** Every step tried, in order: calls/s and failed calls. */
  labSteps?: RateStep[];
  sippSteps?: RateStep[];
}

export interface RateStep {
  rate: number;
  failed: number;
}

export interface FullPathOptions {
  /** Seconds per rate step. */
  stepSeconds?: number;
  /**
   * Fixed rates to try in order (the first failure stops), instead of the
   * doubling-then-bisecting search.
   */
  rates?: number[];
  /** First rate of the search (calls/s). Default 250. */
  startRate?: number;
  /** Highest rate tried. Default 32 000. */
  maxRate?: number;
  /** The search stops when (fail - pass) / pass is below this. Default 0.1. */
  precision?: number;
  transports?: Array<'udp' | 'tcp'>;
  /** Run the SIPp reference too (default true; false leaves sippCps and ratio 0). */
  sipp?: boolean;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

async function labStart(transport: Transport, tap: (r: CaptureRecord) => void): Promise<Lab> {
  const input = withFreePorts(readTopologyInput(path.join(root, 'fixtures/topologies/single-gateway.json')));
  input.frontEnd.tlsPort = null;
  for (const u of input.users ?? []) u.transport = 'tcp';
  for (const pool of input.mediationPools ?? []) for (const ms of pool.servers) {
    ms.frontEndTransport = 'tcp';
    ms.gatewayPorts = { ...ms.gatewayPorts, [transport]: 0 };
  }
  for (const p of input.peers ?? []) {
    p.transport = transport;
    p.behaviour = { ...p.behaviour, unknownNumber: { outcome: 'answer', answerAfterMs: 0, ringingAfterMs: null } };
  }
  for (const t of input.trunks ?? []) t.transport = transport;
  input.trunkConfiguration = { optionsIntervalMs: 60_000 };
  // Media sockets off: the benchmark measures SIP (RTP relaying is a separate cost).
  return Lab.start(parseTopology(input, 'bench'), { tap, media: false });
}

/**
 * Calls at `rate`/s for `seconds`; each hangs up as soon as it is answered.
 * Returns the failed calls and the process's CPU time per call (user +
 * system, µs: a figure that depends less on the machine's other load than
 * the highest rate does).
 */
async function labStep(lab: Lab, rate: number, seconds: number): Promise<LabStepResult> {
  const total = Math.max(1, Math.round(rate * seconds));
  const cpu0 = process.cpuUsage();
  const thread0 = process.threadCpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const waits: Array<Promise<boolean>> = [];
  const t0 = performance.now();
  const user = lab.users[0];
  // Calls due at the same millisecond go out together (timers have 1 ms resolution).
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const delay = due - performance.now();
    if (delay > 1) await new Promise((r) => setTimeout(r, delay));
    waits.push(
      new Promise<boolean>((resolve) => {
        const limit = setTimeout(() => resolve(false), 15_000);
        const s = user.call('+14255550199', {
          onConfirmed: () => s.hangup(),
          onEnd: (reason) => {
            clearTimeout(limit);
            resolve(reason.kind === 'bye' && s.confirmedAt !== null);
          },
        });
      }),
    );
  }
  const ok = await Promise.all(waits);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const thread = process.threadCpuUsage(thread0);
  const elu = performance.eventLoopUtilization(elu0);
  const failed = ok.filter((x) => !x).length;
  // As bench/cps.ts judges SIPp: every call completed, and no backlog (the run may stretch by 5 % and 0.3 s).
  const late = wallSeconds > seconds * 1.05 + 0.3;
  return {
    failed,
    pass: failed === 0 && !late,
    wallSeconds: Math.round(wallSeconds * 100) / 100,
    cpuUsPerCall: Math.round((cpu.user + cpu.system) / total),
    loopBusyPercent: Math.round(elu.utilization * 1000) / 10,
    mainThreadCpuUsPerCall: Math.round((thread.user + thread.system) / total),
  };
}

export interface LabStepResult {
  failed: number;
  /** 0 failed calls, and done within 5 % (+0.3 s) of the step's time. */
  pass: boolean;
  wallSeconds: number;
  /** CPU time of the process per call, µs (user + system, every thread: GC helpers included). */
  cpuUsPerCall: number;
  /** Event-loop utilization over the step, %. */
  loopBusyPercent: number;
  /**
   * CPU time of the main thread per call, µs: the cost of one call on the
   * event loop, the figure that sets the highest rate, and one that other
   * processes on the machine barely disturb.
   */
  mainThreadCpuUsPerCall: number;
}

/** One step on a fresh lab (an overloaded step leaves nothing behind for the next). */
async function labTrial(transport: Transport, rate: number, seconds: number, keep: boolean, warmupSeconds = 0): Promise<LabStepResult & { records: number; messagesPerCall: number }> {
  let records = 0;
  let sent = 0;
  const kept: CaptureRecord[] = [];
  const lab = await labStart(transport, (r) => {
    records++;
    // Every message sent is one 'out' record (a stream write or a datagram).
    if (r.direction === 'out') sent++;
    // Kept in memory as the trace store would (bounded).
    if (keep && kept.length < 1_000_000) kept.push(r);
  });
  try {
    // A fresh process compiles as it goes: a warm-up at the same rate keeps that out of the figures.
    if (warmupSeconds > 0) await labStep(lab, rate, warmupSeconds);
    records = 0;
    sent = 0;
    const step = await labStep(lab, rate, seconds);
    return { ...step, records, messagesPerCall: Math.round((sent / Math.max(1, Math.round(rate * seconds))) * 10) / 10 };
  } finally {
    await lab.stop();
  }
}


/** SIPp's built-in uac/uas call: INVITE, 180, 200, ACK, BYE, 200. */
const SIPP_MESSAGES_PER_CALL = 6;

const PIN = spawnSync('taskset', ['-V']).status === 0;

function sippCommand(cpu: number, args: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', String(cpu), 'sipp', ...args]] : ['sipp', args];
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * SIPp uac → SIPp uas direct at `rate` for `seconds`, judged as bench/cps.ts
 * judges it: each pinned to its own core, 4 MB socket buffers, every call
 * successful (uac exit 0) and no backlog (done within 5 % + 0.3 s).
 */
async function sippTrial(transport: 'udp' | 'tcp', rate: number, seconds: number): Promise<boolean> {
  const port = await freePort();
  const t = transport === 'udp' ? 'u1' : 't1';
  const calls = Math.max(1, Math.round(rate * seconds));
  const [uasCmd, uasArgs] = sippCommand(1, ['-sn', 'uas', '-t', t, '-i', '127.0.0.1', '-p', String(port), '-buff_size', '4194304', '-nostdin']);
  const uas = spawn(uasCmd, uasArgs, { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (await listening(transport, port)) break;
    }
    const [uacCmd, uacArgs] = sippCommand(0, ['-sn', 'uac', '-t', t, '-i', '127.0.0.1', '-p', '0', '-buff_size', '4194304', '-r', String(rate), '-m', String(calls), '-l', String(calls), '-d', '0', '-timeout', `${Math.ceil(seconds + 10)}s`, '-timeout_error', '-nostdin', `127.0.0.1:${port}`]);
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolve) => spawn(uacCmd, uacArgs, { stdio: 'ignore' }).once('exit', resolve));
    const wall = (performance.now() - t0) / 1000;
    return code === 0 && wall <= seconds * 1.05 + 0.3;
  } finally {
    uas.kill('SIGKILL');
  }
}

/** The highest passing rate: fixed `rates` in order, or doubling from `start` then bisecting. */
export async function highestRate(step: (rate: number) => Promise<number>, options: { rates?: number[]; start: number; max: number; precision: number }): Promise<{ best: number; steps: RateStep[] }> {
  const steps: RateStep[] = [];
  const tryRate = async (rate: number): Promise<boolean> => {
    const failed = await step(rate);
    steps.push({ rate, failed });
    return failed === 0;
  };
  if (options.rates !== undefined) {
    let best = 0;
    for (const rate of options.rates) {
      if (!(await tryRate(rate))) break;
      best = rate;
    }
    return { best, steps };
  }
  let pass = 0;
  let fail = 0;
  for (let rate = options.start; rate <= options.max; rate *= 2) {
    if (await tryRate(rate)) pass = rate;
    else {
      fail = rate;
      break;
    }
  }
  if (fail === 0) return { best: pass, steps };
  // Bisect [pass, fail): rounded to 10 calls/s.
  while (fail - pass > Math.max(10, pass * options.precision)) {
    const mid = Math.round((pass + fail) / 20) * 10;
    if (mid <= pass || mid >= fail) break;
    if (await tryRate(mid)) pass = mid;
    else fail = mid;
  }
  return { best: pass, steps };
}

export async function benchFullPath(options: FullPathOptions = {}): Promise<FullPathFigure[]> {
  const seconds = options.stepSeconds ?? 3;
  const search = { rates: options.rates, start: options.startRate ?? 250, max: options.maxRate ?? 32_000, precision: options.precision ?? 0.1 };
  const figures: FullPathFigure[] = [];
  for (const transport of options.transports ?? (['udp', 'tcp'] as const)) {
    let records = 0;
    const cpuAt = new Map<number, number>();
    const messagesAt = new Map<number, number>();
    const labResult = await highestRate(async (rate) => {
      const step = await labTrial(transport, rate, seconds, true);
      records += step.records;
      messagesAt.set(rate, step.messagesPerCall);
      cpuAt.set(rate, step.cpuUsPerCall);
      return step.pass ? 0 : Math.max(1, step.failed);
    }, search);
    const sippResult =
      options.sipp === false
        ? { best: 0, steps: [] }
        : await highestRate(async (rate) => ((await sippTrial(transport, rate, seconds)) ? 0 : 1), search);
    const labCps = labResult.best;
    const sippCps = sippResult.best;
    const messagesPerCall = messagesAt.get(labCpuStepRate(labResult)) ?? 0;
    figures.push({
      transport,
      labCps,
      sippCps,
      ratio: sippCps === 0 ? 0 : Math.round((labCps / sippCps) * 100) / 100,
      capturedRecords: records,
      labCpuUsPerCall: cpuAt.get(labCpuStepRate(labResult)) ?? 0,
      labMessagesPerCall: messagesPerCall,
      messageRatio: sippCps === 0 ? 0 : Math.round(((labCps * messagesPerCall) / (sippCps * SIPP_MESSAGES_PER_CALL)) * 100) / 100,
      labSteps: labResult.steps,
      sippSteps: sippResult.steps,
    });
  }
  return figures;
}

function labCpuStepRate(result: { best: number; steps: RateStep[] }): number {
  return result.best > 0 ? result.best : (result.steps[0]?.rate ?? 0);
}

export interface FullPathProfile {
  transport: 'udp' | 'tcp';
  rate: number;
  seconds: number;
  failed: number;
  pass: boolean;
  cpuUsPerCall: number;
  mainThreadCpuUsPerCall: number;
  loopBusyPercent: number;
  busyPercent: number;
  byArea: ProfileLine[];
  byFunction: ProfileLine[];
  command: string;
}

/** Runs the full path at a fixed rate in a child `node --cpu-prof` and sums its profile by area and function. */
export async function profileFullPath(transport: 'udp' | 'tcp', rate: number, seconds: number, top = 25): Promise<FullPathProfile> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-full-path-prof-'));
  try {
    const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, self, '--profile-child', transport, String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    await new Promise<void>((r) => child.once('close', () => r()));
    const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Partial<LabStepResult>;
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('node --cpu-prof wrote no profile');
    return {
      transport,
      rate,
      seconds,
      failed: result.failed ?? -1,
      pass: result.pass ?? false,
      cpuUsPerCall: result.cpuUsPerCall ?? 0,
      mainThreadCpuUsPerCall: result.mainThreadCpuUsPerCall ?? 0,
      loopBusyPercent: result.loopBusyPercent ?? 0,
      ...summarizeProfile(path.join(dir, file), top),
      command: `node --cpu-prof bench/full-path.ts --profile-child ${transport} ${rate} ${seconds}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === self) {
  const [mode, transportArg, rateArg, secondsArg] = process.argv.slice(2);
  const transport = transportArg === 'tcp' ? 'tcp' : 'udp';
  if (mode === '--profile-child') {
    console.log(JSON.stringify(await labTrial(transport, Number(rateArg), Number(secondsArg), false, 2)));
  } else if (mode === '--profile') {
    const profile = await profileFullPath(transport, Number(rateArg ?? 1000), Number(secondsArg ?? 5));
    console.log(JSON.stringify({ ...profile, byArea: undefined, byFunction: undefined }));
    for (const l of profile.byArea) console.log(`${l.percent.toFixed(1).padStart(5)} %  ${l.name}`);
    console.log('--');
    for (const l of profile.byFunction) console.log(`${l.percent.toFixed(1).padStart(5)} %  ${l.name}`);
  } else {
    const stepSeconds = Number(process.env.STEP_SECONDS ?? 3);
    for (const f of await benchFullPath({ stepSeconds })) console.log(JSON.stringify(f));
  }
}

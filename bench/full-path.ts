/**
 * Full-path call rate: Lync user → Front End → Mediation Server → PSTN
 * gateway → 200 OK → ACK → BYE, every element on its own socket, capture tap
 * on (records kept in memory as the trace store would), next to SIPp
 * uac ↔ uas direct in the same run. For each transport of the trunk (UDP,
 * TCP; the Lync side is TCP) it raises the call rate step by step and keeps
 * the highest rate with 0 failed calls.
 *
 * `benchFullPath()` returns the figures; `node bench/full-path.ts` prints them.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTopologyInput, withFreePorts } from '../src/lync/free-ports.ts';
import { Lab } from '../src/lync/lab.ts';
import { parseTopology, type Transport } from '../src/lync/topology.ts';
import type { CaptureRecord } from '../src/sip/capture.ts';

export interface FullPathFigure {
  transport: 'udp' | 'tcp';
  /** Highest calls/s through the full path with 0 failed calls. */
  labCps: number;
  /** Highest calls/s SIPp uac → SIPp uas direct with 0 failed calls. */
  sippCps: number;
  /** labCps / sippCps (goal ≥ 0.3). */
  ratio: number;
  capturedRecords: number;
}

export interface FullPathOptions {
  /** Seconds per rate step. */
  stepSeconds?: number;
  rates?: number[];
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

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
  return Lab.start(parseTopology(input, 'bench'), { tap });
}

/** Calls at `rate`/s for `seconds`; each hangs up as soon as it is answered. Returns failed calls. */
async function labStep(lab: Lab, rate: number, seconds: number): Promise<number> {
  const total = Math.max(1, Math.round(rate * seconds));
  const waits: Array<Promise<boolean>> = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const delay = due - performance.now();
    if (delay > 1) await new Promise((r) => setTimeout(r, delay));
    const user = lab.users[0];
    waits.push(
      new Promise<boolean>((resolve) => {
        const s = user.call('+14255550199', {
          onConfirmed: () => s.hangup(),
          onEnd: (reason) => resolve(reason.kind === 'bye' && s.confirmedAt !== null),
        });
        setTimeout(() => resolve(false), 15_000).unref();
      }),
    );
  }
  const ok = await Promise.all(waits);
  return ok.filter((x) => !x).length;
}

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

async function sippStep(transport: 'udp' | 'tcp', rate: number, seconds: number): Promise<number> {
  const port = await freePort();
  const t = transport === 'udp' ? 'u1' : 't1';
  const uas = spawn('sipp', ['-sn', 'uas', '-t', t, '-i', '127.0.0.1', '-p', String(port), '-nostdin'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const total = Math.max(1, Math.round(rate * seconds));
  const uac = await run(['-sn', 'uac', '-t', t, '-i', '127.0.0.1', '-p', '0', '-r', String(rate), '-m', String(total), '-d', '0', '-nostdin', '-timeout', String(seconds + 20), `127.0.0.1:${port}`]);
  uas.kill('SIGKILL');
  return uac.code === 0 ? 0 : 1;
}

async function highest(step: (rate: number) => Promise<number>, rates: number[]): Promise<number> {
  let best = 0;
  for (const rate of rates) {
    if ((await step(rate)) > 0) break;
    best = rate;
  }
  return best;
}

export async function benchFullPath(options: FullPathOptions = {}): Promise<FullPathFigure[]> {
  const seconds = options.stepSeconds ?? 3;
  const rates = options.rates ?? [100, 200, 400, 800, 1200, 1600, 2000, 3000, 4000, 6000, 8000];
  const figures: FullPathFigure[] = [];
  for (const transport of ['udp', 'tcp'] as const) {
    let records = 0;
    const kept: CaptureRecord[] = [];
    const lab = await labStart(transport, (r) => {
      records++;
      if (kept.length < 1_000_000) kept.push(r);
    });
    let labCps = 0;
    try {
      labCps = await highest((rate) => labStep(lab, rate, seconds), rates);
    } finally {
      await lab.stop();
    }
    const sippCps = await highest((rate) => sippStep(transport, rate, seconds), rates);
    figures.push({ transport, labCps, sippCps, ratio: sippCps === 0 ? 0 : Math.round((labCps / sippCps) * 100) / 100, capturedRecords: records });
  }
  return figures;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const stepSeconds = Number(process.env.STEP_SECONDS ?? 3);
  for (const f of await benchFullPath({ stepSeconds })) console.log(JSON.stringify(f));
}

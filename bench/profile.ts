/**
 * Where `trunklab uas` spends its time: SIPp's uac at a fixed rate against
 * `node --cpu-prof src/cli/trunklab.js uas`, then the V8 profile summed by
 * function (self time) and by area (parser, transaction layer, GC, ...).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, TRUNKLAB, type Transport, uacArgs } from './cps.ts';

export interface ProfileLine {
  name: string;
  /** Share of all samples, %. */
  percent: number;
}

export interface UasProfile {
  transport: Transport;
  rate: number;
  calls: number;
  /** Share of samples the process was busy (not idle), %. */
  busyPercent: number;
  byArea: ProfileLine[];
  byFunction: ProfileLine[];
  command: string;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The area a sampled function belongs to, from its file. */
function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)' || fn === '(root)') return 'V8/native (program)';
  const rel = url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
  if (rel.startsWith('src/')) {
    const file = rel.replace(/^src\//, '');
    if (/^sip\/transaction/.test(file)) return 'src/sip/transaction-*.ts';
    if (/^sip\/(parser|message|grammar|header-names|uri|via|name-addr)\.ts$/.test(file)) return 'src/sip parsing (parser, message, uri, via, name-addr)';
    return `src/${file}`;
  }
  if (rel.includes('node_modules/')) return rel.replace(/.*node_modules\/((?:@[^/]+\/)?[^/]+).*/, 'node_modules/$1');
  if (rel.startsWith('node:dgram') || rel.startsWith('node:net') || rel.startsWith('node:internal/dgram') || rel.startsWith('node:internal/stream_base')) return 'Node sockets (dgram/net)';
  if (rel.startsWith('node:internal/modules') || rel.includes('amaro') || rel.startsWith('wasm://')) return 'Node module loading / type stripping (start-up)';
  if (rel.startsWith('node:')) return 'Node internals (timers, promises, events, ...)';
  return rel === '' ? 'V8/native' : rel;
}

/** Sums a .cpuprofile by self time. */
export function summarizeProfile(file: string, top = 20): { busyPercent: number; byArea: ProfileLine[]; byFunction: ProfileLine[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  let total = 0;
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = Math.max(0, p.timeDeltas[i] ?? 0);
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let idle = 0;
  for (const [id, t] of self) {
    const n = nodes.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const a = area(url, functionName);
    if (a === 'idle') idle += t;
    byArea.set(a, (byArea.get(a) ?? 0) + t);
    const where = url ? ` ${url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + t);
  }
  const lines = (m: Map<string, number>, n: number): ProfileLine[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, t]) => ({ name, percent: (100 * t) / total }));
  return { busyPercent: (100 * (total - idle)) / total, byArea: lines(byArea, 30), byFunction: lines(byFunction, top).filter((l) => l.name !== '(idle)') };
}

/** Profiles `trunklab uas` under SIPp's uac at `rate` calls/s for `seconds`. */
export async function profileUas(transport: Transport, rate: number, seconds: number): Promise<UasProfile> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-prof-'));
  try {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const uasArgv = ['--cpu-prof', `--cpu-prof-dir=${dir}`, TRUNKLAB, 'uas', '--listen', `127.0.0.1:${port}`, '--transport', transport];
    // stdout to a file, as in the rate search (see cps.ts).
    const outFile = path.join(dir, 'uas.out');
    const fd = openSync(outFile, 'w');
    const uas = spawn('taskset', ['-c', '1', process.execPath, ...uasArgv], { cwd: dir, stdio: ['ignore', fd, 'ignore'] });
    closeSync(fd);
    const uasExited = new Promise<void>((r) => uas.once('close', () => r()));
    const by = Date.now() + 15_000;
    while (!readFileSync(outFile, 'utf8').includes('"listening"') && Date.now() < by) await new Promise((r) => setTimeout(r, 50));
    const calls = Math.round(rate * seconds);
    const [cmd, argv] = uacArgs(transport, port, port + 1, rate, calls, Math.ceil(seconds + 10));
    const uac = spawn(cmd, argv, { cwd: dir, stdio: 'ignore' });
    await new Promise<void>((r) => uac.once('close', () => r()));
    uas.kill('SIGTERM');
    await uasExited;
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('node --cpu-prof wrote no profile');
    const s = summarizeProfile(path.join(dir, file));
    return {
      transport,
      rate,
      calls,
      ...s,
      command: `node --cpu-prof src/cli/trunklab.js uas --listen 127.0.0.1:PORT --transport ${transport}  ←  sipp -sn uac -r ${rate} -m ${calls} (${seconds} s)`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

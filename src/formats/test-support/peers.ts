/**
 * Running the peer tools of the format tests (tshark, dumpcap, sngrep, SIPp):
 * locating them, free loopback ports, running a command to completion, and
 * long-running processes that are always stopped.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Absolute path of a program on PATH, or null. */
export function which(program: string): string | null {
  const r = spawnSync('which', [program], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The first of the programs that is missing, for `t.skip(...)`; null when all exist. */
export function missingTool(...programs: string[]): string | null {
  for (const p of programs) if (!which(p)) return `${p} is not installed`;
  return null;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell). */
export function run(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out after ${options.timeoutMs ?? 30000} ms\n${stderr}`));
    }, options.timeoutMs ?? 30000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A tool that exits without reading its input closes the pipe: that is not the test's failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** tshark's "Running as user root" banner and similar noise, removed from stderr. */
export function tsharkErrors(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.includes('Running as user'))
    .join('\n');
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => {
      const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      udp.once('error', () => {
        udp.close();
        srv.close(() => resolve(false));
      });
      udp.bind({ address: host, port, exclusive: true }, () => {
        udp.close();
        srv.close(() => resolve(true));
      });
    });
  });
}

/** `count` distinct ports free for both TCP and UDP on `host` (random in 20000-59999). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < count && tries < 500; tries++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if (out.includes(p)) continue;
    if (await canBind(host, p)) out.push(p);
  }
  if (out.length < count) throw new Error(`no free ports on ${host}`);
  return out;
}

/** A started background process; `stop()` ends it (signal, then SIGKILL) and waits. */
export interface Background {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function background(cmd: string, args: string[], options: { cwd?: string } = {}): Background {
  const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', (code) => resolve(code));
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done) {
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

/** Resolves when `text` appears on the process's stderr (or rejects on exit / timeout). */
export async function waitForStderr(p: Background, text: string, timeoutMs = 10000): Promise<void> {
  const start = Date.now();
  let exited = false;
  void p.exited.then(() => {
    exited = true;
  });
  while (!p.stderr().includes(text)) {
    if (exited) throw new Error(`process exited before printing "${text}": ${p.stderr()}`);
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for "${text}": ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SIPp as a process in the tests that play a device with it (qualify, lync,
 * cli): started with its output kept, a server waited for until it listens,
 * and always ended. Built on the format tests' process helpers.
 *
 * A server is ready when its port is bound (UDP) or listening (TCP), read
 * from /proc/net: no fixed pause (SIPp takes 50-100 ms to start here, more
 * under load) and no probe connection of our own, which SIPp would count
 * (and a reset one would end it, see below).
 *
 * SIPp 3.6.1 ends (or stops listening) when a TCP peer resets the connection
 * (SIPp issue #672): a Lab that stops with SIPp's last answer unread in its
 * socket resets it. A test that runs more than one `trunklab` process
 * against a TCP device starts a fresh SIPp for each.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Background, background, missingTool, sleep } from '../../formats/test-support/peers.ts';
import { portBound } from '../../formats/test-support/sipp-run.ts';
import { freePort } from '../../sip/transport-testing.ts';

/** Why the SIPp tests cannot run here (a `skip` value), or false. */
export const NO_SIPP: string | false = missingTool('sipp') ?? false;

export interface Sipp extends Background {
  /** The end of its stdout and stderr, for assertion messages. */
  output(): string;
  /** Ends it (SIGKILL unless told) and waits. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SippServer extends Sipp {
  port: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** SIPp with `args` (and -nostdin); ended by `stop()` or, at the latest, when the test process exits. */
export function startSipp(args: string[], options: { cwd?: string } = {}): Sipp {
  const p = background('sipp', [...args, '-nostdin'], options);
  running.add(p.child);
  void p.exited.then(() => running.delete(p.child));
  return { ...p, output: () => `${p.stdout()}${p.stderr()}`.slice(-8000), stop: (signal = 'SIGKILL') => p.stop(signal) };
}

export interface SippServerOptions {
  /** `-t t1` or `-t u1` (default tcp). */
  transport?: 'tcp' | 'udp';
  /** Address it listens on (default 127.0.0.1). */
  host?: string;
  /** Its port (default: one free now). */
  port?: number;
  cwd?: string;
  /** How long it may take to listen (default 15 s). */
  timeoutMs?: number;
}

/**
 * SIPp as a server (`args`: its scenario and options; transport, address
 * and port are added), resolved once it listens. A scenario SIPp refuses
 * ends it at once: that throws `sipp exited: …` instead of testing against
 * nobody.
 */
export async function startSippServer(args: string[], o: SippServerOptions = {}): Promise<SippServer> {
  const transport = o.transport ?? 'tcp';
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? (await freePort(transport, host));
  const timeoutMs = o.timeoutMs ?? 15_000;
  const sipp = startSipp([...args, '-t', transport === 'tcp' ? 't1' : 'u1', '-i', host, '-p', String(port)], { cwd: o.cwd });
  let exited = false;
  void sipp.exited.then(() => {
    exited = true;
  });
  const limit = Date.now() + timeoutMs;
  while (!(await portBound(port, transport))) {
    if (exited) throw new Error(`sipp exited (code ${sipp.child.exitCode}): ${sipp.output().slice(-1000)}`);
    if (Date.now() > limit) {
      await sipp.stop();
      throw new Error(`sipp did not listen on ${host}:${port}/${transport} within ${timeoutMs} ms: ${sipp.output().slice(-1000)}`);
    }
    await sleep(20);
  }
  return { ...sipp, port };
}

/** Writes a scenario to DIR/NAME.xml for `-sf`; returns its path. */
export function scenarioFile(dir: string, name: string, xml: string): string {
  const file = path.join(dir, `${name}.xml`);
  writeFileSync(file, xml);
  return file;
}

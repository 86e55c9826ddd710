/**
 * `--originate-wait SECONDS` and `--originate-cmd "CMD"`: how `trunklab
 * suite` / `trunklab run` get an external device to place the calls of the
 * cases that start at it (calls from the PSTN side towards Lync).
 *
 * Each time a case needs the device to act, one line on stderr tells the
 * engineer what to do (dial which number, towards which Mediation Server;
 * later: hang up), and the case waits up to --originate-wait seconds
 * (default 30) for it. With --originate-cmd, CMD also runs (`sh -c`), with
 * what to do in environment variables, so a pipeline can drive the device
 * (an API call to a call generator, or SIPp as in the tests):
 *
 * | variable | value |
 * |---|---|
 * | TRUNKLAB_ACTION | `call`, then `hangup` or `cancel` when the case wants the device to end its call |
 * | TRUNKLAB_CASE, TRUNKLAB_CALL | the case id, the scenario's name for the call (`main`) |
 * | TRUNKLAB_PEER | the device's peer name (`gw-a`) |
 * | TRUNKLAB_FROM | the calling number the case names (`+14255550110`) |
 * | TRUNKLAB_DIAL | the number to dial (`+14255550101`: alice's Line URI) |
 * | TRUNKLAB_CALLEE | the Lync user it reaches (`alice`), or empty |
 * | TRUNKLAB_TARGET | where the INVITE goes: the Mediation Server's `HOST:PORT/transport` |
 * | TRUNKLAB_TARGET_HOST, TRUNKLAB_TARGET_PORT, TRUNKLAB_TRANSPORT, TRUNKLAB_MEDIATION | the same, split; the server's name |
 * | TRUNKLAB_WAIT_MS | how long the case waits |
 *
 * A `call` command may keep running for the whole call (SIPp does); it is
 * stopped (SIGTERM to its process group, SIGKILL 2 s later) when its case
 * ends. One that exits non-zero before the device called ends the wait: the
 * case is skipped with the command's last output line as the reason.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { OriginateHandle, OriginateOptions, OriginateRequest } from '../qualify/device-call.ts';
import { UsageError } from './args.ts';

export function originateWaitMs(value: unknown): number {
  if (value === undefined) return 30_000;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 3600) {
    throw new UsageError(`--originate-wait must be a number of seconds from 0 to 3600, got ${JSON.stringify(value)}`);
  }
  return Math.round(n * 1000);
}

function target(r: OriginateRequest): string {
  const host = r.mediation.host.includes(':') ? `[${r.mediation.host}]` : r.mediation.host;
  return `${host}:${r.mediation.port}/${r.mediation.transport}`;
}

/** The line that tells the engineer what the device must do now. */
export function instruction(r: OriginateRequest): string {
  const wait = `waiting up to ${Math.round(r.waitMs / 1000)} s`;
  switch (r.action) {
    case 'call':
      return `${r.case}: place a call from ${r.peer} (the device under test): dial ${r.dial}${r.callee ? ` (${r.callee})` : ''} as ${r.from}, INVITE to ${r.mediation.name} at ${target(r)}; ${wait}`;
    case 'hangup':
      return `${r.case}: hang up the call at ${r.peer} (BYE); ${wait}`;
    case 'cancel':
      return `${r.case}: give up the call at ${r.peer} while it rings (CANCEL); ${wait}`;
  }
}

export function originateEnv(r: OriginateRequest): Record<string, string> {
  return {
    TRUNKLAB_ACTION: r.action,
    TRUNKLAB_CASE: r.case,
    TRUNKLAB_CALL: r.call,
    TRUNKLAB_PEER: r.peer,
    TRUNKLAB_FROM: r.from,
    TRUNKLAB_DIAL: r.dial,
    TRUNKLAB_CALLEE: r.callee ?? '',
    TRUNKLAB_TARGET: target(r),
    TRUNKLAB_TARGET_HOST: r.mediation.host,
    TRUNKLAB_TARGET_PORT: String(r.mediation.port),
    TRUNKLAB_TRANSPORT: r.mediation.transport,
    TRUNKLAB_MEDIATION: r.mediation.name,
    TRUNKLAB_WAIT_MS: String(r.waitMs),
  };
}

const running = new Set<ChildProcess>();
let exitHook = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** Runs CMD for one request; its output goes to stderr, prefixed with the case. */
function runHook(command: string, r: OriginateRequest, err: (line: string) => void): OriginateHandle {
  const child = spawn('sh', ['-c', command], { env: { ...process.env, ...originateEnv(r) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of running) killGroup(c, 'SIGKILL');
    });
  }
  let last = '';
  const prefix = `[--originate-cmd ${r.case} ${r.action}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() !== '') last = line.trim();
        err(`${prefix}${line}`);
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: string }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error: error.message }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  void exited.then(() => running.delete(child));
  const failed = exited.then(
    (x) =>
      new Promise<string>((resolve) => {
        if (x.error !== undefined) resolve(`--originate-cmd could not start: ${x.error}`);
        else if (x.code !== 0 && x.signal === null) resolve(`--originate-cmd exited with code ${x.code}${last ? `: ${last}` : ''}`);
        // A command that succeeded (or was stopped) leaves the wait to --originate-wait.
      }),
  );
  return {
    failed,
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The runner's originate options: an instruction on `err` for every request, and the hook when given. */
export function originateOptions(options: Record<string, unknown>, err: (line: string) => void): OriginateOptions {
  const waitMs = originateWaitMs(options['originate-wait']);
  const command = options['originate-cmd'];
  if (command !== undefined && (typeof command !== 'string' || command.trim() === '')) throw new UsageError('--originate-cmd needs a command');
  return {
    waitMs,
    request(r: OriginateRequest): OriginateHandle | undefined {
      err(instruction(r));
      return typeof command === 'string' ? runHook(command, r, err) : undefined;
    },
  };
}

/**
 * Running SIPp against a server for the scenario tests: a server (SIPp or
 * `trunklab uas`) in the background, SIPp as the client for one call, and
 * the verdict from both sides' `-trace_stat` files (SuccessfulCall in
 * column 16, FailedCall in column 18).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Background, background, run, sleep } from './peers.ts';

/** True when a socket is bound to `port` (UDP) or listens on it (TCP), per /proc/net. */
export async function portBound(port: number, transport: 'udp' | 'tcp'): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const f of transport === 'udp' ? ['udp', 'udp6'] : ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/net/${f}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[1].endsWith(hex) && (transport === 'udp' || cols[3] === '0A')) return true;
    }
  }
  return false;
}

export async function waitForPort(port: number, transport: 'udp' | 'tcp', p: Background, timeoutMs = 10000): Promise<void> {
  const start = Date.now();
  let exited = false;
  void p.exited.then(() => {
    exited = true;
  });
  while (!(await portBound(port, transport))) {
    if (exited) throw new Error(`server exited before binding port ${port}: ${p.stderr()} ${p.stdout()}`);
    if (Date.now() - start > timeoutMs) throw new Error(`server never bound port ${port}`);
    await sleep(20);
  }
}

export interface StatVerdict {
  successful: number;
  failed: number;
  /**
   * Of the failed calls, those SIPp tore down because the peer closed the TCP
   * connection (column 26): a server in its timewait after a complete call
   * counts that as a failure even against SIPp's own uac.
   */
  tcpClosed: number;
}

/** The last line of a SIPp `-trace_stat` CSV. */
export async function sippStats(file: string): Promise<StatVerdict> {
  const text = await readFile(file, 'utf8');
  const lines = text.trim().split('\n');
  const cols = lines[lines.length - 1].split(';');
  return { successful: Number(cols[15]), failed: Number(cols[17]), tcpClosed: Number(cols[25]) };
}

export interface PairResult {
  client: StatVerdict;
  /** SIPp server's verdict; null when the server is not SIPp. */
  server: StatVerdict | null;
  clientOutput: string;
}

/**
 * Runs `server` (args of a SIPp or other command) in the background, waits
 * for its port, then runs the SIPp client for one call. Both are stopped.
 */
export async function runSippPair(o: {
  dir: string;
  host: string;
  transport: 'udp' | 'tcp';
  serverPort: number;
  clientPort: number;
  /** Server: `['sipp', ...args]` (a SIPp server gets -trace_stat added) or another command. */
  server: string[];
  /** Client scenario: `['-sn', 'uac']` or `['-sf', file]`. */
  client: string[];
}): Promise<PairResult> {
  const t = o.transport === 'tcp' ? 't1' : 'u1';
  const serverIsSipp = o.server[0] === 'sipp';
  const tag = `${o.transport}-${o.serverPort}`;
  const serverStat = join(o.dir, `server-${tag}.csv`);
  const clientStat = join(o.dir, `client-${tag}.csv`);
  const common = ['-i', o.host, '-t', t, '-m', '1', '-nostdin', '-timeout', '20s', '-trace_stat', '-fd', '1'];
  const srvArgs = serverIsSipp ? [...o.server.slice(1), '-p', String(o.serverPort), ...common, '-stf', serverStat, '-trace_err'] : o.server.slice(1);
  const srv = background(o.server[0], srvArgs, { cwd: o.dir });
  try {
    await waitForPort(o.serverPort, o.transport, srv);
    const target = o.host.includes(':') ? `[${o.host}]:${o.serverPort}` : `${o.host}:${o.serverPort}`;
    const client = await run('sipp', [target, ...o.client, '-p', String(o.clientPort), ...common, '-stf', clientStat, '-trace_err'], { cwd: o.dir, timeoutMs: 40000 });
    let server: StatVerdict | null = null;
    if (serverIsSipp) {
      // The server ends on its own after its call (and timewait).
      const deadline = Date.now() + 15000;
      while (srv.child.exitCode === null && Date.now() < deadline) await sleep(50);
      server = await sippStats(serverStat);
    }
    return { client: await sippStats(clientStat), server, clientOutput: client.stdout + client.stderr };
  } finally {
    await srv.stop('SIGKILL');
  }
}

/**
 * Interop of the UA core and `trunklab uas` with SIPp (Debian's `sipp`) over
 * UDP and TCP, and with ourselves over TLS (Debian's SIPp has no TLS):
 *
 * - SIPp's built-in `uac` scenario places 1,000 calls on `trunklab uas`:
 *   SIPp's exit code and statistics, and the uas's own summary, must say that
 *   every call was answered and ended by BYE. (SIPp alone is not enough: its
 *   `recv response="200"` after the BYE also takes a retransmitted 200 for the
 *   INVITE, so a lost BYE can pass as a successful call.)
 * - A UAC written here on `UserAgent.invite` places calls on SIPp's built-in
 *   `uas` scenario, waits for each to be confirmed and hangs up with BYE;
 *   SIPp's statistics must count every call successful.
 * - The same UAC over TLS against `trunklab uas --transport tls`, its own TLS
 *   listening point using a certificate made here with node:crypto.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildOffer } from '../sdp/offer-answer.ts';
import type { TransportProtocol } from './capture.ts';
import { createTestCertificate } from './tls-test-cert.ts';
import { createTransactionLayer } from './transaction-layer.ts';
import { type ConnectionEvent, createTransport, type TransportOptions } from './transport.ts';
import { freePort, sleep } from './transport-testing.ts';
import { type Session, UserAgent } from './user-agent.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'src', 'cli', 'trunklab.js');

function hasSipp(): boolean {
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch (err) {
    // `sipp -v` exits non-zero on some versions but still runs.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
const SIPP = hasSipp();

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Spawns a child that `after` (and the test's own cleanup) kills; output is kept (the last 20 kB). */
function start(t: TestContext, command: string, args: string[], cwd = ROOT): { child: ChildProcess; output: () => string; exited: Promise<Exit> } {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  const keep = (c: Buffer): void => {
    output = (output + c.toString('latin1')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, output });
    });
    child.once('error', (err) => {
      children.delete(child);
      resolve({ code: null, signal: null, output: `${output}${err.message}` });
    });
  });
  return { child, output: () => output, exited };
}

async function waitFor(cond: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `trunklab uas ARGS --listen 127.0.0.1:0`, once it listens. */
async function startUas(t: TestContext, transport: TransportProtocol, extra: string[] = []) {
  const p = start(t, process.execPath, [BIN, 'uas', '--listen', '127.0.0.1:0', '--transport', transport, ...extra]);
  await waitFor(() => jsonLines(p.output()).some((o) => o.listening), 'the uas to listen', 20_000);
  const listening = String(jsonLines(p.output()).find((o) => o.listening)?.listening);
  const port = Number(/:(\d+)$/.exec(listening)?.[1]);
  return {
    ...p,
    port,
    /** SIGTERM, then the summary line. */
    async stop(): Promise<Record<string, number>> {
      p.child.kill('SIGTERM');
      const exit = await p.exited;
      assert.equal(exit.code, 0, exit.output.slice(-2000));
      const summary = jsonLines(exit.output).find((o) => o.summary)?.summary as Record<string, number> | undefined;
      assert.ok(summary, exit.output.slice(-2000));
      return summary;
    },
  };
}

/** The last row of a SIPp `-trace_stat` file, by column name. */
function sippStats(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'latin1').split(/\r?\n/).filter((l) => l.trim().length > 0);
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h, last[i]]));
}

/** A SIPp run in a temporary folder with `-trace_stat`; resolves with its exit and last statistics row. */
function sipp(t: TestContext, args: string[], limitMs: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stf = path.join(dir, 'stats.csv');
  const p = start(t, 'sipp', [...args, '-nostdin', '-trace_stat', '-stf', stf, '-fd', '1', '-buff_size', '4194304'], dir);
  const killer = setTimeout(() => p.child.kill('SIGKILL'), limitMs);
  return {
    child: p.child,
    result: p.exited.then((exit) => {
      clearTimeout(killer);
      return { ...exit, stats: sippStats(stf) };
    }),
  };
}

/** A UserAgent on 127.0.0.1 for one transport (TLS: with a certificate made now). */
async function clientUa(t: TestContext, transport: TransportProtocol) {
  const options: TransportOptions = { listen: [{ transport, host: '127.0.0.1', port: 0 }] };
  if (transport === 'tls') {
    const cert = await createTestCertificate({ ips: ['127.0.0.1'] });
    // The uas makes its own throw-away certificate at start: nothing to verify it against.
    options.tls = { key: cert.key, cert: cert.cert, rejectUnauthorized: false };
  }
  const tp = await createTransport(options);
  const connections: ConnectionEvent[] = [];
  tp.onConnection((e) => connections.push(e));
  const layer = createTransactionLayer(tp);
  t.after(async () => {
    layer.close();
    await tp.close();
  });
  return { ua: new UserAgent(tp, layer, { product: 'trunklab-interop-uac', supported: ['timer'] }), connections };
}

interface PlacedCall {
  session: Session;
  provisional: number[];
  confirmed: boolean;
  end: string;
}

/**
 * Places `count` calls, `concurrency` at a time, from `ua` to `dest`: each waits for the 2xx (ACKed by the core),
 * then hangs up with BYE. Resolves when every call has ended.
 */
async function placeCalls(ua: UserAgent, dest: { transport: TransportProtocol; host: string; port: number }, count: number, concurrency: number): Promise<PlacedCall[]> {
  const results: PlacedCall[] = [];
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const provisional: number[] = [];
      let confirmed = false;
      ua.invite({
        target: `sip:service@${dest.host}:${dest.port}${dest.transport === 'udp' ? '' : `;transport=${dest.transport}`}`,
        dest,
        from: `<sip:+14255550101@127.0.0.1>`,
        sdp: buildOffer({ address: '127.0.0.1', port: 40000 + 2 * (next % 1000), mediationStyle: true }),
        events: {
          onProvisional: (res) => provisional.push(res.status),
          onConfirmed: (s) => {
            confirmed = true;
            s.hangup();
          },
          onEnd: (reason, s) => {
            results.push({ session: s, provisional, confirmed, end: reason.kind === 'rejected' ? String(reason.status) : reason.kind });
            resolve();
          },
        },
      });
    });
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function tcpReady(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on TCP ${port} after ${ms} ms`);
    await sleep(50);
  }
}

const sippMissing = SIPP ? false : 'sipp is not installed';

describe('SIPp uac → trunklab uas', { skip: sippMissing }, () => {
  for (const transport of ['udp', 'tcp'] as const) {
    test(`${transport.toUpperCase()}: 1,000 calls at 500 calls/s, all answered and ended by BYE, none failed`, { timeout: 90_000 }, async (t) => {
      const uas = await startUas(t, transport);
      const calls = 1000;
      const args = ['-sn', 'uac', `127.0.0.1:${uas.port}`, '-i', '127.0.0.1', '-m', String(calls), '-r', '500', '-l', '1000', '-timeout', '60s', '-timeout_error'];
      if (transport === 'tcp') args.push('-t', 't1');
      const run = await sipp(t, args, 75_000).result;
      const why = `SIPp exit ${run.code} ${run.signal ?? ''}\n${run.output.slice(-3000)}`;
      assert.equal(run.code, 0, why);
      assert.equal(run.stats['SuccessfulCall(C)'], String(calls), why);
      assert.equal(run.stats['FailedCall(C)'], '0', why);
      const summary = await uas.stop();
      assert.deepEqual(
        { calls: summary.calls, answered: summary.answered, completed: summary.completed, failed: summary.failed, invalid: summary.invalid, screened: summary.screened },
        { calls, answered: calls, completed: calls, failed: 0, invalid: 0, screened: 0 },
      );
      t.diagnostic(`SIPp retransmissions: ${run.stats['Retransmissions(C)']}`);
    });
  }
});

describe('UserAgent.invite → SIPp uas', { skip: sippMissing }, () => {
  for (const transport of ['udp', 'tcp'] as const) {
    test(`${transport.toUpperCase()}: 200 calls, 20 at a time, confirmed then hung up with BYE; SIPp counts all successful`, { timeout: 90_000 }, async (t) => {
      const calls = 200;
      const port = await freePort(transport);
      const args = ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-m', String(calls), '-timeout', '60s', '-timeout_error'];
      if (transport === 'tcp') args.push('-t', 't1');
      const server = sipp(t, args, 75_000);
      if (transport === 'tcp') await tcpReady(port, 10_000);
      else await sleep(300); // SIPp binds at once; a lost first INVITE would be retransmitted anyway
      const { ua, connections } = await clientUa(t, transport);
      const results = await placeCalls(ua, { transport, host: '127.0.0.1', port }, calls, 20);
      const run = await server.result;
      const why = `SIPp exit ${run.code} ${run.signal ?? ''}\n${run.output.slice(-3000)}`;
      assert.equal(run.code, 0, why);
      assert.equal(run.stats['SuccessfulCall(C)'], String(calls), why);
      assert.equal(run.stats['FailedCall(C)'], '0', why);
      assert.equal(results.length, calls);
      for (const r of results) {
        assert.equal(r.end, 'bye', `${r.session.callId}: ${r.end}`);
        assert.ok(r.confirmed);
        assert.ok(r.provisional.includes(180), `${r.session.callId}: provisionals ${r.provisional.join(',')}`);
        assert.match(r.session.remoteSdp ?? '', /^v=0\r\n/m, 'SIPp answers with SDP');
      }
      assert.equal(ua.sessionCount, 0);
      if (transport === 'tcp') assert.equal(connections.filter((c) => c.type === 'open').length, 1, 'one TCP connection for all calls');
    });
  }
});

describe('UserAgent.invite → trunklab uas over TLS (SIPp has no TLS)', () => {
  test('50 calls, 10 at a time, on one TLS connection; the uas counts them all completed', { timeout: 60_000 }, async (t) => {
    const uas = await startUas(t, 'tls', ['--ring-ms', '20']);
    const { ua, connections } = await clientUa(t, 'tls');
    const results = await placeCalls(ua, { transport: 'tls', host: '127.0.0.1', port: uas.port }, 50, 10);
    assert.equal(results.length, 50);
    for (const r of results) {
      assert.equal(r.end, 'bye', `${r.session.callId}: ${r.end}`);
      assert.deepEqual(
        r.provisional.filter((s) => s > 100),
        [180],
      );
    }
    const opened = connections.filter((c) => c.type === 'open');
    assert.equal(opened.length, 1, JSON.stringify(connections));
    assert.equal(opened[0].transport, 'tls');
    // The BYEs are answered before the uas stops: give the last 200s a moment, then stop it.
    await sleep(100);
    const summary = await uas.stop();
    assert.equal(summary.calls, 50);
    assert.equal(summary.answered, 50);
    assert.equal(summary.completed, 50);
  });
});

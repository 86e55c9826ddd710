/**
 * `trunklab options HOST:PORT [--transport udp|tcp|tls] [--count N] [--interval-ms N]`:
 * OPTIONS like a Mediation Server's keep-alive, one JSON line per probe with
 * status and round-trip time, then a summary. Exit 0 when every probe sent got
 * a 2xx, 1 otherwise. SIGINT/SIGTERM stop after the probe in flight.
 */
import { createTransactionLayer } from '../sip/transaction-layer.ts';
import { createTransport, type TransportLayer } from '../sip/transport.ts';
import { UserAgent } from '../sip/user-agent.ts';
import { intOption, parseArgs, parseHostPort, transportOption, UsageError } from './args.ts';
import { testTlsOptions } from './tls.ts';

export async function optionsCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, {
    transport: { type: 'string' },
    count: { type: 'string' },
    'interval-ms': { type: 'string' },
    from: { type: 'string' },
    't1-ms': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('options needs exactly one HOST:PORT');
  const target = parseHostPort(positionals[0], 'target');
  const transport = transportOption(options.transport);
  const count = intOption(options.count, 'count', 1, 1_000_000) ?? 1;
  const interval = intOption(options['interval-ms'], 'interval-ms', 0, 3_600_000) ?? 1000;
  const t1 = intOption(options['t1-ms'], 't1-ms', 10, 10_000);
  const v6 = target.host.includes(':');
  const local = options.from === undefined ? (v6 ? '::1' : '127.0.0.1') : parseHostPort(String(options.from), '--from').host;
  const tp = await createTransport({ listen: [{ transport, host: local, port: 0 }], tls: transport === 'tls' ? await testTlsOptions(local) : undefined });
  const layer = createTransactionLayer(tp, t1 ? { timers: { t1 } } : {});
  const ua = new UserAgent(tp, layer, { product: 'RTCC/5.0.0.0 MediationServer' });
  const hostText = v6 ? `[${target.host}]` : target.host;
  const uri = `sip:${hostText}:${target.port}${transport === 'udp' ? '' : `;transport=${transport}`}`;
  let ok = 0;
  const rtts: number[] = [];
  let stopped = false;
  const onSignal = (): void => {
    stopped = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Over TCP/TLS a server that closes the connection (a TLS port given plain TCP, a server that refuses us) ends the
  // probe at once, as a transport error (RFC 3261 §17.1.4 / §18.4), instead of leaving it to Timer F.
  const closed = streamCloseWatch(tp, target, transport);
  let sent = 0;
  for (let i = 1; i <= count && !stopped; i++) {
    sent++;
    const probe = ua.sendOptions(uri, { transport, host: target.host, port: target.port });
    const r = transport === 'udp' ? await probe : await Promise.race([probe, closed.next()]);
    const rtt = Math.round(r.rttMs * 1000) / 1000;
    if (r.response) {
      if (r.response.status >= 200 && r.response.status < 300) {
        ok++;
        rtts.push(rtt);
      }
      out(JSON.stringify({ seq: i, status: r.response.status, reason: r.response.reason, rttMs: rtt, server: r.response.get('server') ?? r.response.get('user-agent') ?? null }));
    } else out(JSON.stringify({ seq: i, status: null, error: r.error, rttMs: rtt }));
    if (i < count && interval > 0 && !stopped) await new Promise((res) => setTimeout(res, interval));
  }
  closed.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // Stopped by a signal, the summary counts the probes actually sent.
  const avg = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null;
  out(JSON.stringify({ summary: { sent, ok, failed: sent - ok, avgRttMs: avg === null ? null : Math.round(avg * 1000) / 1000, maxRttMs: rtts.length ? Math.max(...rtts) : null } }));
  layer.close();
  await tp.close();
  return sent > 0 && ok === sent ? 0 : 1;
}

type ProbeResult = Awaited<ReturnType<UserAgent['sendOptions']>>;

/**
 * Resolves `next()` with a failed probe when a connection to the target closes, with the reason the transport gives.
 * A TLS server that gets plain text closes without a word (Node and OpenSSL send no alert), hence the hint.
 */
function streamCloseWatch(tp: TransportLayer, target: { host: string; port: number }, transport: 'udp' | 'tcp' | 'tls'): { next(): Promise<ProbeResult>; stop(): void } {
  let startedAt = performance.now();
  let waiter: ((r: ProbeResult) => void) | null = null;
  const sameHost = (h: string): boolean => h === target.host || h.replace(/^::ffff:/, '') === target.host;
  tp.onConnection((event) => {
    if (waiter === null || event.type !== 'close' || event.remote.port !== target.port || !sameHost(event.remote.host)) return;
    const hint = transport === 'tcp' ? '; if the port speaks TLS, use --transport tls' : '';
    const resolve = waiter;
    waiter = null;
    resolve({ response: null, rttMs: performance.now() - startedAt, error: `connection closed by the server without an answer (${event.reason ?? 'closed'})${hint}` });
  });
  return {
    next(): Promise<ProbeResult> {
      startedAt = performance.now();
      return new Promise((resolve) => {
        waiter = resolve;
      });
    },
    stop(): void {
      waiter = null;
    },
  };
}

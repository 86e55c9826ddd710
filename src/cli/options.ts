/**
 * `trunklab options HOST:PORT [--transport udp|tcp|tls] [--count N] [--interval-ms N]`:
 * OPTIONS like a Mediation Server's keep-alive, one JSON line per probe with
 * status and round-trip time, then a summary. Exit 0 when every probe sent got
 * a 2xx, 1 otherwise. SIGINT/SIGTERM stop after the probe in flight.
 */
import { createTransactionLayer } from '../sip/transaction-layer.ts';
import { createTransport } from '../sip/transport.ts';
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
  let sent = 0;
  for (let i = 1; i <= count && !stopped; i++) {
    sent++;
    const r = await ua.sendOptions(uri, { transport, host: target.host, port: target.port });
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
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // Stopped by a signal, the summary counts the probes actually sent.
  const avg = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null;
  out(JSON.stringify({ summary: { sent, ok, failed: sent - ok, avgRttMs: avg === null ? null : Math.round(avg * 1000) / 1000, maxRttMs: rtts.length ? Math.max(...rtts) : null } }));
  layer.close();
  await tp.close();
  return sent > 0 && ok === sent ? 0 : 1;
}

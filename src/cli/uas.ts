/**
 * `trunklab uas --listen HOST:PORT [--transport udp|tcp|tls] [--answer CODE]
 * [--ring-ms N] [--early-media]`: an answering UAS for quick tests. Each
 * INVITE gets 180 (or 183 with SDP for --early-media), then after --ring-ms
 * the final answer (200 with an SDP answer, or CODE); BYE is answered. One
 * line per call on stdout, a summary on SIGINT/SIGTERM.
 */
import { buildAnswer, buildOffer } from '../sdp/offer-answer.ts';
import { createTransactionLayer } from '../sip/transaction-layer.ts';
import { createTransport } from '../sip/transport.ts';
import { UserAgent } from '../sip/user-agent.ts';
import { intOption, parseArgs, parseHostPort, transportOption, UsageError } from './args.ts';
import { testTlsOptions } from './tls.ts';

export async function uasCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, {
    listen: { type: 'string' },
    transport: { type: 'string' },
    answer: { type: 'string' },
    'ring-ms': { type: 'string' },
    'early-media': { type: 'boolean' },
    json: { type: 'boolean' },
    'max-calls': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (typeof options.listen !== 'string') throw new UsageError('--listen HOST:PORT is required');
  const listen = parseHostPort(options.listen, '--listen');
  const transport = transportOption(options.transport);
  const answer = intOption(options.answer, 'answer', 200, 699) ?? 200;
  const ringMs = intOption(options['ring-ms'], 'ring-ms', 0, 3_600_000) ?? 0;
  const maxCalls = intOption(options['max-calls'], 'max-calls', 1, 1e9);
  const earlyMedia = options['early-media'] === true;

  const tp = await createTransport({
    listen: [{ transport, host: listen.host, port: listen.port }],
    tls: transport === 'tls' ? await testTlsOptions(listen.host) : undefined,
  });
  const layer = createTransactionLayer(tp, { tryingDelay: ringMs > 0 ? 0 : false });
  const ua = new UserAgent(tp, layer, { product: 'trunklab-uas', supported: ['timer'] });
  const sentBy = tp.sentBy(transport);
  out(JSON.stringify({ listening: `${transport}:${sentBy.host.includes(':') ? `[${sentBy.host}]` : sentBy.host}:${sentBy.port}`, answer, ringMs, earlyMedia }));

  const stats = { calls: 0, answered: 0, rejected: 0, cancelled: 0, completed: 0, failed: 0, invalid: 0, screened: 0 };
  tp.onInvalid(() => {
    stats.invalid++;
  });
  ua.onScreened = () => {
    stats.screened++;
  };
  const timers = new Set<NodeJS.Timeout>();
  let mediaPort = 20000;
  ua.onInvite = (session, req) => {
    stats.calls++;
    const offer = session.remoteSdp;
    const local = tp.sentBy(transport).host;
    mediaPort = mediaPort >= 60000 ? 20000 : mediaPort + 2;
    let sdp: string | null = null;
    if (offer) {
      const a = buildAnswer(offer, { address: local, port: mediaPort });
      if (!a.ok) {
        session.reject(488, `Not Acceptable Here - ${a.reason}`);
        stats.rejected++;
        out(JSON.stringify({ call: req.callId, from: req.from?.uriText, to: req.requestUri, result: 488 }));
        return;
      }
      sdp = a.sdp;
    } else sdp = buildOffer({ address: local, port: mediaPort });
    session.progress(earlyMedia ? 183 : 180, earlyMedia ? (sdp ?? undefined) : undefined);
    const finish = (): void => {
      if (session.ended) return;
      if (answer >= 300) {
        session.reject(answer);
        stats.rejected++;
        return;
      }
      session.answer(sdp);
      stats.answered++;
    };
    session.events.onEnd = (reason) => {
      if (reason.kind === 'bye') stats.completed++;
      else if (reason.kind === 'cancelled') stats.cancelled++;
      else if (reason.kind !== 'rejected') stats.failed++;
      out(
        JSON.stringify({
          call: session.callId,
          from: req.from?.uriText,
          to: req.requestUri,
          result: reason.kind === 'rejected' ? reason.status : reason.kind,
          durationMs: Math.round(performance.now() - session.createdAt),
        }),
      );
      if (maxCalls !== undefined && stats.completed + stats.rejected + stats.cancelled + stats.failed >= maxCalls) stop('max-calls');
    };
    if (ringMs === 0) finish();
    else {
      const t = setTimeout(() => {
        timers.delete(t);
        finish();
      }, ringMs);
      timers.add(t);
    }
  };

  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearTimeout(t);
    out(JSON.stringify({ summary: { ...stats, stoppedBy: why } }));
    layer.close();
    void tp.close().then(() => resolveDone(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return done;
}

/**
 * `trunklab uas --listen HOST:PORT [--transport udp|tcp|tls] [--answer CODE]
 * [--ring-ms N] [--early-media] [--max-calls N]`: an answering UAS for quick
 * tests. Each INVITE gets 180 (or 183 with SDP for --early-media), then after
 * --ring-ms the final answer (200 with an SDP answer, or CODE); BYE is
 * answered. One line per call on stdout, a summary on SIGINT/SIGTERM or once
 * N calls have ended (after the answer to the last BYE is on the wire).
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

  // One stdout write per event-loop turn rather than one per call: fewer system calls at thousands of calls/s, and on
  // Linux a pipe write is synchronous (`trunklab uas | jq` blocks whenever the reader is behind).
  const pending: string[] = [];
  let flushQueued = false;
  const flush = (): void => {
    flushQueued = false;
    if (pending.length === 0) return;
    out(pending.join('\n'));
    pending.length = 0;
  };
  const line = (text: string): void => {
    pending.push(text);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };
  const answers = new AnswerCache();

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
    if (stopping) {
      session.reject(503, 'Service Unavailable - shutting down');
      return;
    }
    stats.calls++;
    const offer = session.remoteSdp;
    const local = tp.sentBy(transport).host;
    mediaPort = mediaPort >= 60000 ? 20000 : mediaPort + 2;
    let sdp: string | null = null;
    if (offer) {
      const a = answers.answer(offer, local, mediaPort);
      if (!a.ok) {
        session.reject(488, `Not Acceptable Here - ${a.reason}`);
        stats.rejected++;
        line(JSON.stringify({ call: req.callId, from: req.from?.uriText, to: req.requestUri, result: 488 }));
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
      line(
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
    // --max-calls stops from inside the last call's end, which for a BYE comes right after its 200 was handed to the
    // transport: closing there would lose it (a UDP send completes on a later turn; a destroyed TCP socket drops its
    // queue). Linger so the 200 reaches the wire and, over UDP, a retransmitted BYE is still answered from the
    // transaction (RFC 3261 §17.2.2: the full Timer J would be 32 s; one T1 covers the first retransmission).
    const linger = why === 'max-calls' ? (transport === 'udp' ? layer.timers.t1 : 50) : 0;
    setTimeout(() => {
      flush();
      out(JSON.stringify({ summary: { ...stats, stoppedBy: why } }));
      layer.close();
      void tp.close().then(() => resolveDone(0));
    }, linger);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return done;
}

/**
 * SDP answers by offer. SIPp, and most devices under test, send the same offer on every call; parsing it again
 * (sdp-transform) costs about 6 µs of a call's ~200 µs of CPU. The answer is built once per distinct offer with
 * marker values for the session id and the media port, and each call fills in its own.
 */
class AnswerCache {
  static readonly #SESSION = '3141592653';
  static readonly #PORT = 65021;
  readonly #byOffer = new Map<string, { ok: true; parts: [string, string, string] | null } | { ok: false; reason: string }>();

  answer(offer: string, address: string, port: number): { ok: true; sdp: string } | { ok: false; reason: string } {
    const key = `${address}\u0000${offer}`;
    let entry = this.#byOffer.get(key);
    if (entry === undefined) {
      const a = buildAnswer(offer, { address, port: AnswerCache.#PORT, sessionId: AnswerCache.#SESSION });
      if (!a.ok) entry = { ok: false, reason: a.reason };
      else {
        const session = `o=- ${AnswerCache.#SESSION} `;
        const media = `m=audio ${AnswerCache.#PORT} `;
        const i = a.sdp.indexOf(session);
        const j = a.sdp.indexOf(media);
        const unique = i >= 0 && j > i && a.sdp.indexOf(session, i + 1) < 0 && a.sdp.indexOf(media, j + 1) < 0;
        // Markers not found exactly once (an unusual offer): no template, build every answer.
        entry = {
          ok: true,
          parts: unique ? [a.sdp.slice(0, i + 4), a.sdp.slice(i + session.length - 1, j + 8), a.sdp.slice(j + media.length - 1)] : null,
        };
      }
      if (this.#byOffer.size >= 256) this.#byOffer.clear();
      this.#byOffer.set(key, entry);
    }
    if (!entry.ok) return entry;
    if (entry.parts === null) {
      const a = buildAnswer(offer, { address, port });
      return a.ok ? { ok: true, sdp: a.sdp } : { ok: false, reason: a.reason };
    }
    const [head, middle, tail] = entry.parts;
    return { ok: true, sdp: `${head}${Math.floor(Math.random() * 1e9)}${middle}${port}${tail}` };
  }
}

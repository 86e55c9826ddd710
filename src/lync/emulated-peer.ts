/**
 * An emulated peer of the Mediation pool: a PSTN gateway, an IP-PBX or an
 * ITSP SBC (the three differ in defaults and names, see `gateway.ts`,
 * `ip-pbx.ts`, `sbc.ts`). It
 * - answers OPTIONS with its configured status, or not at all (looks dead);
 * - sends its own OPTIONS keep-alives when `optionsIntervalMs` is set;
 * - plays the behaviour of the dialed number (`behaviourForNumber`) on calls
 *   from the Mediation Server, including the hold answer and RFC 4733 digits;
 * - originates calls towards Lync over its trunks (DNS round robin over the
 *   pool's Mediation Servers, retrying on another one on 5xx / timeout when
 *   `retryOnOtherMediationServer`);
 * - answers REFER with `referResponse`; on 202 it places the new call to the
 *   Refer-To number towards Lync, reports it with NOTIFY (RFC 3515) and ends
 *   the transferred call (a PSTN gateway doing a blind transfer).
 */
import { buildOffer } from '../sdp/offer-answer.ts';
import type { SipMessage } from '../sip/message.ts';
import type { ServerTransaction } from '../sip/transaction-server.ts';
import { type EndReason, type Session, type SessionEvents, UserAgent } from '../sip/user-agent.ts';
import { behaviourForNumber } from './call-behaviour.ts';
import { dialString } from './dial-plan.ts';
import { answerReinvite, playBehaviour } from './endpoint-behaviour.ts';
import { RoundRobin } from './round-robin.ts';
import { MediaPorts, type SipStack, uriHost } from './sip-stack.ts';
import type { Peer, Topology, Trunk } from './topology.ts';
import { trunksTowardsLync } from './trunk.ts';

export interface PeerContext {
  topology: Topology;
  /** A Mediation Server seen as down (stopped) by this peer. */
  isMediationServerDown?(name: string): boolean;
  onIncoming?(session: Session, request: SipMessage, peer: EmulatedPeer): void;
  onDigits?(session: Session, digits: string, payloadType: number): void;
  log?(level: 'info' | 'warn' | 'error', text: string): void;
}

/** A call the peer places towards Lync, over one trunk after another. */
export class PeerCall {
  session: Session | null = null;
  readonly trunks: string[] = [];
  readonly sessions: Session[] = [];
  ended = false;
  endReason: EndReason | null = null;
  onSession: ((session: Session) => void) | null = null;
}

export class EmulatedPeer {
  readonly peer: Peer;
  readonly stack: SipStack;
  readonly ua: UserAgent;
  readonly ctx: PeerContext;
  readonly roundRobin = new RoundRobin();
  readonly #media: MediaPorts;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(peer: Peer, stack: SipStack, ctx: PeerContext) {
    this.peer = peer;
    this.stack = stack;
    this.ctx = ctx;
    this.#media = new MediaPorts(50000 + (Number(peer.address.split('.').pop()) % 50) * 200);
    this.ua = new UserAgent(stack.transport, stack.layer, {
      product: peer.behaviour.userAgent,
      supported: ['timer', 'replaces'],
      onRequest: (req, tx) => this.#outOfDialog(req, tx),
    });
    this.ua.onInvite = (session, req) => this.#incoming(session, req);
  }

  get name(): string {
    return this.peer.name;
  }

  start(): void {
    const interval = this.peer.behaviour.optionsIntervalMs;
    if (interval === null) return;
    const tick = (): void => {
      for (const trunk of this.trunks()) {
        const host = uriHost(trunk.mediationAddress);
        void this.ua.sendOptions(`sip:${host}:${trunk.mediationPort}`, { transport: trunk.transport, host: trunk.mediationAddress, port: trunk.mediationPort });
      }
      const t = setTimeout(tick, interval);
      this.#timers.clear();
      this.#timers.add(t);
    };
    tick();
  }

  trunks(): Trunk[] {
    return this.ctx.topology.trunks.filter((t) => t.peer === this.peer.name);
  }

  #outOfDialog(req: SipMessage, tx: ServerTransaction): boolean {
    if (req.method !== 'OPTIONS') return false;
    const status = this.peer.behaviour.optionsResponse;
    if (status === null) return true; // silent: no answer at all
    const res = this.ua.buildResponse(tx, status, undefined, false);
    res.append('Accept', 'application/sdp');
    tx.respond(res);
    return true;
  }

  #incoming(session: Session, request: SipMessage): void {
    const dialed = dialString(request.requestUri);
    const behaviour = behaviourForNumber(this.peer, dialed);
    this.ctx.onIncoming?.(session, request, this);
    session.events.onRequest = (req, s) => (req.method === 'REFER' ? this.#referred(req, s) : 200);
    playBehaviour(session, behaviour, { address: this.peer.address, port: this.#media.take() }, {
      onDigits: (digits, pt) => this.ctx.onDigits?.(session, digits, pt),
    });
  }

  /** Places a call from `from` (a number behind this peer) to `to` (as the PSTN dials it) towards Lync. */
  call(from: string, to: string, events: SessionEvents = {}): PeerCall {
    const call = new PeerCall();
    const order = trunksTowardsLync(this.ctx.topology, this.peer.name, this.roundRobin, (name) => this.ctx.isMediationServerDown?.(name) ?? false);
    const attempt = (index: number): void => {
      const trunk = order[index];
      if (trunk === undefined) return;
      call.trunks.push(trunk.name);
      const host = uriHost(trunk.mediationAddress);
      const target = `sip:${to}@${host}:${trunk.mediationPort};user=phone`;
      const last = index === order.length - 1;
      const mediaPort = this.#media.take();
      const session = this.ua.invite({
        target,
        dest: { transport: trunk.transport, host: trunk.mediationAddress, port: trunk.mediationPort },
        from: `<sip:${from}@${uriHost(this.peer.address)};user=phone>`,
        to: `<sip:${to}@${host};user=phone>`,
        sdp: buildOffer({ address: this.peer.address, port: mediaPort, telephoneEvent: 101 }),
        events: {
          ...events,
          onEnd: (reason, s) => {
            const retry =
              !last &&
              s.state !== 'confirmed' &&
              (reason.kind === 'timeout' || reason.kind === 'transport-error' || (reason.kind === 'rejected' && reason.status >= 500 && reason.status < 600));
            if (retry) {
              this.ctx.log?.('info', `${this.name}: call to ${to} failed on ${trunk.name} (${reason.kind}), retrying on the next Mediation Server`);
              attempt(index + 1);
              return;
            }
            call.ended = true;
            call.endReason = reason;
            events.onEnd?.(reason, s);
          },
        },
      });
      session.events.onRequest = (req, s) => (req.method === 'REFER' ? this.#referred(req, s) : 200);
      // The calling PSTN number's hold answer applies to calls this peer places too (a=inactive from Lync).
      const holdAnswer = behaviourForNumber(this.peer, from).holdAnswer;
      session.events.onReinvite ??= (request, s) => answerReinvite(request, s, { address: this.peer.address, port: mediaPort }, holdAnswer);
      call.session = session;
      call.sessions.push(session);
      call.onSession?.(session);
    };
    attempt(0);
    return call;
  }

  /** REFER from the Mediation Server (EnableReferSupport): blind transfer done by the peer. */
  #referred(req: SipMessage, session: Session): number {
    const status = this.peer.behaviour.referResponse;
    if (status !== 202) return status;
    const referTo = req.get('refer-to') ?? '';
    const target = dialString(/<([^>]*)>/.exec(referTo)?.[1] ?? referTo);
    const notify = (frag: string, state: string): void => {
      void session.sendInDialog('NOTIFY', { type: 'message/sipfrag;version=2.0', content: `${frag}\r\n` }, [
        { name: 'Event', value: 'refer' },
        { name: 'Subscription-State', value: state },
      ]);
    };
    const caller = dialString(session.direction === 'incoming' ? (session.inviteRequest?.from?.uriText ?? '') : (session.dialog?.localUri ?? ''));
    setImmediate(() => {
      notify('SIP/2.0 100 Trying', 'active;expires=60');
      this.call(caller || 'anonymous', target, {
        onConfirmed: () => {
          notify('SIP/2.0 200 OK', 'terminated;reason=noresource');
          session.hangup();
        },
        onEnd: (reason) => {
          if (reason.kind === 'rejected') notify(`SIP/2.0 ${reason.status} ${reason.reason}`, 'terminated;reason=noresource');
        },
      });
    });
    return 202;
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.ua.hangupAll();
    await this.stack.close();
  }
}

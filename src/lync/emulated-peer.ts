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
 *   the transferred call (a PSTN gateway doing a blind transfer). A Refer-To
 *   with an embedded Replaces (attended transfer, RFC 3891) puts the
 *   Replaces on that INVITE; when it names one of the peer's own dialogs
 *   (both parties are behind this peer) the peer joins the two in the PSTN
 *   instead and ends both dialogs with BYE;
 * - a calling number with `reliableProvisional` sends `Require: 100rel`
 *   (every 18x from the Mediation Server comes reliably and gets a PRACK);
 *   one with `callerPresentation: restricted` (or a call placed as
 *   anonymous) calls with `From: "Anonymous" <sip:anonymous@anonymous.invalid>`,
 *   `Privacy: id` and its number in `P-Asserted-Identity` (RFC 3325 §9.1,
 *   RFC 3323 §4.1.1.3);
 * - sends RFC 4733 digits on the call's RTP (a called number's `sendDigits`,
 *   in early media or after answering; a calling number's `sendDigits`
 *   once its call is answered) and records the digits it receives; its
 *   offers carry the calling number's `dtmfPayloadType` (none when null).
 */
import { buildOffer } from '../sdp/offer-answer.ts';
import { parseReplaces, splitUriHeaders } from '../sip/dialog.ts';
import type { SipMessage } from '../sip/message.ts';
import type { ServerTransaction } from '../sip/transaction-server.ts';
import { type EndReason, type Session, type SessionEvents, UserAgent } from '../sip/user-agent.ts';
import { behaviourForNumber } from './call-behaviour.ts';
import { dialString } from './dial-plan.ts';
import type { ReceivedDigit } from '../media/dtmf-receiver.ts';
import type { DigitsSent } from '../media/rtp-session.ts';
import { isDtmfString } from '../media/telephone-event.ts';
import { describeMalformed, ElementMedia, lastOctet, type MediaSettings } from './call-media.ts';
import { answerReinvite, negotiatedTelephoneEvent, playBehaviour } from './endpoint-behaviour.ts';
import { RoundRobin } from './round-robin.ts';
import { type SipStack, uriHost } from './sip-stack.ts';
import type { Peer, Topology, Trunk } from './topology.ts';
import { trunksTowardsLync } from './trunk.ts';

export interface PeerContext {
  topology: Topology;
  /** A Mediation Server seen as down (stopped) by this peer. */
  isMediationServerDown?(name: string): boolean;
  onIncoming?(session: Session, request: SipMessage, peer: EmulatedPeer): void;
  /** Digits the peer sends (before they go out as RFC 4733 events). */
  onDigits?(session: Session, digits: string, payloadType: number): void;
  /** A digit that reached the peer's RTP socket. */
  onReceivedDigit?(session: Session, digit: ReceivedDigit): void;
  /** RTP sockets on or off (default on). */
  media?: MediaSettings;
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
  readonly #media: ElementMedia;
  readonly #digitTimers = new Set<NodeJS.Timeout>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(peer: Peer, stack: SipStack, ctx: PeerContext) {
    this.peer = peer;
    this.stack = stack;
    this.ctx = ctx;
    this.#media = new ElementMedia({ [peer.address]: 50000 + (lastOctet(peer.address) % 50) * 200 }, ctx.media ?? { enabled: true }, {
      onDigit: (session, digit) => ctx.onReceivedDigit?.(session, digit),
      onMalformed: (_session, report) => ctx.log?.('warn', `${peer.name}: malformed RTP ${describeMalformed(report)}`),
      warn: (text) => ctx.log?.('warn', `${peer.name}: ${text}`),
    });
    this.ua = new UserAgent(stack.transport, stack.layer, {
      product: peer.behaviour.userAgent,
      supported: ['100rel', 'timer', 'replaces'],
      onRequest: (req, tx) => this.#outOfDialog(req, tx),
    });
    this.ua.onInvite = (session, req) => this.#incoming(session, req);
  }

  get name(): string {
    return this.peer.name;
  }

  /** The peer's RTP (ports, sessions per call). */
  get media(): ElementMedia {
    return this.#media;
  }

  /**
   * Sends digits as RFC 4733 events on a call's RTP (the far end's
   * telephone-event payload type); resolves when the last end packet is
   * out (`sent` null: media sockets are off, the digits are only reported).
   */
  async sendDigits(session: Session, digits: string): Promise<{ payloadType: number; sent: DigitsSent | null }> {
    if (!isDtmfString(digits)) throw new Error(`not DTMF digits: ${JSON.stringify(digits)}`);
    if (session.remoteSdp === null || session.localSdp === null) throw new Error('no SDP exchanged yet: DTMF cannot be sent');
    const pt = negotiatedTelephoneEvent(session);
    if (pt === null) throw new Error('the call has no telephone-event (RFC 4733) in its SDP: DTMF cannot be sent');
    this.ctx.onDigits?.(session, digits, pt);
    if (!this.#media.enabled) return { payloadType: pt, sent: null };
    return { payloadType: pt, sent: await this.#media.sendDigits(session, digits) };
  }

  #behaviourDigits(session: Session, digits: string): void {
    this.sendDigits(session, digits).catch((error: Error) => this.ctx.log?.('warn', `${this.name}: DTMF ${digits} not sent: ${error.message}`));
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
    const port = this.#media.take();
    this.#media.attach(session, port);
    playBehaviour(session, behaviour, { address: this.peer.address, port }, {
      onDigits: (digits) => this.#behaviourDigits(session, digits),
    });
  }

  /**
   * Places a call from `from` (a number behind this peer) to `to` (as the PSTN dials it) towards Lync.
   * `anonymous` restricts the caller ID whatever the number's `callerPresentation`; `headers` go on the
   * INVITE (a Replaces, for an attended transfer).
   */
  call(from: string, to: string, events: SessionEvents = {}, options: { anonymous?: boolean; headers?: Array<{ name: string; value: string }> } = {}): PeerCall {
    const call = new PeerCall();
    const caller = behaviourForNumber(this.peer, from);
    const restricted = options.anonymous === true || caller.callerPresentation === 'restricted';
    const order = trunksTowardsLync(this.ctx.topology, this.peer.name, this.roundRobin, (name) => this.ctx.isMediationServerDown?.(name) ?? false);
    const attempt = (index: number): void => {
      const trunk = order[index];
      if (trunk === undefined) return;
      call.trunks.push(trunk.name);
      const host = uriHost(trunk.mediationAddress);
      const target = `sip:${to}@${host}:${trunk.mediationPort};user=phone`;
      const last = index === order.length - 1;
      const mediaPort = this.#media.take();
      const own = `<sip:${from}@${uriHost(this.peer.address)};user=phone>`;
      const headers = [...(options.headers ?? [])];
      if (restricted) headers.push({ name: 'Privacy', value: 'id' }, { name: 'P-Asserted-Identity', value: own });
      if (caller.reliableProvisional) headers.push({ name: 'Require', value: '100rel' });
      const session = this.ua.invite({
        target,
        dest: { transport: trunk.transport, host: trunk.mediationAddress, port: trunk.mediationPort },
        from: restricted ? '"Anonymous" <sip:anonymous@anonymous.invalid>' : own,
        to: `<sip:${to}@${host};user=phone>`,
        sdp: buildOffer({ address: this.peer.address, port: mediaPort, telephoneEvent: caller.dtmfPayloadType }),
        headers,
        events: {
          ...events,
          onConfirmed: (s) => {
            events.onConfirmed?.(s);
            this.#callerDigits(s, caller);
          },
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
      this.#media.attach(session, mediaPort);
      session.events.onRequest = (req, s) => (req.method === 'REFER' ? this.#referred(req, s) : 200);
      // The calling PSTN number's hold answer applies to calls this peer places too (a=inactive from Lync).
      const holdAnswer = caller.holdAnswer;
      session.events.onReinvite ??= (request, s) => answerReinvite(request, s, { address: this.peer.address, port: mediaPort }, holdAnswer);
      call.session = session;
      call.sessions.push(session);
      call.onSession?.(session);
    };
    attempt(0);
    return call;
  }

  /** The calling number's `sendDigits`, `sendDigitsAfterMs` after its call is answered. */
  #callerDigits(session: Session, caller: ReturnType<typeof behaviourForNumber>): void {
    const digits = caller.sendDigits;
    if (digits === null || caller.dtmfPayloadType === null) return;
    const t = setTimeout(() => {
      this.#digitTimers.delete(t);
      if (!session.ended) this.#behaviourDigits(session, digits);
    }, caller.sendDigitsAfterMs);
    this.#digitTimers.add(t);
  }

  /** REFER from the Mediation Server (EnableReferSupport): blind or attended (Replaces) transfer done by the peer. */
  #referred(req: SipMessage, session: Session): number {
    const status = this.peer.behaviour.referResponse;
    if (status !== 202) return status;
    const referTo = req.get('refer-to') ?? '';
    const { uri, replaces } = splitUriHeaders(/<([^>]*)>/.exec(referTo)?.[1] ?? referTo.trim());
    const target = dialString(uri);
    if (replaces !== null && parseReplaces(replaces) === null) return 400;
    const notify = (frag: string, state: string): void => {
      void session.sendInDialog('NOTIFY', { type: 'message/sipfrag;version=2.0', content: `${frag}\r\n` }, [
        { name: 'Event', value: 'refer' },
        { name: 'Subscription-State', value: state },
      ]);
    };
    const caller = dialString(session.direction === 'incoming' ? (session.inviteRequest?.from?.uriText ?? '') : (session.dialog?.localUri ?? ''));
    const local = replaces === null ? null : this.ua.sessionForReplaces(parseReplaces(replaces) as NonNullable<ReturnType<typeof parseReplaces>>);
    setImmediate(() => {
      notify('SIP/2.0 100 Trying', 'active;expires=60');
      if (local !== null) {
        // Both parties are behind this peer: joined in the PSTN, both dialogs with the transferor end.
        this.ctx.log?.('info', `${this.name}: attended transfer joins two of its own calls (${session.callId}, ${local.callId})`);
        notify('SIP/2.0 200 OK', 'terminated;reason=noresource');
        local.hangup();
        session.hangup();
        return;
      }
      this.call(caller || 'anonymous', target, {
        onConfirmed: () => {
          notify('SIP/2.0 200 OK', 'terminated;reason=noresource');
          session.hangup();
        },
        onEnd: (reason) => {
          if (reason.kind === 'rejected') notify(`SIP/2.0 ${reason.status} ${reason.reason}`, 'terminated;reason=noresource');
        },
      }, { headers: replaces === null ? [] : [{ name: 'Replaces', value: replaces }] });
    });
    return 202;
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const t of this.#digitTimers) clearTimeout(t);
    this.#digitTimers.clear();
    this.ua.hangupAll();
    await Promise.all([this.stack.close(), this.#media.stop()]);
  }
}

/**
 * An emulated Lync endpoint (a signed-in Lync 2013 client): registers with
 * the Front End, places calls through it, answers by its `CallBehaviour`,
 * holds with `a=inactive` (as Lync does), resumes, transfers with REFER,
 * sends DTMF (RFC 4733: reported, media is not emulated) and hangs up.
 *
 * What it dials goes to the Front End as Lync clients send it: a user's SIP
 * URI as is, an E.164 number as `sip:+N@domain;user=phone`, anything else as
 * `sip:DIGITS;phone-context=dialstring@domain;user=phone` for the Front End
 * to normalize with the user's dial plan (server-side normalization).
 */
import { buildOffer, reoffer } from '../sdp/offer-answer.ts';
import { newCallId, newTag, OutgoingMessage } from '../sip/builder.ts';
import type { SipMessage } from '../sip/message.ts';
import type { Destination } from '../sip/transport-types.ts';
import { type Session, type SessionEvents, UserAgent } from '../sip/user-agent.ts';
import { isE164 } from './dial-plan.ts';
import { negotiatedTelephoneEvent, playBehaviour, sdpForIncoming } from './endpoint-behaviour.ts';
import { findUserBySipUri } from './routing.ts';
import { MediaPorts, type SipStack, uriHost } from './sip-stack.ts';
import type { LyncUser, Topology } from './topology.ts';

/** The User-Agent of a Lync 2013 desktop client. */
export const LYNC_CLIENT_PRODUCT = 'UCCAPI/15.0.4420.1017 OC/15.0.4420.1017 (Microsoft Lync)';

export interface LyncUserContext {
  topology: Topology;
  /** Where the Front End listens for this user's transport. */
  frontEnd: Destination;
  /** An incoming call (before the behaviour plays). */
  onIncoming?(session: Session, request: SipMessage, user: LyncUserEndpoint): void;
  onDigits?(session: Session, digits: string, payloadType: number): void;
  log?(level: 'info' | 'warn' | 'error', text: string): void;
}

export class LyncUserEndpoint {
  readonly user: LyncUser;
  readonly stack: SipStack;
  readonly ua: UserAgent;
  readonly ctx: LyncUserContext;
  readonly #media: MediaPorts;
  readonly #epid = newTag().slice(0, 10);
  registered = false;
  /** Incoming sessions waiting for an `answer` action (behaviour `no-answer`). */
  readonly ringing = new Map<string, Session>();

  constructor(user: LyncUser, stack: SipStack, ctx: LyncUserContext) {
    this.user = user;
    this.stack = stack;
    this.ctx = ctx;
    this.#media = new MediaPorts(30000 + (Number(user.address.split('.').pop()) % 100) * 200);
    const userPart = user.sipUri.replace(/^sips?:/, '').split('@')[0];
    this.ua = new UserAgent(stack.transport, stack.layer, {
      product: LYNC_CLIENT_PRODUCT,
      supported: ['ms-dialog-route-set-update', 'timer', 'histinfo', 'ms-safe-transfer', 'ms-sender', 'ms-early-media'],
      contactUser: userPart,
    });
    this.ua.onInvite = (session, request) => this.#incoming(session, request);
  }

  get address(): string {
    return this.user.address;
  }

  /** `"Alice Anders" <sip:alice@contoso.com>;epid=...` (without the tag). */
  fromHeader(): string {
    return `"${this.user.displayName}" <${this.user.sipUri}>;epid=${this.#epid}`;
  }

  /** REGISTER with the Front End; resolves with the final status (null: no answer). */
  register(expires = 3600): Promise<number | null> {
    const sb = this.stack.transport.sentBy(this.user.transport);
    const req = OutgoingMessage.request('REGISTER', `sip:${this.ctx.topology.sipDomain}`);
    req.append('Max-Forwards', '70');
    req.append('From', `<${this.user.sipUri}>;tag=${newTag()};epid=${this.#epid}`);
    req.append('To', `<${this.user.sipUri}>`);
    req.append('Call-ID', newCallId(uriHost(sb.host)));
    req.append('CSeq', '1 REGISTER');
    req.append('Contact', `${this.ua.contact(this.user.transport)};+sip.instance="<urn:uuid:${this.#epid}>"`);
    req.append('Expires', String(expires));
    req.append('User-Agent', LYNC_CLIENT_PRODUCT);
    return new Promise((resolve) => {
      this.stack.layer.sendRequest(req, this.ctx.frontEnd, {
        onFinal: (res) => {
          this.registered = expires > 0 && res.status >= 200 && res.status < 300;
          resolve(res.status);
        },
        onTimeout: () => resolve(null),
        onTransportError: () => resolve(null),
      });
    });
  }

  /** The Request-URI for what the user dialed (see the module comment). */
  targetUri(dialed: string): string {
    const domain = this.ctx.topology.sipDomain;
    const trimmed = dialed.trim();
    if (/^sips?:/i.test(trimmed)) return trimmed;
    const user = this.ctx.topology.users.find((u) => u.name === trimmed);
    if (user !== undefined) return user.sipUri;
    if (trimmed.includes('@')) return `sip:${trimmed}`;
    const digits = trimmed.replace(/^tel:/i, '').replace(/[\s\-.()]/g, '');
    if (isE164(digits)) return `sip:${digits}@${domain};user=phone`;
    return `sip:${digits};phone-context=dialstring@${domain};user=phone`;
  }

  newOffer(): string {
    return buildOffer({ address: this.user.address, port: this.#media.take(), telephoneEvent: 101 });
  }

  /** Places a call through the Front End. */
  call(dialed: string, events: SessionEvents = {}): Session {
    const target = this.targetUri(dialed);
    const callee = findUserBySipUri(this.ctx.topology, target);
    return this.ua.invite({
      target,
      dest: this.ctx.frontEnd,
      from: this.fromHeader(),
      to: callee === null ? `<${target}>` : `"${callee.displayName}" <${callee.sipUri}>`,
      sdp: this.newOffer(),
      events,
    });
  }

  /** Hold: a re-INVITE with `a=inactive`, as Lync clients do. */
  hold(session: Session): Promise<SipMessage | null> {
    return session.reinvite(reoffer(session.localSdp ?? this.newOffer(), 'inactive'));
  }

  resume(session: Session): Promise<SipMessage | null> {
    return session.reinvite(reoffer(session.localSdp ?? this.newOffer(), 'sendrecv'));
  }

  /** Blind transfer: REFER with Refer-To the dialed target and Referred-By this user. */
  transfer(session: Session, dialed: string): Promise<SipMessage | null> {
    return session.sendInDialog('REFER', undefined, [
      { name: 'Refer-To', value: `<${this.targetUri(dialed)}>` },
      { name: 'Referred-By', value: `<${this.user.sipUri}>` },
    ]);
  }

  /**
   * DTMF as RFC 4733 events: allowed when both SDPs carry telephone-event.
   * Returns the payload type used; throws when the call cannot carry them.
   */
  dtmf(session: Session, digits: string): number {
    if (!/^[0-9*#A-D]+$/i.test(digits)) throw new Error(`not DTMF digits: ${JSON.stringify(digits)}`);
    const pt = negotiatedTelephoneEvent(session);
    if (pt === null) throw new Error('the call has no telephone-event (RFC 4733) in its SDP: DTMF cannot be sent');
    this.ctx.onDigits?.(session, digits, pt);
    return pt;
  }

  /** Answers a call left ringing (behaviour `no-answer`) now. */
  answer(session: Session): boolean {
    this.ringing.delete(session.callId);
    const sdp = sdpForIncoming(session.remoteSdp, { address: this.user.address, port: this.#media.take() }, { dtmfPayloadType: 101 });
    return sdp.ok ? session.answer(sdp.sdp) : session.reject(488, 'Not Acceptable Here');
  }

  #incoming(session: Session, request: SipMessage): void {
    this.ctx.onIncoming?.(session, request, this);
    if (this.user.behaviour.outcome === 'no-answer') this.ringing.set(session.callId, session);
    const previousEnd = session.events.onEnd;
    session.events.onEnd = (reason, s) => {
      this.ringing.delete(s.callId);
      previousEnd?.(reason, s);
    };
    session.events.onRequest ??= (req, s) => {
      if (req.method === 'REFER') return this.#referred(req, s);
      return 200;
    };
    playBehaviour(
      session,
      this.user.behaviour,
      { address: this.user.address, port: this.#media.take() },
      { onDigits: (digits, pt) => this.ctx.onDigits?.(session, digits, pt) },
    );
  }

  /** A REFER from the other party: call the Refer-To target, report with NOTIFY (RFC 3515), hang up the original. */
  #referred(req: SipMessage, session: Session): number {
    const referTo = req.get('refer-to');
    if (referTo === undefined) return 400;
    const target = /<([^>]*)>/.exec(referTo)?.[1] ?? referTo.trim();
    const notify = (frag: string, state: string): void => {
      void session.sendInDialog('NOTIFY', { type: 'message/sipfrag;version=2.0', content: `${frag}\r\n` }, [
        { name: 'Event', value: 'refer' },
        { name: 'Subscription-State', value: state },
      ]);
    };
    setImmediate(() => {
      notify('SIP/2.0 100 Trying', 'active;expires=60');
      this.call(target, {
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
    this.ua.hangupAll();
    await this.stack.close();
  }
}

export { negotiatedTelephoneEvent };

/**
 * An emulated Lync endpoint (a signed-in Lync 2013 client): registers with
 * the Front End, places calls through it, answers by its `CallBehaviour`,
 * holds with `a=inactive` (as Lync does), resumes, transfers with REFER,
 * sends DTMF (RFC 4733 events on the call's RTP, from the first SDP answer
 * on: a 183 with SDP lets it key digits before the answer, for an IVR),
 * records the digits it receives, and hangs up. Its RTP socket for a call
 * is bound when its SDP is written and closed when the call ends
 * (`ElementMedia`).
 *
 * What it dials goes to the Front End as Lync clients send it: a user's SIP
 * URI as is, an E.164 number as `sip:+N@domain;user=phone`, anything else as
 * `sip:DIGITS;phone-context=dialstring@domain;user=phone` for the Front End
 * to normalize with the user's dial plan (server-side normalization).
 *
 * A user whose behaviour has `callerPresentation: restricted` (caller ID
 * blocked) sends `Privacy: id` (RFC 3323, RFC 3325) on its calls and leaves
 * the rest to the servers *(unverified: Lync 2013 documents no per-user
 * setting; the nearest are the voice route's SuppressCallerId and, in
 * Skype for Business Online, a CallingLineIdentity with
 * CallingIDSubstitute Anonymous)*. It never asks for `Require: 100rel`
 * ([MS-SIPAE] 3.1.5.13). Attended transfer: REFER with
 * `Refer-To: <target?Replaces=...>` naming the consultation dialog
 * (RFC 3891, RFC 3515); an INVITE with Replaces naming one of its dialogs is
 * answered at once and that dialog gets a BYE (RFC 3891 §3), one naming
 * nothing it has gets 481.
 */
import { buildOffer, reoffer } from '../sdp/offer-answer.ts';
import { newCallId, newTag, OutgoingMessage } from '../sip/builder.ts';
import { parseReplaces, uriWithReplaces } from '../sip/dialog.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseNameAddr } from '../sip/name-addr.ts';
import type { Destination } from '../sip/transport-types.ts';
import { type Session, type SessionEvents, UserAgent } from '../sip/user-agent.ts';
import type { ReceivedDigit } from '../media/dtmf-receiver.ts';
import type { DigitsSent } from '../media/rtp-session.ts';
import { isDtmfString } from '../media/telephone-event.ts';
import { describeMalformed, ElementMedia, lastOctet, type MediaSettings } from './call-media.ts';
import { isE164 } from './dial-plan.ts';
import { answerReinvite, negotiatedTelephoneEvent, playBehaviour, sdpForIncoming } from './endpoint-behaviour.ts';
import { findUserBySipUri } from './routing.ts';
import { type SipStack, uriHost } from './sip-stack.ts';
import type { LyncUser, Topology } from './topology.ts';

/** The User-Agent of a Lync 2013 desktop client. */
export const LYNC_CLIENT_PRODUCT = 'UCCAPI/15.0.4420.1017 OC/15.0.4420.1017 (Microsoft Lync)';

export interface LyncUserContext {
  topology: Topology;
  /** Where the Front End listens for this user's transport. */
  frontEnd: Destination;
  /** An incoming call (before the behaviour plays). */
  onIncoming?(session: Session, request: SipMessage, user: LyncUserEndpoint): void;
  /** Digits this user sends (before they go out as RFC 4733 events). */
  onDigits?(session: Session, digits: string, payloadType: number): void;
  /** A digit that reached this user's RTP socket. */
  onReceivedDigit?(session: Session, digit: ReceivedDigit): void;
  /** RTP sockets on or off (default on). */
  media?: MediaSettings;
  log?(level: 'info' | 'warn' | 'error', text: string): void;
}

export class LyncUserEndpoint {
  readonly user: LyncUser;
  readonly stack: SipStack;
  readonly ua: UserAgent;
  readonly ctx: LyncUserContext;
  readonly #media: ElementMedia;
  readonly #epid = newTag().slice(0, 10);
  registered = false;
  /** Incoming sessions waiting for an `answer` action (behaviour `no-answer`). */
  readonly ringing = new Map<string, Session>();

  constructor(user: LyncUser, stack: SipStack, ctx: LyncUserContext) {
    this.user = user;
    this.stack = stack;
    this.ctx = ctx;
    this.#media = new ElementMedia({ [user.address]: 30000 + (lastOctet(user.address) % 100) * 200 }, ctx.media ?? { enabled: true }, {
      onDigit: (session, digit) => ctx.onReceivedDigit?.(session, digit),
      onMalformed: (_session, report) => ctx.log?.('warn', `${user.name}: malformed RTP ${describeMalformed(report)}`),
      warn: (text) => ctx.log?.('warn', `${user.name}: ${text}`),
    });
    const userPart = user.sipUri.replace(/^sips?:/, '').split('@')[0];
    this.ua = new UserAgent(stack.transport, stack.layer, {
      product: LYNC_CLIENT_PRODUCT,
      supported: ['ms-dialog-route-set-update', 'timer', 'histinfo', 'ms-safe-transfer', 'ms-sender', 'ms-early-media'],
      contactUser: userPart,
    });
    this.ua.onInvite = (session, request) => this.#incoming(session, request);
  }

  /** This user's RTP (ports, sessions per call). */
  get media(): ElementMedia {
    return this.#media;
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

  newOffer(port: number = this.#media.take()): string {
    return buildOffer({ address: this.user.address, port, telephoneEvent: 101 });
  }

  /** Places a call through the Front End. */
  call(dialed: string, events: SessionEvents = {}): Session {
    // A hold from the other party (a=sendonly / a=inactive) is answered in this user's hold style on its own calls too.
    events.onReinvite ??= (req, s) => answerReinvite(req, s, { address: this.user.address, port: this.#media.portOf(s) ?? this.#media.take() }, this.user.behaviour.holdAnswer);
    const target = this.targetUri(dialed);
    const callee = findUserBySipUri(this.ctx.topology, target);
    const port = this.#media.take();
    const session = this.ua.invite({
      target,
      dest: this.ctx.frontEnd,
      from: this.fromHeader(),
      to: callee === null ? `<${target}>` : `"${callee.displayName}" <${callee.sipUri}>`,
      sdp: this.newOffer(port),
      headers: this.user.behaviour.callerPresentation === 'restricted' ? [{ name: 'Privacy', value: 'id' }] : [],
      events,
    });
    this.#media.attach(session, port);
    return session;
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
   * Attended transfer (RFC 3891 §6.1 with RFC 3515): REFER on `session` with Refer-To the other party of
   * the consultation call `consult` and, embedded, the Replaces that names that dialog at the other party.
   */
  transferAttended(session: Session, consult: Session): Promise<SipMessage | null> {
    const replaces = consult.replacesValue;
    const party = consult.dialog?.remoteUri;
    if (replaces === null || party === undefined || consult.ended) return Promise.reject(new Error('the consultation call has no dialog to replace'));
    return session.sendInDialog('REFER', undefined, [
      { name: 'Refer-To', value: `<${uriWithReplaces(parseNameAddr(party).uriText, replaces)}>` },
      { name: 'Referred-By', value: `<${this.user.sipUri}>` },
    ]);
  }

  /**
   * DTMF as RFC 4733 events on the call's RTP, with the far end's
   * telephone-event payload type: allowed once both SDPs carry
   * telephone-event, which is before the answer when a 183 brought SDP
   * (early media, an IVR). Resolves when the last end packet is out (`sent`
   * null: media sockets are off, the digits are only reported); rejects
   * when the call cannot carry them.
   */
  async dtmf(session: Session, digits: string): Promise<{ payloadType: number; sent: DigitsSent | null }> {
    if (!isDtmfString(digits)) throw new Error(`not DTMF digits: ${JSON.stringify(digits)}`);
    if (session.remoteSdp === null) throw new Error('no SDP from the far end yet (a 183 with SDP, or the answer, brings it): DTMF cannot be sent');
    const pt = negotiatedTelephoneEvent(session);
    if (pt === null) throw new Error('the call has no telephone-event (RFC 4733) in its SDP: DTMF cannot be sent');
    this.ctx.onDigits?.(session, digits, pt);
    if (!this.#media.enabled) return { payloadType: pt, sent: null };
    return { payloadType: pt, sent: await this.#media.sendDigits(session, digits) };
  }

  /** Answers a call left ringing (behaviour `no-answer`) now. */
  answer(session: Session): boolean {
    this.ringing.delete(session.callId);
    // The port bound for the call when it came in (the SDP must name the socket that listens).
    let port = this.#media.portOf(session);
    if (port === null) {
      port = this.#media.take();
      this.#media.attach(session, port);
    }
    const sdp = sdpForIncoming(session.remoteSdp, { address: this.user.address, port }, { dtmfPayloadType: 101 });
    return sdp.ok ? session.answer(sdp.sdp) : session.reject(488, 'Not Acceptable Here');
  }

  #incoming(session: Session, request: SipMessage): void {
    this.ctx.onIncoming?.(session, request, this);
    if (request.has('replaces')) {
      this.#replacing(session, request);
      return;
    }
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
    const port = this.#media.take();
    this.#media.attach(session, port);
    playBehaviour(
      session,
      this.user.behaviour,
      { address: this.user.address, port },
      { onDigits: (digits) => this.#behaviourDigits(session, digits) },
    );
  }

  /** Digits the behaviour sends (`sendDigits`). */
  #behaviourDigits(session: Session, digits: string): void {
    this.dtmf(session, digits).catch((error: Error) => this.ctx.log?.('warn', `${this.user.name}: DTMF ${digits} not sent: ${error.message}`));
  }

  /** RFC 3891 §3: an INVITE with Replaces takes the place of the dialog it names: answered without ringing, the old one BYEd. */
  #replacing(session: Session, request: SipMessage): void {
    const target = parseReplaces(request.get('replaces'));
    if (target === null) {
      session.reject(400, 'Bad Request - malformed Replaces');
      return;
    }
    const old = this.ua.sessionForReplaces(target);
    if (old === null) {
      session.reject(target.earlyOnly ? 486 : 481, target.earlyOnly ? 'Busy Here' : 'Call/Transaction Does Not Exist');
      return;
    }
    this.ctx.log?.('info', `${this.user.name}: INVITE with Replaces takes the place of ${old.callId}`);
    session.events.onRequest ??= (req, s) => (req.method === 'REFER' ? this.#referred(req, s) : 200);
    session.events.onReinvite ??= (req, s) => answerReinvite(req, s, { address: this.user.address, port: this.#media.portOf(s) ?? this.#media.take() }, this.user.behaviour.holdAnswer);
    const previousEnd = session.events.onEnd;
    session.events.onEnd = (reason, s) => {
      this.ringing.delete(s.callId);
      previousEnd?.(reason, s);
    };
    if (this.answer(session)) old.hangup();
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
    await Promise.all([this.stack.close(), this.#media.stop()]);
  }
}

export { negotiatedTelephoneEvent };

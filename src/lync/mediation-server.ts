/**
 * A Mediation Server: a B2BUA between the Front End (its FE side, MTLS 5070
 * by default) and the peers of its trunks (its gateway side, 5067 TLS /
 * 5068 TCP, one listening point per port). Each call is two dialogs, one per
 * side, joined in a `B2buaCall` and reported with `onLegLink`.
 *
 * Gateway side, per trunk (`Set-CsTrunkConfiguration`):
 * - accepts requests only from the peers its trunks name (`trunkForInbound`);
 *   anything else gets 403 with `ms-diagnostics: 10005` *(the status Lync
 *   uses is unverified; Lync often just fails the TLS handshake)*;
 * - OutboundTranslationRulesList / OutboundCallingNumberTranslationRulesList
 *   and RemovePlusFromUri on the numbers it sends; ForwardPAI;
 *   ForwardCallHistory (History-Info, never Diversion);
 *   SipResponseCodeTranslationRulesList on the final responses it receives;
 *   EnableReferSupport (REFER to the peer for a transfer; REFER from the
 *   peer is refused with 403 and `ms-diagnostics: 10006`; with it off the
 *   Mediation Server transfers the call itself, see `#transferAnchored`);
 *   EnableSessionTimer (Session-Expires on its INVITEs and answers, and it
 *   refreshes with re-INVITEs at half the interval, or every
 *   `sessionRefreshIntervalMs`);
 *   EnableFastFailoverTimer (no 180/183 — or any provisional, per
 *   `fastFailoverStoppedBy` — within `fastFailoverTimeoutMs`: CANCEL, and
 *   503 with `ms-diagnostics: 10002` to the Front End, which tries the next
 *   trunk);
 * - OPTIONS keep-alives per trunk (`OptionsKeepAlive`); a call on a trunk
 *   whose peer is down is refused at once with 503 / 10004;
 * - wire details of a real one: `User-Agent: RTCC/5.0.0.0 MediationServer`,
 *   upper-case header names on the gateway side (`CONTACT:`, `SUPPORTED:`;
 *   the lab opens that stack with `headerNames: 'upper-case'`),
 *   `Supported: 100rel`: a reliable 18x from the peer is answered with PRACK
 *   (RFC 3262, by the UA core) before it is relayed; on calls from the
 *   peer, a 183 goes reliably when the peer supports 100rel ([MS-SIPAE]
 *   3.1.5.13: "SHOULD include Require:100rel in 183 responses") and every
 *   18x when it requires it, and the peer's PRACKs are answered; From with
 *   `epid` before the tag, SDP with `s=session`, `b=CT:1000`, `8 0 101`, SRTP offered as
 *   optional (`a=tcap`/`a=pcfg`/`a=crypto`) when SRTPMode is Required or
 *   Optional on a TLS trunk;
 * - on the Lync side, a call from an IP-PBX carries
 *   `ms-call-source: non-ms-rtc`, and a caller that is not E.164 becomes
 *   `sip:2160;phone-context=dialstring@<domain>;user=phone`.
 *
 * MaxEarlyDialogs limits forked early dialogs on calls *from* the peer; the
 * emulated Front End never forks (one endpoint per user), so the limit is
 * never reached here.
 *
 * Hold from Lync (`a=inactive`), whichever side placed the call, is answered
 * on the FE side at once (the Mediation Server terminates media) and passed
 * to the peer as a re-INVITE; a peer answering that hold with `a=sendrecv`
 * gets the call dropped (BYE on both sides, `ms-diagnostics: 10010`), as the
 * domain doc describes. Resume (`a=sendrecv`) is passed on the same way.
 * Hold from the peer (`a=sendonly` or `a=inactive`) is mirrored: answered on
 * the gateway side at once (`a=recvonly` / `a=inactive`) and passed to the
 * Lync party as a re-INVITE with the peer's direction; a re-INVITE that
 * keeps the direction (a session refresh) stays on the gateway side.
 *
 * Caller ID (RFC 3323, RFC 3325) *(unverified: the documentation names only
 * ForwardPAI; this is what a B2BUA honouring privacy does)*: a call whose
 * caller asked for privacy (`Privacy: id`, or a From of `anonymous`) gets
 * `From: "Anonymous" <sip:anonymous@anonymous.invalid>` and `Privacy: id`
 * on the other side; P-Asserted-Identity with the real number goes along
 * only with ForwardPAI (towards the Front End, which never passes it to a
 * Lync endpoint; towards the peer, trusted to withhold it).
 *
 * Attended transfer (RFC 3891, RFC 3515): a Refer-To with an embedded
 * Replaces goes to the peer with the Replaces translated to the peer's own
 * dialog when the consultation call runs through this server to the same
 * peer, unchanged otherwise (it names a Lync dialog the peer's INVITE will
 * reach through the Front End); a peer's INVITE with Replaces is passed to
 * the Front End with it. With EnableReferSupport off the server sends the
 * INVITE with Replaces itself, and re-INVITEs the peer (`a=sendrecv`, the
 * third-party call control of RFC 3725 with this server as controller) so
 * a held peer is taken off hold. An INVITE with Replaces from the Front End
 * that names this server's own Lync-side leg replaces that leg in place.
 */
import { buildOffer, type Direction, reoffer, summarize } from '../sdp/offer-answer.ts';
import { formatReplaces, parseReplaces, splitUriHeaders, uriWithReplaces } from '../sip/dialog.ts';
import { newTag } from '../sip/builder.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseNameAddrList } from '../sip/name-addr.ts';
import type { ServerTransaction } from '../sip/transaction-server.ts';
import type { Destination } from '../sip/transport-types.ts';
import { type Session, type SessionEvents, UserAgent } from '../sip/user-agent.ts';
import type { ReceivedDigit } from '../media/dtmf-receiver.ts';
import type { RtpRelay } from '../media/rtp-relay.ts';
import { audioOf, formatAddress } from '../media/sdp-media.ts';
import { describeMalformed, ElementMedia, lastOctet, type MediaSettings } from './call-media.ts';
import { isE164, dialString } from './dial-plan.ts';
import { answerReinvite, sdpForIncoming } from './endpoint-behaviour.ts';
import { trunkingParam } from './front-end.ts';
import type { HealthTransition } from './health.ts';
import { formatMsDiagnostics, MEDIATION, type MsDiagnostic } from './ms-diagnostics.ts';
import { OptionsKeepAlive } from './options-keepalive.ts';
import { type SipStack, uriHost } from './sip-stack.ts';
import type { Listener, MediationServer as MediationServerModel, Topology, Trunk, TrunkConfiguration } from './topology.ts';
import { findPeer, trunkForInbound, trunksOfMediationServer } from './trunk.ts';
import { effectiveSrtpMode } from './trunk-configuration.ts';
import { isupCauseOf, translateCalledNumber, translateCallingNumber, translateResponseCode } from './translation.ts';

export const MEDIATION_PRODUCT = 'RTCC/5.0.0.0 MediationServer';

/** One dialog of a call as the trace store keys it. */
export interface LegId {
  callId: string;
  localTag: string;
  /** Null until the other side answered with a tag. */
  remoteTag: string | null;
}

/** The two legs the B2BUA joins into one call (reported again once both dialogs have their tags). */
export interface LegLink {
  mediation: string;
  trunk: string;
  /** `outbound`: Lync → peer; `inbound`: peer → Lync. */
  direction: 'outbound' | 'inbound';
  frontEnd: LegId;
  gateway: LegId;
  /**
   * Attended transfer (RFC 3891): the Call-ID of the dialog one of these legs took the place of (named
   * by the Replaces of the INVITE that made it, or the transferor's leg the Mediation Server replaced
   * itself): the call these legs make is the joined call of that transfer.
   */
  replaced?: string;
}

/** A digit that reached the Mediation Server's media relay on one leg of a call. */
export interface RelayedDigit {
  mediation: string;
  trunk: string;
  peer: string;
  /** The leg it came on: from the Lync side (towards the peer) or from the peer. */
  from: 'lync' | 'peer';
  digit: ReceivedDigit;
  /** Its telephone-event payload type on the other leg; null: that leg has no telephone-event, it was not relayed. */
  relayedAs: number | null;
  frontEndCallId: string | null;
  gatewayCallId: string | null;
}

export interface MediationContext {
  topology: Topology;
  onLegLink?(link: LegLink): void;
  /** RTP sockets on or off (default on). */
  media?: MediaSettings;
  onRelayedDigit?(report: RelayedDigit): void;
  onHealth?(trunk: Trunk, transition: HealthTransition): void;
  log?(level: 'info' | 'warn' | 'error', text: string): void;
}

export interface GatewaySide {
  listener: Listener;
  stack: SipStack;
  ua: UserAgent;
}

/** One call through the B2BUA. */
export class B2buaCall {
  readonly trunk: Trunk;
  readonly direction: 'outbound' | 'inbound';
  fe: Session | null = null;
  gw: Session | null = null;
  /** Both legs are being ended by the B2BUA itself: one leg ending must not hang up the other again. */
  dropping = false;
  /** The Call-ID of the dialog a leg of this call replaced (attended transfer), reported with its links. */
  replaced: string | null = null;
  /** The media relay (media is anchored here) and the port each leg's SDP of ours names. */
  media: { lync: number; peer: number; relay: Promise<RtpRelay<'lync' | 'peer'> | null> | null } | null = null;
  /** Digits that reached the relay, per leg they came on. */
  readonly digits = { lync: 0, peer: 0 };
  /** RTP ports of SDPs this server wrote for the call (an answer is held until the other leg answers). */
  readonly ports: Array<{ port: number; address: string }> = [];
  readonly timers = new Set<NodeJS.Timeout>();
  constructor(trunk: Trunk, direction: 'outbound' | 'inbound') {
    this.trunk = trunk;
    this.direction = direction;
  }
  clearTimers(): void {
    for (const t of this.timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers.clear();
  }
}

function legId(s: Session): LegId {
  return { callId: s.callId, localTag: s.localTag, remoteTag: s.dialog?.remoteTag || null };
}

export class MediationServer {
  readonly model: MediationServerModel;
  readonly ctx: MediationContext;
  readonly feStack: SipStack;
  readonly feUa: UserAgent;
  readonly gatewaySides: GatewaySide[];
  readonly keepAlives = new Map<string, OptionsKeepAlive>();
  readonly calls = new Set<B2buaCall>();
  readonly #media: ElementMedia;
  readonly #epid = newTag().slice(0, 10);
  #stopped = false;

  constructor(model: MediationServerModel, feStack: SipStack, gateways: Array<{ listener: Listener; stack: SipStack }>, ctx: MediationContext) {
    this.model = model;
    this.ctx = ctx;
    this.feStack = feStack;
    const base = 40000 + (lastOctet(model.address) % 50) * 400;
    this.#media = new ElementMedia({ [model.address]: base, [model.gatewayAddress]: base + 200 }, ctx.media ?? { enabled: true }, {
      warn: (text) => ctx.log?.('warn', `${model.name}: ${text}`),
      // An answer's port stays bound while its call rings, however long.
      portInUse: (port) => [...this.calls].some((c) => c.ports.some((p) => p.port === port)),
    });
    this.feUa = new UserAgent(feStack.transport, feStack.layer, {
      product: MEDIATION_PRODUCT,
      supported: ['100rel', 'ms-safe-transfer', 'ms-bypass'],
    });
    this.feUa.onInvite = (session, req) => this.#outbound(session, req);
    this.gatewaySides = gateways.map(({ listener, stack }) => {
      const ua = new UserAgent(stack.transport, stack.layer, { product: MEDIATION_PRODUCT, supported: ['100rel'] });
      const side: GatewaySide = { listener, stack, ua };
      ua.onInvite = (session, req) => this.#inbound(side, session, req);
      return side;
    });
    for (const trunk of trunksOfMediationServer(ctx.topology, model.name)) {
      const side = this.#sideFor(trunk);
      if (side === null) continue;
      const from = `<sip:${uriHost(model.gatewayAddress)}:${trunk.mediationPort};transport=${trunk.transport}>`;
      this.keepAlives.set(trunk.name, new OptionsKeepAlive(trunk, side.ua, from, { onTransition: (t, tr) => this.ctx.onHealth?.(t, tr) }));
    }
  }

  get name(): string {
    return this.model.name;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** This server's RTP (port pools, relays). */
  get media(): ElementMedia {
    return this.#media;
  }

  start(): void {
    for (const k of this.keepAlives.values()) k.start();
  }

  /**
   * The OPTIONS view of a trunk's peer. A stopped Mediation Server does not
   * report itself down: the Front End finds out when it cannot connect, as
   * with a real server that died.
   */
  isTrunkDown(trunk: string): boolean {
    return this.keepAlives.get(trunk)?.isDown ?? false;
  }

  #sideFor(trunk: Trunk): GatewaySide | null {
    return this.gatewaySides.find((s) => s.listener.transport === trunk.transport && s.listener.port === trunk.mediationPort) ?? null;
  }

  #diag(d: MsDiagnostic, extra: Record<string, string> = {}): { name: string; value: string } {
    return { name: 'ms-diagnostics', value: formatMsDiagnostics(d, this.model.fqdn, extra) };
  }

  #link(call: B2buaCall): void {
    if (call.fe === null || call.gw === null) return;
    this.#syncMedia(call);
    const link: LegLink = { mediation: this.name, trunk: call.trunk.name, direction: call.direction, frontEnd: legId(call.fe), gateway: legId(call.gw) };
    if (call.replaced !== null) link.replaced = call.replaced;
    this.ctx.onLegLink?.(link);
  }

  #frontEndDest(): Destination {
    const fe = this.ctx.topology.frontEnd;
    const transport = this.model.frontEndTransport;
    const port = (transport === 'tls' ? fe.tlsPort : fe.tcpPort) ?? 5061;
    return { transport, host: fe.address, port };
  }

  /** When one leg ends, the other is hung up (a leg replaced by a transfer ends alone). */
  #track(call: B2buaCall, session: Session, other: () => Session | null): void {
    const previous = session.events.onEnd;
    session.events.onEnd = (reason, s) => {
      previous?.(reason, s);
      const current = s === call.fe || s === call.gw;
      const o = other();
      if (current && !call.dropping && o !== null && !o.ended && (reason.kind === 'bye' || reason.kind === 'cancelled' || reason.kind === 'closed')) o.hangup();
      if ((call.fe?.ended ?? true) && (call.gw?.ended ?? true)) {
        call.clearTimers();
        this.calls.delete(call);
        void call.media?.relay?.then((r) => this.#media.closeRelay(r));
        for (const p of call.ports) this.#media.releaseUnclaimed(p.port, p.address);
      }
    };
  }

  // ------------------------------------------------------------ Lync → peer

  #outbound(fe: Session, req: SipMessage): void {
    if (req.has('replaces')) {
      this.#replaceFrontEndLeg(fe, req);
      return;
    }
    const topology = this.ctx.topology;
    const trunks = trunksOfMediationServer(topology, this.name);
    const named = trunkingParam(req.get('ms-trunking-peer'));
    const trunk = trunks.find((t) => t.name === named) ?? trunks.find((t) => findPeer(topology, t.peer)?.fqdn === req.requestUriParsed?.host) ?? null;
    if (trunk === null) {
      fe.reject(404, 'Not Found', [this.#diag(MEDIATION.unknownPeer)]);
      return;
    }
    const side = this.#sideFor(trunk);
    if (side === null || this.#stopped || this.isTrunkDown(trunk.name)) {
      fe.reject(503, 'Service Unavailable', [this.#diag(MEDIATION.gatewayDown, { Trunk: trunk.name })]);
      return;
    }
    const config = trunk.configuration;
    const call = new B2buaCall(trunk, 'outbound');
    this.calls.add(call);
    call.fe = fe;
    fe.progress(100);

    const called = translateCalledNumber(dialString(req.requestUri), config).number;
    const pai = req.getAll('p-asserted-identity').flatMap((v) => parseNameAddrList(v));
    const tel = pai.find((na) => na.uriText.startsWith('tel:'));
    const callingRaw = tel !== undefined ? dialString(tel.uriText) : dialString(req.from?.uriText ?? 'anonymous');
    const calling = translateCallingNumber(callingRaw.replace(/;ext=.*$/, ''), config).number;
    const gwHost = uriHost(this.model.gatewayAddress);
    const display = displayName(req.from?.display);
    const peerHost = uriHost(trunk.peerAddress);
    const target = `sip:${called}@${peerHost}:${trunk.peerPort};user=phone`;
    const headers: Array<{ name: string; value: string }> = [];
    const restricted = privacyRequested(req);
    if (restricted) headers.push({ name: 'Privacy', value: 'id' });
    if (config.forwardPai) headers.push({ name: 'P-Asserted-Identity', value: `<sip:${calling}@${gwHost};user=phone>` });
    if (config.forwardCallHistory) {
      headers.push({ name: 'History-Info', value: `<${req.requestUri}>;index=1` });
      headers.push({ name: 'History-Info', value: `<${target}>;index=1.1` });
    }
    if (config.enableSessionTimer) headers.push(...sessionTimerHeaders(config, 'uac'));
    const gwOffer = buildOffer({
      address: this.model.gatewayAddress,
      port: this.#media.take(),
      mediationStyle: true,
      srtpOptional: effectiveSrtpMode(trunk) !== 'NotSupported',
    });
    const feSdp = sdpForIncoming(fe.remoteSdp, { address: this.model.address, port: this.#media.take() }, { dtmfPayloadType: 101 });
    const feAnswer = feSdp.ok ? feSdp.sdp : null;
    call.ports.push({ port: audioOf(gwOffer)?.port ?? 0, address: this.model.gatewayAddress }, { port: audioOf(feAnswer)?.port ?? 0, address: this.model.address });

    let fastFailed = false;
    let failoverTimer: NodeJS.Timeout | null = null;
    const stopFailoverTimer = (): void => {
      if (failoverTimer !== null) {
        clearTimeout(failoverTimer);
        call.timers.delete(failoverTimer);
        failoverTimer = null;
      }
    };
    const gwEvents: SessionEvents = {
      onProvisional: (res) => {
        // A reliable 18x (RFC 3262) reaches here once, after the UA core sent its PRACK.
        if (res.status >= 180 || config.fastFailoverStoppedBy === 'any-provisional') stopFailoverTimer();
        if (res.status === 100) return;
        const withSdp = res.body.length > 0;
        fe.progress(res.status === 183 ? 183 : 180, withSdp && feAnswer !== null ? feAnswer : undefined);
        this.#link(call);
      },
      onConfirmed: () => {
        stopFailoverTimer();
        if (fe.ended) return;
        fe.answer(feAnswer);
        this.#link(call);
        if (config.enableSessionTimer) this.#sessionRefresh(call, gw, config);
      },
      onEnd: (reason) => {
        stopFailoverTimer();
        if (fastFailed || fe.ended) return;
        if (reason.kind === 'rejected') {
          const res = reason.response;
          const translated = translateResponseCode(reason.status, config, isupCauseOf(res?.get('reason')));
          const extra = [this.#diag(MEDIATION.gatewayFailureResponse, { GatewayResponse: `${reason.status} ${reason.reason}`, Trunk: trunk.name })];
          const q850 = res?.get('reason');
          if (q850 !== undefined) extra.push({ name: 'Reason', value: q850 });
          fe.reject(translated.code, translated.code === reason.status ? reason.reason : undefined, extra);
        } else if (reason.kind === 'timeout' || reason.kind === 'transport-error') {
          fe.reject(503, 'Service Unavailable', [this.#diag(MEDIATION.gatewayTimeout, { Trunk: trunk.name })]);
        }
      },
      onRequest: (r) => this.#gatewayInDialog(call, r),
      onReinvite: (r, s) => this.#reinviteFromPeer(call, r, s),
    };
    const gw = side.ua.invite({
      target,
      dest: { transport: trunk.transport, host: trunk.peerAddress, port: trunk.peerPort },
      from: restricted ? `${ANONYMOUS_FROM};epid=${this.#epid}` : `${display}<sip:${calling}@${gwHost};user=phone>;epid=${this.#epid}`,
      to: `<sip:${called}@${peerHost};user=phone>`,
      sdp: gwOffer,
      headers,
      events: gwEvents,
    });
    call.gw = gw;
    this.#track(call, gw, () => call.fe);
    this.#track(call, fe, () => call.gw);
    this.#link(call);
    if (config.enableFastFailoverTimer) {
      failoverTimer = setTimeout(() => {
        failoverTimer = null;
        if (gw.state !== 'calling' && config.fastFailoverStoppedBy === 'any-provisional') return;
        fastFailed = true;
        this.ctx.log?.('warn', `${this.name}: fast failover timer (${config.fastFailoverTimeoutMs} ms) on trunk ${trunk.name}`);
        fe.reject(503, 'Service Unavailable', [this.#diag(MEDIATION.fastFailoverTimeout, { Trunk: trunk.name })]);
        gw.hangup();
      }, config.fastFailoverTimeoutMs);
      call.timers.add(failoverTimer);
    }
    this.#joinFrontEnd(call, fe);
  }

  /** The in-dialog handlers of a call's Lync-side leg (hold/resume, REFER, NOTIFY). */
  #joinFrontEnd(call: B2buaCall, fe: Session): void {
    fe.events.onReinvite = (r, s) => this.#reinviteFromFrontEnd(call, r, s);
    fe.events.onRequest = (r, s) => this.#frontEndInDialog(call, r, s);
  }

  /**
   * Session timer (RFC 4028) with the Mediation Server as refresher: a
   * re-INVITE (same media, o= version + 1, Session-Expires) every half
   * interval (§10), or every `sessionRefreshIntervalMs`.
   */
  #sessionRefresh(call: B2buaCall, gw: Session, config: TrunkConfiguration): void {
    const every = config.sessionRefreshIntervalMs ?? (config.sessionExpiresSeconds * 1000) / 2;
    const t = setInterval(() => {
      void this.#refreshGateway(gw, config);
    }, every);
    call.timers.add(t);
  }

  /** One session refresh of a gateway leg: a re-INVITE with the same media, o= version + 1 (and Session-Expires when the trunk runs the timer). */
  #refreshGateway(gw: Session, config: TrunkConfiguration): Promise<SipMessage | null> | null {
    if (gw.ended || gw.localSdp === null) return null;
    let dir: Direction = 'sendrecv';
    try {
      dir = summarize(gw.localSdp).media[0]?.direction ?? 'sendrecv';
    } catch {
      // our own SDP: always parses
    }
    return gw.reinvite(reoffer(gw.localSdp, dir), config.enableSessionTimer ? sessionTimerHeaders(config, 'uac') : undefined);
  }

  /**
   * A session refresh now, as the periodic one does it, on the gateway leg whose Call-ID is
   * `gatewayCallId`; null when this server has no such answered leg.
   */
  refreshNow(gatewayCallId: string): Promise<SipMessage | null> | null {
    for (const call of this.calls) {
      const gw = call.gw;
      if (gw !== null && gw.callId === gatewayCallId && !gw.ended && gw.state === 'confirmed') return this.#refreshGateway(gw, call.trunk.configuration);
    }
    return null;
  }

  /**
   * A re-INVITE from the peer: answered here (hold mirrored: `sendonly` → `recvonly`, `inactive` →
   * `inactive`); a change of direction (hold, resume) is passed to the Lync party as a re-INVITE.
   */
  #reinviteFromPeer(call: B2buaCall, req: SipMessage, gw: Session): { status: number; sdp?: string } {
    const answer = answerReinvite(req, gw, { address: this.model.gatewayAddress, port: this.#media.take(), mediationStyle: true }, 'inactive');
    const fe = call.fe;
    if (req.body.length === 0 || answer.status !== 200 || fe === null || fe.ended || fe.localSdp === null) return answer;
    const offered = directionOf(req.bodyText);
    const before = gw.remoteSdp === null ? 'sendrecv' : directionOf(gw.remoteSdp);
    if (offered === null || offered === before) return answer;
    void fe.reinvite(reoffer(fe.localSdp, offered)).then((res) => {
      if (res === null || res.status >= 300) this.ctx.log?.('warn', `${this.name}: the Lync side answered the peer's a=${offered} with ${res?.status ?? 'nothing'}`);
    });
    return answer;
  }

  /** This server's call whose Lync-side leg is the dialog a Replaces names (as the Lync party addressed it). */
  #callByFrontEndDialog(callId: string, localTag: string, remoteTag: string): B2buaCall | null {
    for (const call of this.calls) {
      const fe = call.fe;
      if (fe !== null && !fe.ended && fe.callId === callId && fe.localTag === localTag && fe.dialog?.remoteTag === remoteTag) return call;
    }
    return null;
  }

  /**
   * The Replaces of a Refer-To for the peer (RFC 3891): when it names the Lync-side leg of a call of this
   * server to the same peer, the peer's own dialog of that call (to-tag the peer's, from-tag ours);
   * otherwise unchanged.
   */
  #replacesForPeer(value: string, trunk: Trunk): string {
    const t = parseReplaces(value);
    if (t === null) return value;
    const consult = this.#callByFrontEndDialog(t.callId, t.toTag, t.fromTag);
    const gw = consult?.gw;
    if (consult === null || gw === null || gw === undefined || gw.dialog === null || consult.trunk.peer !== trunk.peer) return value;
    return formatReplaces({ callId: gw.callId, toTag: gw.dialog.remoteTag, fromTag: gw.localTag });
  }

  /**
   * An INVITE with Replaces from the Front End (RFC 3891 §3): when it names the Lync-side leg of one of
   * this server's calls, the new leg takes that leg's place (answered at once, no alerting) and the old
   * one gets a BYE; the peer's leg stays. Anything else: 481.
   */
  #replaceFrontEndLeg(fe: Session, req: SipMessage): void {
    const t = parseReplaces(req.get('replaces'));
    if (t === null) {
      fe.reject(400, 'Bad Request - malformed Replaces');
      return;
    }
    const call = this.#callByFrontEndDialog(t.callId, t.toTag, t.fromTag);
    const old = call?.fe;
    if (call === null || old === null || old === undefined || call.gw === null || call.gw.ended || (t.earlyOnly && old.state === 'confirmed')) {
      fe.reject(t.earlyOnly ? 486 : 481, t.earlyOnly ? 'Busy Here' : 'Call/Transaction Does Not Exist');
      return;
    }
    const sdp = sdpForIncoming(fe.remoteSdp, { address: this.model.address, port: this.#media.take() }, { dtmfPayloadType: 101 });
    if (!sdp.ok) {
      fe.reject(488, 'Not Acceptable Here');
      return;
    }
    this.ctx.log?.('info', `${this.name}: INVITE with Replaces takes the place of the Lync-side leg of a call on ${call.trunk.name}`);
    call.fe = fe;
    call.replaced = t.callId;
    this.#joinFrontEnd(call, fe);
    this.#track(call, fe, () => call.gw);
    fe.answer(sdp.sdp);
    this.#link(call);
    old.hangup();
  }

  #reinviteFromFrontEnd(call: B2buaCall, req: SipMessage, fe: Session): { status: number; sdp?: string } {
    const answer = answerReinvite(req, fe, { address: this.model.address, port: this.#media.take() }, 'inactive');
    const gw = call.gw;
    if (req.body.length === 0 || gw === null || gw.ended || gw.localSdp === null) return answer;
    let direction: Direction = 'sendrecv';
    try {
      direction = summarize(req.bodyText).media[0]?.direction ?? 'sendrecv';
    } catch {
      return answer;
    }
    void gw.reinvite(reoffer(gw.localSdp, direction)).then((res) => {
      if (res === null || res.status < 200 || res.status >= 300 || direction !== 'inactive' || res.body.length === 0) return;
      let answered: Direction = 'sendrecv';
      try {
        answered = summarize(res.bodyText).media[0]?.direction ?? 'sendrecv';
      } catch {
        return;
      }
      if (answered === 'sendrecv') {
        this.ctx.log?.('warn', `${this.name}: ${call.trunk.peer} answered hold (a=inactive) with a=sendrecv: call dropped`);
        const diag = [this.#diag(MEDIATION.holdAnswerMismatch, { Trunk: call.trunk.name })];
        // Both BYEs first: ending one leg would otherwise hang up the other without the diagnostic.
        call.dropping = true;
        const live = [call.gw, call.fe].filter((s): s is Session => s !== null && !s.ended);
        for (const s of live) void s.sendInDialog('BYE', undefined, diag);
        for (const s of live) s.end({ kind: 'bye', byRemote: false });
      }
    });
    return answer;
  }

  /** REFER (a blind transfer by the Lync user) and INFO/NOTIFY from the Lync side. */
  #frontEndInDialog(call: B2buaCall, req: SipMessage, fe: Session): number | { status: number; headers?: Array<{ name: string; value: string }> } {
    if (req.method !== 'REFER') return 200;
    const gw = call.gw;
    if (gw === null || gw.ended) return 481;
    const config = call.trunk.configuration;
    const referTo = req.get('refer-to') ?? '';
    const { uri: target, replaces } = splitUriHeaders(/<([^>]*)>/.exec(referTo)?.[1] ?? referTo.trim());
    if (target === '') return 400;
    if (!config.enableReferSupport) return this.#transferAnchored(call, req, fe, target, replaces);
    const number = this.#numberForTarget(target);
    const translated = translateCalledNumber(number, config).number;
    const referUri = `sip:${translated}@${uriHost(this.model.gatewayAddress)};user=phone`;
    void gw.sendInDialog('REFER', undefined, [
      { name: 'Refer-To', value: `<${replaces === null ? referUri : uriWithReplaces(referUri, this.#replacesForPeer(replaces, call.trunk))}>` },
      { name: 'Referred-By', value: `<sip:${uriHost(this.model.gatewayAddress)}>` },
    ]).then((res) => {
      if (res !== null && res.status >= 300) this.ctx.log?.('warn', `${this.name}: ${call.trunk.peer} refused REFER with ${res.status}`);
    });
    return 202;
  }

  /**
   * EnableReferSupport false: the peer is never sent a REFER, so the
   * Mediation Server transfers the call itself and keeps the peer's leg
   * (its media is anchored here, the peer sees nothing) *(unverified: the
   * documentation only says the trunk does not take REFER; this is what a
   * media-anchoring B2BUA does)*: 202 to the REFER, a new INVITE to the
   * Refer-To target through the Front End (Referred-By kept), NOTIFYs with
   * the outcome (RFC 3515), and once the target answers, the new leg takes
   * the transferor's place and the transferor's leg gets a BYE.
   */
  #transferAnchored(call: B2buaCall, req: SipMessage, transferor: Session, target: string, replaces: string | null = null): number {
    const notify = (frag: string, state: string): void => {
      if (transferor.ended) return;
      void transferor.sendInDialog('NOTIFY', { type: 'message/sipfrag;version=2.0', content: `${frag}\r\n` }, [
        { name: 'Event', value: 'refer' },
        { name: 'Subscription-State', value: state },
      ]);
    };
    const party = transferor.dialog?.localUri ?? `<sip:anonymous@${this.ctx.topology.sipDomain}>`;
    const from = /;\s*epid=/i.test(party) ? party : `${party};epid=${this.#epid}`;
    const peer = findPeer(this.ctx.topology, call.trunk.peer);
    const headers = [{ name: 'ms-trunking-peer', value: `${peer?.fqdn ?? call.trunk.peerAddress};trunk="${call.trunk.name}"` }];
    if (peer?.kind === 'ip-pbx') headers.push({ name: 'ms-call-source', value: 'non-ms-rtc' });
    const referredBy = req.get('referred-by');
    if (referredBy !== undefined) headers.push({ name: 'Referred-By', value: referredBy });
    if (replaces !== null) headers.push({ name: 'Replaces', value: replaces });
    this.ctx.log?.('info', `${this.name}: ${replaces === null ? 'transfer' : 'attended transfer'} to ${target} done by the Mediation Server (EnableReferSupport is false on ${call.trunk.name})`);
    setImmediate(() => {
      notify('SIP/2.0 100 Trying', 'active;expires=60');
      const next = this.feUa.invite({
        target,
        dest: this.#frontEndDest(),
        from,
        sdp: buildOffer({ address: this.model.address, port: this.#media.take() }),
        headers,
        events: {
          onConfirmed: (s) => {
            if (call.gw === null || call.gw.ended) {
              s.hangup();
              return;
            }
            call.fe = s;
            call.replaced = transferor.callId;
            this.#joinFrontEnd(call, s);
            this.#link(call);
            notify('SIP/2.0 200 OK', 'terminated;reason=noresource');
            if (!transferor.ended) transferor.hangup();
            // Attended: the peer, usually held by the transferor meanwhile, is re-INVITEd to sendrecv (RFC 3725).
            const gw = call.gw;
            if (replaces !== null && !gw.ended && gw.localSdp !== null) void gw.reinvite(reoffer(gw.localSdp, 'sendrecv'));
          },
          onEnd: (reason, s) => {
            if (s.confirmedAt !== null) return;
            const status = reason.kind === 'rejected' ? `${reason.status} ${reason.reason}` : '503 Service Unavailable';
            notify(`SIP/2.0 ${status}`, 'terminated;reason=noresource');
          },
        },
      });
      this.#track(call, next, () => call.gw);
    });
    return 202;
  }

  /**
   * Media is anchored here (the SDP of each leg names this server): once
   * both legs carry an SDP of ours, a relay joins their ports (RTP both
   * ways, telephone-event renumbered to each far end's payload type, and
   * dropped towards a leg without one: `onRelayedDigit` reports each digit
   * with what became of it). A leg whose SDP of ours moves to another port
   * (its dialog replaced by a transfer) moves the relay's leg with it.
   */
  #syncMedia(call: B2buaCall): void {
    if (!this.#media.enabled || this.#stopped) return;
    const lync = audioOf(call.fe?.localSdp)?.port ?? 0;
    const peer = audioOf(call.gw?.localSdp)?.port ?? 0;
    if (lync === 0 || peer === 0) return;
    const legs = {
      lync: { name: 'lync' as const, address: this.model.address, port: lync, sdp: () => ({ local: call.fe?.localSdp ?? null, remote: call.fe?.remoteSdp ?? null }) },
      peer: { name: 'peer' as const, address: this.model.gatewayAddress, port: peer, sdp: () => ({ local: call.gw?.localSdp ?? null, remote: call.gw?.remoteSdp ?? null }) },
    };
    const media = call.media;
    if (media === null) {
      call.media = {
        lync,
        peer,
        relay: this.#media.relay(legs.lync, legs.peer, {
          onDigit: (from, digit, relayedAs) => {
            call.digits[from] += 1;
            this.ctx.onRelayedDigit?.({ mediation: this.name, trunk: call.trunk.name, peer: call.trunk.peer, from, digit, relayedAs, frontEndCallId: call.fe?.callId ?? null, gatewayCallId: call.gw?.callId ?? null });
          },
          onMalformed: (leg, report) => this.ctx.log?.('warn', `${this.name}: malformed RTP on the ${leg === 'lync' ? 'Lync' : call.trunk.peer} leg ${describeMalformed(report)}`),
          onLatch: (leg, from, sdp) =>
            this.ctx.log?.(
              'info',
              `${this.name}: RTP on the ${leg === 'lync' ? 'Lync' : call.trunk.peer} leg comes from ${formatAddress(from)}; ${sdp === null ? 'its SDP gives no address: sending there' : `its SDP says ${formatAddress(sdp)} (asymmetric RTP: sending stays on the SDP address)`}`,
            ),
        }),
      };
      return;
    }
    for (const name of ['lync', 'peer'] as const) {
      if (media[name] === legs[name].port) continue;
      media[name] = legs[name].port;
      void media.relay?.then((r) => (r === null ? undefined : this.#media.replaceRelayLeg(r, legs[name])));
    }
  }

  /**
   * Digits that reached the media relay of the call whose Lync-side leg has
   * this Call-ID, per leg they came on; undefined when no call of this
   * server has it.
   */
  relayedDigitCount(frontEndCallId: string): { peer: string; lync: number; fromPeer: number } | undefined {
    for (const call of this.calls) {
      if (call.fe?.callId !== frontEndCallId) continue;
      return { peer: call.trunk.peer, lync: call.digits.lync, fromPeer: call.digits.peer };
    }
    return undefined;
  }

  /** A Refer-To target as a number: a user's Line URI number, or the dial string. */
  #numberForTarget(target: string): string {
    const user = this.ctx.topology.users.find((u) => u.sipUri.toLowerCase() === target.replace(/[;?].*$/, '').toLowerCase());
    if (user?.lineUri) return user.lineUri.number;
    return dialString(target);
  }

  /** Requests from the peer inside a call: REFER is refused (Lync never accepts it), NOTIFY is relayed to the Lync side. */
  #gatewayInDialog(call: B2buaCall, req: SipMessage): number | { status: number; headers?: Array<{ name: string; value: string }> } {
    if (req.method === 'REFER') return { status: 403, headers: [this.#diag(MEDIATION.referFromPeerRejected)] };
    if (req.method === 'NOTIFY' && call.fe !== null && !call.fe.ended) {
      const extra = ['event', 'subscription-state'].flatMap((n) => {
        const v = req.get(n);
        return v === undefined ? [] : [{ name: n === 'event' ? 'Event' : 'Subscription-State', value: v }];
      });
      void call.fe.sendInDialog('NOTIFY', req.body.length > 0 ? { type: req.contentType ?? 'message/sipfrag', content: req.bodyText } : undefined, extra);
    }
    return 200;
  }

  // ------------------------------------------------------------ peer → Lync

  #inbound(_side: GatewaySide, gw: Session, req: SipMessage): void {
    const topology = this.ctx.topology;
    const flow = (gw.inviteTx as ServerTransaction).flow;
    const trunk = trunkForInbound(topology, {
      mediationServer: this.name,
      transport: flow.transport,
      localPort: flow.local.port,
      remoteAddress: flow.remote.host,
      remotePort: flow.remote.port,
    });
    if (trunk === null || this.#stopped) {
      gw.reject(403, 'Forbidden', [this.#diag(MEDIATION.unknownPeer, { Peer: `${flow.remote.host}:${flow.remote.port}` })]);
      return;
    }
    const config = trunk.configuration;
    const peer = findPeer(topology, trunk.peer);
    const call = new B2buaCall(trunk, 'inbound');
    call.replaced = parseReplaces(req.get('replaces'))?.callId ?? null;
    this.calls.add(call);
    call.gw = gw;
    gw.progress(100);
    const domain = topology.sipDomain;
    const numberUri = (n: string): string =>
      isE164(n) ? `sip:${n}@${domain};user=phone` : `sip:${n};phone-context=dialstring@${domain};user=phone`;
    const called = dialString(req.requestUri);
    const pai = req.get('p-asserted-identity');
    const restricted = privacyRequested(req);
    const callingSource = config.forwardPai && pai !== undefined ? (parseNameAddrList(pai)[0]?.uriText ?? '') : (req.from?.uriText ?? '');
    const calling = dialString(callingSource) || 'anonymous';
    const headers = [{ name: 'ms-trunking-peer', value: `${peer?.fqdn ?? trunk.peerAddress};trunk="${trunk.name}"` }];
    if (peer?.kind === 'ip-pbx') headers.push({ name: 'ms-call-source', value: 'non-ms-rtc' });
    if (restricted) headers.push({ name: 'Privacy', value: req.get('privacy') ?? 'id' });
    if (config.forwardPai && pai !== undefined) headers.push({ name: 'P-Asserted-Identity', value: pai });
    const replaces = req.get('replaces');
    if (replaces !== undefined) headers.push({ name: 'Replaces', value: replaces });
    if (config.forwardCallHistory) for (const h of req.getAll('history-info')) headers.push({ name: 'History-Info', value: h });
    const gwSdp = sdpForIncoming(gw.remoteSdp, { address: this.model.gatewayAddress, port: this.#media.take(), mediationStyle: true }, { dtmfPayloadType: 101 });
    if (!gwSdp.ok) {
      gw.reject(488, 'Not Acceptable Here', [this.#diag(MEDIATION.mediaNegotiationFailed)]);
      return;
    }
    call.ports.push({ port: audioOf(gwSdp.sdp)?.port ?? 0, address: this.model.gatewayAddress });
    const display = displayName(req.from?.display);
    const fe = this.feUa.invite({
      target: numberUri(called),
      dest: this.#frontEndDest(),
      from: restricted ? `${ANONYMOUS_FROM};epid=${this.#epid}` : `${display}<${numberUri(calling)}>;epid=${this.#epid}`,
      sdp: buildOffer({ address: this.model.address, port: this.#media.take() }),
      headers,
      events: {
        onProvisional: (res) => {
          if (res.status === 100) return;
          // [MS-SIPAE] 3.1.5.13: a 183 goes reliably where the peer supports 100rel (and any 18x where it requires it).
          gw.progress(res.status === 183 ? 183 : 180, res.status === 183 && res.body.length > 0 ? gwSdp.sdp : undefined, undefined, { reliable: res.status === 183 });
          this.#link(call);
        },
        onConfirmed: () => {
          if (gw.ended) return;
          const timer = config.enableSessionTimer ? sessionTimerHeaders(config, 'uas', /\btimer\b/i.test(req.get('supported') ?? '')) : [];
          gw.answer(gwSdp.sdp, timer);
          this.#link(call);
          if (config.enableSessionTimer) this.#sessionRefresh(call, gw, config);
        },
        onEnd: (reason) => {
          if (gw.ended) return;
          if (reason.kind === 'rejected') {
            const extra = (reason.response?.getAll('ms-diagnostics') ?? []).map((v) => ({ name: 'ms-diagnostics', value: v }));
            gw.reject(reason.status, reason.reason, extra);
          } else if (reason.kind === 'timeout' || reason.kind === 'transport-error') {
            gw.reject(503, 'Service Unavailable');
          }
        },
      },
    });
    call.fe = fe;
    this.#joinFrontEnd(call, fe);
    this.#track(call, gw, () => call.fe);
    this.#track(call, fe, () => call.gw);
    this.#link(call);
    gw.events.onReinvite = (r, s) => this.#reinviteFromPeer(call, r, s);
    gw.events.onRequest = (r) => this.#gatewayInDialog(call, r);
  }

  /** Stops keep-alives, ends every call, closes the sockets. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const k of this.keepAlives.values()) k.stop();
    // Let a keep-alive's answer arrive before the connections close (no reset under the peer).
    await Promise.all([...this.keepAlives.values()].map((k) => k.drain(250)));
    for (const call of this.calls) call.clearTimers();
    this.feUa.hangupAll();
    for (const side of this.gatewaySides) side.ua.hangupAll();
    await Promise.all([this.feStack.close(), ...this.gatewaySides.map((s) => s.stack.close()), this.#media.stop()]);
  }
}

/**
 * RFC 4028 header fields when the trunk runs the session timer, with the
 * Mediation Server as refresher: Session-Expires (`refresher=uac` on its
 * INVITEs, `uas` on its answers) and, on requests, Min-SE and
 * `Supported: timer`; `Require: timer` on an answer to a peer that
 * supports it (§9).
 */
export function sessionTimerHeaders(config: TrunkConfiguration, role: 'uac' | 'uas', peerSupportsTimer = false): Array<{ name: string; value: string }> {
  const headers = [{ name: 'Session-Expires', value: `${config.sessionExpiresSeconds};refresher=${role}` }];
  if (role === 'uac') {
    headers.push({ name: 'Min-SE', value: String(Math.min(90, config.sessionExpiresSeconds)) });
    headers.push({ name: 'Supported', value: 'timer' });
  } else if (peerSupportsTimer) headers.push({ name: 'Require', value: 'timer' });
  return headers;
}

/** The From of a call without caller ID (RFC 3323 §4.1.1.3). */
const ANONYMOUS_FROM = '"Anonymous" <sip:anonymous@anonymous.invalid>';

/** The caller asked for privacy: `Privacy: id` (RFC 3325 §9.3), or an anonymous From (RFC 3323 §4.1.1.3). */
export function privacyRequested(req: SipMessage): boolean {
  if (req.tokens('privacy').some((t) => t.toLowerCase() === 'id')) return true;
  return /^sips?:anonymous@/i.test(req.from?.uriText ?? '');
}

function directionOf(sdp: string): Direction | null {
  try {
    return summarize(sdp).media[0]?.direction ?? 'sendrecv';
  } catch {
    return null;
  }
}

/** A display name as a quoted-string and a space (RFC 3261 §25.1), or nothing. */
function displayName(display: string | null | undefined): string {
  if (!display) return '';
  const bare = display.replace(/^"(.*)"$/s, '$1').replace(/\\(.)/g, '$1');
  return `"${bare.replace(/["\\]/g, (c) => `\\${c}`)}" `;
}

/**
 * A user agent core (RFC 3261 §8, §12-§15) on top of one transport and its
 * transaction layer: places and answers INVITE sessions, keeps their dialogs,
 * sends and answers in-dialog requests (BYE, re-INVITE, INFO, REFER, UPDATE),
 * CANCELs, ACKs 2xx (and their retransmissions), screens every request with
 * the UAS core checks, and answers OPTIONS. Emulated elements and the CLI's
 * `uas` and `options` commands are built on it.
 *
 * Reliable provisional responses (RFC 3262): as UAS a session sends its 18x
 * reliably (Require: 100rel, RSeq) when the INVITE requires it, or when the
 * role asks for it (`reliableProvisionals`) and the INVITE supports it;
 * retransmits each one at T1, 2*T1, 4*T1... until its PRACK arrives (giving
 * up with a 5xx after 64*T1), sends one at a time, and holds a 2xx back
 * while a reliable provisional carrying SDP is unacknowledged (§3). As UAC
 * it answers every reliable provisional with a PRACK (RAck: rseq cseq
 * method), once per RSeq, in RSeq order (§4).
 */
import { newCallId, newTag, OutgoingMessage } from './builder.ts';
import type { HostPort, TransportProtocol } from './capture.ts';
import { Dialog, dialogId, type ReplacesTarget } from './dialog.ts';
import { getParam } from './grammar.ts';
import type { SipMessage } from './message.ts';
import { parseNameAddr } from './name-addr.ts';
import type { ClientTransaction } from './transaction-client.ts';
import type { TransactionLayer } from './transaction-layer.ts';
import type { ServerTransaction } from './transaction-server.ts';
import type { Destination, Flow, SipTransport } from './transport-types.ts';
import { DEFAULT_UAS_POLICY, screenRequest, type UasPolicy } from './uas-core.ts';
import { bareHost, parseUri } from './uri.ts';

export interface UserAgentOptions {
  /** Value of User-Agent (requests) and Server (responses). */
  product?: string;
  policy?: UasPolicy;
  /** Option tags put in Supported. */
  supported?: string[];
  /** User part of our Contact. */
  contactUser?: string;
  /** Extra header fields added to every request and response this UA builds (e.g. ms- headers). */
  extraHeaders?: Array<{ name: string; value: string }>;
  /** Override how requests outside a dialog are answered (return true when handled). */
  onRequest?: (request: SipMessage, tx: ServerTransaction, ua: UserAgent) => boolean;
}

export type SessionState = 'calling' | 'early' | 'confirmed' | 'terminated';

export type EndReason =
  | { kind: 'bye'; byRemote: boolean }
  | { kind: 'rejected'; status: number; reason: string; response?: SipMessage }
  | { kind: 'cancelled'; byRemote: boolean }
  | { kind: 'timeout' }
  | { kind: 'transport-error'; message: string }
  | { kind: 'closed' };

const ALLOW = 'INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK';

/** Where to send a request for `uriText` (RFC 3263 reduced to IP literals, `maddr` and a fallback). */
export function uriDestination(uriText: string, fallback: Destination): Destination {
  const uri = parseUri(uriText.startsWith('<') ? parseNameAddr(uriText).uriText : uriText);
  if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return fallback;
  const tp = getParam(uri.params, 'transport')?.toLowerCase();
  const transport: TransportProtocol = uri.scheme === 'sips' || tp === 'tls' ? 'tls' : tp === 'tcp' ? 'tcp' : tp === 'udp' ? 'udp' : fallback.transport;
  const maddr = getParam(uri.params, 'maddr');
  const host = maddr ? bareHost(maddr) : bareHost(uri.host);
  if (!isIpLiteral(host)) return fallback;
  const port = uri.port ?? (transport === 'tls' ? 5061 : 5060);
  const sameAsFallback = host === fallback.host && port === fallback.port && transport === fallback.transport;
  return { transport, host, port, connId: sameAsFallback ? (fallback.connId ?? null) : null };
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

function hostForUri(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]` : hp.host;
}

/** A non-INVITE in-dialog request's answer with extra header fields. */
export interface InDialogAnswer {
  status: number;
  reason?: string;
  headers?: Array<{ name: string; value: string }>;
}

export interface SessionEvents {
  /** A provisional response (UAC). */
  onProvisional?(response: SipMessage, session: Session): void;
  /** The call is answered (UAC: 2xx received and ACKed; UAS: ACK received). */
  onConfirmed?(session: Session): void;
  /** A re-INVITE or UPDATE from the peer; return the response to send (default: 200 mirroring the offer). */
  onReinvite?(request: SipMessage, session: Session): { status: number; sdp?: string } | undefined;
  /**
   * An in-dialog request other than BYE/INVITE/UPDATE/ACK (INFO, REFER, NOTIFY...); return the status (default 200),
   * or the status with a reason phrase and extra header fields (e.g. a 403 to a REFER with `ms-diagnostics`).
   */
  onRequest?(request: SipMessage, session: Session): number | InDialogAnswer | undefined;
  /**
   * UAC: a reliable provisional response carried an offer (our INVITE had none): return the answer for the
   * PRACK (RFC 3262 §5), or null to send the PRACK without a body.
   */
  onEarlyOffer?(response: SipMessage, session: Session): string | null;
  /** UAC: the final response to a PRACK we sent (null: timeout or transport error). */
  onPrackResponse?(response: SipMessage | null, rseq: number, session: Session): void;
  /** UAS: a PRACK acknowledged one of our reliable provisional responses. */
  onPrack?(request: SipMessage, rseq: number, session: Session): void;
  onEnd?(reason: EndReason, session: Session): void;
}

/** A reliable provisional response we sent (UAS, RFC 3262 §3). */
interface ReliableProvisional {
  rseq: number;
  status: number;
  response: OutgoingMessage;
  withSdp: boolean;
  acked: boolean;
  timer: NodeJS.Timeout | null;
  /** ms since the first copy went out, and the next retransmission interval. */
  elapsed: number;
  interval: number;
}

/** The reliable provisional responses of one early dialog we received (UAC, RFC 3262 §4). */
interface ReliableTrack {
  /** RSeq of the last one processed (and PRACKed); null before the first. */
  last: number | null;
  /** Ones that came ahead of a missing RSeq, processed once it arrives. */
  ahead: Map<number, SipMessage>;
  /** The early dialog their PRACKs go in (the session's own dialog for its first fork). */
  dialog: Dialog | null;
}

/** `RAck: 776656 1 INVITE` (RFC 3262 §7.2), or null when malformed. */
export function parseRAck(value: string | undefined): { rseq: number; cseq: number; method: string } | null {
  const m = /^\s*(\d{1,10})\s+(\d{1,10})\s+([A-Za-z]+)\s*$/.exec(value ?? '');
  return m ? { rseq: Number(m[1]), cseq: Number(m[2]), method: m[3].toUpperCase() } : null;
}

/** The RSeq of a reliable provisional response (1xx other than 100 with Require: 100rel and a valid RSeq), or null. */
export function reliableRSeq(response: SipMessage): number | null {
  if (response.status <= 100 || response.status >= 200) return null;
  if (!response.tokens('require').some((t) => t.toLowerCase() === '100rel')) return null;
  const m = /^\s*(\d{1,10})\s*$/.exec(response.get('rseq') ?? '');
  if (!m) return null;
  const n = Number(m[1]);
  return n >= 1 && n <= 4294967295 ? n : null;
}

function hasOptionTag(message: SipMessage, header: string, tag: string): boolean {
  return message.tokens(header).some((t) => t.toLowerCase() === tag);
}

/** One INVITE usage of a dialog: a call leg seen from this UA. */
export class Session {
  readonly ua: UserAgent;
  readonly direction: 'outgoing' | 'incoming';
  readonly callId: string;
  readonly localTag: string;
  state: SessionState = 'calling';
  dialog: Dialog | null = null;
  /** Where in-dialog requests go when the remote target is not an IP literal. */
  peer: Destination;
  /** The INVITE that created the session (incoming) or its response (outgoing 2xx). */
  inviteRequest: SipMessage | null = null;
  finalResponse: SipMessage | null = null;
  localSdp: string | null = null;
  remoteSdp: string | null = null;
  events: SessionEvents;
  endReason: EndReason | null = null;
  readonly createdAt = performance.now();
  firstProvisionalAt: number | null = null;
  confirmedAt: number | null = null;
  /** @internal */
  inviteTx: ClientTransaction | ServerTransaction | null = null;
  /** @internal the INVITE we sent (outgoing). */
  outgoingInvite: OutgoingMessage | null = null;
  /**
   * UAS: send provisional responses reliably (RFC 3262) when the INVITE supports 100rel. An INVITE that
   * requires 100rel gets them reliably whatever this says.
   */
  reliableProvisionals = false;
  #ended = false;
  /** UAS (RFC 3262 §3): the RSeq of the last reliable provisional, the ones sent, the ones waiting for the first's PRACK. */
  #rseq = Math.floor(Math.random() * 0x3fffffff) + 1;
  readonly #reliable: ReliableProvisional[] = [];
  readonly #queued: Array<{ status: number; response: OutgoingMessage; withSdp: boolean }> = [];
  /** UAS: a 2xx waiting for the PRACK of a reliable provisional with SDP. */
  #heldAnswer: { response: OutgoingMessage } | null = null;
  /** UAS: hung up between our 2xx and its ACK: BYE once the ACK arrives (RFC 3261 §15). */
  #byeOnAck = false;
  /** UAC (RFC 3262 §4): per remote tag, the reliable provisionals received. */
  readonly #tracks = new Map<string, ReliableTrack>();

  constructor(ua: UserAgent, direction: 'outgoing' | 'incoming', callId: string, localTag: string, peer: Destination, events: SessionEvents) {
    this.ua = ua;
    this.direction = direction;
    this.callId = callId;
    this.localTag = localTag;
    this.peer = peer;
    this.events = events;
  }

  get id(): string {
    return this.dialog?.id ?? `${this.callId}\u0000${this.localTag}`;
  }

  /** Post-dial delay (INVITE to first provisional), ms. */
  get pddMs(): number | null {
    return this.firstProvisionalAt === null ? null : this.firstProvisionalAt - this.createdAt;
  }

  // ---- UAS side

  /**
   * Sends a provisional response (incoming calls). 183 with SDP is early media. `reliable` (default
   * `reliableProvisionals`) sends it with Require: 100rel and RSeq when the INVITE supports 100rel; one
   * that comes while an earlier reliable one awaits its PRACK is queued behind it (RFC 3262 §3).
   */
  progress(status = 180, sdp?: string, extra?: Array<{ name: string; value: string }>, options: { reliable?: boolean } = {}): boolean {
    const tx = this.inviteTx as ServerTransaction | null;
    // No provisional after the final response (§17.2.1): the transaction would refuse it anyway.
    if (!tx || this.direction !== 'incoming' || this.state === 'terminated' || this.state === 'confirmed' || tx.lastStatus >= 200) return false;
    const res = this.ua.buildResponse(tx, status, undefined, true);
    for (const h of extra ?? []) res.append(h.name, h.value);
    if (sdp) {
      res.setBody(sdp, 'application/sdp');
      this.localSdp = sdp;
    }
    if (status > 100 && this.dialog === null && this.inviteRequest) {
      this.dialog = Dialog.asUas(this.inviteRequest, this.localTag, 'early');
      this.ua.registerSession(this);
    }
    if (status > 100) this.state = 'early';
    if (status > 100 && this.#sendsReliably(options.reliable ?? this.reliableProvisionals)) {
      const withSdp = sdp !== undefined && sdp !== '';
      if (this.#reliable.some((r) => !r.acked)) {
        this.#queued.push({ status, response: res, withSdp });
        return true;
      }
      return this.#sendReliable(tx, status, res, withSdp);
    }
    return tx.respond(res);
  }

  /** RFC 3262 §3: reliably when the INVITE requires 100rel, or when wanted and the INVITE supports it. */
  #sendsReliably(wanted: boolean): boolean {
    const invite = this.inviteRequest;
    if (invite === null) return false;
    if (hasOptionTag(invite, 'require', '100rel')) return true;
    return wanted && hasOptionTag(invite, 'supported', '100rel');
  }

  /** The reliable provisional responses sent so far (UAS): RSeq, status, acknowledged. */
  get reliableProvisionalsSent(): Array<{ rseq: number; status: number; acked: boolean }> {
    return this.#reliable.map((r) => ({ rseq: r.rseq, status: r.status, acked: r.acked }));
  }

  #sendReliable(tx: ServerTransaction, status: number, res: OutgoingMessage, withSdp: boolean): boolean {
    this.#rseq = this.#rseq >= 0xfffffffe ? 1 : this.#rseq + 1;
    res.append('Require', '100rel');
    res.append('RSeq', String(this.#rseq));
    const t1 = this.ua.layer.timers.t1;
    const rp: ReliableProvisional = { rseq: this.#rseq, status, response: res, withSdp, acked: false, timer: null, elapsed: 0, interval: t1 };
    this.#reliable.push(rp);
    if (!tx.respond(res)) return false;
    const limit = 64 * t1;
    // §3: retransmitted at T1, doubling each time (on every transport: it is the TU's retransmission), until the PRACK.
    const arm = (): void => {
      const wait = Math.min(rp.interval, limit - rp.elapsed);
      rp.timer = setTimeout(() => {
        rp.timer = null;
        rp.elapsed += wait;
        if (rp.acked || this.#ended || tx.lastStatus >= 200) return;
        if (rp.elapsed >= limit) {
          // "the UAS SHOULD reject the original request with a 5xx response".
          this.reject(500, 'Server Internal Error', [{ name: 'Warning', value: `399 ${this.ua.warnAgent} "no PRACK for the reliable ${status} (RSeq ${rp.rseq}) within 64*T1"` }]);
          return;
        }
        tx.respond(res);
        rp.interval *= 2;
        arm();
      }, wait);
    };
    arm();
    return true;
  }

  /** @internal UAS: a PRACK in this session's dialog (RFC 3262 §3): 200 for an unacknowledged RSeq, else 481. */
  receivePrack(req: SipMessage): { status: number; reason?: string } {
    const rack = parseRAck(req.get('rack'));
    const inviteSeq = this.inviteRequest?.cseq?.seq;
    const rp = rack === null ? undefined : this.#reliable.find((r) => r.rseq === rack.rseq && !r.acked);
    if (rack === null || rp === undefined || rack.cseq !== inviteSeq || rack.method !== 'INVITE') {
      return { status: 481, reason: rack === null ? 'Call/Transaction Does Not Exist (no valid RAck)' : 'Call/Transaction Does Not Exist' };
    }
    rp.acked = true;
    if (rp.timer !== null) clearTimeout(rp.timer);
    rp.timer = null;
    // An answer to the offer of our reliable provisional (an INVITE without SDP, §5).
    if (req.body.length > 0 && req.contentType === 'application/sdp') this.remoteSdp = req.bodyText;
    this.events.onPrack?.(req, rp.rseq, this);
    return { status: 200 };
  }

  /** @internal UAS: after the 200 to a PRACK: the next queued reliable provisional, or the 2xx held back. */
  afterPrack(): void {
    const tx = this.inviteTx as ServerTransaction | null;
    if (tx !== null && tx.lastStatus < 200 && !this.#ended && !this.#reliable.some((r) => !r.acked)) {
      const next = this.#queued.shift();
      if (next !== undefined) this.#sendReliable(tx, next.status, next.response, next.withSdp);
    }
    this.#releaseHeldAnswer();
  }

  #releaseHeldAnswer(): void {
    const held = this.#heldAnswer;
    if (held === null || this.#reliable.some((r) => !r.acked && r.withSdp)) return;
    this.#heldAnswer = null;
    const tx = this.inviteTx as ServerTransaction | null;
    if (tx !== null && !this.#ended && tx.lastStatus < 200) this.#send2xx(tx, held.response);
  }

  /** True while a 2xx waits for the PRACK of a reliable provisional with SDP (RFC 3262 §3). */
  get answerHeld(): boolean {
    return this.#heldAnswer !== null;
  }

  /**
   * Answers an incoming call with 2xx and SDP; the 2xx is retransmitted until the ACK (§13.3.1.4). While a
   * reliable provisional with SDP awaits its PRACK, the 2xx is held back and sent when the PRACK arrives
   * (RFC 3262 §3); reliable provisionals still queued are dropped.
   */
  answer(sdp: string | null, extra?: Array<{ name: string; value: string }>): boolean {
    const tx = this.inviteTx as ServerTransaction | null;
    if (!tx || this.direction !== 'incoming' || this.#ended || tx.lastStatus >= 200 || this.#heldAnswer !== null) return false;
    const res = this.ua.buildResponse(tx, 200, 'OK', true);
    for (const h of extra ?? []) res.append(h.name, h.value);
    if (sdp) {
      res.setBody(sdp, 'application/sdp');
      this.localSdp = sdp;
    }
    if (this.dialog === null && this.inviteRequest) {
      this.dialog = Dialog.asUas(this.inviteRequest, this.localTag, 'confirmed');
      this.ua.registerSession(this);
    }
    this.#queued.length = 0;
    if (this.#reliable.some((r) => !r.acked && r.withSdp)) {
      this.#heldAnswer = { response: res };
      return true;
    }
    return this.#send2xx(tx, res);
  }

  #send2xx(tx: ServerTransaction, res: OutgoingMessage): boolean {
    if (this.dialog) this.dialog.state = 'confirmed';
    tx.onTimeout = (_tx, timer) => {
      // §13.3.1.4: no ACK after 64*T1: "the dialog is confirmed, but the session SHOULD be terminated ... with a BYE".
      if (timer === 'L' && !this.#ended) this.#byeNow();
    };
    return tx.respond(res, { retransmit2xx: true });
  }

  /** @internal UAS: the ACK of our 2xx arrived; a hang-up asked for meanwhile sends its BYE now (§15). */
  acknowledged(): void {
    if (this.#ended) return;
    if (this.#byeOnAck) {
      this.#byeNow();
      return;
    }
    if (this.state !== 'confirmed') {
      this.state = 'confirmed';
      this.confirmedAt = performance.now();
      this.events.onConfirmed?.(this);
    }
  }

  #byeNow(): void {
    this.state = 'confirmed';
    if (this.confirmedAt === null) this.confirmedAt = performance.now();
    this.sendInDialog('BYE');
    this.end({ kind: 'bye', byRemote: false });
  }

  /** Rejects an incoming call with a final non-2xx. */
  reject(status: number, reason?: string, extra?: Array<{ name: string; value: string }>): boolean {
    const tx = this.inviteTx as ServerTransaction | null;
    if (!tx || this.direction !== 'incoming' || tx.lastStatus >= 200) return false;
    const res = this.ua.buildResponse(tx, status, reason, false);
    for (const h of extra ?? []) res.append(h.name, h.value);
    this.#heldAnswer = null;
    this.#queued.length = 0;
    const sent = tx.respond(res);
    if (sent) this.end({ kind: 'rejected', status, reason: reason ?? res.reason });
    return sent;
  }

  // ---- both sides

  /**
   * Ends the call the right way for its state: CANCEL (outgoing, not answered), 480 (incoming, not
   * answered), BYE (confirmed). An incoming call answered but not yet ACKed gets its BYE once the ACK
   * arrives, or when the 2xx retransmissions give up (RFC 3261 §15: "the callee's UA MUST NOT send a BYE
   * on a confirmed dialog until it has received an ACK for its 2xx response or until the server
   * transaction times out").
   */
  hangup(): void {
    if (this.#ended) return;
    const tx = this.inviteTx as ServerTransaction | null;
    if (this.direction === 'incoming' && this.state !== 'confirmed' && tx !== null && tx.lastStatus >= 200 && tx.lastStatus < 300) {
      this.#byeOnAck = true;
      return;
    }
    if (this.state === 'confirmed') {
      this.sendInDialog('BYE');
      this.end({ kind: 'bye', byRemote: false });
      return;
    }
    if (this.direction === 'outgoing') {
      const tx = this.inviteTx as ClientTransaction | null;
      tx?.cancel();
      // The 487 (or a 2xx that crossed the CANCEL) will end or confirm-then-BYE the session.
      this.#cancelRequested = true;
      return;
    }
    this.reject(480, 'Temporarily Unavailable');
  }

  #cancelRequested = false;

  /** @internal UAC: a crossing 2xx after we asked to cancel is ACKed and BYEd (§9.1 note). */
  get cancelRequested(): boolean {
    return this.#cancelRequested;
  }

  /** Sends a request in the dialog; resolves with the final response (or null on timeout/transport error). */
  sendInDialog(method: string, body?: { type: string; content: string }, extra?: Array<{ name: string; value: string }>): Promise<SipMessage | null> {
    const d = this.dialog;
    if (!d) return Promise.resolve(null);
    const req = d.createRequest(method);
    this.ua.decorateRequest(req);
    if (method === 'INVITE' || method === 'UPDATE') req.append('Contact', this.ua.contact(this.peer.transport));
    for (const h of extra ?? []) req.append(h.name, h.value);
    if (body) req.setBody(body.content, body.type);
    const dest = this.destination();
    return new Promise((resolve) => {
      this.ua.layer.sendRequest(req, dest, {
        onFinal: (res) => {
          if (method === 'INVITE' && res.status >= 200 && res.status < 300) {
            d.receiveResponse(res);
            const ack = d.createRequest('ACK', res.cseq?.seq);
            this.ua.decorateRequest(ack);
            void this.ua.layer.sendAck(ack, dest).catch(() => undefined);
          }
          resolve(res);
        },
        onAdditional2xx: (res) => {
          const ack = d.createRequest('ACK', res.cseq?.seq);
          this.ua.decorateRequest(ack);
          void this.ua.layer.sendAck(ack, dest).catch(() => undefined);
        },
        onTimeout: () => resolve(null),
        onTransportError: () => resolve(null),
      });
    });
  }

  /** Where in-dialog requests go: the first Route, else the remote target, else the peer's address. */
  destination(): Destination {
    const d = this.dialog;
    if (!d) return this.peer;
    const first = d.routeSet[0];
    return uriDestination(first ?? d.remoteTarget, this.peer);
  }

  /**
   * Re-INVITE with a new offer (hold: direction inactive/sendonly; resume: sendrecv), with extra header
   * fields if given (a session refresh's Session-Expires, RFC 4028 §7.4).
   */
  async reinvite(sdp: string, extra?: Array<{ name: string; value: string }>): Promise<SipMessage | null> {
    const res = await this.sendInDialog('INVITE', { type: 'application/sdp', content: sdp }, extra);
    if (res && res.status >= 200 && res.status < 300) {
      this.localSdp = sdp;
      if (res.body.length > 0) this.remoteSdp = res.bodyText;
    }
    return res;
  }

  /** @internal */
  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.state = 'terminated';
    this.endReason = reason;
    for (const r of this.#reliable) if (r.timer !== null) clearTimeout(r.timer);
    this.#heldAnswer = null;
    this.#queued.length = 0;
    this.#tracks.clear();
    if (this.dialog) this.dialog.state = 'terminated';
    if (this.direction === 'incoming' && this.inviteTx !== null) {
      // The INVITE server transaction lives on for up to 64*T1 to absorb retransmissions and ACKs (§17.2.1, RFC 6026);
      // the ended session needs none of its events, and their closures would keep the session, its dialog and SDP
      // alive that long for nothing (at thousands of calls/s, that is garbage-collector work).
      const tx = this.inviteTx as ServerTransaction;
      tx.onCancel = undefined;
      tx.onAck = undefined;
      tx.onTimeout = undefined;
      tx.onTransportError = undefined;
    }
    this.ua.unregisterSession(this);
    this.events.onEnd?.(reason, this);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** @internal UAC: the reliable-provisional state of one remote tag (RFC 3262 §4). */
  track(remoteTag: string): ReliableTrack {
    let t = this.#tracks.get(remoteTag);
    if (t === undefined) {
      t = { last: null, ahead: new Map(), dialog: null };
      this.#tracks.set(remoteTag, t);
    }
    return t;
  }

  /** @internal UAC: the early dialog of a remote tag used for PRACK, if any. */
  earlyDialog(remoteTag: string): Dialog | null {
    return this.#tracks.get(remoteTag)?.dialog ?? null;
  }

  /** The Replaces value (RFC 3891) that names this session's dialog at the other party. */
  get replacesValue(): string | null {
    const d = this.dialog;
    if (d === null || !d.remoteTag) return null;
    // At the other party, to-tag is its own (our remote) tag and from-tag ours (§6.1).
    return `${d.callId};to-tag=${d.remoteTag};from-tag=${d.localTag}`;
  }
}

export interface PlaceCallOptions {
  /** Request-URI. */
  target: string;
  /** Where to send the INVITE (next hop). */
  dest: Destination;
  /** From and To name-addrs (without tags). */
  from: string;
  to?: string;
  sdp?: string | null;
  headers?: Array<{ name: string; value: string }>;
  events?: SessionEvents;
  callId?: string;
}

/** A user agent core on one transport. */
export class UserAgent {
  readonly transport: SipTransport;
  readonly layer: TransactionLayer;
  readonly options: UserAgentOptions;
  readonly #sessions = new Map<string, Session>();
  /** Sessions of incoming INVITEs not yet in a dialog, by server transaction. */
  onInvite: ((session: Session, request: SipMessage) => void) | null = null;
  /** Requests answered with 4xx-5xx by the screening, for reporting. */
  onScreened: ((request: SipMessage, status: number, reason: string) => void) | null = null;

  constructor(transport: SipTransport, layer: TransactionLayer, options: UserAgentOptions = {}) {
    this.transport = transport;
    this.layer = layer;
    this.options = options;
    layer.onRequest((req, tx) => this.#onRequest(req, tx));
    layer.onAck((ack, _flow, tx) => this.#onAck(ack, tx));
    layer.onCancel((_cancel, tx) => this.#onCancel(tx));
    layer.onStrayResponse((res, flow) => this.#onStrayResponse(res, flow));
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** The warn-agent of our Warning header fields (RFC 3261 §20.43): our address. */
  get warnAgent(): string {
    const l = this.transport.listening[0];
    return l === undefined ? 'trunklab' : `${hostForUri(l)}:${l.port}`;
  }

  /**
   * The session whose dialog a Replaces header field names (RFC 3891 §3): its to-tag is our tag, its
   * from-tag the other party's. Only confirmed dialogs, and early dialogs we placed, can be replaced.
   */
  sessionForReplaces(target: ReplacesTarget): Session | null {
    const s = this.#sessions.get(dialogId(target.callId, target.toTag, target.fromTag));
    if (s === undefined || s.ended) return null;
    if (s.state === 'confirmed') return target.earlyOnly ? null : s;
    return s.state === 'early' && s.direction === 'outgoing' ? s : null;
  }

  /** Our Contact for a transport. */
  contact(transport: TransportProtocol): string {
    const sb = this.transport.sentBy(transport);
    const user = this.options.contactUser ? `${this.options.contactUser}@` : '';
    const tp = transport === 'udp' ? '' : `;transport=${transport}`;
    return `<sip:${user}${hostForUri(sb)}:${sb.port}${tp}>`;
  }

  /** Adds User-Agent, Supported and the extra headers to a request we build. */
  decorateRequest(req: OutgoingMessage): void {
    if (this.options.product && !req.get('user-agent')) req.append('User-Agent', this.options.product);
    for (const h of this.options.extraHeaders ?? []) req.append(h.name, h.value);
  }

  /** A response through a server transaction, with Contact (dialog-creating), Server, Allow, Supported. */
  buildResponse(tx: ServerTransaction, status: number, reason: string | undefined, dialogCreating: boolean): OutgoingMessage {
    const res = tx.createResponse(status, reason);
    if (dialogCreating && status > 100 && status < 300) res.append('Contact', this.contact(tx.flow.transport));
    if (status >= 200 && status < 300 && (tx.method === 'INVITE' || tx.method === 'OPTIONS')) {
      res.append('Allow', ALLOW);
      if (this.options.supported?.length) res.append('Supported', this.options.supported.join(', '));
    }
    if (this.options.product) res.append('Server', this.options.product);
    for (const h of this.options.extraHeaders ?? []) res.append(h.name, h.value);
    return res;
  }

  /** Places a call: INVITE in a new client transaction; returns the session at once. */
  invite(o: PlaceCallOptions): Session {
    const sb = this.transport.sentBy(o.dest.transport);
    const callId = o.callId ?? newCallId(hostForUri(sb));
    const session = new Session(this, 'outgoing', callId, newTag(), o.dest, o.events ?? {});
    const req = OutgoingMessage.request('INVITE', o.target);
    req.append('Max-Forwards', '70');
    req.append('From', `${o.from};tag=${session.localTag}`);
    req.append('To', o.to ?? `<${o.target}>`);
    req.append('Call-ID', callId);
    req.append('CSeq', `${1 + Math.floor(Math.random() * 1000)} INVITE`);
    req.append('Contact', this.contact(o.dest.transport));
    req.append('Allow', ALLOW);
    if (this.options.supported?.length) req.append('Supported', this.options.supported.join(', '));
    this.decorateRequest(req);
    for (const h of o.headers ?? []) req.append(h.name, h.value);
    if (o.sdp) {
      req.setBody(o.sdp, 'application/sdp');
      session.localSdp = o.sdp;
    }
    session.outgoingInvite = req;
    this.#sessions.set(`${callId}\u0000${session.localTag}`, session);
    session.inviteTx = this.layer.sendRequest(req, o.dest, {
      onProvisional: (res) => this.#uacProvisional(session, req, res),
      onFinal: (res) => this.#uacFinal(session, req, res),
      onAdditional2xx: (res) => this.#uacAck(session, res),
      onTimeout: () => session.end({ kind: 'timeout' }),
      onTransportError: (err) => session.end({ kind: 'transport-error', message: (err as Error).message ?? String(err) }),
    });
    return session;
  }

  #uacProvisional(session: Session, req: OutgoingMessage, res: SipMessage): void {
    if (session.ended) return;
    const rseq = reliableRSeq(res);
    const tag = res.toTag;
    if (rseq === null || !tag) {
      this.#provisional(session, req, res);
      return;
    }
    // RFC 3262 §4: one PRACK per RSeq; a retransmission (RSeq not above the last) is not processed again, one
    // that skips an RSeq waits for the missing one.
    const track = session.track(tag);
    if (track.last !== null && rseq <= track.last) return;
    if (track.last !== null && rseq > track.last + 1) {
      if (track.ahead.size < 32) track.ahead.set(rseq, res);
      return;
    }
    this.#reliableProvisional(session, req, res, rseq, track);
    for (let next = track.ahead.get(rseq + 1), n = rseq + 1; next !== undefined && !session.ended; n++, next = track.ahead.get(n)) {
      track.ahead.delete(n);
      this.#reliableProvisional(session, req, next, n, track);
    }
  }

  #provisional(session: Session, req: OutgoingMessage, res: SipMessage, notify = true): void {
    if (session.firstProvisionalAt === null && res.status > 100) session.firstProvisionalAt = performance.now();
    if (res.status > 100 && res.toTag) {
      if (session.dialog === null) session.dialog = Dialog.asUac(req, res);
      session.state = 'early';
      if (res.body.length > 0 && res.contentType === 'application/sdp') session.remoteSdp = res.bodyText;
    }
    if (notify) session.events.onProvisional?.(res, session);
  }

  /** Processes one reliable provisional in order and acknowledges it with PRACK (RFC 3262 §4, §7.2). */
  #reliableProvisional(session: Session, req: OutgoingMessage, res: SipMessage, rseq: number, track: ReliableTrack): void {
    track.last = rseq;
    const offerless = session.localSdp === null;
    this.#provisional(session, req, res, false);
    const tag = res.toTag ?? '';
    if (track.dialog === null) track.dialog = session.dialog !== null && session.dialog.remoteTag === tag ? session.dialog : Dialog.asUac(req, res);
    const dialog = track.dialog;
    const prack = dialog.createRequest('PRACK');
    this.decorateRequest(prack);
    prack.append('RAck', `${rseq} ${res.cseq?.seq ?? 0} ${res.cseq?.method ?? 'INVITE'}`);
    if (offerless && res.body.length > 0 && res.contentType === 'application/sdp') {
      const answer = session.events.onEarlyOffer?.(res, session) ?? null;
      if (answer !== null) {
        prack.setBody(answer, 'application/sdp');
        session.localSdp = answer;
      }
    }
    const dest = uriDestination(dialog.routeSet[0] ?? dialog.remoteTarget, session.peer);
    this.layer.sendRequest(prack, dest, {
      onFinal: (r) => session.events.onPrackResponse?.(r, rseq, session),
      onTimeout: () => session.events.onPrackResponse?.(null, rseq, session),
      onTransportError: () => session.events.onPrackResponse?.(null, rseq, session),
    });
    // The TU hears of it once acknowledged (a B2BUA relays it after its PRACK went out).
    session.events.onProvisional?.(res, session);
  }

  #uacFinal(session: Session, req: OutgoingMessage, res: SipMessage): void {
    session.finalResponse = res;
    if (res.status >= 300) {
      const cancelled = session.cancelRequested && res.status === 487;
      session.end(cancelled ? { kind: 'cancelled', byRemote: false } : { kind: 'rejected', status: res.status, reason: res.reason, response: res });
      return;
    }
    // 2xx: the dialog is confirmed; ACK it (§13.2.2.4). Requests already sent in its early dialog (PRACK)
    // used CSeq numbers: the confirmed dialog goes on from there.
    const early = [session.dialog, session.earlyDialog(res.toTag ?? '')].filter((d): d is Dialog => d !== null && d.remoteTag === res.toTag);
    session.dialog = Dialog.asUac(req, res);
    for (const d of early) session.dialog.localSeq = Math.max(session.dialog.localSeq, d.localSeq);
    this.#sessions.delete(`${session.callId}\u0000${session.localTag}`);
    this.registerSession(session);
    if (res.body.length > 0) session.remoteSdp = res.bodyText;
    this.#uacAck(session, res);
    if (session.ended) return;
    session.state = 'confirmed';
    session.confirmedAt = performance.now();
    if (session.cancelRequested) {
      session.hangup();
      return;
    }
    session.events.onConfirmed?.(session);
  }

  #uacAck(session: Session, res: SipMessage): void {
    const d = session.dialog;
    if (!d || res.toTag !== d.remoteTag) {
      // A 2xx from another fork: ACK and BYE it (§13.2.2.4); one dialog per session here.
      const other = session.outgoingInvite ? Dialog.asUac(session.outgoingInvite, res) : null;
      if (other) {
        const dest = uriDestination(other.routeSet[0] ?? other.remoteTarget, session.peer);
        const ack = other.createRequest('ACK', res.cseq?.seq);
        void this.layer.sendAck(ack, dest).catch(() => undefined);
        this.layer.sendRequest(other.createRequest('BYE'), dest);
      }
      return;
    }
    const ack = d.createRequest('ACK', res.cseq?.seq);
    this.decorateRequest(ack);
    void this.layer.sendAck(ack, session.destination()).catch(() => undefined);
  }

  /** @internal */
  registerSession(session: Session): void {
    if (session.dialog) this.#sessions.set(session.dialog.id, session);
  }

  /** @internal */
  unregisterSession(session: Session): void {
    if (session.dialog) this.#sessions.delete(session.dialog.id);
    this.#sessions.delete(`${session.callId}\u0000${session.localTag}`);
  }

  #onRequest(req: SipMessage, tx: ServerTransaction): void {
    const rejection = screenRequest(req, this.options.policy ?? DEFAULT_UAS_POLICY);
    if (rejection) {
      const res = tx.createResponse(rejection.status, rejection.reason);
      for (const h of rejection.headers) res.append(h.name, h.value);
      if (this.options.product) res.append('Server', this.options.product);
      tx.respond(res);
      this.onScreened?.(req, rejection.status, rejection.reason);
      return;
    }
    const toTag = req.toTag;
    if (toTag) {
      const session = this.#sessions.get(dialogId(req.callId, toTag, req.fromTag ?? ''));
      if (!session) {
        tx.reply(481, 'Call/Transaction Does Not Exist');
        return;
      }
      this.#inDialog(session, req, tx);
      return;
    }
    if (this.options.onRequest?.(req, tx, this)) return;
    switch (req.method) {
      case 'INVITE': {
        const session = new Session(this, 'incoming', req.callId, newTag(), tx.destination, {});
        session.inviteRequest = req;
        session.inviteTx = tx;
        if (req.body.length > 0) session.remoteSdp = req.bodyText;
        tx.localTag = session.localTag;
        tx.onCancel = () => {
          const res = this.buildResponse(tx, 487, 'Request Terminated', false);
          tx.respond(res);
          session.end({ kind: 'cancelled', byRemote: true });
        };
        tx.onAck = () => session.acknowledged();
        tx.onTransportError = (err) => session.end({ kind: 'transport-error', message: String(err) });
        if (this.onInvite) this.onInvite(session, req);
        else session.reject(480, 'Temporarily Unavailable');
        return;
      }
      case 'OPTIONS': {
        const res = this.buildResponse(tx, 200, 'OK', false);
        res.append('Accept', 'application/sdp');
        tx.respond(res);
        return;
      }
      case 'BYE':
      case 'CANCEL':
      case 'UPDATE':
      case 'PRACK':
      case 'INFO':
      case 'REFER':
      case 'NOTIFY':
        tx.reply(481, 'Call/Transaction Does Not Exist');
        return;
      case 'REGISTER':
      case 'MESSAGE':
      case 'SUBSCRIBE': {
        // §8.2.1: "The UAS MUST also add an Allow header field to the 405 (Method Not Allowed) response."
        const res = this.buildResponse(tx, 405, 'Method Not Allowed', false);
        res.append('Allow', ALLOW);
        tx.respond(res);
        return;
      }
      default:
        tx.reply(501, 'Not Implemented');
    }
  }

  #inDialog(session: Session, req: SipMessage, tx: ServerTransaction): void {
    const d = session.dialog;
    if (d && !d.receiveRequest(req)) {
      tx.reply(500, 'Server Internal Error - CSeq out of order');
      return;
    }
    switch (req.method) {
      case 'BYE':
        tx.respond(this.buildResponse(tx, 200, 'OK', false));
        session.end({ kind: 'bye', byRemote: true });
        return;
      case 'PRACK': {
        const answer = session.receivePrack(req);
        tx.respond(this.buildResponse(tx, answer.status, answer.reason, false));
        if (answer.status === 200) session.afterPrack();
        return;
      }
      case 'INVITE':
      case 'UPDATE': {
        const offer = req.body.length > 0 ? req.bodyText : null;
        const decision = session.events.onReinvite?.(req, session);
        const status = decision?.status ?? 200;
        const res = this.buildResponse(tx, status, undefined, true);
        if (status >= 200 && status < 300) {
          const sdp = decision?.sdp ?? session.localSdp;
          if (offer) session.remoteSdp = offer;
          if (sdp) {
            res.setBody(sdp, 'application/sdp');
            session.localSdp = sdp;
          }
          tx.respond(res, { retransmit2xx: req.method === 'INVITE' });
        } else tx.respond(res);
        return;
      }
      default: {
        const answer = session.events.onRequest?.(req, session) ?? 200;
        const decision = typeof answer === 'number' ? { status: answer } : answer;
        const res = this.buildResponse(tx, decision.status, decision.reason, false);
        for (const h of decision.headers ?? []) res.append(h.name, h.value);
        tx.respond(res);
      }
    }
  }

  #onAck(ack: SipMessage, tx: ServerTransaction | null): void {
    if (tx) return; // the INVITE transaction's onAck handles it
    const toTag = ack.toTag;
    if (!toTag) return;
    const session = this.#sessions.get(dialogId(ack.callId, toTag, ack.fromTag ?? ''));
    if (session && session.state === 'early') {
      session.state = 'confirmed';
      session.events.onConfirmed?.(session);
    }
  }

  #onCancel(tx: ServerTransaction): void {
    // Sessions set tx.onCancel; a CANCEL for an INVITE the TU never saw gets the default 487.
    tx.reply(487, 'Request Terminated');
  }

  #onStrayResponse(res: SipMessage, _flow: Flow): void {
    // A 2xx retransmission after the INVITE transaction ended: ACK again (§13.2.2.4).
    if (res.cseq?.method !== 'INVITE' || res.status < 200 || res.status >= 300) return;
    const session = this.#sessions.get(dialogId(res.callId, res.fromTag ?? '', res.toTag ?? ''));
    if (session) this.#uacAck(session, res);
  }

  /** Sends OPTIONS outside a dialog (a Mediation Server's keep-alive); resolves with the response or null. */
  sendOptions(target: string, dest: Destination, from?: string): Promise<{ response: SipMessage | null; rttMs: number; error?: string }> {
    const sb = this.transport.sentBy(dest.transport);
    const req = OutgoingMessage.request('OPTIONS', target);
    req.append('Max-Forwards', '70');
    req.append('From', `${from ?? `<sip:${hostForUri(sb)}:${sb.port}>`};tag=${newTag()}`);
    req.append('To', `<${target}>`);
    req.append('Call-ID', newCallId(hostForUri(sb)));
    req.append('CSeq', '1 OPTIONS');
    req.append('Contact', this.contact(dest.transport));
    req.append('Accept', 'application/sdp');
    this.decorateRequest(req);
    const t0 = performance.now();
    return new Promise((resolve) => {
      this.layer.sendRequest(req, dest, {
        onFinal: (res) => resolve({ response: res, rttMs: performance.now() - t0 }),
        onTimeout: () => resolve({ response: null, rttMs: performance.now() - t0, error: 'timeout' }),
        onTransportError: (err) => resolve({ response: null, rttMs: performance.now() - t0, error: (err as { code?: string }).code ?? String(err) }),
      });
    });
  }

  /** Ends every session (BYE/CANCEL/487) without waiting. */
  hangupAll(): void {
    for (const s of [...this.#sessions.values()]) s.hangup();
  }
}

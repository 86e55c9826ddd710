/**
 * A user agent core (RFC 3261 §8, §12-§15) on top of one transport and its
 * transaction layer: places and answers INVITE sessions, keeps their dialogs,
 * sends and answers in-dialog requests (BYE, re-INVITE, INFO, REFER, UPDATE),
 * CANCELs, ACKs 2xx (and their retransmissions), screens every request with
 * the UAS core checks, and answers OPTIONS. Emulated elements and the CLI's
 * `uas` and `options` commands are built on it.
 */
import { newCallId, newTag, OutgoingMessage } from './builder.ts';
import type { HostPort, TransportProtocol } from './capture.ts';
import { Dialog, dialogId } from './dialog.ts';
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
  onEnd?(reason: EndReason, session: Session): void;
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
  #ended = false;

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

  /** Sends a provisional response (incoming calls). 183 with SDP is early media. */
  progress(status = 180, sdp?: string, extra?: Array<{ name: string; value: string }>): boolean {
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
    return tx.respond(res);
  }

  /** Answers an incoming call with 2xx and SDP; the 2xx is retransmitted until the ACK (§13.3.1.4). */
  answer(sdp: string | null, extra?: Array<{ name: string; value: string }>): boolean {
    const tx = this.inviteTx as ServerTransaction | null;
    if (!tx || this.direction !== 'incoming' || this.#ended || tx.lastStatus >= 200) return false;
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
    if (this.dialog) this.dialog.state = 'confirmed';
    tx.onTimeout = (_tx, timer) => {
      if (timer === 'L' && this.state !== 'terminated') this.hangup();
    };
    return tx.respond(res, { retransmit2xx: true });
  }

  /** Rejects an incoming call with a final non-2xx. */
  reject(status: number, reason?: string, extra?: Array<{ name: string; value: string }>): boolean {
    const tx = this.inviteTx as ServerTransaction | null;
    if (!tx || this.direction !== 'incoming' || tx.lastStatus >= 200) return false;
    const res = this.ua.buildResponse(tx, status, reason, false);
    for (const h of extra ?? []) res.append(h.name, h.value);
    const sent = tx.respond(res);
    if (sent) this.end({ kind: 'rejected', status, reason: reason ?? res.reason });
    return sent;
  }

  // ---- both sides

  /** Ends the call the right way for its state: CANCEL (outgoing, not answered), 480/487 (incoming), BYE (confirmed). */
  hangup(): void {
    if (this.#ended) return;
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
    if (session.firstProvisionalAt === null && res.status > 100) session.firstProvisionalAt = performance.now();
    if (res.status > 100 && res.toTag) {
      if (session.dialog === null) session.dialog = Dialog.asUac(req, res);
      session.state = 'early';
      if (res.body.length > 0 && res.contentType === 'application/sdp') session.remoteSdp = res.bodyText;
    }
    session.events.onProvisional?.(res, session);
  }

  #uacFinal(session: Session, req: OutgoingMessage, res: SipMessage): void {
    session.finalResponse = res;
    if (res.status >= 300) {
      const cancelled = session.cancelRequested && res.status === 487;
      session.end(cancelled ? { kind: 'cancelled', byRemote: false } : { kind: 'rejected', status: res.status, reason: res.reason, response: res });
      return;
    }
    // 2xx: the dialog is confirmed; ACK it (§13.2.2.4).
    session.dialog = Dialog.asUac(req, res);
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
        tx.onAck = () => {
          if (session.state !== 'terminated' && session.state !== 'confirmed') {
            session.state = 'confirmed';
            session.confirmedAt = performance.now();
            session.events.onConfirmed?.(session);
          }
        };
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

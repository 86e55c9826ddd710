/**
 * The transaction layer (RFC 3261 §17): sits on one SipTransport, creates
 * client transactions for requests the TU sends and server transactions for
 * requests that arrive, matches every received message to its transaction
 * with one Map lookup (§17.1.3, §17.2.3), and hands the TU what is not a
 * retransmission.
 *
 * §17: "The transaction layer handles application-layer retransmissions,
 * matching of responses to requests, and application-layer timeouts."
 *
 * What reaches the TU:
 * - `onRequest(request, tx)`: a new request (never a retransmission, never an
 *   ACK or CANCEL). A request that cannot be matched (no Via) still comes
 *   up, with a transaction that is not registered, so the UAS core can
 *   answer 400 (it goes back to the packet's source).
 * - `onAck(ack, flow, tx)`: an ACK that is not absorbed by an INVITE server
 *   transaction in Completed/Confirmed: the ACK of a 2xx (its own
 *   transaction, §17.1.1.3; `tx` is the INVITE transaction in the Accepted
 *   state when it is still there, RFC 6026 §7.1), or an ACK that matches
 *   nothing (`tx` null).
 * - `onCancel(cancel, inviteTx, flow)`: §9.2: "If the UAS did not find a
 *   matching transaction for the CANCEL according to the procedure above, it
 *   SHOULD respond to the CANCEL with a 481 [...] as long as the CANCEL
 *   matched an existing transaction, the UAS answers the CANCEL request itself
 *   with a 200 (OK) response." The layer does both; the TU is told only when
 *   the INVITE has no final response yet, and answers it with 487.
 * - `onStrayResponse(response, flow)`: a response that matches no client
 *   transaction (§18.1.2: "the response MUST be [...] passed to the core"),
 *   e.g. a 2xx retransmission after timer M.
 *
 * The layer never throws on what it receives; a TU handler that throws is
 * reported to `onHandlerError` and the layer carries on (a request whose
 * `onRequest` handler threw before a final response gets a 500). `close()` terminates
 * every transaction and clears every timer.
 */
import { newBranch, newTag, type OutgoingMessage } from './builder.ts';
import { formatHostPort, type TransportProtocol } from './capture.ts';
import type { SipMessage } from './message.ts';
import { describeRequest } from './transaction-ack-cancel.ts';
import { ClientTransaction, type ClientTransactionHandlers } from './transaction-client.ts';
import {
  ackFor2xxKey,
  clientFallbackKey,
  clientKey,
  cseqNumber,
  isRfc3261Branch,
  responseKey,
  serverKey,
  tagOfHeaderValue,
} from './transaction-matching.ts';
import { ServerTransaction } from './transaction-server.ts';
import { resolveTimers, TimerQueue, type TimerSettings } from './transaction-timers.ts';
import type { Destination, Flow, SendCallback, SipTransport } from './transport-types.ts';
import { parseVia } from './via.ts';

export interface TransactionLayerOptions {
  /** Timers of this layer (defaults: T1 500 ms, T2 4 s, T4 5 s, D 32 s, C off). */
  timers?: Partial<TimerSettings>;
  /**
   * INVITE server transactions send 100 (Trying) when the TU has sent no
   * response after this many ms (§17.2.1: "unless it knows that the TU will
   * generate a provisional or final response within 200 ms"); 0 sends it at
   * once, false never (a retransmitted INVITE still gets it). Default 200.
   */
  tryingDelay?: number | false;
  /** A TU handler threw (default: console.error). The layer carries on. */
  onHandlerError?: (error: unknown) => void;
}

/** @internal what transactions need from their layer. */
export interface TransactionContext {
  readonly transport: SipTransport;
  readonly timers: Readonly<TimerSettings>;
  readonly tryingDelay: number | false;
  /** Every timer of the layer's transactions. */
  readonly queue: TimerQueue;
  /** Sends through the transport; `done` is called once, later, with the error or the flow used. */
  send(bytes: Uint8Array, dest: Destination, done: SendCallback): void;
  /** A registered server transaction let go of its parsed request. */
  releaseRequest(): void;
  startClient(request: OutgoingMessage, dest: Destination, handlers: ClientTransactionHandlers | undefined): ClientTransaction;
  forgetClient(tx: ClientTransaction): void;
  forgetServer(tx: ServerTransaction): void;
  addServerAlias(key: string, tx: ServerTransaction): void;
  /** Calls a TU handler (with `self` as this), reporting what it throws; false when it threw. */
  invoke<A, B, C = undefined>(fn: ((a: A, b: B, c: C) => void) | undefined, self: unknown, a: A, b: B, c?: C): boolean;
}

export type RequestHandler = (request: SipMessage, tx: ServerTransaction) => void;
export type AckHandler = (ack: SipMessage, flow: Flow, tx: ServerTransaction | null) => void;
export type CancelHandler = (cancel: SipMessage, invite: ServerTransaction, flow: Flow) => void;
export type StrayResponseHandler = (response: SipMessage, flow: Flow) => void;

const VIA_TRANSPORT: Record<TransportProtocol, string> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };

class Context implements TransactionContext {
  readonly transport: SipTransport;
  readonly timers: Readonly<TimerSettings>;
  readonly tryingDelay: number | false;
  readonly clients = new Map<string, ClientTransaction>();
  readonly servers = new Map<string, ServerTransaction>();
  /** Registered server transactions (the map also holds alias keys). */
  serverCount = 0;
  /** Registered server transactions still holding their parsed request (no final response sent yet). */
  requestsHeld = 0;
  readonly queue: TimerQueue;
  readonly sentBy = new Map<TransportProtocol, string>();
  closed = false;
  onRequest: RequestHandler | undefined;
  onAck: AckHandler | undefined;
  onCancel: CancelHandler | undefined;
  onStrayResponse: StrayResponseHandler | undefined;
  readonly onHandlerError: (error: unknown) => void;

  constructor(transport: SipTransport, options: TransactionLayerOptions) {
    this.transport = transport;
    this.timers = resolveTimers(options.timers);
    const d = options.tryingDelay ?? 200;
    this.tryingDelay = d === false ? false : Math.max(0, d);
    this.onHandlerError = options.onHandlerError ?? ((err) => console.error('trunklab transaction layer: a handler threw:', err));
    this.queue = new TimerQueue((err) => this.reportError(err));
  }

  send(bytes: Uint8Array, dest: Destination, done: SendCallback): void {
    const transport = this.transport;
    if (transport.sendNow !== undefined) {
      transport.sendNow(bytes, dest, done);
      return;
    }
    let p: Promise<Flow>;
    try {
      p = transport.send(bytes, dest);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (flow) => done(null, flow),
      (err: unknown) => done(err ?? new Error('send failed'), null),
    );
  }

  releaseRequest(): void {
    this.requestsHeld--;
  }

  invoke<A, B, C = undefined>(fn: ((a: A, b: B, c: C) => void) | undefined, self: unknown, a: A, b: B, c?: C): boolean {
    if (fn === undefined) return true;
    try {
      fn.call(self, a, b, c as C);
      return true;
    } catch (err) {
      this.reportError(err);
      return false;
    }
  }

  reportError(err: unknown): void {
    try {
      this.onHandlerError(err);
    } catch {
      // nowhere left to report to
    }
  }

  // ------------------------------------------------------------ client side

  startClient(request: OutgoingMessage, dest: Destination, handlers: ClientTransactionHandlers | undefined): ClientTransaction {
    if (this.closed) throw new Error('the transaction layer is closed');
    if (request.kind !== 'request') throw new TypeError('sendRequest needs a request');
    if (request.method === 'ACK') throw new TypeError('ACK is not sent in a transaction (RFC 3261 §17.1.1.3): use sendAck');
    let branch: string;
    const original = describeRequest(request);
    if (original.hadVia) {
      branch = parseVia(original.topVia).branch ?? '';
    } else {
      branch = newBranch();
      // §8.1.1.7 and RFC 3581: our sent-by, a fresh branch, rport asked for.
      original.topVia = `SIP/2.0/${VIA_TRANSPORT[dest.transport] ?? String(dest.transport).toUpperCase()} ${this.#sentBy(dest.transport)};branch=${branch};rport`;
      request.prepend('Via', original.topVia);
    }
    const key = isRfc3261Branch(branch)
      ? clientKey(branch, original.cseqMethod)
      : clientFallbackKey(original.callId.trim(), original.cseq === '' ? '' : String(Number(original.cseq)), original.cseqMethod, tagOfHeaderValue(original.from));
    const tx = new ClientTransaction(this, { key, branch, bytes: request.toBytes(), destination: dest, original, handlers });
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  #sentBy(transport: TransportProtocol): string {
    let s = this.sentBy.get(transport);
    if (s === undefined) {
      // Throws when the transport has no listening point of that kind: the caller asked for the impossible.
      s = formatHostPort(this.transport.sentBy(transport));
      this.sentBy.set(transport, s);
    }
    return s;
  }

  sendAck(ack: OutgoingMessage, dest: Destination): Promise<Flow> {
    if (this.closed) return Promise.reject(new Error('the transaction layer is closed'));
    let hasVia = false;
    for (const h of ack.headers) {
      const n = h.name.toLowerCase();
      if (n === 'via' || n === 'v') {
        hasVia = true;
        break;
      }
    }
    try {
      if (!hasVia) ack.prepend('Via', `SIP/2.0/${VIA_TRANSPORT[dest.transport] ?? String(dest.transport).toUpperCase()} ${this.#sentBy(dest.transport)};branch=${newBranch()};rport`);
      return this.transport.send(ack.toBytes(), dest);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  forgetClient(tx: ClientTransaction): void {
    if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
  }

  /**
   * A stream connection closed: client transactions still waiting for a
   * first response on it fail (§17.1.4). On the next turn of the event loop,
   * so that whoever else listens to the transport's connections sees the
   * close before the failures it causes.
   */
  readonly onConnection = (event: { type: 'open' | 'close'; connId: number; reason?: string }): void => {
    if (this.closed || event.type !== 'close') return;
    setImmediate(() => {
      if (this.closed) return;
      for (const tx of [...this.clients.values()]) tx.connectionClosed(event.connId, event.reason ?? 'closed');
    });
  };

  #onResponse(msg: SipMessage, flow: Flow): void {
    const status = msg.status;
    const key = status >= 100 && status <= 699 ? responseKey(msg) : null;
    const tx = key === null ? undefined : this.clients.get(key);
    if (tx !== undefined && tx.receiveResponse(msg, flow)) return;
    this.invoke(this.onStrayResponse, undefined, msg, flow);
  }

  // ------------------------------------------------------------ server side

  forgetServer(tx: ServerTransaction): void {
    const servers = this.servers;
    if (tx.key === null) return;
    this.serverCount--;
    if (servers.get(tx.key) === tx) servers.delete(tx.key);
    const aliases = tx.aliases;
    if (aliases !== null) for (let i = 0; i < aliases.length; i++) if (servers.get(aliases[i]) === tx) servers.delete(aliases[i]);
  }

  addServerAlias(key: string, tx: ServerTransaction): void {
    if (!this.closed && tx.state !== 'terminated') this.servers.set(key, tx);
  }

  #onRequest(msg: SipMessage, flow: Flow): void {
    const method = msg.method;
    if (method === 'ACK') {
      this.#onAck(msg, flow);
      return;
    }
    const via = msg.topVia;
    if (via === undefined) {
      // §17.2.3 cannot apply. The UAS core may still answer (400), to where the request came from.
      this.#newServer(msg, flow, null, false);
      return;
    }
    const key = serverKey(msg, via, method);
    const existing = this.servers.get(key);
    if (existing !== undefined) {
      existing.receiveRetransmission();
      return;
    }
    const rfc2543 = !isRfc3261Branch(via.branch);
    if (method === 'CANCEL') {
      this.#onCancel(msg, flow, key, rfc2543);
      return;
    }
    this.#newServer(msg, flow, key, rfc2543);
  }

  #newServer(msg: SipMessage, flow: Flow, key: string | null, rfc2543: boolean): void {
    const tx = new ServerTransaction(this, msg, flow, key, rfc2543);
    if (key !== null) {
      this.servers.set(key, tx);
      this.serverCount++;
      this.requestsHeld++;
    }
    tx.start();
    const handler = this.onRequest;
    if (handler === undefined) {
      // No UAS core on this layer.
      tx.reply(501, 'Not Implemented');
      return;
    }
    // A UAS core that throws before answering: 500 (§21.5.1), so the request does not hang.
    if (!this.invoke(handler, undefined, msg, tx) && tx.lastStatus < 200 && tx.state !== 'terminated') tx.reply(500, 'Server Internal Error');
  }

  #onAck(msg: SipMessage, flow: Flow): void {
    const via = msg.topVia;
    let tx: ServerTransaction | undefined;
    if (via !== undefined) {
      tx = this.servers.get(serverKey(msg, via, 'INVITE'));
      if (tx !== undefined && tx.isInvite && tx.receiveAck(msg)) return;
    }
    if (tx === undefined || !tx.isInvite) {
      // The ACK of a 2xx has a branch of its own (§13.2.2.4): find the Accepted INVITE by dialog.
      tx = this.servers.get(ackFor2xxKey(msg.callId, tagOfHeaderValue(msg.get('from')), tagOfHeaderValue(msg.get('to')), cseqNumber(msg)));
      if (tx !== undefined && tx.receiveAck(msg)) return;
    }
    this.invoke(this.onAck, undefined, msg, flow, tx ?? null);
  }

  #onCancel(msg: SipMessage, flow: Flow, key: string, rfc2543: boolean): void {
    const via = msg.topVia!;
    // §9.2: matched as if its method were the cancelled request's (INVITE; CANCEL of other methods is not sent, §9.1).
    const invite = this.servers.get(serverKey(msg, via, 'INVITE'));
    const cancelTx = new ServerTransaction(this, msg, flow, key, rfc2543);
    this.requestsHeld++;
    this.servers.set(key, cancelTx);
    this.serverCount++;
    cancelTx.start();
    if (invite === undefined || !invite.isInvite || invite.state === 'terminated') {
      cancelTx.reply(481);
      return;
    }
    // §9.2: "the To tag of the response to the CANCEL and the To tag in the response to the original
    // request SHOULD be the same".
    if (invite.localTag === null) invite.localTag = newTag();
    cancelTx.localTag = invite.localTag;
    cancelTx.reply(200);
    if (!invite.markCancelled()) return;
    if (invite.onCancel !== undefined) this.invoke(invite.onCancel, invite, msg, invite);
    else if (this.onCancel !== undefined) this.invoke(this.onCancel, undefined, msg, invite, flow);
    // §9.2: "the UAS SHOULD immediately respond to the INVITE with a 487 (Request Terminated)".
    else invite.reply(487);
  }

  // ------------------------------------------------------------ both

  readonly onMessage = (msg: SipMessage, flow: Flow): void => {
    if (this.closed) return;
    try {
      if (msg.kind === 'response') this.#onResponse(msg, flow);
      else this.#onRequest(msg, flow);
    } catch (err) {
      // Whatever a device sends must not take the layer down.
      this.reportError(err);
    }
  };

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const clients = [...this.clients.values()];
    const servers = [...new Set(this.servers.values())];
    for (const tx of clients) tx.terminate('closed');
    for (const tx of servers) tx.terminate('closed');
    this.clients.clear();
    this.servers.clear();
    this.queue.close();
  }
}

/**
 * One transaction layer on one transport. Create it with
 * `createTransactionLayer(transport, options)`; it subscribes to the
 * transport's messages at once.
 */
export class TransactionLayer {
  readonly #ctx: Context;

  constructor(transport: SipTransport, options: TransactionLayerOptions = {}) {
    this.#ctx = new Context(transport, options);
    transport.onMessage(this.#ctx.onMessage);
    transport.onConnection?.(this.#ctx.onConnection);
  }

  get transport(): SipTransport {
    return this.#ctx.transport;
  }

  get timers(): Readonly<TimerSettings> {
    return this.#ctx.timers;
  }

  get closed(): boolean {
    return this.#ctx.closed;
  }

  /** Live (matchable) transactions. */
  get size(): { client: number; server: number } {
    return { client: this.#ctx.clients.size, server: this.#ctx.serverCount };
  }

  /**
   * Server transactions still holding their parsed request: those without a
   * final response yet. Once the final response is sent, a transaction keeps
   * only what retransmissions and the ACK need (see transaction-server.ts).
   */
  get heldRequests(): number {
    return this.#ctx.requestsHeld;
  }

  /** Transaction timers pending (every timer of every transaction of this layer). */
  get pendingTimers(): number {
    return this.#ctx.queue.size;
  }

  /**
   * Sends a request in a new client transaction (§17.1). Unless the request
   * already has a Via, the top Via `SIP/2.0/<TRANSPORT> <sent-by>;branch=<new>;rport`
   * is added. The request is serialized once; retransmissions (UDP only)
   * send the same bytes. Throws (programming errors only) for an ACK, a
   * response, a closed layer, or a transport with no listening point of
   * `dest.transport`.
   */
  sendRequest(request: OutgoingMessage, dest: Destination, handlers?: ClientTransactionHandlers): ClientTransaction {
    return this.#ctx.startClient(request, dest, handlers);
  }

  /**
   * Sends an ACK for a 2xx (§13.2.2.4, §17.1.1.3: "The ACK for a 2xx
   * response is not part of a transaction"): once, with a Via added (new
   * branch) when it has none. The UAC core calls it again for every 2xx
   * retransmission (`onAdditional2xx`).
   */
  sendAck(ack: OutgoingMessage, dest: Destination): Promise<Flow> {
    return this.#ctx.sendAck(ack, dest);
  }

  /** New requests (one handler; a later call replaces it). Without one, requests get 501. */
  onRequest(handler: RequestHandler): void {
    this.#ctx.onRequest = handler;
  }

  /** ACKs for 2xx, and ACKs that match no transaction. */
  onAck(handler: AckHandler): void {
    this.#ctx.onAck = handler;
  }

  /** CANCELs of an INVITE still without final response (the 200 to the CANCEL is already sent). */
  onCancel(handler: CancelHandler): void {
    this.#ctx.onCancel = handler;
  }

  /** Responses that match no client transaction. */
  onStrayResponse(handler: StrayResponseHandler): void {
    this.#ctx.onStrayResponse = handler;
  }

  /**
   * Terminates every transaction (reason 'closed', `onTerminated` called) and
   * clears every timer; later messages from the transport are ignored. The
   * transport is not closed (it belongs to the caller).
   */
  close(): void {
    this.#ctx.close();
  }
}

export function createTransactionLayer(transport: SipTransport, options?: TransactionLayerOptions): TransactionLayer {
  return new TransactionLayer(transport, options);
}

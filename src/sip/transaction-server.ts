/**
 * Server transactions (RFC 3261 §17.2, updated by RFC 6026 §7.1 and §8.7).
 *
 * INVITE server transaction (§17.2.1 Figure 7, with RFC 6026's Accepted state):
 *
 *                               |INVITE
 *                               |pass INV to TU
 *            INVITE             V send 100 if TU won't in 200 ms
 *            send response+-----------+
 *                +--------|           |--------+ 101-199 from TU
 *                |        |           |        | send response
 *                +------->|           |<-------+
 *                         | Proceeding|
 *                         |           |--------+ Transport Err.
 *                         |           |        | Inform TU
 *                         |           |<-------+
 *                         +-----------+
 *            300-699 from TU |     |2xx from TU
 *            send response   |     |send response
 *             +--------------+     +------------+
 *             |                                 |
 *    INVITE   V          Timer G fires          |
 *    send  +-----------+ send response          |
 *    resp. |           |--------+               |
 *    +-----| Completed |        |               |
 *    +---->|           |<-------+          INVITE  V   2xx from TU
 *          +-----------+                    -  +-----------+ send response
 *             |    |                        +->|           |<-+
 *    Timer H  |    | ACK                       | Accepted  |  |
 *    fires    |    | -                      +--|           |--+
 *    inform TU|    V                     ACK|  +-----------+
 *             | +-----------+          to TU|     |   ^
 *             | | Confirmed |               +-----+   |
 *             | +-----------+                     | Timer L fires
 *             |    | Timer I fires                V
 *             |    V                      +-----------+
 *             +--->|      Terminated      |
 *                  +----------------------+
 *
 * §17.2.1: "If a request retransmission is received while in the
 * "Proceeding" state, the most recent provisional response that was received
 * from the TU MUST be passed to the transport layer for retransmission."
 * "For unreliable transports, timer G is set to fire in T1 seconds [...]
 * timer H MUST be set to fire in 64*T1 seconds for all transports." "If
 * timer G fires, the response is passed to the transport layer once more
 * for retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds."
 * "If an ACK is received while the server transaction is in the "Completed"
 * state, the server transaction MUST transition to the "Confirmed" state.
 * [...] The purpose of the "Confirmed" state is to absorb any additional ACK
 * messages that arrive" for timer I.
 *
 * RFC 6026 §7.1, §8.7: a 2xx from the TU moves the transaction to
 * "Accepted" with timer L = 64*T1. "The purpose of the "Accepted" state is
 * to absorb retransmissions of an accepted INVITE request. Any such
 * retransmissions are absorbed entirely within the server transaction."
 * "While in the "Accepted" state, if the TU passes a 2xx response, the
 * server transaction MUST pass the response to the transport layer for
 * transmission." "If an ACK is received while the INVITE server transaction
 * is in the "Accepted" state, then the ACK must be passed up to the TU." "If
 * Timer L fires while the INVITE server transaction is in the "Accepted"
 * state, the transaction MUST transition to the "Terminated" state." The 2xx
 * is retransmitted by the TU (UAS core, §13.3.1.4); `respond(res,
 * {retransmit2xx: true})` does it on this transaction's timers. A transport
 * error in Accepted is reported but does not end the transaction (it keeps
 * absorbing INVITE retransmissions until timer L).
 *
 * Non-INVITE server transaction (§17.2.2, Figure 8): Trying (retransmissions
 * discarded), Proceeding (the last provisional re-sent), Completed (the final
 * re-sent; timer J = 64*T1 on unreliable transports, 0 on reliable ones).
 *
 * §17.2.4: "the server transaction [...] SHOULD inform the TU that a failure
 * has occurred, and SHOULD transition to the terminated state" when the
 * transport fails to send a response.
 *
 * Memory: once the final response is sent, the transaction lets go of the
 * parsed request (`request` becomes null). What it still needs for the 32 s
 * it may live on (timers H, J, L) is kept apart: the matching keys, where
 * responses go, the To tag, the serialized final response (retransmitted on
 * a request retransmission or by timer G), and the dialog identifiers the ACK
 * of a 2xx is matched on. A parsed INVITE with its header views is several
 * kilobytes; at thousands of calls per second, 32 s of them is the heap.
 * After the final response, `createResponse()` throws: a transaction sends
 * nothing new after its final response but further 2xx (RFC 6026), which a
 * proxy builds from the downstream response and passes to `respond()`.
 */
import { newTag, type OutgoingMessage, reasonPhrase, responseTo } from './builder.ts';
import type { SipMessage } from './message.ts';
import { responseDestination, stampTopVia, viaReceivedParams } from './response-routing.ts';
import type { TerminationReason } from './transaction-client.ts';
import type { TransactionContext } from './transaction-layer.ts';
import { ackFor2xxKey, cseqNumber, ownString, rfc2543ServerKey, tagOfHeaderValue } from './transaction-matching.ts';
import { nextInterval, type TimerHandle, timeout64, timerI, timerJ } from './transaction-timers.ts';
import type { Destination, Flow } from './transport-types.ts';

export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface RespondOptions {
  /**
   * INVITE 2xx only: the UAS core's 2xx retransmission (§13.3.1.4), done on
   * this transaction's timers: "The 2xx response is passed to the transport
   * with an interval that starts at T1 seconds and doubles for each
   * retransmission until it reaches T2 seconds [...] Response
   * retransmissions cease when an ACK request for the response is received.
   * This is independent of whatever transport protocols are used to send the
   * response." (2xx is end to end: a later hop may be UDP.) If timer L (64*T1,
   * RFC 6026) fires first, `onTimeout(tx, 'L')`: "If the server retransmits
   * the 2xx response for 64*T1 seconds without receiving an ACK, the dialog
   * is confirmed, but the session SHOULD be terminated" (a BYE, by the UAS core).
   */
  retransmit2xx?: boolean;
}

/**
 * What ended the wait: H (no ACK for a non-2xx, §17.2.1), L (no ACK for a
 * retransmitted 2xx, §13.3.1.4), F (a non-INVITE request the TU never
 * answered: the client's timer F has expired, nobody waits any more).
 */
export type ServerTimeout = 'H' | 'L' | 'F';

export class ServerTransaction {
  /** The flow the request arrived on. */
  readonly flow: Flow;
  readonly method: string;
  readonly isInvite: boolean;
  /**
   * The matching key (§17.2.3), or null for a request that cannot be matched
   * (no top Via): such a transaction only lets the TU answer once.
   */
  readonly key: string | null;
  /** Matched the RFC 2543 way (no branch, or a branch that is only the magic cookie). */
  readonly rfc2543: boolean;
  /** No retransmissions of non-2xx final responses (timer G); timers I and J are zero. */
  readonly reliable: boolean;
  state: ServerTransactionState;
  /** Status of the last response sent (0: none yet). */
  lastStatus = 0;
  /** A CANCEL for this INVITE arrived before the final response (§9.2). */
  cancelled = false;
  /** The ACK arrived (non-2xx: Confirmed; 2xx: Accepted state ACK). */
  ackReceived = false;
  terminationReason: TerminationReason | null = null;

  /**
   * CANCEL received while the INVITE has no final response; the layer has
   * answered the CANCEL with 200 already. The TU answers the INVITE with 487
   * (§9.2). Without this handler the layer's `onCancel` is used, and without
   * that the layer sends the 487 itself.
   */
  onCancel: ((cancel: SipMessage, tx: ServerTransaction) => void) | undefined = undefined;
  /** The ACK for a 2xx (Accepted state, RFC 6026 §7.1); also reported to the layer's `onAck`. */
  onAck: ((ack: SipMessage, tx: ServerTransaction) => void) | undefined = undefined;
  onTimeout: ((tx: ServerTransaction, timer: ServerTimeout) => void) | undefined = undefined;
  onTransportError: ((error: unknown, tx: ServerTransaction) => void) | undefined = undefined;
  /** Always called once, last. */
  onTerminated: ((tx: ServerTransaction) => void) | undefined = undefined;

  readonly #ctx: TransactionContext;
  /** The parsed request until the final response is sent (see the file's comment), then null. */
  #request: SipMessage | null;
  /** Counted in the layer's `heldRequests` (a live, registered transaction holding its request). */
  #held: boolean;
  /** undefined: not looked up yet (the To header is only read when a tag is needed). */
  #localTag: string | null | undefined = undefined;
  #dest: Destination | null = null;
  /** The last response sent, as bytes, while a retransmission may need it. */
  #last: Uint8Array | null = null;
  #retransmitTimer: TimerHandle = 0;
  #interval: number;
  #stateTimer: TimerHandle = 0;
  #retransmitting2xx = false;
  #aliases: string[] | null = null;
  /** INVITE: Call-ID, From tag and CSeq number, the part of the 2xx ACK's key that is the request's (kept past the release). */
  #ackKeyParts: [callId: string, fromTag: string | null, cseq: string] | null = null;
  /** The transport's answer to every send: an error ends the transaction (§17.2.4), success may start a retransmission timer. */
  readonly #onSent = (err: unknown): void => {
    if (err) this.#transportError(err);
    else this.#armRetransmit();
  };

  /** @internal created by the layer for a new request. */
  constructor(ctx: TransactionContext, request: SipMessage, flow: Flow, key: string | null, rfc2543: boolean) {
    this.#ctx = ctx;
    this.#request = request;
    this.#held = key !== null;
    this.flow = flow;
    this.method = request.method;
    this.isInvite = request.method === 'INVITE';
    this.key = key;
    this.rfc2543 = rfc2543;
    this.reliable = flow.transport !== 'udp';
    this.state = this.isInvite ? 'proceeding' : 'trying';
    this.#interval = ctx.timers.t1;
  }

  /** @internal starts the 100 (Trying) delay (INVITE) or the unanswered-request guard (non-INVITE). */
  start(): void {
    if (this.key === null) return;
    if (this.isInvite) {
      // §17.2.1: "the server transaction MUST generate a 100 (Trying) response unless it knows that the TU
      // will generate a provisional or final response within 200 ms".
      const delay = this.#ctx.tryingDelay;
      if (delay === 0) this.#sendTrying();
      else if (delay !== false) this.#retransmitTimer = this.#ctx.queue.schedule(delay, ServerTransaction.#fireRetransmit, this);
    } else {
      this.#stateTimer = this.#ctx.queue.schedule(timeout64(this.#ctx.timers), ServerTransaction.#fireStateTimer, this);
    }
  }

  /**
   * The request that created the transaction, until the final response is
   * sent; null after that (see the file's comment).
   */
  get request(): SipMessage | null {
    return this.#request;
  }

  /** To tag of this side: the request's, else the first the TU sent, else one the layer made (CANCEL 200). */
  get localTag(): string | null {
    if (this.#localTag === undefined) this.#localTag = this.#request === null ? null : tagOfHeaderValue(this.#request.get('to'));
    return this.#localTag;
  }

  set localTag(tag: string | null) {
    this.#localTag = tag;
  }

  /** Where responses go (§18.2.2, RFC 3581). */
  get destination(): Destination {
    if (this.#dest === null) {
      // The request is held until #dest is known: #release() computes it first.
      this.#dest = responseDestination(this.#request as SipMessage, this.flow);
    }
    return this.#dest;
  }

  /**
   * A response to this request per §8.2.6: Via/From/To/Call-ID/CSeq copied,
   * the To tag set (except on 100), `received`/`rport` stamped on the top
   * Via (§18.2.1, RFC 3581), Timestamp copied on 100 (§8.2.6.1).
   *
   * Throws once the final response is sent: the request is released then,
   * and nothing new may be sent but a further 2xx to an INVITE, built from
   * elsewhere and passed to `respond()`. (A transaction that ended without a
   * final response, timer F or a transport error, still makes one, which
   * `respond()` then refuses.)
   */
  createResponse(status: number, reason?: string): OutgoingMessage {
    const request = this.#request;
    if (request === null) {
      throw new Error(
        `createResponse(${status}) on the ${this.method} server transaction after its final response ${this.lastStatus}: ` +
          'the request is released once the final response is sent (RFC 3261 §17.2: only retransmissions follow it; a further 2xx to an INVITE goes to respond())',
      );
    }
    let tag: string | undefined;
    if (status > 100) {
      if (this.localTag === null) this.localTag = newTag();
      tag = this.localTag;
    }
    const res = responseTo(request, status, reason ?? reasonPhrase(status), tag);
    stampTopVia(res, viaReceivedParams(request, this.flow));
    if (status === 100) {
      const ts = request.get('timestamp');
      if (ts !== undefined) res.append('Timestamp', ts);
    }
    return res;
  }

  /**
   * `respond(createResponse(status, reason), options)`; false, sending
   * nothing, once the final response is sent (where `createResponse` throws).
   */
  reply(status: number, reason?: string, options?: RespondOptions): boolean {
    if (this.#request === null) return false;
    return this.respond(this.createResponse(status, reason), options);
  }

  /**
   * Sends a response from the TU through the transaction (§17.2.1, §17.2.2,
   * RFC 6026). Returns false, sending nothing, when the state does not allow
   * it (a second final response; anything after termination; a 1xx or
   * non-2xx once a 2xx was sent). For fault injection beyond that, send raw
   * bytes through the transport.
   */
  respond(response: OutgoingMessage, options?: RespondOptions): boolean {
    const status = response.status;
    if (response.kind !== 'response' || !(status >= 100)) return false;
    const state = this.state;
    if (state === 'accepted') {
      if (!(status >= 200 && status < 300)) return false;
      this.#send2xx(response, options);
      return true;
    }
    if (state !== 'trying' && state !== 'proceeding') return false;
    // The response's To is the request's (with its tag, if any) plus ours: no need to read the request's.
    if (this.#localTag == null) this.#localTag = tagOfHeaderValue(response.get('to'));
    const bytes = response.toBytes();
    this.#last = bytes;
    this.lastStatus = status;
    if (status < 200) {
      this.state = 'proceeding';
      this.#clearRetransmit(); // a pending 100 (Trying) is no longer needed
      this.#send(bytes);
      return true;
    }
    this.#clearRetransmit();
    this.#clearState();
    if (this.isInvite && status < 300) {
      this.#send2xx(response, options, bytes);
      return true;
    }
    this.state = 'completed';
    if (this.key === null) {
      // Unmatchable request: nothing could absorb retransmissions or an ACK.
      this.#release();
      this.#send(bytes);
      this.terminate('completed');
      return true;
    }
    const t = this.#ctx.timers;
    if (this.isInvite) {
      const request = this.#request;
      if (this.rfc2543 && request !== null) {
        // §17.2.3: the ACK of an RFC 2543 client carries the To tag of this response.
        const tag = tagOfHeaderValue(response.get('to'));
        if (tag !== request.toTag) this.#alias(rfc2543ServerKey(request, request.topVia!, 'INVITE', tag));
      }
      this.#release();
      // Timer G (unreliable transports) starts once the response is on the wire (see #armRetransmit).
      this.#send(bytes);
      if (this.state === 'completed') this.#stateTimer = this.#ctx.queue.schedule(timeout64(t), ServerTransaction.#fireStateTimer, this);
      return true;
    }
    this.#release();
    this.#send(bytes);
    const j = timerJ(t, this.reliable);
    // Kept for timer J (32 s): in a copy of its own, not in the 8 KiB pool slab Node cut it from, which it would pin.
    if (j > 0) this.#last = new Uint8Array(bytes);
    if (j <= 0) this.terminate('completed');
    else if (this.state === 'completed') this.#stateTimer = this.#ctx.queue.schedule(j, ServerTransaction.#fireStateTimer, this);
    return true;
  }

  #send2xx(response: OutgoingMessage, options: RespondOptions | undefined, serialized?: Uint8Array): void {
    const bytes = serialized ?? response.toBytes();
    const first = this.state !== 'accepted';
    this.#last = bytes;
    this.lastStatus = response.status;
    this.state = 'accepted';
    if (this.key !== null) {
      // The ACK of this 2xx is a transaction of its own (§13.2.2.4, new branch): recognise it by dialog.
      const request = this.#request;
      if (this.#ackKeyParts === null && request !== null) {
        const fromTag = tagOfHeaderValue(request.get('from'));
        this.#ackKeyParts = [ownString(request.callId), fromTag === null ? null : ownString(fromTag), cseqNumber(request)];
      }
      const parts = this.#ackKeyParts;
      if (parts !== null) this.#alias(ackFor2xxKey(parts[0], parts[1], tagOfHeaderValue(response.get('to')), parts[2]));
    }
    const retransmit = options?.retransmit2xx === true && !this.ackReceived && this.key !== null;
    if (retransmit) {
      this.#retransmitting2xx = true;
      this.#clearRetransmit();
      this.#interval = this.#ctx.timers.t1;
    } else if (this.ackReceived || !this.#retransmitting2xx) {
      // Nothing will retransmit these bytes (a retransmitted INVITE is absorbed in Accepted, RFC 6026 §7.1).
      this.#last = null;
    }
    this.#release();
    this.#send(bytes);
    if (this.key === null) {
      this.terminate('completed');
      return;
    }
    if (first && this.state === 'accepted') this.#stateTimer = this.#ctx.queue.schedule(timeout64(this.#ctx.timers), ServerTransaction.#fireStateTimer, this);
  }

  /**
   * Lets go of the parsed request once the final response is sent: what the
   * transaction still needs (where responses go, the To tag, the keys) is
   * taken from it first.
   */
  #release(): void {
    const request = this.#request;
    if (request === null) return;
    if (this.#dest === null) this.#dest = responseDestination(request, this.flow);
    // The tag may have been read from the request (an in-dialog request carries it): keep a copy of its own.
    const tag = this.#localTag === undefined ? tagOfHeaderValue(request.get('to')) : this.#localTag;
    this.#localTag = tag === null ? null : ownString(tag);
    this.#request = null;
    this.#unhold();
  }

  #unhold(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#ctx.releaseRequest();
  }

  /** @internal a retransmission of the request matched this transaction. */
  receiveRetransmission(): void {
    switch (this.state) {
      case 'proceeding':
        if (this.#last !== null) this.#send(this.#last);
        else if (this.isInvite) {
          // No provisional yet and the 100 is still delayed: the client is retransmitting, send it now.
          this.#clearRetransmit();
          this.#sendTrying();
        }
        break;
      case 'completed':
        if (this.#last !== null) this.#send(this.#last);
        break;
      default:
        // trying: discarded (§17.2.2); confirmed, accepted: absorbed (§17.2.1, RFC 6026 §7.1).
        break;
    }
  }

  /**
   * @internal an ACK matched this INVITE transaction. True when absorbed
   * (Completed → Confirmed, or Confirmed); false when it is for the TU (the
   * ACK of a 2xx, or an ACK before any final response).
   */
  receiveAck(ack: SipMessage): boolean {
    switch (this.state) {
      case 'completed': {
        this.ackReceived = true;
        this.state = 'confirmed';
        this.#last = null; // Confirmed absorbs ACKs; nothing is retransmitted any more
        this.#clearRetransmit();
        this.#clearState();
        const i = timerI(this.#ctx.timers, this.reliable);
        if (i <= 0) this.terminate('completed');
        else this.#stateTimer = this.#ctx.queue.schedule(i, ServerTransaction.#fireStateTimer, this);
        return true;
      }
      case 'confirmed':
        return true;
      case 'accepted':
        this.ackReceived = true;
        this.#last = null; // INVITE retransmissions are absorbed in Accepted; the 2xx is not re-sent after its ACK
        if (this.#retransmitting2xx) {
          this.#retransmitting2xx = false;
          this.#clearRetransmit();
        }
        this.#ctx.invoke(this.onAck, this, ack, this);
        return false;
      default:
        return false;
    }
  }

  /**
   * @internal a CANCEL matched this INVITE (§9.2); the layer has sent the
   * 200 for the CANCEL. True when the TU is to be told (no final response yet).
   */
  markCancelled(): boolean {
    if (this.state !== 'proceeding' || this.cancelled) return false;
    this.cancelled = true;
    return true;
  }

  #sendTrying(): void {
    if (this.state !== 'proceeding' || this.lastStatus !== 0 || this.#request === null) return;
    const bytes = this.createResponse(100, 'Trying').toBytes();
    this.#last = bytes;
    this.lastStatus = 100;
    this.#send(bytes);
  }

  #alias(key: string): void {
    if (this.#aliases === null) this.#aliases = [key];
    else if (!this.#aliases.includes(key)) this.#aliases.push(key);
    else return;
    this.#ctx.addServerAlias(key, this);
  }

  /** @internal alias keys registered for this transaction (for the layer to forget). */
  get aliases(): readonly string[] | null {
    return this.#aliases;
  }

  static #fireRetransmit(tx: ServerTransaction): void {
    tx.#retransmitTimer = 0;
    const t = tx.#ctx.timers;
    switch (tx.state) {
      case 'proceeding':
        tx.#sendTrying();
        return;
      case 'completed': // timer G
        if (tx.#last === null) return;
        break;
      case 'accepted': // §13.3.1.4
        if (!tx.#retransmitting2xx || tx.#last === null) return;
        break;
      default:
        return;
    }
    tx.#send(tx.#last);
    tx.#interval = nextInterval(tx.#interval, t.t2);
    tx.#retransmitTimer = tx.#ctx.queue.schedule(tx.#interval, ServerTransaction.#fireRetransmit, tx);
  }

  static #fireStateTimer(tx: ServerTransaction): void {
    tx.#stateTimer = 0;
    switch (tx.state) {
      case 'trying':
      case 'proceeding':
        tx.#timeout('F');
        break;
      case 'completed':
        if (tx.isInvite) tx.#timeout('H'); // no ACK
        else tx.terminate('completed'); // timer J
        break;
      case 'confirmed': // timer I
        tx.terminate('completed');
        break;
      case 'accepted': // timer L
        if (tx.#retransmitting2xx && !tx.ackReceived) tx.#timeout('L');
        else tx.terminate('completed');
        break;
      default:
        break;
    }
  }

  #timeout(timer: ServerTimeout): void {
    if (this.state === 'terminated') return;
    this.terminationReason = 'timeout';
    this.#clearRetransmit();
    this.#clearState();
    this.#ctx.invoke(this.onTimeout, this, this, timer);
    this.terminate('timeout');
  }

  /** Sends; the transport's answer goes to #onSent. */
  #send(bytes: Uint8Array): void {
    this.#ctx.send(bytes, this.destination, this.#onSent);
  }

  /**
   * Timer G (§17.2.1, unreliable transports) and the 2xx retransmission
   * (§13.3.1.4, every transport) start when the first copy is on the wire,
   * not when it was handed to the transport (a connection may still be
   * opening). Called after every successful send: only the first one of a
   * response finds no timer running.
   */
  #armRetransmit(): void {
    if (this.#retransmitTimer !== 0 || this.#last === null) return;
    const state = this.state;
    if ((state === 'completed' && this.isInvite && !this.reliable) || (state === 'accepted' && this.#retransmitting2xx && !this.ackReceived)) {
      this.#retransmitTimer = this.#ctx.queue.schedule(this.#interval, ServerTransaction.#fireRetransmit, this);
    }
  }

  #transportError(err: unknown): void {
    if (this.state === 'terminated') return;
    if (this.state === 'accepted') {
      // Keep absorbing INVITE retransmissions until timer L; stop retransmitting the 2xx.
      this.#retransmitting2xx = false;
      this.#clearRetransmit();
      this.#ctx.invoke(this.onTransportError, this, err, this);
      return;
    }
    this.terminationReason = 'transport-error';
    this.#clearRetransmit();
    this.#clearState();
    this.#ctx.invoke(this.onTransportError, this, err, this);
    this.terminate('transport-error');
  }

  /** Ends the transaction now: clears every timer, forgets its keys, calls `onTerminated`. */
  terminate(reason: TerminationReason = 'closed'): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    if (this.terminationReason === null) this.terminationReason = reason;
    this.#retransmitting2xx = false;
    this.#last = null;
    this.#clearRetransmit();
    this.#clearState();
    // No longer live: out of the layer's count. The request stays with it (the layer forgets the transaction
    // itself) so that a TU that answers late still gets a response object, which respond() refuses.
    this.#unhold();
    this.#ctx.forgetServer(this);
    this.#ctx.invoke(this.onTerminated, this, this, undefined);
  }

  #clearRetransmit(): void {
    if (this.#retransmitTimer !== 0) {
      this.#ctx.queue.cancel(this.#retransmitTimer);
      this.#retransmitTimer = 0;
    }
  }

  #clearState(): void {
    if (this.#stateTimer !== 0) {
      this.#ctx.queue.cancel(this.#stateTimer);
      this.#stateTimer = 0;
    }
  }
}


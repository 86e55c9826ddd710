/**
 * Client transactions (RFC 3261 §17.1, updated by RFC 6026 §7.2 and §8.4).
 *
 * INVITE client transaction (§17.1.1 Figure 5, with RFC 6026's Accepted state):
 *
 *                    |INVITE from TU
 *          Timer A fires     |INVITE sent
 *          Reset A,          V                      Timer B fires
 *          INVITE sent +-----------+                or Transport Err.
 *            +---------|           |---------------+inform TU
 *            |         |  Calling  |               |
 *            +-------->|           |-------------->|
 *                      +-----------+ 2xx           |
 *                         |  |       2xx to TU     |
 *                         |  |1xx                  |
 *         300-699 +-------+  |1xx to TU            |
 *        ACK sent |          |                     |
 *     resp. to TU |  1xx     V                     |
 *                 |  1xx to TU  -----------+       |
 *                 |  +---------|           |       |
 *                 |  |         |Proceeding |       |
 *                 |  +-------->|           |       |
 *                 |            +-----------+  2xx  |
 *                 |   300-699   |    |   2xx to TU |
 *                 |   ACK sent, |    +-------------|---+
 *                 |   resp. to TU                  |   |
 *                 +------------>+-----------+      |   V
 *         300-699 |             | Completed |   +-----------+ 2xx to TU
 *         ACK sent|             +-----------+   | Accepted  |<-+
 *                 +-------------|    |          +-----------+  |
 *                      Timer D fires |      Timer M |      +--+
 *                                    V       fires  V
 *                              +-----------+<-------+
 *                              | Terminated|
 *                              +-----------+
 *
 * §17.1.1.2: "If an unreliable transport is being used, the client
 * transaction MUST start timer A with a value of T1. [...] For any transport,
 * the client transaction MUST start timer B with a value of 64*T1 seconds."
 * "If the client transaction is still in the Calling state when timer B
 * fires, the client transaction SHOULD inform the TU that a timeout has
 * occurred." A provisional response stops the retransmissions.
 *
 * RFC 6026 §7.2: "A 2xx response received while in the "Accepted" state
 * MUST be passed to the TU and the machine remains in the "Accepted" state.
 * The client transaction MUST NOT generate an ACK to any 2xx response on its
 * own. The TU responsible for the transaction will generate the ACK."
 * §8.4: "If timer M fires while the client transaction is in the "Accepted"
 * state, the client transaction MUST move to the "Terminated" state."
 *
 * Non-INVITE client transaction (§17.1.2, Figure 6): Trying, Proceeding,
 * Completed, Terminated. §17.1.2.2: timer E "initially T1 ... If timer E
 * fires while still in this state, the timer is reset, but this time with a
 * value of MIN(2*T1, T2) [...] If Timer E fires while in the Proceeding
 * state, the request MUST be passed to the transport layer for
 * retransmission, and Timer E MUST be reset with a value of T2 seconds."
 * Timer F (64*T1) is the timeout; timer K (T4, 0 on reliable transports)
 * absorbs response retransmissions in Completed.
 *
 * §17.1.4: "if the transport layer indicates a failure to send [...] the
 * client transaction SHOULD inform the TU that a transport failure has
 * occurred, and the client transaction SHOULD transition directly to the
 * "Terminated" state." A stream connection that closes before any response
 * to the request came back on it is such a failure (code
 * ERR_CONNECTION_CLOSED): the request was sent to a server that dropped it (a
 * TLS port given plain TCP closes the connection without a word), and
 * waiting for timer B or F would only hide that. Once a provisional response
 * has come, the transaction keeps waiting: the server may send the final
 * response on a new connection (§18.2.2).
 *
 * The request is serialized once; every retransmission sends the same bytes.
 */
import type { OutgoingMessage } from './builder.ts';
import { formatHostPort } from './capture.ts';
import type { SipMessage } from './message.ts';
import { ackForNon2xx, cancelFor, type OriginalRequest } from './transaction-ack-cancel.ts';
import type { TransactionContext } from './transaction-layer.ts';
import { nextInterval, type TimerHandle, timeout64, timerD, timerK } from './transaction-timers.ts';
import { TransportError } from './transport.ts';
import type { Destination, Flow } from './transport-types.ts';

export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

/** Why a transaction ended. */
export type TerminationReason = 'completed' | 'timeout' | 'transport-error' | 'closed';

/**
 * Which wait ran out: timer B (INVITE, §17.1.1.2), F (non-INVITE, §17.1.2.2),
 * C (§16.8, when enabled), or 'cancel': §9.1, "If there is no final response
 * for the original request in 64*T1 seconds [...], the client SHOULD then
 * consider the original transaction cancelled and SHOULD destroy the client
 * transaction handling the original request."
 */
export type ClientTimeout = 'B' | 'F' | 'C' | 'cancel';

/** Events of one client transaction; every handler is optional. */
export interface ClientTransactionHandlers {
  /** A 1xx (each one received in Calling/Trying/Proceeding). */
  onProvisional?(response: SipMessage, tx: ClientTransaction): void;
  /** The first final response (2xx-6xx). For a non-2xx to INVITE the ACK is already sent. */
  onFinal?(response: SipMessage, tx: ClientTransaction): void;
  /**
   * INVITE only, Accepted state (RFC 6026 §7.2): a further 2xx, either a
   * retransmission or the 2xx of another fork. The UAC core ACKs each
   * (§13.2.2.4).
   */
  onAdditional2xx?(response: SipMessage, tx: ClientTransaction): void;
  /**
   * No final response in time (see `ClientTimeout`). The UAC core treats it
   * as a 408 (§8.1.3.1).
   */
  onTimeout?(tx: ClientTransaction, timer: ClientTimeout): void;
  /** The transport failed to send the request, a retransmission, an ACK (§17.1.4). */
  onTransportError?(error: unknown, tx: ClientTransaction): void;
  /** Always called once, last, whatever the reason (`tx.terminationReason`). */
  onTerminated?(tx: ClientTransaction): void;
}

const NO_HANDLERS: ClientTransactionHandlers = Object.freeze({});

export class ClientTransaction {
  /** Branch of the top Via ('' when the caller's Via had none). */
  readonly branch: string;
  readonly method: string;
  readonly isInvite: boolean;
  /** The map key (§17.1.3). */
  readonly key: string;
  /** The exact bytes sent, and re-sent on every retransmission. */
  readonly bytes: Uint8Array;
  readonly destination: Destination;
  /** No retransmissions; timers D and K are zero. */
  readonly reliable: boolean;
  readonly handlers: ClientTransactionHandlers;
  /** Header values ACK and CANCEL copy (§17.1.1.3, §9.1). */
  readonly original: OriginalRequest;
  state: ClientTransactionState;
  /** The flow the request went out on, once the transport reported it. */
  flow: Flow | null = null;
  /** The first final response. */
  finalResponse: SipMessage | null = null;
  provisionalReceived = false;
  terminationReason: TerminationReason | null = null;
  /** The CANCEL's own client transaction, once sent (§9.1). */
  cancelTransaction: ClientTransaction | null = null;
  /** True once `cancel()` was called (the CANCEL may still wait for a provisional). */
  cancelRequested = false;
  /** Retransmissions of the request done so far. */
  retransmissions = 0;

  readonly #ctx: TransactionContext;
  #retransmitTimer: TimerHandle = 0;
  #interval: number;
  #stateTimer: TimerHandle = 0;
  #timerC: TimerHandle = 0;
  #timerCFired = false;
  #pendingCancel: ClientTransactionHandlers | null = null;
  #ackBytes: Uint8Array | null = null;
  /** The transport's answer to every send: an error ends the transaction (§17.1.4), the first success starts timer A/E. */
  readonly #onSent = (err: unknown, flow: Flow | null): void => {
    if (err) this.#transportError(err);
    else if (flow !== null) this.#sent(flow);
  };

  /** @internal created by TransactionLayer.sendRequest. */
  constructor(
    ctx: TransactionContext,
    init: {
      key: string;
      branch: string;
      bytes: Uint8Array;
      destination: Destination;
      original: OriginalRequest;
      handlers: ClientTransactionHandlers | undefined;
    },
  ) {
    this.#ctx = ctx;
    this.key = init.key;
    this.branch = init.branch;
    this.bytes = init.bytes;
    this.destination = init.destination;
    this.original = init.original;
    this.method = init.original.method;
    this.isInvite = this.method === 'INVITE';
    this.handlers = init.handlers ?? NO_HANDLERS;
    this.reliable = init.destination.transport !== 'udp';
    this.state = this.isInvite ? 'calling' : 'trying';
    this.#interval = ctx.timers.t1;
  }

  /**
   * @internal sends the request and starts timers B/F (and C) at once; timer
   * A/E (UDP) starts when the transport reports the datagram sent, so that
   * the first retransmission comes T1 after the first copy on the wire even
   * when the event loop is busy (Node starts a timer at the loop's cached
   * time, which lags behind a long loop iteration).
   */
  start(): void {
    const t = this.#ctx.timers;
    this.#send(this.bytes);
    if (this.state === 'terminated') return;
    this.#stateTimer = this.#ctx.queue.schedule(timeout64(t), ClientTransaction.#fireStateTimer, this);
    if (this.isInvite && t.timerC > 0) this.#timerC = this.#ctx.queue.schedule(t.timerC, ClientTransaction.#fireTimerC, this);
  }

  /**
   * Cancels the request (§9.1). "If no provisional response has been
   * received, the CANCEL request MUST NOT be sent; rather, the client MUST
   * wait for the arrival of a provisional response before sending the
   * request. If the original request has generated a final response, the
   * CANCEL SHOULD NOT be sent". Returns false when there is nothing left to
   * cancel. The CANCEL is a non-INVITE client transaction of its own
   * (`cancelTransaction`), reported to `handlers`.
   */
  cancel(handlers?: ClientTransactionHandlers): boolean {
    if (this.cancelRequested || this.finalResponse !== null || this.state === 'terminated' || this.method === 'ACK') return false;
    this.cancelRequested = true;
    if (this.provisionalReceived) this.#sendCancel(handlers ?? NO_HANDLERS);
    else this.#pendingCancel = handlers ?? NO_HANDLERS;
    return true;
  }

  /** @internal a stream connection closed: if it carried the request and nothing has come back, a transport error. */
  connectionClosed(connId: number, reason: string): void {
    const flow = this.flow;
    if (flow === null || flow.connId !== connId || (this.state !== 'calling' && this.state !== 'trying')) return;
    this.#transportError(
      new TransportError(
        `${flow.transport} connection ${connId} to ${formatHostPort(flow.remote)} closed before any response to the ${this.method} (${reason})`,
        'ERR_CONNECTION_CLOSED',
        this.destination,
      ),
    );
  }

  /** @internal a response matched this transaction (§17.1.3); false when it is not absorbed (stray). */
  receiveResponse(response: SipMessage, flow: Flow): boolean {
    const status = response.status;
    switch (this.state) {
      case 'calling':
      case 'trying':
      case 'proceeding':
        if (this.flow === null) this.flow = flow;
        if (status < 200) this.#provisional(response);
        else this.#final(response);
        return true;
      case 'completed':
        // §17.1.1.2: "Any retransmissions of the final response that are received while in the
        // "Completed" state MUST cause the ACK to be re-passed to the transport layer for
        // retransmission, but the newly received response MUST NOT be passed up to the TU."
        if (this.isInvite && status >= 300 && this.#ackBytes !== null) this.#send(this.#ackBytes);
        // A 2xx after a non-2xx final is no retransmission: the TU sees it as a stray response.
        return !(this.isInvite && status >= 200 && status < 300);
      case 'accepted':
        // RFC 6026 §7.2: 2xx go up to the TU; a late 1xx or a non-2xx final is absorbed.
        if (status >= 200 && status < 300) this.#ctx.invoke(this.handlers.onAdditional2xx, this.handlers, response, this);
        return true;
      default:
        return false;
    }
  }

  #provisional(response: SipMessage): void {
    this.provisionalReceived = true;
    if (this.state === 'calling') {
      // §17.1.1.2: provisional in Calling: to Proceeding, no more retransmissions, timer B no longer applies.
      this.state = 'proceeding';
      this.#clearRetransmit();
      this.#clearState();
    } else if (this.state === 'trying') {
      // §17.1.2.2: E keeps running and is reset to T2 when it next fires.
      this.state = 'proceeding';
    }
    if (this.#timerC !== 0) {
      // §16.7 step 2: "the proxy MUST reset timer C" on a provisional response.
      this.#ctx.queue.cancel(this.#timerC);
      this.#timerC = this.#ctx.queue.schedule(this.#ctx.timers.timerC, ClientTransaction.#fireTimerC, this);
    }
    if (this.#pendingCancel !== null) {
      const h = this.#pendingCancel;
      this.#pendingCancel = null;
      this.#sendCancel(h);
    }
    this.#ctx.invoke(this.handlers.onProvisional, this.handlers, response, this);
  }

  #final(response: SipMessage): void {
    const status = response.status;
    const t = this.#ctx.timers;
    this.finalResponse = response;
    this.#pendingCancel = null;
    this.#clearRetransmit();
    this.#clearState();
    this.#clearTimerC();
    if (this.isInvite) {
      if (status < 300) {
        // RFC 6026 §7.2, §8.4: 2xx: Accepted, timer M; the TU (UAC core) sends the ACK.
        this.state = 'accepted';
        this.#stateTimer = this.#ctx.queue.schedule(timeout64(t), ClientTransaction.#fireStateTimer, this);
        this.#ctx.invoke(this.handlers.onFinal, this.handlers, response, this);
        return;
      }
      // §17.1.1.2: 300-699: the client transaction generates the ACK, Completed, timer D.
      this.state = 'completed';
      this.#ackBytes = ackForNon2xx(this.original, response).toBytes();
      this.#send(this.#ackBytes);
      this.#ctx.invoke(this.handlers.onFinal, this.handlers, response, this);
      this.#completedWait(timerD(t, this.reliable));
      return;
    }
    this.state = 'completed';
    this.#ctx.invoke(this.handlers.onFinal, this.handlers, response, this);
    this.#completedWait(timerK(t, this.reliable));
  }

  #completedWait(ms: number): void {
    if (this.state !== 'completed') return;
    if (ms <= 0) this.terminate('completed');
    else this.#stateTimer = this.#ctx.queue.schedule(ms, ClientTransaction.#fireStateTimer, this);
  }

  #sendCancel(handlers: ClientTransactionHandlers): void {
    const cancel: OutgoingMessage = cancelFor(this.original);
    // §9.1: "The destination address, port, and transport for the CANCEL MUST be identical to those used
    // to send the original request." On a stream, the same connection.
    const dest = this.flow !== null && this.flow.connId !== null ? { ...this.destination, connId: this.flow.connId } : this.destination;
    this.cancelTransaction = this.#ctx.startClient(cancel, dest, handlers);
    // §9.1: no final response 64*T1 after the CANCEL: the INVITE transaction is given up. (In Proceeding
    // the INVITE has no timer of its own left; a non-INVITE still has timer F.)
    if (this.isInvite && this.state === 'proceeding' && this.#stateTimer === 0) {
      this.#stateTimer = this.#ctx.queue.schedule(timeout64(this.#ctx.timers), ClientTransaction.#fireStateTimer, this);
    }
  }

  static #fireRetransmit(tx: ClientTransaction): void {
    tx.#retransmitTimer = 0;
    const state = tx.state;
    if (state !== 'calling' && state !== 'trying' && state !== 'proceeding') return;
    if (state === 'proceeding' && tx.isInvite) return;
    tx.retransmissions++;
    tx.#send(tx.bytes);
    if (tx.state === 'terminated') return;
    const t = tx.#ctx.timers;
    // A doubles without a cap; E doubles up to T2, and is T2 in Proceeding.
    tx.#interval = tx.isInvite ? nextInterval(tx.#interval, null) : state === 'proceeding' ? t.t2 : nextInterval(tx.#interval, t.t2);
    tx.#retransmitTimer = tx.#ctx.queue.schedule(tx.#interval, ClientTransaction.#fireRetransmit, tx);
  }

  static #fireStateTimer(tx: ClientTransaction): void {
    tx.#stateTimer = 0;
    switch (tx.state) {
      case 'calling':
        tx.#timeout('B');
        break;
      case 'trying':
      case 'proceeding':
        tx.#timeout(tx.isInvite ? 'cancel' : 'F');
        break;
      case 'completed': // timer D or K
      case 'accepted': // timer M
        tx.terminate('completed');
        break;
      default:
        break;
    }
  }

  static #fireTimerC(tx: ClientTransaction): void {
    tx.#timerC = 0;
    if (tx.state !== 'calling' && tx.state !== 'proceeding') return;
    // §16.8: "If the client transaction has received a provisional response, the proxy MUST generate a
    // CANCEL request matching that transaction. If the client transaction has not received a
    // provisional response, the proxy MUST behave as if the transaction received a 408".
    if (!tx.provisionalReceived || tx.#timerCFired) {
      tx.#timeout('C');
      return;
    }
    tx.#timerCFired = true;
    tx.cancel();
    // Should no final response follow the CANCEL, the next expiry ends the transaction.
    tx.#timerC = tx.#ctx.queue.schedule(tx.#ctx.timers.timerC, ClientTransaction.#fireTimerC, tx);
  }

  #timeout(timer: ClientTimeout): void {
    if (this.state === 'terminated') return;
    this.terminationReason = 'timeout';
    this.#clearAll();
    this.#ctx.invoke(this.handlers.onTimeout, this.handlers, this, timer);
    this.terminate('timeout');
  }

  /** Sends; the transport's answer goes to #onSent. */
  #send(bytes: Uint8Array): void {
    this.#ctx.send(bytes, this.destination, this.#onSent);
  }

  /**
   * After every successful send. The first copy of the request on the wire
   * starts timer A/E (see `start()`); retransmissions and ACKs find it
   * running, or the state past it.
   */
  #sent(flow: Flow): void {
    if (this.flow === null) this.flow = flow;
    // Timer A/E, UDP only (the transport may carry a request on a stream although UDP was asked for).
    if (this.reliable || flow.transport !== 'udp' || this.#retransmitTimer !== 0 || this.retransmissions > 0) return;
    if (this.state === 'calling' || this.state === 'trying' || (this.state === 'proceeding' && !this.isInvite)) {
      this.#retransmitTimer = this.#ctx.queue.schedule(this.#interval, ClientTransaction.#fireRetransmit, this);
    }
  }

  #transportError(err: unknown): void {
    if (this.state === 'terminated') return;
    this.terminationReason = 'transport-error';
    this.#clearAll();
    this.#ctx.invoke(this.handlers.onTransportError, this.handlers, err, this);
    this.terminate('transport-error');
  }

  /**
   * Ends the transaction now: clears every timer, forgets the matching key,
   * calls `onTerminated`. A later response to it is a stray response.
   */
  terminate(reason: TerminationReason = 'closed'): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    if (this.terminationReason === null) this.terminationReason = reason;
    this.#pendingCancel = null;
    this.#clearAll();
    this.#ctx.forgetClient(this);
    this.#ctx.invoke(this.handlers.onTerminated, this.handlers, this, undefined);
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

  #clearTimerC(): void {
    if (this.#timerC !== 0) {
      this.#ctx.queue.cancel(this.#timerC);
      this.#timerC = 0;
    }
  }

  #clearAll(): void {
    this.#clearRetransmit();
    this.#clearState();
    this.#clearTimerC();
  }
}

/**
 * The transaction layer's public API (RFC 3261 §17, RFC 6026). One concept
 * per file:
 *
 * - transaction-layer.ts      the layer: dispatch, matching tables, TU handlers
 * - transaction-client.ts     INVITE and non-INVITE client transactions (§17.1)
 * - transaction-server.ts     INVITE and non-INVITE server transactions (§17.2)
 * - transaction-matching.ts   matching keys (§17.1.3, §17.2.3, RFC 2543 fallback)
 * - transaction-ack-cancel.ts ACK for non-2xx (§17.1.1.3) and CANCEL (§9.1)
 * - transaction-timers.ts     T1, T2, T4 and timers A-M
 */
export {
  type AckHandler,
  type CancelHandler,
  createTransactionLayer,
  type RequestHandler,
  type StrayResponseHandler,
  TransactionLayer,
  type TransactionLayerOptions,
} from './transaction-layer.ts';
export {
  type ClientTimeout,
  ClientTransaction,
  type ClientTransactionHandlers,
  type ClientTransactionState,
  type TerminationReason,
} from './transaction-client.ts';
export { type RespondOptions, ServerTransaction, type ServerTimeout, type ServerTransactionState } from './transaction-server.ts';
export { DEFAULT_TIMERS, type TimerName, type TimerSettings } from './transaction-timers.ts';

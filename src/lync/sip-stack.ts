/**
 * One element's SIP stack: a transport bound to the element's own loopback
 * address (every element of the lab has its own, so the capture shows who
 * talks to whom) and a transaction layer on it. All stacks of a lab share one
 * capture tap.
 */
import type { CaptureTap } from '../sip/capture.ts';
import { createTransactionLayer, type TransactionLayer } from '../sip/transaction-layer.ts';
import type { TimerSettings } from '../sip/transaction-timers.ts';
import { createTransport, type ListenSpec, type TransportLayer, type TransportTlsOptions } from '../sip/transport.ts';
import type { SipTransport } from '../sip/transport-types.ts';

export interface StackOptions {
  tap?: CaptureTap;
  tls?: TransportTlsOptions;
  /** RFC 3261 timers (tests shorten T1). */
  timers?: Partial<TimerSettings>;
  /** See `TransactionLayerOptions.tryingDelay`. */
  tryingDelay?: number | false;
  /**
   * `upper-case`: every header name this stack sends is upper-cased
   * (`CONTACT:`, `SUPPORTED:`), as a real Mediation Server writes them on its
   * gateway side. Applied to the bytes of every message the transaction
   * layer sends (ACKs and 100 Trying included), so no builder can miss one.
   */
  headerNames?: 'as-given' | 'upper-case';
}

export interface SipStack {
  readonly transport: TransportLayer;
  readonly layer: TransactionLayer;
  close(): Promise<void>;
}

export async function openStack(listen: ListenSpec[], options: StackOptions): Promise<SipStack> {
  const needsTls = listen.some((l) => l.transport === 'tls');
  const transport = await createTransport({
    listen,
    tap: options.tap,
    tls: needsTls ? options.tls : options.tls,
  });
  // Socket errors that are not a send's failure (a peer resetting a connection) are expected in a lab.
  transport.onError(() => undefined);
  const layer = createTransactionLayer(options.headerNames === 'upper-case' ? upperCaseSender(transport) : transport, {
    timers: options.timers,
    tryingDelay: options.tryingDelay,
    onHandlerError: (error) => console.error('trunklab: handler error', error),
  });
  let closed: Promise<void> | null = null;
  return {
    transport,
    layer,
    close: () => {
      closed ??= (async () => {
        layer.close();
        await transport.close();
      })();
      return closed;
    },
  };
}

/** The transport, with the header names of every message it sends upper-cased. */
function upperCaseSender(transport: TransportLayer): SipTransport {
  return {
    get listening() {
      return transport.listening;
    },
    sentBy: (t) => transport.sentBy(t),
    send: (bytes, dest) => transport.send(upperCaseHeaderNames(bytes), dest),
    onMessage: (h) => transport.onMessage(h),
    onInvalid: (h) => transport.onInvalid(h),
    close: () => transport.close(),
  };
}

/**
 * Upper-cases the header names of one message, in place (idempotent, so a
 * retransmission of the same bytes is unchanged): every line of the header
 * section up to its colon, except folded continuation lines. The start
 * line and the body are left alone.
 */
export function upperCaseHeaderNames(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  let i = 0;
  while (i < n && bytes[i] !== 10) i++; // end of the start line
  i++;
  while (i < n) {
    const first = bytes[i];
    if (first === 13 || first === 10) break; // the empty line: end of headers
    if (first !== 32 && first !== 9) {
      for (; i < n; i++) {
        const c = bytes[i];
        if (c === 58 || c === 10) break;
        if (c >= 97 && c <= 122) bytes[i] = c - 32;
      }
    }
    while (i < n && bytes[i] !== 10) i++;
    i++;
  }
  return bytes;
}

/** `[v6]` for URIs. */
export function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

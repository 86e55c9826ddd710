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

export interface StackOptions {
  tap?: CaptureTap;
  tls?: TransportTlsOptions;
  /** RFC 3261 timers (tests shorten T1). */
  timers?: Partial<TimerSettings>;
  /** See `TransactionLayerOptions.tryingDelay`. */
  tryingDelay?: number | false;
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
  const layer = createTransactionLayer(transport, {
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

/** `[v6]` for URIs. */
export function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A small per-element counter of even RTP ports for SDP (media is not sent). */
export class MediaPorts {
  #next: number;
  constructor(base: number) {
    this.#next = base;
  }
  take(): number {
    const port = this.#next;
    this.#next = this.#next >= 60000 ? 20000 : this.#next + 2;
    return port;
  }
}

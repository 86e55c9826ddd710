/**
 * The contract between the transport layer (RFC 3261 §18) and what sits on
 * it (transactions, the capture tap's users, the CLI). Types only.
 */
import type { HostPort, TransportProtocol } from './capture.ts';
import type { SipMessage } from './message.ts';

/** The two ends of one received or sent message. */
export interface Flow {
  transport: TransportProtocol;
  local: HostPort;
  remote: HostPort;
  /** Stream connection id (same numbering as CaptureRecord.connId), null for UDP. */
  connId: number | null;
}

export interface Destination {
  transport: TransportProtocol;
  /** IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  /** Prefer this open connection (responses on the connection the request came in on, §18.2.2). */
  connId?: number | null;
}

export interface ListeningPoint {
  transport: TransportProtocol;
  host: string;
  port: number;
}

/** The answer to one `sendNow`: an error (the message was not sent), or the flow it went out on. */
export type SendCallback = (error: unknown, flow: Flow | null) => void;

export interface SipTransport {
  /** Every bound socket of this endpoint. */
  readonly listening: readonly ListeningPoint[];
  /** Address for Via sent-by and Contact on a transport (the listening point of that transport). */
  sentBy(transport: TransportProtocol): HostPort;
  /** Sends exact bytes (a built message, or anything for fault injection); resolves with the flow used. */
  send(bytes: Uint8Array, dest: Destination): Promise<Flow>;
  /**
   * `send` without a promise, for the hot path (the transaction layer sends
   * through it when the transport has it): `done` is called once, never
   * synchronously, with the error or with the flow used.
   */
  sendNow?(bytes: Uint8Array, dest: Destination, done: SendCallback | null): void;
  /** Every parsed message received (requests and responses, possibly with diagnostics). */
  onMessage(handler: (message: SipMessage, flow: Flow) => void): void;
  /** Received bytes that could not be parsed as a message (they are in the capture too). */
  onInvalid(handler: (bytes: Uint8Array, flow: Flow, reason: string) => void): void;
  /**
   * Stream connections opening and closing (with why they closed). Optional:
   * with it, a client transaction whose connection closes before any response
   * ends at once with a transport error instead of waiting for timer B or F.
   */
  onConnection?(handler: (event: { type: 'open' | 'close'; connId: number; reason?: string }) => void): void;
  close(): Promise<void>;
}

/**
 * The capture tap: the one source of truth for what was on the wire.
 *
 * Every transport calls the tap for every UDP datagram and every TCP/TLS
 * stream segment it sends or receives, with the exact bytes (for TLS: the
 * decrypted application bytes). Roles never log by themselves.
 */

export type TransportProtocol = 'udp' | 'tcp' | 'tls';

/** An IP endpoint. `host` is an IP literal; IPv6 without brackets (`::1`). */
export interface HostPort {
  host: string;
  port: number;
}

export interface CaptureRecord {
  /** Monotonic per process, starting at 1. */
  seq: number;
  /** Wall-clock time in microseconds since the Unix epoch (high resolution). */
  timeUs: number;
  direction: 'in' | 'out';
  transport: TransportProtocol;
  local: HostPort;
  remote: HostPort;
  /** Stream connection id (unique per process), null for UDP. */
  connId: number | null;
  /** The exact bytes of the datagram or stream segment. */
  bytes: Uint8Array;
}

export type CaptureTap = (record: CaptureRecord) => void;

let captureSeq = 0;
const origin = performance.timeOrigin;

/** Microseconds since the epoch, sub-millisecond resolution. */
export function nowUs(): number {
  return Math.round((origin + performance.now()) * 1000);
}

export function nextCaptureSeq(): number {
  captureSeq += 1;
  return captureSeq;
}

/** `host:port`, with brackets around IPv6 hosts. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/**
 * The engine's one typed surface, shared by the CLI, the headless host, the
 * Electron main process and the renderer. Plain data only: everything here
 * crosses IPC and WebSocket bridges as JSON.
 */

export type TransportName = 'udp' | 'tcp' | 'tls';

export type ElementRole = 'front-end' | 'mediation' | 'gateway' | 'ip-pbx' | 'sbc' | 'lync-user';

export type Health = 'up' | 'down' | 'probing' | 'unknown';

export interface ElementStatus {
  /** Short id (`med-1`). */
  id: string;
  /** Display name (`Mediation-1`). */
  name: string;
  role: ElementRole;
  /** `tcp:127.0.0.20:5068` style listening points. */
  listen: string[];
  /** For peers: emulated, or the external device's address. */
  external?: string;
  /** For lync-user. */
  uri?: string;
  lineUri?: string;
  /** For peers: the emulated PSTN numbers. */
  numbers?: string[];
  /** For peers, as seen by each Mediation Server trunk: trunk name → health. */
  health?: Record<string, Health>;
}

export interface TrunkStatus {
  name: string;
  mediation: string;
  peer: string;
  transport: TransportName;
  health: Health;
}

export type CallState = 'dialing' | 'proceeding' | 'ringing' | 'early-media' | 'connected' | 'held' | 'ended' | 'failed';

export interface CallSummary {
  id: string;
  from: string;
  to: string;
  state: CallState;
  /** µs since epoch. */
  startedUs: number;
  answeredUs?: number;
  endedUs?: number;
  /** Post-dial delay: INVITE to first 18x, ms. */
  pddMs?: number;
  /** Final status of the originating leg and why it ended. */
  status?: number;
  reason?: string;
  /** Trunks tried in order (failover). */
  trunks?: string[];
  legs: string[];
}

/** One message on the wire, as the trace store summarizes it. */
export interface MessageSummary {
  /** Position in the trace (0-based, dense). */
  index: number;
  timeUs: number;
  transport: TransportName;
  /** Sending and receiving element ids, or `host:port` for addresses outside the topology. */
  from: string;
  to: string;
  src: string;
  dst: string;
  kind: 'request' | 'response' | 'invalid';
  /** Method for requests; CSeq method for responses. */
  method: string;
  status?: number;
  reason?: string;
  callId: string;
  cseq: string;
  /** Call and leg the store put it in, if any. */
  callKey?: string;
  legKey?: string;
  retransmission: boolean;
  /** True when an SDP body is present. */
  sdp: boolean;
  size: number;
  errors: number;
  warnings: number;
}

export type EngineEvent =
  | { type: 'message'; message: MessageSummary }
  | { type: 'call'; call: CallSummary }
  | { type: 'health'; trunk: string; peer: string; mediation: string; health: Health; reason: string; timeUs: number }
  | { type: 'element'; element: ElementStatus }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; text: string; timeUs: number };

/** Types of the trace store's public surface (plain data). */
import type { HostPort, TransportProtocol } from '../sip/capture.ts';
import type { CallLinkerOptions } from './call-linker.ts';

/** Names the emulated element behind an address (`med-1`), or null for addresses outside the topology. */
export type ElementResolver = (address: HostPort, transport: TransportProtocol) => string | null;

export interface TraceStoreOptions {
  resolveElement?: ElementResolver;
  /** Link legs of imported traffic by the evidence in the messages (default true). Live traffic (the tap) is linked by the B2BUA only. */
  linkHeuristics?: boolean | CallLinkerOptions;
  /** How long a live message waits for the tap record of its other end (default 5 s). */
  pairWindowUs?: number;
  /** Live appends are handed to `onAppend` listeners in batches at most this often (default 16 ms). */
  batchMs?: number;
}

export type LinkSource = 'b2bua' | 'call-id' | 'heuristic' | 'manual' | 'import';

export interface LinkOptions {
  source: LinkSource;
  /** 0..1: 1 when the B2BUA says so. */
  confidence: number;
  evidence?: string[];
}

/**
 * A leg by index, or by Call-ID (the B2BUA may link before the messages
 * reach the store); `tag`, either side's tag, picks among several legs of
 * one Call-ID.
 */
export type LegRef = number | { callId: string; tag?: string };

export interface LegLink {
  a: number;
  b: number;
  source: LinkSource;
  confidence: number;
  evidence: string[];
}

export interface LegInfo {
  index: number;
  key: string;
  callKey: string;
  callId: string;
  /** First, last message indexes and count. */
  first: number;
  last: number;
  messages: number;
  /** Method of the leg's first request ('' if it began with a response). */
  method: string;
  /** Final status of the leg's first INVITE (0: none seen). */
  finalStatus: number;
  /** Sender and receiver of the leg's first message (element or address). */
  from: string;
  to: string;
  startUs: number;
  endUs: number;
}

export interface CallInfo {
  key: string;
  /** Legs in order of their first message. */
  legs: number[];
  /** How the legs were joined. */
  links: LegLink[];
  /** Lowest confidence among the links (1 for a single leg). */
  confidence: number;
  startUs: number;
  endUs: number;
  messages: number;
}

export interface TransactionInfo {
  index: number;
  method: string;
  first: number;
  last: number;
  finalStatus: number;
  leg: number;
}

export interface StoreMemory {
  messages: number;
  /** Typed-array columns (capacity) for messages, transactions, dialogs, legs. */
  columnBytes: number;
  /** The part of the columns in use (capacity grows by doubling). */
  usedColumnBytes: number;
  /** Message bytes stored, and the arena chunks allocated for them. */
  payloadBytes: number;
  arenaBytes: number;
  /** Interned strings (Call-IDs, endpoints, methods...), estimated. */
  stringBytes: number;
  /** Per message, without the message bytes themselves: used column bytes and strings. */
  overheadPerMessage: number;
}

export type CallChange = { callKey: string; legs: number[]; absorbed: string[]; link: LegLink };

export interface MessageRecord {
  index: number;
  timeUs: number;
  /** Receive time at the other end when both ends are in the process (NaN otherwise). */
  recvTimeUs: number;
  transport: TransportProtocol;
  src: HostPort;
  dst: HostPort;
  /** Store-wide connection number (1-based) for TCP/TLS, null for UDP. */
  connId: number | null;
  bytes: Uint8Array;
}

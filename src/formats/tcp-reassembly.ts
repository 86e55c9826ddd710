/**
 * Per-connection TCP stream reassembly for the capture reader (RFC 9293).
 *
 * A connection is the unordered 4-tuple; a SYN whose ISN differs from a known
 * one on that tuple starts a new connection. Each direction delivers its
 * payload in sequence-number order, exactly once:
 * - bytes before the next expected sequence number (retransmissions, the
 *   overlapping head of a segment) are dropped;
 * - segments ahead of it are copied and buffered until the hole is filled,
 *   then delivered together with the segment that filled it;
 * - a hole that stays (packets the capture lost) is skipped once more than
 *   `maxBufferedBytes` or `maxBufferedSegments` wait behind it, and at
 *   {@link TcpReassembler.flush}; the delivery after it says how many bytes
 *   are missing.
 * A direction whose SYN was not captured starts at its first data segment.
 * Sequence arithmetic is modulo 2^32 (RFC 9293 §3.4).
 */

import { TCP_FIN, TCP_RST, TCP_SYN } from './net-headers.ts';
import { PayloadArena } from './payload-arena.ts';

interface Pending {
  seq: number;
  /** An owned copy. */
  data: Uint8Array;
  /** First frame of the segment (IP fragments) and the frame that completed it. */
  frame: number;
  lastFrame: number;
  timeUs: number;
}

export interface TcpHalf {
  /** Next expected sequence number; meaningful once `known`. */
  next: number;
  known: boolean;
  /** The direction's SYN was seen (its stream start is known). */
  synSeen: boolean;
  isn: number;
  pending: Pending[];
  pendingBytes: number;
  fin: boolean;
}

export interface TcpConnection<T> {
  /** The unordered 4-tuple. */
  key: string;
  /** [0] is the side that sent the first packet seen (the SYN sender when captured). */
  hosts: [string, string];
  ports: [number, number];
  halves: [TcpHalf, TcpHalf];
  closed: boolean;
  /** The consumer's per-connection state. */
  state: T;
}

export interface TcpDelivery {
  /** In-order new bytes of one direction (an owned buffer). */
  bytes: Uint8Array;
  /** Lowest frame number contributing to `bytes`. */
  firstFrame: number;
  /** Frame whose arrival made the bytes deliverable. */
  lastFrame: number;
  timeUs: number;
  /** Bytes of the stream never captured, right before `bytes`. */
  missingBefore: number;
}

export interface TcpConsumer<T> {
  newState(): T;
  /** In-order data of direction `dir` (0: hosts[0] → hosts[1]). */
  data(conn: TcpConnection<T>, dir: 0 | 1, d: TcpDelivery): void;
  /** The connection ends (RST, both FINs, a new connection on its tuple, end of capture); no data follows. */
  end(conn: TcpConnection<T>): void;
}

export interface TcpReassemblyLimits {
  maxBufferedBytes?: number;
  maxBufferedSegments?: number;
  /** Where delivered bytes are copied to (default: a private arena). */
  arena?: PayloadArena;
}

const newHalf = (): TcpHalf => ({ next: 0, known: false, synSeen: false, isn: 0, pending: [], pendingBytes: 0, fin: false });

export class TcpReassembler<T> {
  private readonly conns = new Map<string, TcpConnection<T>>();
  private readonly consumer: TcpConsumer<T>;
  private readonly maxBytes: number;
  private readonly maxSegments: number;
  private readonly arena: PayloadArena;
  /** Bytes dropped as already delivered (retransmissions and overlaps). */
  duplicateBytes = 0;
  /** Holes skipped and the bytes they held. */
  gaps = 0;
  missingBytes = 0;
  connections = 0;

  constructor(consumer: TcpConsumer<T>, limits: TcpReassemblyLimits = {}) {
    this.consumer = consumer;
    this.maxBytes = limits.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.maxSegments = limits.maxBufferedSegments ?? 4096;
    this.arena = limits.arena ?? new PayloadArena();
  }

  segment(
    src: string,
    sport: number,
    dst: string,
    dport: number,
    seq: number,
    flags: number,
    payload: Uint8Array,
    frame: number,
    timeUs: number,
    firstFrame = frame,
  ): void {
    const ka = `${src} ${sport}`;
    const kb = `${dst} ${dport}`;
    const key = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`;
    let conn = this.conns.get(key);
    const syn = (flags & TCP_SYN) !== 0;
    if (conn && syn) {
      const h = conn.halves[this.dirOf(conn, src, sport)];
      if (h.known && !(h.synSeen && h.isn === seq)) {
        this.close(conn);
        conn = undefined;
      }
    }
    if (!conn) {
      if (!syn && payload.length === 0) return;
      conn = {
        key,
        hosts: [src, dst],
        ports: [sport, dport],
        halves: [newHalf(), newHalf()],
        closed: false,
        state: this.consumer.newState(),
      };
      this.connections++;
      this.conns.set(key, conn);
    }
    const dir = this.dirOf(conn, src, sport);
    const h = conn.halves[dir];
    let dataSeq = seq;
    if (syn) {
      if (!h.known) {
        h.known = true;
        h.synSeen = true;
        h.isn = seq;
        h.next = (seq + 1) >>> 0;
      }
      dataSeq = (seq + 1) >>> 0;
    }
    if (payload.length > 0) this.data(conn, dir, h, dataSeq, payload, firstFrame, frame, timeUs);
    if (flags & TCP_RST) this.close(conn);
    else if (flags & TCP_FIN) {
      h.fin = true;
      if (conn.halves[1 - dir].fin) this.close(conn);
    }
  }

  private dirOf(conn: TcpConnection<T>, host: string, port: number): 0 | 1 {
    return conn.ports[0] === port && conn.hosts[0] === host ? 0 : 1;
  }

  private data(
    conn: TcpConnection<T>,
    dir: 0 | 1,
    h: TcpHalf,
    seq: number,
    payload: Uint8Array,
    firstFrame: number,
    frame: number,
    timeUs: number,
  ): void {
    if (!h.known) {
      h.known = true;
      h.next = seq;
    }
    const rel = (seq - h.next) | 0;
    const len = payload.length;
    if (rel <= 0) {
      if (rel + len <= 0) {
        this.duplicateBytes += len;
        return;
      }
      this.duplicateBytes += -rel;
      const fresh = rel === 0 ? payload : payload.subarray(-rel);
      h.next = (h.next + fresh.length) >>> 0;
      if (h.pending.length === 0) {
        this.consumer.data(conn, dir, { bytes: this.arena.copy(fresh), firstFrame, lastFrame: frame, timeUs, missingBefore: 0 });
        return;
      }
      this.drain(conn, dir, h, fresh, firstFrame, frame, timeUs, 0);
      return;
    }
    // Ahead of the expected sequence number: buffer a copy, in order.
    const p = h.pending;
    let i = p.length;
    while (i > 0 && ((p[i - 1].seq - seq) | 0) > 0) i--;
    if (i > 0 && p[i - 1].seq === seq && p[i - 1].data.length >= len) {
      this.duplicateBytes += len;
      return;
    }
    p.splice(i, 0, { seq, data: payload.slice(), frame: firstFrame, lastFrame: frame, timeUs });
    h.pendingBytes += len;
    if (h.pendingBytes > this.maxBytes || p.length > this.maxSegments) this.skipHoles(conn, dir, h, false);
  }

  /**
   * Delivers `head` (a view of the current packet, or null) followed by the
   * buffered segments that have become contiguous, as one delivery.
   */
  private drain(
    conn: TcpConnection<T>,
    dir: 0 | 1,
    h: TcpHalf,
    head: Uint8Array | null,
    firstFrame: number,
    lastFrame: number,
    timeUs: number,
    missingBefore: number,
  ): void {
    const parts: Uint8Array[] = head ? [head] : [];
    let first = firstFrame;
    let last = lastFrame;
    let time = timeUs;
    const p = h.pending;
    while (p.length > 0) {
      const s = p[0];
      const rel = (s.seq - h.next) | 0;
      if (rel > 0) break;
      p.shift();
      h.pendingBytes -= s.data.length;
      if (rel + s.data.length <= 0) {
        this.duplicateBytes += s.data.length;
        continue;
      }
      const fresh = rel === 0 ? s.data : s.data.subarray(-rel);
      this.duplicateBytes += -rel;
      parts.push(fresh);
      h.next = (h.next + fresh.length) >>> 0;
      if (s.frame < first) first = s.frame;
      if (!head && s.lastFrame > last) {
        last = s.lastFrame;
        time = s.timeUs;
      }
    }
    if (parts.length === 0) return;
    let bytes: Uint8Array;
    if (parts.length === 1) bytes = head ? this.arena.copy(head) : parts[0];
    else {
      let n = 0;
      for (const x of parts) n += x.length;
      bytes = new Uint8Array(n);
      let o = 0;
      for (const x of parts) {
        bytes.set(x, o);
        o += x.length;
      }
    }
    this.consumer.data(conn, dir, { bytes, firstFrame: first, lastFrame: last, timeUs: time, missingBefore });
  }

  /**
   * Gives up on the hole before the first buffered segment (and the next ones
   * while too much is still buffered, or all of them with `all`).
   */
  private skipHoles(conn: TcpConnection<T>, dir: 0 | 1, h: TcpHalf, all: boolean): void {
    while (h.pending.length > 0) {
      const s = h.pending[0];
      const missing = (s.seq - h.next) | 0;
      if (missing > 0) {
        this.gaps++;
        this.missingBytes += missing;
        h.next = s.seq;
      }
      this.drain(conn, dir, h, null, s.frame, s.lastFrame, s.timeUs, Math.max(0, missing));
      if (!all && h.pendingBytes <= this.maxBytes / 2 && h.pending.length <= this.maxSegments / 2) break;
    }
  }

  /** RST, both FINs, a new connection on the tuple, or end of capture. */
  private close(conn: TcpConnection<T>): void {
    if (conn.closed) return;
    this.skipHoles(conn, 0, conn.halves[0], true);
    this.skipHoles(conn, 1, conn.halves[1], true);
    conn.closed = true;
    // Forget it: packets that still come (the last ACK) carry no data.
    if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
    this.consumer.end(conn);
  }

  /** End of capture: delivers what is buffered (skipping holes) and ends every connection. */
  flush(): void {
    for (const conn of [...this.conns.values()]) this.close(conn);
    this.conns.clear();
  }

  /** Connections being tracked (open ones). */
  get openConnections(): number {
    return this.conns.size;
  }
}

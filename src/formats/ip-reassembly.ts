/**
 * IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5) fragment reassembly.
 *
 * Fragments are keyed by the caller (version, addresses, protocol,
 * identification) and copied once; when the last fragment is in and the
 * fragments cover 0..total without a hole, the datagram is assembled into
 * one new buffer. Overlapping fragments are accepted (later bytes win).
 * Incomplete datagrams are dropped after `timeoutUs` of capture time (RFC 8200
 * §4.5 uses 60 s) or when more than `maxPending` are waiting.
 */

interface Fragment {
  offset: number;
  data: Uint8Array;
}

interface Pending {
  frags: Fragment[];
  /** Total length once the last fragment (MF = 0) is seen, else -1. */
  total: number;
  firstFrame: number;
  lastSeenUs: number;
}

export interface Reassembled {
  /** The reassembled IP payload (transport header first). */
  data: Uint8Array;
  /** Lowest frame number among the fragments. */
  firstFrame: number;
}

/** Largest reassembled payload accepted (IPv4 allows 65535 - 20 + fragment slack). */
const MAX_DATAGRAM = 128 * 1024;

export class IpReassembler {
  private readonly pending = new Map<string, Pending>();
  private readonly timeoutUs: number;
  private readonly maxPending: number;
  private sinceSweep = 0;
  /** Datagrams dropped incomplete (timeout, overflow, oversize). */
  dropped = 0;
  completed = 0;

  constructor(timeoutUs = 60e6, maxPending = 10000) {
    this.timeoutUs = timeoutUs;
    this.maxPending = maxPending;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Adds one fragment (its payload after the IP/fragment header). Returns the
   * whole datagram when this fragment completes it, else null.
   */
  add(key: string, frame: number, timeUs: number, offset: number, more: boolean, payload: Uint8Array): Reassembled | null {
    if (++this.sinceSweep >= 1024) this.sweep(timeUs);
    let p = this.pending.get(key);
    if (!p) {
      if (this.pending.size >= this.maxPending) this.evictOldest();
      p = { frags: [], total: -1, firstFrame: frame, lastSeenUs: timeUs };
      this.pending.set(key, p);
    }
    p.lastSeenUs = timeUs;
    if (frame < p.firstFrame) p.firstFrame = frame;
    const end = offset + payload.length;
    if (end > MAX_DATAGRAM) {
      this.pending.delete(key);
      this.dropped++;
      return null;
    }
    p.frags.push({ offset, data: payload.slice() });
    if (!more) p.total = end;
    if (p.total < 0) return null;
    p.frags.sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const f of p.frags) {
      if (f.offset > covered) return null;
      const e = f.offset + f.data.length;
      if (e > covered) covered = e;
    }
    if (covered < p.total) return null;
    const out = new Uint8Array(p.total);
    for (const f of p.frags) {
      const n = Math.min(f.data.length, p.total - f.offset);
      if (n > 0) out.set(n === f.data.length ? f.data : f.data.subarray(0, n), f.offset);
    }
    this.pending.delete(key);
    this.completed++;
    return { data: out, firstFrame: p.firstFrame };
  }

  private sweep(nowUs: number): void {
    this.sinceSweep = 0;
    for (const [k, p] of this.pending) {
      if (nowUs - p.lastSeenUs > this.timeoutUs) {
        this.pending.delete(k);
        this.dropped++;
      }
    }
  }

  private evictOldest(): void {
    const first = this.pending.keys().next();
    if (!first.done) {
      this.pending.delete(first.value);
      this.dropped++;
    }
  }
}

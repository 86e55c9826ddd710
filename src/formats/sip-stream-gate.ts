/**
 * Decides which TCP connections carry SIP and passes on their data.
 *
 * A connection is SIP when either direction's stream starts (after optional
 * CRLF keep-alives) with a SIP start line (see {@link classifyStreamStart});
 * from then on all its data in both directions is kept. Data is held back
 * until the first decision; a connection decided not-SIP is dropped whole.
 * A direction whose SYN was not captured may begin inside a message: its
 * bytes up to the first start line found at a line start are dropped.
 */

import { classifyStreamStart, MID_STREAM_SEARCH } from './sip-detect.ts';
import type { TcpConnection, TcpConsumer, TcpDelivery } from './tcp-reassembly.ts';

interface HalfGate {
  open: boolean;
  queue: TcpDelivery[];
  queuedBytes: number;
}

export interface GateState {
  verdict: 'undecided' | 'sip' | 'not-sip';
  /** Assigned when the connection is found to be SIP (1, 2, ...). */
  connId: number;
  halves: [HalfGate, HalfGate];
}

export type GateEmit = (conn: TcpConnection<GateState>, dir: 0 | 1, d: TcpDelivery) => void;

/** Data held back per direction before giving up on finding SIP. */
const MAX_UNDECIDED = MID_STREAM_SEARCH + 8192;

export class SipStreamGate implements TcpConsumer<GateState> {
  private readonly emit: GateEmit;
  private nextConnId = 0;
  /** Connections found to carry SIP. */
  sipConnections = 0;
  /** Bytes dropped at the start of mid-stream directions to reach a message start. */
  skippedBytes = 0;

  constructor(emit: GateEmit) {
    this.emit = emit;
  }

  newState(): GateState {
    return {
      verdict: 'undecided',
      connId: 0,
      halves: [
        { open: false, queue: [], queuedBytes: 0 },
        { open: false, queue: [], queuedBytes: 0 },
      ],
    };
  }

  data(conn: TcpConnection<GateState>, dir: 0 | 1, d: TcpDelivery): void {
    const st = conn.state;
    if (st.verdict === 'not-sip') return;
    const hg = st.halves[dir];
    if (hg.open) {
      this.emit(conn, dir, d);
      return;
    }
    hg.queue.push(d);
    hg.queuedBytes += d.bytes.length;
    this.evaluate(conn, dir, false);
  }

  end(conn: TcpConnection<GateState>): void {
    const st = conn.state;
    for (const dir of [0, 1] as const) {
      if (st.verdict !== 'not-sip' && !st.halves[dir].open && st.halves[dir].queue.length > 0) this.evaluate(conn, dir, true);
    }
    st.halves[0].queue = [];
    st.halves[1].queue = [];
  }

  private evaluate(conn: TcpConnection<GateState>, dir: 0 | 1, final: boolean): void {
    const st = conn.state;
    const hg = st.halves[dir];
    const midStream = !conn.halves[dir].synSeen;
    if (st.verdict === 'sip' && !midStream) {
      this.open(conn, dir, 0);
      return;
    }
    const c = classifyStreamStart(concat(hg.queue), midStream, final);
    let verdict = c.verdict;
    if (verdict === 'more' && hg.queuedBytes > MAX_UNDECIDED) verdict = 'not-sip';
    if (verdict === 'sip') {
      if (st.verdict !== 'sip') {
        st.verdict = 'sip';
        st.connId = ++this.nextConnId;
        this.sipConnections++;
      }
      this.open(conn, dir, c.skip);
      const other = (1 - dir) as 0 | 1;
      if (!st.halves[other].open && st.halves[other].queue.length > 0) this.evaluate(conn, other, final);
    } else if (verdict === 'not-sip') {
      if (st.verdict === 'sip') this.open(conn, dir, 0);
      else {
        st.verdict = 'not-sip';
        st.halves[0].queue = [];
        st.halves[1].queue = [];
      }
    }
  }

  private open(conn: TcpConnection<GateState>, dir: 0 | 1, skip: number): void {
    const hg = conn.state.halves[dir];
    hg.open = true;
    const q = hg.queue;
    hg.queue = [];
    hg.queuedBytes = 0;
    let s = skip;
    this.skippedBytes += skip;
    for (const d of q) {
      if (s >= d.bytes.length) {
        s -= d.bytes.length;
        continue;
      }
      this.emit(conn, dir, s > 0 ? { ...d, bytes: d.bytes.subarray(s) } : d);
      s = 0;
    }
  }
}

function concat(q: TcpDelivery[]): Uint8Array {
  if (q.length === 1) return q[0].bytes;
  let n = 0;
  for (const d of q) n += d.bytes.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const d of q) {
    out.set(d.bytes, o);
    o += d.bytes.length;
  }
  return out;
}

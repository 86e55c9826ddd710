/**
 * Transaction timers (RFC 3261 §17 and Appendix A; RFC 6026 §7, §8.4, §8.7).
 *
 * RFC 3261 Appendix A (Table 4), abridged:
 *
 *   T1       500 ms default         §17.1.1.1  RTT estimate
 *   T2       4 s                    §17.1.2.2  maximum retransmit interval for
 *                                              non-INVITE requests and INVITE responses
 *   T4       5 s                    §17.1.2.2  maximum duration a message will
 *                                              remain in the network
 *   Timer A  initially T1           §17.1.1.2  INVITE request retransmit interval, UDP only
 *   Timer B  64*T1                  §17.1.1.2  INVITE transaction timeout timer
 *   Timer C  > 3 min                §16.6/11   proxy INVITE transaction timeout
 *   Timer D  > 32 s UDP, 0 TCP      §17.1.1.2  wait time for response retransmits
 *   Timer E  initially T1           §17.1.2.2  non-INVITE request retransmit interval, UDP only
 *   Timer F  64*T1                  §17.1.2.2  non-INVITE transaction timeout timer
 *   Timer G  initially T1           §17.2.1    INVITE response retransmit interval
 *   Timer H  64*T1                  §17.2.1    wait time for ACK receipt
 *   Timer I  T4 UDP, 0 TCP          §17.2.1    wait time for ACK retransmits
 *   Timer J  64*T1 UDP, 0 TCP       §17.2.2    wait time for non-INVITE request retransmits
 *   Timer K  T4 UDP, 0 TCP          §17.1.2.2  wait time for response retransmits
 *
 * RFC 6026 adds two, both 64*T1 on every transport:
 *
 *   Timer L  64*T1  (§7.1, §8.7)  how long an INVITE server transaction stays
 *                                 Accepted, absorbing INVITE retransmissions
 *   Timer M  64*T1  (§7.2, §8.4)  how long an INVITE client transaction stays
 *                                 Accepted, passing 2xx retransmissions and
 *                                 2xx of other forks to the TU
 *
 * All durations are in milliseconds. Each transaction layer has its own
 * settings (a test bench shrinks T1 to run RFC timing scenarios quickly).
 */

/** Every timer name of RFC 3261 §17 and RFC 6026. */
export type TimerName = 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M';

export interface TimerSettings {
  /** RTT estimate (RFC 3261 §17.1.1.1); default 500 ms. */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses; default 4 s. */
  t2: number;
  /** Maximum duration a message remains in the network; default 5 s. */
  t4: number;
  /**
   * Timer D on unreliable transports (§17.1.1.2: "at least 32 seconds for
   * unreliable transports"); default 32 s. Always 0 on reliable transports.
   */
  timerD: number;
  /**
   * Timer C (§16.6 step 11, §16.8): "MUST be set to be larger than 3
   * minutes". A proxy timer; the INVITE client transaction runs it only when
   * it is > 0 (default 0: off, a UA core decides when to give up ringing).
   */
  timerC: number;
}

export const DEFAULT_TIMERS: Readonly<TimerSettings> = Object.freeze({
  t1: 500,
  t2: 4000,
  t4: 5000,
  timerD: 32_000,
  timerC: 0,
});

/** Fills the defaults in and checks the values are usable (finite, not negative). */
export function resolveTimers(partial: Partial<TimerSettings> | undefined): Readonly<TimerSettings> {
  const out: TimerSettings = { ...DEFAULT_TIMERS, ...partial };
  for (const k of ['t1', 't2', 't4', 'timerD', 'timerC'] as const) {
    const v = out[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`transaction timer ${k} must be a finite number of ms >= 0 (got ${String(v)})`);
  }
  if (out.t1 === 0) throw new RangeError('transaction timer T1 must be > 0');
  return Object.freeze(out);
}

/** Timer B (§17.1.1.2), F (§17.1.2.2), H (§17.2.1), L and M (RFC 6026): 64*T1 on every transport. */
export function timeout64(t: Readonly<TimerSettings>): number {
  return 64 * t.t1;
}

/** Timer D (§17.1.1.2): "at least 32 seconds for unreliable transports, and a value of zero seconds for reliable transports". */
export function timerD(t: Readonly<TimerSettings>, reliable: boolean): number {
  return reliable ? 0 : t.timerD;
}

/** Timer I (§17.2.1): "set to a value of T4 seconds for unreliable transports, and zero seconds for reliable transports". */
export function timerI(t: Readonly<TimerSettings>, reliable: boolean): number {
  return reliable ? 0 : t.t4;
}

/** Timer J (§17.2.2): "64*T1 seconds for unreliable transports, and zero seconds for reliable transports". */
export function timerJ(t: Readonly<TimerSettings>, reliable: boolean): number {
  return reliable ? 0 : 64 * t.t1;
}

/** Timer K (§17.1.2.2): "T4 for unreliable transports and zero seconds for reliable transports". */
export function timerK(t: Readonly<TimerSettings>, reliable: boolean): number {
  return reliable ? 0 : t.t4;
}

/**
 * Next retransmission interval after `current` has elapsed.
 *
 * Timer A (§17.1.1.2): "the client transaction MUST reset the timer with a
 * value of 2*T1 ... each time timer A fires, the timer is reset with a value
 * of twice its previous value" (no cap). Timers E (§17.1.2.2) and G
 * (§17.2.1), and the UAS core's 2xx retransmission (§13.3.1.4), double up to
 * T2.
 */
export function nextInterval(current: number, cap: number | null): number {
  const doubled = current * 2;
  return cap !== null && doubled > cap ? cap : doubled;
}

/** A scheduled timer: 0 is "none". */
export type TimerHandle = number;

/** Lanes per queue (delays in use at once); the handle keeps the lane number in its low bits. */
const LANE_BITS = 8;
const MAX_LANES = 1 << LANE_BITS;
/** A lane's entries due within this many ms of now fire together (Node timers have 1 ms resolution). */
const EARLY_MS = 1;

/** One delay's timers, in the order they were scheduled (hence in deadline order). */
class Lane {
  readonly index: number;
  delay: number;
  /** Entries [head, ids.length) are pending; a cancelled entry has a null callback. */
  ids: number[] = [];
  deadlines: number[] = [];
  fns: Array<((target: never) => void) | null> = [];
  targets: unknown[] = [];
  head = 0;
  live = 0;
  timer: NodeJS.Timeout | null = null;
  /** Its entries are being run: `schedule` leaves the Node timer to the run's end. */
  running = false;
  readonly run: () => void;

  constructor(index: number, delay: number, queue: TimerQueue) {
    this.index = index;
    this.delay = delay;
    this.run = () => queue.runLane(this);
  }

  /** Drops every entry (none is live). */
  reset(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.ids = [];
    this.deadlines = [];
    this.fns = [];
    this.targets = [];
    this.head = 0;
    this.live = 0;
  }
}

/**
 * The timers of one transaction layer on a few shared Node timers: one lane per
 * distinct delay (T1, 2*T1, ..., T2, T4, 64*T1, the 100 Trying delay), each a
 * FIFO, since timers of equal delay expire in the order they were set. A
 * transaction holds a number, not a Node `Timeout` object: at thousands of
 * calls per second, every call's INVITE and BYE transactions wait 64*T1 = 32 s
 * (timers H, J, L), and as many `Timeout` objects (plus their argument
 * arrays) living that long fill the old generation the garbage collector has
 * to mark. Deadlines are taken from `performance.now()` when the timer is
 * set, not from the event loop's cached time, which lags behind a long loop
 * iteration and makes a Node timer fire early.
 *
 * A lane keeps one Node timer while it has a live entry; `close()` clears them
 * all, so a closed layer keeps no timer alive.
 */
export class TimerQueue {
  readonly #lanes: Array<Lane | undefined> = [];
  readonly #byDelay = new Map<number, Lane>();
  #seq = 0;
  #closed = false;
  /** A timer callback threw (the queue carries on with the other timers). */
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Calls `fire(target)` after `delay` ms (rounded to whole ms, at least 1); returns the handle for `cancel`. */
  schedule<T>(delay: number, fire: (target: T) => void, target: T): TimerHandle {
    if (this.#closed) return 0;
    const ms = delay >= 1 ? Math.round(delay) : 1;
    let lane = this.#byDelay.get(ms);
    if (lane === undefined) lane = this.#newLane(ms);
    const id = ++this.#seq * MAX_LANES + lane.index;
    lane.ids.push(id);
    lane.deadlines.push(performance.now() + ms);
    lane.fns.push(fire as (target: never) => void);
    lane.targets.push(target);
    lane.live++;
    if (lane.timer === null && !lane.running) lane.timer = setTimeout(lane.run, ms);
    return id;
  }

  /** Cancels a pending timer (one that has neither fired nor been cancelled). */
  cancel(handle: TimerHandle): void {
    const lane = this.#lanes[handle % MAX_LANES];
    if (lane === undefined) return;
    // Ids grow in each lane: binary search.
    const ids = lane.ids;
    let lo = lane.head;
    let hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid];
      if (v < handle) lo = mid + 1;
      else if (v > handle) hi = mid - 1;
      else {
        if (lane.fns[mid] === null) return;
        lane.fns[mid] = null;
        lane.targets[mid] = null;
        if (--lane.live === 0) lane.reset();
        return;
      }
    }
  }

  /** Pending timers (for tests and diagnostics). */
  get size(): number {
    let n = 0;
    for (const lane of this.#byDelay.values()) n += lane.live;
    return n;
  }

  /** Cancels everything; later `schedule` calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const lane of this.#byDelay.values()) lane.reset();
  }

  #newLane(ms: number): Lane {
    let index = this.#lanes.length;
    if (index >= MAX_LANES) {
      // Many distinct delays over time (timer C values, T1 settings): reuse an idle lane.
      index = this.#lanes.findIndex((l) => l !== undefined && l.live === 0);
      if (index < 0) throw new RangeError(`more than ${MAX_LANES} distinct transaction timer delays pending at once`);
      const old = this.#lanes[index]!;
      old.reset();
      this.#byDelay.delete(old.delay);
    }
    const lane = new Lane(index, ms, this);
    this.#lanes[index] = lane;
    this.#byDelay.set(ms, lane);
    return lane;
  }

  /** @internal a lane's Node timer fired: runs every entry that is due. */
  runLane(lane: Lane): void {
    lane.timer = null;
    lane.running = true;
    const now = performance.now() + EARLY_MS;
    // The lane's arrays are read afresh each turn: a callback may cancel (emptying the lane) or schedule.
    while (lane.head < lane.ids.length && lane.deadlines[lane.head] <= now) {
      const i = lane.head++;
      const fn = lane.fns[i];
      if (fn === null) continue;
      const target = lane.targets[i];
      lane.fns[i] = null;
      lane.targets[i] = null;
      lane.live--;
      try {
        fn(target as never);
      } catch (err) {
        this.#onError(err);
      }
    }
    lane.running = false;
    if (lane.live === 0) {
      lane.reset();
      return;
    }
    // Skip cancelled entries at the head so the next wake-up is for a live one; drop what has been run.
    const fns = lane.fns;
    let i = lane.head;
    while (i < fns.length && fns[i] === null) i++;
    if (i > 1024 && i * 2 > fns.length) {
      lane.ids.splice(0, i);
      lane.deadlines.splice(0, i);
      fns.splice(0, i);
      lane.targets.splice(0, i);
      i = 0;
    }
    lane.head = i;
    if (lane.timer === null) lane.timer = setTimeout(lane.run, Math.max(1, Math.ceil(lane.deadlines[i] - performance.now())));
  }
}

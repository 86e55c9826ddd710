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

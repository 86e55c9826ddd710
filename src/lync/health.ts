/**
 * Peer health as the Mediation Server keeps it per trunk, from SIP OPTIONS
 * keep-alives (domain doc "Gateway health"):
 *
 *   up ──(failuresBeforeDown consecutive unanswered OPTIONS)──▶ down
 *   down ──(successesBeforeUp answered OPTIONS)──▶ up
 *
 * While up, an OPTIONS goes out every `optionsIntervalMs`; while down, every
 * `downProbeIntervalMs`. "Answered" means a 2xx, or any final response with
 * `healthyOptionsResponse: "any"`. The counts and intervals are *(field)*
 * values from the trunk configuration.
 *
 * `PeerHealth` is the pure state machine: the caller tells it what happened
 * and when (`now` in ms, any monotonic clock) and asks when the next probe is
 * due. `HealthProber` drives one with injected timers and an injected
 * `sendOptions`, for the roles; tests drive either without real time.
 */
import type { HealthyOptionsResponse, TrunkConfiguration } from './topology.ts';

export type HealthState = 'up' | 'down';

export type HealthSettings = Pick<
  TrunkConfiguration,
  'optionsIntervalMs' | 'failuresBeforeDown' | 'successesBeforeUp' | 'downProbeIntervalMs' | 'healthyOptionsResponse'
>;

export interface HealthTransition {
  from: HealthState;
  to: HealthState;
  /** When it happened (the `now` given). */
  at: number;
  /** Human-readable cause: `5 OPTIONS unanswered`, `200 to OPTIONS`, `marked down: ...`. */
  reason: string;
}

/** Does this OPTIONS final response show the peer alive? */
export function isHealthyOptionsResponse(status: number, rule: HealthyOptionsResponse): boolean {
  if (status < 200) return false;
  return rule === 'any' || (status >= 200 && status <= 299);
}

export class PeerHealth {
  readonly settings: HealthSettings;
  private current: HealthState;
  private failures = 0;
  private successes = 0;
  private due: number;
  private inFlight = false;
  private lastStatus: number | null = null;

  /** Starts `up` (or `initial`) with the first probe due at `now`. */
  constructor(settings: HealthSettings, now: number, initial: HealthState = 'up') {
    this.settings = settings;
    this.current = initial;
    this.due = now;
  }

  get state(): HealthState {
    return this.current;
  }

  get isDown(): boolean {
    return this.current === 'down';
  }

  /** Unanswered probes in a row (reset by an answered one). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Answered probes in a row while down. */
  get consecutiveSuccesses(): number {
    return this.successes;
  }

  /** When the next OPTIONS should go out. */
  get nextProbeAt(): number {
    return this.due;
  }

  /** A probe was sent and its outcome is not known yet. */
  get probeInFlight(): boolean {
    return this.inFlight;
  }

  /** Status of the last answered probe, or null. */
  get lastResponseStatus(): number | null {
    return this.lastStatus;
  }

  private interval(): number {
    return this.current === 'up' ? this.settings.optionsIntervalMs : this.settings.downProbeIntervalMs;
  }

  /** A probe is due and none is outstanding. */
  isProbeDue(now: number): boolean {
    return !this.inFlight && now >= this.due;
  }

  /** An OPTIONS was sent at `now`; the next one is due one interval later. */
  probeSent(now: number): void {
    this.inFlight = true;
    this.due = now + this.interval();
  }

  /** The OPTIONS got a final response. */
  probeAnswered(status: number, now: number): HealthTransition | null {
    this.inFlight = false;
    this.lastStatus = status;
    if (!isHealthyOptionsResponse(status, this.settings.healthyOptionsResponse)) {
      return this.failure(now, `${status} to OPTIONS`);
    }
    this.failures = 0;
    if (this.current === 'up') return null;
    this.successes += 1;
    if (this.successes < this.settings.successesBeforeUp) return null;
    return this.transition('up', now, `${status} to OPTIONS`);
  }

  /** The OPTIONS got no final response (timeout or transport error). */
  probeUnanswered(now: number): HealthTransition | null {
    this.inFlight = false;
    return this.failure(now, 'OPTIONS unanswered');
  }

  private failure(now: number, what: string): HealthTransition | null {
    this.successes = 0;
    this.failures += 1;
    if (this.current === 'down' || this.failures < this.settings.failuresBeforeDown) return null;
    const count = this.failures === 1 ? what : `${this.failures} probes failed, last: ${what}`;
    return this.transition('down', now, count);
  }

  /** Marks the peer down regardless of probes (an operator, or a role's own evidence). */
  markDown(now: number, reason: string): HealthTransition | null {
    return this.current === 'down' ? null : this.transition('down', now, `marked down: ${reason}`);
  }

  /** Marks the peer up regardless of probes. */
  markUp(now: number, reason: string): HealthTransition | null {
    this.failures = 0;
    return this.current === 'up' ? null : this.transition('up', now, `marked up: ${reason}`);
  }

  private transition(to: HealthState, now: number, reason: string): HealthTransition {
    const from = this.current;
    this.current = to;
    this.successes = 0;
    if (to === 'up') this.failures = 0;
    // The next probe follows the interval of the new state.
    this.due = now + this.interval();
    return { from, to, at: now, reason };
  }
}

/** Timer functions, injectable (`setTimeout`/`clearTimeout` by default). */
export interface Timers {
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface HealthProberOptions {
  health: PeerHealth;
  /** Sends one OPTIONS; resolves with the final status, or null when unanswered (timeout, transport error). */
  sendOptions: () => Promise<number | null>;
  onTransition?: (transition: HealthTransition) => void;
  timers?: Timers;
}

/** Sends OPTIONS whenever `health` says one is due, until stopped. */
export class HealthProber {
  private readonly options: HealthProberOptions;
  private readonly timers: Timers;
  private handle: unknown = null;
  private stopped = true;

  constructor(options: HealthProberOptions) {
    this.options = options;
    this.timers = options.timers ?? realTimers;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== null) this.timers.clearTimer(this.handle);
    this.handle = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = Math.max(0, this.options.health.nextProbeAt - this.timers.now());
    this.handle = this.timers.setTimer(() => {
      this.handle = null;
      void this.probe();
    }, delay);
  }

  private async probe(): Promise<void> {
    const { health } = this.options;
    if (this.stopped) return;
    health.probeSent(this.timers.now());
    let status: number | null;
    try {
      status = await this.options.sendOptions();
    } catch {
      status = null;
    }
    if (this.stopped) return;
    const now = this.timers.now();
    const transition = status === null ? health.probeUnanswered(now) : health.probeAnswered(status, now);
    if (transition !== null) this.options.onTransition?.(transition);
    this.schedule();
  }
}

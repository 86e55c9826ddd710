/**
 * The Mediation Server's OPTIONS keep-alives towards each peer of its trunks
 * (domain doc "Gateway health"): one `PeerHealth` state machine and one
 * `HealthProber` per trunk, with the trunk's configured counts and intervals.
 * A trunk whose peer is marked down is skipped by outbound routing.
 */
import type { UserAgent } from '../sip/user-agent.ts';
import { HealthProber, type HealthTransition, PeerHealth, realTimers } from './health.ts';
import { uriHost } from './sip-stack.ts';
import type { Trunk } from './topology.ts';

export interface KeepAliveEvents {
  onTransition(trunk: Trunk, transition: HealthTransition): void;
}

export class OptionsKeepAlive {
  readonly trunk: Trunk;
  readonly health: PeerHealth;
  readonly #prober: HealthProber;
  /** The probe on the wire, if any: a stop waits for its answer so the connection is not reset under it. */
  #inFlight: Promise<unknown> | null = null;

  constructor(trunk: Trunk, ua: UserAgent, from: string, events: KeepAliveEvents) {
    this.trunk = trunk;
    const config = trunk.configuration;
    this.health = new PeerHealth(config, realTimers.now());
    const target = `sip:${uriHost(trunk.peerAddress)}:${trunk.peerPort}${trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`}`;
    this.#prober = new HealthProber({
      health: this.health,
      sendOptions: async () => {
        const timeout = new Promise<null>((resolve) => {
          const t = setTimeout(() => resolve(null), config.optionsTimeoutMs);
          t.unref();
        });
        const answer = ua
          .sendOptions(target, { transport: trunk.transport, host: trunk.peerAddress, port: trunk.peerPort }, from)
          .then((r) => r.response?.status ?? null);
        const probe = Promise.race([answer, timeout]);
        this.#inFlight = probe;
        void probe.finally(() => {
          if (this.#inFlight === probe) this.#inFlight = null;
        });
        return probe;
      },
      onTransition: (transition) => events.onTransition(trunk, transition),
    });
  }

  get isDown(): boolean {
    return this.health.isDown;
  }

  start(): void {
    this.#prober.start();
  }

  stop(): void {
    this.#prober.stop();
  }

  /**
   * Waits (at most `maxMs`) for the answer to a probe still on the wire. Closing
   * a TCP connection with the peer's answer in flight makes the kernel reset
   * it, which some devices take badly (SIPp 3.6.1 quits).
   */
  async drain(maxMs: number): Promise<void> {
    const inFlight = this.#inFlight;
    if (inFlight === null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([inFlight.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)))]);
    clearTimeout(timer);
  }
}

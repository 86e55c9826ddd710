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
        return Promise.race([answer, timeout]);
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
}

/**
 * The RTP of one lab element: its port pools (one per address it puts in
 * SDP) and, for an endpoint (a Lync user, an emulated peer), one RTP
 * session per call leg, or for a Mediation Server one relay per call.
 *
 * Sockets are bound when an SDP is written (a port is taken from the
 * element's pool: bound beforehand, see `RtpPortPool`) and closed when the
 * leg ends or the element stops. Binding at SDP time, not lazily at the
 * first digit, because the far end may send first: a gateway's IVR digits
 * in early media, an external device's media. `enabled: false` (the lab's
 * `media: false`, for call-rate benchmarks) binds nothing: ports are only
 * numbers in SDP, and digits are logged but not sent.
 */
import type { ReceivedDigit } from '../media/dtmf-receiver.ts';
import { RtpPortPool } from '../media/port-pool.ts';
import { RtpRelay, type RelayEvents } from '../media/rtp-relay.ts';
import { type DigitsSent, type MalformedMedia, RtpSession } from '../media/rtp-session.ts';
import { audioOf, formatAddress, type RtpAddress } from '../media/sdp-media.ts';
import type { DtmfSendOptions } from '../media/telephone-event.ts';
import type { Session } from '../sip/user-agent.ts';
import { negotiatedTelephoneEvent } from './endpoint-behaviour.ts';

export interface MediaSettings {
  /** Bind RTP sockets (default true). */
  enabled: boolean;
  /** How digits are sent (tone length, update interval, pause...). */
  dtmf?: DtmfSendOptions;
  /** Endpoints send G.711 silence every 20 ms on their calls (default off). */
  silence?: boolean;
}

export interface ElementMediaHooks {
  /** A digit received on a leg of an endpoint. */
  onDigit?(session: Session, digit: ReceivedDigit): void;
  /** Something that is not RTP (or a broken event) arrived on a leg. */
  onMalformed?(session: Session | null, report: MalformedMedia): void;
  warn?(text: string): void;
  /** A port taken and not claimed yet is still needed (an answer not sent yet): never closed as unused. */
  portInUse?(port: number): boolean;
}

interface Leg {
  session: Session;
  port: number;
  rtp: RtpSession | null;
  ready: Promise<RtpSession | null>;
}

/** Last octet of an IPv4 address (spreads the elements' port bases). */
export function lastOctet(address: string): number {
  return Number(address.split('.').pop()) || 0;
}

export class ElementMedia {
  readonly settings: MediaSettings;
  readonly #hooks: ElementMediaHooks;
  readonly #bases: Map<string, number>;
  /** The address `take()` and `attach()` use when given none: the element's own. */
  readonly #address: string;
  readonly #pools = new Map<string, RtpPortPool>();
  readonly #plain = new Map<string, number>();
  readonly #legs = new Map<Session, Leg>();
  readonly #relays = new Set<RtpRelay<string>>();
  #stopped = false;

  /** `bases`: the first RTP port tried on each address of the element (the first address is its own). */
  constructor(bases: Record<string, number>, settings: MediaSettings, hooks: ElementMediaHooks = {}) {
    this.settings = settings;
    this.#hooks = hooks;
    this.#bases = new Map(Object.entries(bases));
    this.#address = [...this.#bases.keys()][0] ?? '127.0.0.1';
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** Binds the spare sockets of every address (call before the first take, or ports are bound on demand). */
  async ready(): Promise<void> {
    if (!this.enabled) return;
    await Promise.all([...this.#bases.keys()].map((a) => this.#pool(a).fill()));
  }

  /** A port for an SDP on `address` (bound when media is on). */
  take(address: string = this.#address): number {
    if (!this.enabled || this.#stopped) {
      // Media off: a number for the SDP, as the lab always had.
      const next = (this.#plain.get(address) ?? (this.#bases.get(address) ?? 40000) - 2) + 2;
      this.#plain.set(address, next >= 60000 ? 20000 : next);
      return next;
    }
    return this.#pool(address).take();
  }

  /** The port a leg's RTP session uses (the one its SDP names), if it has one. */
  portOf(session: Session): number | null {
    return this.#legs.get(session)?.port ?? null;
  }

  /** The RTP session of an endpoint's leg, once bound. */
  rtpOf(session: Session): RtpSession | null {
    return this.#legs.get(session)?.rtp ?? null;
  }

  /**
   * An endpoint's leg uses the port `take(address)` gave: its RTP session
   * sends to the far end's SDP address (or where the far end sends from),
   * receives RFC 4733 digits on the telephone-event payload types of both
   * SDPs, and closes when the leg ends.
   */
  attach(session: Session, port: number, address: string = this.#address): void {
    if (!this.enabled || this.#stopped || this.#legs.has(session)) return;
    const pool = this.#pool(address);
    const leg: Leg = { session, port, rtp: null, ready: Promise.resolve(null) };
    this.#legs.set(session, leg);
    leg.ready = pool.claim(port).then((socket) => {
      if (socket === null) return null;
      if (session.ended || this.#stopped || this.#legs.get(session) !== leg) {
        void pool.release(port);
        return null;
      }
      leg.rtp = new RtpSession(socket, {
        release: () => void pool.release(port),
        // The far end's SDP address first (an emulated endpoint does not latch); its source only while the SDP gives none.
        symmetric: 'fallback',
        sdpRemote: () => audioOf(session.remoteSdp)?.target ?? null,
        isTelephoneEvent: (pt) => audioOf(session.localSdp)?.telephoneEvent === pt || audioOf(session.remoteSdp)?.telephoneEvent === pt,
        onDigit: (digit) => this.#hooks.onDigit?.(session, digit),
        onMalformed: (report) => this.#hooks.onMalformed?.(session, report),
      });
      if (this.settings.silence) {
        // A-law when our SDP prefers it (as the lab's do), else µ-law; packets go once the far end's address is known.
        const first = audioOf(session.localSdp)?.codecs.find((c) => c.payload === 0 || c.payload === 8)?.payload;
        leg.rtp.setSilence(true, first === 8 ? 8 : 0);
      }
      return leg.rtp;
    });
    const previous = session.events.onEnd;
    session.events.onEnd = (reason, s) => {
      previous?.(reason, s);
      this.#detach(s);
    };
  }

  /**
   * Sends digits on an endpoint's leg as RFC 4733 events, with the far
   * end's telephone-event payload type; resolves when the last end packet
   * is out. Throws when the leg has no telephone-event on both SDPs, no RTP
   * session, or no far-end address.
   */
  async sendDigits(session: Session, digits: string): Promise<DigitsSent> {
    const pt = negotiatedTelephoneEvent(session);
    if (pt === null) throw new Error('the call has no telephone-event (RFC 4733) in its SDP: DTMF cannot be sent');
    const leg = this.#legs.get(session);
    if (leg === undefined) throw new Error(this.enabled ? 'the call has no RTP session' : 'media sockets are off in this lab');
    const rtp = await leg.ready;
    if (rtp === null || rtp.closed) throw new Error(`no RTP socket for this call (port ${leg.port} could not be bound, or the call ended)`);
    if (rtp.destination() === null) throw new Error('the far end gave no RTP address in its SDP');
    return rtp.sendDigits(digits, { ...this.settings.dtmf, payloadType: pt });
  }

  /**
   * A Mediation Server's relay between two legs: `take(address)` ports on
   * both sides (their sockets claimed here). Null when media is off. The
   * relay closes with `closeRelay` (both legs ended) or at stop.
   */
  relay<L extends string>(
    a: { name: L; address: string; port: number; sdp: () => { local: string | null; remote: string | null } },
    b: { name: L; address: string; port: number; sdp: () => { local: string | null; remote: string | null } },
    events: RelayEvents<L>,
  ): Promise<RtpRelay<L> | null> | null {
    if (!this.enabled || this.#stopped) return null;
    const pa = this.#pool(a.address);
    const pb = this.#pool(b.address);
    return Promise.all([pa.claim(a.port), pb.claim(b.port)]).then(([sa, sb]) => {
      if (sa === null || sb === null || this.#stopped) {
        void pa.release(a.port);
        void pb.release(b.port);
        return null;
      }
      const relay = new RtpRelay<L>(
        { name: a.name, socket: sa, sdp: a.sdp, release: () => void pa.release(a.port) },
        { name: b.name, socket: sb, sdp: b.sdp, release: () => void pb.release(b.port) },
        events,
      );
      this.#relays.add(relay as unknown as RtpRelay<string>);
      return relay;
    });
  }

  /** A relay leg moves to another port (`take(address)`), e.g. the Lync leg after a transfer the Mediation Server did. */
  async replaceRelayLeg<L extends string>(relay: RtpRelay<L>, leg: { name: L; address: string; port: number; sdp: () => { local: string | null; remote: string | null } }): Promise<void> {
    const pool = this.#pool(leg.address);
    const socket = await pool.claim(leg.port);
    if (socket === null) return;
    relay.replace({ name: leg.name, socket, sdp: leg.sdp, release: () => void pool.release(leg.port) });
  }

  /** Closes a port taken for a call that is over, if nothing claimed it (claimed ones close with their session or relay). */
  releaseUnclaimed(port: number, address: string = this.#address): void {
    if (!this.enabled) return;
    this.#pools.get(address)?.releaseIfLeased(port);
  }

  closeRelay(relay: RtpRelay<string> | null): void {
    if (relay === null) return;
    relay.close();
    this.#relays.delete(relay);
  }

  /** Closes every RTP session, relay and socket of the element. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const s of [...this.#legs.keys()]) this.#detach(s);
    for (const r of this.#relays) r.close();
    this.#relays.clear();
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }

  /** Sockets open now (for leak checks). */
  get openSockets(): number {
    let n = 0;
    for (const p of this.#pools.values()) n += p.openSockets;
    return n;
  }

  #detach(session: Session): void {
    const leg = this.#legs.get(session);
    if (leg === undefined) return;
    this.#legs.delete(session);
    if (leg.rtp !== null) leg.rtp.close();
    // Not bound yet: the claim sees the leg gone and releases the port.
  }

  #pool(address: string): RtpPortPool {
    let pool = this.#pools.get(address);
    if (pool === undefined) {
      pool = new RtpPortPool({ address, base: this.#bases.get(address) ?? 40000, onWarning: (w) => this.#hooks.warn?.(w), inUse: this.#hooks.portInUse });
      this.#pools.set(address, pool);
    }
    return pool;
  }
}

export function describeMalformed(report: MalformedMedia): string {
  return `from ${formatAddress(report.from)}: ${report.error}`;
}

export type { RtpAddress };

/**
 * A media relay between two call legs, as a B2BUA that anchors media (a
 * Lync Mediation Server) runs one: each leg has its own socket, the port of
 * that leg's SDP; what arrives on one leg goes out of the other to that
 * leg's far end: its SDP address, or where it sends from while its SDP
 * gives none (`symmetric: 'fallback'` by default; a far end sending from
 * elsewhere than its SDP says is reported with `onLatch`).
 *
 * Payload types are the receiver's (RFC 3264 §5.1): packets arrive with
 * the numbers of our SDP on their leg and leave with the numbers of the
 * other far end's SDP. RFC 4733 events are renumbered that way (101 on the
 * Lync side, 96 towards a gateway that offered 96), and dropped when the
 * other leg negotiated no telephone-event: each digit is reported with the
 * payload type it went on with, or null. Audio keeps its bytes and gets the
 * other leg's number for the same codec (no transcoding: a codec the other
 * leg lacks goes as it is).
 */
import type dgram from 'node:dgram';
import type { ReceivedDigit } from './dtmf-receiver.ts';
import type { RtpPacket } from './rtp-packet.ts';
import { type MalformedMedia, RtpSession } from './rtp-session.ts';
import { type AudioMedia, audioOf, type RtpAddress } from './sdp-media.ts';

export interface RelayLegSpec<L extends string> {
  name: L;
  socket: dgram.Socket;
  /** This leg's SDPs now: ours (local) and the far end's (remote). */
  sdp(): { local: string | null; remote: string | null };
  /** Gives the socket back to its pool. */
  release?(): void;
  /** See `RtpSessionOptions.symmetric` (default `fallback`). */
  symmetric?: 'latch' | 'fallback' | 'off';
}

export interface RelayEvents<L extends string> {
  /** A digit that arrived on leg `from`; `relayedAs` = its payload type on the other leg, null when it could not go as RFC 4733. */
  onDigit?(from: L, digit: ReceivedDigit, relayedAs: number | null): void;
  onMalformed?(leg: L, report: MalformedMedia): void;
  onLatch?(leg: L, from: RtpAddress, sdp: RtpAddress | null): void;
}

export interface RelayStats {
  forwarded: number;
  /** Packets with nowhere to go (no far-end address yet, session closed). */
  noDestination: number;
  /** RFC 4733 packets the other leg has no telephone-event for. */
  eventsDropped: number;
}

interface Leg<L extends string> {
  spec: RelayLegSpec<L>;
  rtp: RtpSession;
}

export class RtpRelay<L extends string> {
  readonly stats: RelayStats = { forwarded: 0, noDestination: 0, eventsDropped: 0 };
  readonly #legs: [Leg<L>, Leg<L>];
  readonly #events: RelayEvents<L>;
  #closed = false;

  constructor(a: RelayLegSpec<L>, b: RelayLegSpec<L>, events: RelayEvents<L> = {}) {
    this.#events = events;
    this.#legs = [this.#open(a), this.#open(b)];
  }

  /** The RTP session of a leg (its stats, digits received, learned address). */
  leg(name: L): RtpSession | null {
    return this.#legs.find((l) => l.spec.name === name)?.rtp ?? null;
  }

  /** A leg gets a new socket (its dialog was replaced, e.g. by a transfer the relay's B2BUA did itself). */
  replace(spec: RelayLegSpec<L>): void {
    const i = this.#legs.findIndex((l) => l.spec.name === spec.name);
    if (i < 0 || this.#closed) {
      spec.release?.();
      return;
    }
    this.#legs[i].rtp.close();
    this.#legs[i] = this.#open(spec);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#legs) l.rtp.close();
  }

  #open(spec: RelayLegSpec<L>): Leg<L> {
    const leg = {} as Leg<L>;
    leg.spec = spec;
    leg.rtp = new RtpSession(spec.socket, {
      release: spec.release,
      symmetric: spec.symmetric ?? 'fallback',
      sdpRemote: () => audioOf(spec.sdp().remote)?.target ?? null,
      isTelephoneEvent: (pt) => isTelephoneEventOf(spec.sdp(), pt),
      onDigit: (digit) => this.#events.onDigit?.(spec.name, digit, audioOf(this.#other(leg).spec.sdp().remote)?.telephoneEvent ?? null),
      onMalformed: (report) => this.#events.onMalformed?.(spec.name, report),
      onLatch: (from, sdp) => this.#events.onLatch?.(spec.name, from, sdp),
      onPacket: (packet, bytes) => this.#forward(leg, packet, bytes),
    });
    return leg;
  }

  #other(leg: Leg<L>): Leg<L> {
    return this.#legs[0] === leg ? this.#legs[1] : this.#legs[0];
  }

  #forward(from: Leg<L>, packet: RtpPacket, bytes: Uint8Array): void {
    if (this.#closed) return;
    const to = this.#other(from);
    const inSdp = from.spec.sdp();
    const outSdp = to.spec.sdp();
    const outAudio = audioOf(outSdp.remote);
    const destination = to.rtp.destination();
    if (destination === null) {
      this.stats.noDestination += 1;
      return;
    }
    let pt = packet.payloadType;
    if (isTelephoneEventOf(inSdp, pt)) {
      const out = outAudio?.telephoneEvent ?? null;
      if (out === null) {
        this.stats.eventsDropped += 1;
        return;
      }
      pt = out;
    } else pt = audioPayloadFor(pt, audioOf(inSdp.local) ?? audioOf(inSdp.remote), outAudio);
    const copy = bytes.slice();
    copy[1] = (copy[1] & 0x80) | pt;
    if (to.rtp.sendRaw(copy, destination)) this.stats.forwarded += 1;
  }
}

/** Our payload type on a leg (what the far end sends us), or the far end's own number, is telephone-event. */
export function isTelephoneEventOf(sdp: { local: string | null; remote: string | null }, pt: number): boolean {
  return audioOf(sdp.local)?.telephoneEvent === pt || audioOf(sdp.remote)?.telephoneEvent === pt;
}

/** The outgoing leg's payload type for the codec an incoming payload type names (unchanged when unknown). */
function audioPayloadFor(pt: number, inAudio: AudioMedia | null, outAudio: AudioMedia | null): number {
  const codec = inAudio?.codecs.find((c) => c.payload === pt);
  if (codec === undefined || outAudio === null) return pt;
  return outAudio.codecs.find((c) => c.name.toUpperCase() === codec.name.toUpperCase() && c.rate === codec.rate)?.payload ?? pt;
}

/**
 * Turns a stream of RFC 4733 telephone-event packets into digits, one per
 * event, the way a receiver must (§2.5.2):
 * - an event is known by its SSRC and RTP timestamp (all its packets carry
 *   the event's start), so the retransmitted end packets (§2.5.1.4), with a
 *   new sequence number or the same, are one digit, not three;
 * - a digit is reported at its first end packet; if every end packet is
 *   lost, when the next event starts (a new timestamp) or when the event
 *   has been silent for `staleMs`; if the first packets are lost, the end
 *   packet alone still gives the digit;
 * - packets of an event already reported (late, reordered, duplicated)
 *   are counted, never reported twice.
 *
 * Pure: the caller passes the time; `checkStale()` is for its timer.
 */
import type { RtpPacket } from './rtp-packet.ts';
import { eventToDigit, type TelephoneEvent } from './telephone-event.ts';

export interface ReceivedDigit {
  /** `0`-`9`, `*`, `#`, `A`-`D`, `flash`, or `event-N`. */
  digit: string;
  event: number;
  payloadType: number;
  ssrc: number;
  /** The event's start (RTP timestamp of its packets). */
  rtpTimestamp: number;
  /** Longest duration seen, ms (timestamp units / clock rate). */
  durationMs: number;
  volume: number;
  /** Caller's clock (ms) at the event's first packet and when the digit was reported. */
  firstAtMs: number;
  reportedAtMs: number;
  /** How the end of the event was known. */
  endedBy: 'end-packet' | 'next-event' | 'silence' | 'flush';
  /** Packets of the event received before it was reported. */
  packets: number;
  /** The first packet received had the marker bit (false: the start was lost or not marked). */
  startSeen: boolean;
}

export interface DtmfReceiverOptions {
  onDigit(digit: ReceivedDigit): void;
  /** An event with no packet for this long is over (ms, default 400: several lost updates and three lost end packets). */
  staleMs?: number;
  clockRate?: number;
}

interface OpenEvent {
  key: string;
  event: number;
  payloadType: number;
  ssrc: number;
  rtpTimestamp: number;
  duration: number;
  volume: number;
  firstAtMs: number;
  lastAtMs: number;
  packets: number;
  startSeen: boolean;
}

/** How many reported events are remembered to recognize their late copies. */
const REMEMBERED = 64;

export class DtmfReceiver {
  readonly #onDigit: (digit: ReceivedDigit) => void;
  readonly #staleMs: number;
  readonly #clockRate: number;
  #open: OpenEvent | null = null;
  readonly #done: string[] = [];
  readonly #doneSet = new Set<string>();
  /** Packets of events already reported (retransmitted end packets, late copies). */
  duplicates = 0;

  constructor(options: DtmfReceiverOptions) {
    this.#onDigit = options.onDigit;
    this.#staleMs = options.staleMs ?? 400;
    this.#clockRate = options.clockRate ?? 8000;
  }

  /** An event is open: a digit will come by end packet, next event or silence. */
  get pending(): boolean {
    return this.#open !== null;
  }

  /** One telephone-event packet (its first event block; `events` from `decodeTelephoneEvents`). */
  push(packet: RtpPacket, events: TelephoneEvent[], atMs: number): void {
    const e = events[0];
    if (e === undefined) return;
    const key = `${packet.ssrc}:${packet.timestamp}:${e.event}`;
    if (this.#doneSet.has(key)) {
      this.duplicates += 1;
      return;
    }
    let open = this.#open;
    if (open !== null && open.key !== key) {
      // A new event while one is open: the open one's end packets were lost.
      this.#report(open, 'next-event', atMs);
      open = null;
    }
    if (open === null) {
      open = {
        key,
        event: e.event,
        payloadType: packet.payloadType,
        ssrc: packet.ssrc,
        rtpTimestamp: packet.timestamp,
        duration: 0,
        volume: e.volume,
        firstAtMs: atMs,
        lastAtMs: atMs,
        packets: 0,
        startSeen: packet.marker,
      };
      this.#open = open;
    }
    open.packets += 1;
    open.lastAtMs = atMs;
    open.duration = Math.max(open.duration, e.duration);
    open.volume = e.volume;
    if (e.end) this.#report(open, 'end-packet', atMs);
  }

  /** Reports an open event that has been silent for `staleMs` (all its end packets lost). */
  checkStale(atMs: number): void {
    const open = this.#open;
    if (open !== null && atMs - open.lastAtMs >= this.#staleMs) this.#report(open, 'silence', atMs);
  }

  /** When the next `checkStale` can report, or null when nothing is open. */
  staleAtMs(): number | null {
    return this.#open === null ? null : this.#open.lastAtMs + this.#staleMs;
  }

  /** Reports what is open now (the stream is closing). */
  flush(atMs: number): void {
    if (this.#open !== null) this.#report(this.#open, 'flush', atMs);
  }

  #report(open: OpenEvent, endedBy: ReceivedDigit['endedBy'], atMs: number): void {
    if (this.#open === open) this.#open = null;
    this.#done.push(open.key);
    this.#doneSet.add(open.key);
    if (this.#done.length > REMEMBERED) this.#doneSet.delete(this.#done.shift() as string);
    this.#onDigit({
      digit: eventToDigit(open.event),
      event: open.event,
      payloadType: open.payloadType,
      ssrc: open.ssrc,
      rtpTimestamp: open.rtpTimestamp,
      durationMs: Math.round((open.duration * 1000) / this.#clockRate),
      volume: open.volume,
      firstAtMs: open.firstAtMs,
      reportedAtMs: atMs,
      endedBy,
      packets: open.packets,
      startSeen: open.startSeen,
    });
  }
}

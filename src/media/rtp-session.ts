/**
 * One RTP stream end on a bound UDP socket: sends our packets (RFC 4733
 * digits, G.711 silence while asked to) from one SSRC with consecutive
 * sequence numbers and an 8 kHz clock, and receives the far end's packets:
 * RFC 4733 events become digits (`DtmfReceiver`), anything that is not RTP
 * is reported with its bytes (`onMalformed`), never thrown.
 *
 * Where to send (`symmetric`): `latch` (default) answers where the far
 * end's packets come from once they come (symmetric RTP, RFC 4961: a
 * device behind NAT is answered where it sends from), else its SDP address
 * (`remote`); `fallback` keeps to the SDP address and uses the source only
 * while the SDP gives none, as a media anchor that does not latch does;
 * `off` only ever uses the SDP. A source other than the SDP address is
 * reported either way (`onLatch`). Who owns the socket (a port pool) is
 * told by `release`.
 */
import type dgram from 'node:dgram';
import { DtmfReceiver, type ReceivedDigit } from './dtmf-receiver.ts';
import { decodeRtp, encodeRtp, type RtpPacket, type RtpPacketInput } from './rtp-packet.ts';
import { formatAddress, type RtpAddress, sameAddress } from './sdp-media.ts';
import { type DtmfSendOptions, decodeTelephoneEvents, dtmfSchedule, encodeTelephoneEvent } from './telephone-event.ts';

export interface MalformedMedia {
  from: RtpAddress;
  error: string;
  bytes: Uint8Array;
}

export interface RtpSessionOptions {
  /** Payload types received as RFC 4733 events (asked per packet: the SDP may change). */
  isTelephoneEvent?(payloadType: number): boolean;
  /** Every RTP packet received (after symmetric learning), with its bytes. */
  onPacket?(packet: RtpPacket, bytes: Uint8Array, from: RtpAddress): void;
  onDigit?(digit: ReceivedDigit): void;
  onMalformed?(report: MalformedMedia): void;
  /** Packets come from `from`, not from the SDP address (reported once per new source). */
  onLatch?(from: RtpAddress, sdp: RtpAddress | null): void;
  /** The far end's SDP address now (the SDP may change: re-INVITE, 183 then 200); refreshes `remote`. */
  sdpRemote?(): RtpAddress | null;
  /** Where to send: see the module comment (default `latch`). */
  symmetric?: 'latch' | 'fallback' | 'off';
  /** See `DtmfReceiverOptions.staleMs`. */
  staleMs?: number;
  /** Called once by `close()` instead of closing the socket (the pool that lent it closes it). */
  release?(): void;
}

export interface DigitsSent {
  digits: string;
  payloadType: number;
  packets: number;
  /** RTP timestamp of the first digit's event. */
  timestamp: number;
  destination: RtpAddress;
  /** Digits whose end packet went out (fewer when the session closed meanwhile). */
  completed: number;
}

export interface RtpStats {
  sent: number;
  received: number;
  malformed: number;
  sendErrors: number;
}

const CLOCK_RATE = 8000;

function random32(): number {
  return Math.floor(Math.random() * 0x100000000) >>> 0;
}

export class RtpSession {
  readonly socket: dgram.Socket;
  readonly local: RtpAddress;
  /** The far end's address from its SDP. */
  remote: RtpAddress | null = null;
  /** Where the far end's packets come from (symmetric RTP). */
  learned: RtpAddress | null = null;
  readonly ssrc = random32();
  readonly stats: RtpStats = { sent: 0, received: 0, malformed: 0, sendErrors: 0 };
  /** Every digit received, in order. */
  readonly digits: ReceivedDigit[] = [];
  readonly #options: RtpSessionOptions;
  readonly #receiver: DtmfReceiver;
  #seq = random32() & 0xffff;
  readonly #tsBase = random32();
  readonly #t0 = performance.now();
  #staleTimer: NodeJS.Timeout | null = null;
  #sendTimer: NodeJS.Timeout | null = null;
  #finishSend: (() => void) | null = null;
  #sending: Promise<unknown> = Promise.resolve();
  /** An event is on the wire: silence packets hold back (§2.5.1.1: the event replaces the audio). */
  #inEvent = false;
  #silence: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(socket: dgram.Socket, options: RtpSessionOptions = {}) {
    this.socket = socket;
    const a = socket.address();
    this.local = { address: a.address, port: a.port };
    this.#options = options;
    this.#receiver = new DtmfReceiver({
      staleMs: options.staleMs,
      onDigit: (d) => {
        this.digits.push(d);
        options.onDigit?.(d);
      },
    });
    socket.on('message', this.#onMessage);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Where our packets go (see `symmetric`). */
  destination(): RtpAddress | null {
    if (this.#options.sdpRemote) this.remote = this.#options.sdpRemote();
    switch (this.#options.symmetric ?? 'latch') {
      case 'latch':
        return this.learned ?? this.remote;
      case 'fallback':
        return this.remote ?? this.learned;
      case 'off':
        return this.remote;
    }
  }

  /** Our RTP clock now (8 kHz, random start). */
  timestampNow(): number {
    return (this.#tsBase + Math.round(((performance.now() - this.#t0) * CLOCK_RATE) / 1000)) >>> 0;
  }

  /** Sends one packet of ours (SSRC and sequence number filled in); false when there is nowhere to send. */
  send(fields: Omit<RtpPacketInput, 'ssrc' | 'sequenceNumber'>, to: RtpAddress | null = this.destination()): boolean {
    if (this.#closed || to === null) return false;
    const bytes = encodeRtp({ ...fields, ssrc: this.ssrc, sequenceNumber: this.#seq });
    this.#seq = (this.#seq + 1) & 0xffff;
    return this.sendRaw(bytes, to);
  }

  /** Sends bytes as they are (a relay's forwarded packet). */
  sendRaw(bytes: Uint8Array, to: RtpAddress | null = this.destination()): boolean {
    if (this.#closed || to === null) return false;
    this.stats.sent += 1;
    this.socket.send(bytes, to.port, to.address, (error) => {
      if (error) this.stats.sendErrors += 1;
    });
    return true;
  }

  /**
   * Sends digits as RFC 4733 events with `payloadType` (the far end's, from
   * its SDP), on the schedule of `dtmfSchedule`. Calls queue behind each
   * other. Resolves when the last end packet is out, or early (with
   * `completed` < digits) when the session closes.
   */
  sendDigits(digits: string, options: DtmfSendOptions & { payloadType: number }): Promise<DigitsSent> {
    const schedule = dtmfSchedule(digits, options);
    const run = async (): Promise<DigitsSent> => {
      const destination = this.destination();
      if (destination === null) throw new Error(`no RTP address to send DTMF to (${formatAddress(this.local)} knows no far end)`);
      const start = performance.now();
      const timestamp = this.timestampNow();
      const result: DigitsSent = { digits, payloadType: options.payloadType, packets: 0, timestamp, destination, completed: 0 };
      this.#inEvent = true;
      let i = 0;
      await new Promise<void>((resolve) => {
        this.#finishSend = resolve;
        const tick = (): void => {
          this.#sendTimer = null;
          if (this.#closed) {
            resolve();
            return;
          }
          const elapsed = performance.now() - start;
          while (i < schedule.length && schedule[i].atMs <= elapsed + 0.5) {
            const p = schedule[i];
            const last = i === schedule.length - 1 || schedule[i + 1].index !== p.index;
            if (this.send({ payloadType: options.payloadType, marker: p.marker, timestamp: (timestamp + p.timestampOffset) >>> 0, payload: encodeTelephoneEvent(p.event) })) result.packets += 1;
            if (last) result.completed += 1;
            i++;
          }
          if (i >= schedule.length) {
            resolve();
            return;
          }
          this.#sendTimer = setTimeout(tick, Math.max(0, schedule[i].atMs - elapsed));
        };
        tick();
      });
      this.#finishSend = null;
      this.#inEvent = false;
      return result;
    };
    const next = this.#sending.then(run, run);
    this.#sending = next.catch(() => undefined);
    return next;
  }

  /**
   * G.711 silence every 20 ms (160 samples of µ-law 0xFF or A-law 0xD5)
   * while on; off by default. Events hold it back while they play.
   */
  setSilence(on: boolean, payloadType: 0 | 8 = 0): void {
    if (!on || this.#closed) {
      if (this.#silence !== null) clearInterval(this.#silence);
      this.#silence = null;
      return;
    }
    if (this.#silence !== null) return;
    const payload = new Uint8Array(160).fill(payloadType === 0 ? 0xff : 0xd5);
    let marker = true;
    let timestamp = this.timestampNow();
    this.#silence = setInterval(() => {
      timestamp = (timestamp + 160) >>> 0;
      if (this.#inEvent) return;
      this.send({ payloadType, marker, timestamp, payload });
      marker = false;
    }, 20);
  }

  /** Stops sending, reports an event still open, gives the socket back. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#staleTimer !== null) clearTimeout(this.#staleTimer);
    if (this.#sendTimer !== null) clearTimeout(this.#sendTimer);
    if (this.#silence !== null) clearInterval(this.#silence);
    this.#staleTimer = this.#sendTimer = this.#silence = null;
    this.#finishSend?.();
    this.#receiver.flush(performance.now());
    this.socket.off('message', this.#onMessage);
    if (this.#options.release) this.#options.release();
    else {
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    }
  }

  #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.#closed) return;
    const from = { address: rinfo.address, port: rinfo.port };
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const decoded = decodeRtp(bytes);
    if (!decoded.ok) {
      this.stats.malformed += 1;
      this.#options.onMalformed?.({ from, error: decoded.error, bytes: bytes.slice() });
      return;
    }
    this.stats.received += 1;
    const packet = decoded.packet;
    if (this.#options.sdpRemote) this.remote = this.#options.sdpRemote();
    if (!sameAddress(this.learned, from)) {
      this.learned = from;
      if (!sameAddress(this.remote, from)) this.#options.onLatch?.(from, this.remote);
    }
    if (this.#options.isTelephoneEvent?.(packet.payloadType)) {
      const events = decodeTelephoneEvents(packet.payload);
      if (!events.ok) {
        this.stats.malformed += 1;
        this.#options.onMalformed?.({ from, error: `RTP payload type ${packet.payloadType} (telephone-event): ${events.error}`, bytes: bytes.slice() });
      } else {
        const now = performance.now();
        this.#receiver.push(packet, events.events, now);
        this.#armStale();
      }
    }
    this.#options.onPacket?.(packet, bytes, from);
  };

  /** Reports an event whose end packets all got lost once it has been silent long enough. */
  #armStale(): void {
    if (this.#staleTimer !== null) clearTimeout(this.#staleTimer);
    this.#staleTimer = null;
    const at = this.#receiver.staleAtMs();
    if (at === null) return;
    this.#staleTimer = setTimeout(
      () => {
        this.#staleTimer = null;
        this.#receiver.checkStale(performance.now());
        this.#armStale();
      },
      Math.max(1, at - performance.now()),
    );
    this.#staleTimer.unref();
  }
}

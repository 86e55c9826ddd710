/**
 * RFC 4733 telephone-events: the 4-byte event payload (§2.3), the DTMF
 * event codes (§3.2: 0-9, * = 10, # = 11, A-D = 12-15, flash = 16), and the
 * packets a sender emits for a string of digits.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |     event     |E|R| volume    |          duration             |
 * ```
 *
 * Sending (§2.5.1): every packet of one event carries the event's start as
 * its RTP timestamp; the first has the marker bit (§2.5.1.2: "the beginning
 * of a new event"); updates follow every `updateMs` with the duration so
 * far (in timestamp units, 8000 Hz); the last packet has the E bit and the
 * full duration and goes out three times (§2.5.1.4). Each packet takes the
 * next sequence number, as most senders do (SIPp's recorded DTMF repeats
 * the end packet's number; receivers must take both). The next digit starts
 * `pauseMs` after the previous tone ended, with a later timestamp.
 */

/** DTMF characters by event code (0-15). */
export const DTMF_EVENTS = '0123456789*#ABCD';
/** §3.2: hook flash. */
export const EVENT_FLASH = 16;

export interface TelephoneEvent {
  /** 0-255; 0-16 are the DTMF events. */
  event: number;
  /** E bit: the event has ended. */
  end: boolean;
  /** R bit: reserved, sent 0, kept as received. */
  reserved: boolean;
  /** Power level in -dBm0 (0-63; DTMF events carry it, 63 = silence). */
  volume: number;
  /** Duration so far, in RTP timestamp units. */
  duration: number;
}

/** The event code of a DTMF character (case-insensitive for A-D), or null. */
export function digitToEvent(digit: string): number | null {
  if (digit.length !== 1) return null;
  const i = DTMF_EVENTS.indexOf(digit.toUpperCase());
  return i < 0 ? null : i;
}

/** The DTMF character of an event code, `flash` for 16, or `event-N` for codes that are not DTMF. */
export function eventToDigit(event: number): string {
  if (event >= 0 && event < DTMF_EVENTS.length) return DTMF_EVENTS[event];
  return event === EVENT_FLASH ? 'flash' : `event-${event}`;
}

export function isDtmfString(digits: string): boolean {
  return /^[0-9*#A-D]+$/i.test(digits);
}

export function encodeTelephoneEvent(e: TelephoneEvent): Uint8Array {
  if (!Number.isInteger(e.event) || e.event < 0 || e.event > 255) throw new RangeError(`telephone-event code must be 0-255, got ${e.event}`);
  if (!Number.isInteger(e.volume) || e.volume < 0 || e.volume > 63) throw new RangeError(`telephone-event volume must be 0-63, got ${e.volume}`);
  if (!Number.isInteger(e.duration) || e.duration < 0 || e.duration > 0xffff) throw new RangeError(`telephone-event duration must be 0-65535, got ${e.duration}`);
  return Uint8Array.of(e.event, (e.end ? 0x80 : 0) | (e.reserved ? 0x40 : 0) | e.volume, e.duration >> 8, e.duration & 0xff);
}

export type TelephoneEventDecodeResult = { ok: true; events: TelephoneEvent[] } | { ok: false; error: string };

/**
 * The events of one telephone-event payload: one 4-byte block, or several
 * when the sender packed more than one (§2.5.1.5). Never throws.
 */
export function decodeTelephoneEvents(payload: Uint8Array): TelephoneEventDecodeResult {
  if (payload.length < 4) return { ok: false, error: `telephone-event payload of ${payload.length} bytes (at least 4)` };
  if (payload.length % 4 !== 0) return { ok: false, error: `telephone-event payload of ${payload.length} bytes is not a whole number of 4-byte events` };
  const events: TelephoneEvent[] = [];
  for (let at = 0; at < payload.length; at += 4) {
    events.push({
      event: payload[at],
      end: (payload[at + 1] & 0x80) !== 0,
      reserved: (payload[at + 1] & 0x40) !== 0,
      volume: payload[at + 1] & 0x3f,
      duration: (payload[at + 2] << 8) | payload[at + 3],
    });
  }
  return { ok: true, events };
}

export interface DtmfSendOptions {
  /** Tone length per digit, ms (default 100). */
  toneMs?: number;
  /** Interval between the packets of one event, ms (default 50). */
  updateMs?: number;
  /** Silence between the end of one tone and the start of the next, ms (default 100). */
  pauseMs?: number;
  /** Copies of the end packet (default 3, §2.5.1.4). */
  endPackets?: number;
  /** Spacing of the end packet's copies, ms (default 20: they fit in the pause before the next digit). */
  endRepeatMs?: number;
  /** -dBm0 (default 10). */
  volume?: number;
  /** RTP clock rate of telephone-event (default 8000, `telephone-event/8000`). */
  clockRate?: number;
}

export interface ResolvedDtmfSendOptions {
  toneMs: number;
  updateMs: number;
  pauseMs: number;
  endPackets: number;
  endRepeatMs: number;
  volume: number;
  clockRate: number;
}

export function resolveDtmfOptions(o: DtmfSendOptions = {}): ResolvedDtmfSendOptions {
  const r: ResolvedDtmfSendOptions = {
    toneMs: o.toneMs ?? 100,
    updateMs: o.updateMs ?? 50,
    pauseMs: o.pauseMs ?? 100,
    endPackets: o.endPackets ?? 3,
    endRepeatMs: o.endRepeatMs ?? 20,
    volume: o.volume ?? 10,
    clockRate: o.clockRate ?? 8000,
  };
  const positive = (name: keyof ResolvedDtmfSendOptions, min: number): void => {
    if (!Number.isFinite(r[name]) || r[name] < min) throw new RangeError(`DTMF ${name} must be at least ${min}, got ${r[name]}`);
  };
  positive('toneMs', 1);
  positive('updateMs', 1);
  positive('pauseMs', 0);
  positive('endPackets', 1);
  positive('endRepeatMs', 0);
  positive('clockRate', 1);
  if ((r.toneMs * r.clockRate) / 1000 > 0xffff) throw new RangeError(`a ${r.toneMs} ms tone does not fit the 16-bit duration (long events, §2.5.1.3, are not sent)`);
  if ((r.endPackets - 1) * r.endRepeatMs > r.pauseMs) throw new RangeError(`the ${r.endPackets} end packets, ${r.endRepeatMs} ms apart, must fit in the ${r.pauseMs} ms pause`);
  if (!Number.isInteger(r.volume) || r.volume < 0 || r.volume > 63) throw new RangeError(`DTMF volume must be 0-63, got ${r.volume}`);
  return r;
}

/** One packet of a digit string, `atMs` after the first digit started. */
export interface ScheduledEventPacket {
  atMs: number;
  digit: string;
  /** Index of the digit in the string. */
  index: number;
  marker: boolean;
  /** RTP timestamp of the event's start, in clock units after the first digit's start. */
  timestampOffset: number;
  event: TelephoneEvent;
}

/**
 * Every packet a sender emits for `digits`, in time order. For the defaults
 * and one digit: 0 ms (marker, duration 400), 50 ms (800), then the end
 * packet (E, 800) at 100, 120 and 140 ms; the next digit starts at 200 ms
 * (timestamp + 1600). Throws on a character that is not DTMF.
 */
export function dtmfSchedule(digits: string, options: DtmfSendOptions = {}): ScheduledEventPacket[] {
  if (!isDtmfString(digits)) throw new RangeError(`not DTMF digits: ${JSON.stringify(digits)}`);
  const o = resolveDtmfOptions(options);
  const units = (ms: number): number => Math.round((ms * o.clockRate) / 1000);
  const out: ScheduledEventPacket[] = [];
  let start = 0;
  [...digits].forEach((digit, index) => {
    const event = digitToEvent(digit) as number;
    const timestampOffset = units(start);
    const base = { digit: digit.toUpperCase(), index, timestampOffset };
    // Each update reports the tone up to the end of the interval it opens.
    for (let t = 0; t < o.toneMs; t += o.updateMs) {
      out.push({ ...base, atMs: start + t, marker: t === 0, event: { event, end: false, reserved: false, volume: o.volume, duration: units(Math.min(t + o.updateMs, o.toneMs)) } });
    }
    for (let k = 0; k < o.endPackets; k++) {
      out.push({ ...base, atMs: start + o.toneMs + k * o.endRepeatMs, marker: false, event: { event, end: true, reserved: false, volume: o.volume, duration: units(o.toneMs) } });
    }
    start += o.toneMs + o.pauseMs;
  });
  return out;
}

/** How long sending `digits` takes, ms (to the last end packet). */
export function dtmfSendTimeMs(digits: string, options: DtmfSendOptions = {}): number {
  const s = dtmfSchedule(digits, options);
  return s.length === 0 ? 0 : s[s.length - 1].atMs;
}

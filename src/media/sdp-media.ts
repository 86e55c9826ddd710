/**
 * What RTP needs from an SDP: where the first audio stream goes (its c= and
 * m= port), its telephone-event payload type and its codecs. Parsed once
 * per SDP text (sessions ask on every packet). An SDP that does not parse,
 * or whose audio is rejected (port 0) or on hold with c=0.0.0.0, gives no
 * address.
 */
import { type Codec, type Direction, summarize } from '../sdp/offer-answer.ts';

export interface RtpAddress {
  address: string;
  port: number;
}

export interface AudioMedia {
  /** The m= line's port (0: rejected stream). */
  port: number;
  /** Where to send RTP; null when the SDP gives none (port 0, c=0.0.0.0, no c= line). */
  target: RtpAddress | null;
  telephoneEvent: number | null;
  codecs: Codec[];
  direction: Direction;
}

const cache = new Map<string, AudioMedia | null>();
const CACHE_SIZE = 256;

/** The first audio stream of an SDP, or null (no SDP, no audio, does not parse). */
export function audioOf(sdp: string | null | undefined): AudioMedia | null {
  if (sdp === null || sdp === undefined || sdp.length === 0) return null;
  const hit = cache.get(sdp);
  if (hit !== undefined) return hit;
  let result: AudioMedia | null = null;
  try {
    const m = summarize(sdp).media.find((x) => x.type === 'audio');
    if (m !== undefined) {
      const address = m.connection;
      const usable = m.port > 0 && address !== null && address !== '0.0.0.0' && address !== '::';
      result = { port: m.port, target: usable ? { address, port: m.port } : null, telephoneEvent: m.telephoneEvent, codecs: m.codecs, direction: m.direction };
    }
  } catch {
    result = null;
  }
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(sdp, result);
  return result;
}

export function sameAddress(a: RtpAddress | null, b: RtpAddress | null): boolean {
  return a !== null && b !== null && a.port === b.port && a.address === b.address;
}

export function formatAddress(a: RtpAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

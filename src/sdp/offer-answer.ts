/**
 * SDP offer/answer (RFC 3264) on top of sdp-transform, with the details of a
 * Lync Mediation Server's gateway-side SDP (s=session, b=CT:1000, G.711 A-law
 * and µ-law, telephone-event 101 with events 0-16) and RFC 4733 DTMF.
 * Media is never sent: addresses and ports are what signalling carries.
 */
import sdpTransform from 'sdp-transform';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface Codec {
  payload: number;
  name: string;
  rate: number;
}

export const PCMU: Codec = { payload: 0, name: 'PCMU', rate: 8000 };
export const PCMA: Codec = { payload: 8, name: 'PCMA', rate: 8000 };
export const G729: Codec = { payload: 18, name: 'G729', rate: 8000 };

export interface MediaDescription {
  type: string;
  port: number;
  protocol: string;
  payloads: number[];
  codecs: Codec[];
  direction: Direction;
  /** RFC 4733 telephone-event payload type, if offered. */
  telephoneEvent: number | null;
  connection: string | null;
  crypto: boolean;
}

export interface SessionSummary {
  origin: { username: string; sessionId: string; sessionVersion: number; address: string };
  connection: string | null;
  media: MediaDescription[];
}

export interface OfferOptions {
  address: string;
  port: number;
  /** Codecs in preference order (default PCMA, PCMU as a Mediation Server sends `8 0 101`). */
  codecs?: Codec[];
  /** RFC 4733 payload type, or null for no DTMF events. */
  telephoneEvent?: number | null;
  direction?: Direction;
  sessionId?: string;
  sessionVersion?: number;
  /** Mediation Server style (s=session, b=CT:1000); otherwise a plain UA's. */
  mediationStyle?: boolean;
  /** Offer SRTP as optional (a=tcap/a=pcfg/a=crypto) the way Lync does. */
  srtpOptional?: boolean;
  username?: string;
}

function ipVersion(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

export function buildOffer(o: OfferOptions): string {
  const codecs = o.codecs ?? [PCMA, PCMU];
  const te = o.telephoneEvent === undefined ? 101 : o.telephoneEvent;
  const ip = ipVersion(o.address);
  const lines = [
    'v=0',
    `o=${o.username ?? '-'} ${o.sessionId ?? String(Math.floor(Math.random() * 1e9))} ${o.sessionVersion ?? 1} IN IP${ip} ${o.address}`,
    `s=${o.mediationStyle ? 'session' : '-'}`,
    `c=IN IP${ip} ${o.address}`,
  ];
  if (o.mediationStyle) lines.push('b=CT:1000');
  lines.push('t=0 0');
  const payloads = codecs.map((c) => c.payload);
  if (te !== null) payloads.push(te);
  lines.push(`m=audio ${o.port} RTP/AVP ${payloads.join(' ')}`);
  lines.push(`c=IN IP${ip} ${o.address}`);
  if (o.srtpOptional) {
    lines.push('a=tcap:1 RTP/SAVP');
    lines.push('a=pcfg:1 t=1');
    lines.push('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:1');
  }
  for (const c of codecs) lines.push(`a=rtpmap:${c.payload} ${c.name}/${c.rate}`);
  if (te !== null) {
    lines.push(`a=rtpmap:${te} telephone-event/8000`);
    lines.push(`a=fmtp:${te} 0-16`);
  }
  lines.push(`a=${o.direction ?? 'sendrecv'}`);
  if (o.mediationStyle) lines.push('a=ptime:20');
  return `${lines.join('\r\n')}\r\n`;
}

export class SdpError extends Error {}

export function summarize(text: string): SessionSummary {
  let s: ReturnType<typeof sdpTransform.parse>;
  try {
    s = sdpTransform.parse(text);
  } catch (err) {
    throw new SdpError(`SDP does not parse: ${(err as Error).message}`);
  }
  if (s.version === undefined || !s.origin) throw new SdpError('SDP has no v= or o= line');
  const sessionDirection = (s as { direction?: Direction }).direction;
  const media: MediaDescription[] = (s.media ?? []).map((m) => {
    const payloads = String(m.payloads ?? '')
      .split(/\s+/)
      .filter((p) => p.length > 0)
      .map(Number);
    const codecs: Codec[] = [];
    let te: number | null = null;
    for (const pt of payloads) {
      const rtp = m.rtp.find((r) => r.payload === pt);
      const name = rtp?.codec ?? (pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : pt === 18 ? 'G729' : `PT${pt}`);
      const rate = rtp?.rate ?? 8000;
      if (name.toLowerCase() === 'telephone-event') te = pt;
      else codecs.push({ payload: pt, name, rate });
    }
    return {
      type: m.type,
      port: m.port,
      protocol: m.protocol,
      payloads,
      codecs,
      direction: (m.direction as Direction | undefined) ?? sessionDirection ?? 'sendrecv',
      telephoneEvent: te,
      connection: m.connection?.ip ?? s.connection?.ip ?? null,
      crypto: (m.crypto ?? []).length > 0,
    };
  });
  return {
    origin: {
      username: s.origin.username,
      sessionId: String(s.origin.sessionId),
      sessionVersion: Number(s.origin.sessionVersion),
      address: s.origin.address,
    },
    connection: s.connection?.ip ?? null,
    media,
  };
}

export interface AnswerOptions {
  address: string;
  port: number;
  /** Codecs this side supports, in its preference order. */
  supported?: Codec[];
  /** Our telephone-event support (answer with the offerer's payload type). */
  dtmf?: boolean;
  /**
   * How to answer a hold: `proper` mirrors RFC 3264 §6.1 (inactive→inactive,
   * sendonly→recvonly), `sendrecv` always answers sendrecv (a misbehaving peer).
   */
  holdStyle?: 'proper' | 'sendrecv' | 'recvonly';
  mediationStyle?: boolean;
  sessionId?: string;
  sessionVersion?: number;
}

export type AnswerResult = { ok: true; sdp: string; codec: Codec; direction: Direction } | { ok: false; status: 488; reason: string };

function mirror(direction: Direction): Direction {
  switch (direction) {
    case 'sendonly':
      return 'recvonly';
    case 'recvonly':
      return 'sendonly';
    default:
      return direction;
  }
}

/** RFC 3264 §6: an answer with one m-line per offered one; only the first audio stream is used. */
export function buildAnswer(offerText: string, o: AnswerOptions): AnswerResult {
  let offer: SessionSummary;
  try {
    offer = summarize(offerText);
  } catch (err) {
    return { ok: false, status: 488, reason: (err as Error).message };
  }
  const supported = o.supported ?? [PCMA, PCMU];
  const ip = ipVersion(o.address);
  const lines = [
    'v=0',
    `o=- ${o.sessionId ?? String(Math.floor(Math.random() * 1e9))} ${o.sessionVersion ?? 1} IN IP${ip} ${o.address}`,
    `s=${o.mediationStyle ? 'session' : '-'}`,
    `c=IN IP${ip} ${o.address}`,
  ];
  if (o.mediationStyle) lines.push('b=CT:1000');
  lines.push('t=0 0');
  let chosen: Codec | null = null;
  let direction: Direction = 'sendrecv';
  let audioUsed = false;
  for (const m of offer.media) {
    const codec = m.type === 'audio' && !audioUsed && m.port !== 0 ? (m.codecs.find((c) => supported.some((s) => s.name.toUpperCase() === c.name.toUpperCase())) ?? null) : null;
    if (!codec) {
      // Rejected stream: port 0 with the offered format list (§6).
      lines.push(`m=${m.type} 0 ${m.protocol} ${m.payloads[0] ?? 0}`);
      continue;
    }
    audioUsed = true;
    chosen = codec;
    const offered = m.direction;
    direction = o.holdStyle === 'sendrecv' ? 'sendrecv' : o.holdStyle === 'recvonly' && offered !== 'sendrecv' ? 'recvonly' : mirror(offered);
    const payloads = [codec.payload];
    const te = o.dtmf !== false && m.telephoneEvent !== null ? m.telephoneEvent : null;
    if (te !== null) payloads.push(te);
    lines.push(`m=audio ${o.port} ${m.protocol} ${payloads.join(' ')}`);
    lines.push(`c=IN IP${ip} ${o.address}`);
    lines.push(`a=rtpmap:${codec.payload} ${codec.name}/${codec.rate}`);
    if (te !== null) {
      lines.push(`a=rtpmap:${te} telephone-event/8000`);
      lines.push(`a=fmtp:${te} 0-16`);
    }
    lines.push(`a=${direction}`);
  }
  if (!chosen) return { ok: false, status: 488, reason: 'no offered audio codec is supported' };
  return { ok: true, sdp: `${lines.join('\r\n')}\r\n`, codec: chosen, direction };
}

/** A new offer from a previous one with another direction and the o= version incremented (hold/resume, RFC 3264 §8). */
export function reoffer(previous: string, direction: Direction): string {
  const s = sdpTransform.parse(previous);
  if (s.origin) s.origin.sessionVersion = Number(s.origin.sessionVersion) + 1;
  for (const m of s.media ?? []) (m as { direction?: Direction }).direction = direction;
  delete (s as { direction?: Direction }).direction;
  return sdpTransform.write(s).replace(/\r?\n/g, '\r\n');
}

export interface AnswerProblem {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  rule: string;
}

/** Does an answer fit its offer (RFC 3264 §6)? Used by the linter and the qualification suite. */
export function checkAnswer(offerText: string, answerText: string): AnswerProblem[] {
  const problems: AnswerProblem[] = [];
  let offer: SessionSummary;
  let answer: SessionSummary;
  try {
    offer = summarize(offerText);
    answer = summarize(answerText);
  } catch (err) {
    return [{ code: 'sdp-unparsable', severity: 'error', message: (err as Error).message, rule: 'RFC 4566' }];
  }
  if (offer.media.length !== answer.media.length) {
    problems.push({
      code: 'sdp-mline-count',
      severity: 'error',
      message: `the answer has ${answer.media.length} m-lines, the offer ${offer.media.length}`,
      rule: 'RFC 3264 §6',
    });
  }
  for (let i = 0; i < Math.min(offer.media.length, answer.media.length); i++) {
    const om = offer.media[i];
    const am = answer.media[i];
    if (am.port === 0) continue;
    const notOffered = am.payloads.filter((p) => !om.payloads.includes(p));
    if (notOffered.length > 0) {
      problems.push({ code: 'sdp-codec-not-offered', severity: 'error', message: `m-line ${i + 1} answers with payload types ${notOffered.join(' ')} that were not offered`, rule: 'RFC 3264 §6.1' });
    }
    const expected = mirror(om.direction);
    if (om.direction === 'inactive' && am.direction !== 'inactive') {
      problems.push({
        code: 'sdp-hold-answered-active',
        severity: 'error',
        message: `a hold offered with a=inactive was answered with a=${am.direction}`,
        rule: 'RFC 3264 §6.1; Lync drops such calls',
      });
    } else if (om.direction === 'sendonly' && am.direction !== 'recvonly' && am.direction !== 'inactive') {
      problems.push({ code: 'sdp-hold-answered-active', severity: 'error', message: `a hold offered with a=sendonly was answered with a=${am.direction}`, rule: 'RFC 3264 §6.1' });
    } else if (om.direction === 'sendrecv' && am.direction !== expected && am.direction !== 'sendonly' && am.direction !== 'recvonly' && am.direction !== 'inactive') {
      problems.push({ code: 'sdp-direction', severity: 'warning', message: `unexpected direction a=${am.direction}`, rule: 'RFC 3264 §6.1' });
    }
  }
  return problems;
}

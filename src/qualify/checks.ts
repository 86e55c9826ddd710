/**
 * Expectations evaluated on one message from the wire: which message an
 * expectation is about (`matches`), and what it must carry (`checkMessage`):
 * status code, headers present / absent / matching, Request-URI, To tag
 * (RFC 3261 §8.2.6.2), SDP direction and codecs (RFC 3264), RFC 4733
 * telephone-event, timing from the INVITE (post-dial delay).
 */
import { type SessionSummary, summarize } from '../sdp/offer-answer.ts';
import type { SipMessage } from '../sip/message.ts';
import type { MessageChecks, MessageMatcher, SdpCheck, TimeBound } from './scenario.ts';
import { partyMatches, type WireMessage } from './wire.ts';

/** Messages a case never means unless it names them: registrations and keep-alives. */
const BACKGROUND = new Set(['REGISTER', 'OPTIONS']);

export function matches(m: WireMessage, want: MessageMatcher): boolean {
  const s = m.summary;
  if (s.retransmission || s.kind === 'invalid') return false;
  if (want.side !== 'any' && m.side !== want.side) return false;
  if (want.from !== undefined && !partyMatches(want.from, s.from, m.fromRole)) return false;
  if (want.to !== undefined && !partyMatches(want.to, s.to, m.toRole)) return false;
  if (want.request !== undefined) return s.kind === 'request' && s.method === want.request;
  if (s.kind !== 'response') return false;
  if (s.method !== (want.method ?? 'INVITE')) return false;
  return statusMatches(s.status ?? 0, want.response ?? 'any');
}

export function isBackground(m: WireMessage, want: MessageMatcher): boolean {
  const method = m.summary.method;
  return BACKGROUND.has(method) && want.request !== method && want.method !== method;
}

export function statusMatches(status: number, want: number | string): boolean {
  if (typeof want === 'number') return status === want;
  if (want === 'any') return true;
  if (want === 'provisional') return status > 100 && status < 200;
  if (want === 'final') return status >= 200;
  return Math.floor(status / 100) === Number(want[0]);
}

/** Plain words for a matcher: `183 (INVITE) from peer on the trunk`. */
export function describeMatcher(want: MessageMatcher): string {
  let what: string;
  if (want.request !== undefined) what = `${want.request} request`;
  else {
    const r = want.response ?? 'any';
    const method = want.method ?? 'INVITE';
    what = r === 'final' ? `final response to ${method}` : r === 'provisional' ? `provisional response to ${method}` : r === 'any' ? `response to ${method}` : `${r} response to ${method}`;
  }
  if (want.nth > 1) what = `${ordinal(want.nth)} ${what}`;
  const parts = [what];
  if (want.from !== undefined) parts.push(`from ${want.from}`);
  if (want.to !== undefined) parts.push(`to ${want.to}`);
  parts.push(want.side === 'trunk' ? 'on the trunk' : want.side === 'lync' ? 'on the Lync side' : 'anywhere');
  return parts.join(' ');
}

function ordinal(n: number): string {
  return n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}

export interface CheckFailure {
  expected: string;
  observed: string;
}

/** Everything that is wrong with `m` against `checks` (empty: it passes). */
export function checkMessage(m: WireMessage, checks: MessageChecks, inviteTimeUs: number | null): CheckFailure[] {
  const out: CheckFailure[] = [];
  const msg = m.message;
  if (msg === null) return [{ expected: 'a SIP message that parses', observed: m.summary.reason ?? 'unparsable bytes' }];
  if (checks.transport !== undefined && m.summary.transport !== checks.transport) {
    out.push({ expected: `over ${checks.transport.toUpperCase()}`, observed: `over ${m.summary.transport.toUpperCase()}` });
  }
  if (checks.status !== undefined && !checks.status.includes(msg.status)) {
    out.push({ expected: `status ${checks.status.join(' or ')}`, observed: `${msg.status} ${msg.reason}` });
  }
  if (checks.requestUri !== undefined && !new RegExp(checks.requestUri, 'i').test(msg.requestUri)) {
    out.push({ expected: `Request-URI matching /${checks.requestUri}/`, observed: msg.requestUri || '(none)' });
  }
  if (checks.toTag === true && !/;\s*tag\s*=/i.test(msg.get('to') ?? '')) {
    out.push({ expected: 'a tag in the To header (RFC 3261 §8.2.6.2: a UAS adds one to every response but 100)', observed: `To: ${msg.get('to') ?? '(missing)'}` });
  }
  for (const [name, want] of Object.entries(checks.headers ?? {})) {
    const values = msg.getAll(name);
    if (want === true && values.length === 0) out.push({ expected: `header ${name} present`, observed: `no ${name} header` });
    else if (want === false && values.length > 0) out.push({ expected: `no ${name} header`, observed: `${name}: ${values.join(', ')}` });
    else if (typeof want === 'string') {
      const re = new RegExp(want, 'i');
      if (!values.some((v) => re.test(v))) out.push({ expected: `${name} matching /${want}/`, observed: values.length === 0 ? `no ${name} header` : `${name}: ${values.join(', ')}` });
    }
  }
  if (checks.sdp !== undefined) out.push(...checkSdp(msg, checks.sdp));
  if (checks.sinceInviteMs !== undefined) {
    if (inviteTimeUs === null) out.push({ expected: 'an INVITE of the same Call-ID before this message', observed: 'none in the trace' });
    else {
      const ms = Math.round((m.summary.timeUs - inviteTimeUs) / 100) / 10;
      const problem = outOfBound(ms, checks.sinceInviteMs);
      if (problem !== null) out.push({ expected: `${problem} after the INVITE`, observed: `${ms} ms` });
    }
  }
  return out;
}

/** Null when `ms` is inside the bound, else the bound in words. */
export function outOfBound(ms: number, bound: TimeBound): string | null {
  if (bound.min !== undefined && ms < bound.min) return `at least ${bound.min} ms`;
  if (bound.max !== undefined && ms > bound.max) return `at most ${bound.max} ms`;
  return null;
}

function hasSdp(msg: SipMessage): boolean {
  return msg.body.length > 0 && /application\/sdp/i.test(msg.contentType ?? 'application/sdp');
}

function checkSdp(msg: SipMessage, want: SdpCheck): CheckFailure[] {
  const present = hasSdp(msg);
  if (want.present === false) return present ? [{ expected: 'no SDP body', observed: `an SDP body (${msg.body.length} bytes)` }] : [];
  if (!present) return [{ expected: 'an SDP body', observed: 'no SDP body' }];
  let s: SessionSummary;
  try {
    s = summarize(msg.bodyText);
  } catch (error) {
    return [{ expected: 'an SDP body that parses', observed: (error as Error).message }];
  }
  const audio = s.media.find((m) => m.type === 'audio');
  if (audio === undefined) return [{ expected: 'an audio m= line', observed: `m= lines: ${s.media.map((m) => m.type).join(', ') || 'none'}` }];
  const out: CheckFailure[] = [];
  if (want.direction !== undefined && audio.direction !== want.direction) {
    out.push({ expected: `a=${want.direction}`, observed: `a=${audio.direction}${audio.direction === 'sendrecv' && !/a=sendrecv/.test(msg.bodyText) ? ' (no direction attribute: sendrecv)' : ''}` });
  }
  const names = audio.codecs.map((c) => c.name.toUpperCase());
  const missing = (want.codecs ?? []).filter((c) => !names.includes(c.toUpperCase()));
  if (missing.length > 0) out.push({ expected: `codecs ${want.codecs?.join(', ')}`, observed: `m=audio offers ${names.join(', ') || 'no codec'} (missing ${missing.join(', ')})` });
  if (want.firstCodec !== undefined && names[0] !== want.firstCodec.toUpperCase()) out.push({ expected: `${want.firstCodec} first`, observed: `${names[0] ?? 'no codec'} first` });
  if (want.telephoneEvent !== undefined) {
    const te = audio.telephoneEvent;
    if (want.telephoneEvent === true && te === null) out.push({ expected: 'telephone-event (RFC 4733) in the SDP', observed: 'no a=rtpmap ... telephone-event' });
    else if (want.telephoneEvent === false && te !== null) out.push({ expected: 'no telephone-event', observed: `telephone-event on payload ${te}` });
    else if (typeof want.telephoneEvent === 'number' && te !== want.telephoneEvent) out.push({ expected: `telephone-event on payload ${want.telephoneEvent}`, observed: te === null ? 'no telephone-event' : `payload ${te}` });
  }
  if (want.telephoneEventFmtp !== undefined) {
    const te = audio.telephoneEvent;
    const fmtp = te === null ? null : (new RegExp(`^a=fmtp:${te} (.*)$`, 'm').exec(msg.bodyText)?.[1]?.trim() ?? null);
    if (fmtp !== want.telephoneEventFmtp) out.push({ expected: `a=fmtp:${te ?? 101} ${want.telephoneEventFmtp}`, observed: fmtp === null ? 'no fmtp for telephone-event' : `a=fmtp:${te} ${fmtp}` });
  }
  if (want.crypto !== undefined && audio.crypto !== want.crypto) out.push({ expected: want.crypto ? 'SRTP offered (a=crypto)' : 'no a=crypto', observed: audio.crypto ? 'a=crypto present' : 'no a=crypto' });
  return out;
}

/** The o= session version of an SDP body, or null. */
function sessionVersion(text: string): bigint | null {
  const v = /^o=\S+ \S+ (\d+) /m.exec(text)?.[1];
  return v === undefined ? null : BigInt(v);
}

/** The m= and c= lines of an SDP body: the media it sets up. */
function mediaLines(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((l) => /^[mc]=/.test(l))
    .map((l) => l.trim())
    .join(' | ');
}

/**
 * `sdp.version` and `sdp.sameMedia`: an SDP against the previous one its sender sent in the same call
 * (`previous`: its text and trace index, null when there is none).
 */
export function checkSdpHistory(text: string, previous: { text: string; index: number } | null, want: SdpCheck): CheckFailure[] {
  if (want.version === undefined && want.sameMedia !== true) return [];
  if (previous === null) return [{ expected: 'an earlier SDP from the same sender in the call, to compare with', observed: 'none' }];
  const out: CheckFailure[] = [];
  if (want.version !== undefined) {
    const before = sessionVersion(previous.text);
    const now = sessionVersion(text);
    const wanted = before === null ? null : want.version === 'same' ? before : before + 1n;
    if (now === null || wanted === null || now !== wanted) {
      const how = want.version === 'same' ? `the same as in message #${previous.index}` : `one more than ${before ?? '?'} in message #${previous.index}`;
      out.push({ expected: `o= version ${wanted ?? '?'} (${how})`, observed: `o= version ${now ?? '(none)'}` });
    }
  }
  if (want.sameMedia === true && mediaLines(text) !== mediaLines(previous.text)) {
    out.push({ expected: `the media of message #${previous.index} (${mediaLines(previous.text)})`, observed: mediaLines(text) });
  }
  return out;
}

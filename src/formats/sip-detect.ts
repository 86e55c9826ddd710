/**
 * Recognizing SIP by content, on any port (RFC 3261 §7.1-7.2, §25.1):
 *
 *   Request-Line = Method SP Request-URI SP SIP-Version CRLF
 *   Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
 *
 * A request line is accepted when the method is a token, the Request-URI
 * starts with a URI scheme (`sip:`, `sips:`, `tel:`, any `scheme:`), and the
 * line ends with ` SIP/2.0`; a status line when it starts with `SIP/2.0 `
 * and three digits. "SIP/2.0" is matched case-insensitively (ABNF literal).
 * A TCP stream may start with CRLF keep-alives (RFC 5626 §3.5.1).
 *
 * Only the first line is looked at; byte tests come first so non-SIP traffic
 * (RTP, TLS records, binary protocols) is rejected after one or two bytes.
 */

/** Longest start line looked for (long Request-URIs exist, 8 KiB is plenty). */
export const MAX_START_LINE = 8192;
/** How far into a stream caught mid-way we look for the next message start. */
export const MID_STREAM_SEARCH = 16384;

const TOKEN = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

const SIP20 = [0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30]; // "SIP/2.0"

const upper = (c: number) => (c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
const isAlpha = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** Compares `b[at..]` with "SIP/2.0" on at most `avail` bytes; true if they agree so far. */
function sip20Prefix(b: Uint8Array, at: number, avail: number): boolean {
  const n = Math.min(avail, 7);
  for (let i = 0; i < n; i++) if (upper(b[at + i]) !== SIP20[i]) return false;
  return true;
}

/**
 * Whether `b[off..end)` begins with a complete SIP start line:
 * 1 = yes, 0 = no, -1 = cannot tell yet (plausible prefix, line not complete).
 */
export function sipStartLine(b: Uint8Array, off: number, end: number): number {
  const avail = end - off;
  if (avail <= 0) return -1;
  const c0 = b[off];
  if ((c0 === 0x53 || c0 === 0x73) && sip20Prefix(b, off, avail)) {
    // Status-Line: "SIP/2.0 " 3DIGIT (SP | end of line)
    if (avail < 7) return -1;
    if (avail < 12) {
      if (avail > 7 && b[off + 7] !== 0x20) return 0;
      for (let i = 8; i < avail; i++) if (!isDigit(b[off + i])) return 0;
      return -1;
    }
    if (b[off + 7] !== 0x20 || !isDigit(b[off + 8]) || !isDigit(b[off + 9]) || !isDigit(b[off + 10])) return 0;
    const c = b[off + 11];
    return c === 0x20 || c === 0x0d || c === 0x0a ? 1 : 0;
  }
  // Request-Line: Method (token) SP scheme ":" ... SP "SIP/2.0"
  let i = off;
  const methodMax = Math.min(end, off + 32);
  while (i < methodMax && TOKEN[b[i]] === 1) i++;
  if (i === off) return 0;
  if (i === end) return i - off < 32 ? -1 : 0;
  if (b[i] !== 0x20) return 0;
  let j = i + 1;
  if (j === end) return -1;
  if (!isAlpha(b[j])) return 0;
  j++;
  const schemeMax = Math.min(end, i + 1 + 32);
  while (j < schemeMax) {
    const c = b[j];
    if (c === 0x3a) break;
    if (!(isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e)) return 0;
    j++;
  }
  if (j === end) return -1;
  if (b[j] !== 0x3a) return 0;
  const searchEnd = Math.min(end, off + MAX_START_LINE);
  const lfRel = b.subarray(j, searchEnd).indexOf(0x0a);
  if (lfRel < 0) return searchEnd === end && end - off < MAX_START_LINE ? -1 : 0;
  let e = j + lfRel;
  if (b[e - 1] === 0x0d) e--;
  if (e - 8 <= j || b[e - 8] !== 0x20) return 0;
  return sip20Prefix(b, e - 7, 7) ? 1 : 0;
}

/** A UDP payload is SIP when it starts with a complete start line. */
export function isSipDatagram(b: Uint8Array, off: number, end: number): boolean {
  return sipStartLine(b, off, end) === 1;
}

/** True when the range holds only CR/LF bytes (a keep-alive, RFC 5626 §3.5.1). */
export function isCrlfOnly(b: Uint8Array, off: number, end: number): boolean {
  if (end <= off) return false;
  for (let i = off; i < end; i++) if (b[i] !== 0x0d && b[i] !== 0x0a) return false;
  return true;
}

export type StreamVerdict = 'sip' | 'not-sip' | 'more';

export interface StreamClassification {
  verdict: StreamVerdict;
  /** For 'sip': bytes to drop before the first message (only for streams caught mid-way). */
  skip: number;
}

/**
 * Classifies the first bytes of one direction of a TCP stream.
 * @param midStream the connection's start (SYN) was not captured, so the data
 *   may begin inside a message: look for a start line at a line start.
 * @param final no more data will come (end of capture or connection).
 */
export function classifyStreamStart(b: Uint8Array, midStream: boolean, final: boolean): StreamClassification {
  const len = b.length;
  let i = 0;
  while (i < len && (b[i] === 0x0d || b[i] === 0x0a)) i++;
  if (i === len) return { verdict: final ? 'not-sip' : 'more', skip: 0 };
  const r = sipStartLine(b, i, len);
  if (r === 1) return { verdict: 'sip', skip: 0 };
  if (r === -1 && !final) return { verdict: 'more', skip: 0 };
  if (!midStream) return { verdict: 'not-sip', skip: 0 };
  const limit = Math.min(len, MID_STREAM_SEARCH);
  let p = b.subarray(0, limit).indexOf(0x0a, i);
  while (p >= 0 && p + 1 < limit) {
    const s = sipStartLine(b, p + 1, len);
    if (s === 1) return { verdict: 'sip', skip: p + 1 };
    if (s === -1 && !final) return { verdict: 'more', skip: 0 };
    p = b.subarray(0, limit).indexOf(0x0a, p + 1);
  }
  return { verdict: final || len >= MID_STREAM_SEARCH ? 'not-sip' : 'more', skip: 0 };
}

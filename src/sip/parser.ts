/**
 * The SIP message parser (RFC 3261 §7, §18.3, §25). It never throws: it returns
 * either a message, possibly with conformance diagnostics, or a failure that
 * says what is wrong and where. Structured views are left to the message's
 * lazy getters; only what every receiver needs is checked here.
 */
import { Buffer, isAscii } from 'node:buffer';
import { isToken } from './grammar.ts';
import { canonicalName, headerKey, SINGLE_VALUE_HEADERS } from './header-names.ts';
import { type CSeq, type Diagnostic, type HeaderField, SipMessage } from './message.ts';

export interface ParseOptions {
  /**
   * UDP semantics (RFC 3261 §18.3): Content-Length may be absent (the body is
   * the rest of the datagram) and octets after Content-Length are ignored.
   * Without it, the input is one framed message from a stream.
   */
  datagram?: boolean;
}

export interface ParseFailure {
  code: string;
  message: string;
  /** Byte offset in the input where parsing gave up. */
  offset: number;
}

export type ParseResult =
  | { ok: true; message: SipMessage; /** bytes of the input that belong to the message (leading CRLFs included) */ consumed: number }
  | { ok: false; error: ParseFailure };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const MAX_CSEQ = 2 ** 31 - 1;
const MAX_UINT32 = 2 ** 32 - 1;
const FOLDING = /\r?\n[ \t]+/g;
const CSEQ_RE = /^\s*(\d+)\s+(\S+)\s*$/;

/**
 * A header name as sent, recognised without cutting it out of the text: the
 * names of one spelling are the same string in every message (no slice, no
 * lower-casing, no lookup per header line), and so are their keys.
 */
interface KnownName {
  text: string;
  key: string;
  canonical: string;
}

/** Header names every SIP element sees, in their long form (compact forms are added below). */
const COMMON_NAMES = [
  'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Max-Forwards', 'Content-Type', 'Content-Length', 'Allow',
  'Supported', 'Require', 'Proxy-Require', 'Unsupported', 'User-Agent', 'Server', 'Subject', 'Route', 'Record-Route',
  'Expires', 'Min-Expires', 'Accept', 'Accept-Encoding', 'Accept-Language', 'Date', 'Timestamp', 'Session-Expires',
  'Min-SE', 'P-Asserted-Identity', 'P-Preferred-Identity', 'Privacy', 'Remote-Party-ID', 'Diversion', 'History-Info',
  'Reason', 'Warning', 'Retry-After', 'Event', 'Allow-Events', 'Subscription-State', 'Refer-To', 'Referred-By',
  'Replaces', 'RAck', 'RSeq', 'Organization', 'Priority', 'Content-Disposition', 'Content-Encoding', 'MIME-Version',
  'Authorization', 'Proxy-Authorization', 'WWW-Authenticate', 'Proxy-Authenticate', 'Authentication-Info',
  'Alert-Info', 'Call-Info', 'Error-Info', 'Path', 'Service-Route', 'P-Charging-Vector', 'P-Access-Network-Info',
  'ms-diagnostics', 'ms-diagnostics-public', 'ms-call-source', 'ms-correlation-id', 'ms-trunking-peer',
  'ms-endpoint-location-data', 'ms-client-diagnostics', 'ms-accepted-content-type', 'ms-keep-alive',
  'ms-conversation-id', 'ms-application-aor', 'ms-bypass', 'ms-media-bypass-cause', 'ms-subnet', 'ms-edge-proxy-message-trust',
  'ms-fe', 'ms-telemetry-id', 'ms-mediation-generated', 'ms-sensitivity', 'ms-asserted-verification-level',
  'ms-split-domain-info', 'ms-user-logon-data',
];
const COMPACT_NAMES = 'ifmlcsktvourbxajdyn';

/** By name length and lower-cased first character. */
const KNOWN_NAMES: Array<KnownName[] | undefined> = [];
const MAX_KNOWN_LENGTH = 40;

function addKnownName(text: string): void {
  const bucket = text.length * 128 + (text.charCodeAt(0) | 0x20);
  const list = (KNOWN_NAMES[bucket] ??= []);
  if (list.some((k) => k.text === text)) return;
  const key = headerKey(text);
  list.push({ text, key, canonical: canonicalName(key) });
}

for (const name of COMMON_NAMES) {
  const lower = name.toLowerCase();
  addKnownName(name);
  addKnownName(lower);
  addKnownName(name.toUpperCase());
  addKnownName(canonicalName(lower));
  // Title-Case per dash part (`Call-Id`, `Cseq`, `Www-Authenticate`), as many stacks write them.
  addKnownName(lower.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()));
}
for (const c of COMPACT_NAMES) {
  addKnownName(c);
  addKnownName(c.toUpperCase());
}

/** The known spelling at head[start, end), or null. */
function knownName(head: string, start: number, end: number): KnownName | null {
  const length = end - start;
  if (length === 0 || length > MAX_KNOWN_LENGTH) return null;
  const list = KNOWN_NAMES[length * 128 + (head.charCodeAt(start) | 0x20)];
  if (list === undefined) return null;
  for (let i = 0; i < list.length; i++) if (head.startsWith(list[i].text, start)) return list[i];
  return null;
}

export function asBuffer(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/** Offset just past the header section's empty line, or -1; also the separator length. */
export function findHeaderEnd(buf: Buffer, from: number): { end: number; sep: number } | null {
  const crlf = buf.indexOf(CRLFCRLF, from);
  if (crlf >= 0) {
    // A bare-LF message may still contain a CRLFCRLF later in its body; prefer the earlier LFLF.
    const lf = buf.subarray(from, crlf).indexOf(LFLF);
    if (lf >= 0) return { end: from + lf, sep: 2 };
    return { end: crlf, sep: 4 };
  }
  const lf = buf.indexOf(LFLF, from);
  return lf >= 0 ? { end: lf, sep: 2 } : null;
}

export function parseMessage(input: Uint8Array, options: ParseOptions = {}): ParseResult {
  try {
    return parseUnchecked(asBuffer(input), options.datagram === true);
  } catch (err) {
    // The parser must never throw past its API: report the bug as a failure.
    return { ok: false, error: { code: 'parser-internal', message: `internal parser error: ${(err as Error).message}`, offset: 0 } };
  }
}

function fail(code: string, message: string, offset: number): ParseResult {
  return { ok: false, error: { code, message, offset } };
}

function parseUnchecked(buf: Buffer, datagram: boolean): ParseResult {
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start === buf.length) return fail('empty', 'no SIP message: empty or only CRLF keep-alives', 0);
  const headEnd = findHeaderEnd(buf, start);
  if (headEnd === null) {
    return fail('no-header-end', 'the header section never ends: no empty line (CRLF CRLF) after the header fields', buf.length);
  }
  const diagnostics: Diagnostic[] = [];
  const head = buf.toString('latin1', start, headEnd.end);
  const ascii = isAscii(buf.subarray(start, headEnd.end));
  let bareLf = headEnd.sep === 2;

  // Start line.
  let nl = head.indexOf('\n');
  if (nl < 0) nl = head.length;
  const startLineText = head.charCodeAt(nl - 1) === 13 ? head.slice(0, nl - 1) : head.slice(0, nl);
  const sl = parseStartLine(startLineText, diagnostics, buf, start, ascii);
  if ('error' in sl) return fail(sl.code, sl.error, start);

  // Header fields, unfolded (RFC 3261 §7.3.1). Offsets are in `head`, which is `raw` read as latin1 (one char per byte).
  const headers: HeaderField[] = [];
  const headLength = head.length;
  let pos = nl + 1;
  let current: HeaderField | null = null;
  let folded = false;
  while (pos < headLength) {
    let eol = head.indexOf('\n', pos);
    if (eol < 0) eol = headLength;
    const lineEnd = head.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
    if (lineEnd === eol && eol < headLength) bareLf = true;
    const first = head.charCodeAt(pos);
    if ((first === 0x20 || first === 0x09) && current !== null) {
      current.valueEnd = lineEnd;
      folded = true;
    } else {
      if (current !== null && (folded || !ascii)) unfold(current, head, buf, start, ascii);
      folded = false;
      let colon = head.indexOf(':', pos);
      if (colon >= lineEnd) colon = -1;
      if (colon < 0) {
        const line = head.slice(pos, lineEnd);
        diagnostics.push({
          code: 'header-no-colon',
          severity: 'error',
          message: `header line without ":" (${JSON.stringify(line.slice(0, 60))})`,
          rule: 'RFC 3261 §7.3.1',
          offset: pos,
        });
        current = null;
        headers.push({ name: line, key: '', canonical: '', value: '', offset: pos, valueStart: pos, valueEnd: lineEnd });
      } else {
        let nameEnd = colon;
        while (nameEnd > pos && (head.charCodeAt(nameEnd - 1) === 0x20 || head.charCodeAt(nameEnd - 1) === 0x09)) nameEnd--;
        const known = knownName(head, pos, nameEnd);
        let name: string;
        let key: string;
        let canonical: string;
        if (known !== null) {
          name = known.text;
          key = known.key;
          canonical = known.canonical;
        } else {
          name = head.slice(pos, nameEnd);
          if (!isToken(name)) {
            diagnostics.push({
              code: 'header-name-invalid',
              severity: 'error',
              message: `header name ${JSON.stringify(name)} is not a token`,
              rule: 'RFC 3261 §25.1',
              offset: pos,
            });
          }
          key = headerKey(name);
          canonical = canonicalName(key);
        }
        let vs = colon + 1;
        while (vs < lineEnd && (head.charCodeAt(vs) === 0x20 || head.charCodeAt(vs) === 0x09)) vs++;
        let ve = lineEnd;
        while (ve > vs && (head.charCodeAt(ve - 1) === 0x20 || head.charCodeAt(ve - 1) === 0x09)) ve--;
        current = { name, key, canonical, value: head.slice(vs, ve), offset: pos, valueStart: vs, valueEnd: ve };
        headers.push(current);
      }
    }
    pos = eol + 1;
  }
  if (current !== null && (folded || !ascii)) unfold(current, head, buf, start, ascii);
  if (bareLf || (nl > 0 && nl < head.length && head.charCodeAt(nl - 1) !== 13)) {
    diagnostics.push({ code: 'bare-lf', severity: 'warning', message: 'lines end with LF instead of CRLF', rule: 'RFC 3261 §7' });
  }

  // Content-Length and the body (RFC 3261 §18.3, §20.14).
  const bodyStart = headEnd.end + headEnd.sep;
  const available = buf.length - bodyStart;
  let declared: number | null = null;
  let clCount = 0;
  let clValue = '';
  for (const h of headers) {
    if (h.key === 'content-length') {
      clCount++;
      if (clCount === 1) clValue = h.value;
    }
  }
  if (clCount > 1 || clValue.includes(',')) {
    diagnostics.push({ code: 'content-length-multiple', severity: 'error', message: 'more than one Content-Length value', rule: 'RFC 3261 §20.14, RFC 4475 §3.3.9' });
  }
  if (clCount > 0) {
    const t = clValue.split(',')[0].trim();
    if (/^\d+$/.test(t)) {
      if (t.length > 10 || Number(t) > MAX_UINT32) {
        diagnostics.push({ code: 'content-length-too-large', severity: 'error', message: `Content-Length ${t} is out of range`, rule: 'RFC 3261 §20.14' });
      } else declared = Number(t);
    } else if (t.startsWith('-')) {
      diagnostics.push({ code: 'content-length-negative', severity: 'error', message: `negative Content-Length ${t}`, rule: 'RFC 3261 §20.14, RFC 4475 §3.1.2.3' });
    } else {
      diagnostics.push({ code: 'content-length-invalid', severity: 'error', message: `Content-Length ${JSON.stringify(t)} is not a number`, rule: 'RFC 3261 §20.14' });
    }
  }
  let bodyLength: number;
  if (declared === null) {
    bodyLength = available;
    if (clCount === 0 && !datagram) {
      diagnostics.push({ code: 'content-length-missing', severity: 'error', message: 'no Content-Length on a stream transport', rule: 'RFC 3261 §18.3' });
    }
  } else if (declared > available) {
    bodyLength = available;
    diagnostics.push({
      code: 'content-length-exceeds',
      severity: 'error',
      message: `Content-Length ${declared} is larger than the ${available} body octets received`,
      rule: 'RFC 3261 §18.3, RFC 4475 §3.1.2.2',
    });
  } else {
    bodyLength = declared;
    if (declared < available) {
      const extra = available - declared;
      diagnostics.push({
        code: datagram ? 'octets-after-body' : 'content-length-short',
        severity: datagram ? 'info' : 'error',
        message: datagram
          ? `${extra} octets after the Content-Length body were ignored`
          : `Content-Length ${declared} is shorter than the ${available} body octets framed`,
        rule: 'RFC 3261 §18.3',
      });
    }
  }
  const end = bodyStart + bodyLength;
  const raw = buf.subarray(start, end);

  const cseq = checkHeaders(sl, headers, diagnostics);

  let method = sl.method;
  if (sl.kind === 'response') method = cseq?.method ?? '';
  const message = new SipMessage({
    raw,
    kind: sl.kind,
    method,
    requestUri: sl.requestUri,
    version: sl.version,
    status: sl.status,
    reason: sl.reason,
    headers,
    body: raw.subarray(bodyStart - start),
    bodyOffset: bodyStart - start,
    diagnostics,
    cseq,
  });
  return { ok: true, message, consumed: end };
}

/** The value of a folded or non-ASCII header field: continuation lines joined with one space, UTF-8 decoded. */
function unfold(h: HeaderField, head: string, buf: Buffer, start: number, ascii: boolean): void {
  const raw = ascii ? head.slice(h.valueStart, h.valueEnd) : buf.toString('utf8', start + h.valueStart, start + h.valueEnd);
  h.value = raw.replace(FOLDING, ' ').trim();
}

function firstValue(headers: HeaderField[], key: string): string | undefined {
  for (const h of headers) if (h.key === key) return h.value;
  return undefined;
}

interface StartLine {
  kind: 'request' | 'response';
  method: string;
  requestUri: string;
  version: string;
  status: number;
  reason: string;
}

function parseStartLine(
  line: string,
  diagnostics: Diagnostic[],
  buf: Buffer,
  start: number,
  ascii: boolean,
): StartLine | { error: string; code: string } {
  if (/^SIP\//i.test(line)) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §25.1)
    const sp1 = line.indexOf(' ');
    if (sp1 < 0) return { code: 'status-line-invalid', error: `status line ${JSON.stringify(line)} has no status code` };
    const version = line.slice(0, sp1);
    const sp2 = line.indexOf(' ', sp1 + 1);
    const codeText = sp2 < 0 ? line.slice(sp1 + 1) : line.slice(sp1 + 1, sp2);
    let reason = sp2 < 0 ? '' : line.slice(sp2 + 1);
    if (!ascii && reason.length > 0) {
      const lineBytes = buf.toString('utf8', start, start + Buffer.byteLength(line, 'latin1'));
      const i2 = lineBytes.indexOf(' ', lineBytes.indexOf(' ') + 1);
      reason = i2 < 0 ? '' : lineBytes.slice(i2 + 1);
    }
    let status = 0;
    if (/^\d{3}$/.test(codeText) && Number(codeText) >= 100) status = Number(codeText);
    else {
      diagnostics.push({
        code: 'status-code-invalid',
        severity: 'error',
        message: `status code ${JSON.stringify(codeText.slice(0, 20))} is not three digits from 100 to 699`,
        rule: 'RFC 3261 §7.2, RFC 4475 §3.1.2.19',
      });
    }
    if (sp2 < 0 && status !== 0) {
      diagnostics.push({ code: 'status-line-no-reason-sp', severity: 'warning', message: 'status line has no SP before the (empty) reason phrase', rule: 'RFC 3261 §25.1' });
    }
    checkVersion(version, diagnostics);
    return { kind: 'response', method: '', requestUri: '', version, status, reason };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §25.1)
  const fast = wellFormedRequestLine(line);
  if (fast !== null) return fast;
  let text = line;
  if (/[ \t]+$/.test(text)) {
    diagnostics.push({ code: 'request-line-trailing-space', severity: 'error', message: 'whitespace at the end of the request line', rule: 'RFC 3261 §25.1, RFC 4475 §3.1.2.10' });
    text = text.replace(/[ \t]+$/, '');
  }
  if (/^[ \t]/.test(text)) {
    diagnostics.push({ code: 'request-line-leading-space', severity: 'error', message: 'whitespace at the start of the request line', rule: 'RFC 3261 §25.1' });
    text = text.replace(/^[ \t]+/, '');
  }
  let parts: string[];
  if (/ {2,}|\t/.test(text)) {
    diagnostics.push({
      code: 'request-line-extra-space',
      severity: 'error',
      message: 'request line elements are separated by more than one SP',
      rule: 'RFC 3261 §25.1, RFC 4475 §3.1.2.9',
    });
    parts = text.split(/[ \t]+/);
  } else parts = text.split(' ');
  if (parts.length < 3) {
    return { code: 'not-sip', error: `first line ${JSON.stringify(line.slice(0, 80))} is neither a SIP request line nor a status line` };
  }
  const method = parts[0];
  const version = parts[parts.length - 1];
  let requestUri = parts.slice(1, -1).join(' ');
  if (!isToken(method)) {
    if (!/^SIP\/|^[A-Za-z]/.test(version) || !/^SIP\//i.test(version)) {
      return { code: 'not-sip', error: `first line ${JSON.stringify(line.slice(0, 80))} is neither a SIP request line nor a status line` };
    }
    diagnostics.push({ code: 'method-invalid', severity: 'error', message: `method ${JSON.stringify(method)} is not a token`, rule: 'RFC 3261 §25.1' });
  }
  if (parts.length > 3) {
    diagnostics.push({
      code: 'request-uri-whitespace',
      severity: 'error',
      message: `whitespace inside the Request-URI ${JSON.stringify(requestUri)}`,
      rule: 'RFC 3261 §25.1, RFC 4475 §3.1.2.8',
    });
  }
  if (requestUri.startsWith('<')) {
    diagnostics.push({
      code: 'request-uri-brackets',
      severity: 'error',
      message: 'the Request-URI is enclosed in "<>"',
      rule: 'RFC 3261 §25.1, RFC 4475 §3.1.2.7',
    });
    requestUri = requestUri.replace(/^<|>$/g, '');
  } else if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(requestUri)) {
    diagnostics.push({ code: 'request-uri-invalid', severity: 'error', message: `Request-URI ${JSON.stringify(requestUri)} has no scheme`, rule: 'RFC 3261 §25.1' });
  }
  checkVersion(version, diagnostics);
  return { kind: 'request', method, requestUri, version, status: 0, reason: '' };
}

const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'UPDATE', 'INFO', 'REFER', 'NOTIFY', 'SUBSCRIBE', 'MESSAGE', 'PUBLISH'];
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const SIP_2_0 = 'SIP/2.0';

/**
 * The request line of nearly every message: `METHOD SP URI SP SIP/2.0`, single
 * spaces, a token method, a URI with a scheme. Null for anything else, which
 * the general path then reads and explains.
 */
function wellFormedRequestLine(line: string): StartLine | null {
  const sp1 = line.indexOf(' ');
  const sp2 = line.length - 8;
  if (sp1 <= 0 || sp2 <= sp1 + 1 || line.charCodeAt(sp2) !== 0x20 || !line.endsWith(SIP_2_0)) return null;
  if (line.indexOf(' ', sp1 + 1) !== sp2 || line.indexOf('\t') >= 0) return null;
  let method: string | undefined;
  for (let i = 0; i < METHODS.length; i++) {
    const m = METHODS[i];
    if (m.length === sp1 && line.startsWith(m)) {
      method = m;
      break;
    }
  }
  if (method === undefined) {
    method = line.slice(0, sp1);
    if (!isToken(method)) return null;
  }
  const requestUri = line.slice(sp1 + 1, sp2);
  if (!URI_SCHEME.test(requestUri)) return null;
  return { kind: 'request', method, requestUri, version: SIP_2_0, status: 0, reason: '' };
}

function checkVersion(version: string, diagnostics: Diagnostic[]): void {
  if (version === 'SIP/2.0') return;
  if (/^SIP\/\d+\.\d+$/i.test(version) && version.toUpperCase() !== 'SIP/2.0') {
    diagnostics.push({
      code: 'version-unsupported',
      severity: 'error',
      message: `protocol version ${version} is not supported (SIP/2.0 expected)`,
      rule: 'RFC 3261 §8.2.2 (505), RFC 4475 §3.1.2.16',
    });
  } else if (version.toUpperCase() === 'SIP/2.0') {
    diagnostics.push({ code: 'version-case', severity: 'warning', message: `protocol version written ${version}`, rule: 'RFC 3261 §7.1' });
  } else {
    diagnostics.push({ code: 'version-invalid', severity: 'error', message: `protocol version ${JSON.stringify(version)} is malformed`, rule: 'RFC 3261 §25.1' });
  }
}

/** Required in requests (§8.1.1) and responses (§8.2.6.2); Max-Forwards is checked apart (RFC 2543 peers omit it). */
const REQUIRED = ['to', 'from', 'cseq', 'call-id', 'via'];
const REQUIRED_BITS: Record<string, number> = { to: 1, from: 2, cseq: 4, 'call-id': 8, via: 16 };
const ALL_REQUIRED = 31;
const ERROR_IF_REPEATED = new Set(['call-id', 'cseq', 'from', 'to', 'max-forwards', 'content-type']);

/**
 * Checks every receiver needs: required fields, single-value fields, scalar
 * ranges, CSeq method. Returns the CSeq, parsed on the way (null when absent
 * or malformed), for the message to keep.
 */
function checkHeaders(sl: StartLine, headers: HeaderField[], diagnostics: Diagnostic[]): CSeq | null {
  let present = 0; // bit per REQUIRED key
  let hasMaxForwards = false;
  let repeated: Map<string, number> | null = null;
  let seen: Set<string> | null = null;
  for (const h of headers) {
    const key = h.key;
    const bit = REQUIRED_BITS[key];
    if (bit !== undefined) {
      // Via may repeat (one line per hop); the others allow one value.
      if (present & bit && key !== 'via') (repeated ??= new Map()).set(key, (repeated.get(key) ?? 1) + 1);
      present |= bit;
      continue;
    }
    if (key === 'max-forwards') {
      if (hasMaxForwards) (repeated ??= new Map()).set(key, (repeated.get(key) ?? 1) + 1);
      hasMaxForwards = true;
      continue;
    }
    if (key !== 'content-length' && SINGLE_VALUE_HEADERS.has(key)) {
      seen ??= new Set();
      if (seen.has(key)) (repeated ??= new Map()).set(key, (repeated.get(key) ?? 1) + 1);
      seen.add(key);
    }
  }
  if (present !== ALL_REQUIRED) {
    const missing = REQUIRED.filter((k) => !(present & REQUIRED_BITS[k])).map(canonicalName);
    diagnostics.push({
      code: 'missing-required-header',
      severity: 'error',
      message: `missing required header field${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
      rule: sl.kind === 'request' ? 'RFC 3261 §8.1.1, RFC 4475 §3.3.1' : 'RFC 3261 §8.2.6.2',
    });
  }
  if (sl.kind === 'request' && !hasMaxForwards) {
    diagnostics.push({ code: 'missing-max-forwards', severity: 'warning', message: 'no Max-Forwards (RFC 2543 style request)', rule: 'RFC 3261 §8.1.1.6' });
  }
  if (repeated !== null) {
    for (const [key, n] of repeated) {
      diagnostics.push({
        code: 'header-repeated',
        severity: ERROR_IF_REPEATED.has(key) ? 'error' : 'warning',
        message: `${canonicalName(key)} appears ${n} times but allows one value`,
        rule: 'RFC 3261 §7.3.1, RFC 4475 §3.3.8',
      });
    }
  }
  const cseqText = firstValue(headers, 'cseq');
  let cseq: CSeq | null = null;
  if (cseqText !== undefined) {
    const m = CSEQ_RE.exec(cseqText);
    if (!m) {
      diagnostics.push({ code: 'cseq-invalid', severity: 'error', message: `CSeq ${JSON.stringify(cseqText)} is not "number method"`, rule: 'RFC 3261 §20.16' });
    } else {
      if (m[1].length > 10 || Number(m[1]) > MAX_CSEQ) {
        diagnostics.push({ code: 'cseq-too-large', severity: 'error', message: `CSeq number ${m[1]} is not below 2**31`, rule: 'RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.4' });
      }
      if (sl.kind === 'request' && m[2] !== sl.method) {
        diagnostics.push({
          code: 'cseq-method-mismatch',
          severity: 'error',
          message: `CSeq method ${m[2]} differs from the request method ${sl.method}`,
          rule: 'RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.17',
        });
      }
      cseq = { seq: Number(m[1]), method: m[2] };
    }
  }
  const mf = firstValue(headers, 'max-forwards');
  if (mf !== undefined && (!/^\d{1,10}$/.test(mf) || Number(mf) > 255)) {
    diagnostics.push({ code: 'max-forwards-invalid', severity: 'error', message: `Max-Forwards ${JSON.stringify(mf.slice(0, 30))} is not 0-255`, rule: 'RFC 3261 §20.22, RFC 4475 §3.1.2.4' });
  }
  for (const h of headers) {
    if ((h.key === 'expires' || h.key === 'min-expires') && (!/^\d{1,10}$/.test(h.value) || Number(h.value) > MAX_UINT32)) {
      diagnostics.push({ code: 'expires-invalid', severity: 'error', message: `${h.canonical} ${JSON.stringify(h.value.slice(0, 30))} is not a 32-bit delta-seconds`, rule: 'RFC 3261 §20.19, RFC 4475 §3.1.2.4', offset: h.offset });
    } else if (h.key === 'retry-after' && !/^\d{1,10}(\s|;|\(|$)/.test(h.value)) {
      diagnostics.push({ code: 'retry-after-invalid', severity: 'error', message: `Retry-After ${JSON.stringify(h.value.slice(0, 30))} is not a 32-bit delta-seconds`, rule: 'RFC 3261 §20.33, RFC 4475 §3.1.2.5', offset: h.offset });
    } else if (h.key === 'warning' && !/^\d{3}\s/.test(h.value)) {
      diagnostics.push({ code: 'warning-code-invalid', severity: 'error', message: `Warning code in ${JSON.stringify(h.value.slice(0, 30))} is not three digits`, rule: 'RFC 3261 §20.43, RFC 4475 §3.1.2.5', offset: h.offset });
    }
  }
  return cseq;
}

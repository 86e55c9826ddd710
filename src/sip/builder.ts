/**
 * Building messages to send: an ordered list of header fields, a body as
 * bytes, and Content-Length computed from the body's byte length unless the
 * caller asks to keep a deliberately wrong one (fault injection). For bytes
 * that are not a message at all, the transports have a raw send.
 */
import { Buffer } from 'node:buffer';
import { headerKey } from './header-names.ts';
import type { SipMessage } from './message.ts';

export interface OutgoingHeader {
  name: string;
  value: string;
}

/**
 * True when a header name as written (`Via`, `v`, `CONTENT-LENGTH`) is the
 * header `key` (lower-case long form), without building a lower-cased copy
 * per comparison: the builder's lookups run over every header of every
 * message sent.
 */
export function isHeader(name: string, key: string): boolean {
  const n = name.length;
  if (n === 1) return key.length === 1 ? (name.charCodeAt(0) | 0x20) === key.charCodeAt(0) : headerKey(name) === key;
  if (n !== key.length) return false;
  if (name === key) return true;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== key.charCodeAt(i)) return false;
  }
  return true;
}

export class OutgoingMessage {
  kind: 'request' | 'response';
  method: string;
  requestUri: string;
  status: number;
  reason: string;
  version = 'SIP/2.0';
  headers: OutgoingHeader[];
  body: Uint8Array;
  /** Leave Content-Length as set by the caller (or absent) instead of computing it. */
  keepContentLength = false;

  constructor(kind: 'request' | 'response', method: string, requestUri: string, status: number, reason: string) {
    this.kind = kind;
    this.method = method;
    this.requestUri = requestUri;
    this.status = status;
    this.reason = reason;
    this.headers = [];
    this.body = new Uint8Array(0);
  }

  static request(method: string, requestUri: string): OutgoingMessage {
    return new OutgoingMessage('request', method, requestUri, 0, '');
  }

  static response(status: number, reason: string): OutgoingMessage {
    return new OutgoingMessage('response', '', '', status, reason);
  }

  /** A mutable copy of a received message (proxying, B2BUA legs, replay). Header order and names are kept. */
  static from(msg: SipMessage): OutgoingMessage {
    const out = new OutgoingMessage(msg.kind, msg.method, msg.requestUri, msg.status, msg.reason);
    out.version = msg.version;
    for (const h of msg.headers) if (h.key) out.headers.push({ name: h.name, value: h.value });
    out.body = msg.body;
    return out;
  }

  get(name: string): string | undefined {
    const key = headerKey(name);
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) if (isHeader(headers[i].name, key)) return headers[i].value;
    return undefined;
  }

  getAll(name: string): string[] {
    const key = headerKey(name);
    return this.headers.filter((h) => isHeader(h.name, key)).map((h) => h.value);
  }

  append(name: string, value: string): this {
    this.headers.push({ name, value });
    return this;
  }

  /** Inserts before the first header of the same name, or at the top (Via, Record-Route). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => isHeader(h.name, key));
    this.headers.splice(idx < 0 ? 0 : idx, 0, { name, value });
    return this;
  }

  /** Replaces every value of a header with one, at the position of the first (or appended). */
  set(name: string, value: string): this {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => isHeader(h.name, key));
    if (idx < 0) return this.append(name, value);
    this.headers[idx] = { name: this.headers[idx].name, value };
    this.headers = this.headers.filter((h, i) => i === idx || !isHeader(h.name, key));
    return this;
  }

  remove(name: string): this {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => !isHeader(h.name, key));
    return this;
  }

  /** Removes the first value of a header (top Via on a response going upstream). */
  removeFirst(name: string): this {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => isHeader(h.name, key));
    if (idx >= 0) this.headers.splice(idx, 1);
    return this;
  }

  setBody(body: Uint8Array | string, contentType?: string): this {
    this.body = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    if (contentType) this.set('Content-Type', contentType);
    else if (this.body.length === 0) this.remove('Content-Type');
    return this;
  }

  get startLine(): string {
    return this.kind === 'request' ? `${this.method} ${this.requestUri} ${this.version}` : `${this.version} ${this.status} ${this.reason}`;
  }

  /** Serializes; Content-Length is set to the body's byte length unless `keepContentLength`. */
  toBytes(): Buffer {
    const body = this.body;
    const keep = this.keepContentLength;
    const headers = this.headers;
    let head = `${this.startLine}\r\n`;
    let hasCl = false;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i];
      if (!keep && (h.name.length === 14 || h.name.length === 1) && isHeader(h.name, 'content-length')) {
        if (hasCl) continue;
        hasCl = true;
        head += `${h.name}: ${body.length}\r\n`;
        continue;
      }
      head += `${h.name}: ${h.value}\r\n`;
    }
    if (!hasCl && !keep) head += `Content-Length: ${body.length}\r\n`;
    head += '\r\n';
    if (body.length === 0) return Buffer.from(head, 'utf8');
    // One buffer for both: the header section written in place, the body copied after it.
    const headLength = Buffer.byteLength(head, 'utf8');
    const out = Buffer.allocUnsafe(headLength + body.length);
    out.write(head, 0, headLength, 'utf8');
    out.set(body, headLength);
    return out;
  }
}

/**
 * A response to a request, per RFC 3261 §8.2.6.2: Via (all, in order), From,
 * To (with a tag added when given and absent), Call-ID and CSeq copied;
 * Record-Route copied for responses to dialog-creating requests (§12.1.1).
 */
export function responseTo(request: SipMessage, status: number, reason: string, toTag?: string): OutgoingMessage {
  const res = OutgoingMessage.response(status, reason);
  for (const h of request.headers) {
    switch (h.key) {
      case 'via':
      case 'from':
      case 'call-id':
      case 'cseq':
        res.append(h.name, h.value);
        break;
      case 'to': {
        // Only header parameters count: a `tag` URI parameter inside <> is not a To tag.
        const params = h.value.slice(h.value.lastIndexOf('>') + 1);
        res.append(h.name, toTag && !/;\s*tag\s*=/i.test(params) ? `${h.value};tag=${toTag}` : h.value);
        break;
      }
      case 'record-route':
        if (status > 100 && status < 300) res.append(h.name, h.value);
        break;
      default:
        break;
    }
  }
  return res;
}

export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required',
  422: 'Session Interval Too Small', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete', 486: 'Busy Here', 487: 'Request Terminated',
  488: 'Not Acceptable Here', 491: 'Request Pending', 500: 'Server Internal Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Server Time-out', 505: 'Version Not Supported',
  513: 'Message Too Large', 600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Progress' : status < 300 ? 'OK' : 'Error');
}

let counter = 0;
const runId = Math.floor(Math.random() * 0x7fffffff).toString(36);

/** A fresh RFC 3261 branch (magic cookie + unique id). */
export function newBranch(): string {
  counter = (counter + 1) >>> 0;
  return `z9hG4bK${runId}${counter.toString(36)}`;
}

/** A fresh tag (§19.3: at least 32 bits of randomness; uniqueness within the run is what matters here). */
export function newTag(): string {
  counter = (counter + 1) >>> 0;
  return `${runId}${counter.toString(36)}${Math.floor(Math.random() * 0xffff).toString(36)}`;
}

export function newCallId(host: string): string {
  counter = (counter + 1) >>> 0;
  return `${runId}-${counter.toString(36)}-${Math.floor(Math.random() * 0xffffffff).toString(36)}@${host}`;
}

/**
 * The SIP message model (RFC 3261 §7). A parsed message keeps the exact bytes
 * it was read from; header fields keep wire order, the name as sent and byte
 * offsets; structured views (Via, CSeq, From/To, Contact, ...) are computed on
 * first use and cached.
 */
import { getParam } from './grammar.ts';
import { type NameAddr, parseNameAddr, parseNameAddrList } from './name-addr.ts';
import { parseUri, type SipUri } from './uri.ts';
import { parseVia, parseViaList, type Via } from './via.ts';

export type Severity = 'error' | 'warning' | 'info';

/** A conformance finding about one message. */
export interface Diagnostic {
  /** Stable identifier, e.g. `content-length-mismatch`. */
  code: string;
  severity: Severity;
  /** What is wrong, in words an engineer reads in a bug report. */
  message: string;
  /** Where the rule comes from: an RFC section or a Lync trunk behaviour. */
  rule: string;
  /** Byte offset in the raw message where the problem is, when known. */
  offset?: number;
}

/** One header field line (after unfolding), in wire order. */
export interface HeaderField {
  /** The name exactly as sent (`v`, `CONTACT`, `Call-Id`). */
  name: string;
  /** Lower-case long form used for lookups (`via`, `contact`, `call-id`). */
  key: string;
  /** Canonical spelling (`Via`, `Contact`, `Call-ID`). */
  canonical: string;
  /** Value with leading/trailing whitespace removed and folding replaced by one space. */
  value: string;
  /** Byte offset of the name in `raw`. */
  offset: number;
  /** Byte offsets of the value in `raw` (end exclusive, before the line's CRLF). */
  valueStart: number;
  valueEnd: number;
}

export interface CSeq {
  seq: number;
  method: string;
}

export class SipMessage {
  /** The exact bytes of this message (start line to end of body). */
  readonly raw: Uint8Array;
  readonly kind: 'request' | 'response';
  /** Request method as sent; for a response, the CSeq method (or '' if none). */
  readonly method: string;
  /** Request-URI as sent ('' for responses). */
  readonly requestUri: string;
  readonly version: string;
  /** Status code for responses, 0 for requests. */
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly HeaderField[];
  readonly body: Uint8Array;
  /** Byte offset of the body in `raw`. */
  readonly bodyOffset: number;
  /** Diagnostics found while parsing (the linter adds deeper ones). */
  readonly diagnostics: Diagnostic[];

  #vias: Via[] | undefined;
  #topVia: Via | null | undefined;
  #cseq: CSeq | null | undefined;
  #from: NameAddr | null | undefined;
  #to: NameAddr | null | undefined;
  #ruri: SipUri | null | undefined;

  constructor(init: {
    raw: Uint8Array;
    kind: 'request' | 'response';
    method: string;
    requestUri: string;
    version: string;
    status: number;
    reason: string;
    headers: HeaderField[];
    body: Uint8Array;
    bodyOffset: number;
    diagnostics: Diagnostic[];
    /** The CSeq when the parser has read it already (undefined: read on first use). */
    cseq?: CSeq | null;
  }) {
    this.raw = init.raw;
    this.kind = init.kind;
    this.method = init.method;
    this.requestUri = init.requestUri;
    this.version = init.version;
    this.status = init.status;
    this.reason = init.reason;
    this.headers = init.headers;
    this.body = init.body;
    this.bodyOffset = init.bodyOffset;
    this.diagnostics = init.diagnostics;
    this.#cseq = init.cseq;
  }

  get isRequest(): boolean {
    return this.kind === 'request';
  }

  get isResponse(): boolean {
    return this.kind === 'response';
  }

  /** First value of a header (key: lower-case long form or any spelling). */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    for (const h of this.headers) if (h.key === key) return h.value;
    return undefined;
  }

  /** All values of a header, in wire order (one entry per header line). */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    const out: string[] = [];
    for (const h of this.headers) if (h.key === key) out.push(h.value);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  count(name: string): number {
    const key = name.toLowerCase();
    let n = 0;
    for (const h of this.headers) if (h.key === key) n++;
    return n;
  }

  get startLine(): string {
    return this.kind === 'request' ? `${this.method} ${this.requestUri} ${this.version}` : `${this.version} ${this.status} ${this.reason}`;
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  /** All Via entries (comma lists expanded), top first. */
  get vias(): Via[] {
    if (this.#vias === undefined) this.#vias = parseViaList(this.getAll('via'));
    return this.#vias;
  }

  /** The top Via; only the first Via line is parsed (proxied requests carry many). */
  get topVia(): Via | undefined {
    if (this.#vias !== undefined) return this.#vias[0];
    if (this.#topVia === undefined) {
      const v = this.get('via');
      // One Via per line is the rule; a comma list goes the long way (quotes, empty elements).
      if (v === undefined) this.#topVia = null;
      else if (v.length > 0 && v.indexOf(',') < 0) this.#topVia = parseVia(v);
      else this.#topVia = parseViaList([v])[0] ?? null;
    }
    return this.#topVia ?? undefined;
  }

  get cseq(): CSeq | null {
    if (this.#cseq === undefined) this.#cseq = parseCSeq(this.get('cseq'));
    return this.#cseq;
  }

  get from(): NameAddr | null {
    if (this.#from === undefined) {
      const v = this.get('from');
      this.#from = v === undefined ? null : parseNameAddr(v);
    }
    return this.#from;
  }

  get to(): NameAddr | null {
    if (this.#to === undefined) {
      const v = this.get('to');
      this.#to = v === undefined ? null : parseNameAddr(v);
    }
    return this.#to;
  }

  get fromTag(): string | null {
    const f = this.from;
    return f ? (getParam(f.params, 'tag') ?? null) : null;
  }

  get toTag(): string | null {
    const t = this.to;
    return t ? (getParam(t.params, 'tag') ?? null) : null;
  }

  get requestUriParsed(): SipUri | null {
    if (this.#ruri === undefined) this.#ruri = this.kind === 'request' ? parseUri(this.requestUri) : null;
    return this.#ruri;
  }

  /** Contact entries (comma lists expanded). */
  get contacts(): NameAddr[] {
    return this.getAll('contact').flatMap(parseNameAddrList);
  }

  nameAddrs(name: string): NameAddr[] {
    return this.getAll(name).flatMap(parseNameAddrList);
  }

  get maxForwards(): number | null {
    return parseDecimal(this.get('max-forwards'));
  }

  get contentLength(): number | null {
    return parseDecimal(this.get('content-length'));
  }

  /** Media type without parameters, lower-case (`application/sdp`). */
  get contentType(): string | null {
    const v = this.get('content-type');
    if (v === undefined) return null;
    const semi = v.indexOf(';');
    return (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
  }

  /** Comma-separated option tags of Require, Supported, Proxy-Require, Allow, ... */
  tokens(name: string): string[] {
    const out: string[] = [];
    for (const v of this.getAll(name)) {
      for (const t of v.split(',')) {
        const s = t.trim();
        if (s.length > 0) out.push(s);
      }
    }
    return out;
  }

  get bodyText(): string {
    return Buffer.from(this.body.buffer, this.body.byteOffset, this.body.byteLength).toString('utf8');
  }

  /** The raw message as text (latin1 keeps every byte visible one-to-one). */
  get rawText(): string {
    return Buffer.from(this.raw.buffer, this.raw.byteOffset, this.raw.byteLength).toString('latin1');
  }

  /** Short summary for lists and ladders: method or `status reason`. */
  get label(): string {
    return this.kind === 'request' ? this.method : `${this.status} ${this.reason}`.trim();
  }

  hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === 'error');
  }
}

export function parseCSeq(value: string | undefined): CSeq | null {
  if (value === undefined) return null;
  const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(value);
  if (!m) return null;
  return { seq: Number(m[1]), method: m[2] };
}

/** A decimal that fits in a safe integer, or null. */
export function parseDecimal(value: string | undefined): number | null {
  if (value === undefined) return null;
  const t = value.trim();
  if (!/^\d{1,15}$/.test(t)) return null;
  return Number(t);
}

/**
 * Stream framing (RFC 3261 §18.3): on TCP and TLS a message ends where its
 * Content-Length says. Keep-alive CRLFs between messages (RFC 5626 §3.5.1)
 * are skipped and reported; several messages in one read and one message over
 * many reads are both normal. Content-Length counts bytes, not characters.
 *
 * One framer for every stream Trunklab reads: the transport's connections,
 * the trace store's live and imported streams (src/trace/wire-event.ts), the
 * staging of opened files (src/engine/staging.ts), the tests' captures.
 */
import { Buffer } from 'node:buffer';
import { findHeaderEnd } from './parser.ts';

export type FramedItem =
  | { kind: 'message'; bytes: Buffer }
  | { kind: 'keepalive'; bytes: Buffer }
  /** Bytes that can never become a message (e.g. a header section with no usable Content-Length); the framer resyncs after them. */
  | { kind: 'garbage'; bytes: Buffer; reason: string };

export interface StreamFramerOptions {
  /** Largest header section accepted before the stream is declared broken (default 64 KiB). */
  maxHeaderBytes?: number;
  /** Largest body accepted (default 16 MiB). */
  maxBodyBytes?: number;
  /**
   * The caller never reuses or changes the bytes it pushes (a file read into
   * memory, a socket's read buffer): items that lie whole in one pushed chunk
   * are views of it, not copies. Default false: every item is a copy of its own.
   */
  views?: boolean;
}

const DEFAULT_MAX_HEADER = 64 * 1024;
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
const CONTENT_LENGTH = 'content-length';

/** Blanks that end a Content-Length value (what `\s` matches in one byte of latin1 text). */
function isBlank(d: number): boolean {
  return d === 0x20 || (d >= 0x09 && d <= 0x0d) || d === 0x85 || d === 0xa0;
}

/**
 * The body length a header section `b[start, end)` announces: the first line
 * that starts `Content-Length` or `l` (any case), optional blanks, a colon,
 * optional blanks, then a run of non-blanks that must be digits (otherwise,
 * or above `maxBody`, 0: the message is passed on bodiless and the parser
 * explains it). Read from the bytes, without making a string of the header.
 */
export function announcedBodyLength(b: Uint8Array, start: number, end: number, maxBody = DEFAULT_MAX_BODY): number {
  let line = start;
  while (line < end) {
    let p = line;
    let named = false;
    const c = b[p]! | 0x20;
    if (c === 0x63 /* c */ && p + CONTENT_LENGTH.length <= end) {
      let k = 1;
      while (k < CONTENT_LENGTH.length && (b[p + k]! | 0x20) === CONTENT_LENGTH.charCodeAt(k)) k++;
      if (k === CONTENT_LENGTH.length) {
        p += k;
        named = true;
      }
    } else if (c === 0x6c /* l */) {
      p += 1;
      named = true;
    }
    if (named) {
      while (p < end && (b[p] === 0x20 || b[p] === 0x09)) p++;
      if (p < end && b[p] === 0x3a) {
        p++;
        while (p < end && (b[p] === 0x20 || b[p] === 0x09)) p++;
        let value = 0;
        let digits = 0;
        let other = false;
        while (p < end) {
          const d = b[p]!;
          if (isBlank(d)) break;
          if (d >= 0x30 && d <= 0x39) {
            value = value * 10 + (d - 0x30);
            digits++;
          } else other = true;
          p++;
        }
        return other || digits === 0 || value > maxBody ? 0 : value;
      }
    }
    // Next line (a line starts after LF or CR).
    while (p < end && b[p] !== 0x0a && b[p] !== 0x0d) p++;
    line = p + 1;
  }
  return 0;
}

export class StreamFramer {
  /** Unframed bytes: chunks kept as received, joined only when there is enough to frame. */
  #chunks: Buffer[] = [];
  #pendingLength = 0;
  /** Bytes needed before framing can progress (a known message end, or 0: look now). */
  #need = 0;
  readonly #maxHeader: number;
  readonly #maxBody: number;
  readonly #views: boolean;

  constructor(options: StreamFramerOptions = {}) {
    this.#maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.#views = options.views === true;
  }

  /** Bytes buffered but not yet framed. */
  get pendingBytes(): number {
    return this.#pendingLength;
  }

  /** Feeds one read; returns every item completed by it, in order. */
  push(chunk: Uint8Array): FramedItem[] {
    if (chunk.byteLength === 0) return [];
    if (this.#pendingLength + chunk.byteLength < this.#need) {
      // The rest of a body whose length is known: keep a copy (the caller may reuse its buffer), join nothing yet.
      this.#chunks.push(Buffer.from(chunk));
      this.#pendingLength += chunk.byteLength;
      return [];
    }
    const view = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const owned = this.#chunks.length > 0;
    const buf = owned ? Buffer.concat([...this.#chunks, view], this.#pendingLength + view.length) : view;
    // A joined buffer is ours: its items can be views of it. The caller's chunk only when it says so.
    const share = owned || this.#views;
    const out: FramedItem[] = [];
    let pos = 0;
    this.#need = 0;
    while (pos < buf.length) {
      // Keep-alives: CRLF runs between messages.
      if (buf[pos] === 13 || buf[pos] === 10) {
        let k = pos;
        while (k < buf.length && (buf[k] === 13 || buf[k] === 10)) k++;
        out.push({ kind: 'keepalive', bytes: share ? buf.subarray(pos, k) : Buffer.from(buf.subarray(pos, k)) });
        pos = k;
        continue;
      }
      const he = findHeaderEnd(buf, pos);
      if (he === null || he.end - pos > this.#maxHeader) {
        if (buf.length - pos > this.#maxHeader) {
          out.push({ kind: 'garbage', bytes: share ? buf.subarray(pos) : Buffer.from(buf.subarray(pos)), reason: `no end of header section within ${this.#maxHeader} bytes` });
          pos = buf.length;
        }
        break;
      }
      // An unusable Content-Length counts as 0: the header section goes through as a message so the parser explains it.
      const end = he.end + he.sep + announcedBodyLength(buf, pos, he.end, this.#maxBody);
      if (end > buf.length) {
        this.#need = end - pos;
        break;
      }
      out.push({ kind: 'message', bytes: share ? buf.subarray(pos, end) : Buffer.from(buf.subarray(pos, end)) });
      pos = end;
    }
    if (pos >= buf.length) {
      this.#chunks = [];
      this.#pendingLength = 0;
    } else {
      const rest = buf.subarray(pos);
      // Copy what is not ours, and small tails of big joined buffers (so they can be freed).
      this.#chunks = [!owned || rest.length * 2 < buf.length ? Buffer.from(rest) : rest];
      this.#pendingLength = rest.length;
    }
    return out;
  }

  /** Whatever is left when the connection closes (an incomplete message), or null. */
  flush(): Buffer | null {
    if (this.#pendingLength === 0) return null;
    const rest = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#pendingLength);
    this.#chunks = [];
    this.#pendingLength = 0;
    this.#need = 0;
    return rest;
  }
}

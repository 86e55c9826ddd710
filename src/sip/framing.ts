/**
 * Stream framing (RFC 3261 §18.3): on TCP and TLS a message ends where its
 * Content-Length says. Keep-alive CRLFs between messages (RFC 5626 §3.5.1)
 * are skipped and reported; several messages in one read and one message over
 * many reads are both normal. Content-Length counts bytes, not characters.
 */
import { Buffer } from 'node:buffer';
import { findHeaderEnd } from './parser.ts';

export type FramedItem =
  | { kind: 'message'; bytes: Buffer }
  | { kind: 'keepalive'; bytes: Buffer }
  /** Bytes that can never become a message (e.g. a header section with no usable Content-Length); the framer resyncs after them. */
  | { kind: 'garbage'; bytes: Buffer; reason: string };

const CL_RE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)/im;

export interface StreamFramerOptions {
  /** Largest header section accepted before the stream is declared broken (default 64 KiB). */
  maxHeaderBytes?: number;
  /** Largest body accepted (default 16 MiB). */
  maxBodyBytes?: number;
}

export class StreamFramer {
  /** Unframed bytes: chunks kept as received, joined only when there is enough to frame. */
  #chunks: Buffer[] = [];
  #pendingLength = 0;
  /** Bytes needed before framing can progress (a known message end, or 0: look now). */
  #need = 0;
  readonly #maxHeader: number;
  readonly #maxBody: number;

  constructor(options: StreamFramerOptions = {}) {
    this.#maxHeader = options.maxHeaderBytes ?? 64 * 1024;
    this.#maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
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
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const owned = this.#chunks.length > 0;
    const buf = owned ? Buffer.concat([...this.#chunks, view], this.#pendingLength + view.length) : view;
    const out: FramedItem[] = [];
    let pos = 0;
    this.#need = 0;
    while (pos < buf.length) {
      // Keep-alives: CRLF runs between messages.
      if (buf[pos] === 13 || buf[pos] === 10) {
        let k = pos;
        while (k < buf.length && (buf[k] === 13 || buf[k] === 10)) k++;
        out.push({ kind: 'keepalive', bytes: Buffer.from(buf.subarray(pos, k)) });
        pos = k;
        continue;
      }
      const he = findHeaderEnd(buf, pos);
      if (he === null || he.end - pos > this.#maxHeader) {
        if (buf.length - pos > this.#maxHeader) {
          out.push({ kind: 'garbage', bytes: Buffer.from(buf.subarray(pos)), reason: `no end of header section within ${this.#maxHeader} bytes` });
          pos = buf.length;
        }
        break;
      }
      const head = buf.toString('latin1', pos, he.end);
      const m = CL_RE.exec(head);
      let bodyLength = 0;
      if (m) {
        const v = m[1];
        if (!/^\d+$/.test(v) || Number(v) > this.#maxBody) {
          // Unusable Content-Length: pass the header section through as a message so the parser explains it.
          bodyLength = 0;
        } else bodyLength = Number(v);
      }
      const end = he.end + he.sep + bodyLength;
      if (end > buf.length) {
        this.#need = end - pos;
        break;
      }
      out.push({ kind: 'message', bytes: Buffer.from(buf.subarray(pos, end)) });
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

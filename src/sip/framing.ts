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
  #pending: Buffer = Buffer.alloc(0);
  readonly #maxHeader: number;
  readonly #maxBody: number;

  constructor(options: StreamFramerOptions = {}) {
    this.#maxHeader = options.maxHeaderBytes ?? 64 * 1024;
    this.#maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  }

  /** Bytes buffered but not yet framed. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Feeds one read; returns every item completed by it, in order. */
  push(chunk: Uint8Array): FramedItem[] {
    const buf = this.#pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.#pending, chunk]);
    const out: FramedItem[] = [];
    let pos = 0;
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
      if (he === null) {
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
      if (end > buf.length) break;
      out.push({ kind: 'message', bytes: Buffer.from(buf.subarray(pos, end)) });
      pos = end;
    }
    this.#pending = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    return out;
  }

  /** Whatever is left when the connection closes (an incomplete message), or null. */
  flush(): Buffer | null {
    if (this.#pending.length === 0) return null;
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return rest;
  }
}

/**
 * A small SIP-over-stream framer for the tests (RFC 3261 §18.3): a message
 * is the header section up to the first empty line (CRLF CRLF) plus
 * Content-Length (or compact `l`) bytes of body; CRLF keep-alives between
 * messages are skipped. The real parser lives in src/sip/ and will replace it.
 */

const CRLFCRLF = Buffer.from('\r\n\r\n');

export class SipStreamFramer {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds stream bytes; returns the messages completed by them. */
  push(bytes: Uint8Array): Buffer[] {
    this.buf = this.buf.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.buf, bytes]);
    const out: Buffer[] = [];
    for (;;) {
      let s = 0;
      while (s < this.buf.length && (this.buf[s] === 0x0d || this.buf[s] === 0x0a)) s++;
      if (s > 0) this.buf = this.buf.subarray(s);
      const he = this.buf.indexOf(CRLFCRLF);
      if (he < 0) break;
      const head = this.buf.subarray(0, he).toString('latin1');
      const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(head);
      const total = he + 4 + (m ? Number(m[1]) : 0);
      if (this.buf.length < total) break;
      out.push(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
    }
    return out;
  }

  /** Bytes waiting for the rest of a message. */
  get pending(): number {
    return this.buf.length;
  }
}

/** SIP messages in a set of capture records: one per UDP record, framed per TCP direction. */
export function countSipMessages(records: { transport: string; connId: number | null; remote: { host: string; port: number }; bytes: Uint8Array }[]): {
  count: number;
  messages: Buffer[];
  pendingBytes: number;
} {
  const framers = new Map<string, SipStreamFramer>();
  const messages: Buffer[] = [];
  for (const r of records) {
    if (r.transport === 'udp') {
      messages.push(Buffer.from(r.bytes));
      continue;
    }
    const key = `${r.connId} ${r.remote.host} ${r.remote.port}`;
    let f = framers.get(key);
    if (!f) {
      f = new SipStreamFramer();
      framers.set(key, f);
    }
    for (const m of f.push(r.bytes)) messages.push(m);
  }
  let pendingBytes = 0;
  for (const f of framers.values()) pendingBytes += f.pending;
  return { count: messages.length, messages, pendingBytes };
}

/**
 * SIP messages in a set of capture records, for the tests: one per UDP
 * record, TCP/TLS framed per connection and direction by the stream framer
 * every part of Trunklab uses (src/sip/framing.ts, RFC 3261 §18.3).
 */
import { Buffer } from 'node:buffer';
import { StreamFramer } from '../../sip/framing.ts';

/** SIP messages in a set of capture records: one per UDP record, framed per TCP direction. */
export function countSipMessages(records: { transport: string; connId: number | null; remote: { host: string; port: number }; bytes: Uint8Array }[]): {
  count: number;
  messages: Buffer[];
  pendingBytes: number;
} {
  const framers = new Map<string, StreamFramer>();
  const messages: Buffer[] = [];
  for (const r of records) {
    if (r.transport === 'udp') {
      messages.push(Buffer.from(r.bytes));
      continue;
    }
    const key = `${r.connId} ${r.remote.host} ${r.remote.port}`;
    let f = framers.get(key);
    if (!f) {
      f = new StreamFramer();
      framers.set(key, f);
    }
    for (const item of f.push(r.bytes)) if (item.kind === 'message') messages.push(item.bytes);
  }
  let pendingBytes = 0;
  for (const f of framers.values()) pendingBytes += f.pendingBytes;
  return { count: messages.length, messages, pendingBytes };
}

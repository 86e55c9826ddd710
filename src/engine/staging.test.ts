import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import type { CaptureRecord } from '../sip/capture.ts';
import { type WireEvent, WireEventAssembler } from '../trace/wire-event.ts';
import { StagingAssembler } from './staging.ts';

const body = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
const invite = (n: number, cl = String(Buffer.byteLength(body)), name = 'Content-Length'): string =>
  `INVITE sip:${n}@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK${n}\r\nCall-ID: call-${n}\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@x>;tag=${n}\r\nTo: <sip:b@y>\r\nContent-Type: application/sdp\r\n${name}: ${cl}\r\n\r\n${body}`;
const bye = (n: number): string => `BYE sip:${n}@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKb${n}\r\nCall-ID: call-${n}\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n`;

let seq = 0;
function record(text: string | Uint8Array, options: Partial<CaptureRecord> & { missingBefore?: number } = {}): CaptureRecord & { missingBefore?: number } {
  return {
    seq: ++seq,
    timeUs: 1_000_000 + seq,
    direction: 'in',
    transport: 'tcp',
    local: { host: '10.0.0.2', port: 5060 },
    remote: { host: '10.0.0.1', port: 40000 },
    connId: 7,
    bytes: typeof text === 'string' ? Buffer.from(text, 'latin1') : text,
    ...options,
  };
}

/** What matters of an event: where it came from, its bytes, whether it is invalid. */
function shape(events: WireEvent[]): string[] {
  return events.map(
    (e) =>
      `${e.transport} ${e.src.host}:${e.src.port}>${e.dst.host}:${e.dst.port} c${e.connId} r${e.ref}${e.missingBefore ? ` m${e.missingBefore}` : ''}${e.invalid ? ` invalid(${e.invalid})` : ''} ${Buffer.from(e.bytes).toString('latin1')}`,
  );
}

function both(records: (CaptureRecord & { missingBefore?: number })[]): [string[], string[]] {
  const theirs = new WireEventAssembler();
  const ours = new StagingAssembler();
  const a: WireEvent[] = [];
  const b: WireEvent[] = [];
  for (const r of records) {
    theirs.push(r, false, a);
    ours.push(r, b);
  }
  theirs.flush(a);
  ours.flush(b);
  return [shape(a), shape(b)];
}

describe('staging framing (the store assembler, with views of the file)', () => {
  it('gives the events the store assembler gives: whole, split, joined, broken streams', () => {
    const two = invite(1) + bye(1);
    const split = invite(2);
    const cases: (CaptureRecord & { missingBefore?: number })[][] = [
      [record(invite(1)), record(bye(1))],
      [record(two), record('\r\n\r\n'), record(invite(3))],
      [record(split.slice(0, 40)), record(split.slice(40, 200)), record(split.slice(200) + bye(2).slice(0, 10)), record(bye(2).slice(10))],
      [record(invite(4, 'abc')), record(invite(5, '', 'l'))],
      [record(invite(6).slice(0, 100)), record(invite(7), { missingBefore: 50 })],
      [record(invite(8).slice(0, 120))],
      [record('GARBAGE'.repeat(10_000))],
      [
        record(invite(9), { transport: 'udp', connId: null }),
        record('\r\n\r\n', { transport: 'udp', connId: null }),
        record(bye(9), { connId: 8, remote: { host: '::ffff:10.0.0.1', port: 40001 } }),
      ],
      [record(invite(10), { direction: 'out' }), record(bye(10))],
    ];
    for (const records of cases) {
      const [theirs, ours] = both(records);
      assert.deepEqual(ours, theirs);
    }
  });

  it('hands whole messages on as views of the record (no copy)', () => {
    const r = record(invite(11) + bye(11));
    const out: WireEvent[] = [];
    new StagingAssembler().push(r, out);
    assert.equal(out.length, 2);
    assert.equal(out[0]!.bytes.buffer, r.bytes.buffer);
    assert.equal(out[1]!.bytes.byteOffset, r.bytes.byteOffset + Buffer.byteLength(invite(11)));
  });
});

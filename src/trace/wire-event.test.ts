import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaptureRecord } from '../sip/capture.ts';
import { normalizeHost, type SourceRecord, type WireEvent, WireEventAssembler } from './wire-event.ts';

const enc = new TextEncoder();
const msg = (n: number, body = '') =>
  `OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK${n}\r\nFrom: <sip:x@y>;tag=${n}\r\nTo: <sip:a@b>\r\nCall-ID: c${n}\r\nCSeq: ${n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

function rec(seq: number, text: string | Uint8Array, over: Partial<SourceRecord> = {}): SourceRecord {
  const r: CaptureRecord = {
    seq,
    timeUs: seq * 1000,
    direction: 'in',
    transport: 'tcp',
    local: { host: '10.0.0.2', port: 5060 },
    remote: { host: '10.0.0.1', port: 40000 },
    connId: 1,
    bytes: typeof text === 'string' ? enc.encode(text) : text,
  };
  return { ...r, ...over };
}

function text(ev: WireEvent): string {
  return Buffer.from(ev.bytes).toString('latin1');
}

test('datagrams: one message each; CRLF keep-alives are counted, not events; sender and receiver from the record', () => {
  const a = new WireEventAssembler();
  const out = [
    ...a.push(rec(1, msg(1), { transport: 'udp', connId: null }), false),
    ...a.push(rec(2, '\r\n\r\n', { transport: 'udp', connId: null }), false),
    ...a.push(rec(3, msg(3), { transport: 'udp', connId: null, direction: 'out' }), true),
  ];
  assert.equal(out.length, 2);
  assert.deepEqual([out[0].src, out[0].dst, out[0].tap, out[0].ref], [{ host: '10.0.0.1', port: 40000 }, { host: '10.0.0.2', port: 5060 }, null, 1]);
  assert.deepEqual([out[1].src, out[1].dst, out[1].tap], [{ host: '10.0.0.2', port: 5060 }, { host: '10.0.0.1', port: 40000 }, 'out']);
  assert.deepEqual(a.stats, { records: 3, events: 2, keepalives: 1, invalid: 0 });
});

test('streams: two messages in one segment, one message over three segments; the reference is where each message began', () => {
  const a = new WireEventAssembler();
  const two = msg(1) + msg(2, 'hello');
  const third = msg(3, 'v=0\r\n');
  const out = [
    ...a.push(rec(1, two), false),
    ...a.push(rec(2, third.slice(0, 20)), false),
    ...a.push(rec(3, third.slice(20, 60)), false),
    ...a.push(rec(4, `${third.slice(60)}\r\n\r\n${msg(4)}`), false),
  ];
  assert.deepEqual(out.map(text), [msg(1), msg(2, 'hello'), third, msg(4)]);
  assert.deepEqual(
    out.map((e) => e.ref),
    [1, 1, 2, 4],
  );
  assert.equal(out[2].timeUs, 4000, 'the time of the record that completed it');
  assert.equal(a.stats.keepalives, 1);
});

test('streams: lost bytes end the pending message as invalid and mark the next one; the end of input flushes the rest', () => {
  const a = new WireEventAssembler();
  const m = msg(5, 'abcdef');
  const out = [...a.push(rec(1, m.slice(0, 50)), false), ...a.push(rec(2, msg(6), { missingBefore: 300 }), false), ...a.push(rec(3, msg(7).slice(0, 30)), false)];
  assert.equal(out.length, 2);
  assert.match(out[0].invalid ?? '', /incomplete message \(50 bytes\): 300 stream bytes were lost/);
  assert.equal(out[0].ref, 1);
  assert.equal(out[1].missingBefore, 300);
  assert.equal(text(out[1]), msg(6));
  const rest = a.flush();
  assert.equal(rest.length, 1);
  assert.match(rest[0].invalid ?? '', /the stream ended before the message was complete/);
  assert.equal(rest[0].ref, 3);
});

test('the two directions and the two ends of a live connection are framed apart; IPv4-mapped hosts are written as IPv4', () => {
  const a = new WireEventAssembler();
  const m = msg(9);
  const out = [
    ...a.push(rec(1, m.slice(0, 40), { direction: 'out', local: { host: '::ffff:10.0.0.1', port: 40000 }, remote: { host: '::ffff:10.0.0.2', port: 5060 }, connId: 7 }), true),
    ...a.push(rec(2, m.slice(0, 40), { direction: 'in', local: { host: '10.0.0.2', port: 5060 }, remote: { host: '10.0.0.1', port: 40000 }, connId: 8 }), true),
    ...a.push(rec(3, m.slice(40), { direction: 'out', local: { host: '::ffff:10.0.0.1', port: 40000 }, remote: { host: '::ffff:10.0.0.2', port: 5060 }, connId: 7 }), true),
    ...a.push(rec(4, m.slice(40), { direction: 'in', local: { host: '10.0.0.2', port: 5060 }, remote: { host: '10.0.0.1', port: 40000 }, connId: 8 }), true),
  ];
  assert.equal(out.length, 2);
  assert.deepEqual(
    out.map((e) => [e.tap, e.src.host, e.dst.host, text(e) === m]),
    [
      ['out', '10.0.0.1', '10.0.0.2', true],
      ['in', '10.0.0.1', '10.0.0.2', true],
    ],
  );
  assert.equal(normalizeHost('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(normalizeHost('::ffff:c000:201'), '::ffff:c000:201');
  assert.equal(normalizeHost('2001:db8::1'), '2001:db8::1');
  const closed = a.closeConnection(7);
  assert.equal(closed.length, 0);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRtp, encodeRtp, hexPreview } from './rtp-packet.ts';
import { decodeTelephoneEvents, digitToEvent, encodeTelephoneEvent, eventToDigit } from './telephone-event.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

test('RTP header (RFC 3550 §5.1), by hand: V=2, M=1, PT 101, seq 0x1234, ts 160000, SSRC 0xdeadbeef, event "5"', () => {
  // byte 0: 10 0 0 0000 = 0x80; byte 1: M=1 | 101 = 0xe5; 160000 = 0x00027100;
  // event 5, E=0 R=0 volume 10 = 0x0a, duration 400 = 0x0190 (RFC 4733 §2.3).
  const payload = encodeTelephoneEvent({ event: 5, end: false, reserved: false, volume: 10, duration: 400 });
  const bytes = encodeRtp({ marker: true, payloadType: 101, sequenceNumber: 0x1234, timestamp: 160000, ssrc: 0xdeadbeef, payload });
  assert.equal(toHex(bytes), '80 e5 12 34 00 02 71 00 de ad be ef 05 0a 01 90');
  const d = decodeRtp(bytes);
  assert.ok(d.ok);
  assert.deepEqual({ ...d.packet, payload: toHex(d.packet.payload) }, {
    padding: 0,
    marker: true,
    payloadType: 101,
    sequenceNumber: 0x1234,
    timestamp: 160000,
    ssrc: 0xdeadbeef,
    csrc: [],
    extension: null,
    payload: '05 0a 01 90',
  });
});

test('CSRC list, header extension (§5.3.1) and padding, by hand, both ways', () => {
  // 0xb2 = V=2, P=1, X=1, CC=2; PT 0; two CSRCs; extension 0xbede of 1 word; payload ff ff; 2 bytes of padding (last = count).
  const wire = hex('b2 00 00 01 00 00 00 a0 00 00 00 07  11 11 11 11 22 22 22 22  be de 00 01 10 aa 00 00  ff ff  00 02');
  const built = encodeRtp({
    padding: 2,
    payloadType: 0,
    sequenceNumber: 1,
    timestamp: 160,
    ssrc: 7,
    csrc: [0x11111111, 0x22222222],
    extension: { profile: 0xbede, data: hex('10 aa 00 00') },
    payload: hex('ff ff'),
  });
  assert.equal(toHex(built), toHex(wire));
  const d = decodeRtp(wire);
  assert.ok(d.ok);
  assert.deepEqual(d.packet.csrc, [0x11111111, 0x22222222]);
  assert.equal(d.packet.extension?.profile, 0xbede);
  assert.equal(toHex(d.packet.extension?.data ?? new Uint8Array()), '10 aa 00 00');
  assert.equal(toHex(d.packet.payload), 'ff ff');
  assert.equal(d.packet.padding, 2);
});

test('malformed datagrams come back with the reason and their bytes, never thrown', () => {
  const cases: Array<[string, RegExp]> = [
    ['80 00 00', /shorter than the 12-byte RTP header/],
    ['40 00 00 01 00 00 00 00 00 00 00 01', /RTP version 1/],
    ['83 00 00 01 00 00 00 00 00 00 00 01 11 11 11 11', /CSRC count 3/],
    ['90 00 00 01 00 00 00 00 00 00 00 01 be de', /header extension is cut short/],
    ['90 00 00 01 00 00 00 00 00 00 00 01 be de 00 04 00 00 00 00', /extension of 4 words runs past the end/],
    ['a0 00 00 01 00 00 00 00 00 00 00 01 ff 00', /padding count is 0/],
    ['a0 00 00 01 00 00 00 00 00 00 00 01 ff 09', /padding of 9 bytes runs into the header/],
    // An RTCP sender report (PT 200) on the RTP port.
    ['80 c8 00 06 00 00 00 01 00 00 00 00 00 00 00 00', /RTCP packet type 200/],
  ];
  for (const [bytes, reason] of cases) {
    const d = decodeRtp(hex(bytes));
    assert.equal(d.ok, false, bytes);
    if (!d.ok) {
      assert.match(d.error, reason, bytes);
      assert.equal(toHex(d.bytes), toHex(hex(bytes)), 'the bytes are kept');
    }
  }
  assert.equal(hexPreview(new Uint8Array(30), 4), '00 00 00 00 … (30 bytes)');
});

test('encoding refuses what RTP cannot carry', () => {
  const base = { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: new Uint8Array() };
  assert.throws(() => encodeRtp({ ...base, payloadType: 128 }), /payload type/);
  assert.throws(() => encodeRtp({ ...base, sequenceNumber: 65536 }), /sequence number/);
  assert.throws(() => encodeRtp({ ...base, timestamp: 2 ** 32 }), /timestamp/);
  assert.throws(() => encodeRtp({ ...base, csrc: new Array(16).fill(1) }), /15 CSRCs/);
  assert.throws(() => encodeRtp({ ...base, extension: { profile: 1, data: new Uint8Array(3) } }), /whole 32-bit words/);
});

test('RFC 4733 §2.3 event payload and §3.2 event codes, by hand', () => {
  // "#" = 11, E=1, volume 10 → 0x8a, duration 800 = 0x0320.
  assert.equal(toHex(encodeTelephoneEvent({ event: 11, end: true, reserved: false, volume: 10, duration: 800 })), '0b 8a 03 20');
  // "*" = 10, R=1 kept, volume 63, duration 65535.
  assert.equal(toHex(encodeTelephoneEvent({ event: 10, end: false, reserved: true, volume: 63, duration: 0xffff })), '0a 7f ff ff');
  const d = decodeTelephoneEvents(hex('0b 8a 03 20'));
  assert.deepEqual(d, { ok: true, events: [{ event: 11, end: true, reserved: false, volume: 10, duration: 800 }] });
  // §2.5.1.5: several events packed in one payload.
  const packed = decodeTelephoneEvents(hex('01 8a 03 20 02 0a 01 90'));
  assert.ok(packed.ok && packed.events.length === 2 && packed.events[1].event === 2);
  assert.match(decodeTelephoneEvents(hex('01 8a 03')).ok ? '' : 'short', /short/);
  const odd = decodeTelephoneEvents(hex('01 8a 03 20 02'));
  assert.ok(!odd.ok && /not a whole number of 4-byte events/.test(odd.error));
  assert.deepEqual([...'0123456789*#ABCDabcd'].map(digitToEvent), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15]);
  assert.equal(digitToEvent('x'), null);
  assert.deepEqual([0, 9, 10, 11, 15, 16, 40].map(eventToDigit), ['0', '9', '*', '#', 'D', 'flash', 'event-40']);
  assert.throws(() => encodeTelephoneEvent({ event: 1, end: false, reserved: false, volume: 64, duration: 0 }), /volume/);
});

import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { test } from 'node:test';
import { formatIPv4, formatIPv6, parseIp, parseIPv4, parseIPv6 } from './ip-address.ts';
import { inetChecksum } from './inet-checksum.ts';

test('ip-address: IPv4 parse/format', () => {
  assert.deepEqual(parseIPv4('192.0.2.1'), Uint8Array.of(192, 0, 2, 1));
  for (const bad of ['192.0.2', '192.0.2.256', '1.2.3.4.5', 'a.b.c.d', '', '01234.1.1.1']) assert.equal(parseIPv4(bad), null, bad);
  assert.equal(formatIPv4(Uint8Array.of(10, 0, 0, 255), 0), '10.0.0.255');
});

test('ip-address: IPv6 round trips in the form Node sockets print (RFC 5952)', () => {
  const cases = [
    '::',
    '::1',
    '2001:db8::1',
    '2001:db8:0:1:1:1:1:1',
    '2001:db8::2:1',
    '2001:0:0:1::1',
    'fe80::1',
    '::ffff:192.0.2.1',
    '1::',
    '2001:db8:1:2:3:4:5:6',
  ];
  for (const c of cases) {
    assert.ok(isIPv6(c));
    const b = parseIPv6(c);
    assert.ok(b, c);
    assert.equal(formatIPv6(b, 0), c);
  }
  assert.equal(formatIPv6(parseIPv6('2001:DB8:0000::0001') as Uint8Array, 0), '2001:db8::1');
  assert.equal(formatIPv6(parseIPv6('[fe80::1%eth0]') as Uint8Array, 0), 'fe80::1');
  for (const bad of ['1:::2', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7']) {
    assert.equal(parseIPv6(bad), null, bad);
    assert.equal(isIPv6(bad), false);
  }
  assert.equal(parseIp('example.com'), null);
  assert.equal(parseIp('192.0.2.9')?.version, 4);
  assert.ok(isIPv4('192.0.2.9'));
});

test('inet-checksum: RFC 1071 example and odd lengths', () => {
  // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2, checksum 0x220d.
  assert.equal(inetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7), 0, 8), 0x220d);
  // An odd trailing byte is padded with zero.
  assert.equal(inetChecksum(Uint8Array.of(0x12, 0x34, 0x56), 0, 3), ~(0x1234 + 0x5600) & 0xffff);
  // Unaligned start inside a larger buffer.
  const b = Uint8Array.of(9, 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(inetChecksum(b.subarray(1), 0, 8), 0x220d);
});

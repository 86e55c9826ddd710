/**
 * The DER encoder against the encodings X.690 and RFC 5280 spell out, and
 * against OpenSSL's decoder (`openssl asn1parse`, skipped without openssl).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { bitString, boolean, derLength, explicit, implicitPrimitive, integer, namedBits, nullValue, octetString, oid, pem, sequence, setOf, time, utf8String } from './der.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

test('lengths: short form below 128, long form with the fewest octets above', () => {
  assert.equal(hex(derLength(0)), '00');
  assert.equal(hex(derLength(127)), '7f');
  assert.equal(hex(derLength(128)), '8180');
  assert.equal(hex(derLength(255)), '81ff');
  assert.equal(hex(derLength(256)), '820100');
  assert.equal(hex(derLength(70_000)), '83011170');
  assert.throws(() => derLength(-1), RangeError);
  // A 300-byte OCTET STRING carries the long form.
  assert.equal(hex(octetString(Buffer.alloc(300)).subarray(0, 4)), '0482012c');
});

test('INTEGER: minimal two\'s complement, a leading zero when the high bit is set', () => {
  assert.equal(hex(integer(0)), '020100');
  assert.equal(hex(integer(2)), '020102');
  assert.equal(hex(integer(127)), '02017f');
  assert.equal(hex(integer(128)), '02020080');
  assert.equal(hex(integer(256)), '02020100');
  assert.equal(hex(integer(65537)), '0203010001');
  assert.equal(hex(integer(Buffer.from([0, 0, 0x7f]))), '02017f');
  assert.equal(hex(integer(Buffer.from([0xff, 0x01]))), '020300ff01');
  assert.equal(hex(integer(2n ** 64n)), '0209010000000000000000');
  assert.throws(() => integer(-1), RangeError);
});

test('OBJECT IDENTIFIER: first two arcs packed, base-128 arcs', () => {
  assert.equal(hex(oid('1.2.840.113549')), '06062a864886f70d'); // pkcs (RFC 8017), arcs above 127
  assert.equal(hex(oid('2.5.29.17')), '0603551d11'); // subjectAltName
  assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302'); // ecdsa-with-SHA256
  assert.equal(hex(oid('2.999.3')), '0603883703'); // X.690 §8.19.5 example
  assert.throws(() => oid('3.1'), SyntaxError);
  assert.throws(() => oid('1.40'), SyntaxError);
  assert.throws(() => oid('1.2.x'), SyntaxError);
});

test('BOOLEAN, NULL, strings, BIT STRING and named bits', () => {
  assert.equal(hex(boolean(true)), '0101ff');
  assert.equal(hex(boolean(false)), '010100');
  assert.equal(hex(nullValue()), '0500');
  assert.equal(hex(utf8String('é')), '0c02c3a9');
  assert.equal(hex(bitString(Buffer.from([0xab]))), '030200ab');
  // keyUsage digitalSignature(0) + keyCertSign(5): 0b10000100, two unused trailing bits.
  assert.equal(hex(namedBits([0, 5])), '03020284');
  // + keyEncipherment(2): 0b10100100.
  assert.equal(hex(namedBits([0, 2, 5])), '030202a4');
  // decipherOnly(8) spills into a second byte, 7 unused bits.
  assert.equal(hex(namedBits([0, 8])), '0303078080');
  assert.equal(hex(namedBits([])), '030100');
});

test('Time: UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
  assert.equal(Buffer.from(time(new Date(Date.UTC(2026, 10, 26, 9, 5, 7)))).toString('latin1'), '\x17\x0d261126090507Z');
  assert.equal(Buffer.from(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)))).toString('latin1'), '\x17\x0d491231235959Z');
  assert.equal(Buffer.from(time(new Date(Date.UTC(2050, 0, 1, 0, 0, 0)))).toString('latin1'), '\x18\x0f20500101000000Z');
  assert.throws(() => time(new Date(Number.NaN)), RangeError);
});

test('SEQUENCE, SET OF in DER order, context tags', () => {
  assert.equal(hex(sequence(integer(1), boolean(true))), '30060201010101ff');
  assert.equal(hex(setOf(integer(2), integer(1))), '3106020101020102');
  assert.equal(hex(explicit(0, integer(2))), 'a003020102');
  assert.equal(hex(implicitPrimitive(7, Buffer.from([127, 0, 0, 1]))), '87047f000001');
});

test('PEM: 64-character base64 lines between the labels', () => {
  const text = pem('TEST', Buffer.alloc(100, 0xff));
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], '-----BEGIN TEST-----');
  assert.equal(lines.at(-1), '-----END TEST-----');
  assert.deepEqual(lines.slice(1, -1).map((l) => l.length), [64, 64, 8]);
  assert.equal(Buffer.from(lines.slice(1, -1).join(''), 'base64').length, 100);
});

test('OpenSSL decodes a structure made of every kind', { skip: hasOpenssl ? false : 'openssl is not installed' }, () => {
  const der = sequence(
    integer(2n ** 70n),
    oid('2.5.4.3'),
    utf8String('trunklab'),
    octetString(Buffer.alloc(200, 1)),
    namedBits([0, 2, 5]),
    time(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))),
    time(new Date(Date.UTC(2051, 0, 2, 3, 4, 5))),
    explicit(3, sequence(boolean(true), nullValue())),
  );
  const r = spawnSync('openssl', ['asn1parse', '-inform', 'DER'], { input: der, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /INTEGER\s+:400000000000000000/);
  assert.match(out, /OBJECT\s+:commonName/);
  assert.match(out, /UTF8STRING\s+:trunklab/);
  assert.match(out, /hl=3 l= 200 prim: OCTET STRING/);
  assert.match(out, /BIT STRING/);
  assert.match(out, /UTCTIME\s+:260102030405Z/);
  assert.match(out, /GENERALIZEDTIME\s+:20510102030405Z/);
  assert.match(out, /cont \[ 3 \]/);
  assert.match(out, /BOOLEAN\s+:255/);
  assert.match(out, /NULL/);
});

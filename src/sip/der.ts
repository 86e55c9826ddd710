/**
 * A minimal ASN.1 DER encoder (ITU-T X.690 §10), enough to write an X.509
 * certificate (RFC 5280): each function returns the complete encoding of one
 * value, tag and definite length included. Encoding only; node:crypto's
 * X509Certificate reads certificates back.
 */
import { Buffer } from 'node:buffer';

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** The length octets: short form below 128, else long form (X.690 §8.1.3). */
export function derLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad DER length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One value: identifier octet, length, contents. */
export function tlv(tag: number, contents: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(contents.length), contents]);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(items));
}

/** SET OF: DER sorts the encodings of the elements (X.690 §11.6). */
export function setOf(...items: Uint8Array[]): Buffer {
  const sorted = items.map((i) => Buffer.from(i)).sort(Buffer.compare);
  return tlv(TAG.set, Buffer.concat(sorted));
}

export function boolean(value: boolean): Buffer {
  return tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return tlv(TAG.null, Buffer.alloc(0));
}

/** INTEGER from a non-negative number or bigint, or from unsigned big-endian bytes; minimal two's complement. */
export function integer(value: number | bigint | Uint8Array): Buffer {
  let bytes: Buffer;
  if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
  } else {
    let n = BigInt(value);
    if (n < 0n) throw new RangeError('negative INTEGER is not supported');
    const out: number[] = [];
    do {
      out.unshift(Number(n & 0xffn));
      n >>= 8n;
    } while (n > 0n);
    bytes = Buffer.from(out);
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.integer, bytes);
}

/** OBJECT IDENTIFIER from dotted form, e.g. `2.5.29.17` (X.690 §8.19). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new SyntaxError(`bad OID ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new SyntaxError(`bad OID ${dotted}`);
  const out: number[] = [];
  const subidentifiers = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  for (const arc of subidentifiers) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) group.unshift(Number(n & 0x7fn) | 0x80);
    out.push(...group);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** BIT STRING of whole bytes (no unused bits). */
export function bitString(bytes: Uint8Array): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), bytes]));
}

/**
 * A named-bit BIT STRING (e.g. KeyUsage) from the bit numbers that are set,
 * bit 0 being the most significant bit of the first byte; trailing zero
 * bits are dropped as DER requires (X.690 §11.2.2).
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return tlv(TAG.bitString, Buffer.from([0]));
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  const unused = 7 - (last % 8);
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unused]), bytes]));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(TAG.octetString, bytes);
}

export function utf8String(text: string): Buffer {
  return tlv(TAG.utf8String, Buffer.from(text, 'utf8'));
}

/**
 * An X.509 Time (RFC 5280 §4.1.2.5): UTCTime `YYMMDDHHMMSSZ` for the years
 * 1950-2049, GeneralizedTime `YYYYMMDDHHMMSSZ` otherwise; whole seconds.
 */
export function time(date: Date): Buffer {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`year ${y} cannot be encoded`);
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.utcTime, Buffer.from(`${two(y % 100)}${rest}`, 'latin1'));
  return tlv(TAG.generalizedTime, Buffer.from(`${String(y).padStart(4, '0')}${rest}`, 'latin1'));
}

/** `[n]` EXPLICIT: a constructed context-specific tag around a complete encoding. */
export function explicit(n: number, encoding: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`tag number ${n} needs the high-tag form`);
  return tlv(0xa0 | n, encoding);
}

/** `[n]` IMPLICIT of a primitive type: the contents octets under a context-specific primitive tag. */
export function implicitPrimitive(n: number, contents: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`tag number ${n} needs the high-tag form`);
  return tlv(0x80 | n, contents);
}

/** PEM armour (RFC 7468): base64 in lines of 64 characters. */
export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

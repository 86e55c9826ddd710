/**
 * A throw-away self-signed certificate for TLS: `trunklab serve`'s lab,
 * the qualification suite's TLS cases and the tests. Made in-process with
 * node:crypto and a small DER encoder (der.ts), so the packaged app needs no
 * `openssl` command (Windows and macOS users have none).
 *
 * The certificate is X.509 v3 (RFC 5280), its own issuer, and is meant to
 * be trusted directly as a CA by the peer (or not verified at all):
 * - key: RSA 2048 (default, what every SIP device speaks) or EC P-256
 *   (`keyType: 'ec'`, about a hundred times faster to make);
 * - subject = issuer = CN=<commonName>;
 * - validity from one hour ago (peers' clocks drift) for `days` days;
 * - subjectAltName: the IP addresses (IPv4 and IPv6) and DNS names given;
 * - basicConstraints CA:TRUE (critical), keyUsage digitalSignature and
 *   keyCertSign (+ keyEncipherment for RSA) (critical), extKeyUsage
 *   serverAuth and clientAuth, subject and authority key identifiers:
 *   what `openssl req -x509` writes, plus the key usages.
 * Signed with SHA-256 (sha256WithRSAEncryption or ecdsa-with-SHA256).
 */
import { Buffer } from 'node:buffer';
import { createHash, generateKeyPair, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { promisify } from 'node:util';

import { bitString, boolean, explicit, implicitPrimitive, integer, namedBits, nullValue, octetString, oid, pem, sequence, setOf, time, utf8String } from './der.ts';

export interface TestCertificate {
  /** PEM private key (PKCS #8). */
  key: string;
  /** PEM certificate (self-signed: it is also its own CA). */
  cert: string;
}

export interface TestCertificateOptions {
  commonName?: string;
  /** IP addresses for subjectAltName (default 127.0.0.1 and ::1). */
  ips?: string[];
  dnsNames?: string[];
  /** 'rsa' (2048 bits, the default) or 'ec' (P-256). */
  keyType?: 'rsa' | 'ec';
  /** Validity in days from now (default 30; it also starts one hour in the past). */
  days?: number;
}

const OID = {
  commonName: '2.5.4.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5 } as const;

const generateKeyPairAsync = promisify(generateKeyPair);
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The 4 or 16 bytes of an IP address for a SAN iPAddress (a zone index, `%eth0`, is dropped). */
export function ipAddressBytes(address: string): Buffer {
  const ip = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  let text = ip;
  let tail: number[] = [];
  // An embedded IPv4 address in the last 32 bits (::ffff:192.0.2.1, 64:ff9b::198.51.100.1).
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (v4) {
    const b = v4[2]!.split('.').map(Number);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    text = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16)));
  const words: number[] = [];
  const gap = text.indexOf('::');
  const need = 8 - tail.length;
  if (gap >= 0) {
    const head = parse(text.slice(0, gap));
    const rest = parse(text.slice(gap + 2));
    words.push(...head, ...new Array<number>(need - head.length - rest.length).fill(0), ...rest);
  } else {
    words.push(...parse(text));
  }
  words.push(...tail);
  if (words.length !== 8) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  const out = Buffer.alloc(16);
  for (const [i, w] of words.entries()) out.writeUInt16BE(w, i * 2);
  return out;
}

/** A dNSName is ASCII (an IDN in its xn-- form), RFC 5280 §4.2.1.6. */
function dnsNameBytes(dnsName: string): Buffer {
  if (!/^[\x21-\x7e]+$/.test(dnsName)) throw new TypeError(`not an ASCII DNS name: ${JSON.stringify(dnsName)}`);
  return Buffer.from(dnsName, 'latin1');
}

function name(commonName: string): Buffer {
  return sequence(setOf(sequence(oid(OID.commonName), utf8String(commonName))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** The BIT STRING contents of a SubjectPublicKeyInfo (the key the key identifiers hash, RFC 5280 §4.2.1.2). */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE, subjectPublicKey BIT STRING }: walk two TLVs.
  const skip = (at: number): { start: number; end: number } => {
    let len = spki[at + 1]!;
    let start = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + spki[start + i]!;
      start += n;
    }
    return { start, end: start + len };
  };
  const outer = skip(0);
  const algorithm = skip(outer.start);
  const key = skip(algorithm.end);
  return spki.subarray(key.start + 1, key.end); // past the unused-bits octet
}

/** Builds and signs the certificate for a key pair. */
export function selfSignedCertificate(
  keys: { privateKey: KeyObject; publicKey: KeyObject },
  options: { commonName: string; ips: readonly string[]; dnsNames: readonly string[]; notBefore: Date; notAfter: Date },
): string {
  const rsa = keys.privateKey.asymmetricKeyType === 'rsa';
  if (!rsa && keys.privateKey.asymmetricKeyType !== 'ec') throw new TypeError(`unsupported key type ${keys.privateKey.asymmetricKeyType}`);
  const algorithm = rsa ? sequence(oid(OID.sha256WithRSAEncryption), nullValue()) : sequence(oid(OID.ecdsaWithSha256));
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, 16 octets, never zero (RFC 5280 §4.1.2.2)

  const altNames = [
    ...options.dnsNames.map((d) => implicitPrimitive(2, dnsNameBytes(d))), // dNSName [2] IA5String
    ...options.ips.map((ip) => implicitPrimitive(7, ipAddressBytes(ip))), // iPAddress [7] OCTET STRING
  ];
  const usage = [KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, ...(rsa ? [KEY_USAGE.keyEncipherment] : [])];
  const extensions = [
    extension(OID.basicConstraints, true, sequence(boolean(true))),
    extension(OID.keyUsage, true, namedBits(usage)),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
    ...(altNames.length > 0 ? [extension(OID.subjectAltName, false, sequence(...altNames))] : []),
    extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
    extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyId))),
  ];
  const subject = name(options.commonName);
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    integer(serial),
    algorithm,
    subject, // issuer: self-signed
    sequence(time(options.notBefore), time(options.notAfter)),
    subject,
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, keys.privateKey);
  return pem('CERTIFICATE', sequence(tbs, algorithm, bitString(signature)));
}

export async function createTestCertificate(options: TestCertificateOptions = {}): Promise<TestCertificate> {
  const keyType = options.keyType ?? 'rsa';
  const days = options.days ?? 30;
  if (!(days > 0)) throw new RangeError(`days must be positive, got ${days}`);
  const ips = options.ips ?? ['127.0.0.1', '::1'];
  const dnsNames = options.dnsNames ?? [];
  // Reject a bad address or name before the key is made.
  for (const ip of ips) ipAddressBytes(ip);
  for (const d of dnsNames) dnsNameBytes(d);
  const keys =
    keyType === 'ec'
      ? await generateKeyPairAsync('ec', { namedCurve: 'P-256' })
      : await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const now = Date.now();
  const cert = selfSignedCertificate(keys, {
    commonName: options.commonName ?? '127.0.0.1',
    ips,
    dnsNames,
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + days * DAY_MS),
  });
  return { key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert };
}

/**
 * A throwaway self-signed certificate for the CLI's TLS listeners (`uas`,
 * `serve`, `replay`), made at start with node:crypto (no openssl needed).
 * Lync itself needs a real PKI; a test harness needs TLS on the wire.
 */
import { isIP } from 'node:net';
import { createTestCertificate } from '../sip/tls-test-cert.ts';
import type { TransportTlsOptions } from '../sip/transport.ts';

export async function testTlsOptions(host: string): Promise<TransportTlsOptions> {
  const bare = host.replace(/^\[|\]$/g, '');
  const ip = isIP(bare) !== 0;
  const { key, cert } = await createTestCertificate({ commonName: bare, ips: ip ? [bare] : [], dnsNames: ip ? [] : [bare] });
  return { key, cert, ca: cert, rejectUnauthorized: false };
}

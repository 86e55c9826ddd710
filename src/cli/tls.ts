/**
 * A throwaway self-signed certificate for the CLI's TLS listeners (`uas`,
 * `serve`), made with openssl at start. Lync itself needs a real PKI; a test
 * harness needs TLS on the wire.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TransportTlsOptions } from '../sip/transport.ts';

const run = promisify(execFile);

export async function testTlsOptions(host: string): Promise<TransportTlsOptions> {
  const dir = await mkdtemp(join(tmpdir(), 'trunklab-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const san = /^[\d.]+$/.test(host) || host.includes(':') ? `IP:${host}` : `DNS:${host}`;
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${host}`, '-addext', `subjectAltName=${san}`]);
    const [k, c] = await Promise.all([readFile(key), readFile(cert)]);
    return { key: k, cert: c, ca: c, rejectUnauthorized: false };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

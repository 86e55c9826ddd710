/**
 * A throw-away self-signed certificate for TLS tests, made with the openssl
 * command line (Debian's `openssl`, installed in CI): RSA 2048, valid one
 * day, CN and subjectAltName for the loopback addresses. The key and
 * certificate are read back as PEM and the temporary directory is removed
 * before this resolves.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  /** PEM private key. */
  key: string;
  /** PEM certificate (self-signed: it is also its own CA). */
  cert: string;
}

export interface TestCertificateOptions {
  commonName?: string;
  /** IP addresses for subjectAltName (default 127.0.0.1 and ::1). */
  ips?: string[];
  dnsNames?: string[];
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

export async function createTestCertificate(options: TestCertificateOptions = {}): Promise<TestCertificate> {
  const cn = options.commonName ?? '127.0.0.1';
  const san = [...(options.ips ?? ['127.0.0.1', '::1']).map((ip) => `IP:${ip}`), ...(options.dnsNames ?? []).map((d) => `DNS:${d}`)].join(',');
  const dir = await mkdtemp(path.join(tmpdir(), 'trunklab-tls-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
      '-keyout', keyFile, '-out', certFile,
      '-days', '1', '-subj', `/CN=${cn}`,
      '-addext', `subjectAltName=${san}`,
    ]);
    const [key, cert] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
    return { key, cert };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

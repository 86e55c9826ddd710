/**
 * SIP-core code as the packaged desktop app runs it: the Electron main
 * process's CommonJS bundle, `.vite/build/main.cjs`, with no node_modules
 * beside it, no `import.meta.url` and, on Windows and macOS, no `openssl`.
 * This builds two of the main process's entries, the inspector's
 * (src/engine/message-detail.ts) and the lab's certificate maker
 * (src/sip/tls-test-cert.ts), with exactly the main-process Vite settings
 * `electron-forge package` uses (forge.config.ts through plugin-vite's own
 * config generator: CommonJS, minified, Node built-ins external), into a
 * temporary folder outside the repository so that nothing can be resolved
 * from node_modules at run time, and runs them under Node:
 * - JsSIP's strict grammar (conformance.ts) is on: a message only it
 *   rejects is flagged (it used to be silently off in the bundle);
 * - a certificate is made in a child process whose PATH is empty.
 * Skipped only when Vite or plugin-vite is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { MessageDetail, MessageSummary } from '../common/api.ts';
import { conformance } from './conformance.ts';
import { parseMessage } from './parser.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What this test uses of Vite's build API and of plugin-vite's private config generator. */
interface ViteModule {
  build(config: Record<string, unknown>): Promise<unknown>;
}
interface ResolvedMainConfig {
  build: { lib: { entry: unknown; formats?: string[] }; outDir: string; sourcemap?: unknown; rolldownOptions?: Record<string, unknown> };
}
interface ForgeVitePlugin {
  setDirectories(dir: string): void;
  isProd: boolean;
  configGenerator: { getBuildConfigs(): Promise<ResolvedMainConfig[]> };
}

async function loadBundler(): Promise<{ vite: ViteModule } | null> {
  try {
    await import('@electron-forge/plugin-vite');
    return { vite: (await import('vite')) as unknown as ViteModule };
  } catch {
    return null;
  }
}

const bundler = await loadBundler();

// `sip:alice@example..com`: an empty domain label. Our own name-addr and URI
// parsers accept it; RFC 3261's hostname rule (and JsSIP's grammar) do not.
const BAD_URI = 'sip:alice@example..com';
const MESSAGE = [
  `OPTIONS ${BAD_URI} SIP/2.0`,
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-bundle-1',
  'From: <sip:bob@example.com>;tag=1',
  `To: <${BAD_URI}>`,
  'Call-ID: bundle-1@127.0.0.1',
  'CSeq: 1 OPTIONS',
  'Max-Forwards: 70',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

const SUMMARY: MessageSummary = {
  index: 0,
  timeUs: 0,
  transport: 'udp',
  from: '127.0.0.1:5060',
  to: '127.0.0.2:5060',
  src: '127.0.0.1:5060',
  dst: '127.0.0.2:5060',
  kind: 'request',
  method: 'OPTIONS',
  callId: 'bundle-1@127.0.0.1',
  cseq: '1 OPTIONS',
  retransmission: false,
  sdp: false,
  size: MESSAGE.length,
  errors: 0,
  warnings: 0,
};

test('only the strict grammar flags the test message (control, ESM)', () => {
  const parsed = parseMessage(Buffer.from(MESSAGE, 'latin1'), { datagram: true });
  assert.ok(parsed.ok);
  const loose = conformance(parsed.message, { strict: false }).map((d) => d.code);
  const strict = conformance(parsed.message).map((d) => d.code);
  assert.deepEqual(loose, [], 'without the strict grammar the message is clean');
  assert.ok(strict.includes('to-uri-strict') && strict.includes('request-uri-strict'), `strict findings: ${strict.join(', ')}`);
});

test('the main-process CommonJS bundle: the strict grammar flags it too; certificates need no openssl', { skip: bundler ? false : 'vite or @electron-forge/plugin-vite is not installed', timeout: 60_000 }, async () => {
  const { vite } = bundler!;
  const forgeConfig = (await import(pathToFileURL(path.join(root, 'forge.config.ts')).href)) as { default: { plugins?: unknown[] } };
  const plugin = forgeConfig.default.plugins?.find((p): p is ForgeVitePlugin => typeof p === 'object' && p !== null && 'setDirectories' in p);
  assert.ok(plugin, 'forge.config.ts has the Vite plugin');
  plugin.setDirectories(root);
  plugin.isProd = true; // as under `electron-forge package`
  const configs = await plugin.configGenerator.getBuildConfigs();
  const main = configs[0];
  assert.ok(main?.build.lib, 'the first build target is the main process (a library build)');
  assert.deepEqual(main.build.lib.formats, ['cjs']);

  const out = await mkdtemp(path.join(tmpdir(), 'trunklab-main-bundle-'));
  try {
    const logs: string[] = [];
    main.build.lib.entry = {
      'message-detail': path.join(root, 'src', 'engine', 'message-detail.ts'),
      'tls-test-cert': path.join(root, 'src', 'sip', 'tls-test-cert.ts'),
    };
    main.build.outDir = out;
    main.build.sourcemap = false;
    main.build.rolldownOptions = {
      ...main.build.rolldownOptions,
      onLog(_level: string, log: { code?: string; id?: string; message: string }) {
        logs.push(`${log.code ?? ''} ${log.id ?? ''}: ${log.message.split('\n')[0]}`);
      },
    };
    await vite.build({ configFile: false, logLevel: 'silent', ...main });
    assert.deepEqual(
      logs.filter((l) => l.includes(`${path.sep}src${path.sep}sip${path.sep}`)),
      [],
      'no bundler warning about the SIP core (import.meta in a CommonJS bundle)',
    );

    const files = await readdir(out);
    assert.ok(files.includes('message-detail.cjs') && files.includes('tls-test-cert.cjs'), files.join(', '));
    for (const file of files) {
      const code = await readFile(path.join(out, file), 'utf8');
      assert.doesNotMatch(code, /require\(["'](?!node:)[^"'.]/, `${file} requires nothing but Node built-ins and its own chunks`);
    }

    const bundle = createRequire(import.meta.url)(path.join(out, 'message-detail.cjs')) as {
      messageDetail(summary: MessageSummary, bytes: Uint8Array, names: { fromName: string; toName: string }): MessageDetail;
    };
    const detail = bundle.messageDetail(SUMMARY, Buffer.from(MESSAGE, 'latin1'), { fromName: 'a', toName: 'b' });
    const codes = detail.diagnostics.map((d) => d.code);
    assert.ok(codes.includes('to-uri-strict'), `bundle diagnostics: ${codes.join(', ') || 'none'}`);
    assert.ok(codes.includes('request-uri-strict'), `bundle diagnostics: ${codes.join(', ') || 'none'}`);
    const good = bundle.messageDetail(SUMMARY, Buffer.from(MESSAGE.replaceAll(BAD_URI, 'sip:alice@example.com'), 'latin1'), { fromName: 'a', toName: 'b' });
    assert.deepEqual(good.diagnostics, [], 'a valid URI gets no strict finding');

    // A certificate from the bundle, with no program reachable on PATH.
    const script = `const { createTestCertificate } = require(${JSON.stringify(path.join(out, 'tls-test-cert.cjs'))});
      createTestCertificate({ ips: ['127.0.0.1', '::1'], dnsNames: ['fe.lab.example'] }).then((c) => process.stdout.write(JSON.stringify(c)));`;
    const child = spawnSync(process.execPath, ['-e', script], { env: { PATH: '' }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr);
    const made = JSON.parse(child.stdout) as { key: string; cert: string };
    const x = new X509Certificate(made.cert);
    assert.equal(x.subjectAltName, 'DNS:fe.lab.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(x.checkPrivateKey(createPrivateKey(made.key)), true);
    assert.equal(x.verify(x.publicKey), true);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

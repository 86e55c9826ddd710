#!/usr/bin/env node
/**
 * `npm start`: the desktop app when Electron can run here, otherwise the
 * same UI in the browser, served by `trunklab serve`.
 *
 * - `npx electron --version` succeeds (the Electron binary is present or
 *   could be downloaded) and there is a display: `electron-forge start`.
 * - Otherwise: one line saying why, build the renderer into dist/renderer/
 *   if it is missing or older than its sources, then
 *   `node src/cli/trunklab.js serve [args]`.
 * Extra arguments (`npm start -- --port 8080`) go to the app / to serve.
 * Plain JavaScript, no dependencies; stdio and SIGINT/SIGTERM are forwarded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rendererBuild = path.join(root, 'dist', 'renderer', 'index.html');
/** What the renderer build is made of: a change in any of them rebuilds it. */
const RENDERER_SOURCES = ['renderer', 'src/common', 'package.json', 'package-lock.json'];

function electronRuns() {
  const result = spawnSync('npx', ['--no', '--', 'electron', '--version'], {
    cwd: root,
    stdio: 'ignore',
    timeout: 300_000,
  });
  return result.status === 0;
}

function hasDisplay() {
  return process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

/** @param {string} target @returns {number} newest mtime (ms) under target, 0 if absent */
function newestMtime(target) {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(path.join(target, entry.name)));
  }
  return newest;
}

function rendererIsStale() {
  if (!existsSync(rendererBuild)) return true;
  const built = statSync(rendererBuild).mtimeMs;
  return RENDERER_SOURCES.some((source) => newestMtime(path.join(root, source)) > built);
}

/**
 * Runs a command in the foreground, forwarding SIGINT/SIGTERM; resolves to
 * its exit status (128 + signal number when it died of a signal).
 *
 * @param {string} command
 * @param {string[]} args
 * @returns {Promise<number>}
 */
function foreground(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    /** @param {NodeJS.Signals} signal */
    const forward = (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const done = (/** @type {number} */ status) => {
      process.removeListener('SIGINT', forward);
      process.removeListener('SIGTERM', forward);
      resolve(status);
    };
    child.on('error', (error) => {
      console.error(`start: cannot run ${command}: ${error.message}`);
      done(127);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

async function main() {
  const args = process.argv.slice(2);
  const electron = electronRuns();
  if (electron && hasDisplay()) {
    return foreground('npx', ['--no', '--', 'electron-forge', 'start', ...(args.length > 0 ? ['--', ...args] : [])]);
  }
  const reason = electron
    ? 'there is no display (DISPLAY/WAYLAND_DISPLAY unset)'
    : 'the Electron binary is missing (npx electron --version failed)';
  console.log(`start: ${reason}, so the UI is served in the browser instead (trunklab serve).`);
  if (rendererIsStale()) {
    const status = await foreground('npx', ['--no', '--', 'vite', 'build', '--config', 'renderer/vite.config.ts']);
    if (status !== 0) return status;
  }
  return foreground(process.execPath, [path.join(root, 'src', 'cli', 'trunklab.js'), 'serve', ...args]);
}

process.exitCode = await main();

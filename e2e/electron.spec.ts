/**
 * The desktop app end to end: the same tests as the browser (ui-tests.ts),
 * run through Playwright's `_electron` against the packaged app, where an
 * Electron binary runs here (`npx electron --version`). The package
 * (`electron-forge package`, out/Trunklab-<platform>-<arch>/) is made first
 * when it is missing or older than the sources: testing the packaged app
 * also tests what only a package can break (app.asar holds only `.vite/` and
 * package.json: the built-in lab topology, bundled dependencies).
 * Linux needs a display: run under `xvfb-run -a`. Skipped otherwise.
 *
 * TRUNKLAB_DESKTOP=dev runs the Forge build in `.vite/` instead of a package
 * (`electron-forge start` or `package` made it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { _electron as electron, type ElectronApplication, type Page, test } from '@playwright/test';

import { root } from './host.ts';
import { defineUiTests } from './ui-tests.ts';

const electronRuns = spawnSync('npx', ['--no', '--', 'electron', '--version'], { cwd: root, stdio: 'ignore', timeout: 60_000 }).status === 0;
const display = process.platform !== 'linux' || Boolean(process.env.DISPLAY);
const dev = process.env.TRUNKLAB_DESKTOP === 'dev';

/** The packaged executable, as Forge names it (packagerConfig.executableName). */
function packagedExecutable(): string {
  const dir = path.join(root, 'out', `Trunklab-${process.platform}-${process.arch}`);
  if (process.platform === 'win32') return path.join(dir, 'trunklab.exe');
  if (process.platform === 'darwin') return path.join(dir, 'Trunklab.app', 'Contents', 'MacOS', 'Trunklab');
  return path.join(dir, 'trunklab');
}

/** Newest modification time under the folders the package is made from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const dir of ['src', 'renderer', 'electron', 'fixtures/topologies']) walk(path.join(root, dir));
  for (const file of ['package.json', 'forge.config.ts']) newest = Math.max(newest, statSync(path.join(root, file)).mtimeMs);
  return newest;
}

test.skip(!electronRuns || !display, 'needs the Electron binary (npx electron --version) and a display (xvfb-run -a on Linux)');
test.skip(dev && !existsSync(path.join(root, '.vite', 'build', 'main.cjs')), 'TRUNKLAB_DESKTOP=dev needs the Forge build in .vite/');

test.describe.configure({ mode: 'serial' });

let app: ElectronApplication;
let page: Page;

test.beforeAll(async () => {
  test.setTimeout(600_000);
  const executable = packagedExecutable();
  if (!dev && (!existsSync(executable) || statSync(executable).mtimeMs < newestSource())) {
    const made = spawnSync('npx', ['--no', '--', 'electron-forge', 'package'], { cwd: root, stdio: 'inherit', timeout: 600_000 });
    if (made.status !== 0) throw new Error('electron-forge package failed');
  }
  // Chromium refuses to run as root with its sandbox (CI containers); the renderer stays sandboxed by Electron.
  const sandbox = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  app = await electron.launch(
    dev ? { args: [root, '--free-ports', ...sandbox], cwd: root } : { executablePath: executable, args: ['--free-ports', ...sandbox], cwd: root },
  );
  page = await app.firstWindow();
  await page.setViewportSize({ width: 1600, height: 900 });
});

test.afterAll(async () => {
  await app?.close();
});

test('desktop: the lab starts on the built-in topology', async () => {
  await page.getByText('Desktop app').waitFor();
  await page.getByText('Lab: lab.json (built in)').waitFor();
});

defineUiTests('desktop', () => page);

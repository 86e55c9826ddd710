/**
 * The desktop app end to end, where an Electron binary runs here
 * (`npx electron --version`) and the Forge build exists (`.vite/build/`,
 * made by `electron-forge start` or `package`). Linux needs a display: run
 * under `xvfb-run -a`. Skipped otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { _electron as electron, expect, test } from '@playwright/test';

import { root } from './host.ts';

const electronRuns = spawnSync('npx', ['--no', '--', 'electron', '--version'], { cwd: root, stdio: 'ignore', timeout: 60_000 }).status === 0;
const built = existsSync(path.join(root, '.vite', 'build', 'main.cjs'));
const display = process.platform !== 'linux' || Boolean(process.env.DISPLAY);

test.skip(!electronRuns || !built || !display, 'needs the Electron binary, the Forge build (.vite/) and a display');

test('desktop: place a call and see the ladder', async () => {
  const app = await electron.launch({ args: [root, '--free-ports'], cwd: root });
  try {
    const page = await app.firstWindow();
    await expect(page.getByText('Desktop app')).toBeVisible();
    await page.getByRole('tab', { name: 'Calls' }).click();
    const dialer = page.getByRole('form', { name: 'Place a call' });
    await dialer.getByRole('combobox', { name: 'From' }).selectOption('alice');
    await dialer.getByRole('combobox', { name: 'To' }).fill('2160');
    await dialer.getByRole('button', { name: 'Call' }).click();
    await page.getByRole('button', { name: 'Show ladder' }).click();
    await expect(page.getByRole('list', { name: 'Ladder' }).getByRole('listitem', { name: 'INVITE from Mediation-1 to IP-PBX', exact: true })).toBeVisible({
      timeout: 15_000,
    });
    const shots = path.join(root, 'test-results', 'screenshots');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'desktop-ladder.png') });
  } finally {
    await app.close();
  }
});

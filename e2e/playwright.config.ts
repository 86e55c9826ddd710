/**
 * Playwright configuration for the end-to-end specs (`e2e/**\/*.spec.ts`),
 * run by `npm test` (tools/run-tests.js) when specs exist and Debian's
 * Chromium is installed. Never `npx playwright install`: the browser is the
 * system one. Placeholder until the first spec lands: the UI will be served
 * by `trunklab serve` (browser mode) and, where the Electron binary exists,
 * launched with `_electron.launch` under xvfb-run.
 */
import { existsSync } from 'node:fs';

import { defineConfig } from '@playwright/test';

// /usr/bin/chromium is a shell wrapper that prints a warning; the binary behind it does not.
const chromium = existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium';

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  outputDir: '../test-results',
  reporter: process.env.CI ? [['list'], ['html', { outputFolder: '../playwright-report', open: 'never' }]] : 'list',
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  workers: 2,
  timeout: 30_000,
  use: {
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      // Without the background-networking flags Chromium keeps calling home
      // and gets refused; --no-sandbox because CI runs as root.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});

/**
 * Playwright configuration for the end-to-end specs (`e2e/**\/*.spec.ts`),
 * run by `npm test` (tools/run-tests.js) when specs exist and Debian's
 * Chromium is installed. Never `npx playwright install`: the browser is the
 * system one. The specs start `trunklab serve` themselves (e2e/host.ts);
 * globalSetup builds the renderer first. Headed: `xvfb-run -a npx playwright
 * test --config e2e/playwright.config.ts --headed`. Screenshots of each view
 * land in test-results/screenshots/.
 */
import { existsSync } from 'node:fs';

import { defineConfig } from '@playwright/test';

// /usr/bin/chromium is a shell wrapper that prints a warning; the binary behind it does not.
const chromium = existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium';

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  globalSetup: './global-setup.ts',
  outputDir: '../test-results',
  reporter: process.env.CI ? [['list'], ['html', { outputFolder: '../playwright-report', open: 'never' }]] : 'list',
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  workers: 2,
  timeout: 60_000,
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

/**
 * The UI end to end in Debian's Chromium against `trunklab serve` on the lab
 * topology: the token check, then the tests the desktop app runs too
 * (ui-tests.ts).
 */
import { expect, type Page, test } from '@playwright/test';

import { startTrunklab, type TrunklabProcess } from './host.ts';
import { defineUiTests } from './ui-tests.ts';

test.describe.configure({ mode: 'serial' });

let serve: TrunklabProcess;
let page: Page;

test.beforeAll(async ({ browser }) => {
  serve = await startTrunklab(['serve', '--free-ports', '--port', '0']);
  page = await browser.newPage({ viewport: { width: 1600, height: 900 }, acceptDownloads: true });
  await page.goto(serve.url);
});

test.afterAll(async () => {
  await page?.close();
  await serve?.stop();
});

test('the host refuses requests without the token', async ({ request }) => {
  const bare = new URL(serve.url);
  bare.search = '';
  expect((await request.get(bare.href)).status()).toBe(403);
  const wrong = new URL(serve.url);
  wrong.searchParams.set('token', 'not-the-token');
  expect((await request.get(wrong.href)).status()).toBe(403);
});

defineUiTests('browser', () => page);

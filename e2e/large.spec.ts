/**
 * A large trace in the browser: `trunklab view` on a 200,000-message pcap
 * (bench/ui-trace.ts, made once and cached in the temp folder). The page
 * holds only the rows it draws: the count, the end of the trace, "go to" a
 * message in the middle, and a filter over the whole trace.
 */
import path from 'node:path';

import { expect, test } from '@playwright/test';

import { syntheticPcap } from '../bench/ui-trace.ts';
import { root, startTrunklab, type TrunklabProcess } from './host.ts';

const MESSAGES = 200_000;
const shots = path.join(root, 'test-results', 'screenshots');

let view: TrunklabProcess;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  view = await startTrunklab(['view', await syntheticPcap(MESSAGES)]);
});

test.afterAll(async () => {
  await view?.stop();
});

test('a 200,000-message trace: count, go to the middle, filter', async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.goto(view.url);
  const count = page.locator('.filterbar .count');
  await expect(count).toContainText('200,000 of 200,000 messages', { timeout: 30_000 });
  const ladder = page.getByRole('list', { name: 'Ladder' });
  await expect(ladder.getByRole('listitem').first()).toBeVisible();
  await page.getByRole('textbox', { name: 'Go to message number' }).fill('100000');
  await page.getByRole('textbox', { name: 'Go to message number' }).press('Enter');
  await expect(ladder.locator('[aria-current="true"]')).toHaveAttribute('data-index', '99999');
  await expect(page.getByRole('complementary', { name: 'Inspector' })).toContainText('#100000');
  await page.screenshot({ path: path.join(shots, 'large-trace.png') });
  // Filters run over the whole trace on the engine's side, once it is indexed.
  await expect(count).not.toContainText('indexing', { timeout: 60_000 });
  await page.getByRole('combobox', { name: 'Method' }).selectOption('BYE');
  await expect(count).toContainText(/^[\d,]+ of 200,000 messages$/, { timeout: 30_000 });
  const byes = Number((await count.textContent())!.split(' of ')[0]!.replace(/,/g, ''));
  expect(byes).toBeGreaterThan(20_000);
  await expect(ladder.getByRole('listitem').first()).toHaveAttribute('aria-label', /^(BYE|200 OK) from /);
});

test('calls in the trace: the legs the evidence groups, one click to the ladder', async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.goto(view.url);
  await expect(page.locator('.filterbar .count')).not.toContainText('indexing', { timeout: 60_000 });
  await page.getByRole('tab', { name: 'Calls' }).click();
  const table = page.getByRole('table', { name: 'Calls in the trace' });
  // Front End → Mediation-1 and Mediation-1 → Gateway-A: two legs, joined by the evidence (no B2BUA told the store).
  await expect(table.getByRole('row').nth(1)).toContainText(/2 legs · \d+% sure/);
  await expect(page.getByRole('form', { name: 'Place a call' })).toHaveCount(0);
  await page.screenshot({ path: path.join(shots, 'trace-calls.png') });
  await table.getByRole('row').nth(1).getByRole('button', { name: 'Ladder' }).click();
  await expect(page.locator('.filterbar .count')).toContainText('14 of 200,000 messages');
  await expect(page.getByRole('combobox', { name: 'Leg' })).toContainText('All legs (2 legs,');
  await page.screenshot({ path: path.join(shots, 'trace-call-ladder.png') });
});

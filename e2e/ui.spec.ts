/**
 * The UI end to end, in Debian's Chromium against `trunklab serve` on the
 * lab topology: token check, topology, placing a call, the ladder filling,
 * the inspector, a pcap export checked with tshark, a capture import, and a
 * screenshot of each view (test-results/screenshots/).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { expect, type Page, test } from '@playwright/test';

import { root, startTrunklab, type TrunklabProcess } from './host.ts';

const shots = path.join(root, 'test-results', 'screenshots');
mkdirSync(shots, { recursive: true });
const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

test.describe.configure({ mode: 'serial' });

let serve: TrunklabProcess;
let page: Page;

test.beforeAll(async ({ browser }) => {
  serve = await startTrunklab(['serve', '--free-ports', '--port', '0']);
  page = await browser.newPage({ viewport: { width: 1600, height: 900 }, acceptDownloads: true });
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

test('topology: every element, pools and trunks with health', async () => {
  await page.goto(serve.url);
  await expect(page.getByText('Connected to trunklab serve')).toBeVisible();
  await page.getByRole('tab', { name: 'Topology' }).click();
  const diagram = page.getByRole('img', { name: 'Lab topology diagram' });
  await expect(diagram).toBeVisible();
  for (const name of ['FE-Pool', 'Mediation-1', 'Mediation-2', 'Gateway-A', 'IP-PBX', 'ITSP-SBC', 'Alice Anders']) {
    await expect(diagram.getByText(name, { exact: true })).toBeVisible();
  }
  await expect(diagram.getByText('Mediation Pool 1')).toBeVisible();
  await expect(page.getByRole('table', { name: 'Trunks' }).getByRole('row')).toHaveCount(12);
  await page.screenshot({ path: path.join(shots, 'topology.png') });
});

test('calls: place a call from the UI and watch it connect', async () => {
  await page.getByRole('tab', { name: 'Calls' }).click();
  const dialer = page.getByRole('form', { name: 'Place a call' });
  await dialer.getByRole('combobox', { name: 'From' }).selectOption('alice');
  await dialer.getByRole('combobox', { name: 'To' }).fill('2160');
  await dialer.getByRole('button', { name: 'Call' }).click();
  const row = page.getByRole('table', { name: 'Calls' }).getByRole('row').nth(1);
  await expect(row).toContainText('Alice Anders');
  await expect(row).toContainText('connected', { timeout: 15_000 });
  await expect(row.getByRole('cell').nth(5)).toContainText('ms');
  await page.screenshot({ path: path.join(shots, 'calls.png') });
});

test('ladder: the call fills it with the expected arrows', async () => {
  await page.getByRole('button', { name: 'Show ladder' }).click();
  const ladder = page.getByRole('list', { name: 'Ladder' });
  for (const name of [
    'INVITE from Alice Anders to FE-Pool',
    'INVITE from FE-Pool to Mediation-1',
    'INVITE from Mediation-1 to IP-PBX',
    '200 OK from IP-PBX to Mediation-1',
    '200 OK from FE-Pool to Alice Anders',
    'ACK from Mediation-1 to IP-PBX',
  ]) {
    await expect(ladder.getByRole('listitem', { name, exact: true }).first()).toBeVisible();
  }
  await page.screenshot({ path: path.join(shots, 'ladder.png') });
});

test('inspector: click an arrow and read its bytes', async () => {
  const arrow = page.getByRole('list', { name: 'Ladder' }).getByRole('listitem', { name: 'INVITE from Mediation-1 to IP-PBX', exact: true }).first();
  await arrow.click();
  const inspector = page.getByRole('complementary', { name: 'Inspector' });
  const raw = inspector.getByLabel('Raw message');
  await expect(raw).toContainText('INVITE sip:');
  await expect(raw).toContainText('Call-ID');
  await expect(raw).toContainText('\\r\\n');
  await page.screenshot({ path: path.join(shots, 'inspector-raw.png') });
  await inspector.getByRole('tab', { name: /^SDP/ }).click();
  await expect(inspector.getByRole('table')).toContainText('m=');
  await page.screenshot({ path: path.join(shots, 'inspector-sdp.png') });
  await inspector.getByRole('tab', { name: /^Headers/ }).click();
  await expect(inspector.getByRole('table')).toContainText('Via');
});

test('keyboard: arrows move the selection', async () => {
  const ladder = page.getByRole('list', { name: 'Ladder' });
  await page.locator('#ladder-scroll').focus();
  const before = await ladder.locator('[aria-current="true"]').getAttribute('data-index');
  await page.keyboard.press('ArrowDown');
  const after = await ladder.locator('[aria-current="true"]').getAttribute('data-index');
  expect(Number(after)).toBeGreaterThan(Number(before));
});

test('calls: hang up sends BYE through the trunk', async () => {
  await page.getByRole('tab', { name: 'Calls' }).click();
  await page.getByRole('button', { name: 'Hang up' }).click();
  await expect(page.getByRole('table', { name: 'Calls' }).getByRole('row').nth(1)).toContainText('ended', { timeout: 10_000 });
  await page.getByRole('tab', { name: 'Ladder' }).click();
  await expect(page.getByRole('list', { name: 'Ladder' }).getByRole('listitem', { name: 'BYE from Mediation-1 to IP-PBX', exact: true })).toBeVisible();
});

test('export: a pcap of the call that tshark reads', async () => {
  test.skip(!hasTshark, 'tshark is not installed');
  await page.getByRole('button', { name: 'Export ▾' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('menuitem', { name: 'pcap', exact: true }).click()]);
  const file = path.join(test.info().outputPath(), download.suggestedFilename());
  await download.saveAs(file);
  expect(file).toMatch(/\.pcap$/);
  const tshark = spawnSync('tshark', ['-r', file, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Method', '-e', 'sip.Status-Code'], { encoding: 'utf8' });
  expect(tshark.status).toBe(0);
  const lines = tshark.stdout.trim().split('\n');
  expect(lines.some((l) => l.startsWith('INVITE'))).toBe(true);
  expect(lines.some((l) => l.startsWith('BYE'))).toBe(true);
  expect(lines.some((l) => l.includes('200'))).toBe(true);
});

test('export: the ladder as SVG', async () => {
  await page.getByRole('button', { name: 'Export ▾' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('menuitem', { name: 'Ladder as SVG' }).click()]);
  expect(download.suggestedFilename()).toMatch(/\.svg$/);
});

test('files: import a capture file into the ladder', async () => {
  await page.getByRole('button', { name: 'Clear filter' }).click();
  await page.getByLabel('Open a capture or log file').setInputFiles(path.join(root, 'fixtures', 'captures', 'sipp-tcp-call.pcap'));
  await expect(page.getByText(/sipp-tcp-call\.pcap: 6 messages imported/)).toBeVisible();
  await page.getByRole('combobox', { name: 'Method' }).selectOption('INVITE');
  const ladder = page.getByRole('list', { name: 'Ladder' });
  const invite = ladder.getByRole('listitem', { name: /^INVITE from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+$/ });
  await expect(invite).toHaveCount(1);
  await invite.click();
  await page.getByRole('button', { name: 'Only this Call-ID' }).click();
  await page.getByRole('combobox', { name: 'Method' }).selectOption('');
  await expect(ladder.getByRole('listitem')).toHaveCount(6);
  await page.screenshot({ path: path.join(shots, 'import.png') });
});

/**
 * The UI tests both hosts run: the browser against `trunklab serve`
 * (ui.spec.ts) and the desktop app through Playwright's `_electron`
 * (electron.spec.ts). One page, in order: topology, placing a call, the
 * ladder, the inspector, keyboard, hang-up, exports, a capture import, the
 * call and leg filter, go-to, the splitter, and a screenshot of each view
 * (test-results/screenshots/, `desktop-` first for the desktop app).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { expect, type Page, test } from '@playwright/test';

import { root } from './host.ts';

const shots = path.join(root, 'test-results', 'screenshots');
mkdirSync(shots, { recursive: true });
const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
/** The desktop app saves exports through the native save dialog, which a test cannot answer. */
const DOWNLOADS = 'the desktop app saves exports through the native save dialog';

/** Registers the shared tests; `current()` gives the page, opened by the spec's beforeAll on the Topology tab's host. */
export function defineUiTests(kind: 'browser' | 'desktop', current: () => Page): void {
  let page: Page;
  const shot = (name: string): string => `${kind === 'desktop' ? 'desktop-' : ''}${name}.png`;
  test.beforeAll(() => {
    page = current();
  });

  test('topology: every element, pools and trunks with health', async () => {
    await expect(page.getByText(kind === 'desktop' ? 'Desktop app' : 'Connected to trunklab serve')).toBeVisible();
    await page.getByRole('tab', { name: 'Topology' }).click();
    const diagram = page.getByRole('img', { name: 'Lab topology diagram' });
    await expect(diagram).toBeVisible();
    for (const name of ['FE-Pool', 'Mediation-1', 'Mediation-2', 'Gateway-A', 'IP-PBX', 'ITSP-SBC', 'Alice Anders']) {
      await expect(diagram.getByText(name, { exact: true })).toBeVisible();
    }
    await expect(diagram.getByText('Mediation Pool 1')).toBeVisible();
    await expect(page.getByRole('table', { name: 'Trunks' }).getByRole('row')).toHaveCount(12);
    await page.screenshot({ path: path.join(shots, shot('topology')) });
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
    await page.screenshot({ path: path.join(shots, shot('calls')) });
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
    await page.screenshot({ path: path.join(shots, shot('ladder')) });
  });

  test('inspector: click an arrow and read its bytes', async () => {
    const arrow = page.getByRole('list', { name: 'Ladder' }).getByRole('listitem', { name: 'INVITE from Mediation-1 to IP-PBX', exact: true }).first();
    await arrow.click();
    const inspector = page.getByRole('complementary', { name: 'Inspector' });
    const raw = inspector.getByLabel('Raw message');
    await expect(raw).toContainText('INVITE sip:');
    await expect(raw).toContainText(/Call-ID/i);
    await expect(raw).toContainText('\\r\\n');
    await page.screenshot({ path: path.join(shots, shot('inspector-raw')) });
    await inspector.getByRole('tab', { name: /^SDP/ }).click();
    await expect(inspector.getByRole('table')).toContainText('m=');
    await page.screenshot({ path: path.join(shots, shot('inspector-sdp')) });
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
    test.skip(kind === 'desktop', DOWNLOADS);
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
    test.skip(kind === 'desktop', DOWNLOADS);
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
    await page.screenshot({ path: path.join(shots, shot('import')) });
  });

  test('filter: a lab call, then one of its legs as the trace store grouped them', async () => {
    await page.getByRole('button', { name: 'Clear filter' }).click();
    const bar = page.getByRole('search', { name: 'Ladder filter' });
    await bar.getByRole('combobox', { name: 'Call' }).selectOption({ label: 'Alice Anders → 2160 · ended' });
    const legs = bar.getByRole('combobox', { name: 'Leg' });
    await expect(legs.getByRole('option')).toHaveCount(3);
    await expect(legs.getByRole('option').first()).toHaveText(/All legs \(2 legs, B2BUA\)/);
    const ladder = page.getByRole('list', { name: 'Ladder' });
    await expect(ladder.getByRole('listitem', { name: 'INVITE from Alice Anders to FE-Pool', exact: true })).toBeVisible();
    // The Mediation Server's leg to the IP-PBX alone.
    await legs.selectOption({ index: 2 });
    await expect(ladder.getByRole('listitem', { name: 'INVITE from Mediation-1 to IP-PBX', exact: true })).toBeVisible();
    await expect(ladder.getByRole('listitem', { name: 'INVITE from Alice Anders to FE-Pool', exact: true })).toHaveCount(0);
    await page.screenshot({ path: path.join(shots, shot('call-legs')) });
  });

  test('go to a message number selects it', async () => {
    await page.getByRole('button', { name: 'Clear filter' }).click();
    await page.getByRole('textbox', { name: 'Go to message number' }).fill('3');
    await page.getByRole('textbox', { name: 'Go to message number' }).press('Enter');
    await expect(page.getByRole('list', { name: 'Ladder' }).locator('[aria-current="true"]')).toHaveAttribute('data-index', '2');
    await expect(page.getByRole('complementary', { name: 'Inspector' })).toContainText('#3');
  });

  test('inspector: the splitter resizes it, by mouse and by keyboard', async () => {
    const inspector = page.getByRole('complementary', { name: 'Inspector' });
    const handle = page.getByRole('separator', { name: 'Resize the inspector' });
    const before = (await inspector.boundingBox())!.width;
    const box = (await handle.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 200);
    await page.mouse.down();
    await page.mouse.move(box.x - 200, box.y + 200, { steps: 5 });
    await page.mouse.up();
    const wider = (await inspector.boundingBox())!.width;
    expect(wider).toBeGreaterThan(before + 150);
    await handle.focus();
    await page.keyboard.press('Shift+ArrowRight');
    await expect.poll(async () => (await inspector.boundingBox())!.width).toBeLessThan(wider - 50);
    await page.screenshot({ path: path.join(shots, shot('inspector-wide')) });
    // Back to the default for the screenshots that follow.
    await handle.dblclick();
  });

  test('export: Lync log, JSON trace and SIPp scenario are offered; the JSON opens again', async () => {
    test.skip(kind === 'desktop', DOWNLOADS);
    await page.getByRole('button', { name: 'Export ▾' }).click();
    const menu = page.getByRole('menu', { name: 'Export' });
    for (const name of ['Lync log (.log)', 'JSON trace', 'SIPp scenario']) await expect(menu.getByRole('menuitem', { name })).toBeEnabled();
    const [log] = await Promise.all([page.waitForEvent('download'), menu.getByRole('menuitem', { name: 'Lync log (.log)' }).click()]);
    const logFile = path.join(test.info().outputPath(), log.suggestedFilename());
    await log.saveAs(logFile);
    expect(readFileSync(logFile, 'latin1')).toContain('$$begin_record');

    await page.getByRole('search', { name: 'Ladder filter' }).getByRole('combobox', { name: 'Call' }).selectOption({ label: 'Alice Anders → 2160 · ended' });
    await page.getByRole('button', { name: 'Export ▾' }).click();
    const [sipp] = await Promise.all([page.waitForEvent('download'), page.getByRole('menuitem', { name: 'SIPp scenario' }).click()]);
    const sippFile = path.join(test.info().outputPath(), sipp.suggestedFilename());
    await sipp.saveAs(sippFile);
    expect(readFileSync(sippFile, 'latin1')).toMatch(/<scenario name=/);

    await page.getByRole('button', { name: 'Clear filter' }).click();
    await page.getByRole('button', { name: 'Export ▾' }).click();
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('menuitem', { name: 'JSON trace' }).click()]);
    const jsonFile = path.join(test.info().outputPath(), 'trace.json');
    await json.saveAs(jsonFile);
    const number = (text: string | null): number => Number(/([\d,]+) messages/.exec(text ?? '')![1]!.replace(/,/g, ''));
    const before = number(await page.locator('.statusbar').textContent());
    await page.getByLabel('Open a capture or log file').setInputFiles(jsonFile);
    const notice = page.getByText(/trace\.json: [\d,]+ messages imported/);
    await expect(notice).toBeVisible();
    const added = number(await notice.textContent());
    expect(added).toBeGreaterThanOrEqual(before);
    await expect.poll(async () => number(await page.locator('.statusbar').textContent())).toBeGreaterThanOrEqual(before + added);
  });
}

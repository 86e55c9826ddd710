/**
 * The UI tests both hosts run: the browser against `trunklab serve`
 * (ui.spec.ts) and the desktop app through Playwright's `_electron`
 * (electron.spec.ts). One page, in order: topology, placing a call, the
 * ladder, the inspector, keyboard, hang-up, exports, a capture import, the
 * call and leg filter, go-to, the splitter, the player (stepping through one
 * call of a capture), qualification and the flow diff, call features (hold
 * from the PSTN side, attended transfer, withheld caller ID), and a screenshot of each view
 * (test-results/screenshots/, `desktop-` first for the desktop app).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';

import { expect, type Page, test } from '@playwright/test';

import { root } from './host.ts';

const shots = path.join(root, 'test-results', 'screenshots');
mkdirSync(shots, { recursive: true });
const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
/** The desktop app saves exports through the native save dialog, which a test cannot answer. */
const DOWNLOADS = 'the desktop app saves exports through the native save dialog';

/** The player's position from its readout (`message 12 of 340, +1.234 s`): 0-based, and the view's count. */
async function playerAt(page: Page): Promise<{ pos: number; count: number }> {
  const text = (await page.getByRole('group', { name: 'Player' }).locator('.player-pos').textContent()) ?? '';
  const m = /message ([\d,]+) of ([\d,]+)/.exec(text);
  if (!m) return { pos: -1, count: Number(/([\d,]+) messages?/.exec(text)?.[1]?.replace(/,/g, '') ?? 0) };
  return { pos: Number(m[1]!.replace(/,/g, '')) - 1, count: Number(m[2]!.replace(/,/g, '')) };
}

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

  // The player (issue 6, replay 5a): one call of an imported capture, step by step, then played.
  // trunklab-export.pcapng holds four calls of seven messages; its TCP call (Call-ID tcp4-call@…) is the one stepped through.
  const FLOW: [label: RegExp, startLine: RegExp][] = [
    [/^INVITE \(SDP\) from /, /^INVITE sip:/],
    [/^100 Trying from /, /^SIP\/2\.0 100 Trying$/],
    [/^180 Ringing from /, /^SIP\/2\.0 180 Ringing$/],
    [/^200 OK \(SDP\) from |^200 OK from /, /^SIP\/2\.0 200 OK$/],
    [/^ACK from /, /^ACK sip:/],
    [/^BYE from /, /^BYE sip:/],
    [/^200 OK from /, /^SIP\/2\.0 200 OK$/],
  ];

  test('player: step through one call of a capture; the ladder highlights and the inspector follows', async () => {
    await page.getByRole('tab', { name: 'Ladder' }).click();
    const clear = page.getByRole('button', { name: 'Clear filter' });
    if ((await clear.count()) > 0) await clear.click();
    await page.getByLabel('Open a capture or log file').setInputFiles(path.join(root, 'fixtures', 'captures', 'trunklab-export.pcapng'));
    await expect(page.getByText(/trunklab-export\.pcapng: 28 messages imported/)).toBeVisible();
    // One call: its INVITE found by the search, then the inspector's "Only this Call-ID".
    await page.getByRole('searchbox', { name: 'Search' }).fill('tcp4-call');
    const ladder = page.getByRole('list', { name: 'Ladder' });
    await ladder.getByRole('listitem', { name: /^INVITE/ }).click();
    const inspector = page.getByRole('complementary', { name: 'Inspector' });
    await inspector.getByRole('button', { name: 'Only this Call-ID' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).fill('');
    await expect(page.locator('.filterbar .count')).toContainText(/^7 of /);
    await expect(ladder.getByRole('listitem')).toHaveCount(7);

    // The filter kept the selected INVITE: the player stands on it, at the start of the call.
    const player = page.getByRole('group', { name: 'Player' });
    await expect(player.locator('.player-pos')).toHaveText(/^message 1 of 7, \+0\.000 s$/);
    await expect(player.getByRole('button', { name: 'Go to start' })).toBeDisabled();
    for (let n = 1; n < FLOW.length; n++) {
      await player.getByRole('button', { name: 'Step forward' }).click();
      const current = ladder.locator('[aria-current="true"]');
      await expect(current).toHaveAttribute('aria-posinset', String(n + 1));
      await expect(current).toHaveAttribute('aria-label', FLOW[n]![0]);
      await expect(player.locator('.player-pos')).toHaveText(new RegExp(`^message ${n + 1} of 7, \\+0\\.\\d{3} s$`));
      // The inspector shows the same message: its number and its start line.
      const index = Number(await current.getAttribute('data-index'));
      await expect(inspector.locator('.insp-title strong')).toHaveText(`#${index + 1}`);
      await expect(inspector.locator('.insp-start')).toHaveText(FLOW[n]![1]);
      // Played arrows look normal, the ones still to come are dimmed.
      await expect(ladder.locator('.lrow.future')).toHaveCount(FLOW.length - 1 - n);
    }
    // Past the end: nothing further.
    await expect(player.getByRole('button', { name: 'Step forward' })).toBeDisabled();
    await player.getByRole('button', { name: 'Step back' }).click();
    await expect(ladder.locator('[aria-current="true"]')).toHaveAttribute('aria-posinset', '6');
    await expect(inspector.locator('.insp-start')).toHaveText(FLOW[5]![1]);
    // The scrubber moves the position too.
    await player.getByRole('slider', { name: 'Position' }).fill('2');
    await expect(ladder.locator('[aria-current="true"]')).toHaveAttribute('aria-posinset', '2');
    await expect(inspector.locator('.insp-start')).toHaveText(FLOW[1]![1]);
    await page.screenshot({ path: path.join(shots, shot('player-step')) });
  });

  test('player: plays the call at 10× to its end and stops there', async () => {
    const player = page.getByRole('group', { name: 'Player' });
    const ladder = page.getByRole('list', { name: 'Ladder' });
    await player.getByRole('button', { name: 'Go to start' }).click();
    await player.getByRole('combobox', { name: 'Speed' }).selectOption({ label: '10×' });
    await player.getByRole('button', { name: 'Play' }).click();
    await expect(player.locator('.player-pos')).toHaveText(/^message 7 of 7,/, { timeout: 10_000 });
    await expect(player.getByRole('button', { name: 'Play' })).toBeVisible();
    await expect(player.getByRole('button', { name: 'Pause' })).toHaveCount(0);
    await expect(ladder.locator('[aria-current="true"]')).toHaveAttribute('aria-posinset', '7');
    await expect(ladder.locator('.lrow.future')).toHaveCount(0);
    await expect(page.getByRole('complementary', { name: 'Inspector' }).locator('.insp-start')).toHaveText(FLOW[6]![1]);
    await expect(player.getByText(/^End of the view: message 7 of 7\.$/)).toBeAttached();
  });

  test('player: pause stops the play; Space plays and pauses, ←/→ step', async () => {
    const player = page.getByRole('group', { name: 'Player' });
    const ladder = page.getByRole('list', { name: 'Ladder' });
    // The whole trace (the lab's calls and two captures, growing with OPTIONS): long enough to pause in the middle.
    await page.getByRole('button', { name: 'Clear filter' }).click();
    await expect.poll(async () => (await playerAt(page)).count).toBeGreaterThan(20);
    await player.getByRole('combobox', { name: 'Speed' }).selectOption({ label: '1 per 250 ms' });
    await player.getByRole('button', { name: 'Go to start' }).click();
    await player.getByRole('button', { name: 'Play' }).click();
    await expect.poll(async () => (await playerAt(page)).pos, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: path.join(shots, shot('player-playing')) });
    await player.getByRole('button', { name: 'Pause' }).click();
    const paused = await playerAt(page);
    expect(paused.pos).toBeLessThan(paused.count - 1);
    await page.waitForTimeout(1000);
    expect((await playerAt(page)).pos).toBe(paused.pos);
    await expect(ladder.locator('[aria-current="true"]')).toHaveAttribute('aria-posinset', String(paused.pos + 1));
    await expect(player.getByText(new RegExp(`^Paused at message ${paused.pos + 1} of `))).toBeAttached();

    // The keys, from the ladder.
    await page.locator('#ladder-scroll').focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(async () => (await playerAt(page)).pos).toBe(paused.pos + 1);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(async () => (await playerAt(page)).pos).toBe(paused.pos + 1);
    await expect(ladder.locator('[aria-current="true"]')).toHaveAttribute('aria-posinset', String(paused.pos + 2));
    // The ladder's own keys still move the same position.
    await page.keyboard.press('j');
    await expect.poll(async () => (await playerAt(page)).pos).toBe(paused.pos + 2);
    await page.keyboard.press(' ');
    await expect(player.getByRole('button', { name: 'Pause' })).toBeVisible();
    await expect.poll(async () => (await playerAt(page)).pos, { timeout: 10_000 }).toBeGreaterThan(paused.pos + 2);
    await page.keyboard.press(' ');
    await expect(player.getByRole('button', { name: 'Play' })).toBeVisible();
    const stopped = (await playerAt(page)).pos;
    await page.waitForTimeout(600);
    expect((await playerAt(page)).pos).toBe(stopped);

    // A new filter pauses a play.
    await page.keyboard.press(' ');
    await expect(player.getByRole('button', { name: 'Pause' })).toBeVisible();
    await page.getByRole('combobox', { name: 'Method' }).selectOption('INVITE');
    await expect(player.getByRole('button', { name: 'Play' })).toBeVisible();
    await expect(player.getByText('The filter changed: paused.')).toBeAttached();
    await page.getByRole('button', { name: 'Clear filter' }).click();
  });

  // Qualification (issue 6): cases run from the UI on fresh labs; a failing step's message opens on the ladder; two calls diffed.
  test('qualification: run two cases, a failing verdict opens its message on the ladder', async () => {
    // A device that refuses: a TCP port on 127.0.0.1 bound, then closed. The Front End routes around it to a trunk that strips the +.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    await page.getByRole('tab', { name: 'Qualification' }).click();
    const picker = page.getByRole('complementary', { name: 'Choose cases' });
    await picker.getByRole('searchbox', { name: 'Case pattern' }).fill('basic-outbound-answer,caller-id-outbound-pai');
    await expect(picker.getByRole('list', { name: 'Cases' }).getByRole('checkbox')).toHaveCount(2);
    await picker.getByRole('textbox', { name: 'External devices' }).fill(`gw-a=127.0.0.1:${port}/tcp`);
    await picker.getByRole('combobox', { name: 'Time scale' }).selectOption('0.25');
    await picker.getByRole('button', { name: 'Run 2 cases' }).click();
    await expect(page.getByText(/^Done: 1 passed, 1 failed in /)).toBeVisible({ timeout: 30_000 });
    const results = page.getByRole('table', { name: 'Qualification results' });
    const failedRow = results.getByRole('row').filter({ hasText: 'basic-outbound-answer' }).first();
    await expect(failedRow).toContainText('fail');
    await expect(failedRow).toContainText(/expected Request-URI matching .*observed sip:14255550110@/);
    await expect(results.getByRole('row').filter({ hasText: 'caller-id-outbound-pai' }).first()).toContainText('pass');
    // The failed case shows its steps: expected, observed, and the message.
    const steps = page.getByRole('table', { name: 'Steps of basic-outbound-answer' });
    const failedStep = steps.locator('tr.q-step-fail');
    await expect(failedStep).toContainText('Request-URI matching');
    await page.screenshot({ path: path.join(shots, shot('qualification')) });

    const message = failedStep.getByRole('button', { name: /INVITE · Mediation-1 → Gateway-B/ });
    const index = Number(/#(\d+)/.exec((await message.textContent()) ?? '')![1]) - 1;
    await message.click();
    await expect(page.getByRole('tab', { name: 'Ladder' })).toHaveAttribute('aria-selected', 'true');
    const current = page.getByRole('list', { name: 'Ladder' }).locator('[aria-current="true"]');
    await expect(current).toHaveAttribute('data-index', String(index));
    await expect(current).toHaveAttribute('aria-label', /^INVITE( \(SDP\))? from Mediation-1 to Gateway-B$/);
    await expect(current).toBeInViewport();
    await expect(page.getByRole('search', { name: 'Ladder filter' }).getByRole('button', { name: /case basic-outbound-answer/ })).toBeVisible();
    const inspector = page.getByRole('complementary', { name: 'Inspector' });
    await expect(inspector).toContainText(`#${index + 1}`);
    await expect(inspector.getByLabel('Raw message')).toContainText('INVITE sip:14255550110@');
    await page.screenshot({ path: path.join(shots, shot('qualification-ladder')) });
  });

  test('qualification: the JUnit XML and the HTML report of the run download', async () => {
    test.skip(kind === 'desktop', DOWNLOADS);
    await page.getByRole('tab', { name: 'Qualification' }).click();
    const [junit] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'JUnit XML' }).click()]);
    const file = path.join(test.info().outputPath(), junit.suggestedFilename());
    await junit.saveAs(file);
    expect(readFileSync(file, 'utf8')).toMatch(/<testsuites name="trunklab qualification" tests="2" failures="1"/);
    const [html] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'HTML report' }).click()]);
    expect(html.suggestedFilename()).toMatch(/\.html$/);
  });

  test('diff: two calls of the trace side by side; a click opens a message on the ladder', async () => {
    // The calls of the two cases: each one's INVITE, then the inspector's "Only this call".
    const callOf = async (caseId: string, arrow: RegExp): Promise<string> => {
      await page.getByRole('tab', { name: 'Qualification' }).click();
      await page.getByRole('table', { name: 'Qualification results' }).getByRole('row').filter({ hasText: caseId }).first().getByRole('button', { name: 'Ladder' }).click();
      await page.getByRole('list', { name: 'Ladder' }).getByRole('listitem', { name: arrow }).first().click();
      await page.getByRole('complementary', { name: 'Inspector' }).getByRole('button', { name: 'Only this call', exact: true }).click();
      const value = await page.getByRole('search', { name: 'Ladder filter' }).getByRole('combobox', { name: 'Call' }).inputValue();
      expect(value).toMatch(/^trace:c\d+$/);
      return value.slice('trace:'.length);
    };
    const failing = await callOf('basic-outbound-answer', /^INVITE( \(SDP\))? from Mediation-1 to Gateway-B$/);
    const passing = await callOf('caller-id-outbound-pai', /^INVITE( \(SDP\))? from Mediation-1 to IP-PBX$/);
    expect(failing).not.toBe(passing);

    await page.getByRole('tab', { name: 'Diff' }).click();
    const bar = page.getByRole('form', { name: 'Flows to compare' });
    await bar.getByRole('combobox', { name: 'Flow A' }).selectOption(`call:${passing}`);
    await bar.getByRole('combobox', { name: 'Flow B' }).selectOption(`call:${failing}`);
    await bar.getByRole('button', { name: 'Compare' }).click();
    const table = page.getByRole('table', { name: 'Aligned messages' });
    // Both start alike (Alice's INVITE to the Front End) ...
    await expect(table.getByRole('row').nth(1)).toHaveAttribute('aria-label', /^aligned/);
    // ... then A went to the IP-PBX and B, after a 503, to Gateway-B.
    const missing = table.getByRole('row', { name: 'missing in B' }).filter({ hasText: 'IP-PBX' });
    const extra = table.getByRole('row', { name: 'extra in B' }).filter({ hasText: 'Gateway-B' });
    await expect(missing.first()).toBeVisible();
    await expect(extra.first()).toBeVisible();
    await expect(page.getByText(/^\d+ missing in B$/)).not.toHaveText('0 missing in B');
    await page.screenshot({ path: path.join(shots, shot('diff')) });

    const side = extra.first().getByRole('button', { name: /^B: / });
    const index = Number(/message (\d+)$/.exec((await side.getAttribute('aria-label')) ?? '')![1]) - 1;
    await side.click();
    await expect(page.getByRole('list', { name: 'Ladder' }).locator('[aria-current="true"]')).toHaveAttribute('data-index', String(index));
    await expect(page.getByRole('search', { name: 'Ladder filter' }).getByRole('combobox', { name: 'Call' })).toHaveValue(`trace:${failing}`);
    await page.getByRole('button', { name: 'Clear filter' }).click();
  });

  // Call features from the Calls view: hold from the PSTN side, attended transfer, a withheld caller ID.
  const labCalls = () => page.getByRole('table', { name: 'Calls', exact: true }).getByRole('row');
  const controls = () => page.getByRole('group', { name: /^Controls of call / });
  const rawMessage = () => page.getByRole('complementary', { name: 'Inspector' }).getByLabel('Raw message');
  const placeCall = async (from: string, to: string, withhold = false): Promise<void> => {
    await page.getByRole('tab', { name: 'Calls' }).click();
    const dialer = page.getByRole('form', { name: 'Place a call' });
    await dialer.getByRole('combobox', { name: 'From' }).selectOption(from);
    const check = dialer.getByRole('checkbox', { name: 'Withhold caller ID' });
    if (withhold) await check.check();
    else if (await check.isEnabled()) await check.uncheck();
    await dialer.getByRole('combobox', { name: 'To' }).fill(to);
    await dialer.getByRole('button', { name: 'Call' }).click();
  };

  test('calls: hold and resume from the PSTN side; the gateway re-INVITEs with a=sendonly', async () => {
    await placeCall('alice', '+14255550110');
    const row = labCalls().nth(1);
    await expect(row).toContainText('+14255550110');
    await expect(row.locator('.state')).toHaveText('connected', { timeout: 15_000 });
    await controls().getByRole('combobox', { name: 'PSTN hold direction' }).selectOption('sendonly');
    await controls().getByRole('button', { name: 'Hold from PSTN' }).click();
    await expect(row.locator('.state')).toHaveText('held · PSTN', { timeout: 10_000 });
    // Held from the PSTN side: resumed from there, not by the Lync user.
    await expect(controls().getByRole('button', { name: 'Resume', exact: true })).toBeDisabled();
    await expect(controls().getByRole('button', { name: 'Resume from PSTN' })).toBeEnabled();
    await page.screenshot({ path: path.join(shots, shot('calls-pstn-hold')) });

    await controls().getByRole('button', { name: 'Show ladder' }).click();
    const ladder = page.getByRole('list', { name: 'Ladder' });
    // The call was placed by alice: every INVITE the gateway sends on it is a re-INVITE.
    const reinvite = ladder.getByRole('listitem', { name: /^INVITE( \(SDP\))? from Gateway-A to Mediation-1$/ });
    await expect(reinvite).toHaveCount(1);
    await reinvite.click();
    await expect(rawMessage()).toContainText('a=sendonly');
    // Relayed to alice, who answers a=recvonly.
    await ladder.getByRole('listitem', { name: /^INVITE( \(SDP\))? from FE-Pool to Alice Anders$/ }).first().click();
    await expect(rawMessage()).toContainText('a=sendonly');

    await page.getByRole('tab', { name: 'Calls' }).click();
    await controls().getByRole('button', { name: 'Resume from PSTN' }).click();
    await expect(row.locator('.state')).toHaveText('connected', { timeout: 10_000 });
    await page.getByRole('tab', { name: 'Ladder' }).click();
    await expect(reinvite).toHaveCount(2);
    await reinvite.nth(1).click();
    await expect(rawMessage()).toContainText('a=sendrecv');
    await page.getByRole('tab', { name: 'Calls' }).click();
    await controls().getByRole('button', { name: 'Hang up' }).click();
    await expect(row.locator('.state')).toHaveText('ended', { timeout: 10_000 });
  });

  test('calls: attended transfer of a held call to the consultation call (REFER with Replaces)', async () => {
    await placeCall('alice', '+14255550110');
    await expect(labCalls().nth(1).locator('.state')).toHaveText('connected', { timeout: 15_000 });
    await controls().getByRole('button', { name: 'Hold', exact: true }).click();
    await expect(labCalls().nth(1).locator('.state')).toHaveText('held · Lync', { timeout: 10_000 });
    await expect(controls().getByRole('button', { name: 'Transfer to…' })).toBeDisabled();
    // The consultation: alice calls bob (who answers after 2.5 s).
    await placeCall('alice', 'bob');
    const consultation = labCalls().nth(1);
    const original = labCalls().nth(2);
    await expect(consultation).toContainText('Bob Brown');
    await expect(consultation.locator('.state')).toHaveText('connected', { timeout: 15_000 });
    await original.getByRole('button').click();
    await expect(controls()).toContainText('Alice Anders → +14255550110');
    await controls().getByRole('button', { name: 'Transfer to…' }).click();
    const menu = page.getByRole('menu', { name: 'Transfer to call' });
    await expect(menu.getByRole('menuitem')).toHaveCount(1);
    await page.screenshot({ path: path.join(shots, shot('calls-transfer')) });
    await menu.getByRole('menuitem', { name: /Alice Anders → Bob Brown/ }).click();
    // Alice is out of both calls; the gateway's party and bob are joined, a call of its own at the top.
    const joined = labCalls().nth(1);
    await expect(joined.getByRole('cell').nth(1)).toHaveText('+14255550110', { timeout: 10_000 });
    await expect(joined.getByRole('cell').nth(2)).toHaveText('Bob Brown');
    await expect(joined.locator('.state')).toHaveText('connected', { timeout: 10_000 });
    await expect(labCalls().nth(2).locator('.state')).toHaveText('ended', { timeout: 10_000 });
    await expect(labCalls().nth(3).locator('.state')).toHaveText('ended', { timeout: 10_000 });
    await expect(controls()).toContainText('Alice Anders → +14255550110');
    await controls().getByRole('button', { name: 'Show ladder' }).click();
    const ladder = page.getByRole('list', { name: 'Ladder' });
    await expect(ladder.getByRole('listitem', { name: 'REFER from Alice Anders to FE-Pool', exact: true })).toBeVisible();
    await ladder.getByRole('listitem', { name: 'REFER from Mediation-1 to Gateway-A', exact: true }).click();
    await expect(rawMessage()).toContainText(/Refer-To:.*Replaces=/i);
    // The gateway's last NOTIFY: its INVITE with Replaces was answered, the consultation replaced.
    await ladder.getByRole('listitem', { name: 'NOTIFY from Gateway-A to Mediation-1', exact: true }).last().click();
    await expect(rawMessage()).toContainText('SIP/2.0 200 OK');
    await expect(rawMessage()).toContainText('message/sipfrag');
    // The joined call: bob's, with a PSTN party; its ladder is the gateway's INVITE with Replaces through to bob.
    await page.getByRole('tab', { name: 'Calls' }).click();
    await joined.getByRole('button').click();
    await expect(controls()).toContainText('+14255550110 → Bob Brown');
    await expect(controls().getByRole('button', { name: 'Hold from PSTN' })).toBeEnabled();
    await page.screenshot({ path: path.join(shots, shot('calls-joined')) });
    await controls().getByRole('button', { name: 'Show ladder' }).click();
    await ladder.getByRole('listitem', { name: /^INVITE( \(SDP\))? from Gateway-A to Mediation-1$/ }).first().click();
    await expect(rawMessage()).toContainText(/^Replaces: /m);
    await expect(ladder.getByRole('listitem', { name: /^INVITE( \(SDP\))? from FE-Pool to Bob Brown$/ })).toHaveCount(1);
    await page.getByRole('tab', { name: 'Calls' }).click();
    await controls().getByRole('button', { name: 'Hang up' }).click();
    await expect(joined.locator('.state')).toHaveText('ended', { timeout: 10_000 });
  });

  test('calls: a call with the caller ID withheld shows as Anonymous, and reaches alice anonymous', async () => {
    await placeCall('+14255550110', 'alice', true);
    const row = labCalls().nth(1);
    await expect(row.getByRole('cell').nth(1)).toHaveText('Anonymous');
    await expect(row.getByRole('cell').nth(2)).toHaveText('Alice Anders');
    await expect(row.locator('.state')).toHaveText('connected', { timeout: 15_000 });
    await controls().getByRole('button', { name: 'Show ladder' }).click();
    await page.getByRole('list', { name: 'Ladder' }).getByRole('listitem', { name: /^INVITE( \(SDP\))? from FE-Pool to Alice Anders$/ }).first().click();
    await expect(rawMessage()).toContainText(/From: *"?Anonymous"? *<sip:anonymous@anonymous\.invalid>/i);
    await page.getByRole('tab', { name: 'Calls' }).click();
    await controls().getByRole('button', { name: 'Hang up' }).click();
    await expect(row.locator('.state')).toHaveText('ended', { timeout: 10_000 });
    // A number whose own setting withholds its caller ID shows as Anonymous too, here and in the ladder's call filter.
    await placeCall('+14255550123', 'alice');
    const restricted = labCalls().nth(1);
    await expect(restricted.getByRole('cell').nth(1)).toHaveText('Anonymous');
    await expect(restricted.getByRole('cell').nth(1)).toHaveAttribute('title', 'Caller ID withheld (placed from +14255550123)');
    await expect(restricted.locator('.state')).toHaveText('connected', { timeout: 15_000 });
    await page.getByRole('tab', { name: 'Ladder' }).click();
    const callFilter = page.getByRole('search', { name: 'Ladder filter' }).getByRole('combobox', { name: 'Call' });
    await expect(callFilter.locator('option', { hasText: 'Anonymous → Alice Anders · connected' })).toHaveCount(1);
    await expect(callFilter.locator('option', { hasText: '+14255550123' })).toHaveCount(0);
    await page.getByRole('tab', { name: 'Calls' }).click();
    await controls().getByRole('button', { name: 'Hang up' }).click();
    await expect(restricted.locator('.state')).toHaveText('ended', { timeout: 10_000 });
    await page.getByRole('tab', { name: 'Ladder' }).click();
    await page.getByRole('button', { name: 'Clear filter' }).click();
  });

  test('calls: DTMF from the UI goes out as RFC 4733 RTP and the call shows what the gateway received', async () => {
    await page.getByRole('tab', { name: 'Calls' }).click();
    await placeCall('alice', '+14255550110');
    const row = labCalls().nth(1);
    await expect(row.locator('.state')).toHaveText('connected', { timeout: 15_000 });
    await controls().getByRole('textbox', { name: 'DTMF digits' }).fill('12#');
    await controls().getByRole('button', { name: 'Send' }).click();
    await expect(controls().getByRole('status', { name: 'DTMF received' })).toHaveText('Gateway-A: 12#', { timeout: 10_000 });
    await page.screenshot({ path: path.join(shots, shot('calls-dtmf')) });
    await controls().getByRole('button', { name: 'Hang up' }).click();
    await expect(row.locator('.state')).toHaveText('ended', { timeout: 10_000 });
  });
}

/**
 * The UI benchmark: the renderer in headless Chromium (Playwright, Debian's
 * browser) against the real headless host (`startHost` + `Engine`, in a
 * child process of its own, as `trunklab serve` runs it).
 *
 * - Live ingest: the host feeds synthetic capture records (bench/ui-trace.ts:
 *   calls through Front End → Mediation-1 → Gateway-A, OPTIONS to an SBC)
 *   into the engine's tap at a target rate for a few seconds, the page
 *   follows live on the ladder. A rate is kept up with when the host feeds
 *   it on time (≥ 95 %) and the page shows the last message within 500 ms of
 *   the end of the feed. The rate doubles from 25,000/s until one is not.
 * - Open: a 1,000,000-message pcap (made once with writePcap from messages
 *   built with src/sip/builder.ts, cached in the temp folder) opened by the
 *   engine's import path with the page on the ladder, as `trunklab view
 *   FILE` does: time until the page shows all 1,000,000 messages and draws
 *   rows; then until the trace is fully indexed (calls, filters).
 * - Jump: "Go to message 500,000" in the filter bar (Ctrl+G), and a drag of
 *   the scroll bar to the middle: time until that row is drawn. Once right
 *   after opening (rows read from the staged bytes) and once indexed.
 *
 * `benchUi()` returns the figures; `node bench/ui.ts [--quick] [--json]`
 * prints them. Needs `npm run build:renderer` (dist/renderer/) and
 * /usr/bin/chromium.
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Browser, chromium, type Page } from 'playwright-core';

import { syntheticPcap, syntheticRecords } from './ui-trace.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RENDERER = path.join(ROOT, 'dist', 'renderer');
const SELF = fileURLToPath(import.meta.url);

export interface LiveRun {
  /** Target rate, messages/s. */
  rate: number;
  seconds: number;
  fed: number;
  /** Rate the host actually fed. */
  achievedRate: number;
  /** From the end of the feed until the page showed the last message (its row drawn). */
  catchUpMs: number;
  /** Largest gap between fed and shown during the run, in messages and in ms of feed. */
  maxLagMessages: number;
  /** Animation frames per second in the page during the feed. */
  pageFps: number;
  /** Host process CPU (user + system) during the feed, % of one core. */
  hostCpuPercent: number;
  /** Longest stall of the host's event loop during the feed. */
  hostLoopMaxMs: number;
  keptUp: boolean;
}

export interface OpenRun {
  messages: number;
  fileBytes: number;
  /** Until the page shows every message (count and rows): the trace is navigable. */
  openMs: number;
  /** Until the first rows were drawn. */
  firstRowsMs: number;
  /** Until the engine grouped and indexed every message (filters and calls complete). */
  indexedMs: number;
  /** CPU time of the host process (both threads) to read and stage the file: what the open costs on a quiet machine. */
  stagingCpuMs: number;
}

export interface JumpRun {
  when: 'just opened' | 'indexed';
  /** Go to #500,000 in the filter bar until the row is drawn and selected. */
  gotoMs: number;
  /** Scroll bar to the middle until real rows (not placeholders) are drawn there. */
  scrollMs: number;
}

export interface UiBench {
  machine: { cpu: string; cores: number; loadBefore: number[]; loadAfter: number[]; chromium: string; node: string };
  live: { runs: LiveRun[]; bestRate: number; /** The engine alone (no host, no page), messages/s: the trace store's ceiling. */ engineAloneRate: number };
  open: OpenRun;
  jumps: JumpRun[];
  command: string;
}

export interface UiBenchOptions {
  /** Messages of the trace opened (default 1,000,000). */
  messages?: number;
  /** Seconds per live rate (default 5). */
  seconds?: number;
  /** Rates tried, in order, until one is not kept up with (default 25k, 50k, 100k, 200k, 400k). */
  rates?: number[];
  log?: (line: string) => void;
  /** Only the open and jump figures. */
  skipLive?: boolean;
}

// ---------------------------------------------------------------------------
// The host side (child process)

type HostCommand =
  | { cmd: 'engine-alone'; messages: number; id: number }
  | { cmd: 'feed'; rate: number; seconds: number; id: number } | { cmd: 'open'; file: string; id: number } | { cmd: 'clear'; id: number } | { cmd: 'status'; id: number };

async function hostMain(): Promise<void> {
  const { Engine } = await import('../src/engine/engine.ts');
  const { startHost } = await import('../src/host/server.ts');
  const engine = new Engine({ version: 'bench' });
  engine.detached();
  const host = await startHost(engine, { rendererDir: RENDERER });
  const send = (m: unknown): void => {
    process.send?.(m);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  send({ ready: host.url });
  process.on('message', (raw: HostCommand) => {
    void (async () => {
      try {
        if (raw.cmd === 'engine-alone') {
          // The same records into an engine of their own as fast as it takes them: the ceiling without any UI.
          const records = [...syntheticRecords(raw.messages)];
          const alone = new Engine({ version: 'bench' });
          alone.detached();
          const nowUs = Date.now() * 1000;
          const t0 = performance.now();
          for (const r of records) {
            r.timeUs = nowUs;
            alone.tap(r);
          }
          const elapsed = (performance.now() - t0) / 1000;
          await alone.close();
          send({ id: raw.id, rate: raw.messages / elapsed });
        } else if (raw.cmd === 'feed') {
          const total = Math.round(raw.rate * raw.seconds);
          const records = [...syntheticRecords(total)];
          // Ticks of 10 ms: each pushes what the clock says is due.
          const samples: [number, number][] = [];
          const loop = monitorEventLoopDelay({ resolution: 5 });
          loop.enable();
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          const wall0 = Date.now();
          let fed = 0;
          await new Promise<void>((resolve) => {
            const step = (): void => {
              const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * raw.rate));
              const nowUs = Date.now() * 1000;
              for (; fed < due; fed++) {
                const r = records[fed]!;
                r.timeUs = nowUs;
                engine.tap(r);
              }
              samples.push([Date.now(), fed]);
              if (fed >= total) resolve();
              else setTimeout(step, 10);
            };
            step();
          });
          const elapsed = (performance.now() - t0) / 1000;
          const cpu = process.cpuUsage(cpu0);
          loop.disable();
          send({ id: raw.id, fed, elapsed, loopMaxMs: loop.max / 1e6, loopP99Ms: loop.percentile(99) / 1e6, started: wall0, ended: Date.now(), samples, cpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100 });
        } else if (raw.cmd === 'open') {
          const started = Date.now();
          const cpu0 = process.cpuUsage();
          const result = await engine.importPath(raw.file);
          const cpu = process.cpuUsage(cpu0);
          send({ id: raw.id, started, staged: Date.now(), added: result.added, stagingCpuMs: (cpu.user + cpu.system) / 1000 });
          const deadline = Date.now() + 600_000;
          while ((await engine.status()).indexedCount < result.added && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          send({ id: raw.id, indexed: Date.now() });
        } else if (raw.cmd === 'clear') {
          await engine.clear();
          send({ id: raw.id, done: true });
        } else {
          const s = await engine.status();
          send({ id: raw.id, messageCount: s.messageCount, indexedCount: s.indexedCount, rss: process.memoryUsage().rss });
        }
      } catch (error) {
        send({ id: raw.id, error: String(error instanceof Error ? (error.stack ?? error.message) : error) });
      }
    })();
  });
}

class HostClient {
  readonly child: ChildProcess;
  #next = 1;
  readonly #waiters = new Map<number, (m: Record<string, unknown>) => void>();
  readonly #extra = new Map<number, Record<string, unknown>[]>();

  constructor() {
    // TRUNKLAB_BENCH_PROFILE=DIR: a CPU profile of the host process in DIR.
    const profile = process.env.TRUNKLAB_BENCH_PROFILE;
    const execArgv = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
    this.child = fork(SELF, ['--host'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    this.child.on('message', (m: Record<string, unknown>) => {
      const id = m.id as number | undefined;
      if (id === undefined) return;
      const w = this.#waiters.get(id);
      if (w) {
        this.#waiters.delete(id);
        w(m);
      } else this.#extra.set(id, [...(this.#extra.get(id) ?? []), m]);
    });
  }

  ready(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.child.once('message', (m: { ready?: string }) => (m.ready ? resolve(m.ready) : reject(new Error('host did not start'))));
      this.child.once('exit', (code) => reject(new Error(`host exited (${code})`)));
    });
  }

  send(command: Record<string, unknown>): { id: number; reply: Promise<Record<string, unknown>> } {
    const id = this.#next++;
    const reply = this.#wait(id);
    this.child.send({ ...command, id });
    return { id, reply };
  }

  #wait(id: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const queued = this.#extra.get(id);
      if (queued && queued.length > 0) {
        const m = queued.shift()!;
        if (m.error) reject(new Error(String(m.error)));
        else resolve(m);
        return;
      }
      this.#waiters.set(id, (m) => (m.error ? reject(new Error(String(m.error))) : resolve(m)));
    });
  }

  /** A further reply to the same command (open: staged, then indexed). */
  next(id: number): Promise<Record<string, unknown>> {
    return this.#wait(id);
  }

  async call(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.send(command).reply;
  }

  stop(): void {
    // SIGINT lets a profiled host write its profile.
    this.child.kill(process.env.TRUNKLAB_BENCH_PROFILE ? 'SIGINT' : 'SIGTERM');
  }
}

// ---------------------------------------------------------------------------
// The page side. Scripts are strings: bench/ is type-checked without the DOM.

/** Installed in the page: frame counting and "until" probes that note Date.now() when a condition first holds. */
const PAGE_HELPERS = `
window.__bench = {
  frames: 0,
  counting: false,
  count() {
    const loop = () => { if (!this.counting) return; this.frames++; requestAnimationFrame(loop); };
    this.frames = 0; this.counting = true; requestAnimationFrame(loop);
  },
  stop() { this.counting = false; return this.frames; },
  shown() {
    const el = document.querySelector('.filterbar .count');
    const m = el ? /^([\\d,]+) of ([\\d,]+)/.exec(el.textContent || '') : null;
    return m ? Number(m[2].replace(/,/g, '')) : 0;
  },
  lastDrawn() {
    let max = -1;
    for (const li of document.querySelectorAll('#ladder-scroll li[data-index]')) max = Math.max(max, Number(li.getAttribute('data-index')));
    return max;
  },
  samples: [],
  sampling: null,
  sample(ms) {
    this.samples = [];
    this.sampling = setInterval(() => this.samples.push([Date.now(), this.shown(), this.lastDrawn()]), ms);
  },
  endSample() { clearInterval(this.sampling); return this.samples; },
  until(test, timeoutMs) {
    return new Promise((resolve) => {
      const end = performance.now() + timeoutMs;
      const poll = () => {
        if (test()) resolve(Date.now());
        else if (performance.now() > end) resolve(-1);
        else requestAnimationFrame(poll);
      };
      poll();
    });
  },
};
`;

/** Waits for a condition in the page (the page's CSP forbids Playwright's waitForFunction, which evaluates strings). */
async function until(page: Page, condition: string, timeoutMs = 30_000): Promise<number> {
  const at = (await page.evaluate(`window.__bench.until(() => ${condition}, ${timeoutMs})`)) as number;
  if (at < 0) throw new Error(`timed out waiting for ${condition}`);
  return at;
}

async function openLadder(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByText('Connected to trunklab serve').waitFor();
  await page.getByRole('tab', { name: 'Ladder' }).click();
  await page.locator('.filterbar .count').waitFor();
}

async function liveRun(host: HostClient, page: Page, rate: number, seconds: number): Promise<LiveRun> {
  await host.call({ cmd: 'clear' });
  await until(page, 'window.__bench.shown() === 0');
  // Follow live on (a cleared trace keeps the box as it was).
  const follow = page.getByRole('checkbox', { name: 'Follow live' });
  if (!(await follow.isChecked())) await follow.check();
  await page.evaluate('window.__bench.count(); window.__bench.sample(50)');
  const feed = await host.call({ cmd: 'feed', rate, seconds });
  const fed = feed.fed as number;
  const ended = feed.ended as number;
  const shownAt = (await page.evaluate(`window.__bench.until(() => window.__bench.shown() >= ${fed} && window.__bench.lastDrawn() >= ${fed - 1}, 20000)`)) as number;
  const frames = (await page.evaluate('window.__bench.stop()')) as number;
  const pageSamples = (await page.evaluate('window.__bench.endSample()')) as [number, number, number][];
  const hostSamples = feed.samples as [number, number][];
  // Lag: at each page sample, what the host had fed by then minus what the page showed.
  let maxLag = 0;
  let h = 0;
  for (const [t, shown] of pageSamples) {
    while (h + 1 < hostSamples.length && hostSamples[h + 1]![0] <= t) h++;
    const fedThen = hostSamples[h] && hostSamples[h]![0] <= t ? hostSamples[h]![1] : 0;
    maxLag = Math.max(maxLag, fedThen - shown);
  }
  const elapsed = feed.elapsed as number;
  const achievedRate = fed / elapsed;
  const catchUpMs = shownAt < 0 ? Number.POSITIVE_INFINITY : Math.max(0, shownAt - ended);
  const frameSeconds = (Math.max(shownAt, ended) - (feed.started as number)) / 1000;
  return {
    rate,
    seconds,
    fed,
    achievedRate,
    catchUpMs,
    maxLagMessages: maxLag,
    pageFps: frames / Math.max(0.001, frameSeconds),
    hostCpuPercent: feed.cpuPercent as number,
    hostLoopMaxMs: feed.loopMaxMs as number,
    keptUp: achievedRate >= rate * 0.95 && catchUpMs <= 500,
  };
}

async function jumpRun(page: Page, messages: number, when: JumpRun['when']): Promise<JumpRun> {
  const target = Math.floor(messages / 2);
  // From the top, so that the row is far from what is drawn.
  await page.evaluate(`document.getElementById('ladder-scroll').scrollTop = 0`);
  await until(page, 'window.__bench.lastDrawn() >= 0 && window.__bench.lastDrawn() < 200');
  const goto = page.getByRole('textbox', { name: 'Go to message number' });
  await goto.fill(String(target + 1));
  // Timed in the page from the Enter keydown (not from Playwright's command) until the row is drawn and selected.
  await page.evaluate(`(() => {
    const input = document.querySelector('input[aria-label="Go to message number"]');
    window.__bench.keyAt = -1;
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__bench.keyAt = performance.now(); }, { once: true });
    window.__bench.shownAt = window.__bench.until(() => !!document.querySelector('#ladder-scroll li[data-index="${target}"][aria-current="true"]'), 10000)
      .then((t) => t < 0 ? -1 : performance.now());
  })()`);
  await goto.press('Enter');
  const gotoRaw = (await page.evaluate('window.__bench.shownAt.then((t) => t < 0 || window.__bench.keyAt < 0 ? -1 : t - window.__bench.keyAt)')) as number;
  const gotoMs = gotoRaw < 0 ? Number.POSITIVE_INFINITY : Math.round(gotoRaw);
  await page.evaluate(`document.getElementById('ladder-scroll').scrollTop = 0`);
  await until(page, 'window.__bench.lastDrawn() >= 0 && window.__bench.lastDrawn() < 200');
  // The scroll bar dragged to the middle of the trace.
  const scrolledAt = (await page.evaluate(`(() => {
    const el = document.getElementById('ladder-scroll');
    const t0 = Date.now();
    el.scrollTop = (el.scrollHeight - el.clientHeight) / 2;
    return window.__bench.until(() => {
      const li = document.querySelector('#ladder-scroll li[data-index]');
      const idx = window.__bench.lastDrawn();
      return !!li && idx > ${Math.floor(messages * 0.45)} && idx < ${Math.ceil(messages * 0.55)} && !document.querySelector('#ladder-scroll li.lrow-loading');
    }, 10000).then((t) => t < 0 ? -1 : t - t0);
  })()`)) as number;
  return { when, gotoMs, scrollMs: scrolledAt < 0 ? Number.POSITIVE_INFINITY : scrolledAt };
}

function chromiumPath(): string {
  return existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium';
}

export async function benchUi(options: UiBenchOptions = {}): Promise<UiBench> {
  const log = options.log ?? (() => {});
  const messages = options.messages ?? 1_000_000;
  const seconds = options.seconds ?? 5;
  const rates = options.rates ?? [25_000, 50_000, 100_000, 200_000, 400_000];
  if (!existsSync(path.join(RENDERER, 'index.html'))) {
    const built = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('the renderer build failed');
  }
  const loadBefore = os.loadavg();
  log(`making the ${messages.toLocaleString('en-US')}-message pcap (once, cached)…`);
  const file = await syntheticPcap(messages);
  const host = new HostClient();
  let browser: Browser | null = null;
  try {
    const url = await host.ready();
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.addInitScript(PAGE_HELPERS);
    await openLadder(page, url);

    log('live: the engine alone (no page)…');
    const engineAloneRate = options.skipLive ? 0 : ((await host.call({ cmd: 'engine-alone', messages: 300_000 })).rate as number);
    log(`  ${Math.round(engineAloneRate).toLocaleString('en-US')} messages/s`);
    const runs: LiveRun[] = [];
    for (const rate of options.skipLive ? [] : rates) {
      log(`live: ${rate.toLocaleString('en-US')} messages/s for ${seconds} s…`);
      const run = await liveRun(host, page, rate, seconds);
      runs.push(run);
      log(
        `  fed ${Math.round(run.achievedRate).toLocaleString('en-US')}/s, page caught up ${Math.round(run.catchUpMs)} ms after, max lag ${run.maxLagMessages.toLocaleString('en-US')}, ${run.pageFps.toFixed(0)} fps, host CPU ${run.hostCpuPercent.toFixed(0)} %, longest host stall ${run.hostLoopMaxMs.toFixed(0)} ms → ${run.keptUp ? 'kept up' : 'not kept up'}`,
      );
      if (!run.keptUp) break;
    }
    const bestRate = Math.max(0, ...runs.filter((r) => r.keptUp).map((r) => r.rate));

    await host.call({ cmd: 'clear' });
    await page.reload();
    await openLadder(page, url);
    log(`open: ${path.basename(file)} (${(statSync(file).size / 1e6).toFixed(0)} MB)…`);
    const t0 = Date.now();
    const firstRows = page.evaluate('window.__bench.until(() => window.__bench.lastDrawn() >= 0, 60000)') as Promise<number>;
    const all = page.evaluate(`window.__bench.until(() => window.__bench.shown() >= ${messages} && window.__bench.lastDrawn() >= 0 && !document.querySelector('#ladder-scroll li.lrow-loading'), 120000)`) as Promise<number>;
    const opening = host.send({ cmd: 'open', file });
    const staged = await opening.reply;
    const shownAt = await all;
    const firstAt = await firstRows;
    const open: OpenRun = {
      messages: staged.added as number,
      fileBytes: statSync(file).size,
      openMs: shownAt < 0 ? Number.POSITIVE_INFINITY : shownAt - t0,
      firstRowsMs: firstAt < 0 ? Number.POSITIVE_INFINITY : firstAt - t0,
      indexedMs: 0,
      stagingCpuMs: staged.stagingCpuMs as number,
    };
    log(
      `  navigable after ${open.openMs} ms (first rows ${open.firstRowsMs} ms; the host had read and staged it after ${(staged.staged as number) - t0} ms, ${Math.round(open.stagingCpuMs)} ms of CPU)`,
    );
    const jumps = [await jumpRun(page, messages, 'just opened')];
    log(`  go to #${(messages / 2 + 1).toLocaleString('en-US')}: ${jumps[0]!.gotoMs} ms; scroll to the middle: ${jumps[0]!.scrollMs} ms (while indexing)`);
    const indexed = await host.next(opening.id);
    open.indexedMs = (indexed.indexed as number) - t0;
    log(`  indexed after ${open.indexedMs} ms`);
    // A fresh page: no row of the middle in its cache from the first jump.
    await page.reload();
    await openLadder(page, url);
    await until(page, `window.__bench.shown() >= ${messages} && window.__bench.lastDrawn() >= 0`);
    jumps.push(await jumpRun(page, messages, 'indexed'));
    log(`  go to #${(messages / 2 + 1).toLocaleString('en-US')}: ${jumps[1]!.gotoMs} ms; scroll to the middle: ${jumps[1]!.scrollMs} ms (indexed)`);
    return {
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.availableParallelism(),
        loadBefore,
        loadAfter: os.loadavg(),
        chromium: browser.version(),
        node: process.version,
      },
      live: { runs, bestRate, engineAloneRate },
      open,
      jumps,
      command: 'node bench/ui.ts',
    };
  } finally {
    await browser?.close();
    host.stop();
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';
}

/**
 * The figures as Markdown (for BENCHMARKS.md). `measured` (bench/run.ts: the
 * command, date and load of the run) replaces the command and load line.
 */
export function uiMarkdown(b: UiBench, measured?: string): string {
  return [
    `## UI: live ingest, opening ${b.open.messages === 1_000_000 ? 'a million' : fmt(b.open.messages)} messages, jumping to the middle`,
    '',
    ...(measured === undefined
      ? [
          `\`${b.command}\` (\`benchUi()\` in \`bench/ui.ts\`): headless Chromium ${b.machine.chromium} driven by Playwright against the headless host in a`,
          `process of its own. Load average before → after: ${b.machine.loadBefore.map((l) => l.toFixed(2)).join(' / ')} → ${b.machine.loadAfter.map((l) => l.toFixed(2)).join(' / ')} on ${b.machine.cores} cores.`,
        ]
      : [measured, '', `\`benchUi()\` in \`bench/ui.ts\`: headless Chromium ${b.machine.chromium} driven by Playwright against the headless host in a process of its own.`]),
    '',
    '| live ingest (goal 100,000/s) | fed/s | page caught up | max lag (messages) | page fps | host CPU | |',
    '|---:|---:|---:|---:|---:|---:|---|',
    ...b.live.runs.map(
      (r) => `| ${fmt(r.rate)}/s | ${fmt(r.achievedRate)} | ${fmt(r.catchUpMs)} ms | ${fmt(r.maxLagMessages)} | ${fmt(r.pageFps)} | ${fmt(r.hostCpuPercent)} % | ${r.keptUp ? 'kept up' : '**not kept up**'} |`,
    ),
    '',
    `**Live: ${fmt(b.live.bestRate)} messages/s kept up with.** The engine alone (the same records into \`Engine.tap\`, no host, no page) takes ${fmt(b.live.engineAloneRate)}/s: the trace store's ceiling on this machine.`,
    '',
    `| open ${fmt(b.open.messages)} messages (${fmt(b.open.fileBytes / 1e6)} MB pcap) | ms |`,
    '|---|---:|',
    `| first rows drawn | ${fmt(b.open.firstRowsMs)} |`,
    `| **every message navigable** (goal 3,000) | **${fmt(b.open.openMs)}** |`,
    `| fully indexed (calls, filters, in the background) | ${fmt(b.open.indexedMs)} |`,
    `| host CPU to read and stage (both threads) | ${fmt(b.open.stagingCpuMs)} |`,
    '',
    '| jump to the middle (goal 50 ms) | go to #n | scroll bar |',
    '|---|---:|---:|',
    ...b.jumps.map((j) => `| ${j.when} | ${fmt(j.gotoMs)} ms | ${fmt(j.scrollMs)} ms |`),
  ].join('\n');
}

if (process.argv.includes('--host')) {
  await hostMain();
} else if (process.argv[1] === SELF) {
  const quick = process.argv.includes('--quick');
  const result = await benchUi({
    ...(quick ? { messages: 100_000, seconds: 3, rates: [25_000, 100_000] } : {}),
    ...(process.argv.includes('--skip-live') ? { skipLive: true } : {}),
    log: (line) => console.error(line),
  });
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else console.log(uiMarkdown(result));
}

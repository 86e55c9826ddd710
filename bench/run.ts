/**
 * `npm run bench` (`node bench/run.ts`): every benchmark in one run, figures
 * printed and written to BENCHMARKS.md with the machine and the commands.
 *
 *   node bench/run.ts [--only NAME[,NAME]]... [--transports udp,tcp]
 *                     [--seconds N] [--sustain udp,tcp|none] [--sustain-seconds N]
 *                     [--quick] [--write | --no-write]
 *
 * NAME: parser, cps (SIPp uac against `trunklab uas` and `sipp -sn uas`),
 * profile (where `trunklab uas` spends its time), full-path (the emulated lab
 * against SIPp uac ↔ uas direct), import (against tshark and sngrep), ui
 * (headless Chromium against the headless host). `--quick` runs every piece
 * briefly (short trials, small captures) to check that it works; its figures
 * are printed, not written, unless `--write` is given.
 *
 * BENCHMARKS.md keeps one block per benchmark between `<!-- bench:NAME -->`
 * and `<!-- /bench:NAME -->`; a run replaces the blocks it measured and
 * leaves the rest of the file (other blocks, notes written by hand) alone.
 * Each block names the command and the date that produced it, the
 * `machine` block describes the machine of the last run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_SEARCH,
  fixedRateCpu,
  type FixedRateCpu,
  ROOT,
  type RateSearch,
  type SearchOptions,
  searchRate,
  sippVersion,
  sustain,
  type Transport,
  WARM_UP_CALLS,
} from './cps.ts';
import { benchFullPath, type FullPathFigure } from './full-path.ts';
import { benchImport, benchMillion, type ImportBenchRow, importMarkdown } from './import.ts';
import { benchParser, type ParserBench } from './parser.ts';
import { profileUas, type UasProfile } from './profile.ts';
import { benchUi, uiMarkdown } from './ui.ts';

/** Every piece, in the order a full run measures them. */
const PIECES = ['parser', 'cps', 'profile', 'full-path', 'import', 'ui'] as const;
type Piece = (typeof PIECES)[number];

const FILE = path.join(ROOT, 'BENCHMARKS.md');
/** The rate of the CPU-per-call trials: one that both UAS keep up with on two cores. */
const CPU_RATE = 2000;

interface Args {
  only: Set<Piece>;
  transports: Transport[];
  /** Transports whose best rates get the long (sustained) trial. */
  sustain: Transport[];
  seconds: number;
  sustainSeconds: number;
  quick: boolean;
  write: boolean;
}

const USAGE = `usage: node bench/run.ts [--only ${PIECES.join('|')}[,...]]... [--transports udp,tcp] [--seconds N] [--sustain udp,tcp|none] [--sustain-seconds N] [--quick] [--write|--no-write]`;

function usage(message: string): never {
  console.error(`bench/run.ts: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { only: new Set(), transports: ['udp', 'tcp'], sustain: ['udp'], seconds: DEFAULT_SEARCH.seconds, sustainSeconds: 40, quick: false, write: true };
  let write: boolean | null = null;
  const value = (i: number): string => argv[i] ?? usage(`${argv[i - 1]} needs a value`);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--only') {
      for (const o of value(++i).split(',')) {
        if (!(PIECES as readonly string[]).includes(o)) usage(`--only ${o}: not one of ${PIECES.join(', ')}`);
        a.only.add(o as Piece);
      }
    } else if (arg === '--transports') a.transports = value(++i).split(',') as Transport[];
    else if (arg === '--seconds') a.seconds = Number(value(++i));
    else if (arg === '--sustain') {
      const v = value(++i);
      a.sustain = v === 'none' ? [] : (v.split(',') as Transport[]);
    } else if (arg === '--sustain-seconds') a.sustainSeconds = Number(value(++i));
    else if (arg === '--quick') a.quick = true;
    else if (arg === '--write') write = true;
    else if (arg === '--no-write') write = false;
    else usage(`unknown argument ${arg}`);
  }
  for (const t of [...a.transports, ...a.sustain]) if (t !== 'udp' && t !== 'tcp') usage(`transport ${t}?`);
  // Quick figures only prove that each piece runs: they do not replace measured ones unless asked to.
  a.write = write ?? !a.quick;
  return a;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  kernel: string;
  node: string;
  sipp: string;
  rmemMax: string;
  load: number[];
}

function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'latin1'))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  let rmemMax = 'unknown';
  try {
    rmemMax = readFileSync('/proc/sys/net/core/rmem_max', 'latin1').trim();
  } catch {
    // not Linux
  }
  return {
    cpu,
    cores: os.availableParallelism(),
    memory: `${fmt(os.totalmem() / 2 ** 30, 1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    sipp: sippVersion(),
    rmemMax,
    load: os.loadavg(),
  };
}

function loadText(l: number[]): string {
  return l.map((x) => x.toFixed(2)).join(' / ');
}

function machineBlock(m: Machine, loadAfter: number[], started: Date, minutes: number, command: string): string {
  return [
    '## Machine and run',
    '',
    '| | |',
    '|---|---|',
    `| command | \`${command}\` |`,
    `| date | ${started.toISOString().replace(/\.\d+Z$/, 'Z')} (${fmt(minutes, 1)} min) |`,
    `| CPU | ${m.cpu} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${m.memory} |`,
    `| OS | ${m.kernel} |`,
    `| Node | ${m.node} |`,
    `| SIPp | ${m.sipp} |`,
    `| net.core.rmem_max | ${m.rmemMax} bytes |`,
    `| load average (1/5/15 min) before → after | ${loadText(m.load)} → ${loadText(loadAfter)} |`,
    '',
    'Other work on the machine shows in the load average: on 2 cores, a 1-minute load above about 0.5 before the run means',
    'someone else had a core part of the time, and the call rates below are lower than on a quiet machine.',
  ].join('\n');
}

function parserBlock(rows: ParserBench[], ms: number, run: RunInfo): string {
  return [
    '## SIP parser',
    '',
    provenance(run),
    '',
    `\`benchParser()\` in \`bench/parser.ts\`: messages per second on one core, ${fmt(ms / 1000, ms < 1000 ? 1 : 0)} s per case after a warm-up. "conformance" is`,
    'the check a UAS runs on every request (`conformance(m, { strict: false })`); "lint" adds the strict grammar of `trunklab lint`.',
    '',
    '| case | bytes | messages/s | µs/message |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.bytes} | ${fmt(r.perSecond)} | ${fmt(1e6 / r.perSecond, 2)} |`),
  ].join('\n');
}

function cpsBlock(searches: RateSearch[], o: SearchOptions, fixed: FixedRateCpu[], run: RunInfo): string {
  const out = [
    '## Call rate: SIPp uac against `trunklab uas` and against `sipp -sn uas`',
    '',
    provenance(run),
    '',
    "Highest rate at which SIPp's built-in `uac` scenario (INVITE, 100/180, 200, ACK, BYE, 200) gets every call through.",
    `Each trial is ${o.seconds} s of calls (\`-m rate×${o.seconds}\`); the rate doubles from ${fmt(o.startRate)} calls/s until a trial`,
    'fails, then is bisected. A trial passes when SIPp exits 0 with every call successful and **0 failed** (no call lost to',
    'retransmission timeouts; retransmissions that recovered are listed with the trials), keeps its schedule (done within',
    '5 % + 0.3 s of the planned time: no backlog in the UAS), and the UAS itself counts every call ended by BYE (SIPp alone can',
    'miss a lost BYE: after the BYE its `recv response="200"` also takes a retransmitted 200 for the INVITE).',
    "SIPp's uac runs on CPU 0, the UAS on CPU 1 (`taskset`), both with 4 MiB UDP socket buffers. Before each trial of trunklab",
    `a warm-up of ${fmt(WARM_UP_CALLS)} calls at 1,000 calls/s, not counted, lets Node compile its hot code (SIPp is compiled`,
    'ahead of time). "UAS CPU" is the UAS process\'s',
    'user + system time (all threads, GC included) per call in the highest passing trial.',
    '',
    '"Sustained" runs the best rate again for longer than a transaction lives (64×T1 = 32 s after its final response over UDP,',
    'RFC 3261 §17.2 and RFC 6026), stepping down by 30 % on failure: short trials never see the steady-state memory.',
    '',
  ];
  if (fixed.length > 0) {
    const f0 = fixed[0];
    out.push(
      `### UAS CPU per call at ${fmt(f0.rate)} calls/s`,
      '',
      `The same trial at one rate both UAS keep up with, ${f0.trials.length} × ${f0.seconds} s each, median of the passing ones: what one call costs the UAS`,
      "(user + system time of the process, all threads). Less sensitive to the machine's other load than the highest rate, still",
      'not immune to it (a busy sibling core slows each instruction): compare the figures of one run.',
      '',
      '| transport | `trunklab uas` | `sipp -sn uas` | SIPp / trunklab |',
      '|---|---:|---:|---:|',
    );
    for (const transport of new Set(fixed.map((f) => f.transport))) {
      const ours = fixed.find((f) => f.transport === transport && f.uas === 'trunklab');
      const sipp = fixed.find((f) => f.transport === transport && f.uas === 'sipp');
      const cell = (f: FixedRateCpu | undefined): string => (f === undefined || f.cpuUsPerCall === 0 ? '–' : `${fmt(f.cpuUsPerCall)} µs`);
      const ratio = ours && sipp && ours.cpuUsPerCall > 0 && sipp.cpuUsPerCall > 0 ? `**${fmt(sipp.cpuUsPerCall / ours.cpuUsPerCall, 2)}**` : '–';
      out.push(`| ${transport.toUpperCase()} | ${cell(ours)} | ${cell(sipp)} | ${ratio} |`);
    }
    out.push('');
  }
  for (const transport of new Set(searches.map((s) => s.transport))) {
    const ours = searches.find((s) => s.transport === transport && s.uas === 'trunklab');
    const sipp = searches.find((s) => s.transport === transport && s.uas === 'sipp');
    const both = [ours, sipp].filter((s) => s !== undefined);
    const sustained = both.find((s) => s.sustained)?.sustained;
    out.push(
      `### ${transport.toUpperCase()}`,
      '',
      `| UAS | highest rate, ${o.seconds} s trials (calls/s) |${sustained ? ` sustained, ${sustained.seconds} s trial (calls/s) |` : ''} UAS CPU per call | UAS command |`,
      `|---|---:|${sustained ? '---:|' : ''}---:|---|`,
    );
    for (const s of both) {
      const cpu = s.bestTrial ? `${fmt(s.bestTrial.uasCpuUsPerCall)} µs` : '–';
      const sus = sustained ? ` ${s.sustained ? `**${fmt(s.sustained.best)}**` : '–'} |` : '';
      out.push(`| ${s.uas === 'trunklab' ? '`trunklab uas`' : '`sipp -sn uas`'} | **${fmt(s.best)}** |${sus} ${cpu} | \`${s.uasCommand}\` |`);
    }
    if (ours && sipp && sipp.best > 0) {
      const ratio = ours.best / sipp.best;
      const cpuRatio = ours.bestTrial && sipp.bestTrial ? sipp.bestTrial.uasCpuUsPerCall / ours.bestTrial.uasCpuUsPerCall : null;
      const sus = ours.sustained && sipp.sustained && sipp.sustained.best > 0 ? `; sustained ${fmt(ours.sustained.best / sipp.sustained.best, 2)}` : '';
      out.push('', `**Ratio trunklab / SIPp: ${fmt(ratio, 2)}** (${o.seconds} s trials${sus}; goal ≥ 1.0)${cpuRatio === null ? '' : `. CPU per call, SIPp / trunklab: ${fmt(cpuRatio, 2)}`}.`);
    }
    const uac = (ours ?? sipp)?.uacCommand;
    if (uac) out.push('', `uac: \`${uac}\``);
    out.push('', '<details><summary>trials</summary>', '', '| UAS | rate | seconds | result | achieved calls/s | retransmissions | UAS-counted completed | UAS CPU/call |', '|---|---:|---:|---|---:|---:|---:|---:|');
    for (const s of both) {
      for (const t of [...s.trials, ...(s.sustained?.trials ?? [])]) {
        out.push(`| ${s.uas} | ${fmt(t.rate)} | ${t.seconds} | ${t.pass ? 'pass' : `fail: ${t.why}`} | ${fmt(t.achievedRate)} | ${fmt(t.retransmissions)} | ${fmt(t.uasCompleted)}/${fmt(t.calls)} | ${fmt(t.uasCpuUsPerCall)} µs |`);
      }
    }
    out.push('', '</details>', '');
  }
  return out.join('\n').trimEnd();
}

function profileBlock(p: UasProfile, run: RunInfo): string {
  return [
    `## Where the time goes in \`trunklab uas\` (${p.transport.toUpperCase()}, ${fmt(p.rate)} calls/s)`,
    '',
    provenance(run),
    '',
    `\`${p.command}\`. Self time per area and per function, as a share of all samples of the process's main thread`,
    `(start-up and the idle time around the calls included; busy ${fmt(p.busyPercent, 0)} %).`,
    '',
    '| area | % |',
    '|---|---:|',
    ...p.byArea.filter((l) => l.percent >= 0.5).map((l) => `| ${l.name} | ${fmt(l.percent, 1)} |`),
    '',
    '<details><summary>top functions (self time)</summary>',
    '',
    '| function | % |',
    '|---|---:|',
    ...p.byFunction.map((l) => `| \`${l.name}\` | ${fmt(l.percent, 1)} |`),
    '',
    '</details>',
  ].join('\n');
}

function fullPathBlock(figures: FullPathFigure[], stepSeconds: number, run: RunInfo): string {
  const out = [
    '## Full path: Lync user → Front End → Mediation Server → gateway → answer → BYE',
    '',
    provenance(run),
    '',
    `\`benchFullPath()\` in \`bench/full-path.ts\`, ${stepSeconds} s per step. The whole emulated lab runs in one Node process with the capture`,
    'tap on (every record kept, as the trace store would); calls are placed by an emulated Lync user to a gateway number that',
    'answers at once and hangs up on BYE. The Lync side (user → Front End → Mediation Server) is TCP, the trunk UDP or TCP.',
    'Each step runs on a fresh lab; the rate doubles from 250 calls/s until a step fails, then is bisected. A step passes when',
    'every call completed and the step kept its schedule (done within 5 % + 0.3 s). The reference is SIPp `uac` ↔ `uas`',
    'direct on loopback in the same run (pinned to one core each, 4 MiB buffers), searched the same way.',
    '',
    '| trunk | lab calls/s | SIPp direct calls/s | ratio (goal ≥ 0.3) | messages per call (lab / SIPp) | message-rate ratio | lab CPU per call | records captured |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...figures.map(
      (f) =>
        `| ${f.transport.toUpperCase()} | ${fmt(f.labCps)} | ${fmt(f.sippCps)} | **${fmt(f.ratio, 2)}** | ${fmt(f.labMessagesPerCall ?? 0, 1)} / 6 | ${fmt(f.messageRatio ?? 0, 2)} | ${fmt(f.labCpuUsPerCall ?? 0)} µs | ${fmt(f.capturedRecords)} |`,
    ),
    '',
    'One lab call is about 17 SIP messages sent and received by five elements in one Node process, each parsed, screened,',
    "matched to a transaction and tapped; SIPp's call is 6 messages between two C processes on two cores.",
    '',
    '<details><summary>steps (calls/s: failed calls; a step that fell behind counts 1)</summary>',
    '',
    '| trunk | lab | SIPp direct |',
    '|---|---|---|',
    ...figures.map(
      (f) =>
        `| ${f.transport.toUpperCase()} | ${(f.labSteps ?? []).map((s) => `${fmt(s.rate)}: ${fmt(s.failed)}`).join(', ')} | ${(f.sippSteps ?? []).map((s) => `${fmt(s.rate)}: ${fmt(s.failed)}`).join(', ')} |`,
    ),
    '',
    '</details>',
  ];
  return out.join('\n');
}

function importBlock(rows: ImportBenchRow[], million: Record<string, number> | null, tsharkTimeoutS: number, run: RunInfo): string {
  const faster = rows.every((r) => (r.tshark.timedOut ? r.tshark.timeoutS : r.tshark.seconds) > r.trunklab.seconds && r.sngrep.seconds > r.trunklab.seconds);
  const out = [
    '## Importing captures: trunklab vs tshark and sngrep',
    '',
    provenance(run),
    '',
    '`benchImport()` and `benchMillion()` in `bench/import.ts`. Captures are made by SIPp uac↔uas on loopback, captured with',
    'dumpcap (cached in the temp folder). trunklab: `importTraceFile` into the trace store (parse, group into transactions,',
    `dialogs, legs and calls), in a process of its own. tshark: \`tshark -r FILE -Y sip\` (stopped after ${tsharkTimeoutS} s). sngrep:`,
    '`sngrep -F -N -l 1000000 -I FILE -O OUT`. Times are wall-clock, memory is peak RSS. Ratios are their time (or memory)',
    `divided by ours: above 1 means trunklab is faster (smaller). Goal: faster than both — ${faster ? 'reached' : '**not reached**'} on ${rows.length === 1 ? 'this capture' : 'these captures'}.`,
    '',
    importMarkdown(rows),
  ];
  if (million !== null) {
    out.push(
      '',
      `Trace store memory: with ${fmt(million.messages)} messages, ${fmt(million.overheadPerMessage)} bytes per message of index beyond the ${fmt(million.payloadPerMessage)} bytes of the message itself ` +
        `(${fmt(million.rssPerMessage)} bytes/message RSS in all), append ${fmt(million.messagesPerSecond)} messages/s (message generation included), ` +
        `a page of 100 summaries in ${fmt(million.pageOf100RowsUs)} µs, one message parsed again for the inspector in ${fmt(million.inspectOneMessageUs, 1)} µs.`,
    );
  }
  return out.join('\n');
}

/** When and how a block was measured, and how busy the machine was (others' work shows in the load). */
interface RunInfo {
  command: string;
  started: Date;
  loadBefore: number[];
  loadAfter: number[];
}

function provenance(run: RunInfo): string {
  return `Measured by \`${run.command}\` on ${run.started.toISOString().replace(/:\d\d\.\d+Z$/, 'Z')}, load average before → after ${loadText(run.loadBefore)} → ${loadText(run.loadAfter)}.`;
}

const HEADER = `# Benchmarks

Figures from \`npm run bench\` (\`node bench/run.ts\`). Each block below is rewritten by the run that measured it;
text outside the blocks is kept.
`;

/** Replaces (or appends) the block NAME in the file text. */
function putBlock(text: string, name: string, body: string): string {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${body}\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) return text.slice(0, i) + block + text.slice(j + end.length);
  return `${text.trimEnd()}\n\n${block}\n`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const want = (name: Piece): boolean => args.only.size === 0 || args.only.has(name);
  const started = new Date();
  const m = machine();
  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  console.log(`${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}, SIPp ${m.sipp}; load ${loadText(m.load)}`);
  const blocks: Array<[string, string]> = [];
  const hasSipp = m.sipp !== 'not installed';
  /** Runs one piece and keeps its block, with the load before and after it. */
  const piece = async (name: Piece, body: (run: (after?: number[]) => RunInfo) => Promise<string | null>): Promise<void> => {
    if (!want(name)) return;
    const pieceStart = new Date();
    const loadBefore = os.loadavg();
    const info = (): RunInfo => ({ command, started: pieceStart, loadBefore, loadAfter: os.loadavg() });
    try {
      const block = await body(info);
      if (block !== null) blocks.push([name, block]);
    } catch (err) {
      // One piece failing (a tool missing, a browser that does not start) does not lose the others' figures.
      console.error(`${name}: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  };

  await piece('parser', async (info) => {
    console.log('parser ...');
    const ms = args.quick ? 300 : 2000;
    const rows = benchParser(ms);
    for (const r of rows) console.log(`  ${r.name.padEnd(46)} ${fmt(r.perSecond).padStart(10)} msg/s`);
    return parserBlock(rows, ms, info());
  });

  let udpBest = 0;
  await piece('cps', async (info) => {
    if (!hasSipp) {
      console.log('cps: SIPp is not installed, skipped');
      return null;
    }
    const o: SearchOptions = { ...DEFAULT_SEARCH, seconds: args.quick ? 2 : args.seconds, maxTrials: args.quick ? 3 : DEFAULT_SEARCH.maxTrials, log: (l) => console.log(l) };
    const searches: RateSearch[] = [];
    const fixed: FixedRateCpu[] = [];
    for (const transport of args.transports) {
      for (const uas of ['trunklab', 'sipp'] as const) {
        console.log(`cps: ${uas} uas over ${transport}, CPU per call at ${fmt(CPU_RATE)} calls/s ...`);
        const f = await fixedRateCpu(uas, transport, CPU_RATE, args.quick ? 2 : 5, args.quick ? 1 : 3, o.log);
        console.log(`  => ${fmt(f.cpuUsPerCall)} µs/call`);
        fixed.push(f);
        console.log(`cps: ${uas} uas over ${transport} ...`);
        const s = await searchRate(uas, transport, o);
        console.log(`  => ${fmt(s.best)} calls/s`);
        if (args.sustain.includes(transport) && s.best > 0) {
          const seconds = args.quick ? 5 : args.sustainSeconds;
          console.log(`cps: ${uas} uas over ${transport}, ${seconds} s trials from ${fmt(s.best)} calls/s ...`);
          s.sustained = await sustain(uas, transport, s.best, seconds, args.quick ? 1 : 6, o.log);
          console.log(`  => ${fmt(s.sustained.best)} calls/s sustained`);
        }
        searches.push(s);
        if (uas === 'trunklab' && transport === 'udp') udpBest = s.best;
      }
      const ours = searches.find((s) => s.transport === transport && s.uas === 'trunklab');
      const sipp = searches.find((s) => s.transport === transport && s.uas === 'sipp');
      if (ours && sipp && sipp.best > 0) console.log(`  ${transport}: trunklab/sipp = ${(ours.best / sipp.best).toFixed(2)}`);
    }
    return cpsBlock(searches, o, fixed, info());
  });

  await piece('profile', async (info) => {
    if (!hasSipp || spawnSync('taskset', ['-V']).status !== 0) {
      console.log('profile: needs SIPp and taskset, skipped');
      return null;
    }
    // Below the limit, so the profile shows the work per call rather than an overload.
    const rate = Math.max(500, Math.round(((udpBest || 3000) * 0.7) / 100) * 100);
    console.log(`profile: trunklab uas over UDP at ${rate} calls/s ...`);
    const p = await profileUas('udp', rate, args.quick ? 2 : 5);
    for (const l of p.byArea.slice(0, 12)) console.log(`  ${l.percent.toFixed(1).padStart(5)} %  ${l.name}`);
    return profileBlock(p, info());
  });

  await piece('full-path', async (info) => {
    const stepSeconds = args.quick ? 1 : 3;
    console.log(`full-path: the lab against SIPp direct, ${stepSeconds} s steps ...`);
    const figures = await benchFullPath({
      stepSeconds,
      transports: args.transports,
      sipp: hasSipp,
      ...(args.quick ? { maxRate: 500 } : {}),
    });
    for (const f of figures) console.log(`  ${f.transport}: lab ${fmt(f.labCps)} calls/s, SIPp direct ${fmt(f.sippCps)} calls/s, ratio ${fmt(f.ratio, 2)}, ${fmt(f.labCpuUsPerCall ?? 0)} µs CPU/call`);
    return fullPathBlock(figures, stepSeconds, info());
  });

  await piece('import', async (info) => {
    const tsharkTimeoutS = args.quick ? 30 : 120;
    console.log('import: trunklab against tshark and sngrep ...');
    const { rows } = await benchImport({
      udpCalls: args.quick ? 2000 : 100_000,
      tcpCalls: args.quick ? 1000 : 10_000,
      tsharkTimeoutS,
      log: (l) => console.log(`  ${l}`),
    });
    console.log('import: a store of a million messages ...');
    const million = await benchMillion(args.quick ? 50_000 : 1_000_000);
    console.log(`  ${JSON.stringify(million)}`);
    return importBlock(rows, million, tsharkTimeoutS, info());
  });

  await piece('ui', async (info) => {
    console.log('ui: headless Chromium against the headless host ...');
    const b = await benchUi({
      ...(args.quick ? { messages: 100_000, seconds: 2, rates: [25_000] } : {}),
      log: (l) => console.log(`  ${l}`),
    });
    b.command = command;
    return uiMarkdown(b, provenance(info()));
  });

  const minutes = (Date.now() - started.getTime()) / 60_000;
  blocks.unshift(['machine', machineBlock(m, os.loadavg(), started, minutes, command)]);
  console.log(`done in ${minutes.toFixed(1)} min; load ${loadText(os.loadavg())}`);
  if (!args.write) {
    console.log(`\nnot written to BENCHMARKS.md (${args.quick ? '--quick' : '--no-write'}); the blocks:\n`);
    for (const [name, body] of blocks) console.log(`<!-- bench:${name} -->\n${body}\n<!-- /bench:${name} -->\n`);
    return;
  }
  let text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  for (const [name, body] of blocks) text = putBlock(text, name, body);
  writeFileSync(FILE, text.endsWith('\n') ? text : `${text}\n`);
  console.log(`wrote ${path.relative(process.cwd(), FILE) || FILE}`);
}

await main();

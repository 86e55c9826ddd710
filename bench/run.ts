/**
 * `npm run bench` (`node bench/run.ts`): every benchmark in one run, figures
 * printed and written to BENCHMARKS.md with the machine and the commands.
 *
 *   node bench/run.ts [--only parser|cps|profile]... [--transports udp,tcp]
 *                     [--seconds N] [--sustain udp,tcp|none] [--sustain-seconds N]
 *                     [--quick] [--no-write]
 *
 * BENCHMARKS.md keeps one block per benchmark between `<!-- bench:NAME -->`
 * and `<!-- /bench:NAME -->`; a run replaces the blocks it measured and
 * leaves the rest of the file (other blocks, notes written by hand) alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SEARCH, ROOT, WARM_UP_CALLS, type RateSearch, type SearchOptions, searchRate, sippVersion, sustain, type Transport } from './cps.ts';
import { benchParser, type ParserBench } from './parser.ts';
import { profileUas, type UasProfile } from './profile.ts';

const FILE = path.join(ROOT, 'BENCHMARKS.md');

interface Args {
  only: Set<string>;
  transports: Transport[];
  /** Transports whose best rates get the long (sustained) trial. */
  sustain: Transport[];
  seconds: number;
  sustainSeconds: number;
  quick: boolean;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { only: new Set(), transports: ['udp', 'tcp'], sustain: ['udp'], seconds: DEFAULT_SEARCH.seconds, sustainSeconds: 40, quick: false, write: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--only') a.only.add(argv[++i]);
    else if (arg === '--transports') a.transports = argv[++i].split(',') as Transport[];
    else if (arg === '--seconds') a.seconds = Number(argv[++i]);
    else if (arg === '--sustain') {
      const v = argv[++i];
      a.sustain = v === 'none' ? [] : (v.split(',') as Transport[]);
    }
    else if (arg === '--sustain-seconds') a.sustainSeconds = Number(argv[++i]);
    else if (arg === '--quick') a.quick = true;
    else if (arg === '--no-write') a.write = false;
    else {
      console.error(`bench/run.ts: unknown argument ${arg}\nusage: node bench/run.ts [--only parser|cps|profile]... [--transports udp,tcp] [--seconds N] [--sustain udp,tcp|none] [--sustain-seconds N] [--quick] [--no-write]`);
      process.exit(2);
    }
  }
  for (const o of a.only) if (!['parser', 'cps', 'profile'].includes(o)) throw new Error(`--only ${o}?`);
  for (const t of a.transports) if (t !== 'udp' && t !== 'tcp') throw new Error(`--transports ${t}?`);
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

function parserBlock(rows: ParserBench[]): string {
  return [
    '## SIP parser',
    '',
    '`benchParser()` in `bench/parser.ts`: messages per second on one core, 2 s per case after a warm-up. "conformance" is',
    'the check a UAS runs on every request (`conformance(m, { strict: false })`); "lint" adds the strict grammar of `trunklab lint`.',
    '',
    '| case | bytes | messages/s | µs/message |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.bytes} | ${fmt(r.perSecond)} | ${fmt(1e6 / r.perSecond, 2)} |`),
  ].join('\n');
}

function cpsBlock(searches: RateSearch[], o: SearchOptions): string {
  const out = [
    '## Call rate: SIPp uac against `trunklab uas` and against `sipp -sn uas`',
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

function profileBlock(p: UasProfile): string {
  return [
    `## Where the time goes in \`trunklab uas\` (${p.transport.toUpperCase()}, ${fmt(p.rate)} calls/s)`,
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
  const want = (name: string) => args.only.size === 0 || args.only.has(name);
  const started = new Date();
  const m = machine();
  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  console.log(`${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}, SIPp ${m.sipp}; load ${loadText(m.load)}`);
  const blocks: Array<[string, string]> = [];

  if (want('parser')) {
    console.log('parser ...');
    const rows = benchParser(args.quick ? 500 : 2000);
    for (const r of rows) console.log(`  ${r.name.padEnd(46)} ${fmt(r.perSecond).padStart(10)} msg/s`);
    blocks.push(['parser', parserBlock(rows)]);
  }

  let udpBest = 0;
  if (want('cps')) {
    if (m.sipp === 'not installed') console.log('cps: SIPp is not installed, skipped');
    else {
      const o: SearchOptions = { ...DEFAULT_SEARCH, seconds: args.quick ? 2 : args.seconds, maxTrials: args.quick ? 6 : DEFAULT_SEARCH.maxTrials, log: (l) => console.log(l) };
      const searches: RateSearch[] = [];
      for (const transport of args.transports) {
        for (const uas of ['trunklab', 'sipp'] as const) {
          console.log(`cps: ${uas} uas over ${transport} ...`);
          const s = await searchRate(uas, transport, o);
          console.log(`  => ${fmt(s.best)} calls/s`);
          if (args.sustain.includes(transport) && s.best > 0) {
            const seconds = args.quick ? 10 : args.sustainSeconds;
            console.log(`cps: ${uas} uas over ${transport}, ${seconds} s trials from ${fmt(s.best)} calls/s ...`);
            s.sustained = await sustain(uas, transport, s.best, seconds, 6, o.log);
            console.log(`  => ${fmt(s.sustained.best)} calls/s sustained`);
          }
          searches.push(s);
          if (uas === 'trunklab' && transport === 'udp') udpBest = s.best;
        }
        const ours = searches.find((s) => s.transport === transport && s.uas === 'trunklab');
        const sipp = searches.find((s) => s.transport === transport && s.uas === 'sipp');
        if (ours && sipp && sipp.best > 0) console.log(`  ${transport}: trunklab/sipp = ${(ours.best / sipp.best).toFixed(2)}`);
      }
      blocks.push(['cps', cpsBlock(searches, o)]);
    }
  }

  if (want('profile') && m.sipp !== 'not installed' && spawnSync('taskset', ['-V']).status === 0) {
    // Below the limit, so the profile shows the work per call rather than an overload.
    const rate = Math.max(500, Math.round(((udpBest || 3000) * 0.7) / 100) * 100);
    console.log(`profile: trunklab uas over UDP at ${rate} calls/s ...`);
    const p = await profileUas('udp', rate, args.quick ? 2 : 5);
    for (const l of p.byArea.slice(0, 12)) console.log(`  ${l.percent.toFixed(1).padStart(5)} %  ${l.name}`);
    blocks.push(['profile', profileBlock(p)]);
  }

  const minutes = (Date.now() - started.getTime()) / 60_000;
  blocks.unshift(['machine', machineBlock(m, os.loadavg(), started, minutes, command)]);
  console.log(`done in ${minutes.toFixed(1)} min; load ${loadText(os.loadavg())}`);
  if (!args.write) return;
  let text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  for (const [name, body] of blocks) text = putBlock(text, name, body);
  writeFileSync(FILE, text.endsWith('\n') ? text : `${text}\n`);
  console.log(`wrote ${path.relative(process.cwd(), FILE) || FILE}`);
}

await main();

/**
 * `trunklab suite [--topology FILE] [--external PEER=HOST:PORT[/transport]]...
 * [--cases PATTERN] [--junit OUT.xml] [--report OUT.html] [--pcap DIR]
 * [--time-scale F] [--t1-ms N] [--list]`: the built-in qualification cases,
 * one line per case (id, verdict, time, the reason when it failed), then
 * `N passed, N failed`. Exit 0 when no case failed, 1 otherwise, 2 on a
 * usage error. With --external, emulated ports stay as in the file (the
 * device must reach them); otherwise every port is picked free.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writePcap } from '../formats/pcap.ts';
import { defaultTopologyPath, parseTopology, TopologyError, type TopologyInput } from '../lync/topology.ts';
import { builtInCases, selectCases } from '../qualify/cases.ts';
import { htmlReport } from '../qualify/report-html.ts';
import { junitXml } from '../qualify/report-junit.ts';
import type { CaseResult } from '../qualify/runner.ts';
import type { Scenario } from '../qualify/scenario.ts';
import { caseLine, runSuite, summaryLine } from '../qualify/suite.ts';
import { intOption, parseArgs, UsageError } from './args.ts';

/* What `trunklab suite` and `trunklab run` share: the options, loading the topology, writing the reports. */

export const QUALIFY_OPTION_SPEC = {
  topology: { type: 'string' },
  external: { type: 'list' },
  junit: { type: 'string' },
  report: { type: 'string' },
  pcap: { type: 'string' },
  'time-scale': { type: 'string' },
  't1-ms': { type: 'string' },
  'free-ports': { type: 'boolean' },
} as const;

type Options = Record<string, string | boolean | string[] | undefined>;

/** The topology file as written (each case applies its own settings to it), checked once with --external. */
export function readTopology(options: Options): { input: TopologyInput; file: string; external: string[] } {
  const file = typeof options.topology === 'string' ? options.topology : defaultTopologyPath();
  let input: TopologyInput;
  try {
    input = JSON.parse(readFileSync(file, 'utf8')) as TopologyInput;
  } catch (error) {
    throw new UsageError(`cannot read the topology ${file}: ${(error as Error).message}`);
  }
  const external = (options.external as string[] | undefined) ?? [];
  try {
    parseTopology(input, file, { external });
  } catch (error) {
    if (error instanceof TopologyError) throw new UsageError(error.message);
    throw error;
  }
  return { input, file, external };
}

function timeScale(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n) || n <= 0 || n > 10) throw new UsageError(`--time-scale must be a number above 0 and up to 10, got ${JSON.stringify(value)}`);
  return n;
}

function write(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, data);
}

/** Runs the cases, prints the summary line, writes --junit / --report / --pcap; exit 0 when none failed. */
export async function runAndReport(cases: Scenario[], options: Options, out: (line: string) => void, onResult: (r: CaseResult) => void): Promise<number> {
  const { input, file, external } = readTopology(options);
  const t1 = intOption(options['t1-ms'], 't1-ms', 10, 10_000);
  const suite = await runSuite(cases, input, {
    external,
    freePorts: options['free-ports'] === true || external.length === 0,
    source: path.basename(file),
    timeScale: timeScale(options['time-scale']),
    timers: t1 === undefined ? undefined : { t1 },
    onResult,
  });
  out(summaryLine(suite));
  if (typeof options.junit === 'string') write(options.junit, junitXml(suite));
  if (typeof options.report === 'string') write(options.report, htmlReport(suite));
  if (typeof options.pcap === 'string') {
    // One capture per case: frame N is the message a verdict cites as #N-1.
    mkdirSync(options.pcap, { recursive: true });
    for (const r of suite.cases) if (r.records.length > 0) writeFileSync(path.join(options.pcap, `${r.id}.pcap`), writePcap(r.records));
  }
  return suite.failed === 0 ? 0 : 1;
}

export async function suiteCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, { ...QUALIFY_OPTION_SPEC, cases: { type: 'string' }, list: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const cases: Scenario[] = selectCases(builtInCases(), typeof options.cases === 'string' ? options.cases : undefined);
  if (cases.length === 0) throw new UsageError(`--cases ${JSON.stringify(options.cases)} matches no case; see trunklab suite --list`);
  if (options.list === true) {
    for (const c of cases) out(`${c.id.padEnd(40)} ${c.title}`);
    return 0;
  }
  return runAndReport(cases, options, out, (r) => out(caseLine(r)));
}

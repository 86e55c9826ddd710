/**
 * `trunklab suite [--topology FILE] [--target [PEER=]HOST:PORT[/transport]]
 * [--external PEER=HOST:PORT[/transport]]... [--cases PATTERN]
 * [--junit OUT.xml] [--report OUT.html] [--pcap DIR] [--originate-wait S]
 * [--originate-cmd CMD] [--time-scale F] [--t1-ms N] [--list]`: the built-in
 * qualification cases, one line per case (id, verdict, time, the reason when
 * it failed), then `N passed, N failed`. Exit 0 when no case failed, 1
 * otherwise, 2 on a usage error.
 *
 * --target names the device under test: it takes the place of the
 * topology's first gateway peer (lab.json: gw-a, Gateway-A, the peer of the
 * basic, hold, DTMF, early media... cases), or of PEER; without --cases,
 * only the cases that involve that peer run. --external replaces any peer
 * the same way without choosing cases. Cases whose call starts at the
 * device ask it to dial (originate.ts). With a device, emulated ports stay
 * as in the file (the device must reach them); otherwise every port is
 * picked free.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writePcap } from '../formats/pcap.ts';
import { ExternalOptionError, parseExternalTarget } from '../lync/apply-external.ts';
import { parseTopology, type Topology, TopologyError, type TopologyInput } from '../lync/topology.ts';
import { builtInCases, selectCases } from '../qualify/cases.ts';
import { htmlReport } from '../qualify/report-html.ts';
import { junitXml } from '../qualify/report-junit.ts';
import type { CaseResult } from '../qualify/runner.ts';
import type { Scenario } from '../qualify/scenario.ts';
import { caseLine, peersOfCase, runSuite, summaryLine } from '../qualify/suite.ts';
import { intOption, parseArgs, UsageError } from './args.ts';
import { readTopologyFile } from './lab-options.ts';
import { originateOptions } from './originate.ts';

/* What `trunklab suite` and `trunklab run` share: the options, loading the topology, writing the reports. */

export const QUALIFY_OPTION_SPEC = {
  topology: { type: 'string' },
  target: { type: 'list' },
  external: { type: 'list' },
  'originate-wait': { type: 'string' },
  'originate-cmd': { type: 'string' },
  junit: { type: 'string' },
  report: { type: 'string' },
  pcap: { type: 'string' },
  'time-scale': { type: 'string' },
  't1-ms': { type: 'string' },
  'free-ports': { type: 'boolean' },
} as const;

type Options = Record<string, string | boolean | string[] | undefined>;

/** `--target`: the device under test and the peer it replaces. */
export interface DeviceTarget {
  peer: string;
  /** `HOST:PORT[/transport]` as given. */
  address: string;
  /** The option as given, for messages. */
  option: string;
}

const TARGET_SYNTAX = 'HOST:PORT[/udp|tcp|tls] or PEER=HOST:PORT[/udp|tcp|tls], e.g. 192.0.2.10:5060/tcp';

/** The peer --target replaces when it names none: the topology's first gateway. */
export function defaultTargetPeer(input: TopologyInput): string | null {
  const peers = Array.isArray(input.peers) ? input.peers : [];
  return peers.find((p) => p.kind === 'gateway')?.name ?? null;
}

function targetOption(options: Options, input: TopologyInput, file: string, external: readonly string[]): DeviceTarget | null {
  const list = options.target as string[] | undefined;
  if (list === undefined) return null;
  if (list.length > 1) throw new UsageError('--target names one device under test; replace more peers with --external PEER=HOST:PORT');
  const option = list[0];
  const eq = option.indexOf('=');
  let peer: string;
  if (eq >= 0) {
    peer = option.slice(0, eq).trim();
    if (peer === '') throw new UsageError(`--target ${option}: missing peer name before "="; expected ${TARGET_SYNTAX}`);
  } else {
    const first = defaultTargetPeer(input);
    if (first === null) throw new UsageError(`--target ${option}: the topology ${file} has no gateway peer to replace; name one: --target PEER=HOST:PORT`);
    peer = first;
  }
  const address = (eq >= 0 ? option.slice(eq + 1) : option).trim();
  try {
    parseExternalTarget(address);
  } catch (error) {
    if (error instanceof ExternalOptionError) throw new UsageError(`--target ${option}: ${error.message}${/\bexpected\b/.test(error.message) ? '' : `; expected ${TARGET_SYNTAX}`}`);
    throw error;
  }
  const names = (Array.isArray(input.peers) ? input.peers : []).map((p) => p.name);
  if (!names.includes(peer)) throw new UsageError(`--target ${option}: no peer named "${peer}"; the peers are ${names.join(', ') || 'none'}`);
  const clash = external.find((e) => e.slice(0, e.indexOf('=')).trim() === peer);
  if (clash !== undefined) throw new UsageError(`--target ${option} and --external ${clash} both replace ${peer}`);
  return { peer, address, option };
}

/** The topology file as written (each case applies its own settings to it), checked once with --target / --external. */
export function readTopology(options: Options): { input: TopologyInput; file: string; external: string[]; target: DeviceTarget | null; topology: Topology } {
  const { input, file } = readTopologyFile(options);
  const external = [...((options.external as string[] | undefined) ?? [])];
  const target = targetOption(options, input, file, external);
  if (target !== null) external.push(`${target.peer}=${target.address}`);
  let topology: Topology;
  try {
    topology = parseTopology(input, file, { external });
  } catch (error) {
    if (error instanceof TopologyError) {
      // Problems with the device's address are reported against --target, as the user wrote it.
      throw new UsageError(target === null ? error.message : error.message.split(`--external ${target.peer}=${target.address}`).join(`--target ${target.option}`));
    }
    throw error;
  }
  return { input, file, external, target, topology };
}

/** `device under test: gw-a (Gateway-A) = 192.0.2.10:5060/tcp`. */
function targetLine(target: DeviceTarget, topology: Topology): string {
  const peer = topology.peers.find((p) => p.name === target.peer);
  return `device under test: ${target.peer}${peer ? ` (${peer.displayName})` : ''} = ${target.address}`;
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
export async function runAndReport(
  cases: Scenario[],
  options: Options,
  out: (line: string) => void,
  onResult: (r: CaseResult) => void,
  loaded: ReturnType<typeof readTopology> = readTopology(options),
): Promise<number> {
  const { input, file, external, target } = loaded;
  const t1 = intOption(options['t1-ms'], 't1-ms', 10, 10_000);
  const originate = originateOptions(options, (line) => process.stderr.write(`trunklab: ${line}\n`));
  const scale = timeScale(options['time-scale']);
  const suite = await runSuite(cases, input, {
    external,
    freePorts: options['free-ports'] === true || external.length === 0,
    source: path.basename(file),
    timeScale: scale,
    timers: t1 === undefined ? undefined : { t1 },
    originate,
    ...(target === null ? {} : { device: target.peer }),
    onResult,
  });
  out(summaryLine(suite));
  if (typeof options.junit === 'string') write(options.junit, junitXml(suite));
  if (typeof options.report === 'string') write(options.report, htmlReport(suite));
  if (typeof options.pcap === 'string') {
    // One capture per case, one SIP message per frame (TCP handshakes added): the Nth SIP message is #N-1 of the verdicts.
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
  if (options.list === true && options.target === undefined) {
    for (const c of cases) out(`${c.id.padEnd(40)} ${c.title}`);
    return 0;
  }
  const loaded = readTopology(options);
  let selected = cases;
  if (loaded.target !== null) {
    const peer = loaded.target.peer;
    if (typeof options.cases !== 'string') {
      selected = cases.filter((c) => peersOfCase(c, loaded.topology).has(peer));
      if (selected.length === 0) throw new UsageError(`no built-in case involves ${peer}; choose cases with --cases`);
    }
    out(`${targetLine(loaded.target, loaded.topology)}: ${selected.length} case${selected.length === 1 ? '' : 's'}${typeof options.cases === 'string' ? ' (--cases)' : ` of ${cases.length} involve it`}`);
  }
  if (options.list === true) {
    for (const c of selected) out(`${c.id.padEnd(40)} ${c.title}`);
    return 0;
  }
  return runAndReport(selected, options, out, (r) => out(caseLine(r)), loaded);
}

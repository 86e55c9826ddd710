/**
 * The qualification suite: runs cases one after the other, each on a fresh
 * lab (its own sockets, free ports unless a device must reach fixed ones),
 * sharing one throw-away TLS certificate.
 */
import { findPstnNumber } from '../lync/call-behaviour.ts';
import { dialPlanForUser, normalize } from '../lync/dial-plan.ts';
import { withFreePorts } from '../lync/free-ports.ts';
import { RoundRobin } from '../lync/round-robin.ts';
import { findUserBySipUri, outboundCandidates, reverseNumberLookup } from '../lync/routing.ts';
import type { Topology, TopologyInput } from '../lync/topology.ts';
import { createTestCertificate } from '../sip/tls-test-cert.ts';
import { type CaseResult, type RunOptions, runScenario } from './runner.ts';
import type { Scenario } from './scenario.ts';

export interface SuiteOptions extends RunOptions {
  /** Use ports 0 everywhere but on external devices (tests; the default when no device is external). */
  freePorts?: boolean;
  onResult?: (result: CaseResult) => void;
  /** Called as each case starts (position 0-based, of `total`). */
  onCaseStart?: (scenario: Scenario, position: number, total: number) => void;
  /** Aborting stops the run before the next case (the one running finishes); the result holds the cases that ran. */
  signal?: AbortSignal;
  /**
   * The peer a device under test replaces (`--target`): `peer` in a case's expectations means that peer (not one a
   * call failed over to), and a case in which the device exchanged no message does not pass.
   */
  device?: string;
}

export interface SuiteResult {
  cases: CaseResult[];
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
  startedAt: string;
  topology: string;
  external: string[];
}

export async function runSuite(cases: readonly Scenario[], input: TopologyInput, options: SuiteOptions = {}): Promise<SuiteResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const external = options.external ?? [];
  const base = (options.freePorts ?? external.length === 0) ? withFreePorts(input) : input;
  let tls = options.tls;
  if (tls === undefined) {
    const ips = new Set<string>(['127.0.0.1']);
    const cert = await createTestCertificate({ commonName: input.frontEnd?.fqdn ?? 'trunklab', ips: [...ips] });
    tls = { key: cert.key, cert: cert.cert, ca: cert.cert, rejectUnauthorized: false };
  }
  const results: CaseResult[] = [];
  for (const [position, scenario] of cases.entries()) {
    if (options.signal?.aborted) break;
    options.onCaseStart?.(scenario, position, cases.length);
    const r = await runScenario(options.device === undefined ? scenario : forDevice(scenario, options.device), base, { ...options, tls });
    if (options.device !== undefined && r.verdict === 'pass' && !r.messages.some((m) => m.from === options.device || m.to === options.device)) {
      r.verdict = 'fail';
      r.reason = `${options.device} (the device under test) exchanged no message in this case: the calls went elsewhere (is it reachable at ${external.find((e) => e.startsWith(`${options.device}=`))?.split('=')[1] ?? 'its address'}?)`;
    }
    results.push(r);
    options.onResult?.(r);
  }
  return {
    cases: results,
    passed: results.filter((r) => r.verdict === 'pass').length,
    failed: results.filter((r) => r.verdict === 'fail' || r.verdict === 'error').length,
    skipped: results.filter((r) => r.verdict === 'skip').length,
    durationMs: Math.round(performance.now() - started),
    startedAt,
    topology: options.source ?? 'topology',
    external,
  };
}

/**
 * `basic-outbound-answer  PASS  1234 ms  12 messages`, then the reason when there is one. The count is every SIP
 * message of the case's trace (keep-alives and registrations included): the frames of its `--pcap` file.
 */
export function caseLine(r: CaseResult): string {
  const verdict = r.verdict.toUpperCase();
  const count = `${String(r.records.length).padStart(4)} message${r.records.length === 1 ? ' ' : 's'}`;
  return `${r.id.padEnd(40)} ${verdict.padEnd(5)} ${String(r.durationMs).padStart(6)} ms ${count}${r.reason ? `  ${r.reason}` : ''}`;
}

export function summaryLine(s: Pick<SuiteResult, 'passed' | 'failed' | 'skipped'>): string {
  return `${s.passed} passed, ${s.failed} failed${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`;
}

/** The case with `peer` in its expectations narrowed to the device's peer. */
export function forDevice(scenario: Scenario, peer: string): Scenario {
  const out = structuredClone(scenario);
  for (const step of out.steps) {
    if (step.action !== 'expect') continue;
    if (step.expect.match.from === 'peer') step.expect.match.from = peer;
    if (step.expect.match.to === 'peer') step.expect.match.to = peer;
  }
  return out;
}

/**
 * The peers a case exchanges calls or keep-alives with: the peer a call comes from, the peer its first candidate
 * trunk leads to (routing as the Front End does it, before any failover), and peers an expectation names. A device
 * given with `--target` runs the cases that involve its peer.
 */
export function peersOfCase(scenario: Scenario, topology: Topology): Set<string> {
  const peers = new Set<string>();
  const names = new Set(topology.peers.map((p) => p.name));
  for (const step of scenario.steps) {
    if (step.action === 'expect') {
      for (const party of [step.expect.match.from, step.expect.match.to]) if (party !== undefined && names.has(party)) peers.add(party);
      continue;
    }
    if (step.action !== 'call') continue;
    const caller = topology.peers.find((p) => p.name === step.from || findPstnNumber(p, step.from) !== null);
    if (caller !== undefined) {
      peers.add(caller.name);
      continue;
    }
    const user = topology.users.find((u) => u.name === step.from) ?? findUserBySipUri(topology, step.from);
    if (user === null || user === undefined || topology.users.some((u) => u.name === step.to) || findUserBySipUri(topology, step.to) !== null) continue;
    const normalized = normalize(step.to, dialPlanForUser(topology, user));
    if (normalized.isE164 && reverseNumberLookup(topology, normalized.number).kind !== 'none') continue;
    const first = outboundCandidates(topology, { caller: user, number: normalized.number, roundRobin: new RoundRobin() }).candidates[0];
    if (first !== undefined) peers.add(first.trunk.peer);
  }
  return peers;
}

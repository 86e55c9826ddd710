/**
 * The qualification suite: runs cases one after the other, each on a fresh
 * lab (its own sockets, free ports unless a device must reach fixed ones),
 * sharing one throw-away TLS certificate.
 */
import { withFreePorts } from '../lync/free-ports.ts';
import type { TopologyInput } from '../lync/topology.ts';
import { createTestCertificate } from '../sip/tls-test-cert.ts';
import { type CaseResult, type RunOptions, runScenario } from './runner.ts';
import type { Scenario } from './scenario.ts';

export interface SuiteOptions extends RunOptions {
  /** Use ports 0 everywhere but on external devices (tests; the default when no device is external). */
  freePorts?: boolean;
  onResult?: (result: CaseResult) => void;
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
  for (const scenario of cases) {
    const r = await runScenario(scenario, base, { ...options, tls });
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

/** `basic-outbound-answer  pass  1234 ms` or with the reason. */
export function caseLine(r: CaseResult): string {
  const verdict = r.verdict.toUpperCase();
  return `${r.id.padEnd(40)} ${verdict.padEnd(5)} ${String(r.durationMs).padStart(6)} ms${r.reason ? `  ${r.reason}` : ''}`;
}

export function summaryLine(s: Pick<SuiteResult, 'passed' | 'failed' | 'skipped'>): string {
  return `${s.passed} passed, ${s.failed} failed${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`;
}

/**
 * Qualification runs for the UI: the built-in cases of src/qualify, run one
 * after the other on fresh labs as `trunklab suite` runs them (every port
 * picked free, so the live lab's sockets are never touched), with progress
 * as `qualify-*` events. Each case's messages go into the engine's trace as
 * a source of their own (kind `suite`, named after the case), so the `#N` a
 * verdict cites becomes a trace index the ladder opens. The last run's
 * JUnit XML and HTML report are written on demand.
 */
import { Buffer } from 'node:buffer';

import type {
  BridgeEvent,
  ExportResult,
  QualifyCaseInfo,
  QualifyCaseResult,
  QualifyReportFormat,
  QualifyRunInfo,
  QualifyRunRequest,
  QualifyState,
  QualifyStep,
  QualifyTotals,
} from '../common/api.ts';
import { withFreePorts } from '../lync/free-ports.ts';
import { parseTopology, TopologyError, type TopologyInput } from '../lync/topology.ts';
import { builtInCases, selectCases } from '../qualify/cases.ts';
import { htmlReport } from '../qualify/report-html.ts';
import { junitXml } from '../qualify/report-junit.ts';
import type { CaseResult } from '../qualify/runner.ts';
import { areaOf, type Scenario } from '../qualify/scenario.ts';
import { runSuite, type SuiteResult } from '../qualify/suite.ts';

/** What the engine does for a run: put a case's messages in the trace, send events. */
export interface QualificationHost {
  /** Adds the case's messages to the trace as a source of their own; null when it has none. */
  addCase(result: CaseResult, run: number, position: number): { source: string; base: number; count: number } | null;
  emit(event: BridgeEvent): void;
  generation(): number;
  /** The topology the cases run on (as written: each case applies its own settings). */
  topology(): { input: TopologyInput; source: string };
}

function caseInfo(s: Scenario): QualifyCaseInfo {
  return { id: s.id, title: s.title, area: areaOf(s.id), ...(s.description !== undefined ? { description: s.description } : {}), steps: s.steps.length };
}

/** `INVITE med-1 → gw-b`: a message of the case in words. */
function messageLabel(r: CaseResult, index: number): string | undefined {
  const m = r.messages.find((x) => x.index === index);
  if (m !== undefined) return `${m.label} ${m.from} → ${m.to}`;
  const s = r.summaries.find((x) => x.index === index);
  return s === undefined ? undefined : `${s.kind === 'request' ? s.method : `${s.status} ${s.reason ?? ''} (${s.method})`} ${s.from} → ${s.to}`;
}

const stamp = (): string => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

export class Qualification {
  readonly #host: QualificationHost;
  #runs = 0;
  #state: QualifyState | null = null;
  #results: CaseResult[] = [];
  #abort: AbortController | null = null;
  #running: Promise<void> | null = null;
  #started = 0;

  constructor(host: QualificationHost) {
    this.#host = host;
  }

  cases(): QualifyCaseInfo[] {
    return builtInCases().map(caseInfo);
  }

  /** The cases a request names, in the built-in order; throws when it names none. */
  #select(request: QualifyRunRequest): Scenario[] {
    const all = builtInCases();
    if (!request.cases && !request.ids) return [...all];
    const chosen = new Set<string>();
    if (request.cases) for (const c of selectCases(all, request.cases)) chosen.add(c.id);
    const known = new Set(all.map((c) => c.id));
    for (const id of request.ids ?? []) {
      if (!known.has(id)) throw new Error(`no built-in case ${id}`);
      chosen.add(id);
    }
    const cases = all.filter((c) => chosen.has(c.id));
    if (cases.length === 0) throw new Error(`${JSON.stringify(request.cases ?? '')} matches no case`);
    return cases;
  }

  start(request: QualifyRunRequest): QualifyRunInfo {
    if (this.#running !== null) throw new Error('a qualification run is under way: stop it or wait for it to finish');
    const cases = this.#select(request);
    const { input, source } = this.#host.topology();
    const external = request.external ?? [];
    // The devices are checked against the topology now: a typo is an answer, not a run of skipped cases.
    try {
      parseTopology(withFreePorts(input), source, { external });
    } catch (error) {
      if (error instanceof TopologyError) throw new Error(error.message);
      throw error;
    }
    const run = ++this.#runs;
    const info: QualifyRunInfo = {
      run,
      cases: cases.map(caseInfo),
      external,
      timeScale: request.timeScale ?? 1,
      startedAt: new Date().toISOString(),
      topology: source,
    };
    this.#state = { ...info, running: true, results: [], generation: this.#host.generation() };
    this.#results = [];
    this.#started = performance.now();
    const abort = new AbortController();
    this.#abort = abort;
    this.#host.emit({ type: 'qualify-start', run: info });
    this.#running = this.#run(cases, input, source, request, abort.signal).finally(() => {
      this.#running = null;
      this.#abort = null;
    });
    return info;
  }

  async #run(cases: Scenario[], input: TopologyInput, source: string, request: QualifyRunRequest, signal: AbortSignal): Promise<void> {
    const state = this.#state as QualifyState;
    const run = state.run;
    let error: string | undefined;
    let suite: SuiteResult | null = null;
    try {
      suite = await runSuite(cases, input, {
        external: request.external ?? [],
        freePorts: true,
        source,
        ...(request.timeScale !== undefined ? { timeScale: request.timeScale } : {}),
        ...(request.t1Ms !== undefined ? { timers: { t1: request.t1Ms } } : {}),
        signal,
        onCaseStart: (scenario, position, total) => {
          state.current = scenario.id;
          this.#host.emit({ type: 'qualify-case-start', run, id: scenario.id, position, total });
        },
        onResult: (r) => {
          const position = this.#results.length;
          this.#results.push(r);
          const result = this.#caseResult(r, run, position);
          state.results.push(result);
          this.#host.emit({ type: 'qualify-case', run, result, position, total: cases.length });
        },
      });
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const totals: QualifyTotals = {
      passed: this.#results.filter((r) => r.verdict === 'pass').length,
      failed: this.#results.filter((r) => r.verdict === 'fail' || r.verdict === 'error').length,
      skipped: this.#results.filter((r) => r.verdict === 'skip').length,
      durationMs: suite?.durationMs ?? Math.round(performance.now() - this.#started),
      stopped: this.#results.length < cases.length,
      ...(error !== undefined ? { error } : {}),
    };
    state.running = false;
    delete state.current;
    state.totals = totals;
    this.#host.emit({ type: 'qualify-done', run, totals });
  }

  #caseResult(r: CaseResult, run: number, position: number): QualifyCaseResult {
    const added = r.records.length > 0 ? this.#host.addCase(r, run, position) : null;
    const steps: QualifyStep[] = r.steps.map((s) => {
      const step: QualifyStep = { index: s.index, action: s.action, description: s.description, verdict: s.verdict, atMs: s.atMs };
      if (s.expected !== undefined) step.expected = s.expected;
      if (s.observed !== undefined) step.observed = s.observed;
      if (s.messageIndex !== undefined) {
        step.caseMessage = s.messageIndex;
        const label = messageLabel(r, s.messageIndex);
        if (label !== undefined) step.messageLabel = label;
        if (added !== null && s.messageIndex < added.count) step.messageIndex = added.base + s.messageIndex;
      }
      return step;
    });
    return {
      id: r.id,
      title: r.title,
      area: areaOf(r.id),
      verdict: r.verdict,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      durationMs: r.durationMs,
      steps,
      ...(added !== null ? { source: added.source, firstMessage: added.base } : {}),
      messages: added?.count ?? 0,
    };
  }

  stop(): void {
    this.#abort?.abort();
  }

  state(): QualifyState | null {
    return this.#state === null ? null : structuredClone(this.#state);
  }

  /** The trace was cleared: the results stay, their links to the trace go. */
  cleared(generation: number): void {
    const state = this.#state;
    if (state === null) return;
    state.generation = generation;
    for (const r of state.results) {
      delete r.source;
      delete r.firstMessage;
      for (const s of r.steps) delete s.messageIndex;
    }
  }

  #suite(): SuiteResult {
    const state = this.#state;
    if (state === null || this.#results.length === 0) throw new Error('no qualification case has run yet');
    const results = this.#results;
    return {
      cases: results,
      passed: results.filter((r) => r.verdict === 'pass').length,
      failed: results.filter((r) => r.verdict === 'fail' || r.verdict === 'error').length,
      skipped: results.filter((r) => r.verdict === 'skip').length,
      durationMs: state.totals?.durationMs ?? Math.round(performance.now() - this.#started),
      startedAt: state.startedAt,
      topology: state.topology,
      external: state.external,
    };
  }

  report(format: QualifyReportFormat): ExportResult {
    const suite = this.#suite();
    const text = format === 'junit' ? junitXml(suite) : htmlReport(suite);
    return {
      fileName: `trunklab-qualification-${stamp()}.${format === 'junit' ? 'xml' : 'html'}`,
      mimeType: format === 'junit' ? 'application/xml' : 'text/html',
      data: Buffer.from(text, 'utf8').toString('base64'),
      messages: suite.cases.reduce((n, c) => n + c.messages.length, 0),
    };
  }

  /** Stops a run and waits for its case to finish (the engine is closing). */
  async close(): Promise<void> {
    this.#abort?.abort();
    await this.#running;
  }
}

/**
 * Runs one scenario against a fresh lab: applies the scenario's trunk and
 * user settings to the topology, starts the lab with the capture tap, plays
 * the steps in order and gives each its verdict. Expectations are checked
 * on the messages the tap saw (see wire.ts), never on what the roles
 * believe they did.
 *
 * The first failing step ends the script (the steps after it are `not-run`);
 * whatever calls remain are hung up and the lab is stopped.
 */
import type { CallSummary, ElementStatus } from '../common/api.ts';
import { Lab } from '../lync/lab.ts';
import { parseTopology, type Topology, TopologyError, type TopologyInput } from '../lync/topology.ts';
import type { TimerSettings } from '../sip/transaction-timers.ts';
import type { TransportTlsOptions } from '../sip/transport.ts';
import { type CheckFailure, checkMessage, checkSdpHistory, describeMatcher, isBackground, matches, outOfBound } from './checks.ts';
import { DeviceCalls, externalCaller, type OriginateOptions } from './device-call.ts';
import { checkDtmf } from './dtmf-check.ts';
import type { ExpectSpec, Scenario, Step } from './scenario.ts';
import { type WireMessage, WireLog } from './wire.ts';

export type Verdict = 'pass' | 'fail' | 'skip' | 'not-run';

export interface StepResult {
  index: number;
  action: string;
  /** What the step does or checks, in words. */
  description: string;
  verdict: Verdict;
  expected?: string;
  observed?: string;
  /** The message the verdict is about: its index in the case's trace. */
  messageIndex?: number;
  /** ms since the case started. */
  atMs: number;
}

export interface CaseMessage {
  index: number;
  timeUs: number;
  from: string;
  to: string;
  transport: string;
  label: string;
  side: 'trunk' | 'lync';
  text: string;
}

export interface CaseResult {
  id: string;
  title: string;
  description?: string;
  verdict: 'pass' | 'fail' | 'skip' | 'error';
  /** Why it failed, was skipped or could not run: the first failing step, in one line. */
  reason?: string;
  steps: StepResult[];
  durationMs: number;
  elements: ElementStatus[];
  /** The case's SIP messages (registrations and keep-alives left out unless the case is about them). */
  messages: CaseMessage[];
  /** The store summaries of `messages` (for the ladder). */
  summaries: import('../common/api.ts').MessageSummary[];
  /** One capture record per message, in trace order (pcap frame N is message #N-1). */
  records: import('../sip/capture.ts').CaptureRecord[];
  calls: CallSummary[];
}

export interface RunOptions {
  /** `--external PEER=HOST:PORT[/transport]` values. */
  external?: string[];
  /** Multiplies every emulated delay (answer, reject, ringing, early media, digits, hang-up); 1 = as in the topology. */
  timeScale?: number;
  timers?: Partial<TimerSettings>;
  tls?: TransportTlsOptions;
  /** Name of the topology for error messages. */
  source?: string;
  /** ms to let the last transactions reach the wire after the script (default 200). */
  drainMs?: number;
  /** Cases whose call comes from an external device ask it to dial and wait (device-call.ts); without, they are skipped. */
  originate?: OriginateOptions;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The topology the scenario runs on: its trunk and user settings applied; throws with a reason when it does not fit. */
export function scenarioTopology(scenario: Scenario, input: TopologyInput, options: RunOptions = {}): Topology {
  const t: TopologyInput = structuredClone(input);
  const problems: string[] = [];
  for (const [name, cfg] of Object.entries(scenario.trunkSettings ?? {})) {
    const trunk = t.trunks?.find((x) => x.name === name);
    if (trunk === undefined) problems.push(`the topology has no trunk ${name}`);
    else trunk.configuration = { ...(trunk.configuration ?? t.trunkConfiguration ?? {}), ...cfg };
  }
  if (scenario.globalTrunkSettings !== undefined) t.trunkConfiguration = { ...(t.trunkConfiguration ?? {}), ...scenario.globalTrunkSettings };
  for (const [name, behaviour] of Object.entries(scenario.userBehaviour ?? {})) {
    const user = t.users?.find((u) => u.name === name);
    if (user === undefined) problems.push(`the topology has no Lync user ${name}`);
    else user.behaviour = { ...(user.behaviour ?? {}), ...behaviour } as typeof user.behaviour;
  }
  if (problems.length > 0) throw new CaseSkip(problems.join('; '));
  let topology: Topology;
  try {
    topology = parseTopology(t, options.source ?? 'topology', { external: options.external ?? [] });
  } catch (error) {
    if (error instanceof TopologyError) throw new CaseError(`the scenario's settings make the topology invalid: ${error.message}`);
    throw error;
  }
  const scale = options.timeScale ?? 1;
  if (scale !== 1) scaleDelays(topology, scale);
  return topology;
}

function scaleDelays(topology: Topology, scale: number): void {
  const keys = ['answerAfterMs', 'rejectAfterMs', 'ringingAfterMs', 'earlyMediaAfterMs', 'sendDigitsAfterMs', 'hangUpAfterMs'] as const;
  const behaviours = [...topology.users.map((u) => u.behaviour), ...topology.peers.flatMap((p) => [p.behaviour.unknownNumber, ...p.numbers.map((n) => n.behaviour)])];
  for (const b of new Set(behaviours)) {
    for (const k of keys) {
      const v = b[k];
      if (typeof v === 'number') b[k] = Math.round(v * scale);
    }
  }
}

export class CaseSkip extends Error {}
export class CaseError extends Error {}

/** Plain words for a step. */
export function describeStep(step: Step): string {
  switch (step.action) {
    case 'call':
      return `${step.from} calls ${step.to}`;
    case 'answer':
    case 'hold':
    case 'resume':
    case 'cancel':
    case 'hangup':
      return `${step.action} (${step.call})`;
    case 'peer-hold':
      return `the PSTN side holds ${step.call} (a=${step.direction})`;
    case 'peer-resume':
      return `the PSTN side resumes ${step.call}`;
    case 'transfer':
      return step.replaces === undefined ? `transfer ${step.call} to ${step.target}` : `attended transfer of ${step.call} to the other party of ${step.replaces} (Replaces)`;
    case 'dtmf':
      return `DTMF ${step.digits} on ${step.call}`;
    case 'wait':
      return `wait ${step.ms} ms`;
    case 'stop-mediation-server':
      return `stop Mediation Server ${step.server}`;
    case 'refresh':
      return step.side === 'pstn' ? `the PSTN side refreshes the session of ${step.call} (re-INVITE, SDP unchanged)` : `the Mediation Server refreshes the session of ${step.call} (re-INVITE)`;
    case 'prack':
      return `PRACK of the last reliable provisional of ${step.call} and its 200 within ${step.within} ms`;
    case 'expect':
      return `${step.expect.absent ? 'no ' : ''}${describeMatcher(step.expect.match)} within ${step.expect.within} ms`;
    case 'expect-call':
      return `call ${step.call} ${step.state.join(' or ')}${step.status ? ` with ${step.status.join('/')}` : ''} within ${step.within} ms`;
    case 'expect-dtmf':
      return step.absent
        ? `no DTMF${step.digits ? ` ${step.digits}` : ''} reaches ${step.to} on ${step.call} within ${step.within} ms`
        : `DTMF ${step.digits} reaches ${step.to} on ${step.call}${step.payloadType !== undefined ? ` (payload ${step.payloadType})` : ''} within ${step.within} ms`;
  }
}

/** The peers a scenario needs to place calls from: a case cannot make an external device dial. */
function callingPeers(scenario: Scenario, topology: Topology): string[] {
  const out: string[] = [];
  for (const s of scenario.steps) {
    if (s.action !== 'call') continue;
    for (const p of topology.peers) {
      if (p.name === s.from || p.numbers.some((n) => n.number === s.from || n.number.replace(/^\+/, '') === s.from.replace(/^\+/, ''))) out.push(p.name);
    }
  }
  return out;
}

export async function runScenario(scenario: Scenario, input: TopologyInput, options: RunOptions = {}): Promise<CaseResult> {
  const started = performance.now();
  const result: CaseResult = { id: scenario.id, title: scenario.title, verdict: 'pass', steps: [], durationMs: 0, elements: [], messages: [], summaries: [], records: [], calls: [] };
  if (scenario.description !== undefined) result.description = scenario.description;
  let topology: Topology;
  try {
    topology = scenarioTopology(scenario, input, options);
  } catch (error) {
    result.verdict = error instanceof CaseSkip ? 'skip' : 'error';
    result.reason = (error as Error).message;
    return result;
  }
  const external = callingPeers(scenario, topology).filter((name) => topology.peers.find((p) => p.name === name)?.external !== null);
  if (external.length > 0 && !(options.originate !== undefined && options.originate.waitMs > 0)) {
    result.verdict = 'skip';
    result.reason = `the call comes from ${external[0]}, an external device: place it from the device (this case cannot make it dial; --originate-wait / --originate-cmd ask it to)`;
    return result;
  }
  const wire = new WireLog();
  let lab: Lab;
  try {
    lab = await Lab.start(topology, { tap: wire.tap, timers: options.timers, tls: options.tls });
  } catch (error) {
    result.verdict = 'error';
    result.reason = `the lab did not start: ${(error as Error).message}`;
    return result;
  }
  wire.attach(lab);
  const devices = options.originate !== undefined && options.originate.waitMs > 0 ? new DeviceCalls(lab, scenario.id, options.originate) : null;
  const run = new ScriptRun(lab, wire, started, devices);
  try {
    let failed = false;
    for (const [i, step] of scenario.steps.entries()) {
      const base = { index: i, action: step.action === 'expect' && step.expect.absent ? 'expect-absent' : step.action, description: step.label ?? describeStep(step), atMs: Math.round(performance.now() - started) };
      if (failed) {
        result.steps.push({ ...base, verdict: 'not-run' });
        continue;
      }
      let outcome: Omit<StepResult, keyof typeof base>;
      try {
        outcome = await run.step(step);
      } catch (error) {
        outcome = { verdict: 'fail', expected: 'the step to run', observed: (error as Error).message };
      }
      result.steps.push({ ...base, ...outcome });
      if (outcome.verdict === 'skip') {
        // The external device never placed the call the case needs: nothing to judge.
        failed = true;
        result.verdict = 'skip';
        result.reason = outcome.observed ?? `step ${i + 1} (${base.description}) could not run`;
      }
      if (outcome.verdict === 'fail') {
        failed = true;
        result.verdict = 'fail';
        const at = outcome.messageIndex === undefined ? '' : ` (message #${outcome.messageIndex})`;
        result.reason = `step ${i + 1} (${base.description}): expected ${outcome.expected ?? '?'}, observed ${outcome.observed ?? '?'}${at}`;
      }
    }
    await run.finish(options.drainMs ?? 200);
  } finally {
    result.calls = lab.calls();
    await lab.stop();
    await devices?.close();
    wire.close();
  }
  const about = new Set(scenario.steps.flatMap((s) => (s.action === 'expect' ? [s.expect.match.request, s.expect.match.method] : [])));
  for (let i = 0; i < wire.size; i++) {
    const m = wire.at(i);
    if ((m.summary.method === 'REGISTER' || m.summary.method === 'OPTIONS') && !about.has(m.summary.method)) continue;
    result.summaries.push(m.summary);
    result.messages.push({ index: i, timeUs: m.summary.timeUs, from: m.summary.from, to: m.summary.to, transport: m.summary.transport, label: m.label, side: m.side, text: wire.text(i) });
  }
  result.elements = wire.elements;
  result.records = wire.messageRecords();
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

type Outcome = Omit<StepResult, 'index' | 'action' | 'description' | 'atMs'>;

/** The state of one script while it runs: its calls by name, the action mark, the last match. */
class ScriptRun {
  readonly #lab: Lab;
  readonly #wire: WireLog;
  readonly #calls = new Map<string, string>();
  #actionMark = 0;
  #lastMatch = -1;
  /** Digits matched by earlier `expect-dtmf` steps, per call and party. */
  readonly #dtmfMatched = new Map<string, number>();
  readonly #startMark: number;
  readonly #devices: DeviceCalls | null;

  constructor(lab: Lab, wire: WireLog, _started: number, devices: DeviceCalls | null = null) {
    this.#lab = lab;
    this.#wire = wire;
    this.#startMark = wire.size;
    this.#devices = devices;
  }

  #callId(name: string): string {
    const id = this.#calls.get(name);
    if (id === undefined) throw new Error(`no call named ${name} was placed`);
    return id;
  }

  #summary(name: string): CallSummary | undefined {
    const id = this.#calls.get(name);
    return this.#lab.calls().find((c) => c.id === id);
  }

  async step(step: Step): Promise<Outcome> {
    if (step.action !== 'expect' && step.action !== 'expect-call' && step.action !== 'expect-dtmf' && step.action !== 'prack' && step.action !== 'wait') this.#actionMark = this.#wire.size;
    switch (step.action) {
      case 'call': {
        const device = this.#devices === null ? null : externalCaller(this.#lab.topology, step.from);
        if (device !== null) return this.#deviceCall(step, device);
        const { callId } = this.#lab.placeCall({ from: step.from, to: step.to });
        this.#calls.set(step.call, callId);
        return { verdict: 'pass', observed: `call ${callId} placed` };
      }
      case 'wait':
        await sleep(step.ms);
        return { verdict: 'pass' };
      case 'stop-mediation-server':
        if (this.#lab.mediationServer(step.server) === null) return { verdict: 'fail', expected: `a Mediation Server ${step.server}`, observed: 'the topology has none by that name' };
        await this.#lab.stopMediationServer(step.server);
        return { verdict: 'pass', observed: `${step.server} stopped` };
      case 'cancel': {
        if (this.#devices?.get(step.call) !== undefined) return this.#deviceEnd(step.call, 'cancel');
        const s = this.#summary(step.call);
        if (s?.answeredUs !== undefined) return { verdict: 'fail', expected: 'a call not yet answered, to cancel', observed: `the call was answered (${s.state})` };
        return this.#act(step.call, { action: 'hangup' }, step.mayFail);
      }
      case 'hangup':
        if (this.#devices?.get(step.call) !== undefined) return this.#deviceEnd(step.call, 'hangup');
        return this.#act(step.call, { action: step.action }, step.mayFail);
      case 'answer':
      case 'hold':
      case 'resume':
        return this.#act(step.call, { action: step.action }, step.mayFail);
      case 'peer-hold':
        return this.#act(step.call, { action: 'peer-hold', direction: step.direction }, step.mayFail);
      case 'peer-resume':
        return this.#act(step.call, { action: 'peer-resume' }, step.mayFail);
      case 'transfer':
        return step.replaces === undefined
          ? this.#act(step.call, { action: 'transfer', target: step.target }, step.mayFail)
          : this.#act(step.call, { action: 'transfer', replaces: this.#callId(step.replaces) }, step.mayFail);
      case 'dtmf':
        return this.#act(step.call, { action: 'dtmf', digits: step.digits }, step.mayFail);
      case 'refresh':
        return this.#act(step.call, { action: step.side === 'pstn' ? 'peer-refresh' : 'refresh' }, false);
      case 'prack':
        return this.#prack(step);
      case 'expect':
        return this.#expect(step.expect);
      case 'expect-call':
        return this.#expectCall(step);
      case 'expect-dtmf': {
        // RFC 4733 digits on the wire: what the party's RTP socket received (see dtmf-check.ts).
        const key = `${step.call}\u0000${step.to}`;
        const { consumed, ...outcome } = await checkDtmf(this.#lab, this.#callId(step.call), step, this.#dtmfMatched.get(key) ?? 0);
        this.#dtmfMatched.set(key, (this.#dtmfMatched.get(key) ?? 0) + consumed);
        return outcome;
      }
    }
  }

  /** A call from an external device: ask it to dial, wait for its INVITE (none: the case is skipped). */
  async #deviceCall(step: Extract<Step, { action: 'call' }>, peer: NonNullable<ReturnType<typeof externalCaller>>): Promise<Outcome> {
    const placed = await (this.#devices as DeviceCalls).place(step.call, step.from, step.to, peer);
    if (!placed.ok) return { verdict: 'skip', expected: `a call from ${peer.name}`, observed: placed.reason };
    this.#calls.set(step.call, placed.call.record.id);
    const invite = this.#deviceRequest(['INVITE'], placed.call.gatewayCallId);
    return { verdict: 'pass', observed: `${peer.name} called after ${placed.waitedMs} ms`, ...(invite === undefined ? {} : { messageIndex: invite }) };
  }

  /** Hanging up or cancelling a call an external device placed is the device's part: ask, wait for its BYE or CANCEL. */
  async #deviceEnd(name: string, action: 'hangup' | 'cancel'): Promise<Outcome> {
    const devices = this.#devices as DeviceCalls;
    const call = devices.get(name);
    if (call === undefined) return { verdict: 'fail', expected: `a call named ${name}`, observed: 'none' };
    const ended = await devices.end(name, action);
    // The device may have hung up before this step: the expectations after it look from its request on.
    const at = this.#deviceRequest(['BYE', 'CANCEL'], call.gatewayCallId);
    if (at !== undefined && at < this.#actionMark) this.#actionMark = at;
    const what = action === 'cancel' ? 'cancel its call (CANCEL)' : 'hang up (BYE)';
    if (!ended) return { verdict: 'fail', expected: `${call.peer} (the device under test) to ${what}`, observed: `the call is still ${call.record.state}` };
    return { verdict: 'pass', observed: `${call.peer} ended the call (${call.record.state}${call.record.status !== undefined ? ` ${call.record.status}` : ''})`, ...(at === undefined ? {} : { messageIndex: at }) };
  }

  /** The first of these requests on a device's leg since the case started. */
  #deviceRequest(methods: string[], callId: string): number | undefined {
    for (let i = this.#startMark; i < this.#wire.size; i++) {
      const s = this.#wire.at(i).summary;
      if (s.kind === 'request' && s.callId === callId && methods.includes(s.method ?? '') && !s.retransmission) return i;
    }
    return undefined;
  }

  async #act(name: string, request: Parameters<Lab['callAction']>[1], mayFail: boolean): Promise<Outcome> {
    try {
      const s = await this.#lab.callAction(this.#callId(name), request);
      return { verdict: 'pass', observed: `call ${s.state}` };
    } catch (error) {
      const message = (error as Error).message;
      if (mayFail) return { verdict: 'pass', observed: `refused: ${message}` };
      return { verdict: 'fail', expected: `${request.action} to succeed`, observed: message };
    }
  }

  async #expect(spec: ExpectSpec): Promise<Outcome> {
    const from = spec.match.since === 'start' ? this.#startMark : spec.match.since === 'match' ? this.#lastMatch + 1 : this.#actionMark;
    const deadline = performance.now() + spec.within;
    let scanned = from;
    let seen = 0;
    const what = describeMatcher(spec.match);
    for (;;) {
      const size = this.#wire.size;
      for (; scanned < size; scanned++) {
        const m = this.#wire.at(scanned);
        if (isBackground(m, spec.match) || !matches(m, spec.match)) continue;
        seen += 1;
        if (seen < spec.match.nth) continue;
        if (spec.absent) return { verdict: 'fail', expected: `no ${what} within ${spec.within} ms`, observed: `${m.label} ${m.summary.from} → ${m.summary.to}`, messageIndex: m.index };
        this.#lastMatch = m.index;
        const failures = [...checkMessage(m, spec, this.#inviteTime(m)), ...this.#rackFailures(m, spec), ...this.#afterPrackFailures(m, spec), ...this.#sdpHistoryFailures(m, spec)];
        if (failures.length === 0) return { verdict: 'pass', observed: `${m.label} ${m.summary.from} → ${m.summary.to}`, messageIndex: m.index };
        return { verdict: 'fail', expected: failures.map((f) => f.expected).join('; '), observed: `${failures.map((f) => f.observed).join('; ')} in ${m.label} ${m.summary.from} → ${m.summary.to}`, messageIndex: m.index };
      }
      if (performance.now() >= deadline) break;
      await sleep(10);
    }
    if (spec.absent) return { verdict: 'pass', observed: `none within ${spec.within} ms` };
    return { verdict: 'fail', expected: `${what} within ${spec.within} ms`, observed: this.#lastSeen(from, spec) };
  }

  /** `rack`: the PRACK's RAck names the last reliable provisional of its call sent to the PRACK's sender (RFC 3262 §7.2). */
  #rackFailures(m: WireMessage, spec: ExpectSpec): CheckFailure[] {
    if (spec.rack !== true) return [];
    const prack = m.message;
    if (prack === null) return [];
    const rack = /^\s*(\d+)\s+(\d+)\s+([A-Za-z]+)\s*$/.exec(prack.get('rack') ?? '');
    if (rack === null) return [{ expected: 'RAck: <RSeq> <CSeq number> <method> (RFC 3262 §7.2)', observed: `RAck: ${prack.get('rack') ?? '(none)'}` }];
    for (let i = m.index - 1; i >= this.#startMark; i--) {
      const p = this.#wire.at(i);
      const r = p.message;
      if (r === null || r.kind !== 'response' || r.callId !== prack.callId || r.status <= 100 || r.status >= 200 || !r.has('rseq') || p.summary.to !== m.summary.from) continue;
      const want = `${(r.get('rseq') ?? '').trim()} ${r.cseq?.seq ?? '?'} ${r.cseq?.method ?? '?'}`;
      const got = `${rack[1]} ${rack[2]} ${rack[3].toUpperCase()}`;
      return got === want ? [] : [{ expected: `RAck: ${want} (the ${r.status} of message #${p.index})`, observed: `RAck: ${prack.get('rack')}` }];
    }
    return [{ expected: 'a reliable provisional response (with RSeq) before the PRACK', observed: 'none in its call' }];
  }

  /** `sdp.version`/`sdp.sameMedia`: against the previous SDP the same sender sent in the call. */
  #sdpHistoryFailures(m: WireMessage, spec: ExpectSpec): CheckFailure[] {
    const msg = m.message;
    if (spec.sdp === undefined || msg === null || msg.body.length === 0) return [];
    let previous: { text: string; index: number } | null = null;
    for (let i = m.index - 1; i >= this.#startMark && previous === null; i--) {
      const p = this.#wire.at(i);
      const x = p.message;
      if (x !== null && !p.summary.retransmission && x.callId === msg.callId && p.summary.from === m.summary.from && x.body.length > 0 && /application\/sdp/i.test(x.contentType ?? 'application/sdp')) previous = { text: x.bodyText, index: p.index };
    }
    return checkSdpHistory(msg.bodyText, previous, spec.sdp);
  }

  /** `afterPrack`: each reliable provisional with SDP the sender sent in the call was PRACKed before this response (RFC 3262 §3). */
  #afterPrackFailures(m: WireMessage, spec: ExpectSpec): CheckFailure[] {
    const res = m.message;
    if (spec.afterPrack !== true || res === null || res.kind !== 'response') return [];
    const pracked = new Set<string>();
    const unacked: Array<{ rseq: string; index: number; status: number }> = [];
    for (let i = this.#startMark; i < m.index; i++) {
      const p = this.#wire.at(i);
      const x = p.message;
      if (x === null || x.callId !== res.callId) continue;
      if (x.kind === 'request' && x.method === 'PRACK' && p.summary.from === m.summary.to) pracked.add(/^\s*(\d+)/.exec(x.get('rack') ?? '')?.[1] ?? '');
      else if (x.kind === 'response' && x.status > 100 && x.status < 200 && x.has('rseq') && x.body.length > 0 && p.summary.from === m.summary.from) {
        const rseq = (x.get('rseq') ?? '').trim();
        if (!unacked.some((u) => u.rseq === rseq)) unacked.push({ rseq, index: p.index, status: x.status });
      }
    }
    const missing = unacked.filter((u) => !pracked.has(u.rseq));
    if (missing.length === 0) return [];
    const first = missing[0];
    return [{ expected: `the ${res.status} only after the PRACK of the reliable ${first.status} with SDP (RSeq ${first.rseq}, message #${first.index}; RFC 3262 §3)`, observed: `the ${res.status} before that PRACK` }];
  }

  /**
   * `prack`: on the trunk, the PRACK of the last reliable provisional (RSeq) to the call's INVITE, from the
   * party it went to, with its RAck (RFC 3262 §7.2, as the `rack` check), and the 200 to that PRACK.
   */
  async #prack(step: Extract<Step, { action: 'prack' }>): Promise<Outcome> {
    const deadline = performance.now() + step.within;
    const legs = (): string[] => this.#summary(step.call)?.legs ?? [];
    for (;;) {
      const found = this.#prackState(legs());
      if (found.ok !== undefined) {
        this.#lastMatch = found.ok.index;
        return { verdict: 'pass', observed: `${found.ok.label} ${found.ok.summary.from} → ${found.ok.summary.to} (RAck: ${found.rack})`, messageIndex: found.ok.index };
      }
      if (performance.now() >= deadline) {
        return { verdict: 'fail', expected: `${found.expected} within ${step.within} ms`, observed: found.observed, ...(found.messageIndex === undefined ? {} : { messageIndex: found.messageIndex }) };
      }
      await sleep(10);
    }
  }

  #prackState(legs: string[]): { ok?: WireMessage; rack?: string; expected: string; observed: string; messageIndex?: number } {
    let reliable: WireMessage | undefined;
    for (let i = this.#wire.size - 1; i >= this.#startMark; i--) {
      const p = this.#wire.at(i);
      const r = p.message;
      if (p.side !== 'trunk' || p.summary.retransmission || r === null || r.kind !== 'response' || !legs.includes(r.callId)) continue;
      if (r.status > 100 && r.status < 200 && r.has('rseq') && r.cseq?.method === 'INVITE') {
        reliable = p;
        break;
      }
    }
    if (reliable === undefined || reliable.message === null || reliable.message.kind !== 'response') return { expected: 'a reliable provisional response (RSeq) to the INVITE on the trunk, then its PRACK', observed: 'no reliable provisional response in the call' };
    const res = reliable.message;
    const want = `${(res.get('rseq') ?? '').trim()} ${res.cseq?.seq ?? '?'} INVITE`;
    const who = reliable.summary.to;
    const expected = `PRACK with RAck: ${want} from ${who} (for the ${res.status} of message #${reliable.index})`;
    let wrong: WireMessage | undefined;
    for (let i = reliable.index + 1; i < this.#wire.size; i++) {
      const p = this.#wire.at(i);
      const x = p.message;
      if (p.side !== 'trunk' || p.summary.retransmission || x === null || x.kind !== 'request' || x.method !== 'PRACK' || x.callId !== res.callId || p.summary.from !== who) continue;
      const rack = /^\s*(\d+)\s+(\d+)\s+([A-Za-z]+)\s*$/.exec(x.get('rack') ?? '');
      if (rack === null || `${rack[1]} ${rack[2]} ${rack[3].toUpperCase()}` !== want) {
        wrong ??= p;
        continue;
      }
      for (let j = i + 1; j < this.#wire.size; j++) {
        const q = this.#wire.at(j);
        const y = q.message;
        if (q.side !== 'trunk' || q.summary.retransmission || y === null || y.kind !== 'response' || y.callId !== x.callId || y.cseq?.method !== 'PRACK' || y.cseq.seq !== x.cseq?.seq || y.status < 200) continue;
        if (y.status >= 300) return { expected: `${expected} and 200 (PRACK)`, observed: `${q.label} ${q.summary.from} → ${q.summary.to}`, messageIndex: q.index };
        return { ok: q, rack: want, expected, observed: '' };
      }
      return { expected: `200 (PRACK) to the PRACK of message #${p.index}`, observed: 'no final response to it', messageIndex: p.index };
    }
    if (wrong !== undefined) return { expected, observed: `PRACK with RAck: ${wrong.message?.get('rack') ?? '(none)'}`, messageIndex: wrong.index };
    return { expected, observed: 'none' };
  }

  /** What did cross that part of the wire instead, for the verdict. */
  #lastSeen(from: number, spec: ExpectSpec): string {
    const recent: WireMessage[] = [];
    for (let i = from; i < this.#wire.size; i++) {
      const m = this.#wire.at(i);
      if (isBackground(m, spec.match) || m.summary.retransmission) continue;
      if (spec.match.side !== 'any' && m.side !== spec.match.side) continue;
      recent.push(m);
    }
    if (recent.length === 0) return `nothing ${spec.match.side === 'trunk' ? 'on the trunk' : spec.match.side === 'lync' ? 'on the Lync side' : 'at all'}`;
    // An expectation about one element (gw-a) is best explained by what that element did, when it did anything.
    const named = [spec.match.from, spec.match.to].filter((p): p is string => p !== undefined && !['peer', 'mediation', 'front-end', 'user'].includes(p));
    const about = recent.filter((m) => named.some((n) => m.summary.from === n || m.summary.to === n));
    const last = (about.length > 0 ? about : recent).slice(-4).map((m) => `#${m.index} ${m.label} ${m.summary.from} → ${m.summary.to}`);
    return `none; last seen: ${last.join(', ')}`;
  }

  #inviteTime(m: WireMessage): number | null {
    const callId = m.summary.callId;
    for (let i = this.#startMark; i < m.index; i++) {
      const s = this.#wire.at(i).summary;
      if (s.kind === 'request' && s.method === 'INVITE' && s.callId === callId) return s.timeUs;
    }
    return null;
  }

  async #expectCall(step: Extract<Step, { action: 'expect-call' }>): Promise<Outcome> {
    const deadline = performance.now() + step.within;
    let s = this.#summary(step.call);
    while ((s === undefined || !step.state.includes(s.state as never)) && performance.now() < deadline) {
      await sleep(10);
      s = this.#summary(step.call);
    }
    const where = (x: CallSummary | undefined): string => (x === undefined ? 'no such call' : `${x.state}${x.status !== undefined ? ` ${x.status}` : ''}${x.reason ? ` ${x.reason}` : ''}`);
    if (s === undefined || !step.state.includes(s.state as never)) return { verdict: 'fail', expected: `call ${step.state.join(' or ')} within ${step.within} ms`, observed: where(s) };
    if (step.status !== undefined && (s.status === undefined || !step.status.includes(s.status))) return { verdict: 'fail', expected: `final status ${step.status.join(' or ')}`, observed: where(s) };
    if (step.trunks !== undefined && JSON.stringify(s.trunks ?? []) !== JSON.stringify(step.trunks)) return { verdict: 'fail', expected: `trunks tried ${step.trunks.join(', ')}`, observed: `trunks tried ${(s.trunks ?? []).join(', ') || 'none'}` };
    if (step.postDialDelayMs !== undefined) {
      if (s.pddMs === undefined) return { verdict: 'fail', expected: 'a post-dial delay (a 18x)', observed: 'no provisional response reached the caller' };
      const problem = outOfBound(s.pddMs, step.postDialDelayMs);
      if (problem !== null) return { verdict: 'fail', expected: `post-dial delay ${problem}`, observed: `${s.pddMs} ms` };
    }
    return { verdict: 'pass', observed: `${where(s)}${s.trunks?.length ? ` via ${s.trunks.join(', ')}` : ''}${s.pddMs !== undefined ? `, PDD ${s.pddMs} ms` : ''}` };
  }

  /** Hangs up what is still up and gives the last transactions time to reach the wire. */
  async finish(drainMs: number): Promise<void> {
    for (const id of this.#calls.values()) {
      const s = this.#lab.calls().find((c) => c.id === id);
      if (s !== undefined && s.state !== 'ended' && s.state !== 'failed') {
        await this.#lab.callAction(id, { action: 'hangup' }).catch(() => undefined);
        await Promise.race([this.#lab.waitForCall(id), sleep(3000)]);
      }
    }
    // Calls created by the lab itself (a transfer's new call) are hung up too.
    for (const s of this.#lab.calls()) {
      if (s.state !== 'ended' && s.state !== 'failed') await this.#lab.callAction(s.id, { action: 'hangup' }).catch(() => undefined);
    }
    await sleep(drainMs);
  }
}

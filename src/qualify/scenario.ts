/**
 * The scenario file: one call script, from either side (a Lync user or a
 * PSTN number behind a peer), whose steps act on the lab (call, answer,
 * hold, resume, hold and resume from the PSTN side, blind and attended
 * transfer, DTMF, cancel, hang up, wait, stop a Mediation Server, refresh
 * the session now) or check the wire (a message of a given kind, crossing the trunk
 * or the Lync side, within a time bound, with its status, headers, SDP and
 * timing; the PRACK of a reliable provisional). Every step gets its own verdict (see runner.ts).
 *
 * `parseScenario()` validates a parsed JSON value and throws a
 * `ScenarioError` listing every problem with its JSON pointer
 * (`/steps/2/expect/sdp/direction`), the way the topology loader does.
 */
import type { TrunkConfigurationInput } from '../lync/topology.ts';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** Which messages an expectation looks at. */
export type Side = 'trunk' | 'lync' | 'any';

/** An element id (`med-1`, `gw-a`, `alice`) or a role: any element of it. */
export type Party = string;
export const ROLE_WORDS = ['peer', 'mediation', 'front-end', 'user'] as const;

export interface SdpCheck {
  /** true: the message must carry SDP; false: it must not. */
  present?: boolean;
  direction?: Direction;
  /** Codec names (case-insensitive) that must all be in the first audio m= line. */
  codecs?: string[];
  /** The first codec (the preferred one for an offer, the chosen one for an answer). */
  firstCodec?: string;
  /** RFC 4733: true: telephone-event is offered; false: not; a number: on that payload type. */
  telephoneEvent?: boolean | number;
  /** `a=fmtp:<te> <events>` of telephone-event (`0-16`). */
  telephoneEventFmtp?: string;
  /** SRTP offered (a=crypto). */
  crypto?: boolean;
  /**
   * The o= session version against the previous SDP the same sender sent in the call (RFC 3264 §5, §8):
   * `same` (the session is unchanged), `next` (one more: a new offer).
   */
  version?: 'same' | 'next';
  /** The m= and c= lines (address, port, payload types) are those of the previous SDP the same sender sent in the call. */
  sameMedia?: boolean;
}

export interface TimeBound {
  min?: number;
  max?: number;
}

/** What message to find. */
export interface MessageMatcher {
  side: Side;
  from?: Party;
  to?: Party;
  /** A request method, or ... */
  request?: string;
  /** ... a response: a code (486), a class (`18x`, `2xx`), `provisional`, `final` or `any`. */
  response?: number | string;
  /** CSeq method of the response (default INVITE). */
  method?: string;
  /** Where the search starts: the last action step (default), the case start, or after the last matched message. */
  since: 'action' | 'start' | 'match';
  /** The n-th matching message (1-based, default 1); retransmissions never count. */
  nth: number;
}

export interface MessageChecks {
  /** For a response: the code(s) it must have. */
  status?: number[];
  /** Header name → true (present), false (absent), or a regex (case-insensitive) one of its values must match. */
  headers?: Record<string, boolean | string>;
  /** A regex the Request-URI must match. */
  requestUri?: string;
  /** A response must carry a To tag (RFC 3261 §8.2.6.2): true. */
  toTag?: boolean;
  sdp?: SdpCheck;
  /** ms from the first INVITE of the same Call-ID to this message: post-dial delay on a 18x. */
  sinceInviteMs?: TimeBound;
  /** The transport it crossed (TLS trunks). */
  transport?: 'udp' | 'tcp' | 'tls';
  /**
   * For a PRACK (RFC 3262 §7.2): its RAck must name the last reliable provisional response (RSeq, CSeq
   * number and method) of its call sent to the PRACK's sender.
   */
  rack?: boolean;
  /**
   * For a 2xx to an INVITE (RFC 3262 §3): every reliable provisional with SDP its sender sent in that call
   * must have been PRACKed before it.
   */
  afterPrack?: boolean;
}

export interface ExpectSpec extends MessageChecks {
  match: MessageMatcher;
  /** How long to wait for the message (ms, default 5000). */
  within: number;
  /** The message must NOT appear within `within` ms. */
  absent: boolean;
}

export type CallState = 'ringing' | 'early-media' | 'connected' | 'held' | 'ended' | 'failed';

export type Step =
  | { action: 'call'; label?: string; call: string; from: string; to: string }
  | { action: 'answer' | 'hold' | 'resume' | 'cancel' | 'hangup'; label?: string; call: string; mayFail: boolean }
  | { action: 'peer-hold'; label?: string; call: string; direction: 'sendonly' | 'inactive'; mayFail: boolean }
  | { action: 'peer-resume'; label?: string; call: string; mayFail: boolean }
  /** Blind (`target`) or attended: `replaces` names the consultation call (an earlier "call" step) to replace. */
  | { action: 'transfer'; label?: string; call: string; target?: string; replaces?: string; mayFail: boolean }
  | { action: 'dtmf'; label?: string; call: string; digits: string; mayFail: boolean }
  | { action: 'wait'; label?: string; ms: number }
  | { action: 'stop-mediation-server'; label?: string; server: string }
  /**
   * A session refresh now (RFC 4028): `lync` (default): the Mediation Server re-INVITEs its gateway leg as its
   * periodic refresh does; `pstn`: the emulated peer re-INVITEs with its SDP unchanged.
   */
  | { action: 'refresh'; label?: string; call: string; side: 'lync' | 'pstn' }
  /**
   * On the trunk: the PRACK of the last reliable provisional response (RSeq) to the call's INVITE, with
   * `RAck: <RSeq> <CSeq> INVITE` (RFC 3262 §7.2), and the 200 to that PRACK, within `within` ms.
   */
  | { action: 'prack'; label?: string; call: string; within: number }
  | { action: 'expect'; label?: string; expect: ExpectSpec }
  | { action: 'expect-call'; label?: string; call: string; state: CallState[]; status?: number[]; within: number; trunks?: string[]; postDialDelayMs?: TimeBound }
  | ({ action: 'expect-dtmf'; label?: string } & DtmfExpectation);

/**
 * RFC 4733 digits that must reach a party's RTP socket on a call (checked
 * on what the party received, not on what was sent): the digits the party
 * received since the call started, or since the previous `expect-dtmf` for
 * the same call and party, must be `digits`.
 */
export interface DtmfExpectation {
  call: string;
  /** The party that must receive: an element id (`gw-a`, `alice`, `med-1`) or `peer`, `user`, `mediation`. */
  to: Party;
  /** DTMF digits (0-9 * # A-D); with `absent`, optional. */
  digits?: string;
  /** The telephone-event payload type they must arrive with. */
  payloadType?: number;
  /** How long to wait, ms (default 5000). */
  within: number;
  /** No digit may arrive within `within` ms. */
  absent: boolean;
  /** At a Mediation Server: relayed to the other leg as RFC 4733 (true), or reported as not relayable (false). */
  relayed?: boolean;
  /** Every digit arrived before the call was answered (early media). */
  beforeAnswer?: boolean;
}

export interface Scenario {
  id: string;
  title: string;
  /** Why the case exists: the Lync behaviour or RFC it checks. */
  description?: string;
  /** Trunk settings to apply before the run: trunk name → Set-CsTrunkConfiguration values (merged into the trunk's own). */
  trunkSettings?: Record<string, TrunkConfigurationInput>;
  /** Settings for every trunk (`trunkConfiguration` of the topology), merged. */
  globalTrunkSettings?: TrunkConfigurationInput;
  /** Lync user behaviour overrides: user id → behaviour (as in the topology file). */
  userBehaviour?: Record<string, Record<string, unknown>>;
  /** Needs the peer side to place a call: skipped when that peer is an external device. */
  steps: Step[];
}

export interface ScenarioProblem {
  path: string;
  message: string;
}

export class ScenarioError extends Error {
  readonly problems: ScenarioProblem[];
  constructor(source: string, problems: ScenarioProblem[]) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the scenario:\n${problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n')}`);
    this.problems = problems;
  }
}

const ACTIONS = ['call', 'answer', 'hold', 'resume', 'peer-hold', 'peer-resume', 'cancel', 'hangup', 'transfer', 'dtmf', 'wait', 'stop-mediation-server', 'refresh', 'prack', 'expect', 'early-media', 'expect-call', 'expect-dtmf'] as const;
const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
const STATES: readonly CallState[] = ['ringing', 'early-media', 'connected', 'held', 'ended', 'failed'];
const RESPONSE_WORDS = ['provisional', 'final', 'any'];

type Json = unknown;

class Reader {
  readonly problems: ScenarioProblem[] = [];

  fail(path: string, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  object(v: Json, path: string, allowed: readonly string[]): Record<string, Json> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return this.fail(path, `must be an object, got ${kindOf(v)}`);
    const o = v as Record<string, Json>;
    for (const k of Object.keys(o)) {
      if (k === '$schema' || k === '$comment') continue;
      if (!allowed.includes(k)) this.fail(`${path}/${k}`, `unknown property; expected one of ${allowed.join(', ')}`);
    }
    return o;
  }

  string(v: Json, path: string, required: boolean, pattern?: RegExp, what?: string): string | undefined {
    if (v === undefined) return required ? this.fail(path, 'is required') : undefined;
    if (typeof v !== 'string' || v.length === 0) return this.fail(path, `must be a non-empty string, got ${kindOf(v)}`);
    if (pattern && !pattern.test(v)) return this.fail(path, `must be ${what ?? `like ${pattern}`}, got ${JSON.stringify(v)}`);
    return v;
  }

  int(v: Json, path: string, min: number, max: number): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return this.fail(path, `must be an integer from ${min} to ${max}, got ${kindOf(v)}`);
    return v;
  }

  bool(v: Json, path: string): boolean | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return this.fail(path, `must be true or false, got ${kindOf(v)}`);
    return v;
  }

  oneOf<T extends string>(v: Json, path: string, values: readonly T[], required = false): T | undefined {
    if (v === undefined) return required ? this.fail(path, `is required: one of ${values.join(', ')}`) : undefined;
    if (typeof v !== 'string' || !values.includes(v as T)) return this.fail(path, `must be one of ${values.join(', ')}, got ${kindOf(v)}`);
    return v as T;
  }

  regex(v: Json, path: string): string | undefined {
    const s = this.string(v, path, false);
    if (s === undefined) return undefined;
    try {
      new RegExp(s, 'i');
    } catch (error) {
      return this.fail(path, `is not a valid regular expression: ${(error as Error).message}`);
    }
    return s;
  }

  codes(v: Json, path: string): number[] | undefined {
    if (v === undefined) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) return this.fail(path, 'must list at least one status code');
    const out: number[] = [];
    list.forEach((c, i) => {
      const p = Array.isArray(v) ? `${path}/${i}` : path;
      const n = this.int(c, p, 100, 699);
      if (n !== undefined) out.push(n);
    });
    return out;
  }

  bound(v: Json, path: string): TimeBound | undefined {
    if (v === undefined) return undefined;
    if (typeof v === 'number') {
      const max = this.int(v, path, 0, 3_600_000);
      return max === undefined ? undefined : { max };
    }
    const o = this.object(v, path, ['min', 'max']);
    if (o === undefined) return undefined;
    const b: TimeBound = {};
    const min = this.int(o.min, `${path}/min`, 0, 3_600_000);
    const max = this.int(o.max, `${path}/max`, 0, 3_600_000);
    if (min !== undefined) b.min = min;
    if (max !== undefined) b.max = max;
    if (min === undefined && max === undefined) this.fail(path, 'needs min or max (ms)');
    return b;
  }
}

function kindOf(v: Json): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const CLASS = /^[1-6]xx$/;

/** Validates a parsed scenario file; throws ScenarioError listing every problem with its path. */
export function parseScenario(value: Json, source = 'scenario'): Scenario {
  const r = new Reader();
  const o = r.object(value, '', ['id', 'title', 'description', 'trunkSettings', 'globalTrunkSettings', 'userBehaviour', 'steps']);
  if (o === undefined) throw new ScenarioError(source, r.problems);
  const id = r.string(o.id, '/id', true, ID, 'lower-case words joined by dashes, the area first (basic-outbound-answer)');
  const title = r.string(o.title, '/title', true);
  const description = r.string(o.description, '/description', false);
  const scenario: Scenario = { id: id ?? '', title: title ?? '', steps: [] };
  if (description !== undefined) scenario.description = description;
  if (o.trunkSettings !== undefined) {
    const ts = r.object(o.trunkSettings, '/trunkSettings', Object.keys((o.trunkSettings as object | null) ?? {}));
    if (ts !== undefined) {
      scenario.trunkSettings = {};
      for (const [name, cfg] of Object.entries(ts)) {
        if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) r.fail(`/trunkSettings/${name}`, `must be an object of trunk settings, got ${kindOf(cfg)}`);
        else scenario.trunkSettings[name] = cfg as TrunkConfigurationInput;
      }
    }
  }
  if (o.globalTrunkSettings !== undefined) {
    const g = o.globalTrunkSettings;
    if (typeof g !== 'object' || g === null || Array.isArray(g)) r.fail('/globalTrunkSettings', `must be an object of trunk settings, got ${kindOf(g)}`);
    else scenario.globalTrunkSettings = g as TrunkConfigurationInput;
  }
  if (o.userBehaviour !== undefined) {
    const ub = o.userBehaviour;
    if (typeof ub !== 'object' || ub === null || Array.isArray(ub)) r.fail('/userBehaviour', `must be an object (user id → behaviour), got ${kindOf(ub)}`);
    else scenario.userBehaviour = ub as Record<string, Record<string, unknown>>;
  }
  if (!Array.isArray(o.steps)) r.fail('/steps', o.steps === undefined ? 'is required: a list of steps' : `must be an array of steps, got ${kindOf(o.steps)}`);
  else {
    if (o.steps.length === 0) r.fail('/steps', 'must hold at least one step');
    const calls = new Set<string>();
    o.steps.forEach((s, i) => {
      const step = parseStep(r, s, `/steps/${i}`, calls);
      if (step !== undefined) scenario.steps.push(step);
    });
  }
  if (r.problems.length > 0) throw new ScenarioError(source, r.problems);
  return scenario;
}

function parseStep(r: Reader, v: Json, path: string, calls: Set<string>): Step | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return r.fail(path, `must be an object with an "action", got ${kindOf(v)}`);
  const action = r.oneOf((v as Record<string, Json>).action, `${path}/action`, ACTIONS, true);
  if (action === undefined) return undefined;
  const common = ['action', 'label'];
  const label = r.string((v as Record<string, Json>).label, `${path}/label`, false);
  const withLabel = <T extends object>(step: T): T & { label?: string } => (label === undefined ? step : { ...step, label });
  const callRef = (o: Record<string, Json>): string => {
    const c = r.string(o.call, `${path}/call`, false) ?? 'main';
    if (!calls.has(c)) r.fail(`${path}/call`, `no earlier "call" step placed a call named ${JSON.stringify(c)} (known: ${[...calls].join(', ') || 'none'})`);
    return c;
  };
  switch (action) {
    case 'call': {
      const o = r.object(v, path, [...common, 'call', 'from', 'to']);
      if (o === undefined) return undefined;
      const call = r.string(o.call, `${path}/call`, false) ?? 'main';
      if (calls.has(call)) r.fail(`${path}/call`, `a call named ${JSON.stringify(call)} was already placed; name this one differently`);
      calls.add(call);
      const from = r.string(o.from, `${path}/from`, true);
      const to = r.string(o.to, `${path}/to`, true);
      return withLabel({ action, call, from: from ?? '', to: to ?? '' });
    }
    case 'answer':
    case 'hold':
    case 'resume':
    case 'cancel':
    case 'hangup': {
      const o = r.object(v, path, [...common, 'call', 'mayFail']);
      if (o === undefined) return undefined;
      return withLabel({ action, call: callRef(o), mayFail: r.bool(o.mayFail, `${path}/mayFail`) ?? false });
    }
    case 'peer-hold': {
      const o = r.object(v, path, [...common, 'call', 'direction', 'mayFail']);
      if (o === undefined) return undefined;
      const direction = r.oneOf(o.direction, `${path}/direction`, ['sendonly', 'inactive'] as const) ?? 'sendonly';
      return withLabel({ action, call: callRef(o), direction, mayFail: r.bool(o.mayFail, `${path}/mayFail`) ?? false });
    }
    case 'peer-resume': {
      const o = r.object(v, path, [...common, 'call', 'mayFail']);
      if (o === undefined) return undefined;
      return withLabel({ action, call: callRef(o), mayFail: r.bool(o.mayFail, `${path}/mayFail`) ?? false });
    }
    case 'transfer': {
      const o = r.object(v, path, [...common, 'call', 'target', 'replaces', 'mayFail']);
      if (o === undefined) return undefined;
      const call = callRef(o);
      const step: Extract<Step, { action: 'transfer' }> = { action, call, mayFail: r.bool(o.mayFail, `${path}/mayFail`) ?? false };
      if (o.replaces !== undefined) {
        const replaces = r.string(o.replaces, `${path}/replaces`, false);
        if (replaces !== undefined) {
          if (!calls.has(replaces)) r.fail(`${path}/replaces`, `no earlier "call" step placed a call named ${JSON.stringify(replaces)} to replace (known: ${[...calls].join(', ') || 'none'})`);
          else if (replaces === call) r.fail(`${path}/replaces`, 'the consultation call must be another call than the one transferred');
          step.replaces = replaces;
        }
        if (o.target !== undefined) r.fail(`${path}/target`, 'an attended transfer goes to the other party of the "replaces" call: give "target" or "replaces", not both');
      } else step.target = r.string(o.target, `${path}/target`, true, undefined) ?? '';
      return withLabel(step);
    }
    case 'dtmf': {
      const o = r.object(v, path, [...common, 'call', 'digits', 'mayFail']);
      if (o === undefined) return undefined;
      const digits = r.string(o.digits, `${path}/digits`, true, /^[0-9*#A-D]+$/, 'DTMF digits 0-9 * # A-D') ?? '';
      return withLabel({ action, call: callRef(o), digits, mayFail: r.bool(o.mayFail, `${path}/mayFail`) ?? false });
    }
    case 'wait': {
      const o = r.object(v, path, [...common, 'ms']);
      if (o === undefined) return undefined;
      if (o.ms === undefined) r.fail(`${path}/ms`, 'is required');
      return withLabel({ action, ms: r.int(o.ms, `${path}/ms`, 0, 600_000) ?? 0 });
    }
    case 'stop-mediation-server': {
      const o = r.object(v, path, [...common, 'server']);
      if (o === undefined) return undefined;
      return withLabel({ action, server: r.string(o.server, `${path}/server`, true) ?? '' });
    }
    case 'refresh': {
      const o = r.object(v, path, [...common, 'call', 'side']);
      if (o === undefined) return undefined;
      return withLabel({ action, call: callRef(o), side: r.oneOf(o.side, `${path}/side`, ['lync', 'pstn'] as const) ?? 'lync' });
    }
    case 'prack': {
      const o = r.object(v, path, [...common, 'call', 'within']);
      if (o === undefined) return undefined;
      return withLabel({ action, call: callRef(o), within: r.int(o.within, `${path}/within`, 0, 600_000) ?? 5000 });
    }
    case 'expect-call': {
      const o = r.object(v, path, [...common, 'call', 'state', 'status', 'within', 'trunks', 'postDialDelayMs']);
      if (o === undefined) return undefined;
      const states = Array.isArray(o.state) ? o.state : [o.state];
      const state: CallState[] = [];
      states.forEach((s, i) => {
        const st = r.oneOf(s, Array.isArray(o.state) ? `${path}/state/${i}` : `${path}/state`, STATES, true);
        if (st !== undefined) state.push(st);
      });
      const step: Step = { action, call: callRef(o), state, within: r.int(o.within, `${path}/within`, 0, 600_000) ?? 5000 };
      const status = r.codes(o.status, `${path}/status`);
      if (status !== undefined) step.status = status;
      if (o.trunks !== undefined) {
        if (!Array.isArray(o.trunks) || o.trunks.some((t) => typeof t !== 'string')) r.fail(`${path}/trunks`, 'must be a list of trunk names, in the order the Front End tried them');
        else step.trunks = o.trunks as string[];
      }
      const pdd = r.bound(o.postDialDelayMs, `${path}/postDialDelayMs`);
      if (pdd !== undefined) step.postDialDelayMs = pdd;
      return withLabel(step);
    }
    case 'expect-dtmf': {
      const o = r.object(v, path, [...common, 'call', 'to', 'digits', 'payloadType', 'within', 'absent', 'relayed', 'beforeAnswer']);
      if (o === undefined) return undefined;
      const absent = r.bool(o.absent, `${path}/absent`) ?? false;
      const step: Extract<Step, { action: 'expect-dtmf' }> = {
        action,
        call: callRef(o),
        to: r.string(o.to, `${path}/to`, true) ?? '',
        within: r.int(o.within, `${path}/within`, 0, 600_000) ?? 5000,
        absent,
      };
      const digits = r.string(o.digits, `${path}/digits`, !absent, /^[0-9*#A-D]+$/, 'DTMF digits 0-9 * # A-D');
      if (digits !== undefined) step.digits = digits;
      const pt = r.int(o.payloadType, `${path}/payloadType`, 0, 127);
      if (pt !== undefined) step.payloadType = pt;
      const relayed = r.bool(o.relayed, `${path}/relayed`);
      if (relayed !== undefined) step.relayed = relayed;
      const beforeAnswer = r.bool(o.beforeAnswer, `${path}/beforeAnswer`);
      if (beforeAnswer !== undefined) step.beforeAnswer = beforeAnswer;
      if (absent && (pt !== undefined || beforeAnswer !== undefined)) r.fail(path, '"absent" checks that no digit arrives: "payloadType" and "beforeAnswer" do not apply');
      return withLabel(step);
    }
    case 'early-media': {
      // Shorthand: a 183 Session Progress from the peer on the trunk, with or without SDP.
      const o = r.object(v, path, [...common, 'side', 'from', 'to', 'sdp', 'within', 'headers', 'sinceInviteMs']);
      if (o === undefined) return undefined;
      const onTrunk = (o.side ?? 'trunk') === 'trunk';
      const spec = parseExpect(r, { side: o.side ?? 'trunk', from: o.from ?? (onTrunk ? 'peer' : undefined), to: o.to, response: 183, within: o.within, headers: o.headers, sinceInviteMs: o.sinceInviteMs }, path);
      if (spec === undefined) return undefined;
      if (o.sdp !== undefined) {
        const present = r.bool(o.sdp, `${path}/sdp`);
        if (present !== undefined) spec.sdp = { present };
      }
      return withLabel({ action: 'expect' as const, expect: spec });
    }
    case 'expect': {
      const o = r.object(v, path, [...common, 'side', 'from', 'to', 'request', 'response', 'method', 'since', 'nth', 'within', 'absent', 'status', 'headers', 'requestUri', 'toTag', 'sdp', 'sinceInviteMs', 'transport', 'rack', 'afterPrack']);
      if (o === undefined) return undefined;
      const spec = parseExpect(r, o, path);
      return spec === undefined ? undefined : withLabel({ action, expect: spec });
    }
  }
}

function parseExpect(r: Reader, o: Record<string, Json>, path: string): ExpectSpec | undefined {
  const side = r.oneOf(o.side, `${path}/side`, ['trunk', 'lync', 'any'] as const) ?? 'trunk';
  const match: MessageMatcher = { side, since: r.oneOf(o.since, `${path}/since`, ['action', 'start', 'match'] as const) ?? 'action', nth: r.int(o.nth, `${path}/nth`, 1, 1000) ?? 1 };
  const from = r.string(o.from, `${path}/from`, false);
  const to = r.string(o.to, `${path}/to`, false);
  if (from !== undefined) match.from = from;
  if (to !== undefined) match.to = to;
  if (o.request !== undefined && o.response !== undefined) r.fail(path, 'give "request" or "response", not both');
  if (o.request === undefined && o.response === undefined) r.fail(path, 'needs "request" (a method) or "response" (a code, 18x, provisional, final or any)');
  const request = r.string(o.request, `${path}/request`, false, /^[A-Z]+$/, 'a method in capitals (INVITE, BYE, REFER...)');
  if (request !== undefined) match.request = request;
  if (o.response !== undefined) {
    const res = o.response;
    if (typeof res === 'number') {
      const n = r.int(res, `${path}/response`, 100, 699);
      if (n !== undefined) match.response = n;
    } else if (typeof res === 'string' && (CLASS.test(res) || RESPONSE_WORDS.includes(res))) match.response = res;
    else r.fail(`${path}/response`, `must be a status code, a class like 18x, or provisional/final/any, got ${kindOf(res)}`);
    const method = r.string(o.method, `${path}/method`, false, /^[A-Z]+$/, 'a method in capitals');
    if (method !== undefined) match.method = method;
  } else if (o.method !== undefined) r.fail(`${path}/method`, 'only for a response (the CSeq method); for a request use "request"');
  const spec: ExpectSpec = { match, within: r.int(o.within, `${path}/within`, 0, 600_000) ?? 5000, absent: r.bool(o.absent, `${path}/absent`) ?? false };
  const status = r.codes(o.status, `${path}/status`);
  if (status !== undefined) {
    if (match.request !== undefined) r.fail(`${path}/status`, 'a request has no status; expect a response instead');
    spec.status = status;
  }
  if (o.headers !== undefined) {
    const h = r.object(o.headers, `${path}/headers`, Object.keys((o.headers as object | null) ?? {}));
    if (h !== undefined) {
      spec.headers = {};
      for (const [name, want] of Object.entries(h)) {
        if (!/^[A-Za-z0-9!%'*+.^_`|~-]+$/.test(name)) r.fail(`${path}/headers/${name}`, 'is not a header name');
        else if (typeof want === 'boolean') spec.headers[name] = want;
        else {
          const re = r.regex(want, `${path}/headers/${name}`);
          if (re !== undefined) spec.headers[name] = re;
        }
      }
    }
  }
  const ruri = r.regex(o.requestUri, `${path}/requestUri`);
  if (ruri !== undefined) spec.requestUri = ruri;
  const transport = r.oneOf(o.transport, `${path}/transport`, ['udp', 'tcp', 'tls'] as const);
  if (transport !== undefined) spec.transport = transport;
  const toTag = r.bool(o.toTag, `${path}/toTag`);
  if (toTag !== undefined) spec.toTag = toTag;
  const rack = r.bool(o.rack, `${path}/rack`);
  if (rack !== undefined) {
    if (rack && match.request !== 'PRACK') r.fail(`${path}/rack`, 'checks the RAck of a PRACK: use it with "request": "PRACK"');
    spec.rack = rack;
  }
  const afterPrack = r.bool(o.afterPrack, `${path}/afterPrack`);
  if (afterPrack !== undefined) {
    if (afterPrack && (match.response === undefined || (match.method ?? 'INVITE') !== 'INVITE')) r.fail(`${path}/afterPrack`, 'checks a response to an INVITE (a 2xx): use it with "response"');
    spec.afterPrack = afterPrack;
  }
  if (o.sdp !== undefined) {
    const s = r.object(o.sdp, `${path}/sdp`, ['present', 'direction', 'codecs', 'firstCodec', 'telephoneEvent', 'telephoneEventFmtp', 'crypto', 'version', 'sameMedia']);
    if (s !== undefined) {
      const sdp: SdpCheck = {};
      const present = r.bool(s.present, `${path}/sdp/present`);
      if (present !== undefined) sdp.present = present;
      const direction = r.oneOf(s.direction, `${path}/sdp/direction`, DIRECTIONS);
      if (direction !== undefined) sdp.direction = direction;
      if (s.codecs !== undefined) {
        if (!Array.isArray(s.codecs) || s.codecs.length === 0 || s.codecs.some((c) => typeof c !== 'string')) r.fail(`${path}/sdp/codecs`, 'must be a non-empty list of codec names (PCMU, PCMA, G729)');
        else sdp.codecs = s.codecs as string[];
      }
      const first = r.string(s.firstCodec, `${path}/sdp/firstCodec`, false);
      if (first !== undefined) sdp.firstCodec = first;
      if (s.telephoneEvent !== undefined) {
        if (typeof s.telephoneEvent === 'boolean') sdp.telephoneEvent = s.telephoneEvent;
        else {
          const pt = r.int(s.telephoneEvent, `${path}/sdp/telephoneEvent`, 96, 127);
          if (pt !== undefined) sdp.telephoneEvent = pt;
        }
      }
      const fmtp = r.string(s.telephoneEventFmtp, `${path}/sdp/telephoneEventFmtp`, false);
      if (fmtp !== undefined) sdp.telephoneEventFmtp = fmtp;
      const crypto = r.bool(s.crypto, `${path}/sdp/crypto`);
      if (crypto !== undefined) sdp.crypto = crypto;
      const version = r.oneOf(s.version, `${path}/sdp/version`, ['same', 'next'] as const);
      if (version !== undefined) sdp.version = version;
      const sameMedia = r.bool(s.sameMedia, `${path}/sdp/sameMedia`);
      if (sameMedia !== undefined) sdp.sameMedia = sameMedia;
      spec.sdp = sdp;
    }
  }
  const since = r.bound(o.sinceInviteMs, `${path}/sinceInviteMs`);
  if (since !== undefined) spec.sinceInviteMs = since;
  return spec;
}

/** The area of a case: its id up to the first word that is not part of an area name. */
export function areaOf(id: string): string {
  const m = /^(basic-inbound|basic-outbound|caller-id|cancel|busy|no-answer|early-media|ringback|hold-resume|transfer|session-timer|dtmf|options|failover|translation|history-info|response-code|tls|srtp|routing)\b/.exec(id);
  return m?.[1] ?? id.split('-')[0];
}

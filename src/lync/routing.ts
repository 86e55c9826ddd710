/**
 * Voice routing on the Front End, after normalization (`dial-plan.ts`):
 *
 * 1. Reverse number lookup: an E.164 number equal to a user's Line URI
 *    (`tel:+14255550150;ext=111`) rings that user's endpoints.
 * 2. Otherwise outbound routing: the caller's voice policy lists PSTN usages
 *    in order; each usage holds routes (number pattern, trunk list), taken
 *    in route priority order (the file's order). The trunks of a route share
 *    calls round-robin *(field)*; trunks marked down are skipped. The result
 *    is the ordered list of candidate trunks for one call: the Front End
 *    tries them in turn, moving on after a 5xx, a timeout, or the fast
 *    failover timer, and stops on a 4xx or 6xx (`failsOver()`).
 *
 * Pure functions over the model; round-robin state lives in a `RoundRobin`
 * the caller keeps, trunk health in whatever `isTrunkDown` consults.
 */
import { dialString } from './dial-plan.ts';
import { type MsDiagnostic, OUTBOUND_ROUTING } from './ms-diagnostics.ts';
import { matchesPattern } from './number-pattern.ts';
import type { RoundRobin } from './round-robin.ts';
import type { LyncUser, Topology, Trunk, VoicePolicy, VoiceRoute } from './topology.ts';

// ---------------------------------------------------------------------------
// Reverse number lookup

export type ReverseLookup =
  /** `exact`: number and ext equal the Line URI; `main-number`: see `matchUniqueMainNumber`. */
  | { kind: 'user'; user: LyncUser; match: 'exact' | 'main-number' }
  /** Several users have this number with different extensions and the number has none. */
  | { kind: 'ambiguous'; users: LyncUser[] }
  | { kind: 'none' };

export interface ReverseLookupOptions {
  /**
   * A number without `;ext=` that only one user has, with an extension
   * (`tel:+14255550150;ext=111`), rings that user. *(unverified: true by
   * default; false requires the extension.)*
   */
  matchUniqueMainNumber?: boolean;
}

/** Splits `tel:+14255550150;ext=111` / `+14255550150;ext=111` into number and ext. */
export function splitExtension(number: string): { number: string; ext: string | null } {
  const text = dialString(number);
  const match = /^([^;]*)(?:;ext=(\d+))?$/i.exec(text);
  return match === null ? { number: text, ext: null } : { number: match[1], ext: match[2] ?? null };
}

/** The user whose Line URI is this (normalized, E.164) number. */
export function reverseNumberLookup(
  topology: Topology,
  number: string,
  options: ReverseLookupOptions = {},
): ReverseLookup {
  const wanted = splitExtension(number);
  const withNumber = topology.users.filter((u) => u.lineUri !== null && u.lineUri.number === wanted.number);
  const exact = withNumber.find((u) => u.lineUri?.ext === wanted.ext);
  if (exact !== undefined) return { kind: 'user', user: exact, match: 'exact' };
  if (wanted.ext !== null || withNumber.length === 0) return { kind: 'none' };
  if (withNumber.length > 1) return { kind: 'ambiguous', users: withNumber };
  if (options.matchUniqueMainNumber ?? true) return { kind: 'user', user: withNumber[0], match: 'main-number' };
  return { kind: 'none' };
}

/** The user with this SIP URI (`sip:alice@contoso.com`, with or without `<>` and parameters), case-insensitive. */
export function findUserBySipUri(topology: Topology, uri: string): LyncUser | null {
  const angled = /<([^>]*)>/.exec(uri);
  const bare = (angled === null ? uri : angled[1])
    .trim()
    .replace(/[;?].*$/, '')
    .toLowerCase();
  return topology.users.find((u) => u.sipUri.toLowerCase() === bare) ?? null;
}

// ---------------------------------------------------------------------------
// Outbound routing

/** The voice policy of a user: user (`Tag:`) > site > global (`Grant-CsVoicePolicy`). */
export function voicePolicyForUser(topology: Topology, user: LyncUser | string): VoicePolicy {
  const u = typeof user === 'string' ? topology.users.find((x) => x.name === user) : user;
  if (u === undefined) throw new Error(`voicePolicyForUser: no user named "${String(user)}"`);
  const tag = u.voicePolicy;
  const policies = topology.voicePolicies;
  return (
    (tag === null
      ? undefined
      : policies.find((p) => p.scope.kind === 'user' && p.scope.tag.toLowerCase() === tag.toLowerCase())) ??
    policies.find((p) => p.scope.kind === 'site') ??
    policies.find((p) => p.scope.kind === 'global') ?? {
      identity: 'Global',
      scope: { kind: 'global' },
      description: '',
      pstnUsages: [],
    }
  );
}

/** One trunk to try, and why it is on the list. */
export interface OutboundCandidate {
  trunk: Trunk;
  route: VoiceRoute;
  /** The PSTN usage (of the caller's policy) through which the route was reached. */
  usage: string;
}

export interface MatchedRoute {
  route: VoiceRoute;
  usage: string;
  /** Trunks of the route skipped because they are marked down. */
  skippedDown: string[];
}

export interface OutboundPlan {
  /** The number routed. */
  number: string;
  voicePolicy: VoicePolicy;
  /** Trunks in the order to try them; a trunk is listed once even if several routes name it. */
  candidates: OutboundCandidate[];
  /** Every route whose pattern matched, in the order considered. */
  matchedRoutes: MatchedRoute[];
  /**
   * Why the call cannot go out, when `candidates` is empty: 12001 (policy
   * without usages), 12004 (no route matches), 12000 (routes match, all
   * their trunks down). Null when there are candidates.
   */
  failure: { diagnostic: MsDiagnostic; status: number } | null;
}

export interface OutboundRequest {
  /** The calling user, or directly the voice policy to use. */
  caller: LyncUser | VoicePolicy | string;
  /** The normalized number. */
  number: string;
  /** Round-robin state (one per Front End), advanced once per matched route with trunks. */
  roundRobin: RoundRobin;
  /** Trunk health (e.g. the Mediation Server's OPTIONS state); default: all up. */
  isTrunkDown?: (trunk: string) => boolean;
}

/**
 * Status codes sent with each routing failure *(unverified: what a real
 * Front End sends with these diagnostics)*.
 */
export const ROUTING_FAILURE_STATUS = Object.freeze({ noPhoneUsage: 403, noRouteFound: 404, noAvailableGateway: 503 });

function isPolicy(value: unknown): value is VoicePolicy {
  return typeof value === 'object' && value !== null && 'pstnUsages' in value && 'identity' in value;
}

/** The ordered candidate trunks for one outbound call. */
export function outboundCandidates(topology: Topology, request: OutboundRequest): OutboundPlan {
  const policy = isPolicy(request.caller) ? request.caller : voicePolicyForUser(topology, request.caller);
  const isDown = request.isTrunkDown ?? (() => false);
  const trunks = new Map(topology.trunks.map((t) => [t.name, t]));
  const plan: OutboundPlan = {
    number: request.number,
    voicePolicy: policy,
    candidates: [],
    matchedRoutes: [],
    failure: null,
  };
  if (policy.pstnUsages.length === 0) {
    plan.failure = { diagnostic: OUTBOUND_ROUTING.noPhoneUsage, status: ROUTING_FAILURE_STATUS.noPhoneUsage };
    return plan;
  }
  const seenRoutes = new Set<string>();
  const listed = new Set<string>();
  for (const usage of policy.pstnUsages) {
    for (const route of topology.voiceRoutes) {
      if (seenRoutes.has(route.name) || !route.pstnUsages.includes(usage)) continue;
      if (!matchesPattern(route.numberPattern, request.number)) continue;
      seenRoutes.add(route.name);
      const up = route.trunks.filter((name) => trunks.has(name) && !isDown(name));
      const skippedDown = route.trunks.filter((name) => trunks.has(name) && isDown(name));
      plan.matchedRoutes.push({ route, usage, skippedDown });
      for (const name of request.roundRobin.rotate(route.name, up)) {
        if (listed.has(name)) continue;
        listed.add(name);
        plan.candidates.push({ trunk: trunks.get(name) as Trunk, route, usage });
      }
    }
  }
  if (plan.matchedRoutes.length === 0) {
    plan.failure = { diagnostic: OUTBOUND_ROUTING.noRouteFound, status: ROUTING_FAILURE_STATUS.noRouteFound };
  } else if (plan.candidates.length === 0) {
    plan.failure = {
      diagnostic: OUTBOUND_ROUTING.noAvailableGateway,
      status: ROUTING_FAILURE_STATUS.noAvailableGateway,
    };
  }
  return plan;
}

/** What ended one attempt on one trunk. */
export type AttemptOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'timeout' }
  | { kind: 'fast-failover' }
  | { kind: 'trunk-down' };

/**
 * Whether the Front End tries the next candidate after this attempt: yes
 * on a 5xx (after response code translation), a timeout, the fast failover
 * timer or a trunk found down; no on a 4xx or 6xx (the call ends) or a
 * success.
 */
export function failsOver(outcome: AttemptOutcome): boolean {
  if (outcome.kind !== 'response') return true;
  return outcome.status >= 500 && outcome.status <= 599;
}

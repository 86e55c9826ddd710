/**
 * Dial plans and normalization (`New-CsDialPlan`, `New-CsVoiceNormalizationRule`):
 * turning what a user dialed, or what a gateway sent, into an E.164 number.
 *
 * - The rules of one dial plan are tried top-down; the first whose pattern
 *   matches translates the number (`^(\d{4})$` → `+1425555$1`), and no
 *   other rule runs.
 * - One dial plan applies, chosen by scope: a user's own (`Tag:`) over the
 *   pool's (`Service:Registrar:`) over the site's over the global one.
 *   Scoped dial plans do not inherit rules from wider ones.
 * - A call from a gateway is normalized with that gateway's dial plan
 *   (`Service:PstnGateway:`); without one, the site's, then the global one
 *   *(unverified fallback)*.
 */
import { applyTranslation } from './number-pattern.ts';
import type { DialPlan, DialPlanScope, LyncUser, NormalizationRule, Peer, Topology } from './topology.ts';

/** `+` then 2 to 15 digits (E.164), optionally `;ext=digits` as in a Line URI. */
export function isE164(number: string): boolean {
  return /^\+[1-9]\d{1,14}(?:;ext=\d+)?$/.test(number);
}

/**
 * The dial string of a number or URI: `tel:` / `sip:` scheme, `@host`, and
 * parameters other than `ext` removed (`sip:2160;phone-context=dialstring@contoso.com;user=phone`
 * → `2160`), then the separators a Lync client strips (spaces, `-`, `.`,
 * `(`, `)`).
 */
export function dialString(numberOrUri: string): string {
  let text = numberOrUri.trim().replace(/^(?:tel|sips?):/i, '');
  text = text.replace(/@.*$/, '');
  const [head, ...params] = text.split(';');
  const ext = params.find((p) => /^ext=/i.test(p));
  return head.replace(/[\s\-.()]/g, '') + (ext === undefined ? '' : `;${ext.toLowerCase()}`);
}

export interface NormalizationResult {
  /** What was given. */
  dialed: string;
  /** After `dialString()`: what the rules saw. */
  input: string;
  /** The translated number (the input itself when no rule matched). */
  number: string;
  /** The rule that matched, or null. */
  rule: NormalizationRule | null;
  /** Identity of the dial plan used. */
  dialPlan: string;
  /** `number` is E.164 (possibly with `;ext=`): ready for reverse number lookup and routing. */
  isE164: boolean;
}

/** Normalizes a dialed number with one dial plan: top-down, first match wins. */
export function normalize(dialed: string, dialPlan: DialPlan): NormalizationResult {
  const input = dialString(dialed);
  for (const rule of dialPlan.normalizationRules) {
    const number = applyTranslation(rule.pattern, rule.translation, input);
    if (number !== null) return { dialed, input, number, rule, dialPlan: dialPlan.identity, isE164: isE164(number) };
  }
  return { dialed, input, number: input, rule: null, dialPlan: dialPlan.identity, isE164: isE164(input) };
}

function find(topology: Topology, match: (scope: DialPlanScope) => boolean): DialPlan | undefined {
  return topology.dialPlans.find((plan) => match(plan.scope));
}

function globalPlan(topology: Topology): DialPlan {
  return (
    find(topology, (s) => s.kind === 'global') ?? {
      identity: 'Global',
      scope: { kind: 'global' },
      description: '',
      normalizationRules: [],
    }
  );
}

function sitePlan(topology: Topology): DialPlan | undefined {
  return find(topology, (s) => s.kind === 'site');
}

/** The dial plan for a user's calls: user (`Tag:`) > pool > site > global. */
export function dialPlanForUser(topology: Topology, user: LyncUser | string): DialPlan {
  const u = typeof user === 'string' ? topology.users.find((x) => x.name === user) : user;
  if (u === undefined) throw new Error(`dialPlanForUser: no user named "${String(user)}"`);
  const tag = u.dialPlan;
  return (
    (tag === null
      ? undefined
      : find(topology, (s) => s.kind === 'user' && s.tag.toLowerCase() === tag.toLowerCase())) ??
    find(topology, (s) => s.kind === 'pool' && s.frontEnd === topology.frontEnd.name) ??
    sitePlan(topology) ??
    globalPlan(topology)
  );
}

/** The dial plan for calls arriving from a peer: the peer's own > site > global *(fallback unverified)*. */
export function dialPlanForGateway(topology: Topology, peer: Peer | string): DialPlan {
  const name = typeof peer === 'string' ? peer : peer.name;
  return find(topology, (s) => s.kind === 'gateway' && s.peer === name) ?? sitePlan(topology) ?? globalPlan(topology);
}

/**
 * What a trunk does to numbers and response codes on their way between the
 * Mediation Server and the peer (`Set-CsTrunkConfiguration`):
 *
 * - OutboundTranslationRulesList (called number) and
 *   OutboundCallingNumberTranslationRulesList (calling number): regex rules,
 *   top-down, first match wins (`New-CsOutboundTranslationRule`);
 * - RemovePlusFromUri: the leading `+` is removed from numbers sent to the
 *   peer, after the translation rules;
 * - SipResponseCodeTranslationRulesList: a 4xx-6xx final response received
 *   from the peer becomes another code (`New-CsSipResponseCodeTranslationRule`),
 *   optionally only when the `Reason: Q.850;cause=N` header carries a given
 *   ISUP cause; rules are tried in order (their Priority), first match wins.
 *   Microsoft's example: a gateway answers 486 with ISUP cause 34 (no
 *   circuit available); translating it to 503 makes the Front End try the
 *   next trunk instead of ending the call.
 */
import { applyTranslation } from './number-pattern.ts';
import type { ResponseCodeTranslationRule, TranslationRule, TrunkConfiguration } from './topology.ts';

export interface TranslationResult {
  /** The number before translation. */
  input: string;
  /** The number to send to the peer. */
  number: string;
  /** The rule that matched, or null. */
  rule: TranslationRule | null;
  /** RemovePlusFromUri removed a leading `+`. */
  plusRemoved: boolean;
}

/** Applies a rule list (first match wins), then RemovePlusFromUri. */
export function translateNumber(
  number: string,
  rules: readonly TranslationRule[],
  removePlusFromUri: boolean,
): TranslationResult {
  let out = number;
  let matched: TranslationRule | null = null;
  for (const rule of rules) {
    const translated = applyTranslation(rule.pattern, rule.translation, number);
    if (translated !== null) {
      out = translated;
      matched = rule;
      break;
    }
  }
  const plusRemoved = removePlusFromUri && out.startsWith('+');
  return { input: number, number: plusRemoved ? out.slice(1) : out, rule: matched, plusRemoved };
}

/** The called number (Request-URI, To) as the trunk sends it to the peer. */
export function translateCalledNumber(number: string, config: TrunkConfiguration): TranslationResult {
  return translateNumber(number, config.outboundTranslationRules, config.removePlusFromUri);
}

/** The calling number (From, P-Asserted-Identity) as the trunk sends it to the peer. */
export function translateCallingNumber(number: string, config: TrunkConfiguration): TranslationResult {
  return translateNumber(number, config.outboundCallingNumberTranslationRules, config.removePlusFromUri);
}

export interface ResponseCodeTranslation {
  /** The code the peer sent. */
  received: number;
  /** The code the Mediation Server acts on and forwards. */
  code: number;
  /** The rule that matched, or null. */
  rule: ResponseCodeTranslationRule | null;
}

/**
 * The code a received final response becomes. Only 4xx-6xx codes are
 * translated (Lync's 400-699 range); `isupCause` is the Q.850 cause of the
 * response's Reason header, if any (see `isupCauseOf`).
 */
export function translateResponseCode(
  code: number,
  config: Pick<TrunkConfiguration, 'sipResponseCodeTranslationRules'>,
  isupCause: number | null = null,
): ResponseCodeTranslation {
  if (code < 400 || code > 699) return { received: code, code, rule: null };
  for (const rule of config.sipResponseCodeTranslationRules) {
    if (rule.receivedResponseCode !== code) continue;
    if (rule.receivedIsupCauseValue !== null && rule.receivedIsupCauseValue !== isupCause) continue;
    return { received: code, code: rule.translatedResponseCode, rule };
  }
  return { received: code, code, rule: null };
}

/**
 * The Q.850 cause of a Reason header value (RFC 3326): `Q.850;cause=34;text="..."`
 * → 34. Accepts several comma-separated reasons and picks the Q.850 one;
 * null when there is none.
 */
export function isupCauseOf(reasonHeader: string | null | undefined): number | null {
  if (reasonHeader == null) return null;
  for (const reason of reasonHeader.split(',')) {
    const match = /^\s*Q\.850\s*;(?:.*;)?\s*cause\s*=\s*(\d+)/i.exec(reason);
    if (match !== null) return Number(match[1]);
  }
  return null;
}

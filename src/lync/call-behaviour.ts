/**
 * Emulated endpoints: what a PSTN number behind a peer, or a Lync user's
 * endpoint, does with an incoming call. Pure: `callTimeline()` says which
 * responses and actions happen when; the roles schedule them.
 *
 * Covers what a qualification run exercises (domain doc): answer, busy
 * (486), no answer (ring until the caller cancels), reject with a code,
 * early media (RFC 3960: 183 with or without SDP), the hold answer
 * (RFC 3264 §6.1; Lync holds with `a=inactive`), RFC 4733 DTMF, talk time.
 */
import type { CallBehaviour, Peer, PstnNumber } from './topology.ts';

/** Default for numbers and users: answer after a second, ring at once, proper hold, DTMF on 101. */
export function defaultCallBehaviour(): CallBehaviour {
  return {
    outcome: 'answer',
    answerAfterMs: 1000,
    rejectAfterMs: 0,
    rejectCode: null,
    rejectReason: null,
    rejectIsupCause: null,
    ringingAfterMs: 0,
    earlyMedia: 'none',
    earlyMediaAfterMs: 0,
    holdAnswer: 'inactive',
    reliableProvisional: false,
    callerPresentation: 'allowed',
    dtmfPayloadType: 101,
    sendDigits: null,
    sendDigitsAfterMs: 0,
    hangUpAfterMs: null,
  };
}

/** Default for a number a peer does not list: 404 Not Found (ISUP cause 1, unallocated number). */
export function defaultUnknownNumberBehaviour(): CallBehaviour {
  return {
    ...defaultCallBehaviour(),
    outcome: 'reject',
    rejectCode: 404,
    rejectReason: 'Not Found',
    ringingAfterMs: null,
  };
}

/** One thing an emulated endpoint does, `atMs` after the INVITE arrived. */
export type CallStep =
  | { atMs: number; action: 'ringing' }
  | { atMs: number; action: 'early-media'; withSdp: boolean }
  | { atMs: number; action: 'answer' }
  | { atMs: number; action: 'reject'; code: number; reason: string | null; isupCause: number | null }
  | { atMs: number; action: 'send-digits'; digits: string }
  | { atMs: number; action: 'hang-up' };

/**
 * The steps of one incoming call, in time order. `no-answer` gives only the
 * provisional responses (the call rings until the caller cancels);
 * `no-response` gives nothing at all (not even 100 Trying, where the stack
 * lets the role hold it back).
 */
export function callTimeline(behaviour: CallBehaviour): CallStep[] {
  if (behaviour.outcome === 'no-response') return [];
  const steps: CallStep[] = [];
  if (behaviour.ringingAfterMs !== null) steps.push({ atMs: behaviour.ringingAfterMs, action: 'ringing' });
  if (behaviour.earlyMedia !== 'none') {
    steps.push({
      atMs: behaviour.earlyMediaAfterMs,
      action: 'early-media',
      withSdp: behaviour.earlyMedia === 'with-sdp',
    });
  }
  let finalAt = Number.POSITIVE_INFINITY;
  let mediaFrom: number | null = behaviour.earlyMedia === 'with-sdp' ? behaviour.earlyMediaAfterMs : null;
  switch (behaviour.outcome) {
    case 'answer':
      finalAt = behaviour.answerAfterMs;
      steps.push({ atMs: finalAt, action: 'answer' });
      mediaFrom ??= finalAt;
      if (behaviour.hangUpAfterMs !== null) steps.push({ atMs: finalAt + behaviour.hangUpAfterMs, action: 'hang-up' });
      break;
    case 'busy':
      finalAt = behaviour.rejectAfterMs;
      steps.push({
        atMs: finalAt,
        action: 'reject',
        code: 486,
        reason: behaviour.rejectReason,
        isupCause: behaviour.rejectIsupCause,
      });
      break;
    case 'reject':
      finalAt = behaviour.rejectAfterMs;
      steps.push({
        atMs: finalAt,
        action: 'reject',
        code: behaviour.rejectCode ?? 480,
        reason: behaviour.rejectReason,
        isupCause: behaviour.rejectIsupCause,
      });
      break;
    case 'no-answer':
      break;
  }
  if (behaviour.sendDigits !== null && behaviour.dtmfPayloadType !== null && mediaFrom !== null) {
    steps.push({ atMs: mediaFrom + behaviour.sendDigitsAfterMs, action: 'send-digits', digits: behaviour.sendDigits });
  }
  const order: Record<CallStep['action'], number> = {
    ringing: 0,
    'early-media': 1,
    'send-digits': 2,
    answer: 3,
    reject: 3,
    'hang-up': 4,
  };
  return steps
    .filter((step) => {
      // A provisional response goes out strictly before the final one, or not at all.
      if (step.action === 'ringing' || step.action === 'early-media') return step.atMs < finalAt;
      if (step.action === 'send-digits') return behaviour.outcome === 'answer' || step.atMs < finalAt;
      return true;
    })
    .sort((a, b) => a.atMs - b.atMs || order[a.action] - order[b.action]);
}

/** The number without `tel:`/`sip:` decoration and parameters: `tel:+1425;ext=1` → `+1425`. */
function bareNumber(number: string): string {
  return number.replace(/^(?:tel|sips?):/i, '').replace(/[@;].*$/, '');
}

/**
 * The emulated number a peer has for a dialed number (as the peer received
 * it), matched exactly, then ignoring a leading `+` (so a trunk with
 * RemovePlusFromUri still reaches `+1425...`). Null when the peer does not
 * list it: `peer.behaviour.unknownNumber` applies.
 */
export function findPstnNumber(peer: Pick<Peer, 'numbers'>, dialed: string): PstnNumber | null {
  const wanted = bareNumber(dialed);
  const exact = peer.numbers.find((n) => n.number === wanted);
  if (exact !== undefined) return exact;
  const digits = wanted.replace(/^\+/, '');
  return peer.numbers.find((n) => n.number.replace(/^\+/, '') === digits) ?? null;
}

/** The behaviour for a dialed number at a peer: the listed number's, or the peer's unknownNumber. */
export function behaviourForNumber(peer: Pick<Peer, 'numbers' | 'behaviour'>, dialed: string): CallBehaviour {
  return findPstnNumber(peer, dialed)?.behaviour ?? peer.behaviour.unknownNumber;
}

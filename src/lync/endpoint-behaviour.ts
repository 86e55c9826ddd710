/**
 * Runs an emulated endpoint's `CallBehaviour` (a PSTN number behind a peer,
 * or a Lync user's endpoint) on one incoming call: the timeline of
 * `callTimeline()` (ringing, early media with or without SDP, answer, busy,
 * reject with a Q.850 cause, RFC 4733 digits, hang-up) and the answer to a
 * hold re-INVITE (`holdAnswer`), reliable provisional responses
 * (`reliableProvisional`, RFC 3262). The role sends the digits as RFC 4733
 * events on the call's RTP (`onDigits`); the port in `EndpointMedia` is the
 * one the role bound for the call.
 */
import { type AnswerOptions, buildAnswer, buildOffer, type Codec, PCMA, PCMU, summarize } from '../sdp/offer-answer.ts';
import type { SipMessage } from '../sip/message.ts';
import type { Session } from '../sip/user-agent.ts';
import { callTimeline } from './call-behaviour.ts';
import type { CallBehaviour } from './topology.ts';

export interface EndpointMedia {
  address: string;
  port: number;
  mediationStyle?: boolean;
  codecs?: Codec[];
}

export interface BehaviourHooks {
  /** The behaviour sends digits now: the role puts them on the call's RTP as RFC 4733 events. */
  onDigits?(digits: string, payloadType: number): void;
  /** The call needs its SDP (answer) text; null when the offer cannot be answered. */
  log?(text: string): void;
}

/** Our SDP for an incoming INVITE: an answer to its offer, or an offer when it came without one. */
export function sdpForIncoming(
  offer: string | null,
  media: EndpointMedia,
  behaviour: Pick<CallBehaviour, 'dtmfPayloadType'>,
): { ok: true; sdp: string } | { ok: false; reason: string } {
  if (offer === null) {
    return {
      ok: true,
      sdp: buildOffer({
        address: media.address,
        port: media.port,
        codecs: media.codecs ?? [PCMA, PCMU],
        telephoneEvent: behaviour.dtmfPayloadType,
        mediationStyle: media.mediationStyle,
      }),
    };
  }
  const answer = buildAnswer(offer, {
    address: media.address,
    port: media.port,
    supported: media.codecs ?? [PCMA, PCMU],
    dtmf: behaviour.dtmfPayloadType !== null,
    mediationStyle: media.mediationStyle,
  });
  return answer.ok ? { ok: true, sdp: answer.sdp } : { ok: false, reason: answer.reason };
}

/**
 * The answer to a re-INVITE (hold/resume) in the endpoint's hold style. The
 * session keeps its media port and SDP session id, with the o= version
 * incremented (RFC 3264 §8); `media.port` is used only when the session has
 * no SDP yet.
 */
export function answerReinvite(
  request: SipMessage,
  session: Session,
  media: EndpointMedia,
  holdAnswer: CallBehaviour['holdAnswer'],
): { status: number; sdp?: string } {
  if (request.body.length === 0) return { status: 200, sdp: session.localSdp ?? undefined };
  const holdStyle: AnswerOptions['holdStyle'] = holdAnswer === 'inactive' ? 'proper' : holdAnswer;
  const previous = previousSdp(session.localSdp);
  const answer = buildAnswer(request.bodyText, {
    address: media.address,
    port: previous?.port ?? media.port,
    supported: media.codecs ?? [PCMA, PCMU],
    holdStyle,
    mediationStyle: media.mediationStyle,
    ...(previous === null ? {} : { sessionId: previous.sessionId, sessionVersion: previous.sessionVersion + 1 }),
  });
  return answer.ok ? { status: 200, sdp: answer.sdp } : { status: 488 };
}

function previousSdp(sdp: string | null): { port: number | null; sessionId: string; sessionVersion: number } | null {
  if (sdp === null) return null;
  try {
    const s = summarize(sdp);
    const port = s.media[0]?.port;
    return { port: port !== undefined && port > 0 ? port : null, sessionId: s.origin.sessionId, sessionVersion: s.origin.sessionVersion };
  } catch {
    return null;
  }
}

/**
 * Plays the behaviour on an incoming session. Returns a function that
 * cancels what is still scheduled (also done when the session ends).
 */
export function playBehaviour(
  session: Session,
  behaviour: CallBehaviour,
  media: EndpointMedia,
  hooks: BehaviourHooks = {},
): () => void {
  const timers = new Set<NodeJS.Timeout>();
  const cancel = (): void => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
  const sdp = sdpForIncoming(session.remoteSdp, media, behaviour);
  if (!sdp.ok) {
    session.reject(488, 'Not Acceptable Here');
    return cancel;
  }
  const previousEnd = session.events.onEnd;
  session.events.onEnd = (reason, s) => {
    cancel();
    previousEnd?.(reason, s);
  };
  session.events.onReinvite ??= (request, s) => answerReinvite(request, s, media, behaviour.holdAnswer);
  // RFC 3262: the 18x go reliably when the INVITE supports 100rel (the UA core retransmits them until their
  // PRACK and holds the 200 back while a 183 with SDP is unacknowledged).
  session.reliableProvisionals = behaviour.reliableProvisional;
  const steps = callTimeline(behaviour);
  if (behaviour.outcome !== 'no-response') session.progress(100);
  for (const step of steps) {
    const run = (): void => {
      if (session.ended) return;
      switch (step.action) {
        case 'ringing':
          session.progress(180);
          break;
        case 'early-media':
          session.progress(183, step.withSdp ? sdp.sdp : undefined);
          break;
        case 'answer':
          session.answer(sdp.sdp);
          break;
        case 'reject': {
          const extra = step.isupCause === null ? [] : [{ name: 'Reason', value: `Q.850;cause=${step.isupCause}` }];
          session.reject(step.code, step.reason ?? undefined, extra);
          break;
        }
        case 'send-digits':
          if (behaviour.dtmfPayloadType !== null) hooks.onDigits?.(step.digits, behaviour.dtmfPayloadType);
          break;
        case 'hang-up':
          session.hangup();
          break;
      }
    };
    if (step.atMs <= 0) run();
    else {
      const t = setTimeout(() => {
        timers.delete(t);
        run();
      }, step.atMs);
      timers.add(t);
    }
  }
  return cancel;
}

/** The telephone-event payload type both SDPs of a session carry (RFC 4733 negotiated), or null. */
export function negotiatedTelephoneEvent(session: Pick<Session, 'localSdp' | 'remoteSdp'>): number | null {
  if (session.localSdp === null || session.remoteSdp === null) return null;
  try {
    const local = summarize(session.localSdp).media[0]?.telephoneEvent ?? null;
    const remote = summarize(session.remoteSdp).media[0]?.telephoneEvent ?? null;
    return local !== null && remote !== null ? remote : null;
  } catch {
    return null;
  }
}

/**
 * The linter over a trace: each message's conformance (src/sip/conformance)
 * plus what only shows across the messages of a dialog: transaction and
 * CSeq rules (RFC 3261 §8.1.1.7, §12.2.1.1, §13.2.2.4, §17), SDP offer/answer
 * (RFC 3264 via checkAnswer, RFC 3261 §13.2.1), and Lync trunk behaviour
 * (failover needs a 5xx, holds answered sendrecv, REFER from the peer).
 *
 * Findings are attached to the message where the problem shows (the answer
 * that does not fit, the 2xx that was never acknowledged), with the rule.
 */
import type { Severity, SipMessage } from '../sip/message.ts';
import { checkAnswer } from '../sdp/offer-answer.ts';
import { conformance } from '../sip/conformance.ts';
import { branchOf, tagOf } from './extract.ts';
import type { TraceStore } from './store.ts';

export interface LintFinding {
  /** Message the finding is attached to. */
  index: number;
  code: string;
  severity: Severity;
  message: string;
  rule: string;
  /** 'message': the message alone; 'dialog': seen across the messages of its dialog. */
  scope: 'message' | 'dialog';
  /** Other messages involved (the offer of an answer, the INVITE of an ACK). */
  related?: number[];
  offset?: number;
}

export type ElementRole = 'front-end' | 'mediation' | 'gateway' | 'ip-pbx' | 'sbc' | 'lync-user';

export interface TraceLintOptions {
  /** Also check URIs against JsSIP's complete grammar (slow: ~16,000 messages/s). Default false. */
  strict?: boolean;
  /** Role of an element id (as the store names senders and receivers); null outside the topology. */
  roleOf?: (element: string) => ElementRole | null;
  /**
   * Whether the route of an INVITE from `mediation` to `peer` had trunks left
   * after this one (Lync would try them on a 5xx). Undefined: unknown.
   */
  moreTrunks?: (mediation: string, peer: string, invite: number) => boolean | undefined;
  /** Report retransmissions (info). Default true. */
  retransmissions?: boolean;
}

/** Timer B / 64·T1 (RFC 3261 §17.1.1.2): after this a missing answer or ACK is an absence, not a capture that ended early. */
const TIMEOUT_US = 32_000_000;
/** 4xx that are part of normal signalling, not a trunk failure Lync could route around. */
const NORMAL_4XX = new Set([401, 407, 422, 423, 484, 485, 486, 487, 491, 494]);
const PEER_ROLES = new Set<ElementRole>(['gateway', 'ip-pbx', 'sbc']);

interface Parsed {
  index: number;
  msg: SipMessage;
}

/**
 * Lints every message of the store. Calls `each(index, findings)` in message
 * order for messages with findings (all messages when `all` is set), and
 * returns the number of errors.
 */
export function lintTrace(
  store: TraceStore,
  options: TraceLintOptions = {},
  each: (index: number, findings: LintFinding[]) => void = () => undefined,
  all = false,
): { errors: number; warnings: number; messages: number } {
  const byIndex = new Map<number, LintFinding[]>();
  const add = (f: LintFinding): void => {
    let list = byIndex.get(f.index);
    if (!list) {
      list = [];
      byIndex.set(f.index, list);
    }
    if (!list.some((x) => x.code === f.code && x.message === f.message)) list.push(f);
  };
  const endUs = store.size > 0 ? store.timeUs(store.size - 1) : 0;
  // Leg by leg (each message parsed once), then the messages that are in no leg.
  const done = new Uint8Array(store.size);
  let errors = 0;
  let warnings = 0;
  let next = 0;
  const emitUpTo = (limit: number): void => {
    for (; next < limit; next++) {
      if (done[next] === 0) {
        lintAlone(store, next, options, add);
        done[next] = 1;
      }
      const list = byIndex.get(next) ?? [];
      byIndex.delete(next);
      for (const f of list) {
        if (f.severity === 'error') errors++;
        else if (f.severity === 'warning') warnings++;
      }
      if (list.length > 0 || all) each(next, list);
    }
  };
  for (let l = 0; l < store.legCount; l++) {
    const idx = store.legMessages(l);
    const parsed: Parsed[] = [];
    for (const i of idx) {
      done[i] = 1;
      const msg = store.message(i);
      if (msg === null) {
        lintAlone(store, i, options, add);
        continue;
      }
      for (const d of conformance(msg, { strict: options.strict === true })) add({ index: i, ...d, scope: 'message' });
      if (options.retransmissions !== false && store.isRetransmission(i)) {
        add({
          index: i,
          code: 'retransmission',
          severity: 'info',
          message: `retransmission of message ${store.retransmissionOf(i)}`,
          rule: 'RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1',
          scope: 'dialog',
          related: [store.retransmissionOf(i)],
        });
      }
      parsed.push({ index: i, msg });
    }
    lintLeg(store, parsed, options, endUs, add);
    // Findings of a leg are complete: hand out everything before the next leg's first message.
    const nextFirst = l + 1 < store.legCount ? store.legFirst(l + 1) : store.size;
    emitUpTo(nextFirst);
  }
  emitUpTo(store.size);
  return { errors, warnings, messages: store.size };
}

/** A message outside any leg (invalid, or without a Call-ID). */
function lintAlone(store: TraceStore, i: number, options: TraceLintOptions, add: (f: LintFinding) => void): void {
  const msg = store.message(i);
  if (msg === null) {
    add({ index: i, code: 'unparseable', severity: 'error', message: store.invalidReason(i) ?? 'not a SIP message', rule: 'RFC 3261 §7', scope: 'message' });
    return;
  }
  if (store.legOf(i) !== -1) return;
  for (const d of conformance(msg, { strict: options.strict === true })) add({ index: i, ...d, scope: 'message' });
}

function hasSdp(m: SipMessage): boolean {
  return m.body.length > 0 && (m.contentType === 'application/sdp' || (m.contentType?.startsWith('multipart/') === true && m.bodyText.includes('application/sdp')));
}

function sdpOf(m: SipMessage): string {
  const text = m.bodyText;
  if (m.contentType === 'application/sdp') return text;
  const at = text.search(/v=0\r?\n/);
  return at < 0 ? text : text.slice(at).split(/\r?\n--/)[0];
}

interface InviteState {
  invite: Parsed;
  branch: string;
  offer: Parsed | null;
  /** The answer to the INVITE's offer (or, late offer: the 2xx's offer). */
  answered: boolean;
  lateOffer: Parsed | null;
  final: Parsed | null;
  okResponses: Parsed[];
  acked: boolean;
}

/**
 * Which hop of a leg a message crossed. A leg (Call-ID and the caller's tag)
 * spans every hop of a proxied dialog: the Front End forwards the same
 * INVITE, ACK, re-INVITE and BYE from user to Front End to Mediation Server,
 * and a live trace holds each hop's copy (the both-ends pairing merges the
 * two ends of one hop, not the hops). Transaction rules (ACK per 2xx, CSeq
 * order) hold per hop. Hops are named by the elements at their ends; without
 * names, a stream's connection, else the two addresses.
 */
function hopKey(store: TraceStore, i: number): string {
  const a = store.from(i);
  const b = store.to(i);
  const named = (n: string): boolean => !n.includes(':') && !/^\d+(\.\d+){3}$/.test(n);
  if (!(named(a) && named(b))) {
    const conn = store.connId(i);
    if (conn !== null) return `conn ${conn}`;
  }
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function lintLeg(store: TraceStore, msgs: Parsed[], options: TraceLintOptions, endUs: number, add: (f: LintFinding) => void): void {
  const hops = new Map<string, Parsed[]>();
  for (const p of msgs) {
    const key = hopKey(store, p.index);
    let list = hops.get(key);
    if (list === undefined) {
      list = [];
      hops.set(key, list);
    }
    list.push(p);
  }
  if (hops.size === 1) {
    lintHop(store, msgs, msgs, [], options, endUs, add);
    return;
  }
  // An ACK on a hop that carried no INVITE of its CSeq (a UA that sends the 2xx ACK straight to the remote
  // target, past a proxy that did not Record-Route) acknowledges that INVITE on every hop.
  const lists = [...hops.values()];
  const inviteKeys = lists.map((list) => new Set(list.filter((p) => p.msg.isRequest && p.msg.method === 'INVITE').map((p) => `${p.msg.cseq?.seq}|${p.msg.fromTag ?? ''}`)));
  const strayAcks = lists.flatMap((list, h) => list.filter((p) => p.msg.isRequest && p.msg.method === 'ACK' && !inviteKeys[h].has(`${p.msg.cseq?.seq}|${p.msg.fromTag ?? ''}`)));
  for (const list of lists) lintHop(store, list, msgs, strayAcks, options, endUs, add);
}

/** The transaction, CSeq and offer/answer rules over the messages of one hop of a leg (`leg`: all of them). */
function lintHop(store: TraceStore, msgs: Parsed[], leg: Parsed[], strayAcks: Parsed[], options: TraceLintOptions, endUs: number, add: (f: LintFinding) => void): void {
  const lastCseq = new Map<string, { cseq: number; index: number }>();
  const invites: InviteState[] = [];
  const pendingUpdates = new Map<string, Parsed>();
  const dlg = (index: number, code: string, severity: Severity, message: string, rule: string, related?: number[]) =>
    add({ index, code, severity, message, rule, scope: 'dialog', related });

  const inviteFor = (cseq: number, fromTag: string): InviteState | undefined => {
    for (let k = invites.length - 1; k >= 0; k--) {
      const s = invites[k];
      if (s.invite.msg.cseq?.seq === cseq && s.invite.msg.fromTag === fromTag) return s;
    }
    return undefined;
  };

  for (const p of msgs) {
    const m = p.msg;
    const retrans = store.isRetransmission(p.index);
    const cseq = m.cseq;
    const fromTag = m.fromTag ?? '';
    if (m.isRequest) {
      if (retrans) continue;
      const method = m.method;
      // CSeq increases within a dialog, per direction (RFC 3261 §12.2.1.1); ACK and CANCEL reuse the INVITE's.
      if (cseq && method !== 'ACK' && method !== 'CANCEL') {
        const key = fromTag;
        const prev = lastCseq.get(key);
        if (prev && m.toTag !== null && cseq.seq <= prev.cseq) {
          dlg(p.index, 'cseq-not-increasing', 'error', `CSeq ${cseq.seq} ${method} is not higher than the previous request's ${prev.cseq} from the same side`, 'RFC 3261 §12.2.1.1', [prev.index]);
        }
        if (!prev || cseq.seq > prev.cseq) lastCseq.set(key, { cseq: cseq.seq, index: p.index });
      }
      if (method === 'INVITE') {
        const st: InviteState = { invite: p, branch: m.topVia?.branch ?? '', offer: hasSdp(m) ? p : null, answered: false, lateOffer: null, final: null, okResponses: [], acked: false };
        invites.push(st);
        continue;
      }
      if (method === 'ACK') {
        const st = cseq ? inviteFor(cseq.seq, fromTag) : undefined;
        if (!st) {
          if (strayAcks.includes(p)) continue;
          const same = msgs.find((x) => x.msg.method === 'INVITE' && x.msg.isRequest && x.msg.fromTag === fromTag);
          if (same && cseq) dlg(p.index, 'ack-cseq-mismatch', 'error', `ACK CSeq ${cseq.seq} matches no INVITE of this dialog`, 'RFC 3261 §13.2.2.4, §17.1.1.3', [same.index]);
          continue;
        }
        const branch = m.topVia?.branch ?? '';
        const final = st.final?.msg.status ?? 0;
        if (final >= 200 && final < 300) {
          st.acked = true;
          if (branch !== '' && branch === st.branch) {
            dlg(p.index, 'ack-2xx-same-branch', 'error', 'the ACK for a 2xx reuses the INVITE\'s branch: it is a new transaction and needs a new branch', 'RFC 3261 §8.1.1.7, §17.1.1.3', [st.invite.index]);
          }
          // Late offer: the 2xx carried the offer, the ACK carries the answer (RFC 3261 §13.2.1).
          if (st.lateOffer && !st.answered) {
            if (hasSdp(m)) {
              checkSdp(st.lateOffer, p, dlg);
              st.answered = true;
            } else dlg(p.index, 'sdp-answer-missing', 'error', 'the 2xx carried an SDP offer (the INVITE had none) but the ACK has no answer', 'RFC 3261 §13.2.1, RFC 3264 §4', [st.lateOffer.index]);
          }
        } else if (final >= 300) {
          if (branch !== st.branch) {
            dlg(p.index, 'ack-non2xx-branch', 'error', `the ACK for a ${final} must carry the INVITE's branch ${st.branch}, not ${branch}`, 'RFC 3261 §17.1.1.3', [st.invite.index]);
          }
        }
        continue;
      }
      if (method === 'CANCEL') {
        const st = invites.find((s) => s.branch === (m.topVia?.branch ?? '') && s.invite.msg.fromTag === fromTag);
        if (st && cseq && st.invite.msg.cseq && cseq.seq !== st.invite.msg.cseq.seq) {
          dlg(p.index, 'cancel-cseq-mismatch', 'error', `CANCEL CSeq ${cseq.seq} differs from its INVITE's ${st.invite.msg.cseq.seq}`, 'RFC 3261 §9.1', [st.invite.index]);
        }
        continue;
      }
      if (method === 'UPDATE' || method === 'PRACK') {
        if (hasSdp(m)) pendingUpdates.set(`${m.topVia?.branch}|${method}`, p);
      }
      if (method === 'REFER' && options.roleOf) {
        const from = options.roleOf(store.from(p.index));
        const to = options.roleOf(store.to(p.index));
        if (from !== null && PEER_ROLES.has(from) && to === 'mediation') {
          dlg(p.index, 'refer-from-peer', 'warning', `${store.from(p.index)} sent REFER to the Mediation Server, which never accepts REFER from a peer (it must re-INVITE)`, 'Lync trunk: EnableReferSupport (REFER is only sent to the peer)');
        }
      }
      continue;
    }

    // Responses.
    if (!cseq) continue;
    if (cseq.method === 'INVITE') {
      const st = inviteForResponse(invites, m);
      if (!st) continue;
      const status = m.status;
      if (st.final && status < 200 && !retrans) {
        dlg(p.index, 'provisional-after-final', 'warning', `${status} after the final ${st.final.msg.status} of the same INVITE`, 'RFC 3261 §17.2.1', [st.final.index]);
      }
      if (retrans) continue;
      if (status >= 200 && !st.final) st.final = p;
      if (status >= 200 && status < 300) st.okResponses.push(p);
      // Offer/answer.
      if (st.offer && !st.answered && hasSdp(m) && status < 300) {
        checkSdp(st.offer, p, dlg);
        const reliable = status >= 200 || m.has('rseq');
        if (reliable) st.answered = true;
      } else if (st.offer && !st.answered && status >= 200 && status < 300) {
        dlg(p.index, 'sdp-answer-missing', 'error', 'the INVITE carried an SDP offer but neither this 2xx nor a reliable provisional answered it', 'RFC 3261 §13.2.1, RFC 3264 §4', [st.offer.index]);
        st.answered = true;
      } else if (!st.offer && status >= 200 && status < 300 && !st.lateOffer) {
        if (hasSdp(m)) st.lateOffer = p;
        else dlg(p.index, 'sdp-offer-missing', 'error', 'the INVITE had no SDP, so its 2xx must carry the offer', 'RFC 3261 §13.2.1', [st.invite.index]);
      }
      if (status >= 400 && status < 500 && st.invite.msg.toTag === null && !NORMAL_4XX.has(status)) failover4xx(store, st, p, options, dlg);
      continue;
    }
    if (cseq.method === 'UPDATE' || cseq.method === 'PRACK') {
      const offer = pendingUpdates.get(`${m.topVia?.branch}|${cseq.method}`);
      if (offer && m.status >= 200 && !retrans) {
        pendingUpdates.delete(`${m.topVia?.branch}|${cseq.method}`);
        if (m.status < 300) {
          if (hasSdp(m)) checkSdp(offer, p, dlg);
          else dlg(p.index, 'sdp-answer-missing', 'error', `the ${cseq.method} carried an SDP offer but its ${m.status} has no answer`, 'RFC 3311 §5.2, RFC 3262 §5', [offer.index]);
        }
      }
    }
  }

  // What never came.
  for (const st of invites) {
    const inviteTime = store.timeUs(st.invite.index);
    if (!st.final) {
      if (endUs - inviteTime > TIMEOUT_US) {
        dlg(st.invite.index, 'invite-no-final', 'warning', 'no final response to this INVITE within 32 s (Timer B)', 'RFC 3261 §17.1.1.2');
      }
      continue;
    }
    if (st.okResponses.length > 0 && !st.acked) {
      const ok = st.okResponses[0];
      const seq = st.invite.msg.cseq?.seq;
      const fromTag = st.invite.msg.fromTag ?? '';
      if (strayAcks.some((a) => a.index > ok.index && a.msg.cseq?.seq === seq && (a.msg.fromTag ?? '') === fromTag)) continue;
      const okTime = store.timeUs(ok.index);
      const later = leg.some((x) => x.index > ok.index && !store.isRetransmission(x.index) && !(x.msg.isResponse && x.msg.cseq?.method === 'INVITE'));
      if (later || endUs - okTime > TIMEOUT_US) {
        dlg(ok.index, 'ack-missing', 'error', `no ACK for this ${ok.msg.status} to INVITE`, 'RFC 3261 §13.2.2.4, §13.3.1.4', [st.invite.index]);
      } else {
        dlg(ok.index, 'ack-not-seen', 'info', `no ACK for this ${ok.msg.status} before the trace ends`, 'RFC 3261 §13.2.2.4');
      }
    }
  }
}

function inviteForResponse(invites: InviteState[], m: SipMessage): InviteState | undefined {
  const branch = branchOf(m.get('via'));
  for (let k = invites.length - 1; k >= 0; k--) if (invites[k].branch === branch && invites[k].invite.msg.cseq?.seq === m.cseq?.seq) return invites[k];
  const fromTag = tagOf(m.get('from'));
  for (let k = invites.length - 1; k >= 0; k--) if (invites[k].invite.msg.cseq?.seq === m.cseq?.seq && invites[k].invite.msg.fromTag === fromTag) return invites[k];
  return undefined;
}

type DialogAdd = (index: number, code: string, severity: Severity, message: string, rule: string, related?: number[]) => void;

function checkSdp(offer: Parsed, answer: Parsed, dlg: DialogAdd): void {
  for (const pr of checkAnswer(sdpOf(offer.msg), sdpOf(answer.msg))) {
    const rule = pr.code === 'sdp-hold-answered-active' ? `${pr.rule}; Lync: a peer that answers a hold with a=sendrecv gets the call dropped` : pr.rule;
    dlg(answer.index, pr.code, pr.severity, `${pr.message} (offer: message ${offer.index})`, rule, [offer.index]);
  }
}

function failover4xx(store: TraceStore, st: InviteState, p: Parsed, options: TraceLintOptions, dlg: DialogAdd): void {
  const sender = store.from(p.index);
  const receiver = store.to(p.index);
  let toMediation: boolean;
  let fromPeer: boolean;
  if (options.roleOf) {
    const rs = options.roleOf(sender);
    const rr = options.roleOf(receiver);
    fromPeer = rs !== null && PEER_ROLES.has(rs);
    toMediation = rr === 'mediation';
    if (rs === null && rr === 'mediation') fromPeer = true; // a real device in place of an emulated peer
  } else {
    // No topology: a Mediation Server announces itself in its INVITE.
    const ua = st.invite.msg.get('user-agent') ?? '';
    toMediation = /MediationServer/i.test(ua);
    fromPeer = toMediation;
  }
  if (!toMediation || !fromPeer) return;
  const more = options.moreTrunks?.(receiver, sender, st.invite.index);
  if (more === false) return;
  const status = p.msg.status;
  dlg(
    p.index,
    'failover-needs-5xx',
    more === true ? 'warning' : 'info',
    `${sender} answered the Mediation Server's INVITE with ${status}: a 4xx ends the call, only a 5xx (or a timeout) makes Lync try the next trunk${more === true ? ', and the route has more trunks' : ' if the route has more'}`,
    'Lync outbound routing failover (Set-CsTrunkConfiguration SipResponseCodeTranslationRulesList can map it to a 5xx)',
    [st.invite.index],
  );
}

/**
 * Which legs of imported traffic belong to one call.
 *
 * An emulated B2BUA says so itself (`TraceStore.linkLegs`, confidence 1). A
 * capture or a Lync log only has the messages, so a new leg (an initial
 * INVITE) is compared with the legs that started shortly before it, and the
 * evidence is weighed:
 *
 * | evidence | weight | why |
 * |---|---|---|
 * | B2BUA continuity: the new INVITE is sent by the host that received the candidate's INVITE, from another endpoint than the candidate's sender, while the candidate still waits for its final answer | 0.30 | a B2BUA (Mediation Server, SBC) opens its outgoing leg before it answers the incoming one |
 * | called number: same digits / one ends with the other (≥ 7 / ≥ 4 digits) | 0.30 / 0.25 / 0.15 | dial plans normalize and translate (`^(\d{4})$` → `+1425555$1`, RemovePlusFromUri) |
 * | calling number (From, or P-Asserted-Identity): same / suffix | 0.20 / 0.15 / 0.10 | calling-number translation rules |
 * | History-Info of the new leg names the candidate's Request-URI number | 0.20 | ForwardCallHistory (RFC 7044) |
 * | `ms-trunking-peer` of the new leg names the candidate's sender | 0.20 | Mediation Server → Front End INVITEs name the gateway *(field)* |
 * | `ms-call-source: non-ms-rtc` on the new leg and the candidate came from outside Lync | 0.05 | calls from a PBX/gateway side |
 * | started within 500 ms / 2 s | 0.10 / 0.05 | a B2BUA forwards at once |
 *
 * A candidate is linked when its score reaches the threshold (0.5); the
 * confidence is the score (at most 0.99). Without B2BUA continuity the
 * evidence counts for less (×0.7) and the candidate must be the only one
 * that scores: a load test sends the same numbers on every call, and those
 * calls are not one call. The weights are judgement, not measurement; the
 * evidence list says what was used so a reader can disagree.
 */

export interface LegFeatures {
  leg: number;
  timeUs: number;
  srcHost: string;
  srcEndpoint: number;
  dstHost: string;
  dstEndpoint: number;
  /** Digits of the calling number (P-Asserted-Identity, else From). */
  caller: string;
  /** Digits of the From user when P-Asserted-Identity differs. */
  callerAlt: string;
  /** Digits of the called number (Request-URI, else To). */
  called: string;
  /** Digits of the History-Info entries. */
  history: string[];
  /** Value of ms-call-source, lower-case, or ''. */
  callSource: string;
  /** Host named by ms-trunking-peer, or ''. */
  trunkingPeer: string;
  /** User-Agent/Server says Lync (RTCC/…): used with ms-call-source. */
  fromLync: boolean;
}

export interface LinkDecision {
  leg: number;
  confidence: number;
  evidence: string[];
}

export interface CallLinkerOptions {
  /** How far back a candidate may have started (default 10 s). */
  windowUs?: number;
  /** Score needed to link (default 0.5). */
  threshold?: number;
  /** Candidates compared per new leg on each path (default 32). */
  maxCandidates?: number;
}

/** Recent legs in time order, oldest dropped as the window moves. */
class Recent {
  items: LegFeatures[] = [];
  head = 0;

  push(f: LegFeatures, cap: number): void {
    this.items.push(f);
    if (this.items.length - this.head > cap) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  prune(oldestUs: number): void {
    while (this.head < this.items.length && this.items[this.head].timeUs < oldestUs) this.head++;
  }
}

function suffixMatch(a: string, b: string): number {
  if (a.length === 0 || b.length === 0) return 0;
  if (a === b) return a.length >= 4 ? 3 : 2;
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  if (!long.endsWith(short)) return 0;
  return short.length >= 7 ? 2 : short.length >= 4 ? 1 : 0;
}

export class CallLinker {
  readonly #windowUs: number;
  readonly #threshold: number;
  readonly #max: number;
  readonly #byReceiver = new Map<string, Recent>();
  readonly #all = new Recent();

  constructor(options: CallLinkerOptions = {}) {
    this.#windowUs = options.windowUs ?? 10_000_000;
    this.#threshold = options.threshold ?? 0.5;
    this.#max = options.maxCandidates ?? 32;
  }

  /**
   * The best earlier leg for `f` (or null), then remembers `f` as a
   * candidate for later legs. `pending(leg)`: the leg's INVITE has no final
   * response yet; `linked(a, b)`: already in one call.
   */
  consider(f: LegFeatures, pending: (leg: number) => boolean, linked: (a: number, b: number) => boolean): LinkDecision | null {
    const oldest = f.timeUs - this.#windowUs;
    let best: LinkDecision | null = null;
    // Path 1: legs received by the host that sends this one (B2BUA continuity).
    const rec = this.#byReceiver.get(f.srcHost);
    if (rec) {
      rec.prune(oldest);
      let seen = 0;
      for (let i = rec.items.length - 1; i >= rec.head && seen < this.#max; i--, seen++) {
        const c = rec.items[i];
        if (c.srcEndpoint === f.srcEndpoint || c.leg === f.leg) continue;
        if (!pending(c.leg) || linked(c.leg, f.leg)) continue;
        const d = this.#score(f, c, true);
        if (d.confidence >= this.#threshold && (best === null || d.confidence > best.confidence)) best = d;
      }
    }
    // Path 2: no continuity (a dual-homed SBC, a log of one side): numbers must make it unique.
    if (best === null) {
      this.#all.prune(oldest);
      let seen = 0;
      let unique: LinkDecision | null = null;
      let scoring = 0;
      for (let i = this.#all.items.length - 1; i >= this.#all.head && seen < this.#max; i--, seen++) {
        const c = this.#all.items[i];
        if (c.leg === f.leg || c.srcEndpoint === f.srcEndpoint) continue;
        if (!pending(c.leg) || linked(c.leg, f.leg)) continue;
        const d = this.#score(f, c, false);
        if (d.confidence >= this.#threshold) {
          scoring++;
          unique = d;
        }
      }
      if (scoring === 1) best = unique;
    }
    let r = this.#byReceiver.get(f.dstHost);
    if (!r) {
      r = new Recent();
      this.#byReceiver.set(f.dstHost, r);
    }
    r.push(f, 4096);
    this.#all.push(f, 4096);
    return best;
  }

  #score(f: LegFeatures, c: LegFeatures, continuity: boolean): LinkDecision {
    const evidence: string[] = [];
    let s = 0;
    if (continuity) {
      s += 0.3;
      evidence.push(`B2BUA: sent by ${f.srcHost}, which received leg ${c.leg} and had not answered it yet`);
    }
    const called = suffixMatch(f.called, c.called);
    if (called > 0) {
      s += called === 3 ? 0.3 : called === 2 ? 0.25 : 0.15;
      evidence.push(called === 3 ? `same called number ${f.called}` : `called numbers ${c.called} and ${f.called} share their last digits`);
    }
    const caller = Math.max(suffixMatch(f.caller, c.caller), suffixMatch(f.callerAlt, c.caller), suffixMatch(f.caller, c.callerAlt));
    if (caller > 0) {
      s += caller === 3 ? 0.2 : caller === 2 ? 0.15 : 0.1;
      evidence.push(caller === 3 ? `same calling number ${f.caller || f.callerAlt}` : `calling numbers ${c.caller} and ${f.caller || f.callerAlt} share their last digits`);
    }
    if (c.called.length > 0 && f.history.some((h) => suffixMatch(h, c.called) >= 2)) {
      s += 0.2;
      evidence.push(`History-Info names ${c.called}`);
    }
    if (f.trunkingPeer !== '' && f.trunkingPeer === c.srcHost) {
      s += 0.2;
      evidence.push(`ms-trunking-peer names ${c.srcHost}`);
    }
    if (f.callSource === 'non-ms-rtc' && !c.fromLync) {
      s += 0.05;
      evidence.push('ms-call-source: non-ms-rtc and the first leg came from outside Lync');
    }
    const dt = f.timeUs - c.timeUs;
    if (dt <= 500_000) {
      s += 0.1;
      evidence.push(`started ${(dt / 1000).toFixed(1)} ms later`);
    } else if (dt <= 2_000_000) {
      s += 0.05;
      evidence.push(`started ${(dt / 1000).toFixed(0)} ms later`);
    }
    if (!continuity) s *= 0.7;
    return { leg: c.leg, confidence: Math.min(0.99, Math.round(s * 100) / 100), evidence };
  }
}

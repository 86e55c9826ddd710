/**
 * The calls a lab placed, as the UI and the CLI see them: one `CallRecord`
 * per call, whatever number of legs (dialogs) it has on the wire. Legs are
 * known by Call-ID: the Front End proxies (same Call-ID on both of its
 * sides), the Mediation Server is a B2BUA and reports which two legs it
 * joined (`LegLink`), so every Call-ID of a call maps to its record.
 *
 * Besides its state, a record says what the UI would otherwise guess: who
 * is on the call (the Lync user, whether a PSTN party is), whether the
 * caller's identity is withheld, and which side holds the call.
 */
import type { CallState, CallSummary } from '../common/api.ts';
import { nowUs } from '../sip/capture.ts';
import type { Session } from '../sip/user-agent.ts';

export class CallRecord {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  state: CallState = 'dialing';
  readonly startedUs = nowUs();
  answeredUs: number | undefined;
  endedUs: number | undefined;
  pddMs: number | undefined;
  status: number | undefined;
  reason: string | undefined;
  readonly trunks: string[] = [];
  readonly legs: string[] = [];
  /** The originating party's session (the latest attempt for a peer retrying). */
  caller: Session | null = null;
  /** The terminating party's session, when the callee is emulated. */
  callee: Session | null = null;
  /** Which party is a Lync user: the one that can transfer and hold the Lync way. */
  callerKind: 'user' | 'peer';
  calleeKind: 'user' | 'peer' | null = null;
  callerElement: string;
  calleeElement: string | null = null;
  /** The caller's identity is withheld (RFC 3323): placed anonymously, or a leg's INVITE asked for privacy. */
  restricted = false;
  /** RFC 4733 digits received on the wire, per endpoint element, in order of first digit. */
  readonly dtmfReceived = new Map<string, string>();
  /** A Mediation Server joined a leg of the call to a peer: a PSTN party is on it, emulated or not. */
  viaMediation = false;
  /** Which sides hold the call now, and the one that held it last. */
  readonly #held = { lync: false, pstn: false };
  #lastHeld: 'lync' | 'pstn' = 'lync';
  readonly done: Promise<CallSummary>;
  #resolve: (summary: CallSummary) => void = () => undefined;

  constructor(id: string, from: string, to: string, callerKind: 'user' | 'peer', callerElement: string) {
    this.id = id;
    this.from = from;
    this.to = to;
    this.callerKind = callerKind;
    this.callerElement = callerElement;
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  get finished(): boolean {
    return this.state === 'ended' || this.state === 'failed';
  }

  /** The Lync user on the call: the caller when it is one, else the callee (as the lab picks the side that holds and transfers). */
  get lyncUser(): string | undefined {
    if (this.callerKind === 'user') return this.callerElement;
    return this.calleeKind === 'user' && this.calleeElement !== null ? this.calleeElement : undefined;
  }

  get pstn(): boolean {
    return this.callerKind === 'peer' || this.calleeKind === 'peer' || this.viaMediation;
  }

  /** The side holding the call (the last to hold it when both do), or undefined. */
  get heldBy(): 'lync' | 'pstn' | undefined {
    if (this.#held.lync && this.#held.pstn) return this.#lastHeld;
    return this.#held.lync ? 'lync' : this.#held.pstn ? 'pstn' : undefined;
  }

  /**
   * One side put the call on hold or took it off hold: the state is `held`
   * while either side holds it. True when the summary changed.
   */
  setHeld(side: 'lync' | 'pstn', held: boolean): boolean {
    if (this.finished) return false;
    const before = `${this.state}/${this.heldBy}`;
    this.#held[side] = held;
    if (held) this.#lastHeld = side;
    if (this.heldBy !== undefined) this.state = 'held';
    else if (this.state === 'held') this.state = 'connected';
    return `${this.state}/${this.heldBy}` !== before;
  }

  summary(): CallSummary {
    const s: CallSummary = { id: this.id, from: this.from, to: this.to, state: this.state, startedUs: this.startedUs, legs: [...this.legs] };
    if (this.answeredUs !== undefined) s.answeredUs = this.answeredUs;
    if (this.endedUs !== undefined) s.endedUs = this.endedUs;
    if (this.pddMs !== undefined) s.pddMs = Math.round(this.pddMs * 1000) / 1000;
    if (this.status !== undefined) s.status = this.status;
    if (this.reason !== undefined) s.reason = this.reason;
    if (this.trunks.length > 0) s.trunks = [...this.trunks];
    if (this.restricted) s.presentation = 'restricted';
    const user = this.lyncUser;
    if (user !== undefined) s.lyncUser = user;
    if (this.pstn) s.pstn = true;
    const heldBy = this.heldBy;
    if (this.state === 'held' && heldBy !== undefined) s.heldBy = heldBy;
    if (this.dtmfReceived.size > 0) s.dtmfReceived = [...this.dtmfReceived].map(([element, digits]) => ({ element, digits }));
    return s;
  }

  /** @internal */
  finish(state: 'ended' | 'failed'): void {
    if (this.finished) return;
    this.state = state;
    this.endedUs = nowUs();
    this.#resolve(this.summary());
  }
}

export class CallRegistry {
  readonly records = new Map<string, CallRecord>();
  readonly #byLeg = new Map<string, CallRecord>();
  /** Legs whose INVITE withheld the caller's identity; the record that has (or later gets) one is restricted. */
  readonly #withheld = new Set<string>();
  #next = 1;

  create(from: string, to: string, callerKind: 'user' | 'peer', callerElement: string): CallRecord {
    const record = new CallRecord(`call-${this.#next++}`, from, to, callerKind, callerElement);
    this.records.set(record.id, record);
    return record;
  }

  addLeg(record: CallRecord, callId: string): void {
    if (!record.legs.includes(callId)) record.legs.push(callId);
    this.#byLeg.set(callId, record);
    if (this.#withheld.has(callId)) record.restricted = true;
  }

  /**
   * A leg whose INVITE came from the calling party with its identity withheld (`Privacy: id`, an
   * anonymous From): its call, known now or registered later (a call an external device placed), is
   * restricted.
   */
  withholdIdentity(callId: string): void {
    this.#withheld.add(callId);
    const record = this.byLeg(callId);
    if (record !== null) record.restricted = true;
  }

  byLeg(callId: string): CallRecord | null {
    return this.#byLeg.get(callId) ?? null;
  }

  /** Two Call-IDs the B2BUA joined: whichever is known brings the other into its call. */
  link(a: string, b: string): CallRecord | null {
    const record = this.byLeg(a) ?? this.byLeg(b);
    if (record === null) return null;
    this.addLeg(record, a);
    this.addLeg(record, b);
    return record;
  }

  get(id: string): CallRecord | null {
    return this.records.get(id) ?? null;
  }

  all(): CallRecord[] {
    return [...this.records.values()];
  }
}

/**
 * Calls that an external device places itself. A case whose call comes from
 * a peer that is a real device (`--external` / `--target`) cannot make the
 * device dial: it asks (an instruction for the engineer, a hook command for
 * a pipeline, see `OriginateOptions`) and waits for the device's INVITE at
 * the Mediation Server. The call the B2BUA then reports (`Lab.onLegLink`)
 * is taken into the lab's call registry like a call the lab placed, so the
 * case's later steps (expect-call, hold, transfer, DTMF from the Lync user)
 * work on it. Hanging up and cancelling are the device's to do as well: the
 * case asks again and waits for its BYE or CANCEL.
 */
import { findPstnNumber } from '../lync/call-behaviour.ts';
import type { CallRecord } from '../lync/call-registry.ts';
import type { Lab } from '../lync/lab.ts';
import type { LegLink } from '../lync/mediation-server.ts';
import { findUserBySipUri } from '../lync/routing.ts';
import type { Peer, Topology, Transport } from '../lync/topology.ts';
import { trunksOfPeer } from '../lync/trunk.ts';
import { nowUs } from '../sip/capture.ts';
import type { Session } from '../sip/user-agent.ts';

/** What a case asks an external device to do, with everything a script needs to make it happen. */
export interface OriginateRequest {
  action: 'call' | 'hangup' | 'cancel';
  /** The case id. */
  case: string;
  /** The scenario's name for the call (`main`). */
  call: string;
  /** The device: its peer name in the topology. */
  peer: string;
  /** The calling party as the case names it (a number behind that peer, or the peer's name). */
  from: string;
  /** The number to dial: the Lync user's Line URI number (`;ext=` kept), or what the case dials. */
  dial: string;
  /** The Lync user that number reaches, when it is one. */
  callee: string | null;
  /** Where the device's INVITE must go: the Mediation Server listener of the peer's first trunk. */
  mediation: { name: string; host: string; port: number; transport: Transport };
  /** How long the case waits, ms. */
  waitMs: number;
}

export interface OriginateHandle {
  /** Resolves with a reason when asking failed for good (a hook command that exited non-zero). */
  failed?: Promise<string>;
  /** The case is over: stop whatever is still running for it. */
  stop?(): void | Promise<void>;
}

export interface OriginateOptions {
  /** How long a case waits for the device's INVITE, and for its BYE or CANCEL when asked to hang up; 0: skip such cases. */
  waitMs: number;
  /** Asks the device: print the instruction, run a hook. */
  request(request: OriginateRequest): OriginateHandle | undefined;
}

/** A call a device placed, as the lab's registry holds it. */
export interface DeviceCall {
  record: CallRecord;
  peer: string;
  /** The Call-ID of the device's leg (device ↔ Mediation Server). */
  gatewayCallId: string;
}

type Placed = { ok: true; call: DeviceCall; waitedMs: number } | { ok: false; reason: string };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The external peer a call step's `from` names (the peer, or one of its numbers), or null. */
export function externalCaller(topology: Topology, from: string): Peer | null {
  const plain = (n: string): string => n.replace(/^\+/, '');
  for (const p of topology.peers) {
    if (p.external === null) continue;
    if (p.name === from || p.numbers.some((n) => n.number === from || plain(n.number) === plain(from)) || findPstnNumber(p, from) !== null) return p;
  }
  return null;
}

/** What the PSTN dials to reach `to`: a user's Line URI number (with `;ext=`), or `to` as given. */
function dialFor(topology: Topology, to: string): { dial: string; callee: string | null } {
  const user = topology.users.find((u) => u.name === to) ?? findUserBySipUri(topology, to);
  if (user?.lineUri) return { dial: user.lineUri.ext === null ? user.lineUri.number : `${user.lineUri.number};ext=${user.lineUri.ext}`, callee: user.name };
  return { dial: to.replace(/^tel:/i, ''), callee: user?.name ?? null };
}

export class DeviceCalls {
  readonly #lab: Lab;
  readonly #caseId: string;
  readonly #options: OriginateOptions;
  readonly #handles: OriginateHandle[] = [];
  readonly #waiting: Array<{ peer: string; from: string; to: string; resolve: (call: DeviceCall) => void }> = [];
  readonly #byName = new Map<string, DeviceCall>();
  readonly #taken = new Set<CallRecord>();
  readonly #unsubscribe: () => void;

  constructor(lab: Lab, caseId: string, options: OriginateOptions) {
    this.#lab = lab;
    this.#caseId = caseId;
    this.#options = options;
    this.#unsubscribe = lab.onLegLink((link) => this.#onLink(link));
  }

  /** The device call a scenario named, if it is one. */
  get(name: string): DeviceCall | undefined {
    return this.#byName.get(name);
  }

  #request(action: OriginateRequest['action'], name: string, from: string, to: string, peer: Peer): OriginateHandle | undefined {
    const topology = this.#lab.topology;
    const trunk = trunksOfPeer(topology, peer.name)[0];
    const { dial, callee } = dialFor(topology, to);
    const request: OriginateRequest = {
      action,
      case: this.#caseId,
      call: name,
      peer: peer.name,
      from,
      dial,
      callee,
      mediation: { name: trunk?.mediationServer ?? '?', host: trunk?.mediationAddress ?? '?', port: trunk?.mediationPort ?? 0, transport: trunk?.transport ?? peer.transport },
      waitMs: this.#options.waitMs,
    };
    const handle = this.#options.request(request);
    if (handle !== undefined) this.#handles.push(handle);
    return handle;
  }

  /** Asks the device to place the call and waits for its INVITE to reach a Mediation Server. */
  async place(name: string, from: string, to: string, peer: Peer): Promise<Placed> {
    const started = performance.now();
    let resolveCall: (call: DeviceCall) => void = () => undefined;
    const arrived = new Promise<DeviceCall>((resolve) => {
      resolveCall = resolve;
    });
    const waiter = { peer: peer.name, from, to, resolve: resolveCall };
    this.#waiting.push(waiter);
    const handle = this.#request('call', name, from, to, peer);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#options.waitMs);
    });
    const outcome = await Promise.race([arrived, timeout, handle?.failed ?? new Promise<never>(() => undefined)]);
    clearTimeout(timer);
    const at = this.#waiting.indexOf(waiter);
    if (at >= 0) this.#waiting.splice(at, 1);
    const { dial } = dialFor(this.#lab.topology, to);
    if (outcome === 'timeout') {
      return { ok: false, reason: `no call from ${peer.name} (the device under test) within ${Math.round(this.#options.waitMs / 1000)} s: it was asked to dial ${dial} from ${from}` };
    }
    if (typeof outcome === 'string') return { ok: false, reason: `${peer.name} (the device under test) was not made to call: ${outcome}` };
    this.#byName.set(name, outcome);
    return { ok: true, call: outcome, waitedMs: Math.round(performance.now() - started) };
  }

  /**
   * Asks the device to end its call (`hangup`: BYE once answered; `cancel`: CANCEL while it rings) and waits until
   * the call ends; true when it did.
   */
  async end(name: string, action: 'hangup' | 'cancel'): Promise<boolean> {
    const call = this.#byName.get(name);
    if (call === undefined) return false;
    if (!call.record.finished) {
      const peer = this.#lab.topology.peers.find((p) => p.name === call.peer);
      if (peer !== undefined) this.#request(action, name, call.record.from, call.record.to, peer);
      const deadline = performance.now() + this.#options.waitMs;
      while (!call.record.finished && performance.now() < deadline) await sleep(10);
    }
    return call.record.finished;
  }

  /** Stops the hooks still running and the lab subscription (the end of the case). */
  async close(): Promise<void> {
    this.#unsubscribe();
    this.#waiting.length = 0;
    await Promise.all(this.#handles.map(async (h) => h.stop?.()));
  }

  /** A call towards Lync joined by a Mediation Server: from a device some case waits for, it becomes that case's call. */
  #onLink(link: LegLink): void {
    if (link.direction !== 'inbound') return;
    const topology = this.#lab.topology;
    const trunk = topology.trunks.find((t) => t.name === link.trunk);
    const peer = topology.peers.find((p) => p.name === trunk?.peer);
    if (trunk === undefined || peer === undefined || peer.external === null) return;
    const registry = this.#lab.registry;
    const known = registry.byLeg(link.gateway.callId);
    // The B2BUA reports a call again once both dialogs have their tags.
    if (known !== null && this.#taken.has(known)) return;
    const waiter = this.#waiting.find((w) => w.peer === peer.name);
    if (waiter === undefined) return;
    this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
    let record = known;
    if (record === null) {
      // The lab registers the calls it places; this one it only relays.
      record = registry.create(waiter.from, waiter.to, 'peer', peer.name);
      registry.addLeg(record, link.gateway.callId);
      registry.addLeg(record, link.frontEnd.callId);
      record.trunks.push(trunk.name);
      const b2bua = [...(this.#lab.mediationServer(link.mediation)?.calls ?? [])].find((c) => c.gw?.callId === link.gateway.callId);
      if (b2bua?.gw) follow(record, b2bua.gw, b2bua.fe);
    }
    this.#taken.add(record);
    waiter.resolve({ record, peer: peer.name, gatewayCallId: link.gateway.callId });
  }
}

/**
 * The record's state from the Mediation Server's two sessions: ringing / early media from the Front End leg's
 * provisional answers, connected when the device ACKs the 200, ended or failed with the device leg.
 */
function follow(record: CallRecord, gw: Session, fe: Session | null): void {
  if (fe !== null) {
    const previous = fe.events.onProvisional;
    fe.events.onProvisional = (res, s) => {
      previous?.(res, s);
      if (record.finished || record.state === 'connected' || res.status === 100) return;
      record.state = res.status === 183 ? 'early-media' : 'ringing';
    };
  }
  const confirmed = gw.events.onConfirmed;
  gw.events.onConfirmed = (s) => {
    confirmed?.(s);
    if (record.finished) return;
    record.state = 'connected';
    record.answeredUs ??= nowUs();
    record.status = 200;
    record.reason = 'OK';
  };
  const ended = gw.events.onEnd;
  gw.events.onEnd = (reason, s) => {
    ended?.(reason, s);
    if (reason.kind === 'rejected') {
      record.status = reason.status;
      record.reason = reason.reason;
    } else if (reason.kind === 'cancelled') {
      record.status ??= 487;
      record.reason ??= 'Request Terminated';
    } else if (reason.kind !== 'bye') record.reason = reason.kind === 'transport-error' ? `transport error: ${reason.message}` : reason.kind;
    record.finish(record.answeredUs !== undefined ? 'ended' : 'failed');
  };
}

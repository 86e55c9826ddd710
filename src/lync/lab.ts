/**
 * The engine API of a running emulated Lync deployment: `Lab.start()` binds
 * one SIP stack per element on its own loopback address (every stack shares
 * the capture tap), starts the roles (Front End, Mediation Servers, emulated
 * peers, Lync users), registers the users, starts the OPTIONS keep-alives,
 * and from then on places calls, acts on them, reports status and one event
 * stream (call state, health changes, log lines). `stop()` ends every call
 * and closes every socket and timer.
 *
 * Plain data out (`ElementStatus`, `TrunkStatus`, `CallSummary`,
 * `EngineEvent` of `src/common/api.ts`): the engine layer and the UI build
 * on it. The tap sees every message; the lab never writes traces itself.
 *
 * Media: every emulated element binds an RTP socket for each SDP it writes
 * (the Mediation Servers relay RTP between their two legs), so DTMF is real
 * RFC 4733 on the wire: a `dtmf` action sends it, each element records the
 * digits that reach it (`receivedDigits(callId)`) and the lab logs
 * `gw-a: received DTMF 123# (RFC 4733, payload 101)`. `media: false`
 * binds no RTP socket (call-rate benchmarks): digits are then only logged.
 *
 * Each call's summary says who is on it (`lyncUser`, `pstn`), whether the
 * caller's identity is withheld (`presentation`) and which side holds it
 * (`heldBy`: the lab's hold actions, and a hold re-INVITE a Lync user
 * receives, relayed from a PSTN party, emulated or not). An attended
 * transfer with Replaces registers the call it makes (the transferee and
 * the consultation's other party) as a call of its own once a leg of it
 * shows: an INVITE with a Replaces naming a leg of the transfer's calls,
 * or a Mediation Server's leg link that says it replaced one.
 */
import type { CallActionRequest, CallSummary, ElementStatus, EngineEvent, Health, TrunkStatus } from '../common/api.ts';
import { DigitBursts, digitString } from '../media/digit-bursts.ts';
import type { ReceivedDigit } from '../media/dtmf-receiver.ts';
import type { DtmfSendOptions } from '../media/telephone-event.ts';
import { reoffer, summarize } from '../sdp/offer-answer.ts';
import { type CaptureTap, nowUs } from '../sip/capture.ts';
import { createTestCertificate } from '../sip/tls-test-cert.ts';
import type { TimerSettings } from '../sip/transaction-timers.ts';
import type { TransportTlsOptions } from '../sip/transport.ts';
import { parseReplaces } from '../sip/dialog.ts';
import type { SipMessage } from '../sip/message.ts';
import type { EndReason, Session, SessionEvents, UserAgent } from '../sip/user-agent.ts';
import { behaviourForNumber, findPstnNumber } from './call-behaviour.ts';
import { CallRecord, CallRegistry } from './call-registry.ts';
import { elementSummaries } from './elements.ts';
import { type EmulatedPeer, type PeerContext } from './emulated-peer.ts';
import { FrontEnd, type RoutingEvent } from './front-end.ts';
import { PstnGateway } from './gateway.ts';
import { IpPbx } from './ip-pbx.ts';
import { allListeners, bindPorts } from './listeners.ts';
import type { MediaSettings } from './call-media.ts';
import { LyncUserEndpoint } from './lync-user.ts';
import { type LegLink, MediationServer, privacyRequested, type RelayedDigit } from './mediation-server.ts';
import { ItspSbc } from './sbc.ts';
import { openStack, type SipStack, type StackOptions } from './sip-stack.ts';
import type { Listener, Peer, Topology, Transport } from './topology.ts';
import { findUserBySipUri } from './routing.ts';

export interface LabOptions {
  /** Every datagram and stream segment of every element. */
  tap?: CaptureTap;
  onEvent?: (event: EngineEvent) => void;
  /** RFC 3261 timers of every element (tests shorten T1). */
  timers?: Partial<TimerSettings>;
  /** TLS key and certificate for every TLS listener; default: a throw-away self-signed one (node:crypto). */
  tls?: TransportTlsOptions;
  /**
   * RTP sockets for every SDP (default true). False for call-rate
   * benchmarks: no socket is bound, DTMF is only logged.
   */
  media?: boolean;
  /** How digits are sent (tone, update interval, pause; RFC 4733 defaults otherwise). */
  dtmf?: DtmfSendOptions;
  /** Lync users and emulated peers send G.711 silence every 20 ms on their calls (default off). */
  silence?: boolean;
}

/** A digit that reached an element of the lab on its RTP socket. */
export interface DigitReceipt {
  element: string;
  role: 'user' | 'peer' | 'mediation';
  /** `0`-`9`, `*`, `#`, `A`-`D` (`flash`, `event-N` for other events). */
  digit: string;
  payloadType: number;
  durationMs: number;
  volume: number;
  rtpTimestamp: number;
  ssrc: number;
  /** How its end was known: its end packet, the next event, silence (end packets lost). */
  endedBy: ReceivedDigit['endedBy'];
  /** Its first packet's arrival, µs since the epoch (the clock of capture records). */
  receivedUs: number;
  /** SIP Call-ID of the leg it came on. */
  leg: string;
  /** Mediation Server: the leg it came on, where it went, and its payload type there (null: not relayed). */
  from?: 'lync' | 'peer';
  relayedTo?: string;
  relayedAs?: number | null;
}

/** Quiet time that ends a burst of digits in the log. */
const BURST_QUIET_MS = 400;

/** Attended transfers remembered until their joined call shows (a peer that joins the calls itself never shows one). */
const MAX_PENDING_JOINS = 32;

/** An attended transfer asked of the lab: the transferred call, the consultation, and the call they make once it shows. */
interface AttendedTransfer {
  main: CallRecord;
  consult: CallRecord;
  /** The Lync user who transferred (out of both calls afterwards). */
  transferor: string;
  joined: CallRecord | null;
  /** The parties' sessions in the two calls: a party whose leg the transfer keeps (a Mediation Server did it) stays on it. */
  kept: { caller: Session | null; callee: Session | null };
  /** Sessions whose state the joined call follows: the Mediation Servers' sides of its legs, its Lync user's leg. */
  readonly followed: Set<Session>;
}

export interface PlaceCallOptions {
  /**
   * A Lync user id (`alice`) or SIP URI, or a PSTN number/extension of an emulated peer (or a peer name).
   * `anonymous`, `anonymous@<peer>` or `anonymous:<number>`: a PSTN caller with presentation restricted
   * (the first emulated peer's first number, or the one named), whatever the number's own setting.
   */
  from: string;
  /** A user id or SIP URI, a PSTN number, or a string the caller's dial plan normalizes. */
  to: string;
}

/** The emulation class for a peer's kind. */
export function createPeer(peer: Peer, stack: SipStack, ctx: PeerContext): EmulatedPeer {
  switch (peer.kind) {
    case 'gateway':
      return new PstnGateway(peer, stack, ctx);
    case 'ip-pbx':
      return new IpPbx(peer, stack, ctx);
    case 'sbc':
      return new ItspSbc(peer, stack, ctx);
  }
}

export class Lab {
  readonly topology: Topology;
  readonly frontEnd: FrontEnd;
  readonly mediationServers: MediationServer[];
  readonly peers: EmulatedPeer[];
  readonly users: LyncUserEndpoint[];
  readonly registry = new CallRegistry();
  readonly #options: LabOptions;
  readonly #legLinks: Array<(link: LegLink) => void> = [];
  /** Digits received per call record. */
  readonly #receipts = new Map<string, DigitReceipt[]>();
  readonly #received = new DigitBursts<DigitReceipt>(BURST_QUIET_MS, (key, items) => this.#logReceived(key, items));
  readonly #relayed = new DigitBursts<DigitReceipt>(BURST_QUIET_MS, (key, items) => this.#logRelayed(key, items));
  readonly #transfers: AttendedTransfer[] = [];
  #stopping: Promise<void> | null = null;

  private constructor(topology: Topology, parts: { frontEnd: FrontEnd; mediationServers: MediationServer[]; peers: EmulatedPeer[]; users: LyncUserEndpoint[] }, options: LabOptions) {
    this.topology = topology;
    this.frontEnd = parts.frontEnd;
    this.mediationServers = parts.mediationServers;
    this.peers = parts.peers;
    this.users = parts.users;
    this.#options = options;
  }

  /** Binds, starts and registers everything; rejects (closing what was opened) when a socket cannot be bound. */
  static async start(model: Topology, options: LabOptions = {}): Promise<Lab> {
    const listeners = allListeners(model);
    let tls = options.tls;
    if (tls === undefined && listeners.some((l) => l.transport === 'tls')) {
      const cert = await createTestCertificate({ commonName: model.frontEnd.fqdn, ips: [...new Set(listeners.map((l) => l.address))] });
      tls = { key: cert.key, cert: cert.cert, ca: cert.cert, rejectUnauthorized: false };
    }
    const base: StackOptions = { tap: options.tap, tls, timers: options.timers };
    const opened: SipStack[] = [];
    const picked = new Map<string, number>();
    const open = async (ls: Listener[], extra: Partial<StackOptions> = {}): Promise<SipStack> => {
      const stack = await openStack(
        ls.map((l) => ({ transport: l.transport, host: l.address, port: l.port })),
        { ...base, ...extra },
      );
      opened.push(stack);
      ls.forEach((l, i) => {
        if (l.port === 0) picked.set(l.key, stack.transport.listening[i].port);
      });
      return stack;
    };
    try {
      const feStack = await open(model.frontEnd.listeners);
      const msStacks: Array<{ fe: SipStack; gateways: SipStack[] }> = [];
      for (const ms of model.mediationServers) {
        const fe = await open([ms.frontEndListener], { tryingDelay: false });
        const gateways: SipStack[] = [];
        for (const l of ms.gatewayListeners) gateways.push(await open([l], { tryingDelay: false, headerNames: 'upper-case' }));
        msStacks.push({ fe, gateways });
      }
      const peerStacks = new Map<string, SipStack>();
      for (const peer of model.peers) if (peer.external === null && peer.listeners.length > 0) peerStacks.set(peer.name, await open(peer.listeners, { tryingDelay: false }));
      const userStacks: SipStack[] = [];
      for (const user of model.users) userStacks.push(await open([user.listener], { tryingDelay: false }));
      const topology = picked.size > 0 ? bindPorts(model, picked) : model;
      return await Lab.#assemble(topology, options, { feStack, msStacks, peerStacks, userStacks });
    } catch (error) {
      await Promise.all(opened.map((s) => s.close()));
      throw error;
    }
  }

  static async #assemble(
    topology: Topology,
    options: LabOptions,
    stacks: { feStack: SipStack; msStacks: Array<{ fe: SipStack; gateways: SipStack[] }>; peerStacks: Map<string, SipStack>; userStacks: SipStack[] },
  ): Promise<Lab> {
    // The roles call back into the lab; `lab` is set before any socket event can reach them.
    let lab: Lab | null = null;
    const emit = (event: EngineEvent): void => options.onEvent?.(event);
    const log = (level: 'info' | 'warn' | 'error', text: string): void => emit({ type: 'log', level, text, timeUs: nowUs() });
    const media: MediaSettings = { enabled: options.media !== false, dtmf: options.dtmf, silence: options.silence === true };
    const mediationServers = topology.mediationServers.map(
      (model, i) =>
        new MediationServer(
          model,
          stacks.msStacks[i].fe,
          model.gatewayListeners.map((listener, j) => ({ listener, stack: stacks.msStacks[i].gateways[j] })),
          {
            topology,
            log,
            media,
            onRelayedDigit: (report) => { if (lab !== null) lab.#onRelayedDigit(report); },
            onLegLink: (link) => { if (lab !== null) lab.#onLegLink(link); },
            onHealth: (trunk, transition) => {
              emit({ type: 'health', trunk: trunk.name, peer: trunk.peer, mediation: trunk.mediationServer, health: transition.to, reason: transition.reason, timeUs: nowUs() });
              log(transition.to === 'down' ? 'warn' : 'info', `trunk ${trunk.name}: ${trunk.peer} ${transition.to} (${transition.reason})`);
            },
          },
        ),
    );
    const isTrunkDown = (name: string): boolean => {
      const trunk = topology.trunks.find((t) => t.name === name);
      const ms = mediationServers.find((m) => m.name === trunk?.mediationServer);
      return ms === undefined || ms.isTrunkDown(name);
    };
    const frontEnd = new FrontEnd(stacks.feStack, { topology, isTrunkDown, log, onRouting: (e) => { if (lab !== null) lab.#onRouting(e); } });
    const peers: EmulatedPeer[] = [];
    for (const peer of topology.peers) {
      const stack = stacks.peerStacks.get(peer.name);
      if (stack === undefined) continue;
      peers.push(
        createPeer(peer, stack, {
          topology,
          log,
          // A peer learns that a Mediation Server is gone by failing to reach it (then retries on another).
          isMediationServerDown: () => false,
          onIncoming: (session) => { if (lab !== null) lab.#onCalleeSession(session, 'peer', peer.name); },
          onDigits: (session, digits, pt) => log('info', `${peer.name}: DTMF ${digits} as RFC 4733 events (payload ${pt}) on ${session.callId}${media.enabled ? '' : ' (media sockets off: not sent)'}`),
          onReceivedDigit: (session, digit) => { if (lab !== null) lab.#onReceivedDigit(peer.name, 'peer', session, digit); },
          media,
        }),
      );
    }
    const users = topology.users.map((user, i) => {
      const transport: Transport = user.transport;
      const port = (transport === 'tls' ? topology.frontEnd.tlsPort : topology.frontEnd.tcpPort) ?? 5061;
      return new LyncUserEndpoint(user, stacks.userStacks[i], {
        topology,
        frontEnd: { transport, host: topology.frontEnd.address, port },
        log,
        onIncoming: (session) => { if (lab !== null) lab.#onCalleeSession(session, 'user', user.name); },
        onDigits: (session, digits, pt) => log('info', `${user.name}: DTMF ${digits} as RFC 4733 events (payload ${pt}) on ${session.callId}${media.enabled ? '' : ' (media sockets off: not sent)'}`),
        onReceivedDigit: (session, digit) => { if (lab !== null) lab.#onReceivedDigit(user.name, 'user', session, digit); },
        media,
      });
    });
    lab = new Lab(topology, { frontEnd, mediationServers, peers, users }, options);
    // Spare RTP sockets bound before the first call (an SDP names only ports already bound).
    await Promise.all([...mediationServers, ...peers, ...users].map((e) => e.media.ready()));
    for (const ms of mediationServers) ms.start();
    for (const p of peers) p.start();
    await Promise.all(
      users
        .filter((u) => u.user.registered)
        .map(async (u) => {
          const status = await u.register();
          if (status !== 200) log('warn', `${u.user.name}: REGISTER got ${status ?? 'no answer'}`);
        }),
    );
    return lab;
  }

  // ------------------------------------------------------------ status

  elements(): ElementStatus[] {
    const trunks = this.trunks();
    return elementSummaries(this.topology).map((e) => {
      const status: ElementStatus = { id: e.element, name: e.displayName, role: e.role, listen: e.listen };
      if (e.uri !== undefined) status.uri = e.uri;
      if (e.lineUri != null) status.lineUri = e.lineUri;
      if (e.numbers !== undefined) status.numbers = e.numbers;
      if (e.external !== undefined) status.external = e.external;
      if (e.role !== 'front-end' && e.role !== 'mediation' && e.role !== 'lync-user') {
        status.health = Object.fromEntries(trunks.filter((t) => t.peer === e.element).map((t) => [t.name, t.health]));
      }
      return status;
    });
  }

  trunks(): TrunkStatus[] {
    return this.topology.trunks.map((t) => {
      const ms = this.mediationServers.find((m) => m.name === t.mediationServer);
      const keepAlive = ms?.keepAlives.get(t.name);
      const health: Health = ms === undefined || ms.stopped ? 'unknown' : keepAlive === undefined ? 'unknown' : keepAlive.isDown ? 'down' : 'up';
      return { name: t.name, mediation: t.mediationServer, peer: t.peer, transport: t.transport, health };
    });
  }

  calls(): CallSummary[] {
    return this.registry.all().map((r) => r.summary());
  }

  /** The element at a wire address (each element has its own IP; the port breaks ties), or null. */
  elementOf(host: string, port: number, transport: Transport): string | null {
    const listeners = allListeners(this.topology);
    const exact = listeners.find((l) => l.address === host && l.port === port && l.transport === transport);
    if (exact !== undefined) return exact.element;
    for (const peer of this.topology.peers) {
      if (peer.external !== null && peer.external.host === host && peer.external.port === port) return peer.name;
    }
    const byHost = [...new Set(listeners.filter((l) => l.address === host).map((l) => l.element))];
    if (byHost.length === 1) return byHost[0];
    const external = this.topology.peers.filter((p) => p.external !== null && p.external.host === host);
    if (external.length === 1) return external[0].name;
    return null;
  }

  /** B2BUA leg links (Call-ID and tags of the FE-side and gateway-side dialogs of one call). */
  onLegLink(callback: (link: LegLink) => void): () => void {
    this.#legLinks.push(callback);
    return () => {
      const i = this.#legLinks.indexOf(callback);
      if (i >= 0) this.#legLinks.splice(i, 1);
    };
  }

  mediationServer(name: string): MediationServer | null {
    return this.mediationServers.find((m) => m.name === name) ?? null;
  }

  /** Stops one Mediation Server (its sockets close): failover tests, "pull the plug". */
  async stopMediationServer(name: string): Promise<void> {
    await this.mediationServer(name)?.stop();
    this.#emit({ type: 'log', level: 'warn', text: `${name} stopped`, timeUs: nowUs() });
  }

  // ------------------------------------------------------------ calls

  placeCall(request: PlaceCallOptions): { callId: string } {
    const user = this.#userEndpoint(request.from);
    if (user !== null) {
      const record = this.registry.create(request.from, request.to, 'user', user.user.name);
      record.restricted = user.user.behaviour.callerPresentation === 'restricted';
      const session = user.call(request.to, this.#callerEvents(record));
      this.#setCaller(record, session);
      this.#watchHolds(session);
      return { callId: record.id };
    }
    const anonymous = /^anonymous(?:$|[@:])/i.exec(request.from) !== null;
    const origin = anonymous ? this.#anonymousOrigin(request.from) : this.#peerOrigin(request.from);
    if (origin === null) throw new Error(`placeCall: "${request.from}" is neither a Lync user nor a number of an emulated peer`);
    const record = this.registry.create(request.from, request.to, 'peer', origin.peer.name);
    // The emulated peer withholds the number the same way (emulated-peer.ts `call`).
    record.restricted = anonymous || behaviourForNumber(origin.peer.peer, origin.number).callerPresentation === 'restricted';
    const to = this.#dialFromPstn(request.to);
    const call = origin.peer.call(origin.number, to, this.#callerEvents(record), { anonymous });
    call.onSession = (session) => this.#setCaller(record, session);
    if (call.session !== null) this.#setCaller(record, call.session);
    const pushTrunks = (): void => {
      for (const t of call.trunks) if (!record.trunks.includes(t)) record.trunks.push(t);
    };
    pushTrunks();
    call.onSession = (session) => {
      this.#setCaller(record, session);
      pushTrunks();
    };
    return { callId: record.id };
  }

  async callAction(callId: string, request: CallActionRequest): Promise<CallSummary> {
    const record = this.registry.get(callId);
    if (record === null) throw new Error(`no call ${callId}`);
    const own = record.caller;
    const userSide = this.#lyncSide(record);
    switch (request.action) {
      case 'answer': {
        const callee = record.callee;
        const ep = record.calleeKind === 'user' ? this.users.find((u) => u.user.name === record.calleeElement) : undefined;
        if (callee === null || ep === undefined || callee.ended || callee.state === 'confirmed' || !ep.answer(callee)) {
          throw new Error(`${callId}: no ringing Lync user to answer`);
        }
        break;
      }
      case 'hangup':
        if (own !== null && !own.ended) own.hangup();
        else if (record.callee !== null && !record.callee.ended) record.callee.hangup();
        break;
      case 'hold':
      case 'resume': {
        const hold = request.action === 'hold';
        if (userSide !== null) {
          const res = hold ? await userSide.ep.hold(userSide.session) : await userSide.ep.resume(userSide.session);
          if (res === null || res.status >= 300) throw new Error(`${callId}: ${request.action} got ${res?.status ?? 'no answer'}`);
        } else if (own !== null && own.localSdp !== null) {
          await own.reinvite(reoffer(own.localSdp, hold ? 'sendonly' : 'sendrecv'));
        }
        if (record.setHeld(userSide !== null || record.callerKind === 'user' ? 'lync' : 'pstn', hold)) this.#emitCall(record);
        break;
      }
      case 'peer-hold':
      case 'peer-resume': {
        // The PSTN side of the call (RFC 3264 §8.4: a=sendonly, or a=inactive, to hold; a=sendrecv to resume).
        const hold = request.action === 'peer-hold';
        const pstn = record.callerKind === 'peer' ? record.caller : record.calleeKind === 'peer' ? record.callee : null;
        if (pstn === null || pstn.ended || pstn.localSdp === null || pstn.state !== 'confirmed') throw new Error(`${callId}: no answered PSTN party in this call to ${hold ? 'hold' : 'resume'} from`);
        const res = await pstn.reinvite(reoffer(pstn.localSdp, hold ? (request.direction ?? 'sendonly') : 'sendrecv'));
        if (res === null || res.status >= 300) throw new Error(`${callId}: ${request.action} got ${res?.status ?? 'no answer'}`);
        if (record.setHeld('pstn', hold)) this.#emitCall(record);
        break;
      }
      case 'refresh':
      case 'peer-refresh': {
        // A session refresh now (RFC 4028): by the Mediation Server on its gateway leg, or by the PSTN side with unchanged SDP.
        const pstn = record.callerKind === 'peer' ? record.caller : record.calleeKind === 'peer' ? record.callee : null;
        if (pstn === null || pstn.ended || pstn.localSdp === null || pstn.state !== 'confirmed') throw new Error(`${callId}: no answered PSTN party in this call to refresh the session with`);
        let res: SipMessage | null;
        if (request.action === 'peer-refresh') res = await pstn.reinvite(pstn.localSdp);
        else {
          const sent = this.mediationServers.map((ms) => ms.refreshNow(pstn.callId)).find((p) => p !== null);
          if (sent === undefined) throw new Error(`${callId}: no Mediation Server holds an answered gateway leg ${pstn.callId}`);
          res = await sent;
        }
        if (res === null || res.status >= 300) throw new Error(`${callId}: ${request.action} got ${res?.status ?? 'no answer'}`);
        break;
      }
      case 'transfer': {
        if (request.target === undefined && request.replaces === undefined) throw new Error('transfer needs a target');
        if (userSide === null) throw new Error(`${callId}: no Lync user in this call to transfer it`);
        let res: Awaited<ReturnType<LyncUserEndpoint['transfer']>>;
        if (request.replaces !== undefined) {
          // Attended transfer: the consultation call is the same Lync user's other call.
          const consult = this.registry.get(request.replaces);
          if (consult === null) throw new Error(`no call ${request.replaces} to replace`);
          const own = this.#lyncSide(consult);
          if (own === null || own.ep !== userSide.ep) throw new Error(`${request.replaces}: not a call of ${userSide.ep.user.name} to transfer to`);
          // Known before the REFER goes: the joined call's first INVITE can beat the 202 back.
          const transfer: AttendedTransfer = { main: record, consult, transferor: userSide.ep.user.name, joined: null, kept: { caller: null, callee: null }, followed: new Set() };
          this.#transfers.push(transfer);
          if (this.#transfers.length > MAX_PENDING_JOINS) this.#transfers.shift();
          res = await userSide.ep.transferAttended(userSide.session, own.session);
          if ((res === null || res.status >= 300) && transfer.joined === null) this.#forget(transfer);
        } else res = await userSide.ep.transfer(userSide.session, request.target as string);
        if (res === null || res.status >= 300) throw new Error(`${callId}: REFER got ${res?.status ?? 'no answer'}`);
        break;
      }
      case 'dtmf': {
        // RFC 4733 events on the call's RTP; resolves once they are out and the Mediation Server has relayed them.
        if (request.digits === undefined) throw new Error('dtmf needs digits');
        if (userSide !== null) {
          const relay = this.#relayOf(userSide.session.callId);
          const { sent } = await userSide.ep.dtmf(userSide.session, request.digits);
          if (sent !== null && relay !== null) await this.#relayedAll(relay.ms, userSide.session.callId, relay.before + sent.completed);
        } else if (own !== null) {
          const peer = this.peers.find((p) => p.name === record.callerElement);
          if (peer === undefined) throw new Error(`${callId}: the caller ${record.callerElement} is not an emulated peer`);
          await peer.sendDigits(own, request.digits);
        }
        break;
      }
    }
    return record.summary();
  }

  /** The final summary of a call (resolves when it ends or fails). */
  waitForCall(callId: string): Promise<CallSummary> {
    const record = this.registry.get(callId);
    if (record === null) return Promise.reject(new Error(`no call ${callId}`));
    return record.done;
  }

  /** Ends every call, stops keep-alives, closes every socket and timer. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const record of this.registry.all()) if (!record.finished) record.finish('ended');
      this.#received.flush();
      this.#relayed.flush();
      await Promise.all([
        ...this.users.map((u) => u.stop()),
        ...this.peers.map((p) => p.stop()),
        ...this.mediationServers.map((m) => m.stop()),
      ]);
      await this.frontEnd.stop();
    })();
    return this.#stopping;
  }

  // ------------------------------------------------------------ internals

  /**
   * The digits that reached elements of the lab on a call (its every leg),
   * in arrival order: endpoints that received them, and the Mediation
   * Server that relayed them (or could not).
   */
  receivedDigits(callId: string): DigitReceipt[] {
    return [...(this.#receipts.get(callId) ?? [])];
  }

  #store(callId: string, receipt: DigitReceipt): void {
    const record = this.registry.byLeg(callId);
    if (record === null) return;
    let list = this.#receipts.get(record.id);
    if (list === undefined) {
      list = [];
      this.#receipts.set(record.id, list);
    }
    list.push(receipt);
  }

  #onReceivedDigit(element: string, role: 'user' | 'peer', session: Session, d: ReceivedDigit): void {
    const receipt = receiptOf(element, role, session.callId, d);
    this.#store(session.callId, receipt);
    this.#received.add(`${element}\u0000${session.callId}\u0000${d.payloadType}`, receipt);
  }

  #logReceived(key: string, items: DigitReceipt[]): void {
    const [element, callId] = key.split('\u0000');
    const record = this.registry.byLeg(callId);
    const text = `${element}: received DTMF ${digitString(items)} (RFC 4733, payload ${items[0].payloadType}) on ${record?.id ?? callId}`;
    this.#emit({ type: 'log', level: 'info', text, timeUs: nowUs() });
    if (record !== null) {
      record.dtmfReceived.set(element, (record.dtmfReceived.get(element) ?? '') + digitString(items));
      this.#emitCall(record);
    }
  }

  #onRelayedDigit(r: RelayedDigit): void {
    const leg = (r.from === 'lync' ? r.frontEndCallId : r.gatewayCallId) ?? '';
    const receipt: DigitReceipt = { ...receiptOf(r.mediation, 'mediation', leg, r.digit), from: r.from, relayedTo: r.from === 'lync' ? r.peer : 'lync', relayedAs: r.relayedAs };
    this.#store(leg, receipt);
    this.#relayed.add(`${r.mediation}\u0000${r.frontEndCallId ?? ''}\u0000${r.from}\u0000${r.relayedAs}\u0000${r.peer}`, receipt);
  }

  /** What the Mediation Server did with a burst of digits: relayed as RFC 4733, or not (the other leg has no telephone-event). */
  #logRelayed(key: string, items: DigitReceipt[]): void {
    const [ms, , from, , peer] = key.split('\u0000');
    const digits = digitString(items);
    const { payloadType, relayedAs } = items[0];
    const source = from === 'lync' ? 'Lync' : peer;
    const target = from === 'lync' ? peer : 'the Lync side';
    const text =
      relayedAs !== null && relayedAs !== undefined
        ? from === 'lync'
          ? `${ms}: DTMF ${digits} relayed to ${peer} as RFC 4733 events (payload ${relayedAs})`
          : `${ms}: DTMF ${digits} from ${peer} relayed to the Lync side as RFC 4733 events (payload ${relayedAs})`
        : `${ms}: DTMF ${digits} (RFC 4733 payload ${payloadType} from ${source}) cannot go to ${target} as RFC 4733: no telephone-event on its leg (in band only)`;
    this.#emit({ type: 'log', level: relayedAs === null ? 'warn' : 'info', text, timeUs: nowUs() });
  }

  /** The Mediation Server of a Lync-side leg, and how many digits it has relayed from the Lync side so far. */
  #relayOf(frontEndCallId: string): { ms: MediationServer; before: number } | null {
    for (const ms of this.mediationServers) {
      const count = ms.relayedDigitCount(frontEndCallId);
      if (count !== undefined) return { ms, before: count.lync };
    }
    return null;
  }

  /** Waits (bounded) until the relay has seen `count` digits from the Lync side, then logs what it did with them. */
  async #relayedAll(ms: MediationServer, frontEndCallId: string, count: number): Promise<void> {
    const limit = performance.now() + 2000;
    while ((ms.relayedDigitCount(frontEndCallId)?.lync ?? count) < count && performance.now() < limit) await new Promise((r) => setTimeout(r, 10));
    this.#relayed.flush((key) => key.startsWith(`${ms.name}\u0000${frontEndCallId}\u0000lync\u0000`));
  }

  #emit(event: EngineEvent): void {
    this.#options.onEvent?.(event);
  }

  #log(level: 'info' | 'warn', text: string): void {
    this.#emit({ type: 'log', level, text, timeUs: nowUs() });
  }

  #emitCall(record: CallRecord): void {
    this.#emit({ type: 'call', call: record.summary() });
  }

  #userEndpoint(text: string): LyncUserEndpoint | null {
    const byName = this.users.find((u) => u.user.name === text);
    if (byName !== undefined) return byName;
    const user = findUserBySipUri(this.topology, text);
    return user === null ? null : (this.users.find((u) => u.user.name === user.name) ?? null);
  }

  #peerOrigin(text: string): { peer: EmulatedPeer; number: string } | null {
    const byName = this.peers.find((p) => p.name === text);
    if (byName !== undefined) return { peer: byName, number: byName.peer.numbers[0]?.number ?? 'anonymous' };
    for (const p of this.peers) {
      const n = findPstnNumber(p.peer, text);
      if (n !== null) return { peer: p, number: n.number };
    }
    return null;
  }

  /** `anonymous`, `anonymous@<peer>`, `anonymous:<number>`: the peer and number behind a restricted caller. */
  #anonymousOrigin(text: string): { peer: EmulatedPeer; number: string } | null {
    const rest = text.slice('anonymous'.length);
    if (rest === '') {
      const peer = this.peers.find((p) => p.trunks().length > 0 && p.peer.numbers.length > 0) ?? null;
      return peer === null ? null : { peer, number: peer.peer.numbers[0].number };
    }
    // `@peer` names the peer (its first number), `:number` the number.
    return this.#peerOrigin(rest.slice(1));
  }

  /** What the PSTN dials to reach `to`: a user's Line URI number (with `;ext=`), or `to` as given. */
  #dialFromPstn(to: string): string {
    const user = this.topology.users.find((u) => u.name === to) ?? findUserBySipUri(this.topology, to);
    if (user?.lineUri) return user.lineUri.ext === null ? user.lineUri.number : `${user.lineUri.number};ext=${user.lineUri.ext}`;
    return to.replace(/^tel:/i, '');
  }

  #lyncSide(record: CallRecord): { ep: LyncUserEndpoint; session: Session } | null {
    if (record.callerKind === 'user' && record.caller !== null && !record.caller.ended) {
      const ep = this.users.find((u) => u.user.name === record.callerElement);
      if (ep !== undefined) return { ep, session: record.caller };
    }
    if (record.calleeKind === 'user' && record.callee !== null && !record.callee.ended) {
      const ep = this.users.find((u) => u.user.name === record.calleeElement);
      if (ep !== undefined) return { ep, session: record.callee };
    }
    return null;
  }

  #setCaller(record: CallRecord, session: Session): void {
    record.caller = session;
    this.registry.addLeg(record, session.callId);
    this.#emitCall(record);
  }

  #callerEvents(record: CallRecord): SessionEvents {
    return {
      onProvisional: (res, session) => {
        if (record.pddMs === undefined && res.status > 100) record.pddMs = session.pddMs ?? undefined;
        const next = res.status === 180 ? 'ringing' : res.status === 183 ? 'early-media' : res.status > 100 ? 'ringing' : 'proceeding';
        if (record.state !== next && !record.finished) {
          record.state = next;
          this.#emitCall(record);
        }
      },
      onConfirmed: () => {
        record.state = 'connected';
        record.answeredUs = nowUs();
        record.status = 200;
        record.reason = 'OK';
        this.#emitCall(record);
      },
      onEnd: (reason) => {
        if (reason.kind === 'rejected') {
          record.status = reason.status;
          record.reason = reason.reason;
          const diag = reason.response?.getAll('ms-diagnostics') ?? [];
          if (diag.length > 0) record.reason = `${reason.reason} (ms-diagnostics: ${diag.join(' | ')})`;
        } else if (reason.kind !== 'bye') record.reason = reason.kind === 'transport-error' ? `transport error: ${reason.message}` : reason.kind;
        record.finish(record.answeredUs !== undefined ? 'ended' : 'failed');
        this.#emitCall(record);
      },
    };
  }

  #onCalleeSession(session: Session, kind: 'user' | 'peer', element: string): void {
    let record = this.registry.byLeg(session.callId);
    let transfer: AttendedTransfer | null = null;
    if (record === null) {
      // An INVITE with Replaces (RFC 3891) naming a leg of an attended transfer's calls: the joined call's target.
      transfer = this.#transferOf(parseReplaces(session.inviteRequest?.get('replaces'))?.callId);
      if (transfer === null) return;
      record = this.#joined(transfer, null);
      this.registry.addLeg(record, session.callId);
    }
    record.callee = session;
    record.calleeKind = kind;
    record.calleeElement = element;
    if (transfer !== null) {
      this.#followJoined(transfer, [session]);
      this.#emitCall(record);
    }
    // The role installs its re-INVITE answer right after this returns.
    if (kind === 'user') queueMicrotask(() => this.#watchHolds(session));
  }

  /**
   * A Lync user's leg: a re-INVITE it receives that holds (a=sendonly, a=inactive) or resumes says the
   * other party did, relayed by the Mediation Server from a PSTN party (a device's own re-INVITE
   * included) or sent by another Lync user.
   */
  #watchHolds(session: Session): void {
    const answer = session.events.onReinvite;
    session.events.onReinvite = (req, s) => {
      const decision = answer?.(req, s);
      if (req.body.length > 0 && (decision?.status ?? 200) < 300) this.#onHoldOffer(s, req);
      return decision;
    };
  }

  #onHoldOffer(session: Session, req: SipMessage): void {
    const record = this.registry.byLeg(session.callId);
    if (record === null || record.finished) return;
    let direction: string;
    try {
      direction = summarize(req.bodyText).media[0]?.direction ?? 'sendrecv';
    } catch {
      return;
    }
    // The other party of this user: a Lync user, or a PSTN party (emulated or a device the lab does not play).
    const otherKind = record.caller === session ? record.calleeKind : record.callerKind;
    if (record.setHeld(otherKind === 'user' ? 'lync' : 'pstn', direction === 'sendonly' || direction === 'inactive')) this.#emitCall(record);
  }

  #onRouting(event: RoutingEvent): void {
    const record = this.registry.byLeg(event.callId);
    if (event.kind === 'attempt' && record !== null) record.trunks.push(event.trunk);
    if (event.kind === 'failover') {
      this.#emit({ type: 'log', level: 'warn', text: `fe: ${event.trunk} failed (${event.outcome}): ${event.diagnostic.id} ${event.diagnostic.reason}`, timeUs: nowUs() });
    }
    if (event.kind === 'failed') {
      this.#emit({ type: 'log', level: 'warn', text: `fe: call ${event.callId} failed ${event.status}: ${event.diagnostic.id} ${event.diagnostic.reason}`, timeUs: nowUs() });
    }
  }

  #onLegLink(link: LegLink): void {
    const transfer = this.#transferOf(link.replaced);
    let record: CallRecord | null;
    if (transfer !== null) {
      record = this.#joined(transfer, link.trunk);
      this.registry.addLeg(record, link.frontEnd.callId);
      this.registry.addLeg(record, link.gateway.callId);
      const b2bua = this.#b2buaCall(link);
      if (b2bua !== null) this.#followJoined(transfer, [b2bua.fe, b2bua.gw]);
      if (!record.trunks.includes(link.trunk)) record.trunks.push(link.trunk);
    } else record = this.registry.link(link.frontEnd.callId, link.gateway.callId);
    // A call from a peer the lab did not place (an external device's) whose INVITE withheld the caller's identity.
    if (link.direction === 'inbound' && record === null) {
      const invite = this.#b2buaCall(link)?.gw?.inviteRequest;
      if (invite != null && privacyRequested(invite)) this.registry.withholdIdentity(link.gateway.callId);
    }
    if (record !== null) {
      const before = `${record.legs.length}/${record.viaMediation}/${record.restricted}`;
      record.viaMediation = true;
      if (transfer !== null || `${record.legs.length}/${record.viaMediation}/${record.restricted}` !== before) this.#emitCall(record);
    }
    for (const cb of this.#legLinks) cb(link);
  }

  /** The Mediation Server's call a leg link reports. */
  #b2buaCall(link: LegLink): { fe: Session | null; gw: Session | null } | null {
    for (const call of this.mediationServer(link.mediation)?.calls ?? []) {
      if (call.gw?.callId === link.gateway.callId && call.fe?.callId === link.frontEnd.callId) return call;
    }
    return null;
  }

  // ------------------------------------------------------------ attended transfer: the joined call

  /** The attended transfer one of whose calls has a leg with this Call-ID. */
  #transferOf(callId: string | undefined): AttendedTransfer | null {
    if (callId === undefined) return null;
    return this.#transfers.find((t) => t.main.legs.includes(callId) || t.consult.legs.includes(callId)) ?? null;
  }

  #forget(transfer: AttendedTransfer): void {
    const i = this.#transfers.indexOf(transfer);
    if (i >= 0) this.#transfers.splice(i, 1);
  }

  /**
   * The call an attended transfer makes: the transferred call's other party (the caller of the joined
   * call) and the consultation's, registered once a leg of it shows. Its withheld identity carries over
   * when that party was the transferred call's caller.
   */
  #joined(transfer: AttendedTransfer, trunk: string | null): CallRecord {
    if (transfer.joined !== null) return transfer.joined;
    const party = (r: CallRecord): { name: string; kind: 'user' | 'peer' | null; element: string | null; session: Session | null; caller: boolean } =>
      r.callerKind === 'user' && r.callerElement === transfer.transferor
        ? { name: r.to, kind: r.calleeKind, element: r.calleeElement, session: r.callee, caller: false }
        : { name: r.from, kind: r.callerKind, element: r.callerElement, session: r.caller, caller: true };
    const from = party(transfer.main);
    const to = party(transfer.consult);
    const lastTrunk = transfer.main.trunks.at(-1) ?? trunk;
    const peerOfTrunk = this.topology.trunks.find((t) => t.name === lastTrunk)?.peer;
    // A party the lab does not play (an external device) is a PSTN party.
    const record = this.registry.create(from.name, to.name, from.kind ?? 'peer', from.element ?? peerOfTrunk ?? from.name);
    record.restricted = from.caller && transfer.main.restricted;
    if (to.kind === 'peer' || to.kind === null) {
      record.calleeKind = 'peer';
      record.calleeElement = to.element;
    }
    record.state = 'proceeding';
    transfer.joined = record;
    transfer.kept = { caller: from.session, callee: to.session };
    this.#log('info', `${record.id}: ${transfer.transferor} joined ${transfer.main.id} and ${transfer.consult.id} (attended transfer)`);
    return record;
  }

  /**
   * The joined call follows these sessions: connected once every one is, ended (or failed, with the
   * status that refused it) when one ends. Once connected, its parties' own sessions are looked up
   * (a party the lab plays placed or took its leg on its own: the PSTN gateway's INVITE with Replaces).
   */
  #followJoined(transfer: AttendedTransfer, sessions: Array<Session | null>): void {
    const record = transfer.joined;
    if (record === null) return;
    const settle = (): void => {
      if (record.finished || record.state !== 'proceeding') return;
      if ([...transfer.followed].some((s) => s.ended || s.state !== 'confirmed')) return;
      record.state = 'connected';
      record.answeredUs = nowUs();
      record.status = 200;
      record.reason = 'OK';
      this.#findParties(transfer);
      this.#emitCall(record);
    };
    for (const session of sessions) {
      if (session === null || transfer.followed.has(session)) continue;
      transfer.followed.add(session);
      const confirmed = session.events.onConfirmed;
      session.events.onConfirmed = (s) => {
        confirmed?.(s);
        settle();
      };
      const ended = session.events.onEnd;
      session.events.onEnd = (reason, s) => {
        ended?.(reason, s);
        this.#endJoined(transfer, reason);
      };
      if (session.ended) this.#endJoined(transfer, session.endReason);
    }
    settle();
  }

  #endJoined(transfer: AttendedTransfer, reason: EndReason | null): void {
    const record = transfer.joined;
    if (record === null || record.finished) return;
    if (record.answeredUs === undefined && reason?.kind === 'rejected') {
      record.status = reason.status;
      record.reason = reason.reason;
    }
    record.finish(record.answeredUs !== undefined ? 'ended' : 'failed');
    this.#forget(transfer);
    this.#emitCall(record);
  }

  /** The joined call's parties the lab plays, by the dialogs of the Mediation Servers' legs (the party's tag is their remote tag). */
  #findParties(transfer: AttendedTransfer): void {
    const record = transfer.joined;
    if (record === null) return;
    const uaOf = (kind: 'user' | 'peer' | null, element: string | null): UserAgent | undefined =>
      kind === 'user' ? this.users.find((u) => u.user.name === element)?.ua : kind === 'peer' ? this.peers.find((p) => p.name === element)?.ua : undefined;
    const find = (kept: Session | null, ua: UserAgent | undefined, not: Session | null): Session | null => {
      // A party whose leg the Mediation Server kept is still on it (both may be behind one peer).
      if (kept !== null && !kept.ended && record.legs.includes(kept.callId)) return kept;
      if (ua === undefined) return null;
      for (const s of transfer.followed) {
        if (s.dialog === null || s.ua === ua) continue;
        const own = ua.sessionForReplaces({ callId: s.callId, toTag: s.dialog.remoteTag, fromTag: s.localTag, earlyOnly: false });
        if (own !== null && own !== not) return own;
      }
      return null;
    };
    if (record.callee === null || record.callee.ended) {
      const callee = find(transfer.kept.callee, uaOf(record.calleeKind, record.calleeElement), record.caller);
      if (callee !== null) {
        record.callee = callee;
        if (record.calleeKind === 'user' && callee !== transfer.kept.callee) this.#watchHolds(callee);
      }
    }
    if (record.caller === null || record.caller.ended) {
      const caller = find(transfer.kept.caller, uaOf(record.callerKind, record.callerElement), record.callee);
      if (caller !== null) {
        record.caller = caller;
        if (record.callerKind === 'user' && caller !== transfer.kept.caller) this.#watchHolds(caller);
      }
    }
  }
}

function receiptOf(element: string, role: DigitReceipt['role'], leg: string, d: ReceivedDigit): DigitReceipt {
  return {
    element,
    role,
    digit: d.digit,
    payloadType: d.payloadType,
    durationMs: d.durationMs,
    volume: d.volume,
    rtpTimestamp: d.rtpTimestamp,
    ssrc: d.ssrc,
    endedBy: d.endedBy,
    receivedUs: Math.round((performance.timeOrigin + d.firstAtMs) * 1000),
    leg,
  };
}

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
 */
import type { CallActionRequest, CallSummary, ElementStatus, EngineEvent, Health, TrunkStatus } from '../common/api.ts';
import { reoffer } from '../sdp/offer-answer.ts';
import { type CaptureTap, nowUs } from '../sip/capture.ts';
import { createTestCertificate } from '../sip/tls-test-cert.ts';
import type { TimerSettings } from '../sip/transaction-timers.ts';
import type { TransportTlsOptions } from '../sip/transport.ts';
import type { Session, SessionEvents } from '../sip/user-agent.ts';
import { findPstnNumber } from './call-behaviour.ts';
import { CallRecord, CallRegistry } from './call-registry.ts';
import { elementSummaries } from './elements.ts';
import { type EmulatedPeer, type PeerContext } from './emulated-peer.ts';
import { FrontEnd, type RoutingEvent } from './front-end.ts';
import { PstnGateway } from './gateway.ts';
import { IpPbx } from './ip-pbx.ts';
import { allListeners, bindPorts } from './listeners.ts';
import { LyncUserEndpoint, negotiatedTelephoneEvent } from './lync-user.ts';
import { type LegLink, MediationServer } from './mediation-server.ts';
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
  /** TLS key and certificate for every TLS listener; default: a throw-away self-signed one (openssl). */
  tls?: TransportTlsOptions;
}

export interface PlaceCallOptions {
  /** A Lync user id (`alice`) or SIP URI, or a PSTN number/extension of an emulated peer (or a peer name). */
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
    const mediationServers = topology.mediationServers.map(
      (model, i) =>
        new MediationServer(
          model,
          stacks.msStacks[i].fe,
          model.gatewayListeners.map((listener, j) => ({ listener, stack: stacks.msStacks[i].gateways[j] })),
          {
            topology,
            log,
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
          onDigits: (session, digits, pt) => log('info', `${peer.name}: DTMF ${digits} as RFC 4733 events (payload ${pt}) on ${session.callId}`),
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
        onDigits: (session, digits, pt) => log('info', `${user.name}: DTMF ${digits} as RFC 4733 events (payload ${pt}) on ${session.callId}`),
      });
    });
    lab = new Lab(topology, { frontEnd, mediationServers, peers, users }, options);
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
      const session = user.call(request.to, this.#callerEvents(record));
      this.#setCaller(record, session);
      return { callId: record.id };
    }
    const origin = this.#peerOrigin(request.from);
    if (origin === null) throw new Error(`placeCall: "${request.from}" is neither a Lync user nor a number of an emulated peer`);
    const record = this.registry.create(request.from, request.to, 'peer', origin.peer.name);
    const to = this.#dialFromPstn(request.to);
    const call = origin.peer.call(origin.number, to, this.#callerEvents(record));
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
        if (!record.finished) {
          record.state = hold ? 'held' : 'connected';
          this.#emitCall(record);
        }
        break;
      }
      case 'transfer': {
        if (request.target === undefined) throw new Error('transfer needs a target');
        if (userSide === null) throw new Error(`${callId}: no Lync user in this call to transfer it`);
        const res = await userSide.ep.transfer(userSide.session, request.target);
        if (res === null || res.status >= 300) throw new Error(`${callId}: REFER got ${res?.status ?? 'no answer'}`);
        break;
      }
      case 'dtmf': {
        if (request.digits === undefined) throw new Error('dtmf needs digits');
        if (userSide !== null) {
          const pt = userSide.ep.dtmf(userSide.session, request.digits);
          this.#relayDigits(userSide.session, request.digits, pt);
        } else if (own !== null) {
          const pt = negotiatedTelephoneEvent(own);
          if (pt === null) throw new Error(`${callId}: no telephone-event negotiated`);
          this.#emit({ type: 'log', level: 'info', text: `${record.callerElement}: DTMF ${request.digits} as RFC 4733 events (payload ${pt})`, timeUs: nowUs() });
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

  /** Reports what the Mediation Server does with a Lync party's digits on the peer's leg. */
  #relayDigits(session: Session, digits: string, lyncPayloadType: number): void {
    for (const ms of this.mediationServers) {
      const relay = ms.relayDigits(session.callId);
      if (relay === undefined) continue;
      if (relay.payloadType !== null) {
        this.#emit({ type: 'log', level: 'info', text: `${ms.name}: DTMF ${digits} relayed to ${relay.peer} as RFC 4733 events (payload ${relay.payloadType})`, timeUs: nowUs() });
      } else {
        this.#emit({ type: 'log', level: 'warn', text: `${ms.name}: DTMF ${digits} (RFC 4733 payload ${lyncPayloadType} from Lync) cannot go to ${relay.peer} as RFC 4733: no telephone-event on its leg (in band only)`, timeUs: nowUs() });
      }
      return;
    }
  }

  #emit(event: EngineEvent): void {
    this.#options.onEvent?.(event);
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
    const record = this.registry.byLeg(session.callId);
    if (record === null) return;
    record.callee = session;
    record.calleeKind = kind;
    record.calleeElement = element;
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
    this.registry.link(link.frontEnd.callId, link.gateway.callId);
    for (const cb of this.#legLinks) cb(link);
  }
}

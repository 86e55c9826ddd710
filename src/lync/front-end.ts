/**
 * The Front End pool: registrar for the emulated Lync users and the proxy
 * that routes their calls (RFC 3261 §16, record-routing so it stays in every
 * dialog, as a Lync Front End does).
 *
 * Voice routing, in the order of the domain doc:
 * 1. normalize the dialed string with the caller's dial plan (a user's, or
 *    for calls arriving from a Mediation Server the peer's own dial plan);
 * 2. reverse number lookup: a number equal to a user's Line URI rings that
 *    user's registered endpoint;
 * 3. otherwise outbound routing: usages → routes → trunks (round robin over
 *    a route's trunks), failing over to the next trunk, then the next
 *    route/usage, on a 5xx, a timeout, a transport failure or a trunk marked
 *    down; a 4xx/6xx ends the call (`failsOver()`).
 *
 * Failures carry `ms-diagnostics` (12000 no available gateway, 12001 no
 * usage, 12004 no route, 13004 user not signed in, 4005 no such user, 4009
 * ambiguous number); each failover is reported as a 12006 "Trying next hop"
 * routing event.
 *
 * Harness conventions (not Lync's documented wire format, marked so):
 * - the INVITE to a Mediation Server carries the chosen trunk in
 *   `ms-trunking-peer: <peer fqdn>;trunk="<trunk name>"` *(unverified: the
 *   header exists in Lync traces, this parameter layout is ours)*;
 * - the Front End asserts the caller's identity with
 *   `P-Asserted-Identity: <tel:+N>` from the user's Line URI (RFC 3325,
 *   the trust domain is the pool), removing any the client sent; a Lync
 *   endpoint never gets a P-Asserted-Identity from outside the pool, so an
 *   anonymous PSTN caller (`Privacy: id`) stays anonymous to the user
 *   (RFC 3325 §5);
 * - an INVITE from a Mediation Server with `Referred-By` a Lync user (a
 *   transfer the Mediation Server carries out, EnableReferSupport off) is
 *   routed as that user's call *(unverified)*, so a transfer target may be
 *   a PSTN number.
 */
import { OutgoingMessage } from '../sip/builder.ts';
import type { HostPort, TransportProtocol } from '../sip/capture.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseNameAddr, parseNameAddrList } from '../sip/name-addr.ts';
import { forwardRequest, forwardResponse, type ProxyCheck, type ProxyIdentity, recordRouteValue, validateForProxy } from '../sip/proxy.ts';
import type { ClientTransaction } from '../sip/transaction-client.ts';
import type { ServerTransaction } from '../sip/transaction-server.ts';
import type { Destination, Flow } from '../sip/transport-types.ts';
import { uriDestination } from '../sip/user-agent.ts';
import { bareHost } from '../sip/uri.ts';
import { dialPlanForGateway, dialPlanForUser, dialString, normalize } from './dial-plan.ts';
import { formatMsDiagnostics, INBOUND_ROUTING, type MsDiagnostic, OUTBOUND_ROUTING, USER_SERVICES } from './ms-diagnostics.ts';
import { failsOver, findUserBySipUri, type OutboundCandidate, outboundCandidates, reverseNumberLookup } from './routing.ts';
import { RoundRobin } from './round-robin.ts';
import type { SipStack } from './sip-stack.ts';
import type { DialPlan, LyncUser, Topology } from './topology.ts';
import { findMediationServer, findPeer, findTrunk } from './trunk.ts';

export const FRONT_END_PRODUCT = 'RTC/5.0';

/** What the Front End decided for one call, and each trunk attempt (for the call list and the log). */
export type RoutingEvent =
  | { kind: 'user'; callId: string; user: string; number: string | null }
  | { kind: 'attempt'; callId: string; trunk: string; route: string; usage: string; number: string }
  | { kind: 'failover'; callId: string; trunk: string; outcome: string; diagnostic: MsDiagnostic }
  | { kind: 'failed'; callId: string; status: number; diagnostic: MsDiagnostic };

export interface FrontEndContext {
  topology: Topology;
  isTrunkDown(trunk: string): boolean;
  onRouting?(event: RoutingEvent): void;
  log?(level: 'info' | 'warn' | 'error', text: string): void;
}

interface Registration {
  user: LyncUser;
  contact: string;
  dest: Destination;
  expiresAt: number;
}

/** One INVITE being routed (serial forking over the candidates). */
interface RoutedInvite {
  request: SipMessage;
  tx: ServerTransaction;
  candidates: OutboundCandidate[];
  index: number;
  current: ClientTransaction | null;
  cancelled: boolean;
  failedOver: number;
  lastFailure: SipMessage | null;
}

export class FrontEnd {
  readonly stack: SipStack;
  readonly ctx: FrontEndContext;
  readonly roundRobin = new RoundRobin();
  readonly registrations = new Map<string, Registration>();
  readonly #routing = new Map<ServerTransaction, RoutedInvite>();

  constructor(stack: SipStack, ctx: FrontEndContext) {
    this.stack = stack;
    this.ctx = ctx;
    const layer = stack.layer;
    layer.onRequest((req, tx) => this.#onRequest(req, tx));
    // Every ACK reaching a proxy is the ACK of a 2xx (the non-2xx ones are absorbed by the server transaction): forward it.
    layer.onAck((ack, flow) => this.#forwardStateless(ack, flow));
    layer.onCancel((_cancel, tx) => this.#onCancel(tx));
    layer.onStrayResponse((res) => this.#forwardStrayResponse(res));
  }

  get topology(): Topology {
    return this.ctx.topology;
  }

  get source(): string {
    return this.topology.frontEnd.fqdn;
  }

  identity(transport: TransportProtocol): ProxyIdentity {
    return { transport, sentBy: this.stack.transport.sentBy(transport) };
  }

  isRegistered(user: string): boolean {
    const r = this.registrations.get(user);
    return r !== undefined && r.expiresAt > Date.now();
  }

  #diag(diagnostic: MsDiagnostic, extra: Record<string, string> = {}): { name: string; value: string } {
    return { name: 'ms-diagnostics', value: formatMsDiagnostics(diagnostic, this.source, diagnostic.appName ? { appName: diagnostic.appName, ...extra } : extra) };
  }

  #reply(tx: ServerTransaction, status: number, reason?: string, headers: Array<{ name: string; value: string }> = []): void {
    // A final response went already (the transaction then holds no request to answer).
    if (tx.lastStatus >= 200) return;
    const res = tx.createResponse(status, reason);
    for (const h of headers) res.append(h.name, h.value);
    res.append('Server', FRONT_END_PRODUCT);
    tx.respond(res);
  }

  // ------------------------------------------------------------ requests

  #onRequest(req: SipMessage, tx: ServerTransaction): void {
    // §16.3: loop detection (optional) hashes the request; an in-dialog request follows its route set and cannot loop,
    // so it gets the Max-Forwards check only.
    const check: ProxyCheck =
      req.toTag === null
        ? validateForProxy(req, this.identity(tx.flow.transport))
        : req.maxForwards === 0 && req.method !== 'OPTIONS'
          ? { ok: false, status: 483, reason: 'Too Many Hops' }
          : { ok: true };
    if (!check.ok) {
      this.#reply(tx, check.status, check.reason);
      return;
    }
    if (req.toTag !== null || this.#hasForeignRoute(req)) {
      this.#forwardInDialog(req, tx);
      return;
    }
    switch (req.method) {
      case 'REGISTER':
        this.#register(req, tx);
        return;
      case 'OPTIONS':
        this.#reply(tx, 200, 'OK', [{ name: 'Allow', value: 'INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, PRACK, UPDATE' }]);
        return;
      case 'INVITE':
        this.#routeInvite(req, tx);
        return;
      case 'BYE':
      case 'INFO':
      case 'NOTIFY':
      case 'REFER':
      case 'UPDATE':
      case 'PRACK':
        this.#reply(tx, 481, 'Call/Transaction Does Not Exist');
        return;
      default:
        this.#reply(tx, 405, 'Method Not Allowed');
    }
  }

  /** RFC 3261 §10.3, reduced: one binding per user (the last REGISTER wins), Expires honoured. */
  #register(req: SipMessage, tx: ServerTransaction): void {
    const user = findUserBySipUri(this.topology, req.to?.uriText ?? '');
    if (user === null) {
      this.#reply(tx, 404, 'Not Found', [this.#diag(USER_SERVICES.userNotFound)]);
      return;
    }
    const contact = req.contacts[0];
    const expires = Number(req.get('expires') ?? '3600');
    if (contact === undefined) {
      this.#reply(tx, 200, 'OK');
      return;
    }
    const flow = tx.flow;
    const fallback: Destination = { transport: flow.transport, host: flow.remote.host, port: flow.remote.port, connId: flow.connId };
    if (expires === 0) this.registrations.delete(user.name);
    else {
      this.registrations.set(user.name, {
        user,
        contact: contact.uriText,
        dest: uriDestination(contact.uriText, fallback),
        expiresAt: Date.now() + expires * 1000,
      });
    }
    const res = tx.createResponse(200, 'OK');
    if (expires > 0) res.append('Contact', `<${contact.uriText}>;expires=${expires}`);
    res.append('Expires', String(expires));
    res.append('Server', FRONT_END_PRODUCT);
    tx.respond(res);
  }

  #routeInvite(req: SipMessage, tx: ServerTransaction): void {
    const flow = tx.flow;
    const topology = this.topology;
    const fromMediation = topology.mediationServers.find((ms) => ms.address === flow.remote.host) ?? null;
    const callee = findUserBySipUri(topology, req.requestUri);
    const isPhone = /;user=phone/i.test(req.requestUri) || callee === null;
    if (callee !== null && !isPhone) {
      this.#toUser(req, tx, callee, null);
      return;
    }
    let plan: DialPlan;
    let caller: LyncUser | null = null;
    const referrer = fromMediation === null ? null : this.#referringUser(req);
    if (referrer !== null) {
      // A transfer the Mediation Server carries out for a Lync user (EnableReferSupport off): routed as that
      // user's call, with the user's dial plan and voice policy *(unverified)*.
      caller = referrer;
      plan = dialPlanForUser(topology, referrer);
    } else if (fromMediation !== null) {
      const trunk = findTrunk(topology, trunkingParam(req.get('ms-trunking-peer')) ?? '');
      const peer = trunk === null ? null : findPeer(topology, trunk.peer);
      plan = peer === null ? dialPlanForGateway(topology, '') : dialPlanForGateway(topology, peer);
    } else {
      caller = findUserBySipUri(topology, req.from?.uriText ?? '');
      if (caller === null) {
        this.#reply(tx, 403, 'Forbidden', [this.#diag(USER_SERVICES.userNotFound)]);
        return;
      }
      plan = dialPlanForUser(topology, caller);
    }
    const normalized = normalize(dialString(req.requestUri), plan);
    if (normalized.isE164) {
      const lookup = reverseNumberLookup(topology, normalized.number);
      if (lookup.kind === 'user') {
        this.#toUser(req, tx, lookup.user, normalized.number);
        return;
      }
      if (lookup.kind === 'ambiguous') {
        this.#fail(req, tx, 404, 'Not Found', USER_SERVICES.multipleUsersForNumber);
        return;
      }
    }
    if (caller === null) {
      // A call from the PSTN to a number no user has. Lync does not route it back out (no inter-trunk routing in 2013 without a policy).
      this.#fail(req, tx, 404, 'Not Found', INBOUND_ROUTING.noSuitableFinalResponse);
      return;
    }
    const outbound = outboundCandidates(topology, {
      caller,
      number: normalized.number,
      roundRobin: this.roundRobin,
      isTrunkDown: (t) => this.ctx.isTrunkDown(t),
    });
    if (outbound.failure !== null) {
      this.#fail(req, tx, outbound.failure.status, undefined, outbound.failure.diagnostic);
      return;
    }
    const routed: RoutedInvite = {
      request: req,
      tx,
      candidates: outbound.candidates,
      index: -1,
      current: null,
      cancelled: false,
      failedOver: 0,
      lastFailure: null,
    };
    this.#routing.set(tx, routed);
    tx.onTerminated = () => this.#routing.delete(tx);
    this.#nextTrunk(routed, normalized.number);
  }

  /** The Lync user in Referred-By (RFC 3892) of a request, when there is one. */
  #referringUser(req: SipMessage): LyncUser | null {
    const referredBy = req.get('referred-by');
    if (referredBy === undefined) return null;
    const uri = parseNameAddr(referredBy).uriText;
    return uri === '' ? null : findUserBySipUri(this.topology, uri);
  }

  #fail(req: SipMessage, tx: ServerTransaction, status: number, reason: string | undefined, diagnostic: MsDiagnostic): void {
    this.ctx.onRouting?.({ kind: 'failed', callId: req.callId, status, diagnostic });
    this.#reply(tx, status, reason, [this.#diag(diagnostic)]);
  }

  #toUser(req: SipMessage, tx: ServerTransaction, user: LyncUser, number: string | null): void {
    const reg = this.registrations.get(user.name);
    if (reg === undefined || reg.expiresAt <= Date.now()) {
      this.#fail(req, tx, 480, 'Temporarily Unavailable', INBOUND_ROUTING.proxiedToEndpoints);
      return;
    }
    this.ctx.onRouting?.({ kind: 'user', callId: req.callId, user: user.name, number });
    const headers: Array<{ name: string; value: string }> = [];
    const caller = findUserBySipUri(this.topology, req.from?.uriText ?? '');
    if (caller?.lineUri) headers.push({ name: 'P-Asserted-Identity', value: `<${caller.sipUri}>, <${caller.lineUri.uri}>` });
    const routed: RoutedInvite = { request: req, tx, candidates: [], index: 0, current: null, cancelled: false, failedOver: 0, lastFailure: null };
    this.#routing.set(tx, routed);
    tx.onTerminated = () => this.#routing.delete(tx);
    routed.current = this.#forwardInvite(routed, reg.contact, reg.dest, headers, {
      onFinal: (res) => this.#relay(tx, res),
      onFailure: () => this.#fail(req, tx, 480, 'Temporarily Unavailable', INBOUND_ROUTING.proxiedToEndpoints),
    });
  }

  #nextTrunk(routed: RoutedInvite, number: string): void {
    const { request: req, tx } = routed;
    routed.index += 1;
    if (routed.cancelled) {
      this.#reply(tx, 487, 'Request Terminated');
      return;
    }
    const candidate = routed.candidates[routed.index];
    if (candidate === undefined) {
      const diagnostic = OUTBOUND_ROUTING.noAvailableGateway;
      this.ctx.onRouting?.({ kind: 'failed', callId: req.callId, status: 503, diagnostic });
      const last = routed.lastFailure;
      if (last !== null && last.status >= 500) {
        // The last trunk's answer, with the Mediation Server's diagnostics, and the Front End's own.
        const out = forwardResponse(last);
        out.append('ms-diagnostics', this.#diag(diagnostic).value);
        tx.respond(out);
      } else this.#reply(tx, 503, 'Service Unavailable', [this.#diag(diagnostic)]);
      return;
    }
    const { trunk, route, usage } = candidate;
    this.ctx.onRouting?.({ kind: 'attempt', callId: req.callId, trunk: trunk.name, route: route.name, usage, number });
    const failover = (outcome: string): void => {
      routed.failedOver += 1;
      this.ctx.onRouting?.({ kind: 'failover', callId: req.callId, trunk: trunk.name, outcome, diagnostic: OUTBOUND_ROUTING.tryingNextHop });
      this.#nextTrunk(routed, number);
    };
    if (this.ctx.isTrunkDown(trunk.name)) {
      failover('trunk marked down');
      return;
    }
    const ms = findMediationServer(this.topology, trunk.mediationServer);
    const peer = findPeer(this.topology, trunk.peer);
    if (ms === null || peer === null) {
      failover('trunk without Mediation Server or peer');
      return;
    }
    const target = `sip:${number}@${peer.fqdn};user=phone`;
    const dest: Destination = { transport: ms.frontEndTransport, host: ms.address, port: ms.frontEndPort };
    const caller = findUserBySipUri(this.topology, req.from?.uriText ?? '');
    const headers = [{ name: 'ms-trunking-peer', value: `${peer.fqdn};trunk="${trunk.name}"` }];
    if (caller?.lineUri) headers.push({ name: 'P-Asserted-Identity', value: `<${caller.sipUri}>, <${caller.lineUri.uri}>` });
    routed.current = this.#forwardInvite(routed, target, dest, headers, {
      onFinal: (res) => {
        if (res.status >= 300 && res.status !== 487 && !routed.cancelled && failsOver({ kind: 'response', status: res.status })) {
          routed.lastFailure = res;
          failover(`${res.status} ${res.reason}`);
          return;
        }
        this.#relay(tx, res);
      },
      onFailure: (why) => {
        if (routed.cancelled) this.#reply(tx, 487, 'Request Terminated');
        else failover(why);
      },
    });
  }

  /** Sends the proxied INVITE on one branch; provisional and 2xx responses go upstream. */
  #forwardInvite(
    routed: RoutedInvite,
    requestUri: string,
    dest: Destination,
    headers: Array<{ name: string; value: string }>,
    on: { onFinal(res: SipMessage): void; onFailure(why: string): void },
  ): ClientTransaction {
    const { request: req, tx } = routed;
    const inbound = tx.flow.transport;
    const out = forwardRequest(req, tx.flow, this.identity(dest.transport), { requestUri });
    if (inbound !== dest.transport) out.prepend('Record-Route', recordRouteValue(this.identity(inbound)));
    out.prepend('Record-Route', recordRouteValue(this.identity(dest.transport)));
    out.remove('P-Asserted-Identity');
    for (const h of headers) out.append(h.name, h.value);
    return this.stack.layer.sendRequest(out, dest, {
      onProvisional: (res) => {
        if (res.status > 100) tx.respond(forwardResponse(res));
      },
      onFinal: (res) => on.onFinal(res),
      onAdditional2xx: (res) => tx.respond(forwardResponse(res)),
      onTimeout: () => on.onFailure('timeout'),
      onTransportError: (err) => on.onFailure(`transport error ${(err as { code?: string }).code ?? String(err)}`),
    });
  }

  #relay(tx: ServerTransaction, res: SipMessage): void {
    tx.respond(forwardResponse(res));
  }

  #onCancel(tx: ServerTransaction): void {
    const routed = this.#routing.get(tx);
    if (routed === undefined) {
      tx.reply(487, 'Request Terminated');
      return;
    }
    routed.cancelled = true;
    // §16.10: CANCEL the pending branch; its 487 travels upstream. Without one, answer 487 now.
    if (routed.current === null || !routed.current.cancel()) {
      if (routed.current === null || routed.current.finalResponse !== null) this.#reply(tx, 487, 'Request Terminated');
    }
  }

  // ------------------------------------------------------------ in-dialog

  /** Route values are few (our own Record-Routes, mostly): the answer is kept per value. */
  readonly #ownRoute = new Map<string, boolean>();

  #isOwnRoute(value: string): boolean {
    let own = this.#ownRoute.get(value);
    if (own === undefined) {
      const uri = parseNameAddr(value).uri;
      const host = uri ? bareHost(uri.host) : '';
      own = uri !== null && uri !== undefined && this.stack.transport.listening.some((p) => p.host === host && p.port === (uri.port ?? 5060));
      if (this.#ownRoute.size >= 256) this.#ownRoute.clear();
      this.#ownRoute.set(value, own);
    }
    return own;
  }

  #hasForeignRoute(req: SipMessage): boolean {
    const routes = req.getAll('route').flatMap((v) => parseNameAddrList(v));
    return routes.length > 0 && routes.some((r) => !this.#isOwnRoute(`<${r.uriText}>`));
  }

  /** The forwarded copy and where it goes: own Routes removed, next Route or the Request-URI. */
  #inDialogCopy(req: SipMessage, flow: Flow): { out: OutgoingMessage; dest: Destination } {
    const routes = req.getAll('route').flatMap((v) => parseNameAddrList(v)).map((na) => `<${na.uriText}>`);
    while (routes.length > 0 && this.#isOwnRoute(routes[0])) routes.shift();
    const next = routes[0] ?? req.requestUri;
    const fallback: Destination = { transport: flow.transport, host: flow.remote.host, port: flow.remote.port };
    const dest = uriDestination(next, fallback);
    const out = forwardRequest(req, flow, this.identity(dest.transport));
    out.remove('Route');
    if (routes.length > 0) out.prepend('Route', routes.join(', '));
    return { out, dest };
  }

  #forwardInDialog(req: SipMessage, tx: ServerTransaction): void {
    const { out, dest } = this.#inDialogCopy(req, tx.flow);
    this.stack.layer.sendRequest(out, dest, {
      onProvisional: (res) => {
        if (res.status > 100) tx.respond(forwardResponse(res));
      },
      onFinal: (res) => tx.respond(forwardResponse(res)),
      onAdditional2xx: (res) => tx.respond(forwardResponse(res)),
      onTimeout: () => this.#reply(tx, 408, 'Request Timeout'),
      onTransportError: () => this.#reply(tx, 503, 'Service Unavailable'),
    });
  }

  /** ACK for a 2xx: no transaction, forwarded as is (§16.11). */
  #forwardStateless(ack: SipMessage, flow: Flow): void {
    const { out, dest } = this.#inDialogCopy(ack, flow);
    void this.stack.transport.send(out.toBytes(), dest).catch(() => undefined);
  }

  /** A 2xx retransmission whose client transaction is gone: to the next Via (§16.11). */
  #forwardStrayResponse(res: SipMessage): void {
    const vias = res.vias;
    const own = vias[0];
    const next = vias[1];
    if (own === undefined || next === undefined) return;
    if (!this.stack.transport.listening.some((p) => p.host === bareHost(own.host))) return;
    const param = (name: string): string | null => next.params.find((p) => p.name.toLowerCase() === name)?.value ?? null;
    const host: HostPort = { host: param('received') ?? bareHost(next.host), port: Number(param('rport') ?? next.port ?? 5060) };
    const transport = next.transport.toLowerCase() as TransportProtocol;
    void this.stack.transport.send(forwardResponse(res).toBytes(), { transport, host: host.host, port: host.port }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.stack.close();
  }
}

/** The `trunk` parameter of `ms-trunking-peer`. */
export function trunkingParam(value: string | undefined): string | null {
  if (value === undefined) return null;
  return /;\s*trunk="?([^";]+)"?/i.exec(value)?.[1] ?? null;
}


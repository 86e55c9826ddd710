/**
 * A stateful proxy's message handling (RFC 3261 §16): request validation
 * (Max-Forwards, loops), Route processing, the forwarded copy (Request-URI,
 * Max-Forwards, Record-Route, Via with a loop-detecting branch, received/rport
 * on the previous hop's Via) and the response going back (top Via removed).
 * The transaction layer carries the copies; CANCEL is forwarded by cancelling
 * every client transaction of the forwarded INVITE (§16.10).
 */
import { createHash } from 'node:crypto';
import type { HostPort, TransportProtocol } from './capture.ts';
import { OutgoingMessage } from './builder.ts';
import { splitCommaList } from './grammar.ts';
import type { SipMessage } from './message.ts';
import { parseNameAddr } from './name-addr.ts';
import type { Flow } from './transport-types.ts';
import { bareHost } from './uri.ts';
import { formatVia, MAGIC_COOKIE } from './via.ts';

export interface ProxyIdentity {
  transport: TransportProtocol;
  sentBy: HostPort;
}

export type ProxyCheck = { ok: true } | { ok: false; status: number; reason: string };

/**
 * §16.3 request validation: Max-Forwards (483) and loop detection (482):
 * a Via of ours whose branch carries the same request hash means the request
 * came back unchanged.
 */
export function validateForProxy(req: SipMessage, self: ProxyIdentity): ProxyCheck {
  const mf = req.maxForwards;
  if (mf === 0 && req.method !== 'OPTIONS') return { ok: false, status: 483, reason: 'Too Many Hops' };
  const hash = loopHash(req);
  const ownHost = self.sentBy.host;
  for (const via of req.vias) {
    if (bareHost(via.host) === ownHost && (via.port ?? 5060) === self.sentBy.port && via.branch?.startsWith(`${MAGIC_COOKIE}${hash}`)) {
      return { ok: false, status: 482, reason: 'Loop Detected' };
    }
  }
  return { ok: true };
}

/** §16.6 item 8: a branch whose first part is a hash of what identifies the request (for loop detection). */
export function loopHash(req: SipMessage): string {
  // The top Via is left out: on a loop it is our own, so including it would hide the loop.
  const h = createHash('sha1');
  h.update(req.requestUri);
  h.update('\u0000');
  h.update(req.fromTag ?? '');
  h.update('\u0000');
  h.update(req.toTag ?? '');
  h.update('\u0000');
  h.update(req.callId);
  h.update('\u0000');
  h.update(String(req.cseq?.seq ?? ''));
  h.update('\u0000');
  h.update(req.get('proxy-require') ?? '');
  return h.digest('hex').slice(0, 12);
}

let branchCounter = 0;

export interface ForwardOptions {
  /** New Request-URI (after location lookup), or keep the received one. */
  requestUri?: string;
  /** Insert a Record-Route for this proxy (`<sip:host:port;transport=tcp;lr>`). */
  recordRoute?: boolean;
}

/**
 * §16.4 Route processing: when the top Route names this proxy it is removed.
 * Returns the URI of the Route that remains on top (the next hop), if any.
 */
export function popOwnRoute(out: OutgoingMessage, self: ProxyIdentity): void {
  const top = out.get('route');
  if (top === undefined) return;
  const first = parseNameAddr(splitCommaList(top)[0]).uri;
  if (first && bareHost(first.host) === self.sentBy.host && (first.port ?? 5060) === self.sentBy.port) {
    const values = out.getAll('route');
    const rest = splitCommaList(values[0]).slice(1).filter((s) => s.length > 0);
    out.removeFirst('Route');
    if (rest.length > 0) out.prepend('Route', rest.join(', '));
  }
}

/**
 * §16.6: the copy of a request to forward. Adds received/rport to the top Via
 * as the transport saw it (§18.2.1, RFC 3581), decrements Max-Forwards (or
 * sets 70), optionally inserts Record-Route, and pushes our Via with a branch
 * built from the loop hash.
 */
export function forwardRequest(req: SipMessage, flow: Flow, self: ProxyIdentity, options: ForwardOptions = {}): OutgoingMessage {
  const out = OutgoingMessage.from(req);
  if (options.requestUri) out.requestUri = options.requestUri;
  // received / rport on the Via of the previous hop.
  const top = req.topVia;
  if (top) {
    const params = top.params.map((p) => ({ ...p }));
    if (bareHost(top.host) !== flow.remote.host && !params.some((p) => p.name.toLowerCase() === 'received')) {
      params.push({ name: 'received', value: flow.remote.host });
    }
    const rp = params.find((p) => p.name.toLowerCase() === 'rport');
    if (rp && (rp.value === null || rp.value === '')) {
      rp.value = String(flow.remote.port);
      if (!params.some((p) => p.name.toLowerCase() === 'received')) params.push({ name: 'received', value: flow.remote.host });
    }
    const vias = out.getAll('via');
    const rest = splitCommaList(vias[0]).slice(1);
    out.removeFirst('Via');
    out.prepend('Via', [formatVia({ transport: top.transport, host: top.host, port: top.port, params }), ...rest.map((s) => s.trim())].join(', '));
  }
  const mf = req.maxForwards;
  out.set('Max-Forwards', String(mf === null ? 70 : Math.max(0, mf - 1)));
  popOwnRoute(out, self);
  if (options.recordRoute) out.prepend('Record-Route', recordRouteValue(self));
  branchCounter = (branchCounter + 1) >>> 0;
  const host = self.sentBy.host.includes(':') ? `[${self.sentBy.host}]` : self.sentBy.host;
  out.prepend('Via', `SIP/2.0/${self.transport.toUpperCase()} ${host}:${self.sentBy.port};branch=${MAGIC_COOKIE}${loopHash(req)}.${branchCounter.toString(36)};rport`);
  return out;
}

export function recordRouteValue(self: ProxyIdentity): string {
  const host = self.sentBy.host.includes(':') ? `[${self.sentBy.host}]` : self.sentBy.host;
  const transport = self.transport === 'udp' ? '' : `;transport=${self.transport}`;
  return `<sip:${host}:${self.sentBy.port}${transport};lr>`;
}

/** §16.7 item 3: the response to pass upstream, with our Via removed. */
export function forwardResponse(res: SipMessage): OutgoingMessage {
  const out = OutgoingMessage.from(res);
  const vias = out.getAll('via');
  const rest = splitCommaList(vias[0] ?? '').slice(1).filter((s) => s.length > 0);
  out.removeFirst('Via');
  if (rest.length > 0) out.prepend('Via', rest.join(', '));
  return out;
}

/** Whether a branch was produced by this module for this request (used in tests and the linter). */
export function isOwnBranch(branch: string | null, req: SipMessage): boolean {
  return branch !== null && branch.startsWith(`${MAGIC_COOKIE}${loopHash(req)}.`);
}


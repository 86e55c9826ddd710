/**
 * Where a server sends a response, and what it records in the top Via of a
 * request it receives:
 *
 * - RFC 3261 §18.2.1: the server transport adds `received` (the packet's
 *   source IP) when the sent-by host differs from it (a domain name always
 *   does);
 * - RFC 3581 §4: with `rport` in the top Via, the server fills it with the
 *   source port, and adds `received` even when it equals sent-by;
 * - RFC 3261 §18.2.2 (+ RFC 3581 §4): reliable transport: the connection the
 *   request came on, else a new connection to the received address (the
 *   source IP) and the sent-by port; unreliable: `maddr` with the sent-by
 *   port, else the source IP with the source port when rport was asked for,
 *   else the sent-by port. Default ports: 5060, 5061 for TLS (RFC 3261
 *   §19.1.2). Ports are taken from the sent-by, never from the transport's
 *   own guess.
 *
 * Via `received` carries an IPv6 address without brackets (RFC 3261 §25.1
 * `via-received`, RFC 5118 §4.5); `maddr` may have them.
 */
import type { OutgoingMessage } from './builder.ts';
import type { HostPort, TransportProtocol } from './capture.ts';
import { findQuoteEnd } from './grammar.ts';
import { headerKey } from './header-names.ts';
import type { SipMessage } from './message.ts';
import { normalizeIp, sameHost } from './transport-address.ts';
import type { Destination, Flow } from './transport-types.ts';

/** A response destination; `local` names the listening point the request came in on (send from it). */
export interface ResponseDestination extends Destination {
  local: HostPort;
}

/** RFC 3261 §19.1.2: 5060 for UDP/TCP, 5061 for TLS. */
export function defaultPort(transport: TransportProtocol): number {
  return transport === 'tls' ? 5061 : 5060;
}

function isReliable(transport: TransportProtocol): boolean {
  return transport === 'tcp' || transport === 'tls';
}

function bare(host: string): string {
  return host.length > 1 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Where to send a response to `request`, received on `flow` (RFC 3261
 * §18.2.2, RFC 3581 §4). Without a usable top Via, the response goes back to
 * where the request came from.
 */
export function responseDestination(request: SipMessage, flow: Flow): ResponseDestination {
  const via = request.topVia;
  const transport = flow.transport;
  const source = flow.remote;
  const sentByPort = via && via.port !== null && via.port > 0 && via.port <= 65535 ? via.port : null;
  if (isReliable(transport)) {
    // The open connection; if it is gone, a new one to the source IP (what `received` would say) and the sent-by port.
    return { transport, host: source.host, port: sentByPort ?? defaultPort(transport), connId: flow.connId, local: flow.local };
  }
  if (!via || via.host.length === 0) {
    return { transport, host: source.host, port: source.port, connId: null, local: flow.local };
  }
  if (via.maddr !== null && via.maddr.length > 0) {
    // ttl is for multicast only, ignored here; a domain-name maddr is returned as is (resolve it per RFC 3263 §6).
    return { transport, host: bare(via.maddr), port: sentByPort ?? defaultPort(transport), connId: null, local: flow.local };
  }
  if (via.rport !== undefined) {
    // RFC 3581 §4: received + rport, i.e. the packet's source address and port.
    return { transport, host: source.host, port: source.port, connId: null, local: flow.local };
  }
  return { transport, host: source.host, port: sentByPort ?? defaultPort(transport), connId: null, local: flow.local };
}

export interface ViaReceivedParams {
  /** Value for `received` (IPv6 without brackets), or null when none is to be added. */
  received: string | null;
  /** Value to fill `rport` with (the source port), or null when the top Via has no rport. */
  rport: number | null;
}

/**
 * The `received`/`rport` values a server adds to the top Via of `request`
 * received on `flow` (RFC 3261 §18.2.1, RFC 3581 §4). A request without a
 * top Via gets nothing.
 */
export function viaReceivedParams(request: SipMessage, flow: Flow): ViaReceivedParams {
  const via = request.topVia;
  if (!via) return { received: null, rport: null };
  const source = normalizeIp(flow.remote.host)?.host ?? flow.remote.host;
  const rportAsked = via.rport !== undefined;
  const differs = via.host.length === 0 || !sameHost(via.host, source);
  return { received: differs || rportAsked ? source : null, rport: rportAsked ? flow.remote.port : null };
}

/** Index of the first comma outside quotes and angle brackets, or -1. */
function firstListComma(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = findQuoteEnd(text, i);
      if (end < 0) return -1;
      i = end;
    } else if (c === 0x3c) depth++;
    else if (c === 0x3e) depth = Math.max(0, depth - 1);
    else if (c === 0x2c && depth === 0) return i;
  }
  return -1;
}

const RPORT_RE = /;[ \t]*rport(?:[ \t]*=[ \t]*[^;,\s]*)?(?=[ \t]*(?:;|$))/i;
const RECEIVED_RE = /;[ \t]*received[ \t]*=[ \t]*(?:\[[^\]]*\]|[^;,\s]*)(?=[ \t]*(?:;|$))/i;

/**
 * One Via value (`SIP/2.0/UDP host:port;branch=...`) with `received` and
 * `rport` set: an existing parameter is rewritten in place, a missing
 * `received` is appended; everything else is kept byte for byte.
 */
export function stampVia(viaValue: string, params: ViaReceivedParams): string {
  let v = viaValue;
  if (params.rport !== null) {
    if (RPORT_RE.test(v)) v = v.replace(RPORT_RE, `;rport=${params.rport}`);
    else v = `${v};rport=${params.rport}`;
  }
  if (params.received !== null) {
    if (RECEIVED_RE.test(v)) v = v.replace(RECEIVED_RE, `;received=${params.received}`);
    else v = `${v};received=${params.received}`;
  }
  return v;
}

/**
 * Applies `params` to the top Via of an outgoing response (built with
 * `responseTo`, which copies the request's Via lines): the first element of
 * the first Via line is stamped, the rest of the line is left as it was.
 */
export function stampTopVia(response: OutgoingMessage, params: ViaReceivedParams): void {
  if (params.received === null && params.rport === null) return;
  for (const h of response.headers) {
    if (headerKey(h.name) !== 'via') continue;
    const comma = firstListComma(h.value);
    if (comma < 0) h.value = stampVia(h.value, params);
    else {
      const head = h.value.slice(0, comma);
      const trimmed = head.replace(/[ \t]+$/, '');
      h.value = stampVia(trimmed, params) + head.slice(trimmed.length) + h.value.slice(comma);
    }
    return;
  }
}

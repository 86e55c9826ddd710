/**
 * The `ms-diagnostics` header Lync adds to failure responses:
 * `ms-diagnostics: <id>;reason="<text>";source="<server FQDN>"[;name="value"]...`.
 *
 * Id ranges (Microsoft's Ms-Diagnostics header reference): 10000-10999
 * Mediation Server, 12000-12999 outbound routing, 13000-13999 inbound
 * routing, 4000-4999 user services (Front End).
 *
 * Ids and reasons marked `documented` come from [MS-OCER] (Client Error
 * Reporting Protocol, §§ 8.x "VoIP outbound routing", "VoIP inbound routing",
 * "front-end server"); the trailing period of the table's reason is dropped
 * as in the header. [MS-OCER] publishes no table for the Mediation Server
 * range: the 10000-range entries here are *invented* (ids and texts) to
 * mark where a real Mediation Server fails a call, and say so.
 */

export interface MsDiagnostic {
  id: number;
  reason: string;
  /** `documented`: from [MS-OCER]; `invented`: the harness's own, no public source. */
  origin: 'documented' | 'invented';
  /** Lync's `appName` attribute for routing diagnostics *(field)*, when it has one. */
  appName?: string;
}

const documented = (id: number, reason: string, appName?: string): MsDiagnostic =>
  Object.freeze({ id, reason, origin: 'documented', ...(appName === undefined ? {} : { appName }) });
const invented = (id: number, reason: string): MsDiagnostic => Object.freeze({ id, reason, origin: 'invented' });

/** Outbound routing, 12000-12999 ([MS-OCER] "VoIP outbound routing"). */
export const OUTBOUND_ROUTING = Object.freeze({
  /** A route matched but every trunk is down or failed. */
  noAvailableGateway: documented(
    12000,
    'Routes available for this request but no available gateway at this point',
    'OutboundRouting',
  ),
  /** The caller's voice policy has no PSTN usage. */
  noPhoneUsage: documented(12001, 'User Policy does not contain phone route usage', 'OutboundRouting'),
  /** The dialed number could not be normalized to something routable. */
  invalidNumber: documented(12002, 'Phone number not valid or too large', 'OutboundRouting'),
  /** No route of the caller's usages matches the number. */
  noRouteFound: documented(12004, 'No route found', 'OutboundRouting'),
  /** Sent while failing over: the current trunk failed, the next one is tried. */
  tryingNextHop: documented(12006, 'Trying next hop', 'OutboundRouting'),
});

/** Inbound routing, 13000-13999 ([MS-OCER] "VoIP inbound routing"). */
export const INBOUND_ROUTING = Object.freeze({
  callToSelfLoop: documented(13000, 'Call to self loop', 'InboundRouting'),
  noSuitableFinalResponse: documented(
    13001,
    'The routing rules did not result in a suitable final response',
    'InboundRouting',
  ),
  noFinalResponse: documented(13002, 'The routing rules did not result in a final response', 'InboundRouting'),
  /** The user's endpoints were tried and none answered (e.g. all busy or not registered). */
  proxiedToEndpoints: documented(13004, 'Request was proxied to one or more registered endpoints', 'InboundRouting'),
});

/** Front End user services, 4000-4999 ([MS-OCER] "front-end server"). */
export const USER_SERVICES = Object.freeze({
  /** Reverse number lookup found no user and the number is not routable. */
  userNotFound: documented(4005, 'Destination URI either not enabled for SIP or does not exist'),
  /** Reverse number lookup found several users (an ambiguous Line URI). */
  multipleUsersForNumber: documented(4009, 'Multiple users associated with the destination phone number'),
});

/** Mediation Server, 10000-10999. All invented: [MS-OCER] publishes no Mediation table. */
export const MEDIATION = Object.freeze({
  /** The peer sent a final error; the (translated) code is forwarded. */
  gatewayFailureResponse: invented(10001, 'Gateway returned a SIP failure response'),
  /** EnableFastFailoverTimer: no provisional response within the timeout. */
  fastFailoverTimeout: invented(10002, 'Gateway did not respond in time (fast failover timer)'),
  /** The INVITE transaction to the peer timed out (Timer B). */
  gatewayTimeout: invented(10003, 'Gateway did not respond (transaction timeout)'),
  /** The trunk's peer is marked down by the OPTIONS keep-alives. */
  gatewayDown: invented(10004, 'Gateway is marked down'),
  /** A request from an address that no trunk of this Mediation Server names. */
  unknownPeer: invented(10005, 'Request from a peer that is not configured as a trunk of this Mediation Server'),
  /** The peer sent REFER; Lync never accepts REFER from the gateway side. */
  referFromPeerRejected: invented(10006, 'REFER from the gateway side is not supported'),
  /** More forked early dialogs than MaxEarlyDialogs. */
  tooManyEarlyDialogs: invented(10007, 'Too many early dialogs (MaxEarlyDialogs)'),
  /** No common codec or SRTP mode with the peer. */
  mediaNegotiationFailed: invented(10008, 'Media negotiation with the gateway failed'),
  /** No RTCP for rtcpTimeoutMs (RTCPActiveCalls / RTCPCallsOnHold). */
  rtcpTimeout: invented(10009, 'Call dropped: no RTCP received'),
  /** The peer answered a hold re-INVITE with sendrecv (domain doc: the call is dropped). */
  holdAnswerMismatch: invented(10010, 'Call dropped: the gateway did not accept hold'),
});

function quote(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * The header value: `12004;reason="No route found";source="fe.contoso.com"`,
 * then the extra attributes in order (e.g. `appName`, `PhoneUri`).
 */
export function formatMsDiagnostics(
  diagnostic: Pick<MsDiagnostic, 'id' | 'reason'>,
  source: string,
  extra: Readonly<Record<string, string>> = {},
): string {
  const attributes = Object.entries(extra).map(([name, value]) => `;${name}=${quote(value)}`);
  return `${diagnostic.id};reason=${quote(diagnostic.reason)};source=${quote(source)}${attributes.join('')}`;
}

export interface ParsedMsDiagnostics {
  id: number;
  /** Sub-code after a dot (`12004.2`), or null. */
  subCode: number | null;
  reason: string | null;
  source: string | null;
  /** Every attribute, `reason` and `source` included. */
  attributes: Record<string, string>;
}

/** Parses a header value; null when it does not start with an id. */
export function parseMsDiagnostics(value: string): ParsedMsDiagnostics | null {
  const head = /^\s*(\d+)(?:\.(\d+))?\s*/.exec(value);
  if (head === null) return null;
  const attributes: Record<string, string> = {};
  const pattern = /;\s*([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const match of value.slice(head[0].length).matchAll(pattern)) {
    attributes[match[1]] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3].trim();
  }
  return {
    id: Number(head[1]),
    subCode: head[2] === undefined ? null : Number(head[2]),
    reason: attributes.reason ?? null,
    source: attributes.source ?? null,
    attributes,
  };
}

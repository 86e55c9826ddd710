/**
 * The topology of an emulated Lync Server 2013 direct SIP deployment: the
 * Front End pool and its users, dial plans, voice policies, PSTN usages and
 * routes, the Mediation pools, the peers (PSTN gateways, IP-PBXs, ITSP SBCs)
 * with the PSTN numbers behind them, and the trunks joining Mediation Servers
 * to peers (M:N).
 *
 * Two shapes live here:
 * - `TopologyInput` and friends: the JSON file as written (most properties
 *   optional, see `topology.schema.json` for editors);
 * - `Topology` and friends: the resolved model the roles use, with every
 *   default applied, every name checked, and plain data only (no RegExp,
 *   no class instances) so it can cross to the renderer as JSON.
 *
 * `loadTopology(path)` / `parseTopology(json, source)` turn the first into the
 * second or throw a `TopologyError` that lists every problem with its JSON
 * pointer; nothing is started from a topology that has a problem.
 *
 * Ports: any port may be 0, meaning "pick a free one when the element
 * starts". Every reference to the same listener (the same element, side and
 * transport with port 0) shares the one port picked; `bindPorts()` in
 * `listeners.ts` turns the picked ports into a model with no 0 left.
 *
 * Naming: element names are short ids (`fe`, `med-1`, `gw-a`, `pbx`, `sbc`,
 * `alice`), unique across the whole topology, and each element also has a
 * display name (`Mediation-1`, `Gateway-A`) for the ladder columns. JSON keys
 * are camelCase versions of the Lync setting names; enum values Lync defines
 * keep Lync's spelling (`srtpMode: "Required"`), the harness's own enums are
 * kebab-case (`outcome: "no-answer"`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyExternalOverrides, type ExternalOverride } from './apply-external.ts';
import { pointer, type TopologyProblem } from './json-reader.ts';
import { resolveTopology } from './topology-resolver.ts';

export type { TopologyProblem } from './json-reader.ts';

// ---------------------------------------------------------------------------
// Shared vocabulary

/**
 * SIP transport of a listener or trunk. Lync uses TLS (and TCP) towards
 * gateways and MTLS inside the pool; `udp` is a harness extension, for
 * devices under test and SIPp. Same union as `TransportProtocol` in
 * `src/sip/capture.ts`.
 */
export type Transport = 'udp' | 'tcp' | 'tls';
export const TRANSPORTS: readonly Transport[] = ['udp', 'tcp', 'tls'];

/** What kind of device a peer is (Topology Builder's "PSTN gateway", "IP-PBX", "SIP trunk"). */
export type PeerKind = 'gateway' | 'ip-pbx' | 'sbc';
export const PEER_KINDS: readonly PeerKind[] = ['gateway', 'ip-pbx', 'sbc'];

/** Role names used by the CLI (`trunklab serve` prints one line per element). */
export type ElementRole = 'front-end' | 'mediation' | PeerKind | 'lync-user';

/** `Set-CsTrunkConfiguration -SRTPMode`. */
export type SrtpMode = 'Required' | 'Optional' | 'NotSupported';
export const SRTP_MODES: readonly SrtpMode[] = ['Required', 'Optional', 'NotSupported'];

/** What an emulated endpoint (PSTN number or Lync user) does with an incoming INVITE. */
export type CallOutcome = 'answer' | 'busy' | 'no-answer' | 'reject' | 'no-response';
export const CALL_OUTCOMES: readonly CallOutcome[] = ['answer', 'busy', 'no-answer', 'reject', 'no-response'];

/** Early media (RFC 3960): a 183 Session Progress with SDP, without SDP, or none. */
export type EarlyMedia = 'none' | 'with-sdp' | 'without-sdp';
export const EARLY_MEDIA: readonly EarlyMedia[] = ['none', 'with-sdp', 'without-sdp'];

/**
 * How an endpoint answers a hold re-INVITE. Lync holds with `a=inactive`; the
 * proper answer is `inactive` (RFC 3264 §6.1). `sendrecv` is the misbehaving
 * peer that gets the call dropped; `recvonly` answers as if held with
 * `a=sendonly` (music on hold).
 */
export type HoldAnswer = 'inactive' | 'sendrecv' | 'recvonly';
export const HOLD_ANSWERS: readonly HoldAnswer[] = ['inactive', 'sendrecv', 'recvonly'];

/**
 * Calling line identity presentation of an endpoint's own calls (ISUP/Q.931
 * presentation indicator): `restricted` calls anonymously (RFC 3323
 * `Privacy: id`, From `sip:anonymous@anonymous.invalid` at a PSTN peer).
 */
export type CallerPresentation = 'allowed' | 'restricted';
export const CALLER_PRESENTATIONS: readonly CallerPresentation[] = ['allowed', 'restricted'];

/**
 * What stops the 10 s fast failover timer (EnableFastFailoverTimer). The
 * domain doc says "no provisional answer"; field reports say a 100 Trying is
 * not enough and a 180/183 is needed. *(field, unverified)*: configurable.
 */
export type FastFailoverStoppedBy = 'any-provisional' | 'ringing-or-progress';
export const FAST_FAILOVER_STOPPED_BY: readonly FastFailoverStoppedBy[] = ['any-provisional', 'ringing-or-progress'];

/** How a peer picks a Mediation Server for a call towards Lync when its trunks reach several. */
export type MediationSelection = 'dns-round-robin' | 'in-order';
export const MEDIATION_SELECTIONS: readonly MediationSelection[] = ['dns-round-robin', 'in-order'];

/** Which OPTIONS answers count as "alive" for the health state machine. *(unverified)* */
export type HealthyOptionsResponse = '2xx' | 'any';
export const HEALTHY_OPTIONS_RESPONSES: readonly HealthyOptionsResponse[] = ['2xx', 'any'];

// ---------------------------------------------------------------------------
// The file as written (see topology.schema.json; defaults in the resolved types)

export interface TopologyInput {
  $schema?: string;
  /** One line saying what this topology is for. */
  description?: string;
  /** SIP domain of the users (`contoso.com`). Default `contoso.com`. */
  sipDomain?: string;
  /** The Lync site everything is in (one site). Default `Site1`. */
  site?: string;
  frontEnd: FrontEndInput;
  users?: LyncUserInput[];
  dialPlans?: DialPlanInput[];
  voicePolicies?: VoicePolicyInput[];
  /** The global list of PSTN usage records (`Set-CsPstnUsage`). */
  pstnUsages?: string[];
  /** Voice routes in priority order (`New-CsVoiceRoute`). */
  voiceRoutes?: VoiceRouteInput[];
  mediationPools?: MediationPoolInput[];
  peers?: PeerInput[];
  /** Global-scope trunk configuration (`Set-CsTrunkConfiguration -Identity Global`). */
  trunkConfiguration?: TrunkConfigurationInput;
  trunks?: TrunkInput[];
}

export interface FrontEndInput {
  name?: string;
  displayName?: string;
  fqdn?: string;
  address: string;
  tlsPort?: number | null;
  tcpPort?: number | null;
}

export interface LyncUserInput {
  name: string;
  displayName?: string;
  sipUri?: string;
  lineUri?: string | null;
  address: string;
  transport?: 'tcp' | 'tls';
  port?: number;
  voicePolicy?: string | null;
  dialPlan?: string | null;
  registered?: boolean;
  behaviour?: CallBehaviourInput;
}

export interface CallBehaviourInput {
  outcome?: CallOutcome;
  answerAfterMs?: number;
  rejectAfterMs?: number;
  rejectCode?: number;
  rejectReason?: string | null;
  rejectIsupCause?: number | null;
  ringingAfterMs?: number | null;
  earlyMedia?: EarlyMedia;
  earlyMediaAfterMs?: number;
  holdAnswer?: HoldAnswer;
  reliableProvisional?: boolean;
  callerPresentation?: CallerPresentation;
  dtmfPayloadType?: number | null;
  sendDigits?: string | null;
  sendDigitsAfterMs?: number;
  hangUpAfterMs?: number | null;
}

export interface DialPlanInput {
  identity: string;
  description?: string;
  normalizationRules?: NormalizationRuleInput[];
}

export interface NormalizationRuleInput {
  name: string;
  description?: string;
  pattern: string;
  translation: string;
  isInternalExtension?: boolean;
}

export interface VoicePolicyInput {
  identity: string;
  description?: string;
  pstnUsages?: string[];
}

export interface VoiceRouteInput {
  name: string;
  description?: string;
  numberPattern: string;
  pstnUsages?: string[];
  trunks?: string[];
  suppressCallerId?: boolean;
  alternateCallerId?: string | null;
}

export interface MediationPoolInput {
  name: string;
  displayName?: string;
  fqdn?: string;
  servers: MediationServerInput[];
}

export interface MediationServerInput {
  name: string;
  displayName?: string;
  fqdn?: string;
  address: string;
  gatewayAddress?: string;
  frontEndPort?: number;
  frontEndTransport?: 'tcp' | 'tls';
  gatewayPorts?: GatewayPortsInput;
}

export interface GatewayPortsInput {
  udp?: number | null;
  tcp?: number | null;
  tls?: number | null;
}

export interface PeerInput {
  name: string;
  kind: PeerKind;
  displayName?: string;
  fqdn?: string;
  address?: string;
  port?: number;
  transport?: Transport;
  external?: string | null;
  behaviour?: PeerBehaviourInput;
  numbers?: PstnNumberInput[];
}

export interface PeerBehaviourInput {
  userAgent?: string;
  optionsResponse?: number | null;
  optionsIntervalMs?: number | null;
  referResponse?: number;
  mediationSelection?: MediationSelection;
  retryOnOtherMediationServer?: boolean;
  unknownNumber?: CallBehaviourInput;
}

export interface PstnNumberInput {
  number: string;
  displayName?: string;
  description?: string;
  behaviour?: CallBehaviourInput;
}

export interface TrunkInput {
  name: string;
  mediationServer: string;
  mediationPort?: number;
  peer: string;
  peerPort?: number;
  transport?: Transport;
  configuration?: TrunkConfigurationInput;
}

export interface TrunkConfigurationInput {
  enableReferSupport?: boolean;
  enable3pccRefer?: boolean;
  enableSessionTimer?: boolean;
  enableFastFailoverTimer?: boolean;
  maxEarlyDialogs?: number;
  srtpMode?: SrtpMode;
  concentratedTopology?: boolean;
  enableBypass?: boolean;
  rtcpActiveCalls?: boolean;
  rtcpCallsOnHold?: boolean;
  removePlusFromUri?: boolean;
  outboundTranslationRules?: TranslationRuleInput[];
  outboundCallingNumberTranslationRules?: TranslationRuleInput[];
  forwardCallHistory?: boolean;
  forwardPai?: boolean;
  sipResponseCodeTranslationRules?: ResponseCodeTranslationRuleInput[];
  optionsIntervalMs?: number;
  optionsTimeoutMs?: number;
  failuresBeforeDown?: number;
  successesBeforeUp?: number;
  downProbeIntervalMs?: number;
  healthyOptionsResponse?: HealthyOptionsResponse;
  fastFailoverTimeoutMs?: number;
  fastFailoverStoppedBy?: FastFailoverStoppedBy;
  sessionExpiresSeconds?: number;
  sessionRefreshIntervalMs?: number | null;
  rtcpTimeoutMs?: number;
}

export interface TranslationRuleInput {
  name: string;
  description?: string;
  pattern: string;
  translation: string;
}

export interface ResponseCodeTranslationRuleInput {
  name: string;
  receivedResponseCode: number;
  receivedIsupCauseValue?: number | null;
  translatedResponseCode: number;
}

// ---------------------------------------------------------------------------
// The resolved model

/** A socket an element listens on. Port 0 until `bindPorts()` fills in the picked port. */
export interface Listener {
  /** Stable id `element/side/transport/configuredPort`, the key for `bindPorts()`. */
  key: string;
  element: string;
  /** `sip` for single-sided elements; a Mediation Server has a `front-end` and a `gateway` side. */
  side: 'sip' | 'front-end' | 'gateway';
  transport: Transport;
  address: string;
  port: number;
}

export interface Topology {
  /** Where it came from (file path or a label), for messages. */
  source: string;
  description: string;
  sipDomain: string;
  site: string;
  frontEnd: FrontEnd;
  users: LyncUser[];
  /** Always holds a `Global` dial plan (an empty one when the file has none). */
  dialPlans: DialPlan[];
  /** Always holds a `Global` voice policy (with no usages when the file has none, as in Lync). */
  voicePolicies: VoicePolicy[];
  pstnUsages: string[];
  /** In priority order. */
  voiceRoutes: VoiceRoute[];
  mediationPools: MediationPool[];
  /** Every Mediation Server of every pool, in file order. */
  mediationServers: MediationServer[];
  peers: Peer[];
  trunks: Trunk[];
}

export interface FrontEnd {
  name: string;
  displayName: string;
  fqdn: string;
  address: string;
  /** 5061 by default (MTLS); null: no TLS listener. */
  tlsPort: number | null;
  /** 5060 by default; null: no TCP listener. */
  tcpPort: number | null;
  listeners: Listener[];
}

/** A Lync Line URI (`msRTCSIP-Line`), RFC 3966: `tel:+14255550150;ext=111`. */
export interface LineUri {
  /** As written, normalized to lower-case `tel:`. */
  uri: string;
  /** The global number with its `+`: `+14255550150`. */
  number: string;
  /** The `ext` parameter, or null. */
  ext: string | null;
}

/** An emulated Lync user: registers with the Front End and rings on inbound calls. */
export interface LyncUser {
  name: string;
  displayName: string;
  /** `sip:alice@contoso.com`. */
  sipUri: string;
  /** null: not enabled for Enterprise Voice (no phone number). */
  lineUri: LineUri | null;
  address: string;
  /** Transport to the Front End (Lync clients use TLS). */
  transport: 'tcp' | 'tls';
  /** Local port of the endpoint; 0 = pick. */
  port: number;
  /** Name of a `Tag:` voice policy, or null for the site/global one. */
  voicePolicy: string | null;
  /** Name of a `Tag:` dial plan, or null for the pool/site/global one. */
  dialPlan: string | null;
  /** Registers at start; false emulates a user with no signed-in endpoint. */
  registered: boolean;
  behaviour: CallBehaviour;
  listener: Listener;
}

/**
 * What an emulated endpoint does with a call, on a timeline that starts when
 * the INVITE arrives. `callTimeline()` in `call-behaviour.ts` turns it into
 * the responses to send.
 */
export interface CallBehaviour {
  outcome: CallOutcome;
  /** `answer`: 200 OK this long after the INVITE. */
  answerAfterMs: number;
  /** `busy` / `reject`: the final response this long after the INVITE. */
  rejectAfterMs: number;
  /** `reject`: the status code (400-699); `busy` is always 486. */
  rejectCode: number | null;
  rejectReason: string | null;
  /** `busy` / `reject`: adds `Reason: Q.850;cause=N` (the ISUP cause a gateway maps from). */
  rejectIsupCause: number | null;
  /** 180 Ringing this long after the INVITE; null: no 180. */
  ringingAfterMs: number | null;
  earlyMedia: EarlyMedia;
  /** When the 183 goes out, after the INVITE. */
  earlyMediaAfterMs: number;
  holdAnswer: HoldAnswer;
  /**
   * RFC 3262: its 18x go reliably (Require: 100rel, RSeq; the 2xx waits for the PRACK of a 183 with SDP)
   * when the INVITE supports 100rel; a PSTN number's own calls carry `Require: 100rel` (a Lync user's never do,
   * [MS-SIPAE] 3.1.5.13).
   */
  reliableProvisional: boolean;
  /** Presentation of its own number on the calls it places (see `CallerPresentation`). */
  callerPresentation: CallerPresentation;
  /** RFC 4733 telephone-event payload type offered/answered; null: no telephone-event in the SDP. */
  dtmfPayloadType: number | null;
  /** Digits sent as RFC 4733 events once media flows (183 with SDP or 200); null: none. */
  sendDigits: string | null;
  sendDigitsAfterMs: number;
  /** Talk time: BYE this long after the answer; null: wait for the other side. */
  hangUpAfterMs: number | null;
}

/** Where a dial plan applies (`New-CsDialPlan -Identity`). */
export type DialPlanScope =
  | { kind: 'global' }
  | { kind: 'site'; site: string }
  /** `Service:Registrar:<pool>`: the Front End pool's users. */
  | { kind: 'pool'; frontEnd: string }
  /** `Service:PstnGateway:<peer>`: calls arriving from that peer. */
  | { kind: 'gateway'; peer: string }
  /** `Tag:<name>`: users granted it. */
  | { kind: 'user'; tag: string };

export interface DialPlan {
  /** Canonical identity: `Global`, `Site:Redmond`, `Service:Registrar:fe`, `Service:PstnGateway:gw-a`, `Tag:Name`. */
  identity: string;
  scope: DialPlanScope;
  description: string;
  /** Top-down, first match wins (`New-CsVoiceNormalizationRule`, priority = order). */
  normalizationRules: NormalizationRule[];
}

/** `New-CsVoiceNormalizationRule`: a .NET-style regex and a translation with `$1`.. groups. */
export interface NormalizationRule {
  name: string;
  description: string;
  pattern: string;
  translation: string;
  isInternalExtension: boolean;
}

export type PolicyScope = { kind: 'global' } | { kind: 'site'; site: string } | { kind: 'user'; tag: string };

/** `New-CsVoicePolicy`: the PSTN usages a user may call through, in order. */
export interface VoicePolicy {
  identity: string;
  scope: PolicyScope;
  description: string;
  pstnUsages: string[];
}

/** `New-CsVoiceRoute`. */
export interface VoiceRoute {
  name: string;
  description: string;
  /** Regex matched against the normalized (E.164) number. */
  numberPattern: string;
  pstnUsages: string[];
  /** Trunk names (`PstnGatewayList`); the Front End round-robins over them *(field)*. */
  trunks: string[];
  suppressCallerId: boolean;
  alternateCallerId: string | null;
}

export interface MediationPool {
  name: string;
  displayName: string;
  /** The pool FQDN peers resolve (DNS load balancing over its members). */
  fqdn: string;
  /** Names of its Mediation Servers (at most 12). */
  servers: string[];
}

/** One Mediation Server: a B2BUA between the Front End and the peers. */
export interface MediationServer {
  name: string;
  displayName: string;
  fqdn: string;
  pool: string;
  /** Front End side address (loopback). */
  address: string;
  /**
   * Gateway side address; the same as `address` unless set. The one address
   * that may be outside loopback: a real device on the LAN must reach it.
   */
  gatewayAddress: string;
  /** 5070 by default. */
  frontEndPort: number;
  /** MTLS in Lync; `tcp` is a harness extension. */
  frontEndTransport: 'tcp' | 'tls';
  /** Default gateway-side ports per transport (5067 TLS, 5068 TCP, none for UDP). */
  gatewayPorts: Record<Transport, number | null>;
  frontEndListener: Listener;
  /** The configured gateway ports plus every port its trunks use. */
  gatewayListeners: Listener[];
}

/** A real device at `HOST:PORT`, replacing the emulation of a peer. */
export interface ExternalTarget {
  /** IP literal (IPv6 without brackets) or host name. */
  host: string;
  port: number;
  /** null: keep the transport of each trunk. */
  transport: Transport | null;
}

export interface Peer {
  name: string;
  kind: PeerKind;
  displayName: string;
  fqdn: string;
  /** Where the emulation listens (loopback). */
  address: string;
  /** Default listening port: 5066 TCP, 5067 TLS (Topology Builder's defaults), 5060 UDP. */
  port: number;
  transport: Transport;
  /** Set: a real device, nothing is emulated for this peer. */
  external: ExternalTarget | null;
  behaviour: PeerBehaviour;
  numbers: PstnNumber[];
  /** Empty for an external peer. */
  listeners: Listener[];
}

/** How an emulated peer behaves apart from its numbers. */
export interface PeerBehaviour {
  userAgent: string;
  /** Status the peer answers OPTIONS with; null: it ignores them (looks dead). */
  optionsResponse: number | null;
  /** The peer's own OPTIONS keep-alives towards the Mediation Server; null: none. */
  optionsIntervalMs: number | null;
  /** Status the peer answers a REFER with (202, or e.g. 405/501 for a peer without REFER). */
  referResponse: number;
  mediationSelection: MediationSelection;
  /** On 5xx or timeout from one Mediation Server, retry the call on another. */
  retryOnOtherMediationServer: boolean;
  /** What a number the peer does not list does (default: 404). */
  unknownNumber: CallBehaviour;
}

/** An emulated number behind a peer (a PSTN subscriber, a PBX extension). */
export interface PstnNumber {
  /** As the peer sees it after trunk translation: `+14255550160`, `14255550160`, `2171`. */
  number: string;
  displayName: string;
  description: string;
  behaviour: CallBehaviour;
}

/**
 * A trunk: {Mediation Server, Mediation port : peer, peer port} plus its
 * transport and configuration. Routes name trunks, not peers.
 */
export interface Trunk {
  name: string;
  mediationServer: string;
  /** The Mediation Server's gateway-side address. */
  mediationAddress: string;
  mediationPort: number;
  peer: string;
  /** The peer's address (the external device's host when external). */
  peerAddress: string;
  peerPort: number;
  transport: Transport;
  /** `global`: the topology's trunkConfiguration; `trunk`: its own (which replaces the global one). */
  configurationScope: 'global' | 'trunk';
  configuration: TrunkConfiguration;
}

/** `Set-CsTrunkConfiguration`, plus the harness's own knobs (marked). */
export interface TrunkConfiguration {
  /** EnableReferSupport (true): Mediation sends REFER to the peer for transfers; never accepts one from it. */
  enableReferSupport: boolean;
  /** Enable3pccRefer (false): transfer by third-party call control. */
  enable3pccRefer: boolean;
  /** EnableSessionTimer (false): Mediation refreshes the session itself (RFC 4028). */
  enableSessionTimer: boolean;
  /** EnableFastFailoverTimer (true): no provisional answer within 10 s → next trunk. */
  enableFastFailoverTimer: boolean;
  /** MaxEarlyDialogs (20): forked early dialogs accepted on calls from the peer. */
  maxEarlyDialogs: number;
  /** SRTPMode (Required); forced NotSupported on TCP (see `effectiveSrtpMode`). */
  srtpMode: SrtpMode;
  /** ConcentratedTopology (true): media address equals signalling address. */
  concentratedTopology: boolean;
  /** EnableBypass (false): media bypass. */
  enableBypass: boolean;
  /** RTCPActiveCalls (true): drop an active call after 30 s without RTCP. */
  rtcpActiveCalls: boolean;
  /** RTCPCallsOnHold (true): the same for calls on hold. */
  rtcpCallsOnHold: boolean;
  /** RemovePlusFromUri (false): strip the leading + from numbers sent to the peer. */
  removePlusFromUri: boolean;
  /** OutboundTranslationRulesList: called-number rules, top-down, first match. */
  outboundTranslationRules: TranslationRule[];
  /** OutboundCallingNumberTranslationRulesList: calling-number rules, same semantics. */
  outboundCallingNumberTranslationRules: TranslationRule[];
  /** ForwardCallHistory (false): send History-Info (Lync never sends Diversion). */
  forwardCallHistory: boolean;
  /** ForwardPAI (false): pass P-Asserted-Identity in both directions. */
  forwardPai: boolean;
  /** SipResponseCodeTranslationRulesList: received 4xx-6xx code → another, first match. */
  sipResponseCodeTranslationRules: ResponseCodeTranslationRule[];
  /** Harness: OPTIONS keep-alive interval while the peer is up. *(unverified: 60 s)* */
  optionsIntervalMs: number;
  /** Harness: how long an OPTIONS may stay unanswered (RFC 3261 Timer F = 64·T1 = 32 s). */
  optionsTimeoutMs: number;
  /** Harness: consecutive unanswered OPTIONS before the peer is marked down. *(field: 5)* */
  failuresBeforeDown: number;
  /** Harness: consecutive answered OPTIONS before a down peer is up again. *(field: 1)* */
  successesBeforeUp: number;
  /** Harness: probe interval while down. *(field: about a minute)* */
  downProbeIntervalMs: number;
  /** Harness: which OPTIONS answers mean alive. *(unverified)* */
  healthyOptionsResponse: HealthyOptionsResponse;
  /** Harness: the fast failover timer (10 000 ms in Lync). */
  fastFailoverTimeoutMs: number;
  /** Harness: what stops the fast failover timer. *(field)* */
  fastFailoverStoppedBy: FastFailoverStoppedBy;
  /** Harness: Session-Expires the Mediation Server asks for when it runs the session timer. *(unverified)* */
  sessionExpiresSeconds: number;
  /**
   * Harness: how often the Mediation Server refreshes the session (re-INVITE)
   * when it runs the session timer; null: half of Session-Expires (RFC 4028
   * §10). Tests shorten it; Session-Expires on the wire stays ≥ 90 s.
   */
  sessionRefreshIntervalMs: number | null;
  /** Harness: how long without RTCP before the call is dropped (30 s in Lync). */
  rtcpTimeoutMs: number;
}

/** One rule of OutboundTranslationRulesList (`New-CsOutboundTranslationRule`). */
export interface TranslationRule {
  name: string;
  description: string;
  pattern: string;
  translation: string;
}

/** `New-CsSipResponseCodeTranslationRule`. */
export interface ResponseCodeTranslationRule {
  name: string;
  /** ReceivedResponseCode, 400-699. */
  receivedResponseCode: number;
  /** ReceivedISUPCauseValue: also requires `Reason: Q.850;cause=N` with this N; null: any. */
  receivedIsupCauseValue: number | null;
  /** TranslatedResponseCode, 400-699. */
  translatedResponseCode: number;
}

// ---------------------------------------------------------------------------
// Loading

/** Every problem of a topology; nothing may start from it. */
export class TopologyError extends Error {
  readonly source: string;
  readonly problems: TopologyProblem[];

  constructor(source: string, problems: TopologyProblem[]) {
    const lines = problems.map((p) => `  ${p.path || '(document)'}: ${p.message}`);
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`${source}: ${count} in the topology\n${lines.join('\n')}`);
    this.name = 'TopologyError';
    this.source = source;
    this.problems = problems;
  }
}

export interface LoadOptions {
  /**
   * `--external PEER=HOST:PORT[/udp|tcp|tls]` values (strings or parsed):
   * replace the emulation of the named peers with real devices. Problems
   * they cause name the option, not a JSON path.
   */
  external?: readonly (string | ExternalOverride)[];
}

/** The repository's default topology, `fixtures/topologies/lab.json`. */
export function defaultTopologyPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/topologies/lab.json');
}

/** Reads, validates and resolves a topology file. Throws `TopologyError`. */
export function loadTopology(file: string, options: LoadOptions = {}): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TopologyError(file, [{ path: '', message: `cannot read the topology file: ${reason}` }]);
  }
  return parseTopology(text, file, options);
}

/**
 * Validates and resolves a topology given as JSON text or as an already
 * parsed value (tests build `TopologyInput` objects). Throws `TopologyError`.
 */
export function parseTopology(json: string | unknown, source: string, options: LoadOptions = {}): Topology {
  let document: unknown = json;
  if (typeof json === 'string') {
    try {
      document = JSON.parse(json);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TopologyError(source, [{ path: '', message: `not valid JSON: ${reason}` }]);
    }
  }
  const applied = applyExternalOverrides(document, options.external ?? []);
  if (applied.problems.length > 0) throw new TopologyError(source, applied.problems);
  const result = resolveTopology(applied.document, source);
  if (result.problems.length > 0 || result.topology === null) {
    throw new TopologyError(
      source,
      result.problems.map((p) => relabelExternal(p, applied.origins)),
    );
  }
  return result.topology;
}

/** A problem found under `/peers/N/external` set by an option is reported against the option. */
function relabelExternal(problem: TopologyProblem, origins: ReadonlyMap<number, string>): TopologyProblem {
  for (const [index, option] of origins) {
    const prefix = pointer('', 'peers', index, 'external');
    if (problem.path === prefix || problem.path.startsWith(prefix + '/')) {
      return { path: `--external ${option}`, message: problem.message };
    }
  }
  return problem;
}

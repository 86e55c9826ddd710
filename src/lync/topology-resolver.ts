/**
 * Validates a topology document and resolves it into the `Topology` model:
 * defaults applied, names and references checked, listeners computed.
 * Every problem is collected with its JSON pointer; the caller
 * (`parseTopology`) refuses the topology when there is any.
 *
 * This file reads each section: the shape of every object (types, ranges,
 * enums, unknown properties), the references a section can check on its own
 * (trunk → Mediation Server and peer, route and policy → usages, dial plan
 * scope → site, pool, gateway) and the cross-field rules of call behaviours
 * and trunk configurations. `topology-checks.ts` then runs what only the
 * whole topology shows.
 */
import { isIP } from 'node:net';
import { ExternalOptionError, parseExternalTarget } from './apply-external.ts';
import { defaultCallBehaviour, defaultUnknownNumberBehaviour } from './call-behaviour.ts';
import { ObjectReader, Problems, pointer, suggestion, type TopologyProblem } from './json-reader.ts';
import { makeListener } from './listeners.ts';
import { checkTopology, type Declared, isLoopback, uniqueNames } from './topology-checks.ts';
import { patternProblem, translationProblem } from './number-pattern.ts';
import {
  CALL_OUTCOMES,
  type CallBehaviour,
  type DialPlan,
  type DialPlanScope,
  EARLY_MEDIA,
  type ExternalTarget,
  FAST_FAILOVER_STOPPED_BY,
  type FrontEnd,
  HEALTHY_OPTIONS_RESPONSES,
  HOLD_ANSWERS,
  CALLER_PRESENTATIONS,
  type LineUri,
  type LyncUser,
  MEDIATION_SELECTIONS,
  type MediationPool,
  type MediationServer,
  type NormalizationRule,
  PEER_KINDS,
  type Peer,
  type PeerBehaviour,
  type PeerKind,
  type PolicyScope,
  type PstnNumber,
  type ResponseCodeTranslationRule,
  SRTP_MODES,
  TRANSPORTS,
  type Topology,
  type TranslationRule,
  type Transport,
  type Trunk,
  type TrunkConfiguration,
  type VoicePolicy,
  type VoiceRoute,
} from './topology.ts';
import { TOPOLOGY_KEYS as K } from './topology-keys.ts';
import { bypassProblem, defaultTrunkConfiguration } from './trunk-configuration.ts';

export interface ResolveResult {
  /** The model; only meaningful when `problems` is empty. */
  topology: Topology | null;
  problems: TopologyProblem[];
}

const NAME = /^[A-Za-z][A-Za-z0-9._-]{0,31}$/;
const NAME_EXPECTED =
  'a short id: a letter, then letters, digits, ".", "_" or "-", at most 32 characters (e.g. "med-1")';
const FQDN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const SIP_URI = /^sip:([A-Za-z0-9._+'-]+)@([A-Za-z0-9.-]+)$/i;
const LINE_URI = /^tel:(\+[1-9]\d{1,14})(?:;ext=(\d{1,15}))?$/i;
const PSTN_NUMBER = /^\+?\d{1,20}$/;
const DIGITS = /^[0-9*#A-D]+$/;
const PORT = { min: 0, max: 65535 } as const;
const MS_RANGE = { min: 0, max: 86_400_000 } as const;
const POSITIVE_MS = { min: 1, max: 86_400_000 } as const;
const FINAL_CODE = { min: 400, max: 699 } as const;
const MAX_POOL_SERVERS = 12;
/** Topology Builder's default peer ports: 5066 TCP, 5067 TLS; UDP (harness) 5060. */
const DEFAULT_PEER_PORT: Record<Transport, number> = { udp: 5060, tcp: 5066, tls: 5067 };
const DEFAULT_USER_AGENT: Record<PeerKind, string> = {
  gateway: 'Trunklab-PSTN-Gateway/0.1',
  'ip-pbx': 'Trunklab-IP-PBX/0.1',
  sbc: 'Trunklab-SBC/0.1',
};

function oneLine(text: string): boolean {
  return !/[\r\n]/.test(text);
}

/** Parsed identity of a dial plan or voice policy, before its references are checked. */
type ScopeIdentity =
  | { kind: 'global' }
  | { kind: 'site' | 'pool' | 'gateway' | 'user'; value: string }
  | { kind: 'invalid' };

function parseIdentity(identity: string): ScopeIdentity {
  const text = identity.trim();
  if (/^global$/i.test(text)) return { kind: 'global' };
  let match = /^site:(.+)$/i.exec(text);
  if (match) return { kind: 'site', value: match[1] };
  match = /^service:registrar:(.+)$/i.exec(text);
  if (match) return { kind: 'pool', value: match[1] };
  match = /^service:pstngateway:(.+)$/i.exec(text);
  if (match) return { kind: 'gateway', value: match[1] };
  match = /^tag:(.+)$/i.exec(text);
  if (match) return { kind: 'user', value: match[1] };
  if (text !== '' && !text.includes(':')) return { kind: 'user', value: text };
  return { kind: 'invalid' };
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** Parses a Line URI; null when it is not `tel:+E164[;ext=digits]`. */
export function parseLineUri(text: string): LineUri | null {
  const match = LINE_URI.exec(text.trim());
  if (match === null) return null;
  const ext = match[2] ?? null;
  return { uri: `tel:${match[1]}${ext === null ? '' : `;ext=${ext}`}`, number: match[1], ext };
}

class Resolver {
  readonly problems = new Problems();
  sipDomain = 'contoso.com';
  site = 'Site1';
  readonly declared: Declared[] = [];

  // -------------------------------------------------------------------------
  // Small readers

  name(r: ObjectReader, what: string): string {
    const name = r.requiredString('name', NAME_EXPECTED);
    if (name === undefined) return '';
    if (!NAME.test(name)) r.problem('name', `${JSON.stringify(name)} is not ${NAME_EXPECTED}`);
    this.declared.push({ name, path: r.at('name'), what });
    return name;
  }

  text(r: ObjectReader, key: string, fallback: string): string {
    const value = r.string(key, fallback);
    if (!oneLine(value)) r.problem(key, 'expected one line of text, got a line break');
    return value;
  }

  fqdn(r: ObjectReader, fallback: string): string {
    const value = r.string('fqdn', fallback, 'a fully qualified domain name');
    if (!FQDN.test(value))
      r.problem('fqdn', `${JSON.stringify(value)} is not a fully qualified domain name (e.g. "gw-a.contoso.com")`);
    return value;
  }

  /** An IP literal; for emulated elements it must be loopback. */
  address(r: ObjectReader, key: string, emulated: boolean): string | undefined {
    const value = r.requiredString(key, emulated ? 'a loopback address (127.0.0.x or ::1)' : 'an IP address');
    if (value === undefined) return undefined;
    return this.checkAddress(r, key, value, emulated);
  }

  checkAddress(r: ObjectReader, key: string, value: string, emulated: boolean): string | undefined {
    if (isIP(value) === 0) {
      const hint = /^\[.*\]$/.test(value) ? ' (write IPv6 without brackets here)' : '';
      r.problem(key, `${JSON.stringify(value)} is not an IP address${hint}; expected e.g. "127.0.0.20" or "::1"`);
      return undefined;
    }
    if (emulated && !isLoopback(value)) {
      r.problem(
        key,
        `${value} is outside 127.0.0.0/8 and ::1; emulated elements listen on loopback only (use "external" for a real device)`,
      );
      return undefined;
    }
    if (value === '0.0.0.0' || value === '::') {
      r.problem(key, `${value} is a wildcard; expected one specific address of this host`);
      return undefined;
    }
    return value;
  }

  port(r: ObjectReader, key: string, fallback: number): number {
    return r.integer(key, fallback, PORT, 'a port number (0 = pick a free one at start)');
  }

  nullablePort(r: ObjectReader, key: string, fallback: number | null): number | null {
    return r.nullableInteger(key, fallback, PORT, 'a port number (0 = pick a free one at start) or null (none)');
  }

  pattern(r: ObjectReader, key: string): string {
    const value = r.requiredString(key, 'a regular expression');
    if (value === undefined) return '';
    const problem = patternProblem(value);
    if (problem !== null) r.problem(key, problem);
    return value;
  }

  translationRule(r: ObjectReader): { name: string; description: string; pattern: string; translation: string } {
    const name = r.requiredString('name', 'the rule name') ?? '';
    const description = this.text(r, 'description', '');
    const pattern = this.pattern(r, 'pattern');
    const translation = r.requiredString('translation', 'a translation such as "+1425555$1"') ?? '';
    const problem = translationProblem(pattern, translation);
    if (problem !== null) r.problem('translation', problem);
    return { name, description, pattern, translation };
  }

  /** Items of an array property, each read as an object of one kind. */
  objects<T>(
    r: ObjectReader,
    key: string,
    kind: keyof typeof K,
    what: string,
    read: (item: ObjectReader, index: number) => T,
  ): T[] {
    const out: T[] = [];
    r.array(key, what).forEach((value, index) => {
      const reader = ObjectReader.of(value, pointer(r.at(key), index), this.problems, K[kind], what);
      if (reader === null) return;
      out.push(read(reader, index));
      reader.finish();
    });
    return out;
  }

  uniqueNames(items: { name: string; path: string }[], what: string): void {
    uniqueNames(this.problems, items, what);
  }

  // -------------------------------------------------------------------------
  // Sections

  frontEnd(top: ObjectReader): FrontEnd {
    const r = top.object('frontEnd', K.frontEnd, 'the Front End pool');
    if (r === null) {
      if (!top.has('frontEnd')) top.missing('frontEnd', 'the Front End pool ({"address": "127.0.0.10", ...})');
      return {
        name: 'fe',
        displayName: 'Front End',
        fqdn: 'fe',
        address: '127.0.0.1',
        tlsPort: null,
        tcpPort: null,
        listeners: [],
      };
    }
    const name = r.has('name') ? this.name(r, 'Front End') : 'fe';
    if (!r.has('name')) this.declared.push({ name, path: r.at('name'), what: 'Front End' });
    const displayName = this.text(r, 'displayName', 'Front End');
    const fqdn = this.fqdn(r, `${name}.${this.sipDomain}`);
    const address = this.address(r, 'address', true) ?? '127.0.0.1';
    const tlsPort = this.nullablePort(r, 'tlsPort', 5061);
    const tcpPort = this.nullablePort(r, 'tcpPort', 5060);
    if (tlsPort === null && tcpPort === null)
      r.problem('tlsPort', 'the Front End needs tlsPort or tcpPort (both are null)');
    r.finish();
    return { name, displayName, fqdn, address, tlsPort, tcpPort, listeners: [] };
  }

  callBehaviour(r: ObjectReader | null, fallback: CallBehaviour): CallBehaviour {
    if (r === null) return fallback;
    const outcome = r.oneOf('outcome', CALL_OUTCOMES, fallback.outcome);
    const base = outcome === fallback.outcome ? fallback : defaultCallBehaviour();
    const b: CallBehaviour = { ...base, outcome };
    b.answerAfterMs = r.integer('answerAfterMs', base.answerAfterMs, MS_RANGE, 'milliseconds');
    b.rejectAfterMs = r.integer('rejectAfterMs', base.rejectAfterMs, MS_RANGE, 'milliseconds');
    b.rejectCode = r.nullableInteger('rejectCode', base.rejectCode, FINAL_CODE, 'a SIP status code');
    b.rejectReason = r.nullableString('rejectReason', base.rejectReason, 'a reason phrase');
    if (b.rejectReason !== null && !oneLine(b.rejectReason)) r.problem('rejectReason', 'expected one line of text');
    b.rejectIsupCause = r.nullableInteger(
      'rejectIsupCause',
      base.rejectIsupCause,
      { min: 1, max: 127 },
      'a Q.850 cause value',
    );
    b.earlyMedia = r.oneOf('earlyMedia', EARLY_MEDIA, base.earlyMedia);
    const ringingDefault = b.earlyMedia !== 'none' || outcome === 'no-response' ? null : base.ringingAfterMs;
    b.ringingAfterMs = r.nullableInteger('ringingAfterMs', ringingDefault, MS_RANGE, 'milliseconds or null (no 180)');
    b.earlyMediaAfterMs = r.integer('earlyMediaAfterMs', base.earlyMediaAfterMs, MS_RANGE, 'milliseconds');
    b.holdAnswer = r.oneOf('holdAnswer', HOLD_ANSWERS, base.holdAnswer);
    b.reliableProvisional = r.boolean('reliableProvisional', base.reliableProvisional);
    b.callerPresentation = r.oneOf('callerPresentation', CALLER_PRESENTATIONS, base.callerPresentation);
    b.dtmfPayloadType = r.nullableInteger(
      'dtmfPayloadType',
      base.dtmfPayloadType,
      { min: 96, max: 127 },
      'a dynamic RTP payload type',
    );
    b.sendDigits = r.nullableString('sendDigits', base.sendDigits, 'DTMF digits (0-9, *, #, A-D)');
    b.sendDigitsAfterMs = r.integer('sendDigitsAfterMs', base.sendDigitsAfterMs, MS_RANGE, 'milliseconds');
    b.hangUpAfterMs = r.nullableInteger('hangUpAfterMs', base.hangUpAfterMs, MS_RANGE, 'milliseconds or null (stay)');

    const only = (key: string, outcomes: string[]): void => {
      if (r.has(key) && !outcomes.includes(outcome)) {
        r.problem(
          key,
          `${key} applies only when outcome is ${outcomes.map((o) => `"${o}"`).join(' or ')}, not "${outcome}"`,
        );
      }
    };
    only('answerAfterMs', ['answer']);
    only('hangUpAfterMs', ['answer']);
    only('rejectCode', ['reject']);
    only('rejectAfterMs', ['reject', 'busy']);
    only('rejectReason', ['reject', 'busy']);
    only('rejectIsupCause', ['reject', 'busy']);
    if (outcome === 'reject' && b.rejectCode === null)
      r.missing('rejectCode', 'a SIP status code from 400 to 699 (outcome is "reject")');
    if (outcome === 'no-response') {
      for (const key of ['ringingAfterMs', 'earlyMedia', 'earlyMediaAfterMs']) {
        if (r.has(key) && r.raw(key) !== null && r.raw(key) !== 'none')
          r.problem(key, 'outcome "no-response" sends nothing, so it cannot ring or send early media');
      }
    }
    if (r.has('earlyMediaAfterMs') && b.earlyMedia === 'none')
      r.problem('earlyMediaAfterMs', 'earlyMediaAfterMs needs earlyMedia "with-sdp" or "without-sdp"');
    if (outcome === 'answer') {
      if (b.ringingAfterMs !== null && b.ringingAfterMs >= b.answerAfterMs && r.has('ringingAfterMs')) {
        r.problem(
          'ringingAfterMs',
          `the 180 (at ${b.ringingAfterMs} ms) must come before the answer (at ${b.answerAfterMs} ms)`,
        );
      }
      if (b.earlyMedia !== 'none' && b.earlyMediaAfterMs >= b.answerAfterMs) {
        r.problem(
          r.has('earlyMediaAfterMs') ? 'earlyMediaAfterMs' : 'answerAfterMs',
          `the 183 (at ${b.earlyMediaAfterMs} ms) must come before the answer (at ${b.answerAfterMs} ms)`,
        );
      }
    }
    if (b.sendDigits !== null) {
      if (!DIGITS.test(b.sendDigits))
        r.problem(
          'sendDigits',
          `${JSON.stringify(b.sendDigits)} has characters that are not DTMF events; expected 0-9, *, #, A-D`,
        );
      if (b.dtmfPayloadType === null)
        r.problem('sendDigits', 'cannot send digits with dtmfPayloadType null (no telephone-event)');
      if (outcome !== 'answer' && b.earlyMedia !== 'with-sdp')
        r.problem('sendDigits', 'digits need media: answer the call or send early media "with-sdp"');
    } else if (r.has('sendDigitsAfterMs')) {
      r.problem('sendDigitsAfterMs', 'sendDigitsAfterMs needs sendDigits');
    }
    return b;
  }

  mediationPools(top: ObjectReader): {
    pools: MediationPool[];
    servers: MediationServer[];
    serverPaths: Map<string, string>;
  } {
    const servers: MediationServer[] = [];
    const serverPaths = new Map<string, string>();
    const pools = this.objects(top, 'mediationPools', 'mediationPool', 'a Mediation pool', (r) => {
      const name = this.name(r, 'Mediation pool');
      const displayName = this.text(r, 'displayName', name);
      const fqdn = this.fqdn(r, `${name}.${this.sipDomain}`);
      if (!r.has('servers')) r.missing('servers', 'an array of Mediation Servers (1 to 12)');
      const members = this.objects(r, 'servers', 'mediationServer', 'a Mediation Server', (s) => {
        const server = this.mediationServer(s, name);
        serverPaths.set(server.name, s.path);
        return server;
      });
      if (r.has('servers') && Array.isArray(r.raw('servers'))) {
        const count = (r.raw('servers') as unknown[]).length;
        if (count === 0) r.problem('servers', 'a Mediation pool needs at least one Mediation Server');
        if (count > MAX_POOL_SERVERS)
          r.problem('servers', `a Mediation pool holds at most ${MAX_POOL_SERVERS} Mediation Servers, got ${count}`);
      }
      servers.push(...members);
      return { name, displayName, fqdn, servers: members.map((m) => m.name) };
    });
    return { pools, servers, serverPaths };
  }

  mediationServer(r: ObjectReader, pool: string): MediationServer {
    const name = this.name(r, 'Mediation Server');
    const displayName = this.text(r, 'displayName', name);
    const fqdn = this.fqdn(r, `${name}.${this.sipDomain}`);
    const address = this.address(r, 'address', true) ?? '127.0.0.1';
    let gatewayAddress = address;
    if (r.has('gatewayAddress')) {
      const value = r.requiredString('gatewayAddress', 'an IP address of this host');
      if (value !== undefined) gatewayAddress = this.checkAddress(r, 'gatewayAddress', value, false) ?? address;
    }
    const frontEndPort = this.port(r, 'frontEndPort', 5070);
    const frontEndTransport = r.oneOf('frontEndTransport', ['tcp', 'tls'] as const, 'tls');
    const ports = r.object('gatewayPorts', K.gatewayPorts, 'the gateway-side ports');
    const gatewayPorts: Record<Transport, number | null> = { udp: null, tcp: 5068, tls: 5067 };
    if (ports !== null) {
      gatewayPorts.udp = this.nullablePort(ports, 'udp', null);
      gatewayPorts.tcp = this.nullablePort(ports, 'tcp', 5068);
      gatewayPorts.tls = this.nullablePort(ports, 'tls', 5067);
      ports.finish();
    }
    r.finish();
    const frontEndListener = makeListener(name, 'front-end', frontEndTransport, address, frontEndPort);
    return {
      name,
      displayName,
      fqdn,
      pool,
      address,
      gatewayAddress,
      frontEndPort,
      frontEndTransport,
      gatewayPorts,
      frontEndListener,
      gatewayListeners: [],
    };
  }

  peers(top: ObjectReader): Peer[] {
    return this.objects(top, 'peers', 'peer', 'a peer (gateway, IP-PBX or SBC)', (r) => {
      const name = this.name(r, 'peer');
      const kind = r.requiredOneOf('kind', PEER_KINDS) ?? 'gateway';
      const displayName = this.text(r, 'displayName', name);
      const fqdn = this.fqdn(r, `${name}.${this.sipDomain}`);
      let external: ExternalTarget | null = null;
      const externalText = r.nullableString('external', null, 'HOST:PORT[/udp|tcp|tls] or null');
      if (externalText !== null) {
        try {
          external = parseExternalTarget(externalText);
        } catch (error) {
          if (!(error instanceof ExternalOptionError)) throw error;
          r.problem('external', `${error.message}; expected HOST:PORT[/udp|tcp|tls], e.g. "192.0.2.10:5060/tcp"`);
        }
      }
      let address: string;
      if (r.has('address') || externalText === null) address = this.address(r, 'address', true) ?? '127.0.0.1';
      else address = external?.host ?? '127.0.0.1';
      const transport = r.oneOf('transport', TRANSPORTS, 'tcp');
      const port = this.port(r, 'port', DEFAULT_PEER_PORT[transport]);
      const behaviour = this.peerBehaviour(r.object('behaviour', K.peerBehaviour, 'the peer behaviour'), kind);
      const numbers = this.objects(r, 'numbers', 'pstnNumber', 'an emulated number', (n) => this.pstnNumber(n));
      const seen = new Map<string, number>();
      numbers.forEach((n, index) => {
        const key = n.number.replace(/^\+/, '');
        const first = seen.get(key);
        if (first !== undefined) {
          this.problems.add(
            pointer(r.at('numbers'), index, 'number'),
            `number ${n.number} is listed twice for this peer (first at ${pointer(r.at('numbers'), first)})`,
          );
        } else seen.set(key, index);
      });
      return { name, kind, displayName, fqdn, address, port, transport, external, behaviour, numbers, listeners: [] };
    });
  }

  peerBehaviour(r: ObjectReader | null, kind: PeerKind): PeerBehaviour {
    const defaults: PeerBehaviour = {
      userAgent: DEFAULT_USER_AGENT[kind],
      optionsResponse: 200,
      optionsIntervalMs: null,
      referResponse: 202,
      mediationSelection: 'dns-round-robin',
      retryOnOtherMediationServer: true,
      unknownNumber: defaultUnknownNumberBehaviour(),
    };
    if (r === null) return defaults;
    const unknownNumber = r.object('unknownNumber', K.callBehaviour, 'a call behaviour');
    const b: PeerBehaviour = {
      userAgent: this.text(r, 'userAgent', defaults.userAgent),
      optionsResponse: r.nullableInteger(
        'optionsResponse',
        200,
        { min: 200, max: 699 },
        'a final SIP status code or null (ignore OPTIONS)',
      ),
      optionsIntervalMs: r.nullableInteger('optionsIntervalMs', null, POSITIVE_MS, 'milliseconds or null (none)'),
      referResponse: r.integer('referResponse', 202, { min: 200, max: 699 }, 'a final SIP status code'),
      mediationSelection: r.oneOf('mediationSelection', MEDIATION_SELECTIONS, defaults.mediationSelection),
      retryOnOtherMediationServer: r.boolean('retryOnOtherMediationServer', true),
      unknownNumber: this.callBehaviour(unknownNumber, defaults.unknownNumber),
    };
    unknownNumber?.finish();
    r.finish();
    return b;
  }

  pstnNumber(r: ObjectReader): PstnNumber {
    const number = r.requiredString('number', 'a number as the peer sees it, e.g. "+14255550160" or "2171"') ?? '';
    if (number !== '' && !PSTN_NUMBER.test(number)) {
      r.problem(
        'number',
        `${JSON.stringify(number)} is not a number; expected digits with an optional leading "+", e.g. "+14255550160"`,
      );
    }
    const displayName = this.text(r, 'displayName', number);
    const description = this.text(r, 'description', '');
    const behaviourReader = r.object('behaviour', K.callBehaviour, 'a call behaviour');
    const behaviour = this.callBehaviour(behaviourReader, defaultCallBehaviour());
    behaviourReader?.finish();
    return { number, displayName, description, behaviour };
  }

  users(top: ObjectReader, fe: FrontEnd): LyncUser[] {
    return this.objects(top, 'users', 'lyncUser', 'a Lync user', (r) => {
      const name = this.name(r, 'Lync user');
      const displayName = this.text(r, 'displayName', name);
      const sipUri = r.string('sipUri', `sip:${name}@${this.sipDomain}`, 'a SIP URI such as "sip:alice@contoso.com"');
      if (!SIP_URI.test(sipUri))
        r.problem('sipUri', `${JSON.stringify(sipUri)} is not a SIP URI; expected "sip:user@domain"`);
      const lineText = r.nullableString('lineUri', null, 'a Line URI such as "tel:+14255550101" or null');
      let lineUri: LineUri | null = null;
      if (lineText !== null) {
        lineUri = parseLineUri(lineText);
        if (lineUri === null) {
          r.problem(
            'lineUri',
            `${JSON.stringify(lineText)} is not a Line URI; expected "tel:+E.164" with an optional ";ext=digits", e.g. "tel:+14255550150;ext=111"`,
          );
        }
      }
      const address = this.address(r, 'address', true) ?? '127.0.0.1';
      const transport = r.oneOf('transport', ['tcp', 'tls'] as const, 'tls');
      if ((transport === 'tls' ? fe.tlsPort : fe.tcpPort) === null) {
        r.problem(
          'transport',
          `the Front End has no ${transport.toUpperCase()} listener (frontEnd.${transport}Port is null)`,
        );
      }
      const port = this.port(r, 'port', 0);
      const voicePolicy = r.nullableString('voicePolicy', null, 'the name of a Tag: voice policy or null');
      const dialPlan = r.nullableString('dialPlan', null, 'the name of a Tag: dial plan or null');
      const registered = r.boolean('registered', true);
      const behaviourReader = r.object('behaviour', K.callBehaviour, 'a call behaviour');
      const behaviour = this.callBehaviour(behaviourReader, defaultCallBehaviour());
      behaviourReader?.finish();
      const listener = makeListener(name, 'sip', transport, address, port);
      return {
        name,
        displayName,
        sipUri,
        lineUri,
        address,
        transport,
        port,
        voicePolicy: voicePolicy === null ? null : voicePolicy.replace(/^tag:/i, ''),
        dialPlan: dialPlan === null ? null : dialPlan.replace(/^tag:/i, ''),
        registered,
        behaviour,
        listener,
      };
    });
  }

  pstnUsages(top: ObjectReader): string[] {
    const items = top.stringItems('pstnUsages', 'a PSTN usage name');
    for (const item of items) {
      if (item.value.trim() === '') this.problems.add(item.path, 'expected a PSTN usage name, got an empty string');
    }
    this.uniqueNames(
      items.map((item) => ({ name: item.value, path: item.path })),
      'PSTN usage',
    );
    return items.map((item) => item.value);
  }

  usageRefs(r: ObjectReader, key: string, usages: string[]): string[] {
    return r.stringItems(key, 'a PSTN usage name').map((item) => {
      const known = usages.find((u) => same(u, item.value));
      if (known === undefined) {
        this.problems.add(
          item.path,
          `unknown PSTN usage "${item.value}"${suggestion(item.value, usages)}; the usages (pstnUsages) are ${usages.join(', ') || 'none'}`,
        );
        return item.value;
      }
      return known;
    });
  }

  /** Resolves `Site:`, `Service:Registrar:`, `Service:PstnGateway:` and `Tag:` identities. */
  scope(
    r: ObjectReader,
    identity: string,
    fe: FrontEnd,
    peers: Peer[],
    allowed: DialPlanScope['kind'][],
  ): DialPlanScope | null {
    const parsed = parseIdentity(identity);
    const expected = allowed
      .map(
        (k) =>
          ({
            global: 'Global',
            site: 'Site:<site>',
            pool: 'Service:Registrar:<pool>',
            gateway: 'Service:PstnGateway:<peer>',
            user: 'Tag:<name>',
          })[k],
      )
      .join(', ');
    if (parsed.kind === 'invalid' || !allowed.includes(parsed.kind)) {
      r.problem('identity', `${JSON.stringify(identity)} is not a valid identity here; expected ${expected}`);
      return null;
    }
    switch (parsed.kind) {
      case 'global':
        return { kind: 'global' };
      case 'site':
        if (!same(parsed.value, this.site)) {
          r.problem('identity', `unknown site "${parsed.value}"; the topology's site is "${this.site}"`);
          return null;
        }
        return { kind: 'site', site: this.site };
      case 'pool':
        if (!same(parsed.value, fe.name) && !same(parsed.value, fe.fqdn)) {
          r.problem(
            'identity',
            `unknown Front End pool "${parsed.value}"; expected Service:Registrar:${fe.name} or Service:Registrar:${fe.fqdn}`,
          );
          return null;
        }
        return { kind: 'pool', frontEnd: fe.name };
      case 'gateway': {
        const peer = peers.find((p) => same(p.name, parsed.value) || same(p.fqdn, parsed.value));
        if (peer === undefined) {
          r.problem(
            'identity',
            `unknown peer "${parsed.value}" in ${identity}${suggestion(
              parsed.value,
              peers.map((p) => p.name),
            )}; the peers are ${peers.map((p) => p.name).join(', ') || 'none'}`,
          );
          return null;
        }
        return { kind: 'gateway', peer: peer.name };
      }
      case 'user':
        return { kind: 'user', tag: parsed.value };
    }
  }

  dialPlans(top: ObjectReader, fe: FrontEnd, peers: Peer[]): DialPlan[] {
    const identities: { name: string; path: string }[] = [];
    const plans = this.objects(top, 'dialPlans', 'dialPlan', 'a dial plan', (r) => {
      const raw =
        r.requiredString(
          'identity',
          'Global, Site:<site>, Service:Registrar:<pool>, Service:PstnGateway:<peer> or Tag:<name>',
        ) ?? '';
      const scope = raw === '' ? null : this.scope(r, raw, fe, peers, ['global', 'site', 'pool', 'gateway', 'user']);
      const identity = scope === null ? raw : scopeIdentity(scope);
      if (scope !== null) identities.push({ name: identity, path: r.at('identity') });
      const description = this.text(r, 'description', '');
      const rules = this.objects(
        r,
        'normalizationRules',
        'normalizationRule',
        'a normalization rule',
        (rule): NormalizationRule => {
          const base = this.translationRule(rule);
          return { ...base, isInternalExtension: rule.boolean('isInternalExtension', false) };
        },
      );
      this.uniqueNames(
        rules.map((rule, index) => ({ name: rule.name, path: pointer(r.at('normalizationRules'), index, 'name') })),
        'normalization rule',
      );
      return { identity, scope: scope ?? { kind: 'global' }, description, normalizationRules: rules };
    });
    this.uniqueNames(identities, 'dial plan');
    if (!plans.some((plan) => plan.scope.kind === 'global')) {
      plans.push({
        identity: 'Global',
        scope: { kind: 'global' },
        description: 'Default global dial plan (no rules)',
        normalizationRules: [],
      });
    }
    return plans;
  }

  voicePolicies(top: ObjectReader, fe: FrontEnd, usages: string[]): VoicePolicy[] {
    const identities: { name: string; path: string }[] = [];
    const policies = this.objects(top, 'voicePolicies', 'voicePolicy', 'a voice policy', (r) => {
      const raw = r.requiredString('identity', 'Global, Site:<site> or Tag:<name>') ?? '';
      const scope = raw === '' ? null : (this.scope(r, raw, fe, [], ['global', 'site', 'user']) as PolicyScope | null);
      const identity = scope === null ? raw : scopeIdentity(scope);
      if (scope !== null) identities.push({ name: identity, path: r.at('identity') });
      const description = this.text(r, 'description', '');
      const pstnUsages = this.usageRefs(r, 'pstnUsages', usages);
      return { identity, scope: scope ?? { kind: 'global' }, description, pstnUsages };
    });
    this.uniqueNames(identities, 'voice policy');
    if (!policies.some((policy) => policy.scope.kind === 'global')) {
      policies.push({
        identity: 'Global',
        scope: { kind: 'global' },
        description: 'Default global voice policy (no PSTN usages)',
        pstnUsages: [],
      });
    }
    return policies;
  }

  voiceRoutes(
    top: ObjectReader,
    usages: string[],
  ): { routes: VoiceRoute[]; trunkRefs: { value: string; path: string }[] } {
    const trunkRefs: { value: string; path: string }[] = [];
    const routes = this.objects(top, 'voiceRoutes', 'voiceRoute', 'a voice route', (r) => {
      const name = r.requiredString('name', 'the route name') ?? '';
      const description = this.text(r, 'description', '');
      const numberPattern = this.pattern(r, 'numberPattern');
      const pstnUsages = this.usageRefs(r, 'pstnUsages', usages);
      const trunkItems = r.stringItems('trunks', 'a trunk name');
      trunkRefs.push(...trunkItems);
      const trunks = trunkItems.map((item) => item.value);
      const suppressCallerId = r.boolean('suppressCallerId', false);
      const alternateCallerId = r.nullableString('alternateCallerId', null, 'a number or null');
      if (alternateCallerId !== null && !PSTN_NUMBER.test(alternateCallerId)) {
        r.problem(
          'alternateCallerId',
          `${JSON.stringify(alternateCallerId)} is not a number; expected e.g. "+14255550100"`,
        );
      }
      return { name, description, numberPattern, pstnUsages, trunks, suppressCallerId, alternateCallerId };
    });
    this.uniqueNames(
      routes.map((route, index) => ({ name: route.name, path: pointer(top.at('voiceRoutes'), index, 'name') })),
      'voice route',
    );
    return { routes, trunkRefs };
  }

  trunkConfiguration(r: ObjectReader | null, base: TrunkConfiguration): TrunkConfiguration {
    if (r === null) return base;
    const c: TrunkConfiguration = { ...base };
    c.enableReferSupport = r.boolean('enableReferSupport', base.enableReferSupport);
    c.enable3pccRefer = r.boolean('enable3pccRefer', base.enable3pccRefer);
    c.enableSessionTimer = r.boolean('enableSessionTimer', base.enableSessionTimer);
    c.enableFastFailoverTimer = r.boolean('enableFastFailoverTimer', base.enableFastFailoverTimer);
    c.maxEarlyDialogs = r.integer('maxEarlyDialogs', base.maxEarlyDialogs, { min: 1, max: 1000 });
    c.srtpMode = r.oneOf('srtpMode', SRTP_MODES, base.srtpMode);
    c.concentratedTopology = r.boolean('concentratedTopology', base.concentratedTopology);
    c.enableBypass = r.boolean('enableBypass', base.enableBypass);
    c.rtcpActiveCalls = r.boolean('rtcpActiveCalls', base.rtcpActiveCalls);
    c.rtcpCallsOnHold = r.boolean('rtcpCallsOnHold', base.rtcpCallsOnHold);
    c.removePlusFromUri = r.boolean('removePlusFromUri', base.removePlusFromUri);
    const rules = (key: string): TranslationRule[] => {
      if (!r.has(key)) return (base as unknown as Record<string, TranslationRule[]>)[key];
      const list = this.objects(r, key, 'translationRule', 'a translation rule', (rule) => this.translationRule(rule));
      this.uniqueNames(
        list.map((rule, index) => ({ name: rule.name, path: pointer(r.at(key), index, 'name') })),
        'translation rule',
      );
      return list;
    };
    c.outboundTranslationRules = rules('outboundTranslationRules');
    c.outboundCallingNumberTranslationRules = rules('outboundCallingNumberTranslationRules');
    c.forwardCallHistory = r.boolean('forwardCallHistory', base.forwardCallHistory);
    c.forwardPai = r.boolean('forwardPai', base.forwardPai);
    if (r.has('sipResponseCodeTranslationRules')) {
      c.sipResponseCodeTranslationRules = this.objects(
        r,
        'sipResponseCodeTranslationRules',
        'responseCodeTranslationRule',
        'a response code translation rule',
        (rule): ResponseCodeTranslationRule => ({
          name: rule.requiredString('name', 'the rule name') ?? '',
          receivedResponseCode: rule.requiredInteger('receivedResponseCode', FINAL_CODE, 'a SIP status code') ?? 0,
          receivedIsupCauseValue: rule.nullableInteger(
            'receivedIsupCauseValue',
            null,
            { min: 0, max: 127 },
            'a Q.850 cause value or null',
          ),
          translatedResponseCode: rule.requiredInteger('translatedResponseCode', FINAL_CODE, 'a SIP status code') ?? 0,
        }),
      );
    }
    c.optionsIntervalMs = r.integer('optionsIntervalMs', base.optionsIntervalMs, POSITIVE_MS, 'milliseconds');
    c.optionsTimeoutMs = r.integer('optionsTimeoutMs', base.optionsTimeoutMs, POSITIVE_MS, 'milliseconds');
    c.failuresBeforeDown = r.integer('failuresBeforeDown', base.failuresBeforeDown, { min: 1, max: 1000 });
    c.successesBeforeUp = r.integer('successesBeforeUp', base.successesBeforeUp, { min: 1, max: 1000 });
    c.downProbeIntervalMs = r.integer('downProbeIntervalMs', base.downProbeIntervalMs, POSITIVE_MS, 'milliseconds');
    c.healthyOptionsResponse = r.oneOf(
      'healthyOptionsResponse',
      HEALTHY_OPTIONS_RESPONSES,
      base.healthyOptionsResponse,
    );
    c.fastFailoverTimeoutMs = r.integer(
      'fastFailoverTimeoutMs',
      base.fastFailoverTimeoutMs,
      POSITIVE_MS,
      'milliseconds',
    );
    c.fastFailoverStoppedBy = r.oneOf('fastFailoverStoppedBy', FAST_FAILOVER_STOPPED_BY, base.fastFailoverStoppedBy);
    c.sessionExpiresSeconds = r.integer(
      'sessionExpiresSeconds',
      base.sessionExpiresSeconds,
      { min: 90, max: 86_400 },
      'seconds (RFC 4028 Min-SE is 90)',
    );
    c.sessionRefreshIntervalMs = r.nullableInteger(
      'sessionRefreshIntervalMs',
      base.sessionRefreshIntervalMs,
      POSITIVE_MS,
      'milliseconds or null (half of Session-Expires)',
    );
    c.rtcpTimeoutMs = r.integer('rtcpTimeoutMs', base.rtcpTimeoutMs, POSITIVE_MS, 'milliseconds');
    const bypass = bypassProblem(c);
    if (bypass !== null) r.problem('enableBypass', bypass);
    r.finish();
    return c;
  }

  trunks(
    top: ObjectReader,
    servers: MediationServer[],
    peers: Peer[],
    global: TrunkConfiguration,
  ): { trunks: Trunk[]; paths: string[] } {
    const paths: string[] = [];
    const trunks = this.objects(top, 'trunks', 'trunk', 'a trunk', (r): Trunk => {
      paths.push(r.path);
      const name = r.requiredString('name', 'the trunk name') ?? '';
      if (name !== '' && !NAME.test(name)) r.problem('name', `${JSON.stringify(name)} is not ${NAME_EXPECTED}`);
      const msName = r.requiredString('mediationServer', 'the name of a Mediation Server') ?? '';
      const ms = servers.find((s) => s.name === msName);
      if (msName !== '' && ms === undefined) {
        r.problem(
          'mediationServer',
          `unknown Mediation Server "${msName}"${suggestion(
            msName,
            servers.map((s) => s.name),
          )}; the Mediation Servers are ${servers.map((s) => s.name).join(', ') || 'none'}`,
        );
      }
      const peerName = r.requiredString('peer', 'the name of a peer') ?? '';
      const peer = peers.find((p) => p.name === peerName);
      if (peerName !== '' && peer === undefined) {
        r.problem(
          'peer',
          `unknown peer "${peerName}"${suggestion(
            peerName,
            peers.map((p) => p.name),
          )}; the peers are ${peers.map((p) => p.name).join(', ') || 'none'}`,
        );
      }
      const configured = r.oneOf('transport', TRANSPORTS, peer?.transport ?? 'tcp');
      // An external device's transport, when given, wins over the trunk's.
      const transport = peer?.external?.transport ?? configured;
      const transportOverridden = transport !== configured;
      let peerPort = this.port(
        r,
        'peerPort',
        peer === undefined ? 0 : transport === peer.transport ? peer.port : DEFAULT_PEER_PORT[transport],
      );
      if (peer?.external != null) peerPort = peer.external.port;
      // The Mediation side follows the transport: a trunk whose transport an
      // external device changed takes the server's port for the new one.
      const explicitPort = r.has('mediationPort') ? this.port(r, 'mediationPort', 0) : null;
      const defaultMediationPort = ms?.gatewayPorts[transport] ?? null;
      let mediationPort = 0;
      if (explicitPort !== null && !transportOverridden) mediationPort = explicitPort;
      else if (defaultMediationPort !== null) mediationPort = defaultMediationPort;
      else if (ms !== undefined && peer !== undefined) {
        const message = `${ms.name} has no gateway-side ${transport.toUpperCase()} port; set gatewayPorts.${transport} on ${ms.name}`;
        if (transportOverridden) {
          this.problems.add(
            pointer('/peers', peers.indexOf(peer), 'external'),
            `${message} (trunk "${name}" uses ${transport.toUpperCase()} because of the external device's transport)`,
          );
        } else {
          r.problem('mediationPort', `${message}, or mediationPort on this trunk`);
        }
      }
      const configReader = r.object('configuration', K.trunkConfiguration, 'a trunk configuration');
      const configuration =
        configReader === null
          ? structuredClone(global)
          : this.trunkConfiguration(configReader, defaultTrunkConfiguration());
      return {
        name,
        mediationServer: msName,
        mediationAddress: ms?.gatewayAddress ?? '',
        mediationPort,
        peer: peerName,
        peerAddress: peer?.external?.host ?? peer?.address ?? '',
        peerPort,
        transport,
        configurationScope: configReader === null ? 'global' : 'trunk',
        configuration,
      };
    });
    this.uniqueNames(
      trunks.map((trunk, index) => ({ name: trunk.name, path: pointer(top.at('trunks'), index, 'name') })),
      'trunk',
    );
    return { trunks, paths };
  }
}

/** The canonical identity of a scope: `Global`, `Site:X`, `Service:Registrar:fe`, `Service:PstnGateway:gw-a`, `Tag:X`. */
export function scopeIdentity(scope: DialPlanScope | PolicyScope): string {
  switch (scope.kind) {
    case 'global':
      return 'Global';
    case 'site':
      return `Site:${scope.site}`;
    case 'pool':
      return `Service:Registrar:${scope.frontEnd}`;
    case 'gateway':
      return `Service:PstnGateway:${scope.peer}`;
    case 'user':
      return `Tag:${scope.tag}`;
  }
}

/** Validates and resolves a parsed topology document. */
export function resolveTopology(document: unknown, source: string): ResolveResult {
  const v = new Resolver();
  const top = ObjectReader.of(document, '', v.problems, K.topology, 'a topology');
  if (top === null) return { topology: null, problems: v.problems.list };

  const schema = top.raw('$schema');
  if (schema !== undefined && typeof schema !== 'string')
    top.problem('$schema', 'expected a string (the path or URL of topology.schema.json)');
  const description = v.text(top, 'description', '');
  v.sipDomain = top.string('sipDomain', 'contoso.com', 'a SIP domain');
  if (!FQDN.test(v.sipDomain))
    top.problem('sipDomain', `${JSON.stringify(v.sipDomain)} is not a domain name (e.g. "contoso.com")`);
  v.site = top.string('site', 'Site1', 'a site name');
  if (!/^[^:\s][^:]*$/.test(v.site))
    top.problem('site', `${JSON.stringify(v.site)} is not a site name (no ":" and not empty)`);

  const frontEnd = v.frontEnd(top);
  const { pools, servers, serverPaths } = v.mediationPools(top);
  const peers = v.peers(top);
  const users = v.users(top, frontEnd);
  const pstnUsages = v.pstnUsages(top);
  const dialPlans = v.dialPlans(top, frontEnd, peers);
  const voicePolicies = v.voicePolicies(top, frontEnd, pstnUsages);
  const { routes, trunkRefs } = v.voiceRoutes(top, pstnUsages);
  const globalReader = top.object('trunkConfiguration', K.trunkConfiguration, 'the global trunk configuration');
  const globalConfiguration = v.trunkConfiguration(globalReader, defaultTrunkConfiguration());
  const { trunks, paths: trunkPaths } = v.trunks(top, servers, peers, globalConfiguration);
  top.finish();

  const model: Topology = {
    source,
    description,
    sipDomain: v.sipDomain,
    site: v.site,
    frontEnd,
    users,
    dialPlans,
    voicePolicies,
    pstnUsages,
    voiceRoutes: routes,
    mediationPools: pools,
    mediationServers: servers,
    peers,
    trunks,
  };
  checkTopology(v.problems, model, { declared: v.declared, trunkRefs, serverPaths, trunkPaths });
  return { topology: v.problems.count === 0 ? model : null, problems: v.problems.list };
}

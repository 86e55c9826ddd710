/**
 * The built-in qualification cases, written in the scenario file format
 * (validated by `parseScenario` like any file) against the default lab
 * topology (fixtures/topologies/lab.json). The areas follow the domain doc's
 * "What a qualification run covers"; each id starts with its area.
 *
 * Against the emulated peers every case passes. With `--external PEER=...`
 * the same cases hold a real device to the same expectations: its numbers
 * must then behave as the emulated ones are described here (the busy
 * number answers 486, and so on). Cases whose call starts at an external
 * device are skipped: the harness cannot make a device dial.
 */
import { parseScenario, type Scenario } from './scenario.ts';

const call = (from: string, to: string, name?: string): object => ({ action: 'call', from, to, ...(name ? { call: name } : {}) });
const connected = (within = 10_000): object => ({ action: 'expect-call', state: 'connected', within });
const hangup = (): object => ({ action: 'hangup' });
const invite = (extra: object = {}): object => ({ action: 'expect', from: 'mediation', request: 'INVITE', ...extra });
const inviteFromPeer = (extra: object = {}): object => ({ action: 'expect', from: 'peer', request: 'INVITE', ...extra });
const final = (from: string, status: number | number[], extra: object = {}): object => ({ action: 'expect', from, response: 'final', status, toTag: true, within: 10_000, ...extra });
const byeRoundTrip = (from: string, to: string): object[] => [
  { action: 'expect', from, request: 'BYE' },
  { action: 'expect', from: to, response: 200, method: 'BYE', since: 'match' },
];

/** Mediation Server's offer on the gateway side (domain doc): G.711 both laws and telephone-event 101 with 0-16. */
const MEDIATION_OFFER = { codecs: ['PCMA', 'PCMU'], telephoneEvent: 101, telephoneEventFmtp: '0-16' };

const RAW: object[] = [
  // ------------------------------------------------------------ basic
  {
    id: 'basic-outbound-answer',
    title: 'Lync user calls a PSTN number; the gateway answers; the Lync user hangs up',
    steps: [
      call('alice', '+14255550110'),
      invite({ label: 'INVITE to the gateway: E.164 Request-URI, Mediation Server SDP', requestUri: '^sip:\\+14255550110@', headers: { 'User-Agent': 'MediationServer' }, sdp: { present: true, ...MEDIATION_OFFER } }),
      final('peer', 200, { label: '200 OK from the gateway with a To tag and an SDP answer', sdp: { present: true, direction: 'sendrecv', codecs: ['PCMA'] } }),
      { action: 'expect', from: 'mediation', request: 'ACK', since: 'match' },
      connected(),
      hangup(),
      ...byeRoundTrip('mediation', 'peer'),
    ],
  },
  {
    id: 'basic-inbound-answer',
    title: 'PSTN caller calls a Lync user through the gateway; the user answers; the caller hangs up',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('+14255550110', 'alice'),
      inviteFromPeer({ label: 'INVITE from the gateway with an SDP offer', sdp: { present: true } }),
      { action: 'expect', side: 'lync', to: 'alice', request: 'INVITE', label: 'the Front End rings alice' },
      final('mediation', 200, { label: '200 OK to the gateway with a To tag and an SDP answer', sdp: { present: true, direction: 'sendrecv' } }),
      { action: 'expect', from: 'peer', request: 'ACK', since: 'match' },
      connected(),
      hangup(),
      ...byeRoundTrip('peer', 'mediation'),
    ],
  },
  {
    id: 'basic-outbound-peer-hangup',
    title: 'The PSTN party hangs up: BYE from the gateway, answered 200 by the Mediation Server',
    steps: [call('alice', '+14255550120'), connected(), { action: 'expect', from: 'peer', request: 'BYE', within: 10_000 }, { action: 'expect', from: 'mediation', response: 200, method: 'BYE', since: 'match' }, { action: 'expect-call', state: 'ended' }],
  },
  {
    id: 'basic-outbound-sbc-international',
    title: 'International call dialed 011... reaches the ITSP SBC as E.164 over TLS',
    steps: [
      call('alice', '011442079460123'),
      invite({ requestUri: '^sip:\\+442079460123@', transport: 'tls' }),
      final('peer', 200),
      connected(),
      hangup(),
      ...byeRoundTrip('mediation', 'peer'),
    ],
  },
  {
    id: 'basic-inbound-pbx-extension',
    title: 'IP-PBX extension calls a Lync user: ms-call-source non-ms-rtc on the Lync side, caller normalized to E.164',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('2160', 'alice'),
      inviteFromPeer({ headers: { From: '2160' } }),
      { action: 'expect', side: 'lync', to: 'alice', request: 'INVITE', headers: { 'ms-call-source': '^non-ms-rtc$', From: 'sip:2160;phone-context=dialstring@' } },
      final('mediation', 200),
      connected(),
      hangup(),
      ...byeRoundTrip('peer', 'mediation'),
    ],
  },
  // ------------------------------------------------------------ caller ID
  {
    id: 'caller-id-outbound-pai',
    title: 'ForwardPAI on: the INVITE to the IP-PBX carries P-Asserted-Identity with the translated calling number',
    steps: [
      call('alice', '2160'),
      invite({ headers: { 'P-Asserted-Identity': '^<sip:0101@', From: 'sip:0101@' } }),
      final('peer', 200),
      hangup(),
    ],
  },
  {
    id: 'caller-id-outbound-no-pai',
    title: 'ForwardPAI off: no P-Asserted-Identity towards the gateway; the caller is in From as E.164',
    steps: [call('alice', '+14255550110'), invite({ headers: { 'P-Asserted-Identity': false, From: 'sip:\\+14255550101@' } }), final('peer', 200), hangup()],
  },
  // ------------------------------------------------------------ cancel, busy, no answer
  {
    id: 'cancel-outbound',
    title: 'Lync user gives up while the PSTN number rings: CANCEL, 487, 200 (CANCEL), ACK',
    steps: [
      call('alice', '+14255550112'),
      { action: 'expect', from: 'peer', response: 180 },
      { action: 'wait', ms: 200 },
      { action: 'cancel' },
      { action: 'expect', from: 'mediation', request: 'CANCEL' },
      { action: 'expect', from: 'peer', response: 200, method: 'CANCEL' },
      final('peer', 487, { label: '487 Request Terminated for the INVITE' }),
      { action: 'expect', from: 'mediation', request: 'ACK', since: 'match' },
      { action: 'expect', side: 'lync', to: 'alice', response: 'final', status: 487 },
      { action: 'expect-call', state: ['failed', 'ended'] },
    ],
  },
  {
    id: 'cancel-inbound',
    title: 'PSTN caller gives up while the Lync user rings: CANCEL from the gateway, 487 from the Mediation Server',
    steps: [
      call('+14255550110', 'frank'),
      { action: 'expect', from: 'mediation', response: 'provisional', sinceInviteMs: { max: 5000 } },
      { action: 'wait', ms: 200 },
      { action: 'cancel' },
      { action: 'expect', from: 'peer', request: 'CANCEL' },
      { action: 'expect', from: 'mediation', response: 200, method: 'CANCEL' },
      final('mediation', 487),
    ],
  },
  {
    id: 'busy-outbound-486',
    title: 'Busy PSTN number: 486 from the gateway reaches the Lync user as 486; no other trunk is tried',
    steps: [
      call('alice', '+14255550111'),
      final('peer', 486),
      { action: 'expect', from: 'mediation', request: 'ACK', since: 'match' },
      { action: 'expect', side: 'lync', to: 'alice', response: 'final', status: 486 },
      { action: 'expect', from: 'mediation', request: 'INVITE', since: 'start', nth: 2, absent: true, within: 500, label: 'no second trunk tried for a 4xx' },
      { action: 'expect-call', state: 'failed', status: 486 },
    ],
  },
  {
    id: 'busy-inbound-486',
    title: 'Busy Lync user: the gateway gets 486 Busy Here',
    steps: [call('+14255550110', 'dave'), inviteFromPeer(), final('mediation', 486), { action: 'expect', from: 'peer', request: 'ACK', since: 'match' }],
  },
  {
    id: 'no-answer-outbound-480',
    title: 'Temporarily unavailable PSTN number: 480 from the gateway ends the call',
    steps: [call('alice', '+14255550121'), { action: 'expect', from: 'peer', response: 'provisional' }, final('peer', 480), { action: 'expect-call', state: 'failed', status: 480 }],
  },
  {
    id: 'no-answer-inbound-unregistered',
    title: 'Lync user with no endpoint signed in: the gateway gets 480 with ms-diagnostics',
    steps: [call('+14255550110', 'erin'), final('mediation', 480, { headers: { 'ms-diagnostics': '^\\d+;reason=' } })],
  },
  // ------------------------------------------------------------ ringback and early media
  {
    id: 'ringback-180-post-dial-delay',
    title: 'Ringback: 180 Ringing from the gateway within 3 s of the INVITE (post-dial delay)',
    steps: [
      call('alice', '+14255550110'),
      { action: 'expect', from: 'peer', response: 180, sinceInviteMs: { max: 3000 } },
      { action: 'expect', side: 'lync', to: 'alice', response: 180 },
      { action: 'expect-call', state: ['ringing', 'connected'], postDialDelayMs: { max: 3000 } },
      connected(),
      hangup(),
    ],
  },
  {
    id: 'early-media-183-with-sdp',
    title: 'Early media (RFC 3960): 183 with SDP from the gateway is relayed to the Lync user, then 200',
    steps: [
      call('alice', '+14255550115'),
      { action: 'early-media', sdp: true },
      { action: 'early-media', side: 'lync', from: 'front-end', to: 'alice', sdp: true, label: '183 with SDP reaches alice' },
      { action: 'expect-call', state: 'early-media', within: 2000 },
      final('peer', 200, { sdp: { present: true } }),
      connected(),
      hangup(),
    ],
  },
  {
    id: 'early-media-183-without-sdp',
    title: '183 without SDP, then 180: the call rings and is answered',
    steps: [call('alice', '+14255550116'), { action: 'early-media', sdp: false }, { action: 'expect', from: 'peer', response: 180 }, final('peer', 200), connected(), hangup()],
  },
  {
    id: 'early-media-announcement-then-404',
    title: 'Carrier announcement in early media, then 404: the call fails with 404 and no failover',
    steps: [call('alice', '+12065550102'), { action: 'early-media', sdp: true }, final('peer', 404, { within: 15_000 }), { action: 'expect-call', state: 'failed', status: 404 }],
  },
  // ------------------------------------------------------------ hold and resume
  {
    id: 'hold-resume-outbound',
    title: 'Lync holds with a=inactive and resumes with a=sendrecv; the gateway answers in kind (RFC 3264 §6.1)',
    steps: [
      call('alice', '+14255550110'),
      connected(),
      { action: 'hold' },
      invite({ label: 'hold re-INVITE on the trunk: a=inactive', sdp: { direction: 'inactive' } }),
      { action: 'expect', from: 'peer', response: 200, since: 'match', label: 'the gateway answers the hold with a=inactive', sdp: { direction: 'inactive' } },
      { action: 'expect', from: 'mediation', request: 'BYE', absent: true, within: 300, label: 'the call stays up' },
      { action: 'resume' },
      invite({ label: 'resume re-INVITE: a=sendrecv', sdp: { direction: 'sendrecv' } }),
      { action: 'expect', from: 'peer', response: 200, since: 'match', sdp: { direction: 'sendrecv' } },
      connected(2000),
      hangup(),
      ...byeRoundTrip('mediation', 'peer'),
    ],
  },
  {
    id: 'hold-resume-inbound',
    title: 'Hold and resume on a call from the PSTN (the Lync user holds)',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('+14255550110', 'alice'),
      connected(),
      { action: 'hold' },
      invite({ sdp: { direction: 'inactive' } }),
      { action: 'expect', from: 'peer', response: 200, since: 'match', sdp: { direction: 'inactive' } },
      { action: 'resume' },
      invite({ sdp: { direction: 'sendrecv' } }),
      { action: 'expect', from: 'peer', response: 200, since: 'match', sdp: { direction: 'sendrecv' } },
      hangup(),
    ],
  },
  // ------------------------------------------------------------ transfer
  {
    id: 'transfer-refer-on',
    title: 'EnableReferSupport on: a Lync transfer becomes a REFER to the gateway, which accepts it (202) and calls the target',
    userBehaviour: { bob: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('alice', '+14255550110'),
      connected(),
      { action: 'transfer', target: 'bob' },
      { action: 'expect', from: 'mediation', request: 'REFER', headers: { 'Refer-To': '14255550102', 'Referred-By': true } },
      { action: 'expect', from: 'peer', response: 202, method: 'REFER', since: 'match' },
      { action: 'expect', from: 'peer', request: 'INVITE', requestUri: '14255550102', label: 'the gateway calls the transfer target' },
      { action: 'expect', from: 'peer', request: 'NOTIFY', headers: { Event: '^refer' } },
    ],
  },
  {
    id: 'transfer-refer-off',
    title: 'EnableReferSupport off: no REFER is sent to the IP-PBX',
    steps: [
      call('alice', '2160'),
      connected(),
      { action: 'transfer', target: 'bob', mayFail: true },
      { action: 'expect', side: 'trunk', request: 'REFER', absent: true, within: 800 },
      hangup(),
    ],
  },
  // ------------------------------------------------------------ session timers
  {
    id: 'session-timer-on',
    title: 'EnableSessionTimer on: Session-Expires in the INVITE (RFC 4028), the Mediation Server refreshes with re-INVITEs the peer answers',
    trunkSettings: { 't-med-1-pbx': { sessionExpiresSeconds: 90, sessionRefreshIntervalMs: 500 } },
    steps: [
      call('alice', '2160'),
      invite({ headers: { 'Session-Expires': '^90;refresher=uac' } }),
      final('peer', 200),
      connected(),
      { action: 'expect', from: 'mediation', request: 'INVITE', nth: 2, since: 'start', within: 3000, label: 'a session refresh re-INVITE' },
      { action: 'expect', from: 'peer', response: 200, since: 'match', sdp: { present: true } },
      hangup(),
    ],
  },
  {
    id: 'session-timer-off',
    title: 'EnableSessionTimer off: no Session-Expires towards the gateway',
    steps: [call('alice', '+14255550110'), invite({ headers: { 'Session-Expires': false } }), final('peer', 200), hangup()],
  },
  // ------------------------------------------------------------ DTMF
  {
    id: 'dtmf-rfc4733-outbound',
    title: 'RFC 4733: the Mediation Server offers telephone-event 101 (0-16); the gateway accepts it; digits can be sent',
    steps: [
      call('alice', '+14255550110'),
      invite({ sdp: { telephoneEvent: 101, telephoneEventFmtp: '0-16' } }),
      final('peer', 200, { sdp: { telephoneEvent: true } }),
      connected(),
      { action: 'dtmf', digits: '123#' },
      hangup(),
    ],
  },
  {
    id: 'dtmf-rfc4733-inbound',
    title: 'RFC 4733 on calls from the PSTN: the gateway offers telephone-event and the Mediation Server answers with it',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [call('+14255550110', 'alice'), inviteFromPeer({ sdp: { telephoneEvent: true } }), final('mediation', 200, { sdp: { telephoneEvent: 101 } }), hangup()],
  },
  // ------------------------------------------------------------ OPTIONS keep-alive
  {
    id: 'options-keepalive',
    title: 'OPTIONS keep-alive: the Mediation Server probes the peer, which answers 200',
    globalTrunkSettings: { optionsIntervalMs: 200 },
    steps: [
      { action: 'expect', from: 'mediation', to: 'gw-a', request: 'OPTIONS', since: 'start', within: 2000 },
      { action: 'expect', from: 'gw-a', response: 200, method: 'OPTIONS', since: 'match', toTag: true },
      { action: 'expect', from: 'mediation', to: 'gw-a', request: 'OPTIONS', since: 'match', within: 2000, label: 'probes continue' },
    ],
  },
  // ------------------------------------------------------------ failover
  {
    id: 'failover-trunk-503',
    title: '503 from one gateway: the Front End tries the next trunk of the route, which answers',
    steps: [
      call('alice', '+14255550143'),
      { action: 'expect', from: 'gw-b', response: 'final', status: 503 },
      { action: 'expect', from: 'mediation', to: 'gw-c', request: 'INVITE' },
      final('gw-c', 200),
      { action: 'expect-call', state: 'connected', trunks: ['t-med-1-gw-b', 't-med-1-gw-c'] },
      hangup(),
    ],
  },
  {
    id: 'failover-trunk-fast-failover-timer',
    title: 'Fast failover timer: a silent gateway (no provisional) is abandoned for the next trunk',
    trunkSettings: { 't-med-1-gw-b': { fastFailoverTimeoutMs: 1000 } },
    steps: [
      call('alice', '+14255550148'),
      { action: 'expect', from: 'mediation', to: 'gw-b', request: 'INVITE' },
      { action: 'expect', from: 'gw-b', response: 'provisional', absent: true, within: 800, label: 'the gateway stays silent' },
      { action: 'expect', from: 'mediation', to: 'gw-c', request: 'INVITE', since: 'start', within: 5000 },
      final('gw-c', 200),
      { action: 'expect-call', state: 'connected', trunks: ['t-med-1-gw-b', 't-med-1-gw-c'] },
      hangup(),
    ],
  },
  {
    id: 'failover-mediation-server',
    title: 'A Mediation Server of the pool is down: the call goes through another pool member to the same gateway',
    steps: [
      { action: 'stop-mediation-server', server: 'med-3' },
      call('alice', '+14255550170'),
      { action: 'expect', from: 'mediation', to: 'gw-d', request: 'INVITE' },
      final('gw-d', 200),
      { action: 'expect-call', state: 'connected', trunks: ['t-med-3-gw-d', 't-med-4-gw-d'] },
      hangup(),
    ],
  },
  // ------------------------------------------------------------ response code translation
  {
    id: 'response-code-translation-486-cause-34',
    title: 'SipResponseCodeTranslation: 486 with ISUP cause 34 becomes 503, so the next trunk is tried',
    steps: [
      call('alice', '+14255550144'),
      { action: 'expect', from: 'gw-b', response: 'final', status: 486 },
      { action: 'expect', from: 'mediation', to: 'gw-c', request: 'INVITE' },
      final('gw-c', 200),
      connected(),
      hangup(),
    ],
  },
  {
    id: 'response-code-translation-406',
    title: 'SipResponseCodeTranslation: 406 becomes 503, so the next trunk is tried',
    steps: [call('alice', '+14255550149'), { action: 'expect', from: 'gw-b', response: 'final', status: 406 }, { action: 'expect', from: 'mediation', to: 'gw-c', request: 'INVITE' }, connected(), hangup()],
  },
  {
    id: 'response-code-404-ends-call',
    title: 'A 404 (no translation rule) ends the call: no other trunk is tried',
    steps: [
      call('alice', '+14255550145'),
      { action: 'expect', from: 'gw-b', response: 'final', status: 404 },
      { action: 'expect', from: 'mediation', to: 'gw-c', request: 'INVITE', absent: true, within: 500 },
      { action: 'expect-call', state: 'failed', status: 404 },
    ],
  },
  // ------------------------------------------------------------ translation rules
  {
    id: 'translation-remove-plus',
    title: 'RemovePlusFromUri: the number reaches the gateway without its +',
    steps: [call('alice', '+14255550140'), invite({ to: 'gw-b', requestUri: '^sip:14255550140@', headers: { To: 'sip:14255550140@', From: 'sip:14255550101@' } }), final('gw-b', 200), hangup()],
  },
  {
    id: 'translation-outbound-rules',
    title: 'Outbound translation rules: a Lync user dials +1 425 555 0160, the IP-PBX receives extension 2160 from 0101',
    steps: [call('alice', '+14255550160'), invite({ requestUri: '^sip:2160@', headers: { From: 'sip:0101@' } }), final('peer', 200), hangup()],
  },
  // ------------------------------------------------------------ History-Info
  {
    id: 'history-info-forwarded',
    title: 'ForwardCallHistory on: History-Info (never Diversion) towards the IP-PBX',
    steps: [call('alice', '2160'), invite({ headers: { 'History-Info': 'index=1', Diversion: false } }), final('peer', 200), hangup()],
  },
  {
    id: 'history-info-off',
    title: 'ForwardCallHistory off: neither History-Info nor Diversion towards the gateway',
    steps: [call('alice', '+14255550110'), invite({ headers: { 'History-Info': false, Diversion: false } }), final('peer', 200), hangup()],
  },
  // ------------------------------------------------------------ TLS and SRTP
  {
    id: 'tls-srtp-required-sbc',
    title: 'TLS trunk with SRTPMode Required: the INVITE to the SBC goes over TLS and offers SRTP',
    steps: [call('alice', '+12065550100'), invite({ transport: 'tls', sdp: { crypto: true } }), final('peer', 200, { transport: 'tls' }), connected(), hangup()],
  },
  {
    id: 'tls-srtp-optional-gateway',
    title: 'TLS trunk with SRTPMode Optional: the gateway is reached over TLS and SRTP is offered',
    steps: [call('alice', '+14255550143'), invite({ to: 'gw-c', transport: 'tls', sdp: { crypto: true, codecs: ['PCMA', 'PCMU'] } }), final('gw-c', 200, { transport: 'tls' }), connected(), hangup()],
  },
];

let cached: Scenario[] | null = null;

/** The built-in cases, validated. */
export function builtInCases(): Scenario[] {
  cached ??= RAW.map((raw, i) => parseScenario(raw, `built-in case ${i + 1}`));
  return cached;
}

/** Cases whose id matches a pattern: comma-separated globs (`hold-*,basic-outbound-*`) or a substring. */
export function selectCases(cases: readonly Scenario[], pattern: string | undefined): Scenario[] {
  if (pattern === undefined || pattern === '') return [...cases];
  const parts = pattern.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  const tests = parts.map((p) => (p.includes('*') || p.includes('?') ? new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`) : { test: (id: string) => id.includes(p) }));
  return cases.filter((c) => tests.some((t) => t.test(c.id)));
}

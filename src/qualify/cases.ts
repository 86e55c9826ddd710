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
    id: 'basic-outbound-100-trying',
    title: '100 Trying from the gateway within 200 ms of the INVITE (RFC 3261 §17.2.1), then the call goes on',
    description:
      'RFC 3261 §17.2.1: the INVITE server transaction sends 100 Trying unless the TU answers within 200 ms; until a provisional response arrives the Mediation Server retransmits the INVITE over UDP and cannot tell a slow gateway from a lost INVITE. Checked strictly: a 100 within 200 ms.',
    steps: [
      call('alice', '+14255550110'),
      invite({ label: 'INVITE to the gateway' }),
      { action: 'expect', from: 'peer', response: 100, method: 'INVITE', since: 'match', within: 2000, sinceInviteMs: { max: 200 }, label: '100 Trying from the gateway within 200 ms of the INVITE' },
      final('peer', 200),
      connected(),
      hangup(),
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
  {
    id: 'caller-id-inbound-anonymous',
    title: 'PSTN caller with presentation restricted: From anonymous, Privacy: id and the number only in P-Asserted-Identity; the Lync user sees anonymous',
    description:
      'RFC 3323 §4.1.1.3 and RFC 3325 §9.3. ForwardPAI is off on this trunk: the number stays on the trunk (the Lync side gets From anonymous and Privacy: id, never the number). The Mediation Server keeping the privacy is unverified (not in the Lync documentation).',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('+14255550123', 'alice'),
      inviteFromPeer({ label: 'the gateway withholds the number: From anonymous, Privacy: id, P-Asserted-Identity', headers: { From: '^"?Anonymous"? *<sip:anonymous@anonymous\\.invalid>', Privacy: '\\bid\\b', 'P-Asserted-Identity': '\\+14255550123' } }),
      { action: 'expect', side: 'lync', from: 'mediation', request: 'INVITE', label: 'Mediation → Front End: anonymous, Privacy: id, no P-Asserted-Identity (ForwardPAI off)', headers: { From: '^(?!.*14255550123).*<sip:anonymous@anonymous\\.invalid>', Privacy: '\\bid\\b', 'P-Asserted-Identity': false } },
      { action: 'expect', side: 'lync', to: 'alice', request: 'INVITE', label: 'alice sees an anonymous caller', headers: { From: '^(?!.*14255550123)"Anonymous" <sip:anonymous@anonymous\\.invalid>', 'P-Asserted-Identity': false } },
      final('mediation', 200),
      connected(),
      hangup(),
    ],
  },
  {
    id: 'caller-id-inbound-anonymous-forward-pai',
    title: 'ForwardPAI on, anonymous PSTN caller: the Mediation Server keeps P-Asserted-Identity and Privacy: id towards the Front End, which gives the Lync user no number',
    description: 'RFC 3325 §5: the asserted identity stays in the trust domain (Mediation Server, Front End); a Lync endpoint gets From anonymous without P-Asserted-Identity.',
    trunkSettings: { 't-med-1-gw-a': { forwardPai: true } },
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('anonymous', 'alice'),
      inviteFromPeer({ headers: { From: 'anonymous@anonymous\\.invalid', Privacy: '\\bid\\b', 'P-Asserted-Identity': '\\+14255550110' } }),
      { action: 'expect', side: 'lync', from: 'mediation', request: 'INVITE', label: 'Mediation → Front End keeps P-Asserted-Identity and Privacy: id', headers: { From: '^(?!.*14255550110).*<sip:anonymous@anonymous\\.invalid>', Privacy: '\\bid\\b', 'P-Asserted-Identity': '\\+14255550110' } },
      { action: 'expect', side: 'lync', to: 'alice', request: 'INVITE', label: 'alice sees anonymous, no P-Asserted-Identity', headers: { From: '^(?!.*14255550110).*anonymous@anonymous\\.invalid', 'P-Asserted-Identity': false } },
      final('mediation', 200),
      hangup(),
    ],
  },
  {
    id: 'caller-id-outbound-anonymous',
    title: 'Lync user with caller ID blocked calls the PSTN: From anonymous and Privacy: id towards the gateway, no P-Asserted-Identity with ForwardPAI off',
    description: 'The blocked user sends Privacy: id (RFC 3323); the Mediation Server sends From sip:anonymous@anonymous.invalid (RFC 3323 §4.1.1.3). The per-user setting and the Mediation Server behaviour are unverified (not in the Lync documentation).',
    userBehaviour: { alice: { callerPresentation: 'restricted' } },
    steps: [
      call('alice', '+14255550110'),
      { action: 'expect', side: 'lync', from: 'alice', request: 'INVITE', headers: { Privacy: '\\bid\\b' } },
      invite({ label: 'INVITE to the gateway: From anonymous, Privacy: id, no number', headers: { From: '^(?!.*14255550101)"Anonymous" <sip:anonymous@anonymous\\.invalid>', Privacy: '\\bid\\b', 'P-Asserted-Identity': false } }),
      final('peer', 200),
      connected(),
      hangup(),
    ],
  },
  {
    id: 'caller-id-outbound-anonymous-forward-pai',
    title: 'ForwardPAI on, Lync user with caller ID blocked: From anonymous and Privacy: id, the number only in P-Asserted-Identity',
    userBehaviour: { alice: { callerPresentation: 'restricted' } },
    steps: [
      call('alice', '2160'),
      invite({ headers: { From: '^(?!.*0101)"Anonymous" <sip:anonymous@anonymous\\.invalid>', Privacy: '\\bid\\b', 'P-Asserted-Identity': '^<sip:0101@' } }),
      final('peer', 200),
      hangup(),
    ],
  },
  // ------------------------------------------------------------ PRACK (RFC 3262)
  {
    id: 'prack-outbound-183-reliable',
    title: 'Reliable early media: the gateway sends 183 with SDP, Require: 100rel and RSeq; the Mediation Server PRACKs it; the 200 follows the PRACK',
    description: 'RFC 3262 §3-§4: the Mediation Server announces Supported: 100rel; a reliable 183 is acknowledged with PRACK (RAck: RSeq CSeq INVITE), and the 2xx may come only once a reliable provisional with SDP is acknowledged.',
    steps: [
      call('alice', '+14255550122'),
      invite({ label: 'the INVITE announces Supported: 100rel', headers: { Supported: '100rel' } }),
      { action: 'expect', from: 'peer', response: 183, label: 'reliable 183 with SDP: Require: 100rel, RSeq', headers: { Require: '100rel', RSeq: '^\\s*\\d+\\s*$' }, sdp: { present: true }, toTag: true },
      { action: 'prack', label: 'PRACK with the RAck of that 183 (RSeq CSeq INVITE), and its 200' },
      { action: 'early-media', side: 'lync', from: 'front-end', to: 'alice', sdp: true, label: 'the early media reaches alice' },
      final('peer', 200, { afterPrack: true, label: '200 OK (INVITE) only once the 183 is PRACKed', sdp: { present: true } }),
      { action: 'expect', from: 'mediation', request: 'PRACK', since: 'start', nth: 2, absent: true, within: 300, label: 'one PRACK: the 183 was not PRACKed twice' },
      connected(),
      hangup(),
    ],
  },
  {
    id: 'prack-inbound-require-100rel',
    title: 'Call from a gateway that requires 100rel: the Mediation Server sends its 180 reliably (RSeq) and answers the PRACK before its 200',
    description: 'RFC 3262 §3: an INVITE with Require: 100rel gets every provisional (but 100) reliably; the gateway PRACKs it, the Mediation Server answers 200 (PRACK).',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 500 } },
    steps: [
      call('+14255550122', 'alice'),
      inviteFromPeer({ headers: { Require: '100rel' } }),
      { action: 'expect', from: 'mediation', response: 180, label: 'reliable 180: Require: 100rel, RSeq', headers: { Require: '100rel', RSeq: '^\\s*\\d+\\s*$' }, toTag: true },
      { action: 'expect', from: 'peer', request: 'PRACK', since: 'match', rack: true },
      { action: 'expect', from: 'mediation', response: 200, method: 'PRACK', since: 'match', label: 'the Mediation Server answers the PRACK' },
      final('mediation', 200, { since: 'match', afterPrack: true }),
      connected(),
      hangup(),
    ],
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
    id: 'early-media-dtmf-before-answer',
    title: 'DTMF during early media: the Lync user keys digits into an IVR that plays 183 with SDP and answers late; they reach the gateway before the answer, and the IVR\'s digits reach the user',
    steps: [
      call('alice', '+14255550115'),
      { action: 'early-media', sdp: true },
      { action: 'expect-call', state: 'early-media', within: 2000 },
      { action: 'dtmf', digits: '0*', label: 'alice keys 0* in early media (RFC 4733 on the SDP of the 183)' },
      { action: 'expect-dtmf', to: 'peer', digits: '0*', payloadType: 101, beforeAnswer: true, within: 3000, label: '0* reaches the gateway before it answers' },
      { action: 'expect-dtmf', to: 'alice', digits: '123#', within: 5000, label: "the IVR's digits 123# reach alice" },
      final('peer', 200, { within: 10_000 }),
      connected(),
      hangup(),
    ],
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
  {
    id: 'hold-resume-from-pstn',
    title: 'The PSTN side holds (a=sendonly) and resumes: the Mediation Server answers a=recvonly and relays the hold to the Lync user, who answers a=recvonly',
    description: 'RFC 3264 §8.4: a hold offered with a=sendonly is answered a=recvonly, on the trunk and on the Lync side; resume with a=sendrecv.',
    steps: [
      call('alice', '+14255550110'),
      connected(),
      { action: 'peer-hold' },
      inviteFromPeer({ label: 'hold re-INVITE from the gateway: a=sendonly', sdp: { direction: 'sendonly' } }),
      { action: 'expect', from: 'mediation', response: 200, since: 'match', label: 'the Mediation Server answers a=recvonly', sdp: { direction: 'recvonly' } },
      { action: 'expect', side: 'lync', from: 'front-end', to: 'alice', request: 'INVITE', label: 'the hold reaches alice: a=sendonly', sdp: { direction: 'sendonly' } },
      { action: 'expect', side: 'lync', from: 'alice', response: 200, since: 'match', label: 'alice answers a=recvonly', sdp: { direction: 'recvonly' } },
      { action: 'expect-call', state: 'held', within: 2000 },
      { action: 'peer-resume' },
      inviteFromPeer({ label: 'resume re-INVITE: a=sendrecv', sdp: { direction: 'sendrecv' } }),
      { action: 'expect', from: 'mediation', response: 200, since: 'match', sdp: { direction: 'sendrecv' } },
      { action: 'expect', side: 'lync', from: 'front-end', to: 'alice', request: 'INVITE', sdp: { direction: 'sendrecv' } },
      { action: 'expect', side: 'lync', from: 'alice', response: 200, since: 'match', sdp: { direction: 'sendrecv' } },
      connected(2000),
      hangup(),
      ...byeRoundTrip('mediation', 'peer'),
    ],
  },
  {
    id: 'hold-resume-from-pstn-inactive',
    title: 'On a call from the PSTN, the caller holds with a=inactive and resumes: a=inactive on both legs, then a=sendrecv',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('+14255550110', 'alice'),
      connected(),
      { action: 'peer-hold', direction: 'inactive' },
      inviteFromPeer({ sdp: { direction: 'inactive' } }),
      { action: 'expect', from: 'mediation', response: 200, since: 'match', sdp: { direction: 'inactive' } },
      { action: 'expect', side: 'lync', to: 'alice', request: 'INVITE', sdp: { direction: 'inactive' } },
      { action: 'expect', side: 'lync', from: 'alice', response: 200, since: 'match', sdp: { direction: 'inactive' } },
      { action: 'peer-resume' },
      inviteFromPeer({ sdp: { direction: 'sendrecv' } }),
      { action: 'expect', side: 'lync', from: 'alice', response: 200, sdp: { direction: 'sendrecv' } },
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
  {
    id: 'transfer-attended-replaces',
    title: 'Attended transfer, EnableReferSupport on: alice consults bob, then REFERs the gateway with Replaces; the gateway INVITEs bob with Replaces, which ends the consultation',
    description: 'RFC 3891 and RFC 3515: Refer-To <sip:...?Replaces=call-id%3Bto-tag%3D...%3Bfrom-tag%3D...>; the INVITE with Replaces is answered at once, the replaced dialog ends with BYE, the NOTIFYs carry message/sipfrag, the gateway ends the transferred call.',
    userBehaviour: { bob: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('alice', '+14255550110'),
      connected(),
      { action: 'hold' },
      { action: 'expect', from: 'peer', response: 200, label: 'the gateway takes the hold' },
      call('alice', 'bob', 'consult'),
      { action: 'expect-call', call: 'consult', state: 'connected', within: 10_000 },
      { action: 'transfer', replaces: 'consult' },
      { action: 'expect', side: 'lync', from: 'alice', request: 'REFER', headers: { 'Refer-To': '^<sip:bob@[^>]*\\?Replaces=[^>]*to-tag%3D[^>]*from-tag%3D', 'Referred-By': true } },
      { action: 'expect', from: 'mediation', request: 'REFER', label: 'REFER to the gateway: bob\'s number with the Replaces', headers: { 'Refer-To': '^<sip:\\+14255550102@[^>]*\\?Replaces=[^>]*%3Bto-tag%3D[^>]*%3Bfrom-tag%3D' } },
      { action: 'expect', from: 'peer', response: 202, method: 'REFER', since: 'match' },
      { action: 'expect', from: 'peer', request: 'INVITE', requestUri: '14255550102', label: 'the gateway INVITEs with Replaces', headers: { Replaces: ';\\s*to-tag=.*;\\s*from-tag=|;\\s*from-tag=.*;\\s*to-tag=' } },
      { action: 'expect', side: 'lync', to: 'bob', request: 'INVITE', headers: { Replaces: 'to-tag=' } },
      { action: 'expect', side: 'lync', from: 'bob', response: 'final', status: 200, since: 'match', label: 'bob answers at once (no ringing)' },
      { action: 'expect', side: 'lync', from: 'bob', request: 'BYE', label: 'the replaced consultation dialog ends with BYE' },
      { action: 'expect', from: 'peer', request: 'NOTIFY', nth: 2, label: 'NOTIFY (sipfrag 200) ends the subscription', headers: { Event: '^refer', 'Content-Type': 'message/sipfrag', 'Subscription-State': '^terminated' } },
      { action: 'expect', from: 'peer', request: 'BYE', label: 'the gateway ends the transferred call' },
      { action: 'expect-call', state: 'ended' },
      { action: 'expect-call', call: 'consult', state: 'ended' },
    ],
  },
  {
    id: 'transfer-attended-refer-off',
    title: 'Attended transfer, EnableReferSupport off: no REFER to the gateway; the Mediation Server INVITEs bob with Replaces and re-INVITEs the held gateway to sendrecv',
    description: 'The Mediation Server does the transfer itself (RFC 3891 INVITE with Replaces through the Front End) and takes the peer off hold with a re-INVITE (third-party call control, RFC 3725). Unverified: the Lync documentation says only that the trunk takes no REFER.',
    trunkSettings: { 't-med-1-gw-a': { enableReferSupport: false } },
    userBehaviour: { bob: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('alice', '+14255550110'),
      connected(),
      { action: 'hold' },
      { action: 'expect', from: 'peer', response: 200, sdp: { direction: 'inactive' } },
      call('alice', 'bob', 'consult'),
      { action: 'expect-call', call: 'consult', state: 'connected', within: 10_000 },
      { action: 'transfer', replaces: 'consult' },
      { action: 'expect', side: 'lync', from: 'mediation', request: 'INVITE', label: 'the Mediation Server INVITEs bob with Replaces', headers: { Replaces: 'to-tag=', 'Referred-By': true } },
      { action: 'expect', side: 'lync', from: 'bob', response: 'final', status: 200 },
      { action: 'expect', side: 'lync', from: 'bob', request: 'BYE', label: 'the replaced consultation dialog ends with BYE' },
      { action: 'expect', side: 'lync', from: 'mediation', request: 'NOTIFY', nth: 2, headers: { 'Subscription-State': '^terminated' } },
      invite({ label: 're-INVITE to the gateway: off hold (a=sendrecv)', sdp: { direction: 'sendrecv' } }),
      { action: 'expect', from: 'peer', response: 200, since: 'match', sdp: { direction: 'sendrecv' } },
      { action: 'expect', side: 'trunk', request: 'REFER', since: 'start', absent: true, within: 300, label: 'no REFER on the trunk' },
      { action: 'expect', from: 'mediation', request: 'BYE', absent: true, within: 300, label: 'the gateway stays up' },
      { action: 'expect-call', state: 'ended' },
      { action: 'expect-call', call: 'consult', state: 'ended' },
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
    id: 'session-timer-refresh-now',
    title: 'The Mediation Server refreshes the session on demand: a re-INVITE with the same media (o= version + 1) on the trunk, 200 from the gateway, the call stays up',
    description: 'RFC 4028 §10 with the Mediation Server as refresher: its refresh is a re-INVITE whose SDP keeps the media and raises the o= version by one (RFC 3264 §8, as every offer of its own), with Session-Expires; nothing is relayed to the Lync side.',
    trunkSettings: { 't-med-1-pbx': { sessionExpiresSeconds: 1800 } },
    steps: [
      call('alice', '2160'),
      invite({ headers: { 'Session-Expires': '^1800;refresher=uac' } }),
      final('peer', 200),
      connected(),
      { action: 'refresh' },
      { action: 'expect', from: 'mediation', request: 'INVITE', label: 'the refresh re-INVITE: Session-Expires, same media, o= version + 1', headers: { 'Session-Expires': '^1800;refresher=uac' }, sdp: { present: true, direction: 'sendrecv', version: 'next', sameMedia: true } },
      { action: 'expect', from: 'peer', response: 200, method: 'INVITE', since: 'match', toTag: true, sdp: { present: true, direction: 'sendrecv' } },
      { action: 'expect', from: 'mediation', request: 'ACK', since: 'match' },
      { action: 'expect', side: 'lync', request: 'INVITE', absent: true, within: 300, label: 'nothing relayed to the Lync side' },
      { action: 'expect-call', state: 'connected', within: 1000, label: 'the call stays connected' },
      hangup(),
    ],
  },
  {
    id: 'session-timer-peer-refresh',
    title: 'The gateway refreshes the session (re-INVITE, SDP unchanged): the Mediation Server answers 200 itself, nothing reaches the Lync side',
    description: 'Domain doc: the Mediation Server always answers the peer\'s refreshes. A re-INVITE with an unchanged SDP (same o= version, RFC 3264 §8) changes nothing: it is answered on the trunk and not passed on.',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('+14255550122', 'alice'),
      inviteFromPeer(),
      final('mediation', 200),
      connected(),
      { action: 'refresh', side: 'pstn' },
      { action: 'expect', from: 'peer', request: 'INVITE', label: 'the refresh re-INVITE: SDP unchanged (same o= version, same media)', sdp: { present: true, direction: 'sendrecv', version: 'same', sameMedia: true } },
      { action: 'expect', from: 'mediation', response: 200, method: 'INVITE', since: 'match', toTag: true, label: 'the Mediation Server answers it itself', sdp: { present: true, direction: 'sendrecv' } },
      { action: 'expect', side: 'lync', request: 'INVITE', absent: true, within: 500, label: 'nothing relayed to the Lync side' },
      { action: 'expect-call', state: 'connected', within: 1000, label: 'the call stays connected' },
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
    title: 'RFC 4733: the Mediation Server offers telephone-event 101 (0-16); the gateway accepts it; the Lync user\'s digits reach it as RTP events',
    steps: [
      call('alice', '+14255550110'),
      invite({ sdp: { telephoneEvent: 101, telephoneEventFmtp: '0-16' } }),
      final('peer', 200, { sdp: { telephoneEvent: true } }),
      connected(),
      { action: 'dtmf', digits: '123#' },
      { action: 'expect-dtmf', to: 'peer', digits: '123#', payloadType: 101, within: 3000, label: '123# reaches the gateway as RFC 4733 events on payload 101' },
      hangup(),
    ],
  },
  {
    id: 'dtmf-rfc4733-inbound',
    title: 'RFC 4733 on calls from the PSTN: the gateway offers telephone-event, the Mediation Server answers with it, and the Lync user\'s digits reach the gateway',
    userBehaviour: { alice: { outcome: 'answer', answerAfterMs: 300 } },
    steps: [
      call('+14255550110', 'alice'),
      inviteFromPeer({ sdp: { telephoneEvent: true } }),
      final('mediation', 200, { sdp: { telephoneEvent: 101 } }),
      connected(),
      { action: 'dtmf', digits: '456*' },
      { action: 'expect-dtmf', to: 'mediation', digits: '456*', relayed: true, within: 3000, label: 'the Mediation Server relays 456* to the gateway as RFC 4733' },
      { action: 'expect-dtmf', to: 'peer', digits: '456*', within: 3000, label: '456* reaches the gateway on the telephone-event payload type it offered' },
      hangup(),
    ],
  },
  {
    id: 'dtmf-no-telephone-event',
    title: 'A gateway that answers without telephone-event: the Lync user\'s digits reach the Mediation Server, which reports them as not relayable as RFC 4733 (in band only); none reach the gateway',
    steps: [
      call('alice', '+14255550119'),
      invite({ sdp: { telephoneEvent: 101 } }),
      final('peer', 200, { sdp: { telephoneEvent: false } }),
      connected(),
      { action: 'dtmf', digits: '5' },
      { action: 'expect-dtmf', to: 'mediation', digits: '5', relayed: false, within: 3000, label: 'the Mediation Server warns that 5 cannot go to the gateway as RFC 4733' },
      { action: 'expect-dtmf', to: 'peer', absent: true, within: 1000, label: 'no digit reaches the gateway' },
      hangup(),
    ],
  },
  // ------------------------------------------------------------ OPTIONS keep-alive
  {
    id: 'options-keepalive',
    title: 'OPTIONS keep-alive: the Mediation Server probes the peer, which answers 200',
    // A probe left unanswered times out after 1 s (not Timer F's 32 s), so the next one still comes within the case.
    globalTrunkSettings: { optionsIntervalMs: 200, optionsTimeoutMs: 1000 },
    steps: [
      { action: 'expect', from: 'mediation', to: 'gw-a', request: 'OPTIONS', since: 'start', within: 2500 },
      { action: 'expect', from: 'gw-a', response: 200, method: 'OPTIONS', since: 'match', toTag: true, within: 3000, label: 'gw-a answers the OPTIONS keep-alive 200 (a peer that never answers is marked down and gets no calls)' },
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

/**
 * Every kind of topology problem is reported at the right JSON pointer with
 * a message that says what is wrong and what was expected.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTopology, type TopologyProblem, TopologyError } from './topology.ts';

// biome-ignore lint/suspicious/noExplicitAny: test documents are deliberately ill-typed
type Doc = any;

/** A small valid topology; each case breaks one thing. */
function base(): Doc {
  return {
    description: 'errors test',
    frontEnd: { address: '127.0.0.10' },
    users: [
      { name: 'alice', address: '127.0.0.101', lineUri: 'tel:+14255550101', voicePolicy: 'International' },
      { name: 'bob', address: '127.0.0.102', lineUri: 'tel:+14255550102' },
    ],
    dialPlans: [
      { identity: 'Global', normalizationRules: [{ name: 'four', pattern: '^(\\d{4})$', translation: '+1425555$1' }] },
    ],
    voicePolicies: [
      { identity: 'Global', pstnUsages: ['Local'] },
      { identity: 'Tag:International', pstnUsages: ['Local', 'International'] },
    ],
    pstnUsages: ['Local', 'International'],
    voiceRoutes: [{ name: 'local', numberPattern: '^\\+1425', pstnUsages: ['Local'], trunks: ['t1'] }],
    mediationPools: [{ name: 'pool', servers: [{ name: 'med-1', address: '127.0.0.20' }] }],
    peers: [{ name: 'gw-a', kind: 'gateway', address: '127.0.0.30', numbers: [{ number: '+14255550160' }] }],
    trunks: [{ name: 't1', mediationServer: 'med-1', peer: 'gw-a' }],
  };
}

function problemsOf(document: unknown): TopologyProblem[] {
  try {
    parseTopology(document, 'test');
  } catch (error) {
    if (error instanceof TopologyError) return error.problems;
    throw error;
  }
  return [];
}

interface Case {
  name: string;
  edit: (doc: Doc) => unknown;
  path: string;
  message: RegExp;
}

const secondPeer = { name: 'gw-b', kind: 'gateway', address: '127.0.0.31' };

const cases: Case[] = [
  // Document and shape
  {
    name: 'document is not an object',
    edit: () => [],
    path: '',
    message: /expected a topology \(a JSON object\), got array/,
  },
  {
    name: 'missing frontEnd',
    edit: (d) => delete d.frontEnd,
    path: '/frontEnd',
    message: /required property "frontEnd" is missing/,
  },
  {
    name: 'unknown top-level property with a typo hint',
    edit: (d) => (d.trunk = []),
    path: '/trunk',
    message: /unknown property "trunk" \(did you mean "trunks"\?\)/,
  },
  {
    name: 'description with a line break',
    edit: (d) => (d.description = 'two\nlines'),
    path: '/description',
    message: /one line/,
  },
  {
    name: 'sipDomain not a domain',
    edit: (d) => (d.sipDomain = 'contoso com'),
    path: '/sipDomain',
    message: /not a domain name/,
  },
  { name: 'site with a colon', edit: (d) => (d.site = 'Site:Redmond'), path: '/site', message: /not a site name/ },
  {
    name: 'null where an object is expected',
    edit: (d) => (d.peers[0].behaviour = null),
    path: '/peers/0/behaviour',
    message: /expected the peer behaviour \(a JSON object\), got null/,
  },
  // Addresses and ports
  {
    name: 'FE address outside loopback',
    edit: (d) => (d.frontEnd.address = '10.0.0.5'),
    path: '/frontEnd/address',
    message: /10\.0\.0\.5 is outside 127\.0\.0\.0\/8 and ::1/,
  },
  {
    name: 'FE address not an IP',
    edit: (d) => (d.frontEnd.address = 'fe.local'),
    path: '/frontEnd/address',
    message: /is not an IP address/,
  },
  {
    name: 'IPv6 address in brackets',
    edit: (d) => (d.frontEnd.address = '[::1]'),
    path: '/frontEnd/address',
    message: /without brackets/,
  },
  {
    name: 'user address outside loopback',
    edit: (d) => (d.users[0].address = '192.168.1.20'),
    path: '/users/0/address',
    message: /outside 127\.0\.0\.0\/8/,
  },
  {
    name: 'FE without any listener',
    edit: (d) => Object.assign(d.frontEnd, { tlsPort: null, tcpPort: null }),
    path: '/frontEnd/tlsPort',
    message: /needs tlsPort or tcpPort/,
  },
  {
    name: 'port out of range',
    edit: (d) => (d.frontEnd.tlsPort = 70000),
    path: '/frontEnd/tlsPort',
    message: /port number .*from 0 to 65535, got 70000/,
  },
  {
    name: 'port as a string',
    edit: (d) => (d.peers[0].port = '5066'),
    path: '/peers/0/port',
    message: /expected a port number.*got string "5066"/,
  },
  {
    name: 'gatewayAddress wildcard',
    edit: (d) => (d.mediationPools[0].servers[0].gatewayAddress = '0.0.0.0'),
    path: '/mediationPools/0/servers/0/gatewayAddress',
    message: /wildcard/,
  },
  {
    name: 'two elements on one address and port',
    edit: (d) => d.peers.push({ ...secondPeer, address: '127.0.0.30', port: 5066 }),
    path: '/peers/1/port',
    message: /TCP port 5066 on 127\.0\.0\.30 is already taken by gw-a/,
  },
  {
    name: 'TCP and TLS on the same port of one element',
    edit: (d) => Object.assign(d.mediationPools[0].servers[0], { frontEndPort: 5068 }),
    path: '/mediationPools/0/servers/0/gatewayPorts/tcp',
    message: /TCP port 5068 on 127\.0\.0\.20 is already taken by med-1 itself \(TLS/,
  },
  {
    name: 'two trunks on one port pair',
    edit: (d) => d.trunks.push({ name: 't2', mediationServer: 'med-1', peer: 'gw-a' }),
    path: '/trunks/1',
    message: /same port pair \(med-1:5068 ↔ 127\.0\.0\.30:5066\) as trunk "t1"/,
  },
  {
    name: 'trunk across address families',
    edit: (d) => (d.peers[0].address = '::1'),
    path: '/trunks/0',
    message: /joins IPv4 127\.0\.0\.20 \(med-1\) to IPv6 ::1 \(gw-a\)/,
  },
  {
    name: 'trunk over UDP with no gateway-side UDP port',
    edit: (d) => (d.trunks[0].transport = 'udp'),
    path: '/trunks/0/mediationPort',
    message: /med-1 has no gateway-side UDP port/,
  },
  // Names and references
  {
    name: 'element name not a short id',
    edit: (d) => (d.mediationPools[0].servers[0].name = 'Med 1'),
    path: '/mediationPools/0/servers/0/name',
    message: /"Med 1" is not a short id/,
  },
  {
    name: 'duplicate element name across kinds',
    edit: (d) => (d.peers[0].name = 'med-1'),
    path: '/peers/0/name',
    message: /duplicate element name "med-1": already the Mediation Server at \/mediationPools\/0\/servers\/0\/name/,
  },
  {
    name: 'duplicate user name (case-insensitive)',
    edit: (d) => (d.users[1].name = 'Alice'),
    path: '/users/1/name',
    message: /duplicate element name "Alice"/,
  },
  {
    name: 'pool with no server',
    edit: (d) => (d.mediationPools[0].servers = []),
    path: '/mediationPools/0/servers',
    message: /at least one Mediation Server/,
  },
  {
    name: 'pool with 13 servers',
    edit: (d) =>
      (d.mediationPools[0].servers = Array.from({ length: 13 }, (_, i) => ({
        name: `med-${i + 1}`,
        address: `127.0.0.${20 + i}`,
      }))),
    path: '/mediationPools/0/servers',
    message: /at most 12 Mediation Servers, got 13/,
  },
  {
    name: 'trunk names an unknown Mediation Server',
    edit: (d) => (d.trunks[0].mediationServer = 'med-2'),
    path: '/trunks/0/mediationServer',
    message: /unknown Mediation Server "med-2" \(did you mean "med-1"\?\); the Mediation Servers are med-1/,
  },
  {
    name: 'trunk names an unknown peer',
    edit: (d) => (d.trunks[0].peer = 'gw-z'),
    path: '/trunks/0/peer',
    message: /unknown peer "gw-z".*the peers are gw-a/,
  },
  {
    name: 'trunk without peer',
    edit: (d) => delete d.trunks[0].peer,
    path: '/trunks/0/peer',
    message: /required property "peer" is missing/,
  },
  {
    name: 'duplicate trunk name',
    edit: (d) =>
      d.trunks.push({ name: 't1', mediationServer: 'med-1', peer: 'gw-a', peerPort: 5067, transport: 'tls' }),
    path: '/trunks/1/name',
    message: /duplicate trunk "t1"/,
  },
  {
    name: 'trunk transport unknown',
    edit: (d) => (d.trunks[0].transport = 'sctp'),
    path: '/trunks/0/transport',
    message: /expected one of "udp", "tcp", "tls", got "sctp"/,
  },
  {
    name: 'route names an unknown trunk',
    edit: (d) => (d.voiceRoutes[0].trunks = ['t1', 't9']),
    path: '/voiceRoutes/0/trunks/1',
    message: /unknown trunk "t9".*the trunks are t1/,
  },
  {
    name: 'route names an unknown usage',
    edit: (d) => (d.voiceRoutes[0].pstnUsages = ['Lokal']),
    path: '/voiceRoutes/0/pstnUsages/0',
    message: /unknown PSTN usage "Lokal" \(did you mean "Local"\?\)/,
  },
  {
    name: 'route pattern invalid',
    edit: (d) => (d.voiceRoutes[0].numberPattern = '^\\+1(425'),
    path: '/voiceRoutes/0/numberPattern',
    message: /invalid regular expression/,
  },
  {
    name: 'duplicate route name',
    edit: (d) => d.voiceRoutes.push({ ...d.voiceRoutes[0] }),
    path: '/voiceRoutes/1/name',
    message: /duplicate voice route "local"/,
  },
  {
    name: 'policy names an unknown usage',
    edit: (d) => d.voicePolicies[1].pstnUsages.push('Premium'),
    path: '/voicePolicies/1/pstnUsages/2',
    message: /unknown PSTN usage "Premium"/,
  },
  {
    name: 'policy with a pool scope',
    edit: (d) => (d.voicePolicies[0].identity = 'Service:Registrar:fe'),
    path: '/voicePolicies/0/identity',
    message: /not a valid identity here; expected Global, Site:<site>, Tag:<name>/,
  },
  {
    name: 'duplicate PSTN usage',
    edit: (d) => d.pstnUsages.push('local'),
    path: '/pstnUsages/2',
    message: /duplicate PSTN usage "local"/,
  },
  {
    name: 'user names an unknown voice policy',
    edit: (d) => (d.users[0].voicePolicy = 'Internationl'),
    path: '/users/0/voicePolicy',
    message: /unknown voice policy "Internationl" \(did you mean "International"\?\)/,
  },
  {
    name: 'user names an unknown dial plan',
    edit: (d) => (d.users[0].dialPlan = 'Legacy'),
    path: '/users/0/dialPlan',
    message: /unknown dial plan "Legacy".*Tag: dial plans are none/,
  },
  {
    name: 'dial plan identity malformed',
    edit: (d) => (d.dialPlans[0].identity = 'Pool:fe'),
    path: '/dialPlans/0/identity',
    message: /"Pool:fe" is not a valid identity/,
  },
  {
    name: 'dial plan for an unknown site',
    edit: (d) => (d.dialPlans[0].identity = 'Site:Dublin'),
    path: '/dialPlans/0/identity',
    message: /unknown site "Dublin"; the topology's site is "Site1"/,
  },
  {
    name: 'dial plan for an unknown gateway',
    edit: (d) => (d.dialPlans[0].identity = 'Service:PstnGateway:gw-z'),
    path: '/dialPlans/0/identity',
    message: /unknown peer "gw-z"/,
  },
  {
    name: 'dial plan for an unknown pool',
    edit: (d) => (d.dialPlans[0].identity = 'Service:Registrar:pool9'),
    path: '/dialPlans/0/identity',
    message: /unknown Front End pool "pool9"/,
  },
  {
    name: 'duplicate dial plan',
    edit: (d) => d.dialPlans.push({ identity: 'global' }),
    path: '/dialPlans/1/identity',
    message: /duplicate dial plan "Global"/,
  },
  {
    name: 'normalization pattern invalid',
    edit: (d) => (d.dialPlans[0].normalizationRules[0].pattern = '^(\\d{4}$'),
    path: '/dialPlans/0/normalizationRules/0/pattern',
    message: /invalid regular expression/,
  },
  {
    name: 'translation refers to a missing group',
    edit: (d) => (d.dialPlans[0].normalizationRules[0].translation = '+1425555$2'),
    path: '/dialPlans/0/normalizationRules/0/translation',
    message: /refers to \$2 but the pattern has 1 group/,
  },
  {
    name: 'normalization rule without translation',
    edit: (d) => delete d.dialPlans[0].normalizationRules[0].translation,
    path: '/dialPlans/0/normalizationRules/0/translation',
    message: /required property "translation" is missing/,
  },
  // Users and URIs
  {
    name: 'Line URI shared by two users',
    edit: (d) => (d.users[1].lineUri = 'tel:+14255550101'),
    path: '/users/1/lineUri',
    message: /already the Line URI of alice/,
  },
  {
    name: 'Line URI main number also used with an ext',
    edit: (d) => (d.users[1].lineUri = 'tel:+14255550101;ext=101'),
    path: '/users/1/lineUri',
    message: /ambiguous: alice has it without ;ext= while bob has it with one/,
  },
  {
    name: 'Line URI without tel:',
    edit: (d) => (d.users[0].lineUri = '+14255550101'),
    path: '/users/0/lineUri',
    message: /not a Line URI; expected "tel:\+E\.164"/,
  },
  {
    name: 'SIP URI shared',
    edit: (d) => (d.users[1].sipUri = 'sip:alice@contoso.com'),
    path: '/users/1/sipUri',
    message: /duplicate SIP URI/,
  },
  {
    name: 'SIP URI malformed',
    edit: (d) => (d.users[0].sipUri = 'alice@contoso.com'),
    path: '/users/0/sipUri',
    message: /not a SIP URI/,
  },
  {
    name: 'user over TCP when the FE has no TCP',
    edit: (d) =>
      Object.assign(d, {
        frontEnd: { address: '127.0.0.10', tcpPort: null },
        users: [{ name: 'alice', address: '127.0.0.101', transport: 'tcp' }],
      }),
    path: '/users/0/transport',
    message: /no TCP listener/,
  },
  // Peers and numbers
  {
    name: 'peer without kind',
    edit: (d) => delete d.peers[0].kind,
    path: '/peers/0/kind',
    message: /required property "kind" is missing; expected one of "gateway", "ip-pbx", "sbc"/,
  },
  {
    name: 'peer kind unknown',
    edit: (d) => (d.peers[0].kind = 'pbx'),
    path: '/peers/0/kind',
    message: /expected one of "gateway", "ip-pbx", "sbc", got "pbx"/,
  },
  {
    name: 'external without port',
    edit: (d) => (d.peers[0].external = '10.0.0.1'),
    path: '/peers/0/external',
    message: /missing port in "10\.0\.0\.1"/,
  },
  {
    name: 'external device the loopback Mediation Server cannot reach',
    edit: (d) => (d.peers[0].external = '192.0.2.10:5060'),
    path: '/peers/0/external',
    message: /gw-a is a real device at 192\.0\.2\.10, but med-1 listens on loopback/,
  },
  {
    name: 'duplicate number on one peer',
    edit: (d) => d.peers[0].numbers.push({ number: '14255550160' }),
    path: '/peers/0/numbers/1/number',
    message: /number 14255550160 is listed twice/,
  },
  {
    name: 'number malformed',
    edit: (d) => (d.peers[0].numbers[0].number = '+1-425'),
    path: '/peers/0/numbers/0/number',
    message: /is not a number/,
  },
  {
    name: 'reject without a code',
    edit: (d) => (d.peers[0].numbers[0].behaviour = { outcome: 'reject' }),
    path: '/peers/0/numbers/0/behaviour/rejectCode',
    message: /required property "rejectCode" is missing/,
  },
  {
    name: 'reject code on an answering number',
    edit: (d) => (d.peers[0].numbers[0].behaviour = { rejectCode: 503 }),
    path: '/peers/0/numbers/0/behaviour/rejectCode',
    message: /rejectCode applies only when outcome is "reject", not "answer"/,
  },
  {
    name: 'answer time on a busy number',
    edit: (d) => (d.peers[0].numbers[0].behaviour = { outcome: 'busy', answerAfterMs: 10 }),
    path: '/peers/0/numbers/0/behaviour/answerAfterMs',
    message: /applies only when outcome is "answer"/,
  },
  {
    name: 'reject code out of range',
    edit: (d) => (d.peers[0].numbers[0].behaviour = { outcome: 'reject', rejectCode: 302 }),
    path: '/peers/0/numbers/0/behaviour/rejectCode',
    message: /from 400 to 699, got 302/,
  },
  {
    name: '183 after the answer',
    edit: (d) =>
      (d.peers[0].numbers[0].behaviour = { answerAfterMs: 500, earlyMedia: 'with-sdp', earlyMediaAfterMs: 800 }),
    path: '/peers/0/numbers/0/behaviour/earlyMediaAfterMs',
    message: /183 \(at 800 ms\) must come before the answer \(at 500 ms\)/,
  },
  {
    name: 'digits without telephone-event',
    edit: (d) => (d.peers[0].numbers[0].behaviour = { sendDigits: '12', dtmfPayloadType: null }),
    path: '/peers/0/numbers/0/behaviour/sendDigits',
    message: /dtmfPayloadType null/,
  },
  {
    name: 'digits that are not DTMF',
    edit: (d) => (d.peers[0].numbers[0].behaviour = { sendDigits: '12x' }),
    path: '/peers/0/numbers/0/behaviour/sendDigits',
    message: /not DTMF events/,
  },
  {
    name: 'payload type outside the dynamic range',
    edit: (d) => (d.peers[0].numbers[0].behaviour = { dtmfPayloadType: 200 }),
    path: '/peers/0/numbers/0/behaviour/dtmfPayloadType',
    message: /from 96 to 127/,
  },
  {
    name: 'no-response that rings',
    edit: (d) => (d.users[0].behaviour = { outcome: 'no-response', ringingAfterMs: 0 }),
    path: '/users/0/behaviour/ringingAfterMs',
    message: /sends nothing/,
  },
  {
    name: 'unknown outcome',
    edit: (d) => (d.peers[0].behaviour = { unknownNumber: { outcome: 'answered' } }),
    path: '/peers/0/behaviour/unknownNumber/outcome',
    message: /got "answered" \(did you mean "answer"\?\)/,
  },
  {
    name: 'OPTIONS response not a final code',
    edit: (d) => (d.peers[0].behaviour = { optionsResponse: 180 }),
    path: '/peers/0/behaviour/optionsResponse',
    message: /from 200 to 699/,
  },
  // Trunk configuration
  {
    name: 'PascalCase Lync setting name',
    edit: (d) => (d.trunks[0].configuration = { EnableReferSupport: false }),
    path: '/trunks/0/configuration/EnableReferSupport',
    message: /unknown property "EnableReferSupport" \(did you mean "enableReferSupport"\?\)/,
  },
  {
    name: 'SRTP mode spelled wrong',
    edit: (d) => (d.trunkConfiguration = { srtpMode: 'required' }),
    path: '/trunkConfiguration/srtpMode',
    message: /got "required" \(did you mean "Required"\?\)/,
  },
  {
    name: 'bypass without concentrated topology',
    edit: (d) => (d.trunks[0].configuration = { enableBypass: true, concentratedTopology: false }),
    path: '/trunks/0/configuration/enableBypass',
    message: /needs concentratedTopology true/,
  },
  {
    name: 'bypass without REFER and with RTCP checks',
    edit: (d) => (d.trunks[0].configuration = { enableBypass: true, enableReferSupport: false }),
    path: '/trunks/0/configuration/enableBypass',
    message: /needs enableReferSupport true, or rtcpActiveCalls and rtcpCallsOnHold false/,
  },
  {
    name: 'maxEarlyDialogs zero',
    edit: (d) => (d.trunks[0].configuration = { maxEarlyDialogs: 0 }),
    path: '/trunks/0/configuration/maxEarlyDialogs',
    message: /from 1 to 1000, got 0/,
  },
  {
    name: 'session expires below Min-SE',
    edit: (d) => (d.trunks[0].configuration = { sessionExpiresSeconds: 30 }),
    path: '/trunks/0/configuration/sessionExpiresSeconds',
    message: /Min-SE is 90/,
  },
  {
    name: 'response code rule outside 400-699',
    edit: (d) =>
      (d.trunks[0].configuration = {
        sipResponseCodeTranslationRules: [{ name: 'r', receivedResponseCode: 300, translatedResponseCode: 503 }],
      }),
    path: '/trunks/0/configuration/sipResponseCodeTranslationRules/0/receivedResponseCode',
    message: /from 400 to 699, got 300/,
  },
  {
    name: 'outbound translation rule invalid',
    edit: (d) =>
      (d.trunks[0].configuration = { outboundTranslationRules: [{ name: 'r', pattern: '(', translation: '$1' }] }),
    path: '/trunks/0/configuration/outboundTranslationRules/0/pattern',
    message: /invalid regular expression/,
  },
  {
    name: 'failuresBeforeDown not an integer',
    edit: (d) => (d.trunkConfiguration = { failuresBeforeDown: 2.5 }),
    path: '/trunkConfiguration/failuresBeforeDown',
    message: /expected an integer from 1 to 1000, got number 2\.5/,
  },
];

describe('topology problems', () => {
  test('the base topology is valid', () => {
    assert.deepEqual(problemsOf(base()), []);
  });

  for (const c of cases) {
    test(c.name, () => {
      const doc = base();
      const replaced = c.edit(doc);
      const document = Array.isArray(replaced) && c.path === '' ? replaced : doc;
      const problems = problemsOf(document);
      const hit = problems.find((p) => p.path === c.path && c.message.test(p.message));
      assert.ok(
        hit,
        `expected a problem at ${JSON.stringify(c.path)} matching ${c.message}; got:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n') || '  (none)'}`,
      );
    });
  }

  test('every problem is reported, not only the first', () => {
    const doc = base();
    doc.frontEnd.address = '10.0.0.1';
    doc.trunks[0].peer = 'nope';
    doc.users[0].lineUri = 'tel:4255550101';
    doc.voiceRoutes[0].trunks = ['t9'];
    const paths = problemsOf(doc).map((p) => p.path);
    for (const path of ['/frontEnd/address', '/trunks/0/peer', '/users/0/lineUri', '/voiceRoutes/0/trunks/0']) {
      assert.ok(paths.includes(path), `missing ${path} in ${paths.join(', ')}`);
    }
  });

  test('invalid JSON text names the position', () => {
    assert.throws(
      () => parseTopology('{"frontEnd": ', 'broken.json'),
      (error: unknown) => {
        assert.ok(error instanceof TopologyError);
        assert.equal(error.problems[0].path, '');
        assert.match(error.problems[0].message, /not valid JSON/);
        assert.match(error.message, /^broken\.json: 1 problem in the topology\n {2}\(document\): not valid JSON/);
        return true;
      },
    );
  });
});

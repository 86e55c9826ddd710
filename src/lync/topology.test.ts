/**
 * The seed fixtures load, and the resolved model carries Lync's defaults,
 * the scope rules of trunk configuration, listeners and port 0.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { elementSummaries } from './elements.ts';
import { allListeners, bindPorts, formatListener, unboundListeners } from './listeners.ts';
import {
  defaultTopologyPath,
  loadTopology,
  parseTopology,
  type Topology,
  TopologyError,
  type TopologyInput,
} from './topology.ts';
import { DEFAULT_TRUNK_CONFIGURATION, effectiveSrtpMode } from './trunk-configuration.ts';

const FIXTURES = path.resolve(path.dirname(defaultTopologyPath()));
const SEEDS = ['single-gateway', 'ip-pbx', 'pool-mixed', 'pool-shared-gateway', 'lab'];
const load = (name: string): Topology => loadTopology(path.join(FIXTURES, `${name}.json`));

function minimal(): TopologyInput {
  return {
    frontEnd: { address: '127.0.0.10' },
    users: [{ name: 'alice', address: '127.0.0.101', lineUri: 'tel:+14255550101' }],
    mediationPools: [{ name: 'pool', servers: [{ name: 'med-1', address: '127.0.0.20' }] }],
    peers: [{ name: 'gw-a', kind: 'gateway', address: '127.0.0.30' }],
    trunks: [{ name: 't1', mediationServer: 'med-1', peer: 'gw-a' }],
  };
}

describe('seed fixtures', () => {
  for (const name of SEEDS) {
    test(`${name}.json loads, with a one-line description`, () => {
      const topology = load(name);
      assert.ok(topology.description.length > 20, 'description present');
      assert.doesNotMatch(topology.description, /\n/);
      const raw = JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));
      assert.equal(raw.$schema, '../../src/lync/topology.schema.json');
      assert.ok(existsSync(path.resolve(FIXTURES, raw.$schema)));
    });

    test(`${name}.json puts every emulated element on its own loopback address`, () => {
      const topology = load(name);
      const owners = new Map<string, string>();
      for (const listener of allListeners(topology)) {
        const owner = owners.get(listener.address);
        assert.ok(
          owner === undefined || owner === listener.element,
          `${listener.address} used by ${owner} and ${listener.element}`,
        );
        owners.set(listener.address, listener.element);
        assert.match(listener.address, /^127\.0\.0\.\d+$/);
      }
    });
  }

  test('the default topology is lab.json', () => {
    assert.equal(path.basename(defaultTopologyPath()), 'lab.json');
    assert.ok(existsSync(defaultTopologyPath()));
  });

  test('single-gateway: one Mediation Server, one gateway, Lync default ports', () => {
    const t = load('single-gateway');
    assert.deepEqual(
      t.mediationServers.map((m) => m.name),
      ['med-1'],
    );
    assert.deepEqual(
      t.peers.map((p) => [p.name, p.kind]),
      [['gw-a', 'gateway']],
    );
    assert.deepEqual(
      elementSummaries(t)
        .slice(0, 3)
        .map((e) => [e.element, e.role, e.listen]),
      [
        ['fe', 'front-end', ['tls:127.0.0.10:5061', 'tcp:127.0.0.10:5060']],
        ['med-1', 'mediation', ['tls:127.0.0.20:5070', 'tcp:127.0.0.20:5068', 'tls:127.0.0.20:5067']],
        ['gw-a', 'gateway', ['tcp:127.0.0.30:5066']],
      ],
    );
  });

  test('ip-pbx: an IP-PBX over direct SIP with its own dial plan and trunk settings', () => {
    const t = load('ip-pbx');
    assert.deepEqual(
      t.peers.map((p) => [p.name, p.kind]),
      [['pbx', 'ip-pbx']],
    );
    const trunk = t.trunks[0];
    assert.equal(trunk.configurationScope, 'trunk');
    assert.equal(trunk.configuration.enableReferSupport, false);
    assert.equal(trunk.configuration.forwardPai, true);
    assert.ok(t.dialPlans.some((d) => d.identity === 'Service:PstnGateway:pbx'));
  });

  test('pool-mixed: two Mediation Servers, two gateways and an SBC, M:N', () => {
    const t = load('pool-mixed');
    assert.deepEqual(
      t.mediationPools.map((p) => p.servers),
      [['med-1', 'med-2']],
    );
    assert.deepEqual(
      t.peers.map((p) => p.kind),
      ['gateway', 'gateway', 'sbc'],
    );
    for (const peer of t.peers) {
      assert.deepEqual(
        t.trunks
          .filter((tr) => tr.peer === peer.name)
          .map((tr) => tr.mediationServer)
          .sort(),
        ['med-1', 'med-2'],
      );
    }
  });

  test('pool-shared-gateway: three Mediation Servers share one gateway, routes spread over them', () => {
    const t = load('pool-shared-gateway');
    assert.equal(t.mediationServers.length, 3);
    assert.equal(t.peers.length, 1);
    const trunks = t.trunks.filter((tr) => tr.peer === 'gw-d');
    assert.deepEqual(
      trunks.map((tr) => tr.mediationServer),
      ['med-1', 'med-2', 'med-3'],
    );
    for (const route of t.voiceRoutes)
      assert.deepEqual(
        route.trunks,
        trunks.map((tr) => tr.name),
      );
    assert.equal(t.peers[0].behaviour.mediationSelection, 'dns-round-robin');
  });

  test('lab combines every seed system with unique names', () => {
    const lab = load('lab');
    const names = (t: Topology): string[] => elementSummaries(t).map((e) => e.element);
    const labNames = new Set(names(lab));
    for (const seed of ['single-gateway', 'ip-pbx', 'pool-mixed']) {
      for (const name of names(load(seed))) assert.ok(labNames.has(name), `${seed}: ${name} missing from lab`);
      for (const trunk of load(seed).trunks)
        assert.ok(
          lab.trunks.some((t) => t.name === trunk.name),
          `${seed}: trunk ${trunk.name} missing`,
        );
    }
    const shared = load('pool-shared-gateway');
    assert.equal(lab.trunks.filter((t) => t.peer === 'gw-d').length, shared.trunks.length);
    assert.equal(lab.mediationPools.length, 2);
    assert.equal(new Set(names(lab)).size, names(lab).length);
  });
});

describe('resolved model', () => {
  test('defaults: Lync ports, names, Global dial plan and voice policy', () => {
    const t = parseTopology(minimal(), 'minimal');
    assert.equal(t.sipDomain, 'contoso.com');
    assert.equal(t.frontEnd.name, 'fe');
    assert.deepEqual([t.frontEnd.tlsPort, t.frontEnd.tcpPort], [5061, 5060]);
    const ms = t.mediationServers[0];
    assert.deepEqual(
      [ms.frontEndPort, ms.frontEndTransport, ms.gatewayPorts],
      [5070, 'tls', { udp: null, tcp: 5068, tls: 5067 }],
    );
    assert.equal(ms.fqdn, 'med-1.contoso.com');
    assert.equal(ms.pool, 'pool');
    const peer = t.peers[0];
    assert.deepEqual([peer.port, peer.transport, peer.displayName], [5066, 'tcp', 'gw-a']);
    assert.deepEqual(peer.behaviour.unknownNumber.outcome, 'reject');
    assert.equal(peer.behaviour.unknownNumber.rejectCode, 404);
    const trunk = t.trunks[0];
    assert.deepEqual(
      [trunk.mediationPort, trunk.peerPort, trunk.transport, trunk.mediationAddress, trunk.peerAddress],
      [5068, 5066, 'tcp', '127.0.0.20', '127.0.0.30'],
    );
    assert.deepEqual(trunk.configuration, DEFAULT_TRUNK_CONFIGURATION);
    assert.equal(t.users[0].sipUri, 'sip:alice@contoso.com');
    assert.deepEqual(t.users[0].lineUri, { uri: 'tel:+14255550101', number: '+14255550101', ext: null });
    assert.deepEqual(
      t.dialPlans.map((d) => d.identity),
      ['Global'],
    );
    assert.deepEqual(
      t.voicePolicies.map((p) => [p.identity, p.pstnUsages]),
      [['Global', []]],
    );
  });

  test('the model is plain JSON', () => {
    const t = load('lab');
    assert.deepEqual(JSON.parse(JSON.stringify(t)), t);
  });

  test('trunk configuration: global scope, and a trunk scope that replaces it', () => {
    const doc = minimal();
    doc.peers?.push({ name: 'gw-b', kind: 'gateway', address: '127.0.0.31' });
    doc.trunkConfiguration = { removePlusFromUri: true, enableSessionTimer: true };
    doc.trunks?.push({ name: 't2', mediationServer: 'med-1', peer: 'gw-b', configuration: { forwardPai: true } });
    const t = parseTopology(doc, 'scopes');
    const [t1, t2] = t.trunks;
    assert.equal(t1.configurationScope, 'global');
    assert.equal(t1.configuration.removePlusFromUri, true);
    assert.equal(t1.configuration.enableSessionTimer, true);
    assert.equal(t2.configurationScope, 'trunk');
    assert.equal(t2.configuration.forwardPai, true);
    assert.equal(
      t2.configuration.removePlusFromUri,
      false,
      'a trunk-scope configuration does not inherit the global one',
    );
  });

  test('SRTPMode is forced NotSupported unless the trunk uses TLS', () => {
    const doc = minimal();
    doc.trunks = [{ name: 't1', mediationServer: 'med-1', peer: 'gw-a', transport: 'tls' }];
    const t = parseTopology(doc, 'srtp');
    assert.equal(t.trunks[0].peerPort, 5067, 'Topology Builder default TLS port');
    assert.equal(t.trunks[0].mediationPort, 5067);
    assert.equal(effectiveSrtpMode(t.trunks[0]), 'Required');
    assert.equal(effectiveSrtpMode({ ...t.trunks[0], transport: 'tcp' }), 'NotSupported');
  });

  test('identities are canonical: bare names are Tag:, peers by FQDN become names', () => {
    const doc = minimal();
    doc.peers = [{ name: 'gw-a', kind: 'gateway', address: '127.0.0.30', fqdn: 'gwa.contoso.com' }];
    doc.dialPlans = [
      { identity: 'Exec' },
      { identity: 'service:pstngateway:gwa.contoso.com' },
      { identity: 'site:site1' },
    ];
    doc.voicePolicies = [{ identity: 'tag:Intl' }];
    doc.users = [{ name: 'alice', address: '127.0.0.101', dialPlan: 'exec', voicePolicy: 'Tag:intl' }];
    const t = parseTopology(doc, 'identities');
    assert.deepEqual(
      t.dialPlans.map((d) => d.identity),
      ['Tag:Exec', 'Service:PstnGateway:gw-a', 'Site:Site1', 'Global'],
    );
    assert.deepEqual(
      t.voicePolicies.map((p) => p.identity),
      ['Tag:Intl', 'Global'],
    );
    assert.deepEqual([t.users[0].dialPlan, t.users[0].voicePolicy], ['Exec', 'Intl']);
  });

  test('a Mediation Server lists its configured gateway ports and every trunk port', () => {
    const doc = minimal();
    doc.mediationPools = [
      {
        name: 'pool',
        servers: [{ name: 'med-1', address: '127.0.0.20', gatewayPorts: { tls: null, tcp: 5068, udp: 5060 } }],
      },
    ];
    doc.trunks = [
      { name: 't1', mediationServer: 'med-1', peer: 'gw-a' },
      { name: 't2', mediationServer: 'med-1', peer: 'gw-a', transport: 'udp', peerPort: 5062 },
      { name: 't3', mediationServer: 'med-1', mediationPort: 5080, peer: 'gw-a', transport: 'tls', peerPort: 5061 },
    ];
    const t = parseTopology(doc, 'ports');
    assert.deepEqual(t.mediationServers[0].gatewayListeners.map(formatListener), [
      'udp:127.0.0.20:5060',
      'tcp:127.0.0.20:5068',
      'tls:127.0.0.20:5080',
    ]);
    assert.deepEqual(t.peers[0].listeners.map(formatListener), [
      'tcp:127.0.0.30:5066',
      'udp:127.0.0.30:5062',
      'tls:127.0.0.30:5061',
    ]);
  });
});

describe('port 0', () => {
  function zeroPorts(): TopologyInput {
    return {
      frontEnd: { address: '127.0.0.10', tlsPort: 0, tcpPort: 0 },
      users: [{ name: 'alice', address: '127.0.0.101', transport: 'tcp' }],
      mediationPools: [
        {
          name: 'pool',
          servers: [
            { name: 'med-1', address: '127.0.0.20', frontEndPort: 0, gatewayPorts: { tcp: 0, tls: null } },
            { name: 'med-2', address: '127.0.0.21', frontEndPort: 0, gatewayPorts: { tcp: 0, tls: null } },
          ],
        },
      ],
      peers: [{ name: 'gw-a', kind: 'gateway', address: '127.0.0.30', port: 0 }],
      trunks: [
        { name: 't1', mediationServer: 'med-1', peer: 'gw-a' },
        { name: 't2', mediationServer: 'med-2', mediationPort: 0, peer: 'gw-a', peerPort: 0 },
      ],
    };
  }

  test('many listeners on port 0 do not collide, and references share one listener', () => {
    const t = parseTopology(zeroPorts(), 'zero');
    const keys = unboundListeners(t).map((l) => l.key);
    assert.deepEqual(keys, [
      'fe/sip/tls/0',
      'fe/sip/tcp/0',
      'med-1/front-end/tls/0',
      'med-1/gateway/tcp/0',
      'med-2/front-end/tls/0',
      'med-2/gateway/tcp/0',
      'gw-a/sip/tcp/0',
      'alice/sip/tcp/0',
    ]);
  });

  test('bindPorts puts the picked ports everywhere', () => {
    const t = parseTopology(zeroPorts(), 'zero');
    const picked = new Map(unboundListeners(t).map((l, i) => [l.key, 40000 + i]));
    const bound = bindPorts(t, picked);
    assert.equal(unboundListeners(bound).length, 0);
    assert.deepEqual([bound.frontEnd.tlsPort, bound.frontEnd.tcpPort], [40000, 40001]);
    assert.equal(bound.mediationServers[0].frontEndPort, 40002);
    assert.equal(bound.mediationServers[0].gatewayPorts.tcp, 40003);
    assert.deepEqual(
      bound.trunks.map((tr) => [tr.mediationPort, tr.peerPort]),
      [
        [40003, 40006],
        [40005, 40006],
      ],
    );
    assert.equal(bound.peers[0].port, 40006);
    assert.equal(bound.users[0].port, 40007);
    assert.equal(bound.mediationServers[1].gatewayListeners[0].key, 'med-2/gateway/tcp/40005');
    assert.equal(unboundListeners(t).length, 8, 'the input model is unchanged');
  });

  test('bindPorts refuses a missing port', () => {
    const t = parseTopology(zeroPorts(), 'zero');
    assert.throws(() => bindPorts(t, new Map()), /no port picked for fe\/sip\/tls\/0/);
  });
});

describe('loading', () => {
  test('a missing file is a TopologyError at the document', () => {
    assert.throws(
      () => loadTopology('/nonexistent/topology.json'),
      (error: unknown) => {
        assert.ok(error instanceof TopologyError);
        assert.equal(error.problems[0].path, '');
        assert.match(error.problems[0].message, /cannot read the topology file/);
        return true;
      },
    );
  });

  test('the error message lists every problem with its path', () => {
    const doc = minimal() as unknown as Record<string, unknown>;
    doc.trunks = [{ name: 't1', mediationServer: 'med-9', peer: 'gw-9' }];
    assert.throws(() => parseTopology(doc, 'two.json'), {
      name: 'TopologyError',
      message:
        /^two\.json: 2 problems in the topology\n {2}\/trunks\/0\/mediationServer: unknown Mediation Server "med-9".*\n {2}\/trunks\/0\/peer: unknown peer "gw-9"/,
    });
  });

  test('elementSummaries: users carry uri and lineUri, peers their numbers', () => {
    const lines = elementSummaries(load('ip-pbx'));
    const carol = lines.find((l) => l.element === 'carol');
    assert.deepEqual(carol, {
      element: 'carol',
      role: 'lync-user',
      displayName: 'Carol Chen',
      listen: ['tls:127.0.0.103:0'],
      uri: 'sip:carol@contoso.com',
      lineUri: 'tel:+14255550150;ext=111',
    });
    const pbx = lines.find((l) => l.element === 'pbx');
    assert.equal(pbx?.role, 'ip-pbx');
    assert.deepEqual(pbx?.numbers?.slice(0, 3), ['2160', '2161', '2162']);
  });
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  formatMsDiagnostics,
  INBOUND_ROUTING,
  MEDIATION,
  OUTBOUND_ROUTING,
  parseMsDiagnostics,
  USER_SERVICES,
} from './ms-diagnostics.ts';
import { RoundRobin } from './round-robin.ts';
import { failsOver, findUserBySipUri, outboundCandidates, reverseNumberLookup, voicePolicyForUser } from './routing.ts';
import { defaultTopologyPath, loadTopology, parseTopology, type Topology } from './topology.ts';
import { trunkForInbound, trunksTowardsLync } from './trunk.ts';

const fixture = (name: string): Topology =>
  loadTopology(path.join(path.dirname(defaultTopologyPath()), `${name}.json`));
const lab = fixture('lab');
const mixed = fixture('pool-mixed');
const names = (plan: { candidates: { trunk: { name: string } }[] }): string[] =>
  plan.candidates.map((c) => c.trunk.name);

describe('reverse number lookup', () => {
  test('a number equal to a Line URI rings that user', () => {
    const hit = reverseNumberLookup(lab, '+14255550101');
    assert.equal(hit.kind === 'user' && hit.user.name, 'alice');
    assert.equal(hit.kind === 'user' && hit.match, 'exact');
  });

  test('number and extension (tel:+14255550150;ext=111)', () => {
    const hit = reverseNumberLookup(lab, 'tel:+14255550150;ext=111');
    assert.equal(hit.kind === 'user' && hit.user.name, 'carol');
    assert.equal(reverseNumberLookup(lab, '+14255550150;ext=112').kind === 'user', true);
    assert.deepEqual(reverseNumberLookup(lab, '+14255550150;ext=113'), { kind: 'none' });
  });

  test('a main number shared by extensions is ambiguous', () => {
    const hit = reverseNumberLookup(lab, '+14255550150');
    assert.equal(hit.kind, 'ambiguous');
    assert.deepEqual(hit.kind === 'ambiguous' && hit.users.map((u) => u.name), ['carol', 'dave']);
  });

  test('a main number only one user has (with an ext) rings that user unless disabled', () => {
    const t = parseTopology(
      {
        frontEnd: { address: '127.0.0.10' },
        users: [{ name: 'carol', address: '127.0.0.103', lineUri: 'tel:+14255550150;ext=111' }],
      },
      'one',
    );
    const hit = reverseNumberLookup(t, '+14255550150');
    assert.equal(hit.kind === 'user' && hit.match, 'main-number');
    assert.deepEqual(reverseNumberLookup(t, '+14255550150', { matchUniqueMainNumber: false }), { kind: 'none' });
  });

  test('a number nobody has is not found', () => {
    assert.deepEqual(reverseNumberLookup(lab, '+14255550160'), { kind: 'none' });
  });

  test('users by SIP URI, case-insensitive, with brackets and parameters', () => {
    assert.equal(findUserBySipUri(lab, '<sip:Alice@Contoso.com>;tag=1234')?.name, 'alice');
    assert.equal(findUserBySipUri(lab, 'sip:bob@contoso.com;transport=tls')?.name, 'bob');
    assert.equal(findUserBySipUri(lab, 'sip:zoe@contoso.com'), null);
  });
});

describe('outbound routing', () => {
  test('voice policy: Tag: over global', () => {
    assert.equal(voicePolicyForUser(lab, 'alice').identity, 'Tag:International');
    assert.equal(voicePolicyForUser(lab, 'bob').identity, 'Global');
  });

  test("round robin over a route's trunks, then the next usage's route", () => {
    const rr = new RoundRobin();
    const first = outboundCandidates(mixed, { caller: 'alice', number: '+14255550140', roundRobin: rr });
    assert.equal(first.failure, null);
    assert.deepEqual(names(first), [
      't-med-1-gw-b',
      't-med-1-gw-c',
      't-med-2-gw-b',
      't-med-2-gw-c',
      't-med-1-sbc',
      't-med-2-sbc',
    ]);
    assert.deepEqual(
      first.candidates.map((c) => c.usage),
      ['Local', 'Local', 'Local', 'Local', 'LocalBackup', 'LocalBackup'],
    );
    assert.deepEqual(
      first.matchedRoutes.map((m) => m.route.name),
      ['Local-Gateways', 'Local-Backup-SBC', 'LongDistance-SBC'],
    );
    const second = outboundCandidates(mixed, { caller: 'alice', number: '+14255550140', roundRobin: rr });
    assert.deepEqual(names(second), [
      't-med-1-gw-c',
      't-med-2-gw-b',
      't-med-2-gw-c',
      't-med-1-gw-b',
      't-med-2-sbc',
      't-med-1-sbc',
    ]);
    const starts = [
      first,
      second,
      ...[3, 4, 5].map(() => outboundCandidates(mixed, { caller: 'bob', number: '+14255550141', roundRobin: rr })),
    ].map((p) => names(p)[0]);
    assert.deepEqual(starts, ['t-med-1-gw-b', 't-med-1-gw-c', 't-med-2-gw-b', 't-med-2-gw-c', 't-med-1-gw-b']);
  });

  test('routes in priority order inside a usage, each trunk once', () => {
    const plan = outboundCandidates(lab, { caller: 'alice', number: '+14255550113', roundRobin: new RoundRobin() });
    assert.deepEqual(names(plan), [
      't-med-1-gw-a',
      't-med-1-gw-b',
      't-med-1-gw-c',
      't-med-2-gw-b',
      't-med-2-gw-c',
      't-med-1-sbc',
      't-med-2-sbc',
    ]);
    assert.deepEqual(
      plan.matchedRoutes.map((m) => `${m.usage}:${m.route.name}`),
      [
        'Local:GW-A-Test-Numbers',
        'Local:Local-Gateways',
        'LocalBackup:Local-Backup-SBC',
        'LongDistance:LongDistance-SBC',
      ],
    );
  });

  test('the usage order of the policy comes first: PBX extensions before local breakout', () => {
    const plan = outboundCandidates(lab, { caller: 'bob', number: '+14255550161', roundRobin: new RoundRobin() });
    assert.equal(names(plan)[0], 't-med-1-pbx');
    assert.equal(plan.candidates[0].usage, 'PBX');
  });

  test('trunks marked down are skipped and reported', () => {
    const down = new Set(['t-med-1-gw-b', 't-med-1-gw-c', 't-med-1-sbc']);
    const plan = outboundCandidates(mixed, {
      caller: 'alice',
      number: '+14255550140',
      roundRobin: new RoundRobin(),
      isTrunkDown: (t) => down.has(t),
    });
    assert.deepEqual(names(plan), ['t-med-2-gw-b', 't-med-2-gw-c', 't-med-2-sbc']);
    assert.deepEqual(plan.matchedRoutes[0].skippedDown, ['t-med-1-gw-b', 't-med-1-gw-c']);
  });

  test('every trunk down: 12000 no available gateway', () => {
    const plan = outboundCandidates(mixed, {
      caller: 'alice',
      number: '+14255550140',
      roundRobin: new RoundRobin(),
      isTrunkDown: () => true,
    });
    assert.deepEqual(plan.candidates, []);
    assert.equal(plan.failure?.diagnostic.id, 12000);
    assert.equal(plan.failure?.status, 503);
  });

  test("no route for the caller's usages: 12004 no route found", () => {
    const plan = outboundCandidates(mixed, { caller: 'bob', number: '+442079460123', roundRobin: new RoundRobin() });
    assert.equal(plan.failure?.diagnostic, OUTBOUND_ROUTING.noRouteFound);
    assert.equal(plan.failure?.status, 404);
    const alice = outboundCandidates(mixed, { caller: 'alice', number: '+442079460123', roundRobin: new RoundRobin() });
    assert.deepEqual(names(alice), ['t-med-1-sbc', 't-med-2-sbc']);
  });

  test('a policy without usages: 12001', () => {
    const policy = {
      identity: 'Tag:None',
      scope: { kind: 'user' as const, tag: 'None' },
      description: '',
      pstnUsages: [],
    };
    const plan = outboundCandidates(mixed, { caller: policy, number: '+14255550140', roundRobin: new RoundRobin() });
    assert.equal(plan.failure?.diagnostic.id, 12001);
  });

  test('what fails over: 5xx, timeouts, the fast failover timer, a trunk found down', () => {
    assert.equal(failsOver({ kind: 'response', status: 503 }), true);
    assert.equal(failsOver({ kind: 'response', status: 500 }), true);
    assert.equal(failsOver({ kind: 'response', status: 486 }), false);
    assert.equal(failsOver({ kind: 'response', status: 404 }), false);
    assert.equal(failsOver({ kind: 'response', status: 603 }), false);
    assert.equal(failsOver({ kind: 'timeout' }), true);
    assert.equal(failsOver({ kind: 'fast-failover' }), true);
    assert.equal(failsOver({ kind: 'trunk-down' }), true);
  });
});

describe('trunks seen from the Mediation Server and the peers', () => {
  test('a Mediation Server knows the trunk of an inbound request by address, port and transport', () => {
    assert.equal(
      trunkForInbound(lab, {
        mediationServer: 'med-1',
        transport: 'tcp',
        localPort: 5068,
        remoteAddress: '127.0.0.31',
        remotePort: 40123,
      })?.name,
      't-med-1-gw-b',
    );
    assert.equal(
      trunkForInbound(lab, { mediationServer: 'med-2', transport: 'tls', localPort: 5067, remoteAddress: '127.0.0.50' })
        ?.name,
      't-med-2-sbc',
    );
    assert.equal(
      trunkForInbound(lab, {
        mediationServer: 'med-1',
        transport: 'tcp',
        localPort: 5068,
        remoteAddress: '127.0.0.99',
      }),
      null,
      'unknown peer',
    );
    assert.equal(
      trunkForInbound(lab, {
        mediationServer: 'med-1',
        transport: 'tls',
        localPort: 5067,
        remoteAddress: '127.0.0.31',
      }),
      null,
      'wrong transport',
    );
    assert.equal(
      trunkForInbound(lab, {
        mediationServer: 'med-3',
        transport: 'tcp',
        localPort: 5068,
        remoteAddress: '127.0.0.31',
      }),
      null,
      'not a trunk of med-3',
    );
  });

  test('several trunks from one peer: the source port breaks the tie; IPv6 spellings compare equal', () => {
    const t = parseTopology(
      {
        frontEnd: { address: '::1' },
        mediationPools: [
          {
            name: 'p',
            servers: [
              { name: 'med-1', address: '::1', frontEndPort: 5070, gatewayPorts: { udp: 5060, tcp: 5068, tls: null } },
            ],
          },
        ],
        peers: [{ name: 'gw', kind: 'gateway', address: '::1', transport: 'udp', port: 5062 }],
        trunks: [
          { name: 'a', mediationServer: 'med-1', peer: 'gw', transport: 'udp', peerPort: 5062 },
          { name: 'b', mediationServer: 'med-1', peer: 'gw', transport: 'udp', peerPort: 5064 },
        ],
      },
      'v6',
    );
    assert.equal(
      trunkForInbound(t, {
        mediationServer: 'med-1',
        transport: 'udp',
        localPort: 5060,
        remoteAddress: '0:0:0:0:0:0:0:1',
        remotePort: 5064,
      })?.name,
      'b',
    );
    assert.equal(
      trunkForInbound(t, {
        mediationServer: 'med-1',
        transport: 'udp',
        localPort: 5060,
        remoteAddress: '::1',
        remotePort: 1,
      })?.name,
      'a',
    );
  });

  test('a gateway spreads calls over the pool by DNS round robin, down members last', () => {
    const shared = fixture('pool-shared-gateway');
    const rr = new RoundRobin();
    const ms = (list: { mediationServer: string }[]) => list.map((t) => t.mediationServer);
    assert.deepEqual(ms(trunksTowardsLync(shared, 'gw-d', rr)), ['med-1', 'med-2', 'med-3']);
    assert.deepEqual(ms(trunksTowardsLync(shared, 'gw-d', rr, (m) => m === 'med-2')), ['med-3', 'med-1', 'med-2']);
    assert.deepEqual(ms(trunksTowardsLync(shared, 'gw-d', rr)), ['med-3', 'med-1', 'med-2']);
    assert.deepEqual(ms(trunksTowardsLync(lab, 'pbx', rr)), ['med-1'], 'in-order');
  });

  test('without retry only one Mediation Server is tried', () => {
    const shared = fixture('pool-shared-gateway');
    shared.peers[0].behaviour.retryOnOtherMediationServer = false;
    assert.equal(trunksTowardsLync(shared, 'gw-d', new RoundRobin()).length, 1);
  });
});

describe('ms-diagnostics', () => {
  test('documented ids and reasons', () => {
    assert.deepEqual(
      [OUTBOUND_ROUTING.noAvailableGateway.id, OUTBOUND_ROUTING.noAvailableGateway.reason],
      [12000, 'Routes available for this request but no available gateway at this point'],
    );
    assert.deepEqual(
      [OUTBOUND_ROUTING.noRouteFound.id, OUTBOUND_ROUTING.noRouteFound.reason],
      [12004, 'No route found'],
    );
    assert.deepEqual(
      [OUTBOUND_ROUTING.tryingNextHop.id, OUTBOUND_ROUTING.tryingNextHop.reason],
      [12006, 'Trying next hop'],
    );
    for (const d of Object.values(OUTBOUND_ROUTING))
      assert.ok(d.id >= 12000 && d.id <= 12999 && d.origin === 'documented');
    for (const d of Object.values(INBOUND_ROUTING))
      assert.ok(d.id >= 13000 && d.id <= 13999 && d.origin === 'documented');
    for (const d of Object.values(USER_SERVICES)) assert.ok(d.id >= 4000 && d.id <= 4999 && d.origin === 'documented');
  });

  test('the Mediation Server range is marked invented', () => {
    for (const d of Object.values(MEDIATION)) assert.ok(d.id >= 10000 && d.id <= 10999 && d.origin === 'invented');
    assert.equal(new Set(Object.values(MEDIATION).map((d) => d.id)).size, Object.values(MEDIATION).length);
  });

  test('format and parse', () => {
    const header = formatMsDiagnostics(OUTBOUND_ROUTING.noRouteFound, 'fepool.contoso.com', {
      appName: 'OutboundRouting',
    });
    assert.equal(header, '12004;reason="No route found";source="fepool.contoso.com";appName="OutboundRouting"');
    assert.deepEqual(parseMsDiagnostics(header), {
      id: 12004,
      subCode: null,
      reason: 'No route found',
      source: 'fepool.contoso.com',
      attributes: { reason: 'No route found', source: 'fepool.contoso.com', appName: 'OutboundRouting' },
    });
    assert.equal(parseMsDiagnostics('12006.2;reason="Trying next hop";PhoneUri=tel:+1425')?.subCode, 2);
    assert.equal(
      parseMsDiagnostics('12006.2;reason="Trying next hop";PhoneUri=tel:+1425')?.attributes.PhoneUri,
      'tel:+1425',
    );
    assert.equal(parseMsDiagnostics('reason="x"'), null);
    assert.equal(formatMsDiagnostics({ id: 1, reason: 'say "hi"' }, 's'), '1;reason="say \\"hi\\"";source="s"');
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EngineEvent } from '../common/api.ts';
import { Lab } from './lab.ts';
import { callAndHangUp, fixtureTopology, wait } from './lab-test-support.ts';
import type { TopologyInput } from './topology.ts';

function fastAnswers(input: TopologyInput): void {
  for (const u of input.users ?? []) if (u.behaviour?.outcome === 'answer' || u.behaviour === undefined) u.behaviour = { outcome: 'answer', answerAfterMs: 50 };
  for (const p of input.peers ?? []) {
    p.behaviour = { ...p.behaviour, unknownNumber: { outcome: 'answer', answerAfterMs: 50 } };
  }
}

test('three Mediation Servers and one gateway: calls spread over all three; one stopped server fails no new call', async () => {
  const lab = await Lab.start(fixtureTopology('pool-shared-gateway.json', fastAnswers), { timers: { t1: 100 } });
  try {
    const out = await Promise.all(Array.from({ length: 6 }, () => callAndHangUp(lab, 'alice', '+14255550199', 50)));
    for (const c of out) assert.equal(c.status, 200, JSON.stringify(c));
    const first = new Set(out.map((c) => c.trunks?.[0]));
    assert.deepEqual([...first].sort(), ['t-med-1-gw-d', 't-med-2-gw-d', 't-med-3-gw-d']);
    const inbound = await Promise.all(Array.from({ length: 3 }, () => callAndHangUp(lab, '+14255550170', 'alice', 50)));
    for (const c of inbound) assert.equal(c.status, 200, JSON.stringify(c));
    assert.equal(new Set(inbound.map((c) => c.trunks?.[0])).size, 3, 'the gateway spreads its calls over the pool');

    await lab.stopMediationServer('med-2');
    const after = await Promise.all(Array.from({ length: 6 }, () => callAndHangUp(lab, 'alice', '+14255550199', 50)));
    for (const c of after) assert.equal(c.status, 200, `outbound after med-2 stopped: ${JSON.stringify(c)}`);
    assert.ok(after.some((c) => c.trunks?.[0] === 't-med-2-gw-d' && c.trunks.length === 2), 'a call tried med-2 and failed over');
    const inboundAfter = await Promise.all(Array.from({ length: 3 }, () => callAndHangUp(lab, '+14255550170', 'alice', 50)));
    for (const c of inboundAfter) assert.equal(c.status, 200, `inbound after med-2 stopped: ${JSON.stringify(c)}`);
  } finally {
    await lab.stop();
  }
});

test('OPTIONS keep-alives mark a silent peer down and back up; routing skips it while down (12000)', async () => {
  const events: EngineEvent[] = [];
  const topology = fixtureTopology('single-gateway.json', (input) => {
    fastAnswers(input);
    input.trunkConfiguration = {
      optionsIntervalMs: 100,
      optionsTimeoutMs: 150,
      failuresBeforeDown: 2,
      successesBeforeUp: 1,
      downProbeIntervalMs: 100,
    };
  });
  const lab = await Lab.start(topology, { timers: { t1: 100 }, onEvent: (e) => events.push(e) });
  try {
    const until = async (what: () => boolean, ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (!what()) {
        if (Date.now() > end) throw new Error('timed out');
        await wait(20);
      }
    };
    assert.equal(lab.trunks()[0].health, 'up');
    const gw = lab.peers.find((p) => p.name === 'gw-a');
    assert.ok(gw);
    gw.peer.behaviour.optionsResponse = null;
    await until(() => lab.trunks()[0].health === 'down', 3000);
    assert.ok(events.some((e) => e.type === 'health' && e.health === 'down' && e.trunk === 't-med-1-gw-a'));
    const refused = await callAndHangUp(lab, 'alice', '+14255550110');
    assert.equal(refused.status, 503);
    assert.match(refused.reason ?? '', /12000/);
    gw.peer.behaviour.optionsResponse = 200;
    await until(() => lab.trunks()[0].health === 'up', 3000);
    assert.ok(events.some((e) => e.type === 'health' && e.health === 'up'));
    const ok = await callAndHangUp(lab, 'alice', '+14255550110');
    assert.equal(ok.status, 200);
  } finally {
    await lab.stop();
  }
});

test('failover to the next route (next usage): on a 503 and on the fast failover timer; a 404 ends the call; Trying-next-hop (12006) logged', async () => {
  const events: EngineEvent[] = [];
  const topology = fixtureTopology('single-gateway.json', (input) => {
    fastAnswers(input);
    input.peers?.push({ name: 'gw-b', kind: 'gateway', address: '127.0.0.31', port: 0, transport: 'tcp', behaviour: { unknownNumber: { outcome: 'answer', answerAfterMs: 50 } } });
    input.trunks?.push({ name: 't-med-1-gw-b', mediationServer: 'med-1', peer: 'gw-b', transport: 'tcp' });
    const first = input.trunks?.[0];
    if (first) first.configuration = { fastFailoverTimeoutMs: 300 };
    // Same numbers, a later usage of Alice's policy (Local, LongDistance, International): tried after the Local route.
    input.voiceRoutes?.push({ name: 'Local-Backup', numberPattern: '^\\+1425\\d{7}$', pstnUsages: ['LongDistance'], trunks: ['t-med-1-gw-b'] });
  });
  const lab = await Lab.start(topology, { timers: { t1: 100 }, onEvent: (e) => events.push(e) });
  try {
    const congested = await callAndHangUp(lab, 'alice', '+14255550113', 50);
    assert.equal(congested.status, 200, JSON.stringify(congested));
    assert.deepEqual(congested.trunks, ['t-med-1-gw-a', 't-med-1-gw-b']);
    assert.ok(events.some((e) => e.type === 'log' && /t-med-1-gw-a failed \(503 Service Unavailable\): 12006 Trying next hop/.test(e.text)));

    const started = Date.now();
    const silent = await callAndHangUp(lab, 'alice', '+14255550118', 50);
    assert.equal(silent.status, 200, JSON.stringify(silent));
    assert.deepEqual(silent.trunks, ['t-med-1-gw-a', 't-med-1-gw-b']);
    assert.ok(Date.now() - started < 300 + 3000, 'the fast failover timer, not Timer B');

    const unallocated = await callAndHangUp(lab, 'alice', '+14255550114', 50);
    assert.equal(unallocated.status, 404);
    assert.deepEqual(unallocated.trunks, ['t-med-1-gw-a'], 'a 4xx ends the call');
  } finally {
    await lab.stop();
  }
});

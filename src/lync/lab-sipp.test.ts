import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Sipp, startSipp, startSippServer } from '../qualify/test-support/sipp-process.ts';
import { freePort } from '../sip/transport-testing.ts';
import { Lab } from './lab.ts';
import { callAndHangUp, fixtureTopology } from './lab-test-support.ts';
import type { TopologyInput } from './topology.ts';

const quickUsers = (input: TopologyInput): void => {
  for (const u of input.users ?? []) if (u.name === 'alice') u.behaviour = { outcome: 'answer', answerAfterMs: 100 };
};

test('SIPp as an external gateway: receives an outbound call, and places an inbound one that rings a Lync user', async () => {
  const uas = await startSippServer(['-sn', 'uas', '-aa']);
  const lab = await Lab.start(fixtureTopology('single-gateway.json', quickUsers, [`gw-a=127.0.0.1:${uas.port}/tcp`]), { timers: { t1: 100 } });
  let uac: Sipp | null = null;
  try {
    const outbound = await callAndHangUp(lab, 'alice', '+14255550110', 100, 10_000);
    assert.equal(outbound.status, 200, `${JSON.stringify(outbound)}\n${uas.output()}`);
    assert.equal(outbound.state, 'ended');

    const trunk = lab.topology.trunks[0];
    const seen: string[] = [];
    lab.users.find((u) => u.user.name === 'alice')?.ua.transport.onMessage((m) => {
      if (m.method === 'INVITE') seen.push(m.requestUri);
    });
    // SIPp must send from the external device's address (127.0.0.1) for the trunk to accept it.
    uac = startSipp(['-sn', 'uac', '-t', 't1', '-i', '127.0.0.1', '-p', '0', '-s', '+14255550101', '-m', '1', '-d', '200', `127.0.0.1:${trunk.mediationPort}`.replace('127.0.0.1', trunk.mediationAddress)]);
    const code = await uac.exited;
    assert.equal(code, 0, uac.output());
    assert.equal(seen.length, 1, 'alice rang');
  } finally {
    await uac?.stop();
    await uas.stop();
    await lab.stop();
  }
});

test('failover: the first trunk goes nowhere (fast failover timer), the call completes through SIPp on the second', async () => {
  const dead = await freePort('udp');
  const uas = await startSippServer(['-sn', 'uas', '-aa'], { transport: 'udp' });
  const topology = fixtureTopology(
    'single-gateway.json',
    (input) => {
      quickUsers(input);
      const ms = input.mediationPools?.[0].servers[0];
      if (ms) ms.gatewayPorts = { ...ms.gatewayPorts, udp: 0 };
      input.peers?.push({ name: 'gw-b', kind: 'gateway', address: '127.0.0.31', port: 0, transport: 'udp' });
      input.trunks?.push({ name: 't-med-1-gw-b', mediationServer: 'med-1', peer: 'gw-b', transport: 'udp', configuration: { fastFailoverTimeoutMs: 800 } });
      const t0 = input.trunks?.[0];
      if (t0) t0.configuration = { fastFailoverTimeoutMs: 800 };
      for (const r of input.voiceRoutes ?? []) r.trunks = ['t-med-1-gw-a', 't-med-1-gw-b'];
    },
    [`gw-a=127.0.0.1:${dead}/udp`, `gw-b=127.0.0.1:${uas.port}/udp`],
  );
  const lab = await Lab.start(topology, { timers: { t1: 100 } });
  try {
    const started = Date.now();
    const call = await callAndHangUp(lab, 'alice', '+14255550110', 100, 10_000);
    assert.equal(call.status, 200, `${JSON.stringify(call)}\n${uas.output()}`);
    assert.deepEqual(call.trunks, ['t-med-1-gw-a', 't-med-1-gw-b']);
    assert.ok(call.answeredUs !== undefined && (call.answeredUs - call.startedUs) / 1000 < 800 + 1000, 'answered within the fast failover time');
    assert.ok(Date.now() - started < 5000);
  } finally {
    await uas.stop();
    await lab.stop();
  }
});

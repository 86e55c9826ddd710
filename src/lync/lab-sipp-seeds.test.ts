/**
 * A real device can sit on any trunk: for every seed topology, every peer
 * (PSTN gateway, IP-PBX, ITSP SBC) is replaced by SIPp over TCP
 * (`--external PEER=HOST:PORT/tcp`; Debian's SIPp has no TLS), each on its
 * own loopback address. Each SIPp receives a call from a Lync user (as a
 * UAS) and places one to a Lync user (as a UAC) through its own trunk.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Sipp, startSipp, startSippServer } from '../qualify/test-support/sipp-process.ts';
import { Lab } from './lab.ts';
import { callAndHangUp, fixtureTopology, quick } from './lab-test-support.ts';
import type { TopologyInput } from './topology.ts';

const SEEDS = ['single-gateway.json', 'ip-pbx.json', 'pool-mixed.json', 'pool-shared-gateway.json', 'lab.json'];

for (const seed of SEEDS) {
  test(`${seed}: SIPp on every trunk's peer, a call each way`, async () => {
    const input = fixtureTopology(seed);
    const peers = input.peers.map((p, k) => ({ name: p.name, host: `127.0.0.${200 + k}`, number: `+1999555${String(1000 + k)}` }));
    const servers = await Promise.all(peers.map((p) => startSippServer(['-sn', 'uas', '-aa'], { host: p.host })));
    const devices = peers.map((p, k) => ({ ...p, port: servers[k].port }));
    const topology = fixtureTopology(
      seed,
      (doc: TopologyInput) => {
        quick(doc);
        // One route per device, first in the list, for every PSTN usage: a number that reaches that peer only.
        for (const d of devices) {
          const trunk = doc.trunks?.find((t) => t.peer === d.name);
          if (trunk) doc.voiceRoutes?.unshift({ name: `sipp-${d.name}`, numberPattern: `^\\${d.number}$`, pstnUsages: doc.pstnUsages ?? [], trunks: [trunk.name] });
        }
      },
      devices.map((d) => `${d.name}=${d.host}:${d.port}/tcp`),
    );
    const lab = await Lab.start(topology, { timers: { t1: 100 } });
    const clients: Sipp[] = [];
    try {
      const user = lab.topology.users.find((u) => u.registered && u.behaviour.outcome === 'answer' && u.lineUri !== null);
      assert.ok(user?.lineUri);
      const outbound = await Promise.all(devices.map((d) => callAndHangUp(lab, user.name, d.number, 50, 10_000)));
      for (const [i, c] of outbound.entries()) {
        assert.equal(c.status, 200, `${devices[i].name}: ${JSON.stringify(c)}\n${servers[i].output()}`);
        assert.equal(c.trunks?.[0], lab.topology.trunks.find((t) => t.peer === devices[i].name)?.name);
      }
      const codes = await Promise.all(
        devices.map(async (d) => {
          const trunk = lab.topology.trunks.find((t) => t.peer === d.name);
          assert.ok(trunk);
          const client = startSipp(['-sn', 'uac', '-t', 't1', '-i', d.host, '-p', '0', '-s', user.lineUri?.number ?? '', '-m', '1', '-d', '100', '-timeout', '15', `${trunk.mediationAddress}:${trunk.mediationPort}`]);
          clients.push(client);
          const code = await client.exited;
          return { code, output: client.output() };
        }),
      );
      for (const [i, c] of codes.entries()) assert.equal(c.code, 0, `${devices[i].name} → ${user.name}: ${c.output}`);
    } finally {
      await Promise.all([...clients, ...servers].map((c) => c.stop()));
      await lab.stop();
    }
  });
}

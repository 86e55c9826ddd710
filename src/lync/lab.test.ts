import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab } from './lab.ts';
import { callAndHangUp, firstParties, fixtureTopology } from './lab-test-support.ts';

const SEEDS = ['single-gateway.json', 'ip-pbx.json', 'pool-mixed.json', 'pool-shared-gateway.json', 'lab.json'];

for (const seed of SEEDS) {
  test(`${seed}: a call completes each way (Lync user → PSTN, PSTN → Lync user)`, async () => {
    const topology = fixtureTopology(seed);
    const lab = await Lab.start(topology, { timers: { t1: 100 } });
    try {
      const { user, number } = firstParties(lab.topology);
      const [outbound, inbound] = await Promise.all([callAndHangUp(lab, user, number), callAndHangUp(lab, number, user)]);
      assert.equal(outbound.state, 'ended', `outbound ${JSON.stringify(outbound)}`);
      assert.equal(outbound.status, 200);
      assert.ok(outbound.answeredUs !== undefined);
      assert.ok((outbound.trunks ?? []).length >= 1);
      assert.ok(outbound.legs.length >= 2, 'the B2BUA linked the gateway leg');
      assert.equal(inbound.state, 'ended', `inbound ${JSON.stringify(inbound)}`);
      assert.equal(inbound.status, 200);
      assert.ok(inbound.legs.length >= 2);
    } finally {
      await lab.stop();
    }
  });
}

/**
 * Regenerates fixtures/captures/lync-lab-calls.pcap: live traffic of the
 * emulated lab (src/lync, fixtures/topologies/lab.json) as the capture tap
 * saw it, one frame per SIP message. Calls both ways through the Front End
 * (a proxy: each request crosses two hops with one Call-ID), each held and
 * resumed, then a transfer by REFER. The linter's regression test reads it.
 *
 *     node_modules/.bin/node src/qualify/make-lab-capture.ts
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcap } from '../formats/pcap.ts';
import { Lab } from '../lync/lab.ts';
import { readTopologyInput, withFreePorts } from '../lync/free-ports.ts';
import { parseTopology } from '../lync/topology.ts';
import { WireLog } from './wire.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const input = withFreePorts(readTopologyInput(path.join(root, 'fixtures/topologies/lab.json')));
for (const u of input.users ?? []) if (u.behaviour?.answerAfterMs !== undefined) u.behaviour.answerAfterMs = 200;
const wire = new WireLog();
const lab = await Lab.start(parseTopology(input, 'lab.json'), { tap: wire.tap, timers: { t1: 100 } });
wire.attach(lab);

async function connected(id: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (lab.calls().find((c) => c.id === id)?.state === 'connected') return;
    await sleep(20);
  }
  throw new Error(`call ${id} did not connect`);
}

for (const [from, to] of [['alice', '+14255550110'], ['+14255550110', 'alice']]) {
  const { callId } = lab.placeCall({ from, to });
  await connected(callId);
  await lab.callAction(callId, { action: 'hold' });
  await sleep(200);
  await lab.callAction(callId, { action: 'resume' });
  await sleep(200);
  await lab.callAction(callId, { action: 'hangup' });
  await sleep(500);
}
const { callId } = lab.placeCall({ from: 'alice', to: '+14255550110' });
await connected(callId);
await lab.callAction(callId, { action: 'transfer', target: 'bob' });
await sleep(3500);
for (const c of lab.calls()) if (c.state !== 'ended' && c.state !== 'failed') await lab.callAction(c.id, { action: 'hangup' }).catch(() => undefined);
await sleep(1000);
await lab.stop();
wire.close();
const records = wire.messageRecords();
const out = path.join(root, 'fixtures/captures/lync-lab-calls.pcap');
writeFileSync(out, writePcap(records));
console.log(`${out}: ${records.length} messages`);

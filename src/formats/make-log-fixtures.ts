/**
 * Regenerates the Lync logs in fixtures/logs/ that our writer makes (see its
 * README.md; `ocslogger-snooper.log` is written by hand and left alone):
 *
 *   node_modules/.bin/node src/formats/make-log-fixtures.ts
 */

import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TraceStore } from '../trace/store.ts';
import { FE, GW, inboundB2buaCall, MED_GW_SIDE, observedRecords } from '../trace/test-support/b2bua-call.ts';
import { readCapture } from './capture-reader.ts';
import { writeLyncLog } from './lync-log.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, 'fixtures/logs');

/** 2025-11-24T16:00:00Z. */
const T0 = 1_764_000_000_000_000;

async function main(): Promise<void> {
  // 1. The SIPp UDP call of fixtures/captures, as one log of the whole exchange.
  const cap = readCapture(await readFile(join(root, 'fixtures/captures/sipp-udp-call.pcap')));
  const sipp = new TraceStore();
  sipp.appendRecords(cap.records);
  sipp.endInput();
  await writeFile(join(out, 'sipp-udp-call.log'), writeLyncLog(sipp));

  // 2. An inbound PSTN call through the Mediation Server, as med-1's own log shows it (both legs).
  const names: Record<string, string> = { [GW.host]: 'gw-a', [MED_GW_SIDE.host]: 'med-1', [FE.host]: 'fe-1' };
  const med = new TraceStore({ resolveElement: (a) => names[a.host] ?? null, linkHeuristics: false });
  med.appendRecords(observedRecords(inboundB2buaCall(1, T0), 'tcp'));
  med.linkLegs(0, 1, { source: 'b2bua', confidence: 1 });
  await writeFile(join(out, 'mediation-inbound-call.log'), writeLyncLog(med, { side: 'med-1' }));
  console.log(`wrote ${out}/sipp-udp-call.log and mediation-inbound-call.log`);
}

await main();

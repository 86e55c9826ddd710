/**
 * Rough speed of the capture reader and writers on a large SIPp capture:
 *
 *   node_modules/.bin/node src/formats/capture-reader.bench.ts [calls] [udp|tcp]
 *
 * The capture (SIPp uac → uas over loopback, recorded by dumpcap) is made
 * once under the OS temp dir and reused.
 */

import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCapture, readCaptureFile } from './capture-reader.ts';
import { writePcap } from './pcap.ts';
import { writePcapng } from './pcapng.ts';
import { captureSippCalls } from './test-support/sipp-capture.ts';

const calls = Number(process.argv[2] ?? 20000);
const transport = (process.argv[3] ?? 'udp') as 'udp' | 'tcp';
const dir = join(tmpdir(), 'trunklab-bench');
mkdirSync(dir, { recursive: true });
const file = join(dir, `sipp-${transport}-${calls}.pcap`);
if (!existsSync(file)) {
  console.log(`capturing ${calls} SIPp calls over ${transport}...`);
  const t = performance.now();
  await captureSippCalls({ transport, host: '127.0.0.1', calls, rate: 2000, dir, bufferMiB: 64, captures: [{ file: `sipp-${transport}-${calls}.pcap` }] });
  console.log(`captured in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const size = statSync(file).size;
console.log(`${file}: ${(size / 1e6).toFixed(1)} MB`);

function report(label: string, ms: number, records: number, frames: number): void {
  console.log(
    `${label}: ${records} records from ${frames} frames in ${ms.toFixed(0)} ms = ${Math.round(records / (ms / 1000)).toLocaleString('en')} records/s, ` +
      `${(size / 1e6 / (ms / 1000)).toFixed(0)} MB/s`,
  );
}

for (let i = 0; i < 3; i++) {
  let t = performance.now();
  const r = await readCaptureFile(file);
  report('readCaptureFile (1 MiB chunks)', performance.now() - t, r.records.length, r.stats.frames);
  const bytes = readFileSync(file);
  t = performance.now();
  const m = readCapture(bytes);
  report('readCapture (in memory)      ', performance.now() - t, m.records.length, m.stats.frames);
  if (r.error) console.log('error:', r.error.message);
  t = performance.now();
  const recs = m.records;
  const out = writePcap(recs);
  const wms = performance.now() - t;
  t = performance.now();
  const ng = writePcapng(recs, { commentOf: (x) => `call ${x.seq}` });
  const nms = performance.now() - t;
  console.log(
    `writePcap: ${Math.round(recs.length / (wms / 1000)).toLocaleString('en')} records/s (${(out.length / 1e6).toFixed(1)} MB); ` +
      `writePcapng with comments: ${Math.round(recs.length / (nms / 1000)).toLocaleString('en')} records/s (${(ng.length / 1e6).toFixed(1)} MB)`,
  );
}

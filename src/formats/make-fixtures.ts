/**
 * Regenerates the sample captures in fixtures/captures/ (see its README.md):
 *
 *   node_modules/.bin/node src/formats/make-fixtures.ts
 *
 * Needs sipp, dumpcap, capinfos and editcap (Debian: sip-tester, tshark).
 */

import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaptureRecord } from '../sip/capture.ts';
import { writePcapng } from './pcapng.ts';
import { captureSippCalls } from './test-support/sipp-capture.ts';
import { exportScenario } from './test-support/sip-samples.ts';

const out = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures');

async function main(): Promise<void> {
  await mkdir(out, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'trunklab-fixtures-'));
  try {
    for (const transport of ['udp', 'tcp'] as const) {
      const cap = await captureSippCalls({ transport, host: '127.0.0.1', calls: 1, dir: work, captures: [{ file: `sipp-${transport}-call.pcap` }] });
      const dest = join(out, `sipp-${transport}-call.pcap`);
      await copyFile(cap.files[0], dest);
      await chmod(dest, 0o644);
      console.log(`wrote ${dest}`);
    }
    const element = (r: CaptureRecord) => (r.transport === 'tls' ? 'fe-1' : r.local.host.includes(':') ? 'gw-v6' : 'med-1');
    const ng = writePcapng(exportScenario(), {
      interfaceOf: (r) => ({ interfaceName: element(r), description: `Trunklab element ${element(r)}` }),
      commentOf: (r) => `element=${element(r)} call=${Math.floor((r.seq - 1) / 7) + 1}`,
    });
    const dest = join(out, 'trunklab-export.pcapng');
    await writeFile(dest, ng);
    console.log(`wrote ${dest}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();

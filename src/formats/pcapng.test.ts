import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CaptureRecord } from '../sip/capture.ts';
import { readCapture } from './capture-reader.ts';
import { writePcap } from './pcap.ts';
import { PcapngWriter, writePcapng, writePcapngFile } from './pcapng.ts';
import { assertRoundTrip } from './test-support/compare.ts';
import { missingTool, run } from './test-support/peers.ts';
import { exportScenario } from './test-support/sip-samples.ts';
import { sngrepFile } from './test-support/sngrep.ts';
import { sipMessageCount, tsharkFrames, tsharkProblems } from './test-support/tshark.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-pcapng-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const noTshark = missingTool('tshark');
const noSngrep = missingTool('tshark', 'sngrep');

/** The emulated element each call of the export scenario belongs to. */
function element(r: CaptureRecord): string {
  if (r.transport === 'tls') return 'fe-1';
  if (r.local.host.includes(':')) return 'gw-v6';
  return 'med-1';
}

function callOf(r: CaptureRecord): number {
  return Math.floor((r.seq - 1) / 7) + 1;
}

const options = {
  interfaceOf: (r: CaptureRecord) => ({ interfaceName: element(r), description: `Trunklab element ${element(r)}` }),
  commentOf: (r: CaptureRecord) => `element=${element(r)} call=${callOf(r)} leg=${r.transport === 'tcp' ? 2 : 1}`,
};

function save(name: string, bytes: Uint8Array): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

test('pcapng: tshark dissects every SIP message, shows comments and interface names', async (t) => {
  if (noTshark) return t.skip(noTshark);
  const recs = exportScenario();
  const file = save('export.pcapng', writePcapng(recs, options));
  const frames = await tsharkFrames(file);
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), 28);
  const sipFrames = frames.filter((f) => f.cseqs.length > 0);
  assert.equal(sipFrames.length, 28);
  sipFrames.forEach((f, i) => {
    const r = recs[i];
    const want = `element=${element(r)} call=${callOf(r)} leg=${r.transport === 'tcp' ? 2 : 1}${r.transport === 'tls' ? '; decrypted TLS' : ''}`;
    assert.equal(f.comment, want, `frame ${f.number} comment`);
    assert.equal(f.interfaceName, element(r), `frame ${f.number} interface`);
  });
  const handshake = frames.filter((f) => f.cseqs.length === 0);
  assert.equal(handshake.length, 6);
  for (const f of handshake) assert.match(f.comment, /^synthetic TCP handshake/);
  // capinfos agrees on 3 interfaces.
  const info = await run('capinfos', ['-M', '-I', file]);
  assert.equal(info.code, 0);
  for (const name of ['med-1', 'gw-v6', 'fe-1']) assert.ok(info.stdout.includes(name), `capinfos lists ${name}`);
});

test('pcapng: sngrep opens the file and finds the 4 dialogs', async (t) => {
  if (noSngrep) return t.skip(noSngrep);
  const file = save('export-sngrep.pcapng', writePcapng(exportScenario(), options));
  const r = await sngrepFile(file, dir);
  assert.equal(r.dialogs, 4);
  assert.equal(r.sipPackets, 28);
});

test('pcapng: round trip keeps bytes, addresses, ports, transport and microsecond times', () => {
  const recs = exportScenario();
  const read = readCapture(writePcapng(recs, options));
  assert.equal(read.format, 'pcapng');
  assert.equal(read.error, undefined);
  assert.deepEqual(read.stats.linkTypes, [1, 1, 1]);
  assertRoundTrip(recs, read.records);
});

test('pcapng: default interfaces are one per local address; frames equal the pcap export', () => {
  const recs = exportScenario();
  const w = new PcapngWriter();
  for (const r of recs) w.push(r);
  assert.deepEqual([...w.interfaceIds().keys()], ['192.0.2.10', '2001:db8::10']);
  // Same frames as the pcap writer: compare the packet bytes both readers see.
  const a = readCapture(writePcapng(recs)).records.map((r) => Buffer.from(r.bytes).toString('latin1'));
  const b = readCapture(writePcap(recs)).records.map((r) => Buffer.from(r.bytes).toString('latin1'));
  assert.deepEqual(a, b);
});

test('pcapng: the streaming writer produces the same bytes as writePcapng', async () => {
  const recs = exportScenario();
  async function* source() {
    for (const r of recs) yield r;
  }
  const file = join(dir, 'streamed.pcapng');
  await writePcapngFile(file, source(), options);
  assert.deepEqual(readFileSync(file), Buffer.from(writePcapng(recs, options)));
  const empty = writePcapng([]);
  const read = readCapture(empty);
  assert.equal(read.error, undefined);
  assert.equal(read.records.length, 0);
});

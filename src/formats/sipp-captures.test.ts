/**
 * The capture reader against real captures: SIPp's uac and uas on loopback,
 * recorded by dumpcap (Ethernet on `lo`, Linux cooked v1 and v2 on `any`),
 * converted to pcapng by editcap, and checked message for message against
 * tshark; plus the sample captures in fixtures/captures/.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CaptureFormatError, type ReadRecord, readCapture, readCaptureFile } from './capture-reader.ts';
import { missingTool, run } from './test-support/peers.ts';
import { countSipMessages } from './test-support/sip-framing.ts';
import { captureSippCalls } from './test-support/sipp-capture.ts';
import { sngrepFile } from './test-support/sngrep.ts';
import { sipMessageCount, tsharkFrames, tsharkProblems } from './test-support/tshark.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-sipp-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const missing = missingTool('sipp', 'dumpcap', 'tshark', 'editcap', 'capinfos');
const noSngrep = missingTool('sngrep');
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures');

/** Frame numbers tshark shows as SIP, and its count of SIP messages. */
async function tsharkSip(file: string): Promise<{ frames: number[]; messages: number }> {
  // Loopback captures carry offloaded (unfilled) checksums: not validated here.
  const frames = await tsharkFrames(file, { filter: 'sip', checksums: false });
  assert.deepEqual(tsharkProblems(frames), [], `tshark problems in ${file}`);
  return { frames: frames.map((f) => f.number), messages: sipMessageCount(frames) };
}

function sameRecords(a: ReadRecord[], b: ReadRecord[], label: string): void {
  assert.equal(a.length, b.length, `${label}: count`);
  a.forEach((x, i) => {
    const y = b[i];
    assert.deepEqual(
      [x.timeUs, x.transport, x.local, x.remote, x.connId, x.frame],
      [y.timeUs, y.transport, y.local, y.remote, y.connId, y.frame],
      `${label}: record ${i + 1}`,
    );
    assert.deepEqual(Buffer.from(x.bytes), Buffer.from(y.bytes), `${label}: bytes of record ${i + 1}`);
  });
}

async function toPcapng(file: string): Promise<string> {
  const out = `${file}.pcapng`;
  const r = await run('editcap', ['-F', 'pcapng', file, out]);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

test('SIPp over UDP/IPv4: Ethernet (lo), Linux cooked v1 and v2 (any), pcapng — reader = tshark', async (t) => {
  if (missing) return t.skip(missing);
  const calls = 5;
  const cap = await captureSippCalls({
    transport: 'udp',
    host: '127.0.0.1',
    calls,
    dir,
    captures: [{ file: 'udp4-lo.pcap' }, { file: 'udp4-sll2.pcap', iface: 'any', linkType: 'LINUX_SLL2' }, { file: 'udp4-sll.pcap', iface: 'any', linkType: 'LINUX_SLL' }],
  });
  const expectLinks = [[1], [276], [113]];
  let reference: ReadRecord[] | null = null;
  for (const [i, file] of cap.files.entries()) {
    const r = await readCaptureFile(file);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.stats.linkTypes, expectLinks[i]);
    const ts = await tsharkSip(file);
    assert.equal(r.records.length, ts.frames.length, `${file}: records vs tshark -Y sip`);
    assert.equal(r.records.length, calls * 6, 'uac/uas: INVITE 180 200 ACK BYE 200 per call');
    assert.deepEqual(
      r.records.map((x) => x.frame),
      ts.frames,
    );
    assert.ok(r.records.every((x) => x.transport === 'udp' && (x.local.port === cap.uasPort || x.local.port === cap.uacPort)));
    // The three captures saw the same datagrams.
    if (!reference) reference = r.records;
    else
      assert.deepEqual(
        r.records.map((x) => Buffer.from(x.bytes).toString('latin1')),
        reference.map((x) => Buffer.from(x.bytes).toString('latin1')),
      );
  }
  const ng = await toPcapng(cap.files[0]);
  const rn = readCapture(readFileSync(ng));
  assert.equal(rn.format, 'pcapng');
  sameRecords(rn.records, reference ?? [], 'editcap pcapng');
  if (!noSngrep) {
    const s = await sngrepFile(cap.files[0], dir);
    assert.equal(s.dialogs, calls);
    assert.equal(s.sipPackets, calls * 6);
  }
});

test('SIPp over TCP/IPv4: framed SIP messages = tshark messages; pcapng; truncated capture', async (t) => {
  if (missing) return t.skip(missing);
  const calls = 5;
  const cap = await captureSippCalls({ transport: 'tcp', host: '127.0.0.1', calls, dir, captures: [{ file: 'tcp4.pcap' }] });
  const file = cap.files[0];
  const r = await readCaptureFile(file);
  assert.equal(r.error, undefined);
  assert.equal(r.stats.sipConnections, 1);
  const framed = countSipMessages(r.records);
  assert.equal(framed.pendingBytes, 0);
  const ts = await tsharkSip(file);
  assert.equal(framed.count, ts.messages, 'SIP messages: our framing vs tshark sip.CSeq');
  assert.equal(framed.count, calls * 6);
  assert.ok(r.records.every((x) => x.transport === 'tcp' && x.connId === 1 && x.missingBefore === 0));
  // Every record is one frame's new payload; tshark's SIP frames are among them.
  const ours = new Set(r.records.map((x) => x.frame));
  for (const f of ts.frames) assert.ok(ours.has(f), `tshark SIP frame ${f} is one of our records`);

  const rn = readCapture(readFileSync(await toPcapng(file)));
  sameRecords(rn.records, r.records, 'editcap pcapng');

  // Cut the file in the middle of the packet of the 10th record.
  const whole = readFileSync(file);
  const cutFrame = r.records[9].frame;
  let off = 24;
  for (let f = 1; f < cutFrame; f++) off += 16 + whole.readUInt32LE(off + 8);
  const inclLen = whole.readUInt32LE(off + 8);
  const cut = readCapture(whole.subarray(0, off + 16 + Math.floor(inclLen / 2)));
  assert.ok(cut.error instanceof CaptureFormatError);
  assert.equal(cut.error.code, 'truncated');
  assert.equal(cut.error.offset, off);
  assert.equal(cut.error.frame, cutFrame);
  assert.match(cut.error.message, new RegExp(`byte offset ${off}, frame ${cutFrame}`));
  sameRecords(cut.records, r.records.slice(0, 9), 'records before the cut');
});

test('SIPp over UDP/IPv6 (::1): reader = tshark', async (t) => {
  if (missing) return t.skip(missing);
  const calls = 3;
  const cap = await captureSippCalls({ transport: 'udp', host: '::1', calls, dir, captures: [{ file: 'udp6.pcap' }] });
  const r = await readCaptureFile(cap.files[0]);
  assert.equal(r.error, undefined);
  const ts = await tsharkSip(cap.files[0]);
  assert.equal(r.records.length, ts.frames.length);
  assert.equal(r.records.length, calls * 6);
  assert.ok(r.records.every((x) => x.local.host === '::1' && x.remote.host === '::1'));
  // A cut inside the last packet: all but the last record, and an error naming it.
  const whole = readFileSync(cap.files[0]);
  const cut = readCapture(whole.subarray(0, whole.length - 5));
  assert.equal(cut.error?.frame, r.stats.frames);
  sameRecords(cut.records, r.records.slice(0, -1), 'IPv6 cut');
});

test('fixtures/captures: every sample reads without error and matches tshark', async (t) => {
  const files = readdirSync(FIXTURES).filter((f) => /\.pcap(ng)?$/.test(f));
  assert.ok(files.length >= 2, 'sample captures present');
  for (const f of files) {
    const path = join(FIXTURES, f);
    const r = readCapture(readFileSync(path));
    assert.equal(r.error, undefined, f);
    assert.ok(r.records.length > 0, f);
    if (missingTool('tshark')) {
      t.diagnostic('tshark missing: fixture contents not cross-checked');
      continue;
    }
    const ts = await tsharkSip(path);
    assert.equal(countSipMessages(r.records).count, ts.messages, f);
  }
});

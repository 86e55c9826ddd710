/**
 * The trace store's exports against the peers: tshark dissects every
 * exported packet as SIP (same count, nothing malformed, comments and
 * interfaces per element), sngrep opens the files, and pcap → store → pcap
 * keeps every SIP payload byte for byte; SIPp captures (UDP and TCP, IPv4
 * and IPv6) import with tshark's message count; a truncated capture imports
 * up to the cut.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CaptureRecord } from '../sip/capture.ts';
import { TraceStore } from '../trace/store.ts';
import { FE, GW, inboundB2buaCall, MED_GW_SIDE } from '../trace/test-support/b2bua-call.ts';
import { CaptureFormatError, readCapture } from './capture-reader.ts';
import { missingTool } from './test-support/peers.ts';
import { countSipMessages } from './test-support/sip-framing.ts';
import { exportScenario, T0_US } from './test-support/sip-samples.ts';
import { captureSippCalls } from './test-support/sipp-capture.ts';
import { sngrepFile } from './test-support/sngrep.ts';
import { sipMessageCount, tsharkFrames, tsharkProblems } from './test-support/tshark.ts';
import { exportTrace, importTraceFile, writeTrace } from './trace-io.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-trace-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const noTshark = missingTool('tshark');
const noSngrep = missingTool('tshark', 'sngrep');
const noSipp = missingTool('sipp', 'dumpcap', 'tshark', 'editcap', 'capinfos');
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures');
const enc = new TextEncoder();

const NAMES: Record<string, string> = { [GW.host]: 'gw-a', [MED_GW_SIDE.host]: 'med-1', [FE.host]: 'fe-1' };

/** A lab-like trace: an inbound call through med-1 (TCP to the gateway, TLS to the FE) and the four calls of the writer tests. */
function labStore(): TraceStore {
  const store = new TraceStore({ resolveElement: (a) => NAMES[a.host] ?? null });
  const b2bua = inboundB2buaCall(1, T0_US - 1_000_000);
  const conns = new Map<string, number>();
  const records: CaptureRecord[] = b2bua.map((m, k) => {
    const transport = /SIP\/2\.0\/TLS/.test(m.text) ? 'tls' : 'tcp';
    const key = [m.from.host, m.to.host].sort().join('|');
    if (!conns.has(key)) conns.set(key, conns.size + 1);
    return { seq: k + 1, timeUs: m.atUs, direction: 'in', transport, local: m.to, remote: m.from, connId: conns.get(key) ?? 1, bytes: enc.encode(m.text) };
  });
  store.appendRecords(records);
  store.appendRecords(exportScenario());
  store.endInput();
  return store;
}

function save(name: string, bytes: Uint8Array): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

/** SIP messages of a capture, framed (one per UDP datagram, Content-Length framing on TCP). */
function framedMessages(bytes: Uint8Array): Buffer[] {
  const r = readCapture(bytes);
  assert.equal(r.error, undefined);
  return countSipMessages(r.records).messages;
}

test('pcapng export: tshark dissects every message as SIP, one per frame, nothing malformed; comments name element, call, leg; an interface per element', async (t) => {
  if (noTshark) return t.skip(noTshark);
  const store = labStore();
  const file = save('lab.pcapng', exportTrace(store, 'pcapng'));
  const frames = await tsharkFrames(file);
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), store.size);
  const sip = frames.filter((f) => f.cseqs.length > 0);
  assert.equal(sip.length, store.size, 'one message per frame');
  const senders = new Set<string>();
  sip.forEach((f, i) => {
    const from = store.from(i);
    senders.add(from);
    assert.equal(f.interfaceName, from, `frame ${f.number}: interface of the sender`);
    assert.match(f.comment, new RegExp(`^element=${from.replace(/[[\].]/g, '\\$&')} to=\\S+ call=\\d+ leg=\\d`), `frame ${f.number} comment`);
    if (store.transport(i) === 'tls') assert.match(f.comment, /decrypted TLS$/);
  });
  assert.ok(senders.has('med-1') && senders.has('gw-a') && senders.has('fe-1'));
  // The B2BUA call's two legs are one call (linked by the evidence): call 1, legs 1 and 2.
  assert.match(sip[0].comment, /element=gw-a to=med-1 call=1 leg=1/);
  const feInvite = sip.findIndex((f) => /element=med-1 to=fe-1/.test(f.comment));
  assert.match(sip[feInvite].comment, /call=1 leg=2/);
});

test('pcap export: tshark counts the same messages with valid checksums; sngrep opens pcap and pcapng', async (t) => {
  if (noTshark) return t.skip(noTshark);
  const store = labStore();
  const pcap = save('lab.pcap', exportTrace(store, 'pcap'));
  const frames = await tsharkFrames(pcap);
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), store.size);
  if (noSngrep) return t.diagnostic(noSngrep);
  const callIds = new Set(Array.from({ length: store.size }, (_, i) => store.callId(i)));
  for (const f of [pcap, save('lab-sngrep.pcapng', exportTrace(store, 'pcapng'))]) {
    const s = await sngrepFile(f, dir);
    assert.equal(s.dialogs, callIds.size, `${f}: sngrep dialogs`);
    assert.equal(s.sipPackets, store.size, `${f}: sngrep SIP packets`);
  }
});

test('pcap → store → pcap keeps every SIP payload byte-identical (fixtures: UDP, TCP, pcapng with TLS)', () => {
  const files = readdirSync(FIXTURES).filter((f) => /\.pcap(ng)?$/.test(f));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const bytes = readFileSync(join(FIXTURES, f));
    const store = new TraceStore();
    store.appendRecords(readCapture(bytes).records);
    store.endInput();
    const original = framedMessages(bytes);
    assert.equal(store.size, original.length, `${f}: store count`);
    for (const fmt of ['pcap', 'pcapng'] as const) {
      const again = framedMessages(exportTrace(store, fmt));
      assert.equal(again.length, original.length, `${f} → ${fmt}: count`);
      for (const [i, m] of again.entries()) assert.ok(m.equals(original[i]), `${f} → ${fmt}: message ${i} bytes`);
    }
  }
});

for (const [transport, host] of [
  ['udp', '127.0.0.1'],
  ['tcp', '127.0.0.1'],
  ['udp', '::1'],
  ['tcp', '::1'],
] as const) {
  test(`SIPp over ${transport.toUpperCase()}/${host.includes(':') ? 'IPv6' : 'IPv4'}: the store counts what tshark counts; re-export is byte-identical`, async (t) => {
    if (noSipp) return t.skip(noSipp);
    const name = `sipp-${transport}-${host.includes(':') ? 6 : 4}.pcap`;
    const cap = await captureSippCalls({ transport, host, calls: 5, dir, captures: [{ file: name }] });
    const file = cap.files[0];
    const frames = await tsharkFrames(file, { filter: 'sip', checksums: false });
    assert.deepEqual(tsharkProblems(frames), []);
    const { store, error } = await importTraceFile(file);
    assert.equal(error, undefined);
    assert.equal(store.size, sipMessageCount(frames), 'store messages = tshark SIP messages');
    assert.equal(store.size, 30);
    assert.equal(store.legCount, 5);
    assert.equal(store.calls().length, 5, 'SIPp calls are not linked to each other');
    for (let i = 0; i < store.size; i++) assert.equal(store.errors(i), 0, `message ${i} parses cleanly`);
    const original = framedMessages(readFileSync(file));
    const again = framedMessages(exportTrace(store, 'pcap'));
    assert.equal(again.length, original.length);
    for (const [i, m] of again.entries()) assert.ok(m.equals(original[i]), `message ${i}`);
    if (transport === 'tcp') {
      // Cut inside the packet of the 10th SIP frame: everything before it is imported, the error says where.
      const whole = readFileSync(file);
      const cutFrame = frames[9].number;
      let off = 24;
      for (let f = 1; f < cutFrame; f++) off += 16 + whole.readUInt32LE(off + 8);
      const cutFile = save(`cut-${name}`, whole.subarray(0, off + 16 + 10));
      const cut = await importTraceFile(cutFile);
      assert.ok(cut.error instanceof CaptureFormatError);
      assert.equal(cut.error.code, 'truncated');
      assert.equal(cut.error.frame, cutFrame);
      assert.match(cut.error.message, new RegExp(`byte offset ${off}, frame ${cutFrame}`));
      assert.equal(cut.store.size, 9, 'the 9 messages before the cut');
      for (let i = 0; i < 9; i++) assert.deepEqual(Buffer.from(cut.store.bytes(i)), Buffer.from(store.bytes(i)));
    }
  });
}

test('writeTrace writes pcap, pcapng, Lync log and JSON trace of a run', async () => {
  const store = labStore();
  const files = { pcap: join(dir, 'run.pcap'), pcapng: join(dir, 'run.pcapng'), cls: join(dir, 'run.log'), trace: join(dir, 'run.json') };
  const r = await writeTrace(store, files);
  assert.equal(r.messages, store.size);
  assert.deepEqual(r.files, [files.pcap, files.pcapng, files.cls, files.trace]);
  for (const f of Object.values(files)) {
    const back = await importTraceFile(f);
    assert.equal(back.error, undefined, f);
    assert.equal(back.store.size, store.size, `${f}: messages`);
    for (let i = 0; i < store.size; i++) assert.deepEqual(Buffer.from(back.store.bytes(i)), Buffer.from(store.bytes(i)), `${f}: message ${i}`);
  }
  const json = await importTraceFile(files.trace);
  assert.equal(json.format, 'json');
  assert.deepEqual(json.store.summaries(), store.summaries(), 'the JSON trace restores every summary field');
});

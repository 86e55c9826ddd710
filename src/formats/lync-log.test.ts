import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TraceStore } from '../trace/store.ts';
import { FE, GW, inboundB2buaCall, MED_GW_SIDE, observedRecords } from '../trace/test-support/b2bua-call.ts';
import { readCapture } from './capture-reader.ts';
import { lyncTime, writeLyncLog } from './lync-log.ts';
import { LyncLogError, LyncLogReader, readLyncLog } from './lync-log-reader.ts';
import { missingTool } from './test-support/peers.ts';
import { T0_US } from './test-support/sip-samples.ts';
import { sipMessageCount, tsharkFrames, tsharkProblems } from './test-support/tshark.ts';
import { exportTrace, importTraceFile } from './trace-io.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-lync-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LOGS = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/logs');
const NAMES: Record<string, string> = { [GW.host]: 'gw-a', [MED_GW_SIDE.host]: 'med-1', [FE.host]: 'fe-1' };

function labStore(): TraceStore {
  const store = new TraceStore({ resolveElement: (a) => NAMES[a.host] ?? null });
  // Microseconds that a log (milliseconds) cannot keep.
  store.appendRecords(observedRecords(inboundB2buaCall(1, T0_US + 123), 'tcp'));
  return store;
}

function storeFromLog(bytes: Uint8Array, self?: string): { store: TraceStore; error: LyncLogError | undefined; skipped: number } {
  const r = readLyncLog(bytes, { self });
  const store = new TraceStore({ resolveElement: (a) => r.names.get(a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`) ?? null });
  store.appendRecords(r.records);
  store.endInput();
  return { store, error: r.error, skipped: r.stats.skippedRecords };
}

test('the record format: TL_INFO line, preamble, Start-Line, headers as sent, Message-Body, $$end_record, CRLF', () => {
  const log = Buffer.from(writeLyncLog(labStore())).toString('latin1');
  const first = log.slice(0, log.indexOf('$$end_record') + 14);
  const lines = first.split('\r\n');
  assert.match(lines[0], /^TL_INFO\(TF_PROTOCOL\) \[0\][0-9A-F]{4}\.[0-9A-F]{4}::11\/24\/2025-16:00:00\.000\.00000001 \(SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog\.cpp\(125\)\)\$\$begin_record$/);
  assert.match(lines[1], /^Trace-Correlation-Id: \d+$/);
  assert.equal(lines[2], 'Instance-Id: 00000001');
  assert.equal(lines[3], 'Direction: outgoing;source="gw-a 127.0.0.30:5066";destination="med-1 127.0.0.20:5068"');
  assert.equal(lines[4], 'Peer: 127.0.0.20:5068');
  assert.equal(lines[5], 'Message-Type: request');
  assert.equal(lines[6], 'Start-Line: INVITE sip:2160@127.0.0.20:5068;user=phone SIP/2.0');
  assert.ok(lines.includes('Message-Body: v=0'));
  assert.equal(lines[lines.length - 2], '$$end_record');
  assert.ok(log.includes('Message-Body: -\r\n$$end_record'), 'no body: "-"');
  assert.equal(lyncTime(Date.UTC(2012, 0, 18, 5, 0, 43, 101) * 1000 + 999), '01/18/2012-05:00:43.101');
});

test('log → store: the same messages, bytes, addresses, element names and transports; times to the millisecond', () => {
  const store = labStore();
  const { store: back, error } = storeFromLog(writeLyncLog(store));
  assert.equal(error, undefined);
  assert.equal(back.size, store.size);
  for (let i = 0; i < store.size; i++) {
    assert.deepEqual(Buffer.from(back.bytes(i)), Buffer.from(store.bytes(i)), `message ${i}`);
    assert.deepEqual([back.src(i), back.dst(i), back.from(i), back.to(i)], [store.src(i), store.dst(i), store.from(i), store.to(i)]);
    assert.equal(back.timeUs(i), Math.floor(store.timeUs(i) / 1000) * 1000);
    assert.equal(back.transport(i), /SIP\/2\.0\/TLS/.test(Buffer.from(store.bytes(i)).toString()) ? 'tls' : 'tcp');
  }
  assert.equal(back.calls().length, 1, 'the two legs are linked again by the evidence');
});

test("one element's view (side): incoming and outgoing records with Peer, as that server would log them", () => {
  const store = labStore();
  const log = Buffer.from(writeLyncLog(store, { side: 'fe-1' })).toString('latin1');
  const directions = [...log.matchAll(/^Direction: (\w+);/gm)].map((m) => m[1]);
  const feMessages = store.summaries().filter((s) => s.from === 'fe-1' || s.to === 'fe-1');
  assert.equal(directions.length, feMessages.length);
  assert.deepEqual(directions, feMessages.map((s) => (s.from === 'fe-1' ? 'outgoing' : 'incoming')));
  for (const m of log.matchAll(/^Peer: (.*)$/gm)) assert.equal(m[1].trim(), '127.0.0.20:5070');
});

test('fixtures/logs: the SIPp call log is the SIPp capture, byte for byte', () => {
  const log = storeFromLog(readFileSync(join(LOGS, 'sipp-udp-call.log')));
  assert.equal(log.error, undefined);
  const cap = readCapture(readFileSync(join(LOGS, '../captures/sipp-udp-call.pcap')));
  assert.equal(log.store.size, cap.records.length);
  cap.records.forEach((r, i) => {
    assert.deepEqual(Buffer.from(log.store.bytes(i)), Buffer.from(r.bytes));
    assert.deepEqual(log.store.src(i), r.remote);
    assert.equal(log.store.transport(i), 'udp');
  });
});

test("fixtures/logs: a Mediation Server's log of an inbound call: 14 messages, two legs joined into one call", () => {
  const { store, error } = storeFromLog(readFileSync(join(LOGS, 'mediation-inbound-call.log')));
  assert.equal(error, undefined);
  assert.equal(store.size, 14);
  assert.equal(store.legCount, 2);
  const calls = store.calls();
  assert.equal(calls.length, 1);
  assert.ok(calls[0].confidence >= 0.9);
  assert.deepEqual(new Set(store.summaries().map((s) => s.from)), new Set(['gw-a', 'med-1', 'fe-1']));
});

test('fixtures/logs: a hand-written OCSLogger (Snooper-style) log: LF line ends, other trace lines, a diagnostic record, en-dash bodies', () => {
  const { store, error, skipped } = storeFromLog(readFileSync(join(LOGS, 'ocslogger-snooper.log')));
  assert.equal(error, undefined);
  assert.equal(skipped, 1, 'the TF_DIAG record has no Start-Line');
  assert.equal(store.size, 16);
  for (let i = 0; i < store.size; i++) {
    assert.equal(store.errors(i), 0, `message ${i}: ${store.summary(i).method}`);
    assert.equal(store.warnings(i), 0);
  }
  const s = store.summaries();
  assert.equal(s[0].method, 'OPTIONS');
  assert.equal(s[0].src, '10.10.1.50:5060');
  assert.equal(s[0].dst, '10.10.1.20:5068', 'Local-IP');
  assert.equal(s[0].timeUs, Date.UTC(2013, 2, 14, 9, 15, 2, 114) * 1000);
  assert.equal(s[4].transport, 'tls');
  assert.equal(s[4].src, '10.10.1.20:49874');
  const calls = store.calls();
  assert.equal(calls.length, 2, 'the OPTIONS ping, and the call from the gateway relayed to the Front End');
  const call = calls[1];
  assert.equal(call.legs.length, 2);
  assert.ok(call.confidence >= 0.9, `confidence ${call.confidence}`);
  const evidence = call.links[0].evidence.join('\n');
  assert.match(evidence, /ms-trunking-peer names 10\.10\.1\.50/);
  assert.match(evidence, /ms-call-source: non-ms-rtc/);
  // CRLF instead of LF: the same.
  const crlf = storeFromLog(Buffer.from(readFileSync(join(LOGS, 'ocslogger-snooper.log'), 'latin1').replace(/\n/g, '\r\n'), 'latin1'));
  assert.equal(crlf.store.size, 16);
  for (let i = 0; i < 16; i++) assert.deepEqual(Buffer.from(crlf.store.bytes(i)), Buffer.from(store.bytes(i)));
});

test('streaming: any chunk size gives the same records', () => {
  const bytes = readFileSync(join(LOGS, 'ocslogger-snooper.log'));
  const whole = readLyncLog(bytes).records;
  for (const size of [1, 7, 100, 4096]) {
    const r = new LyncLogReader();
    const got = [];
    for (let o = 0; o < bytes.length; o += size) got.push(...r.push(bytes.subarray(o, o + size)));
    got.push(...r.end());
    assert.equal(r.error, null);
    assert.deepEqual(
      got.map((x) => [x.frame, x.line, x.timeUs, Buffer.from(x.bytes).toString('latin1')]),
      whole.map((x) => [x.frame, x.line, x.timeUs, Buffer.from(x.bytes).toString('latin1')]),
      `chunks of ${size}`,
    );
  }
});

test('a log cut in the middle of a record: an error with the line, every record before it kept', () => {
  const text = readFileSync(join(LOGS, 'ocslogger-snooper.log'), 'latin1');
  const lines = text.split('\n');
  const fifthBegin = lines.findIndex((l, k) => l.includes('$$begin_record') && lines.slice(0, k).filter((x) => x.includes('$$begin_record')).length === 5);
  const cut = lines.slice(0, fifthBegin + 12).join('\n');
  const r = readLyncLog(Buffer.from(cut, 'latin1'));
  assert.ok(r.error instanceof LyncLogError);
  assert.equal(r.error.code, 'truncated');
  assert.equal(r.error.record, 6);
  assert.equal(r.error.line, fifthBegin + 12);
  assert.match(r.error.message, new RegExp(`^truncated log at line ${fifthBegin + 12}, record 6: the log ends inside the record that begins at line ${fifthBegin + 1}`));
  assert.equal(r.records.length, 4, 'records 1, 2, 4, 5 (3 is a diagnostic record)');

  // A record that never ends before the next one begins.
  const broken = text.replace(/(Start-Line: SIP\/2\.0 100 Trying[\s\S]*?)\$\$end_record\n/, '$1');
  const b = readLyncLog(Buffer.from(broken, 'latin1'));
  assert.equal(b.error?.code, 'corrupt');
  assert.match(b.error?.message ?? '', /a new trace record starts before \$\$end_record/);
  assert.equal(b.records.length, 3);
});

test('a log imported from a file streams with progress; its pcap export dissects in tshark (host names get stand-in addresses)', async (t) => {
  const progress: number[] = [];
  const r = await importTraceFile(join(LOGS, 'ocslogger-snooper.log'), { chunkSize: 1024, onProgress: (p) => progress.push(p.bytesRead) });
  assert.equal(r.format, 'cls');
  assert.equal(r.store.size, 16);
  assert.ok(progress.length > 3 && progress[progress.length - 1] === readFileSync(join(LOGS, 'ocslogger-snooper.log')).length);
  if (missingTool('tshark')) return t.skip('tshark is not installed');
  const { store } = await importTraceFile(join(LOGS, 'mediation-inbound-call.log'));
  const viaLog = join(dir, 'med.pcapng');
  writeFileSync(viaLog, exportTrace(store, 'pcapng'));
  const frames = await tsharkFrames(viaLog);
  assert.deepEqual(tsharkProblems(frames), []);
  assert.equal(sipMessageCount(frames), 14);
  // A log of one side (the own end is unnamed: `local`, port 0) still exports valid frames.
  const side = join(dir, 'side.log');
  writeFileSync(side, exportTrace(labStore(), 'cls', { side: 'med-1' }));
  const stripped = join(dir, 'side-stripped.log');
  writeFileSync(stripped, readFileSync(side, 'latin1').replace(/;source="[^"]*";destination="[^"]*"/g, ''), 'latin1');
  const one = await importTraceFile(stripped);
  assert.equal(one.store.size, 14);
  assert.equal(one.store.from(0), '127.0.0.30:5066');
  assert.equal(one.store.to(0), 'local:0');
  const pcap = join(dir, 'side.pcap');
  writeFileSync(pcap, exportTrace(one.store, 'pcap'));
  const f2 = await tsharkFrames(pcap);
  assert.deepEqual(tsharkProblems(f2), []);
  assert.equal(sipMessageCount(f2), 14);
});

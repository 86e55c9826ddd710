/** `trunklab convert` and `trunklab lint` on captures and logs, as a user runs them. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportTrace, importTraceFile } from '../formats/trace-io.ts';
import { TraceStore } from '../trace/store.ts';
import { dialogMessages, GW, MED_GW_SIDE, observedRecords } from '../trace/test-support/b2bua-call.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'trunklab-cli-convert-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function trunklab(...args: string[]): { code: number | null; lines: Record<string, unknown>[]; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'src/cli/trunklab.js'), ...args], { encoding: 'utf8', cwd: root });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: r.status, lines, stderr: r.stderr };
}

test('convert: pcap → Lync log → pcapng → JSON → SIPp scenario, format from the extension', async () => {
  const log = join(dir, 'call.log');
  let r = trunklab('convert', 'fixtures/captures/sipp-tcp-call.pcap', log);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.lines[0], { in: 'fixtures/captures/sipp-tcp-call.pcap', from: 'pcap', out: log, to: 'cls', ok: true, messages: 6, calls: 1, legs: 1 });
  const ng = join(dir, 'call.pcapng');
  r = trunklab('convert', log, ng);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.lines[0].from, 'cls');
  const json = join(dir, 'call.trace');
  r = trunklab('convert', ng, json, '--to', 'json');
  assert.equal(r.code, 0, r.stderr);
  const back = await importTraceFile(json);
  assert.equal(back.format, 'json');
  assert.equal(back.store.size, 6);
  const xml = join(dir, 'uas.xml');
  r = trunklab('convert', json, xml, '--side', 'callee');
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(xml, 'latin1'), /<recv request="INVITE"/);
});

test('convert: usage errors exit 2 (SIPp without --side, unknown format, unreadable input)', () => {
  let r = trunklab('convert', 'fixtures/captures/sipp-udp-call.pcap', join(dir, 'x.xml'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /needs --side/);
  r = trunklab('convert', 'fixtures/captures/sipp-udp-call.pcap', join(dir, 'x.bin'));
  assert.equal(r.code, 2);
  r = trunklab('convert', join(dir, 'missing.pcap'), join(dir, 'x.pcap'));
  assert.equal(r.code, 2);
  assert.match(String(r.lines[0].error), /cannot read/);
  r = trunklab('convert', 'README.md', join(dir, 'x.pcap'));
  assert.equal(r.code, 2);
  assert.match(String(r.lines[0].error), /not a pcap, pcapng, Lync\/OCSLogger log or Trunklab JSON trace/);
  r = trunklab('convert', 'fixtures/captures/sipp-udp-call.pcap', join(dir, 'y.xml'), '--side', '192.0.2.1:1');
  assert.equal(r.code, 2);
  assert.match(String(r.lines[0].error), /sends or receives no message/);
});

test('convert: a truncated capture converts what came before the cut and exits 1 with where it broke', () => {
  const whole = readFileSync(join(root, 'fixtures/captures/sipp-udp-call.pcap'));
  const cut = join(dir, 'cut.pcap');
  writeFileSync(cut, whole.subarray(0, whole.length - 40));
  const out = join(dir, 'cut.log');
  const r = trunklab('convert', cut, out);
  assert.equal(r.code, 1);
  assert.equal(r.lines[0].messages, 5);
  assert.match(String(r.lines[0].error), /truncated capture at byte offset \d+, frame 6/);
  assert.match(r.stderr, /the 5 messages before it were converted/);
  assert.ok(existsSync(out));
  assert.equal((readFileSync(out, 'latin1').match(/\$\$end_record/g) ?? []).length, 5);
});

test('lint: a capture gets one line per message with its frame, dialog findings with their scope; exit 1 on errors', () => {
  const msgs = dialogMessages({
    transport: 'udp',
    caller: MED_GW_SIDE,
    callee: GW,
    callId: 'cli-lint-hold',
    fromUri: 'sip:+14255550101@lab.trunklab.test',
    toUri: 'sip:+14255550150@127.0.0.30',
    ruri: 'sip:+14255550150@127.0.0.30:5066',
    holdAnswer: 'sendrecv',
  });
  const store = new TraceStore();
  store.appendRecords(observedRecords(msgs, 'udp'));
  const file = join(dir, 'hold.pcap');
  writeFileSync(file, exportTrace(store, 'pcap'));
  let r = trunklab('lint', file);
  assert.equal(r.code, 1);
  assert.equal(r.lines.length, store.size);
  assert.deepEqual(
    r.lines.map((l) => l.frame),
    Array.from({ length: store.size }, (_, i) => i + 1),
  );
  const bad = r.lines.find((l) => l.ok === false);
  assert.ok(bad);
  assert.equal(bad.status, 200);
  assert.deepEqual(Object.keys(bad), ['file', 'frame', 'index', 'ok', 'kind', 'status', 'callId', 'diagnostics']);
  const d = (bad.diagnostics as Array<Record<string, string>>)[0];
  assert.equal(d.code, 'sdp-hold-answered-active');
  assert.equal(d.scope, 'dialog');
  r = trunklab('lint', '--problems', file);
  assert.equal(r.lines.length, 1);

  // A log: `record` numbers; a clean log exits 0.
  r = trunklab('lint', 'fixtures/logs/ocslogger-snooper.log');
  assert.equal(r.code, 0);
  assert.equal(r.lines.length, 16);
  assert.deepEqual(
    r.lines.slice(0, 3).map((l) => l.record),
    [1, 2, 4],
    'record numbers count every record of the file (record 3 is a diagnostic record)',
  );
});

test('lint: a truncated capture lints the messages before the cut, then an error line; exit 2. Raw messages as before', () => {
  const whole = readFileSync(join(root, 'fixtures/captures/sipp-udp-call.pcap'));
  const cut = join(dir, 'cut2.pcap');
  writeFileSync(cut, whole.subarray(0, whole.length - 40));
  let r = trunklab('lint', cut);
  assert.equal(r.code, 2);
  assert.equal(r.lines.length, 6);
  assert.match(String(r.lines[5].error), /truncated capture/);
  r = trunklab('lint', 'fixtures/rfc4475/badvers.dat');
  assert.equal(r.code, 1);
  assert.equal(r.lines[0].file, 'fixtures/rfc4475/badvers.dat');
  assert.equal(r.lines[0].frame, undefined);
});

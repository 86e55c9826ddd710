/**
 * Regression for the trace linter on live lab traffic
 * (fixtures/captures/lync-lab-calls.pcap, made by src/qualify/make-lab-capture.ts):
 * calls both ways through the Front End, hold/resume, a REFER transfer. The
 * Front End proxies, so one leg (Call-ID + From tag) holds each request and
 * response twice, once per hop; the linter used to match every ACK to the
 * last hop's INVITE and reported a false "ack-missing" on the other hop's
 * 200 OKs (and a false "cseq-not-increasing" on each forwarded request).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../formats/capture-reader.ts';
import { writePcap } from '../formats/pcap.ts';
import { importTraceFile } from '../formats/trace-io.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = join(root, 'fixtures/captures/lync-lab-calls.pcap');
const dir = mkdtempSync(join(tmpdir(), 'trunklab-lint-lab-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function lint(file: string): { code: number | null; lines: Array<{ index: number; frame: number; ok: boolean; diagnostics: Array<{ code: string; scope?: string }> }> } {
  const r = spawnSync(process.execPath, [join(root, 'src/cli/trunklab.js'), 'lint', '--problems', file], { encoding: 'utf8', cwd: root });
  return { code: r.status, lines: r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)) };
}

test('live lab capture: 200 OKs to INVITE on both hops of the Front End, all acknowledged; trunklab lint finds nothing', async () => {
  const { store } = await importTraceFile(FIXTURE);
  // The capture does exercise the case: legs whose INVITE 2xx crossed two hops (user ↔ FE, FE ↔ Mediation Server).
  let multiHop = 0;
  for (let l = 0; l < store.legCount; l++) {
    const hops = new Set<string>();
    for (const i of store.legMessages(l)) {
      if (store.kind(i) === 'response' && store.status(i) === 200 && store.cseqMethod(i) === 'INVITE' && !store.isRetransmission(i)) hops.add([store.from(i), store.to(i)].sort().join('|'));
    }
    if (hops.size >= 2) multiHop++;
  }
  assert.ok(multiHop >= 3, `legs with 2xx on two hops: ${multiHop}`);
  const methods = new Set(Array.from({ length: store.size }, (_, i) => store.method(i)));
  for (const m of ['INVITE', 'ACK', 'BYE', 'REFER', 'NOTIFY']) assert.ok(methods.has(m), m);

  const r = lint(FIXTURE);
  assert.deepEqual(r.lines.map((l) => `frame ${l.frame}: ${l.diagnostics.map((d) => d.code).join(', ')}`), []);
  assert.equal(r.code, 0);
});

test('the same capture with one hop\'s ACK removed: one ack-missing, on that hop\'s 200 OK', async () => {
  const { records } = readCapture(readFileSync(FIXTURE));
  const { store } = await importTraceFile(FIXTURE);
  // The first ACK from a Lync user to the Front End (frame i+1 is message i: one message per frame).
  const ack = Array.from({ length: store.size }, (_, i) => i).find((i) => store.method(i) === 'ACK' && store.from(i).startsWith('127.0.0.101:'));
  assert.ok(ack !== undefined);
  const ok = Array.from({ length: ack }, (_, i) => ack - 1 - i).find((i) => store.status(i) === 200 && store.cseqMethod(i) === 'INVITE' && store.to(i) === store.from(ack) && store.callId(i) === store.callId(ack));
  assert.ok(ok !== undefined);
  const cut = join(dir, 'no-ack.pcap');
  writeFileSync(cut, writePcap(records.filter((_, i) => i !== ack)));
  const r = lint(cut);
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines.map((l) => ({ index: l.index, codes: l.diagnostics.map((d) => d.code) })), [{ index: ok, codes: ['ack-missing'] }]);
});

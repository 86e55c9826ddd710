import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TraceStore } from '../trace/store.ts';
import { dialogMessages, GW, inboundB2buaCall, MED_GW_SIDE, observedRecords, tapRecords } from '../trace/test-support/b2bua-call.ts';
import { JsonTraceError, jsonLines, readJsonTrace, writeJsonTrace } from './json.ts';
import { importTraceFile } from './trace-io.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-json-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NAMES: Record<string, string> = { [GW.host]: 'gw-a', [MED_GW_SIDE.host]: 'med-1' };

test('JSON trace round trip: summaries, receive times of both-ends messages, B2BUA links, exact bytes (base64 when not ASCII)', async () => {
  const store = new TraceStore({ resolveElement: (a) => NAMES[a.host] ?? null, linkHeuristics: false });
  const live = dialogMessages({ transport: 'udp', caller: MED_GW_SIDE, callee: GW, callId: 'json-live', fromUri: 'sip:+1@x', toUri: 'sip:2@y', ruri: 'sip:2@127.0.0.30' });
  live[0] = { ...live[0], text: live[0].text.replace('Max-Forwards: 70', 'Max-Forwards: 70\r\nSubject: caf\u00e9') };
  for (const r of tapRecords(live, 'udp')) store.tap(r);
  store.appendRecords(observedRecords(inboundB2buaCall(1, 5_000_000), 'tcp'));
  store.linkLegs({ callId: 'gwcall1-5000000' }, { callId: 'medcall1-5000000' }, { source: 'b2bua', confidence: 1, evidence: ['Mediation Server call 17'] });
  store.flushEvents();
  const lines = [...jsonLines(store)].map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines[0], { type: 'trunklab-trace', version: 1, messages: store.size, legs: 3, calls: 2 });
  assert.equal(typeof lines[1].base64, 'string', 'a UTF-8 Subject makes the bytes non-ASCII');
  assert.equal(typeof lines[2].text, 'string');
  assert.equal(lines[1].recvTimeUs, store.recvTimeUs(0));
  assert.deepEqual(lines[lines.length - 1], { type: 'link', a: 1, b: 2, source: 'b2bua', confidence: 1, evidence: ['Mediation Server call 17'] });

  const file = join(dir, 'trace.json');
  writeFileSync(file, writeJsonTrace(store));
  const back = await importTraceFile(file);
  assert.equal(back.error, undefined);
  assert.deepEqual(back.store.summaries(), store.summaries());
  for (let i = 0; i < store.size; i++) assert.deepEqual(Buffer.from(back.store.bytes(i)), Buffer.from(store.bytes(i)));
  assert.deepEqual(back.store.links, store.links);
});

test('a corrupt JSON trace: an error with the line, the messages before it kept', () => {
  const store = new TraceStore();
  store.appendRecords(observedRecords(inboundB2buaCall(2, 0), 'tcp'));
  const text = Buffer.from(writeJsonTrace(store)).toString('utf8').split('\n');
  text[5] = text[5].slice(0, 40);
  const r = readJsonTrace(Buffer.from(text.join('\n')));
  assert.ok(r.error instanceof JsonTraceError);
  assert.equal(r.error.line, 6);
  assert.match(r.error.message, /^corrupt trace at line 6: not JSON/);
  assert.equal(r.events.length, 4);
  const noHeader = readJsonTrace(Buffer.from(text.slice(1, 3).join('\n')));
  assert.match(noHeader.error?.message ?? '', /first line must be/);
});

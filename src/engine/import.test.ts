import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { BridgeEvent, MessageSummary, TraceTick } from '../common/api.ts';
import { messageFilter } from '../common/ladder.ts';
import { writePcap } from '../formats/pcap.ts';
import { OutgoingMessage } from '../sip/builder.ts';
import type { CaptureRecord, HostPort } from '../sip/capture.ts';
import { Engine } from './engine.ts';

const MED: HostPort = { host: '127.0.0.20', port: 5068 };
const GW: HostPort = { host: '127.0.0.30', port: 5066 };
const FE: HostPort = { host: '127.0.0.10', port: 5061 };
const MED_FE: HostPort = { host: '127.0.0.20', port: 5067 };

/** One leg: INVITE (SDP), 100, 180, 200 (SDP), ACK, BYE, 200, between `a` and `b`. */
function leg(callId: string, n: number, a: HostPort, b: HostPort, t: number, connId: number): CaptureRecord[] {
  const via = (branch: string): string => `SIP/2.0/TCP ${a.host}:${a.port};branch=z9hG4bK${branch}`;
  const from = `<sip:+1425555${String(n).padStart(4, '0')}@contoso.com;user=phone>;tag=f${n}`;
  const to = `<sip:+14255550160@contoso.com;user=phone>`;
  const sdp = `v=0\r\no=- ${n} 1 IN IP4 ${a.host}\r\ns=-\r\nc=IN IP4 ${a.host}\r\nt=0 0\r\nm=audio ${20000 + n * 2} RTP/AVP 0\r\n`;
  const req = (method: string, cseq: number, branch: string, toTag: boolean): OutgoingMessage => {
    const m = OutgoingMessage.request(method, `sip:+14255550160@${b.host}:${b.port}`);
    m.append('Via', via(branch)).append('Max-Forwards', '70').append('From', from).append('To', toTag ? `${to};tag=t${n}` : to);
    m.append('Call-ID', callId).append('CSeq', `${cseq} ${method}`);
    if (method === 'INVITE') m.append('Contact', `<sip:${a.host}:${a.port};transport=tcp>`);
    return m;
  };
  const res = (status: number, reason: string, method: string, cseq: number, branch: string, toTag: boolean): OutgoingMessage => {
    const m = OutgoingMessage.response(status, reason);
    m.append('Via', via(branch)).append('From', from).append('To', toTag ? `${to};tag=t${n}` : to).append('Call-ID', callId).append('CSeq', `${cseq} ${method}`);
    if (status === 200 && method === 'INVITE') m.append('Contact', `<sip:${b.host}:${b.port};transport=tcp>`);
    return m;
  };
  const messages: [OutgoingMessage, boolean][] = [
    [req('INVITE', 1, `${n}i`, false).setBody(sdp, 'application/sdp'), true],
    [res(100, 'Trying', 'INVITE', 1, `${n}i`, false), false],
    [res(180, 'Ringing', 'INVITE', 1, `${n}i`, true), false],
    [res(200, 'OK', 'INVITE', 1, `${n}i`, true).setBody(sdp, 'application/sdp'), false],
    [req('ACK', 1, `${n}a`, true), true],
    [req('BYE', 2, `${n}b`, true), true],
    [res(200, 'OK', 'BYE', 2, `${n}b`, true), false],
  ];
  return messages.map(([m, fromA], k) => ({
    seq: 0,
    timeUs: t + k * 1000,
    direction: fromA ? 'out' : 'in',
    transport: 'tcp',
    local: a,
    remote: b,
    connId,
    bytes: m.toBytes(),
  }));
}

/** Calls through a B2BUA: FE → Mediation leg and Mediation → gateway leg, 14 messages each. */
function calls(count: number): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  for (let n = 0; n < count; n++) {
    const t = 1_700_000_000_000_000 + n * 20_000;
    out.push(...leg(`in-${n}@127.0.0.10`, n, FE, MED_FE, t, 1), ...leg(`out-${n}@127.0.0.20`, n, MED, GW, t + 300, 2));
  }
  out.sort((a, b) => a.timeUs - b.timeUs);
  out.forEach((r, i) => {
    r.seq = i + 1;
  });
  return out;
}

async function until(test: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Engine: opening files', () => {
  let dir: string;
  let pcap: string;
  const N = 300;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'trunklab-engine-'));
    pcap = path.join(dir, 'calls.pcap');
    await writeFile(pcap, writePcap(calls(N)));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes every message navigable at once, then indexes it into calls in the background', async () => {
    const engine = new Engine();
    engine.detached();
    const ticks: TraceTick[] = [];
    engine.subscribe((events: BridgeEvent[]) => {
      for (const e of events) if (e.type === 'trace') ticks.push(e);
    });
    const result = await engine.importPath(pcap);
    assert.equal(result.added, N * 14);
    const status = await engine.status();
    assert.equal(status.messageCount, N * 14);
    // Rows are there before the store has them: read from the staged bytes.
    const early = await engine.messages(0, N * 14);
    assert.equal(early.length, N * 14);
    await until(async () => (await engine.status()).indexedCount === N * 14);
    const late = await engine.messages(0, N * 14);
    const strip = (m: MessageSummary) => ({ ...m, callKey: undefined, legKey: undefined, retransmissionOf: undefined });
    assert.deepEqual(early.map(strip), late.map(strip), 'staged and indexed summaries agree');
    assert.ok(late.every((m) => m.legKey && m.callKey));
    // The B2BUA's two legs grouped into one call by the evidence.
    const call = await engine.traceCall(`#${late.find((m) => m.callId === 'in-7@127.0.0.10')!.index}`);
    assert.deepEqual(call?.legs.map((l) => l.callId).sort(), ['in-7@127.0.0.10', 'out-7@127.0.0.20']);
    await until(() => ticks.some((t) => t.messageCount === N * 14 && t.indexedCount === N * 14));
    await engine.close();
  });

  it('filters through views that match a plain filter over the summaries, and locates messages', async () => {
    const engine = new Engine();
    engine.detached();
    await engine.importPath(pcap);
    await until(async () => (await engine.status()).indexedCount === N * 14);
    const all = await engine.messages(0, N * 14);
    for (const filter of [{ method: 'BYE' }, { element: '127.0.0.30:5066' }, { text: '180 ring' }, { callId: 'out-3@127.0.0.20', method: 'INVITE' }, { hideOptions: true }]) {
      const view = await engine.openView(filter);
      await until(async () => (await engine.viewRows(view.id, 0, 0)).view.complete);
      const rows = await engine.viewRows(view.id, 0, 20_000);
      const expected = all.filter(messageFilter(filter, (id) => id)).map((m) => m.index);
      assert.deepEqual(
        rows.rows.map((m) => m.index),
        expected,
        JSON.stringify(filter),
      );
      if (expected.length > 1) assert.equal(await engine.viewLocate(view.id, expected[0]! + 1), 1);
    }
    const byes = await engine.openView({ method: 'BYE' });
    assert.equal(await engine.viewLocate(byes.id, N * 14 + 5), -1);
    const calls = await engine.traceCalls(0, 5);
    assert.equal(calls.total, N);
    const legView = await engine.openView({ legKey: calls.calls[1]!.legs[0]!.key });
    assert.equal(legView.count, 7);
    const callView = await engine.openView({ callKey: calls.calls[1]!.key });
    assert.equal(callView.count, 14);
    assert.deepEqual(callView.used.sort(), ['127.0.0.10:5061', '127.0.0.20:5067', '127.0.0.20:5068', '127.0.0.30:5066']);
    await engine.close();
  });

  it('exports JSON, Lync log and a SIPp scenario, and opens the JSON and the log again', async () => {
    const engine = new Engine();
    engine.detached();
    await engine.importPath(pcap);
    await until(async () => (await engine.status()).indexedCount === N * 14);
    const callKey = (await engine.traceCalls(2, 3)).calls[0]!.key;
    const json = await engine.exportTrace({ format: 'json' });
    assert.equal(json.messages, N * 14);
    const cls = await engine.exportTrace({ format: 'cls', selection: { callKey } });
    assert.equal(cls.messages, 14);
    assert.match(Buffer.from(cls.data, 'base64').toString('latin1'), /\$\$begin_record/);
    const sipp = await engine.exportTrace({ format: 'sipp', selection: { callKey }, side: 'callee' });
    assert.match(Buffer.from(sipp.data, 'base64').toString('latin1'), /<scenario name=/);
    const jsonFile = path.join(dir, json.fileName);
    const clsFile = path.join(dir, cls.fileName);
    await writeFile(jsonFile, Buffer.from(json.data, 'base64'));
    await writeFile(clsFile, Buffer.from(cls.data, 'base64'));
    const again = new Engine();
    again.detached();
    const fromJson = await again.importPath(jsonFile);
    assert.equal(fromJson.added, N * 14);
    assert.equal(fromJson.source.kind, 'trace');
    await until(async () => (await again.status()).indexedCount === N * 14);
    const first = await again.traceCalls(0, 1);
    assert.equal(first.calls[0]!.legs.length, 2, 'the call links came with the JSON trace');
    const fromLog = await again.importPath(clsFile);
    assert.equal(fromLog.added, 14);
    assert.equal(fromLog.source.kind, 'lync-log');
    await until(async () => (await again.status()).indexedCount === N * 14 + 14);
    await assert.rejects(again.importPath(path.join(import.meta.dirname, 'engine.ts')), /not a file Trunklab reads/);
    await again.close();
    await engine.close();
  });

  it('starts over when cleared in the middle of indexing', async () => {
    const engine = new Engine();
    engine.detached();
    await engine.importPath(pcap);
    await engine.clear();
    const s = await engine.status();
    assert.equal(s.messageCount, 0);
    assert.equal(s.generation, 2);
    await engine.importPath(pcap);
    await until(async () => (await engine.status()).indexedCount === N * 14);
    await engine.close();
  });
});

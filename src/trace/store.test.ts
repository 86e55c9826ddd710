import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageSummary } from '../common/api.ts';
import { coalescedTcpScenario, exportScenario, T0_US } from '../formats/test-support/sip-samples.ts';
import type { CaptureRecord } from '../sip/capture.ts';
import { createTransport } from '../sip/transport.ts';
import { FLAG_BOTH_ENDS, TraceStore } from './store.ts';
import { dialogMessages, FE, GW, inboundB2buaCall, MED_FE_SIDE, MED_GW_SIDE, observedRecords, tapRecords } from './test-support/b2bua-call.ts';

const enc = new TextEncoder();

test('a tap seen from one end: 28 messages, 4 legs and calls, transactions per branch + method', () => {
  const store = new TraceStore();
  for (const r of exportScenario()) store.tap(r);
  store.flushEvents();
  assert.equal(store.size, 28);
  assert.equal(store.legCount, 4);
  assert.equal(store.calls().length, 4);
  // INVITE tx (INVITE 100 180 200), ACK tx, BYE tx (BYE 200) per call.
  assert.equal(store.transactionCount, 12);
  assert.equal(store.dialogCount, 4);
  const s = store.summary(0);
  assert.equal(s.method, 'INVITE');
  assert.equal(s.kind, 'request');
  assert.equal(s.from, '192.0.2.10:5060');
  assert.equal(s.to, '198.51.100.20:5060');
  assert.equal(s.cseq, '314159 INVITE');
  assert.equal(s.sdp, true);
  assert.equal(s.timeUs, T0_US);
  const ok = store.summary(3);
  assert.equal(ok.status, 200);
  assert.equal(ok.reason, 'OK');
  assert.equal(ok.method, 'INVITE');
  assert.equal(store.transactionOf(0), store.transactionOf(3));
  assert.notEqual(store.transactionOf(4), store.transactionOf(0), 'the 2xx ACK is its own transaction');
  assert.equal(store.transaction(store.transactionOf(0)).finalStatus, 200);
  for (let i = 0; i < 28; i++) assert.equal(store.isRetransmission(i), false);
  assert.deepEqual(store.legMessages(1), [7, 8, 9, 10, 11, 12, 13]);
  // Exact bytes.
  assert.deepEqual(Buffer.from(store.bytes(5)), Buffer.from(exportScenario()[5].bytes));
  assert.equal(store.message(5)?.method, 'BYE');
});

test('both ends in the process: one message per pair, with send and receive time (UDP and TCP)', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    const msgs = dialogMessages({ transport, caller: MED_GW_SIDE, callee: GW, callId: `pair-${transport}`, fromUri: 'sip:+1@x', toUri: 'sip:2@y', ruri: 'sip:2@127.0.0.30' });
    const store = new TraceStore({ resolveElement: (a) => (a.host === GW.host ? 'gw-a' : a.host === MED_GW_SIDE.host ? 'med-1' : null) });
    for (const r of tapRecords(msgs, transport)) store.tap(r);
    assert.equal(store.size, msgs.length, transport);
    for (let i = 0; i < store.size; i++) {
      assert.ok(store.flags(i) & FLAG_BOTH_ENDS, `${transport} message ${i} knows both ends`);
      assert.equal(store.recvTimeUs(i) - store.timeUs(i), 150);
    }
    const s = store.summary(0);
    assert.equal(s.from, 'med-1');
    assert.equal(s.to, 'gw-a');
    assert.equal(s.recvTimeUs, s.timeUs + 150);
    assert.equal(store.summary(1).from, 'gw-a');
    // Receiver's record first (the other order): still one message, send time kept as the message time.
    const rev = new TraceStore();
    const recs = tapRecords(msgs.slice(0, 1), transport);
    rev.tap(recs[1]);
    rev.tap(recs[0]);
    assert.equal(rev.size, 1);
    assert.equal(rev.timeUs(0), msgs[0].atUs);
    assert.equal(rev.recvTimeUs(0), msgs[0].atUs + 150);
  }
});

test('live retransmissions are not swallowed by the pairing: out1 in1 out2 in2 → two messages, the second marked', () => {
  const msgs = dialogMessages({ transport: 'udp', caller: MED_GW_SIDE, callee: GW, callId: 'retrans-live', fromUri: 'sip:+1@x', toUri: 'sip:2@y', ruri: 'sip:2@127.0.0.30' });
  const inv = tapRecords(msgs.slice(0, 1), 'udp');
  const again = tapRecords([{ ...msgs[0], atUs: msgs[0].atUs + 500_000 }], 'udp');
  const store = new TraceStore();
  for (const r of [...inv, ...again]) store.tap(r);
  assert.equal(store.size, 2);
  assert.equal(store.isRetransmission(1), true);
  assert.equal(store.retransmissionOf(1), 0);
  assert.equal(store.summary(1).retransmissionOf, 0);
});

test('TCP framing: a segment with two messages and a message over two segments give one message each', () => {
  const store = new TraceStore();
  store.appendRecords(coalescedTcpScenario());
  store.endInput();
  assert.equal(store.size, 7);
  assert.deepEqual(
    store.summaries().map((s) => s.method + (s.status ? ` ${s.status}` : '')),
    ['INVITE', 'INVITE 100', 'INVITE 180', 'INVITE 200', 'ACK', 'BYE', 'BYE 200'],
  );
  // The split 200 OK is referenced by the record where it began.
  assert.equal(store.ref(3), 4);
  assert.equal(store.ref(5), 6, 'BYE shares the ACK record');
});

test('retransmissions: same request again from the same sender, a repeated final response; a new provisional is not one', () => {
  const msgs = dialogMessages({ transport: 'udp', caller: GW, callee: MED_GW_SIDE, callId: 'rtx', fromUri: 'sip:1@x', toUri: 'sip:2@y', ruri: 'sip:2@127.0.0.20' });
  const [invite, trying, ringing, ok, ack] = msgs;
  const ringing2 = { ...ringing, text: ringing.text.replace('180 Ringing', '180 Ringing').replace('CSeq: 1 INVITE', 'CSeq: 1 INVITE\r\nRSeq: 2') };
  const seq = [invite, { ...invite, atUs: 500_000 }, trying, ringing, ringing2, ok, { ...ok, atUs: 600_000 }, ack];
  const store = new TraceStore();
  store.appendRecords(observedRecords(seq, 'udp'));
  assert.deepEqual(
    Array.from({ length: store.size }, (_, i) => store.retransmissionOf(i)),
    [-1, 0, -1, -1, -1, -1, 5, -1],
  );
});

test('invalid bytes are kept as invalid messages, never dropped', () => {
  const store = new TraceStore();
  const rec: CaptureRecord = {
    seq: 1,
    timeUs: 1,
    direction: 'in',
    transport: 'udp',
    local: { host: '127.0.0.1', port: 5060 },
    remote: { host: '127.0.0.2', port: 5060 },
    connId: null,
    bytes: enc.encode('HELLO WORLD\r\n\r\n'),
  };
  store.appendRecords([rec, { ...rec, seq: 2, bytes: enc.encode('\r\n\r\n') }]);
  assert.equal(store.size, 1, 'a CRLF keep-alive is not a message');
  const s = store.summary(0);
  assert.equal(s.kind, 'invalid');
  assert.equal(s.errors, 1);
  assert.match(store.invalidReason(0) ?? '', /neither a SIP request line nor a status line/);
  assert.equal(s.callKey, undefined);
  // A stream that ends inside a message.
  const tcp = new TraceStore();
  tcp.appendRecords([{ ...rec, transport: 'tcp', connId: 1, bytes: enc.encode('INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\nContent-Length: 100\r\n\r\nv=0') }]);
  assert.equal(tcp.size, 0);
  tcp.endInput();
  assert.equal(tcp.size, 1);
  assert.equal(tcp.kind(0), 'invalid');
  assert.match(tcp.invalidReason(0) ?? '', /incomplete message/);
});

test('linkLegs: the B2BUA joins legs (by index or by Call-ID before they exist); listeners see the call change', () => {
  const msgs = inboundB2buaCall(1, 1_000_000);
  const store = new TraceStore({ linkHeuristics: false });
  const changes: string[] = [];
  store.onCallChange((c) => changes.push(`${c.callKey}<${c.absorbed.join(',')}:${c.legs.join(',')}`));
  store.linkLegs({ callId: 'gwcall1-1000000' }, { callId: 'medcall1-1000000' }, { source: 'b2bua', confidence: 1 });
  store.appendRecords(observedRecords(msgs, 'tcp'));
  assert.equal(store.legCount, 2);
  const calls = store.calls();
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].legs, [0, 1]);
  assert.equal(calls[0].confidence, 1);
  assert.equal(calls[0].links[0].source, 'b2bua');
  assert.deepEqual(changes, ['c0<c1:0,1']);
  const last = store.summary(store.size - 1);
  assert.equal(last.callKey, 'c0');
  assert.equal(last.legKey, 'l1');
});

test('imported legs are linked by the evidence (numbers, B2BUA continuity, ms- headers), with a confidence; unrelated calls are not', () => {
  const msgs = [...inboundB2buaCall(1, 1_000_000), ...inboundB2buaCall(2, 1_000_400)].sort((a, b) => a.atUs - b.atUs);
  const store = new TraceStore();
  store.appendRecords(observedRecords(msgs, 'tcp'));
  assert.equal(store.legCount, 4);
  const calls = store.calls();
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.equal(c.legs.length, 2);
    const [a, b] = c.legs.map((l) => store.leg(l));
    assert.match(a.callId, /^gwcall/);
    assert.match(b.callId, /^medcall/);
    assert.equal(a.callId.slice(6, 7), b.callId.slice(7, 8), 'the same call number on both legs');
    assert.equal(c.links[0].source, 'heuristic');
    assert.ok(c.confidence >= 0.8 && c.confidence < 1, `confidence ${c.confidence}`);
    const ev = c.links[0].evidence.join('; ');
    assert.match(ev, /B2BUA/);
    assert.match(ev, /called numbers 2160 and 14255552160 share their last digits/);
    assert.match(ev, /ms-trunking-peer names 127\.0\.0\.30/);
  }
});

test('live traffic is linked by the B2BUA only: no guess on tapped legs', () => {
  const store = new TraceStore();
  for (const r of tapRecords(inboundB2buaCall(1, 1_000_000), 'tcp')) store.tap(r);
  assert.equal(store.legCount, 2);
  assert.equal(store.links.length, 0);
  store.linkLegs(0, 1, { source: 'b2bua', confidence: 1 });
  assert.equal(store.calls().length, 1);
  assert.equal(store.calls()[0].confidence, 1);
});

test('SIPp-style load: same numbers on every call, one caller and one callee endpoint → no links', () => {
  const msgs = [];
  for (let n = 0; n < 50; n++) {
    msgs.push(
      ...dialogMessages({
        transport: 'udp',
        caller: { host: '127.0.0.1', port: 5061 },
        callee: { host: '127.0.0.1', port: 5060 },
        callId: `${n}-load@127.0.0.1`,
        fromUri: 'sip:+14255550100@127.0.0.1',
        toUri: 'sip:+14255550200@127.0.0.1',
        ruri: 'sip:+14255550200@127.0.0.1:5060',
        startUs: n * 1000,
      }),
    );
  }
  msgs.sort((a, b) => a.atUs - b.atUs);
  const store = new TraceStore();
  store.appendRecords(observedRecords(msgs, 'udp'));
  assert.equal(store.legCount, 50);
  assert.equal(store.links.length, 0);
  assert.equal(store.calls().length, 50);
});

test('onAppend: imports hand over one batch per appendRecords, live appends are batched on a timer', async () => {
  const store = new TraceStore({ batchMs: 5 });
  const batches: MessageSummary[][] = [];
  store.onAppend((b) => batches.push(b));
  const recs = exportScenario();
  store.appendRecords(recs.slice(0, 7));
  assert.equal(batches.length, 1);
  assert.equal(batches[0].length, 7);
  for (const r of recs.slice(7, 14)) store.tap(r);
  assert.equal(batches.length, 1);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(batches.length, 2);
  assert.deepEqual(
    batches[1].map((s) => s.index),
    [7, 8, 9, 10, 11, 12, 13],
  );
});

test('memory: bytes per message beyond the message bytes themselves', () => {
  const store = new TraceStore();
  const base = exportScenario();
  const n = 20000;
  const recs: CaptureRecord[] = [];
  for (let k = 0; k < n / 28; k++) {
    for (const r of base) {
      const text = Buffer.from(r.bytes).toString('latin1').replaceAll('-call@', `-call-${k}@`);
      recs.push({ ...r, timeUs: r.timeUs + k * 1_000_000, bytes: Buffer.from(text, 'latin1') });
    }
  }
  store.appendRecords(recs);
  const m = store.memory();
  assert.equal(m.messages, recs.length);
  assert.ok(m.overheadPerMessage < 160, `overhead ${m.overheadPerMessage} bytes/message`);
  assert.ok(m.payloadBytes > 0 && m.arenaBytes >= m.payloadBytes);
});

test('real sockets: two in-process transports, the tap feeds one store: one message per SIP message, both ends named', async () => {
  const store = new TraceStore({ resolveElement: (a) => (a.host === '127.0.0.1' ? 'a' : a.host === '127.0.0.2' ? 'b' : null) });
  const a = await createTransport({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }], tap: store.tap });
  const b = await createTransport({ listen: [{ transport: 'udp', host: '127.0.0.2', port: 0 }, { transport: 'tcp', host: '127.0.0.2', port: 0 }], tap: store.tap });
  try {
    const received: string[] = [];
    b.onMessage((m) => received.push(m.method));
    for (const transport of ['udp', 'tcp'] as const) {
      const to = b.sentBy(transport);
      const from = a.sentBy(transport);
      const msgs = dialogMessages({ transport, caller: from, callee: to, callId: `sock-${transport}`, fromUri: 'sip:1@a', toUri: 'sip:2@b', ruri: `sip:2@127.0.0.2:${to.port}` });
      for (const m of msgs.filter((x) => x.from === from)) await a.send(enc.encode(m.text), { transport, host: to.host, port: to.port });
    }
    const deadline = Date.now() + 3000;
    while (received.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(received.length, 6, "INVITE, ACK, BYE over UDP and TCP");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.size, 6, "each message once");
    for (let i = 0; i < store.size; i++) {
      assert.ok(store.flags(i) & FLAG_BOTH_ENDS, `message ${i} has both ends`);
      assert.equal(store.from(i), 'a');
      assert.equal(store.to(i), 'b');
      assert.ok(store.recvTimeUs(i) >= store.timeUs(i));
    }
  } finally {
    await a.close();
    await b.close();
  }
});

test('ladder fields: FE and Mediation names through a resolver; addresses outside the topology stay host:port', () => {
  const names: Record<string, string> = { [GW.host]: 'gw-a', [MED_GW_SIDE.host]: 'med-1', [FE.host]: 'fe-1' };
  const store = new TraceStore({ resolveElement: (a) => names[a.host] ?? null });
  store.appendRecords(observedRecords(inboundB2buaCall(1, 0), 'tcp'));
  const pairs = new Set(store.summaries().map((s) => `${s.from}>${s.to}`));
  assert.deepEqual([...pairs].sort(), ['fe-1>med-1', 'gw-a>med-1', 'med-1>fe-1', 'med-1>gw-a']);
  assert.equal(MED_FE_SIDE.host, MED_GW_SIDE.host);
});

/**
 * Reliable provisional responses (RFC 3262) and the hang-up of an answered
 * call before its ACK (RFC 3261 §15), over real sockets on loopback: our UA
 * against our UA, and against a raw UDP peer written here that sends exactly
 * the bytes a test needs (retransmitted and reordered RSeq, no PRACK, no
 * ACK) and records what comes back.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, describe, test } from 'node:test';
import { buildOffer } from '../sdp/offer-answer.ts';
import { newBranch, newTag } from './builder.ts';
import type { CaptureRecord } from './capture.ts';
import type { SipMessage } from './message.ts';
import { parseMessage } from './parser.ts';
import { createTransactionLayer } from './transaction-layer.ts';
import { createTransport } from './transport.ts';
import { sleep, waitFor } from './transport-testing.ts';
import { parseRAck, reliableRSeq, type Session, UserAgent } from './user-agent.ts';

const T1 = 50;
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

interface Wire {
  time: number;
  direction: 'in' | 'out';
  message: SipMessage;
}

/** A UA on its own transport (UDP or TCP on 127.0.0.1, port 0) with a record of what it sent and received. */
async function agent(transport: 'udp' | 'tcp', supported: string[] = ['100rel']): Promise<{ ua: UserAgent; port: number; wire: Wire[] }> {
  const wire: Wire[] = [];
  const t0 = performance.now();
  const t = await createTransport({
    listen: [{ transport, host: '127.0.0.1', port: 0 }],
    tap: (r: CaptureRecord) => {
      const parsed = parseMessage(r.bytes, { datagram: r.transport === 'udp' });
      if (parsed.ok) wire.push({ time: performance.now() - t0, direction: r.direction, message: parsed.message });
    },
  });
  t.onError(() => undefined);
  const layer = createTransactionLayer(t, { timers: { t1: T1 }, tryingDelay: false });
  const ua = new UserAgent(t, layer, { product: 'prack-test', supported });
  closers.push(async () => {
    ua.hangupAll();
    layer.close();
    await t.close();
  });
  return { ua, port: t.listening[0].port, wire };
}

const sent = (wire: Wire[], what: (m: SipMessage) => boolean): SipMessage[] => wire.filter((w) => w.direction === 'out' && what(w.message)).map((w) => w.message);
const isRequest = (method: string) => (m: SipMessage) => m.kind === 'request' && m.method === method;
const isResponse = (status: number, method = 'INVITE') => (m: SipMessage) => m.kind === 'response' && m.status === status && m.cseq?.method === method;

/** A bare UDP peer: sends text (LF turned into CRLF), keeps every message it gets. */
async function rawUdp(): Promise<{ port: number; got: Array<{ time: number; message: SipMessage }>; send(text: string, port: number): void; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const got: Array<{ time: number; message: SipMessage }> = [];
  const t0 = performance.now();
  socket.on('message', (bytes) => {
    const parsed = parseMessage(bytes, { datagram: true });
    if (parsed.ok) got.push({ time: performance.now() - t0, message: parsed.message });
  });
  const close = (): Promise<void> => new Promise((r) => socket.close(() => r()));
  closers.push(async () => {
    try {
      await close();
    } catch {
      // closed by the test already
    }
  });
  return {
    port: socket.address().port,
    got,
    send: (text, port) => {
      const body = text.split('\n\n');
      const head = body[0].replace(/\n/g, '\r\n');
      const content = body.slice(1).join('\n\n').replace(/\n/g, '\r\n');
      const bytes = Buffer.from(`${head.replace('Content-Length: %len%', `Content-Length: ${Buffer.byteLength(content)}`)}\r\n\r\n${content}`);
      socket.send(bytes, port, '127.0.0.1');
    },
    close,
  };
}

const SDP = buildOffer({ address: '127.0.0.1', port: 40000, telephoneEvent: 101 });

/** One dialog of the raw peer as a UAC towards the callee on `calleePort`: request texts for `send`, a new branch each. */
function rawDialog(rawPort: number, calleePort: number) {
  const callId = `${newTag()}@127.0.0.1`;
  const fromTag = newTag();
  const request = (method: string, cseq: number, o: { toTag?: string | null; headers?: string[]; sdp?: string } = {}): string =>
    [
      `${method} sip:callee@127.0.0.1:${calleePort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${rawPort};branch=${newBranch()};rport`,
      'Max-Forwards: 70',
      `From: <sip:raw@127.0.0.1>;tag=${fromTag}`,
      `To: <sip:callee@127.0.0.1>${o.toTag === undefined ? '' : `;tag=${o.toTag}`}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${method}`,
      ...(method === 'INVITE' ? [`Contact: <sip:raw@127.0.0.1:${rawPort}>`] : []),
      ...(o.headers ?? []),
      ...(o.sdp === undefined ? ['Content-Length: 0', '', ''] : ['Content-Type: application/sdp', 'Content-Length: %len%', '', o.sdp]),
    ].join('\n');
  return { callId, fromTag, request };
}

describe('UAS: reliable provisional responses (RFC 3262 §3)', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    test(`${transport}: a reliable 183 with SDP, the UAC PRACKs it, the 2xx is held until the PRACK`, async () => {
      const callee = await agent(transport);
      const caller = await agent(transport);
      let incoming = null as Session | null;
      callee.ua.onInvite = (s) => {
        incoming = s;
        s.reliableProvisionals = true;
        s.progress(183, buildOffer({ address: '127.0.0.1', port: 41000 }));
        // Answered at once: the 2xx must wait for the PRACK of the 183 that carried the answer SDP.
        assert.equal(s.answer(buildOffer({ address: '127.0.0.1', port: 41000 })), true);
        assert.equal(s.answerHeld, true);
      };
      const prackResponses: number[] = [];
      const session = caller.ua.invite({
        target: `sip:callee@127.0.0.1:${callee.port}`,
        dest: { transport, host: '127.0.0.1', port: callee.port },
        from: '<sip:caller@127.0.0.1>',
        sdp: SDP,
        events: { onPrackResponse: (r) => prackResponses.push(r?.status ?? 0) },
      });
      await waitFor(() => session.state === 'confirmed', 'the call confirmed', 5000);
      const invite = sent(caller.wire, isRequest('INVITE'))[0];
      assert.deepEqual(invite.tokens('supported'), ['100rel']);
      const p183 = sent(callee.wire, isResponse(183));
      assert.equal(p183.length, 1, 'not retransmitted: the PRACK came within T1');
      assert.deepEqual(p183[0].tokens('require'), ['100rel']);
      const rseq = reliableRSeq(p183[0]);
      assert.ok(rseq !== null && rseq >= 1);
      assert.equal(p183[0].contentType, 'application/sdp');
      const prack = sent(caller.wire, isRequest('PRACK'));
      assert.equal(prack.length, 1);
      assert.deepEqual(parseRAck(prack[0].get('rack')), { rseq, cseq: invite.cseq?.seq, method: 'INVITE' });
      assert.equal(prack[0].toTag, p183[0].toTag, 'in the early dialog of the 183');
      assert.equal(prack[0].requestUri, p183[0].contacts[0]?.uriText, 'to the remote target of the early dialog');
      assert.equal(prack[0].body.length, 0, 'no SDP in a PRACK (the offer/answer is complete)');
      assert.deepEqual(prackResponses, [200]);
      // Order on the callee's wire: 183, PRACK in, 200 (PRACK), then the 200 (INVITE).
      const order = callee.wire.filter((w) => w.message.kind === 'response' ? w.direction === 'out' && w.message.status > 100 : w.direction === 'in' && w.message.method === 'PRACK');
      assert.deepEqual(order.map((w) => (w.message.kind === 'request' ? w.message.method : `${w.message.status} ${w.message.cseq?.method}`)), ['183 INVITE', 'PRACK', '200 PRACK', '200 INVITE']);
      assert.equal(session.remoteSdp !== null && /m=audio 41000/.test(session.remoteSdp), true);
      // The confirmed dialog goes on after the PRACK's CSeq: a BYE gets 200, not 500 (CSeq out of order).
      assert.ok(incoming !== null);
      const bye = await session.sendInDialog('BYE');
      assert.equal(bye?.status, 200);
      assert.equal(Number(sent(caller.wire, isRequest('BYE'))[0].cseq?.seq), Number(prack[0].cseq?.seq) + 1);
    });
  }

  test('tcp: an INVITE without SDP: the reliable 183 carries the offer, the PRACK the answer (RFC 3262 §5), the 200 repeats the offer unchanged', async () => {
    const callee = await agent('tcp');
    const caller = await agent('tcp');
    const offer = buildOffer({ address: '127.0.0.1', port: 42000 });
    const answer = buildOffer({ address: '127.0.0.1', port: 43000 });
    let uas = null as Session | null;
    callee.ua.onInvite = (s) => {
      uas = s;
      s.progress(183, offer, undefined, { reliable: true });
      s.answer(offer);
    };
    const session = caller.ua.invite({
      target: `sip:callee@127.0.0.1:${callee.port}`,
      dest: { transport: 'tcp', host: '127.0.0.1', port: callee.port },
      from: '<sip:caller@127.0.0.1>',
      sdp: null,
      events: { onEarlyOffer: (res) => (/m=audio 42000/.test(res.bodyText) ? answer : null) },
    });
    await waitFor(() => session.state === 'confirmed', 'the call confirmed', 5000);
    const prack = sent(caller.wire, isRequest('PRACK'))[0];
    assert.equal(prack.contentType, 'application/sdp');
    assert.equal(prack.bodyText, answer);
    assert.equal(uas?.remoteSdp, answer, 'the UAS took the PRACK\'s answer');
    assert.equal(session.localSdp, answer);
    assert.equal(session.remoteSdp, offer);
    const ok = sent(callee.wire, isResponse(200))[0];
    assert.equal(ok.bodyText, offer, 'the 2xx carries the same offer, not a new one');
    const order = callee.wire.filter((w) => (w.direction === 'in' && w.message.method === 'PRACK') || (w.direction === 'out' && w.message.status === 200 && w.message.cseq?.method === 'INVITE'));
    assert.deepEqual(order.map((w) => (w.message.kind === 'request' ? w.message.method : '200 INVITE')), ['PRACK', '200 INVITE']);
    session.hangup();
  });

  test('udp: without a PRACK the 183 is retransmitted at T1, 2*T1, 4*T1... and the INVITE gets 500 after 64*T1; a wrong RAck gets 481', async () => {
    const callee = await agent('udp');
    const raw = await rawUdp();
    callee.ua.onInvite = (s) => {
      s.progress(183, buildOffer({ address: '127.0.0.1', port: 41000 }), undefined, { reliable: true });
    };
    const dialog = rawDialog(raw.port, callee.port);
    raw.send(dialog.request('INVITE', 7, { headers: ['Supported: 100rel'], sdp: SDP }), callee.port);
    await waitFor(() => raw.got.some((g) => g.message.status === 183), 'the first 183');
    const first = raw.got.find((g) => g.message.status === 183)?.message as SipMessage;
    // A PRACK naming another RSeq is no acknowledgement: 481 (§3), and the retransmissions go on.
    const rseq = reliableRSeq(first) as number;
    raw.send(dialog.request('PRACK', 8, { toTag: first.toTag, headers: [`RAck: ${rseq + 5} 7 INVITE`] }), callee.port);
    await waitFor(() => raw.got.some((g) => g.message.cseq?.method === 'PRACK'), 'the answer to the wrong PRACK');
    assert.equal(raw.got.find((g) => g.message.cseq?.method === 'PRACK')?.message.status, 481);
    await waitFor(() => raw.got.some((g) => g.message.status === 500), 'the 500 after 64*T1', 64 * T1 + 3000);
    const copies = raw.got.filter((g) => g.message.status === 183);
    // 0, T1, 3T1, 7T1, 15T1, 31T1, 63T1: seven copies, the same RSeq every time.
    assert.equal(copies.length, 7, copies.map((c) => Math.round(c.time)).join(','));
    assert.ok(copies.every((c) => reliableRSeq(c.message) === rseq));
    // Timers never fire early: each interval is at least T1, 2*T1, 4*T1... (late ones are the event loop's doing).
    const gaps = copies.slice(1).map((c, i) => c.time - copies[i].time);
    for (const [i, gap] of gaps.entries()) assert.ok(gap >= T1 * 2 ** i - 5, `interval ${i + 1} is ${Math.round(gap)} ms, expected at least ${T1 * 2 ** i} (${gaps.map(Math.round).join(',')})`);
    assert.ok(gaps[5] > gaps[0] * 8, `the intervals grow: ${gaps.map(Math.round).join(',')}`);
    const final = raw.got.find((g) => g.message.status === 500);
    assert.ok(final !== undefined && final.time >= 64 * T1 - 20, `500 at ${final?.time}`);
    assert.match(final.message.get('warning') ?? '', /no PRACK for the reliable 183/);
  });

  test('udp: the PRACK stops the retransmissions; a 180 asked for meanwhile waits for it, then goes reliably with the next RSeq', async () => {
    const callee = await agent('udp');
    const raw = await rawUdp();
    let uas = null as Session | null;
    callee.ua.onInvite = (s) => {
      uas = s;
      s.reliableProvisionals = true;
      s.progress(183);
      s.progress(180); // queued behind the unacknowledged 183 (§3: one at a time)
    };
    const dialog = rawDialog(raw.port, callee.port);
    raw.send(dialog.request('INVITE', 1, { headers: ['Require: 100rel'] }), callee.port);
    await waitFor(() => raw.got.filter((g) => g.message.status === 183).length >= 2, 'one retransmission of the 183');
    assert.equal(raw.got.filter((g) => g.message.status === 180).length, 0, 'the 180 waits');
    const p183 = raw.got.find((g) => g.message.status === 183)?.message as SipMessage;
    const rseq = reliableRSeq(p183) as number;
    const prack = (r: number, cseq: number): string => dialog.request('PRACK', cseq, { toTag: p183.toTag, headers: [`RAck: ${r} 1 INVITE`] });
    raw.send(prack(rseq, 2), callee.port);
    await waitFor(() => raw.got.some((g) => g.message.status === 180), 'the 180 after the PRACK');
    const ok = raw.got.find((g) => g.message.cseq?.method === 'PRACK');
    assert.equal(ok?.message.status, 200);
    const p180 = raw.got.find((g) => g.message.status === 180)?.message as SipMessage;
    assert.equal(reliableRSeq(p180), rseq + 1);
    const copiesBefore = raw.got.filter((g) => g.message.status === 183).length;
    await sleep(8 * T1);
    assert.equal(raw.got.filter((g) => g.message.status === 183).length, copiesBefore, 'no 183 after its PRACK');
    assert.ok(raw.got.filter((g) => g.message.status === 180).length >= 2, 'the unacknowledged 180 is retransmitted');
    // The same PRACK again, in a new transaction: already acknowledged, so 481.
    raw.send(prack(rseq, 3), callee.port);
    await waitFor(() => raw.got.filter((g) => g.message.cseq?.method === 'PRACK').length >= 2, 'the second PRACK answered');
    assert.equal(raw.got.filter((g) => g.message.cseq?.method === 'PRACK')[1].message.status, 481);
    assert.equal(uas?.reliableProvisionalsSent.map((r) => `${r.status}:${r.acked}`).join(' '), '183:true 180:false');
    uas?.reject(486);
  });
});

describe('UAC: PRACK (RFC 3262 §4)', () => {
  test('udp: one PRACK per RSeq, retransmissions ignored, a provisional ahead of its turn waits for the missing RSeq', async () => {
    const caller = await agent('udp');
    const raw = await rawUdp();
    const provisionals: number[] = [];
    const session = caller.ua.invite({
      target: `sip:raw@127.0.0.1:${raw.port}`,
      dest: { transport: 'udp', host: '127.0.0.1', port: raw.port },
      from: '<sip:caller@127.0.0.1>',
      sdp: SDP,
      events: { onProvisional: (r) => provisionals.push(Number(r.get('rseq') ?? 0)) },
    });
    await waitFor(() => raw.got.some((g) => g.message.method === 'INVITE'), 'the INVITE');
    const invite = raw.got.find((g) => g.message.method === 'INVITE')?.message as SipMessage;
    const toTag = newTag();
    const response = (status: string, rseq: number): string => `SIP/2.0 ${status}
${invite.getAll('via').map((v) => `Via: ${v}`).join('\n')}
From: ${invite.get('from')}
To: ${invite.get('to')};tag=${toTag}
Call-ID: ${invite.callId}
CSeq: ${invite.get('cseq')}
Contact: <sip:raw@127.0.0.1:${raw.port}>
Require: 100rel
RSeq: ${rseq}
Content-Length: 0

`;
    const pracks = (): SipMessage[] => raw.got.filter((g) => g.message.method === 'PRACK').map((g) => g.message);
    const answerPracks = (): void => {
      for (const p of pracks()) {
        if ((p as SipMessage & { answered?: boolean }).answered) continue;
        (p as SipMessage & { answered?: boolean }).answered = true;
        raw.send(`SIP/2.0 200 OK
${p.getAll('via').map((v) => `Via: ${v}`).join('\n')}
From: ${p.get('from')}
To: ${p.get('to')}
Call-ID: ${p.callId}
CSeq: ${p.get('cseq')}
Content-Length: 0

`, caller.port);
      }
    };
    raw.send(response('183 Session Progress', 5), caller.port);
    await waitFor(() => pracks().length === 1, 'the PRACK of RSeq 5');
    answerPracks();
    raw.send(response('183 Session Progress', 5), caller.port); // a retransmission
    raw.send(response('180 Ringing', 7), caller.port); // ahead of RSeq 6
    await sleep(4 * T1);
    assert.equal(pracks().length, 1, 'neither the retransmission nor RSeq 7 (before 6) is PRACKed');
    raw.send(response('180 Ringing', 6), caller.port);
    await waitFor(() => pracks().length === 3, 'the PRACKs of RSeq 6 and 7');
    answerPracks();
    assert.deepEqual(pracks().map((p) => parseRAck(p.get('rack'))?.rseq), [5, 6, 7]);
    assert.ok(pracks().every((p) => parseRAck(p.get('rack'))?.cseq === invite.cseq?.seq && p.toTag === toTag));
    const seqs = pracks().map((p) => p.cseq?.seq ?? 0);
    assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2], 'each PRACK takes the next CSeq of the early dialog');
    assert.deepEqual(provisionals, [5, 6, 7], 'the TU sees each reliable provisional once, in RSeq order');
    await sleep(2 * T1);
    assert.equal(pracks().length, 3, 'the answered PRACKs are not retransmitted');
    session.hangup();
  });
});

describe('hang-up of an answered call before its ACK (RFC 3261 §15)', () => {
  test('udp: no BYE before the ACK; the BYE follows the ACK', async () => {
    const callee = await agent('udp');
    const raw = await rawUdp();
    let uas = null as Session | null;
    callee.ua.onInvite = (s) => {
      uas = s;
      s.answer(buildOffer({ address: '127.0.0.1', port: 41000 }));
      s.hangup(); // answered, not yet ACKed
    };
    const dialog = rawDialog(raw.port, callee.port);
    raw.send(dialog.request('INVITE', 1, { sdp: SDP }), callee.port);
    await waitFor(() => raw.got.filter((g) => g.message.status === 200).length >= 2, 'the 2xx retransmitted');
    assert.equal(raw.got.filter((g) => g.message.method === 'BYE').length, 0, 'no BYE before the ACK');
    assert.equal(uas?.ended, false);
    const ok = raw.got.find((g) => g.message.status === 200)?.message as SipMessage;
    raw.send(dialog.request('ACK', 1, { toTag: ok.toTag }), callee.port);
    await waitFor(() => raw.got.some((g) => g.message.method === 'BYE'), 'the BYE after the ACK');
    const bye = raw.got.find((g) => g.message.method === 'BYE')?.message as SipMessage;
    assert.equal(bye.callId, dialog.callId);
    assert.equal(bye.fromTag, ok.toTag);
    assert.equal(bye.toTag, dialog.fromTag);
    assert.equal(uas?.ended, true);
    assert.deepEqual(uas?.endReason, { kind: 'bye', byRemote: false });
  });

  test('udp: without any ACK the BYE goes when the 2xx retransmissions give up (64*T1)', async () => {
    const callee = await agent('udp');
    const raw = await rawUdp();
    callee.ua.onInvite = (s) => {
      s.answer(buildOffer({ address: '127.0.0.1', port: 41000 }));
      s.hangup();
    };
    raw.send(rawDialog(raw.port, callee.port).request('INVITE', 1, { sdp: SDP }), callee.port);
    await waitFor(() => raw.got.some((g) => g.message.method === 'BYE'), 'the BYE after 64*T1', 64 * T1 + 3000);
    const bye = raw.got.find((g) => g.message.method === 'BYE');
    assert.ok(bye !== undefined && bye.time >= 64 * T1 - 20, `BYE at ${bye?.time}`);
  });
});

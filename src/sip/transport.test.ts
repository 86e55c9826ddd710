/**
 * The transport layer over real sockets on loopback (127.0.0.0/8 and ::1):
 * UDP and TCP exchange, the capture tap, framing on a real stream, keep-alive
 * ping/pong, connection reuse, errors, limits and a clean close().
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { responseTo } from './builder.ts';
import { nowUs } from './capture.ts';
import { responseDestination, stampTopVia, viaReceivedParams } from './response-routing.ts';
import { createTransport, TransportError, type TransportLayer } from './transport.ts';
import {
  freePort,
  type RecordingEndpoint,
  rawTcpPeer,
  recordBytes,
  recordingEndpoint,
  sleep,
  testRequest,
  waitFor,
} from './transport-testing.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/rfc4475');

const open: TransportLayer[] = [];
async function endpoint(...args: Parameters<typeof recordingEndpoint>): Promise<RecordingEndpoint> {
  const ep = await recordingEndpoint(...args);
  open.push(ep.t);
  return ep;
}
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

function utf8(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}

describe('UDP', () => {
  for (const [family, hostA, hostB] of [
    ['IPv4', '127.0.0.20', '127.0.0.21'],
    ['IPv6', '::1', '::1'],
  ] as const) {
    test(`${family}: request and response between two endpoints, tapped both ways with exact bytes`, async () => {
      const a = await endpoint({ listen: [{ transport: 'udp', host: hostA, port: 0 }] });
      const b = await endpoint({ listen: [{ transport: 'udp', host: hostB, port: 0 }] });
      const aAddr = a.t.sentBy('udp');
      const bAddr = b.t.sentBy('udp');
      assert.equal(aAddr.host, hostA);
      assert.ok(aAddr.port > 0);
      assert.deepEqual(a.t.listening, [{ transport: 'udp', host: hostA, port: aAddr.port }]);

      b.t.onMessage((m, flow) => {
        if (!m.isRequest) return;
        const res = responseTo(m, 200, 'OK', 'totag1');
        stampTopVia(res, viaReceivedParams(m, flow));
        void b.t.send(res.toBytes(), responseDestination(m, flow));
      });
      const before = nowUs();
      const req = testRequest({ transport: 'udp', from: aAddr, to: bAddr, rport: true });
      const flow = await a.t.send(req, { transport: 'udp', host: bAddr.host, port: bAddr.port });
      assert.deepEqual(flow, { transport: 'udp', local: aAddr, remote: bAddr, connId: null });
      await waitFor(() => a.messages.length === 1, 'the response');
      const after = nowUs();

      // B got the request from A's listening port (UDP is sent from the listening socket).
      assert.equal(b.messages.length, 1);
      const got = b.messages[0];
      assert.deepEqual(Buffer.from(got.message.raw), req);
      assert.deepEqual(got.flow, { transport: 'udp', local: bAddr, remote: aAddr, connId: null });

      // A got the response, with received/rport filled in by B.
      const res = a.messages[0];
      assert.equal(res.message.status, 200);
      assert.equal(res.message.topVia?.rport, aAddr.port);
      assert.equal(res.message.topVia?.received, hostA);
      assert.deepEqual(res.flow.remote, bAddr);

      // Taps: A out (request), B in (request), B out (response), A in (response): exact bytes, addresses, order.
      const [aOut, aIn] = a.records;
      const [bIn, bOut] = b.records;
      assert.equal(a.records.length, 2);
      assert.equal(b.records.length, 2);
      assert.deepEqual({ ...aOut, bytes: Buffer.from(aOut.bytes), seq: 0, timeUs: 0 }, {
        seq: 0,
        timeUs: 0,
        direction: 'out',
        transport: 'udp',
        local: aAddr,
        remote: bAddr,
        connId: null,
        bytes: req,
      });
      assert.equal(bIn.direction, 'in');
      assert.deepEqual(Buffer.from(bIn.bytes), req);
      assert.deepEqual([bIn.local, bIn.remote], [bAddr, aAddr]);
      assert.equal(bOut.direction, 'out');
      assert.deepEqual(Buffer.from(aIn.bytes), Buffer.from(bOut.bytes));
      assert.deepEqual(Buffer.from(aIn.bytes), Buffer.from(res.message.raw));
      assert.deepEqual([aIn.local, aIn.remote, aIn.direction], [aAddr, bAddr, 'in']);
      const seqs = [aOut.seq, bIn.seq, bOut.seq, aIn.seq];
      assert.deepEqual([...seqs].sort((x, y) => x - y), seqs, 'seq increases along the exchange');
      for (const r of [aOut, bIn, bOut, aIn]) {
        assert.ok(r.timeUs >= before - 1000 && r.timeUs <= after + 1000, `timeUs ${r.timeUs} within the exchange`);
        assert.ok(Math.abs(r.timeUs / 1000 - Date.now()) < 60_000, 'timeUs is epoch microseconds');
      }
      assert.ok(aOut.timeUs <= bIn.timeUs && bIn.timeUs <= bOut.timeUs && bOut.timeUs <= aIn.timeUs);
    });
  }

  test('sends from the listening point the request came in on (several UDP points, IPv4 and IPv6)', async () => {
    const a = await endpoint({
      listen: [
        { transport: 'udp', host: '127.0.0.22', port: 0 },
        { transport: 'udp', host: '127.0.0.23', port: 0 },
        { transport: 'udp', host: '::1', port: 0 },
      ],
    });
    const peer = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.24', port: 0 }, { transport: 'udp', host: '::1', port: 0 }] });
    const [p1, p2, p6] = a.t.listening;
    const dst4 = peer.t.listening[0];
    const dst6 = peer.t.listening[1];
    await a.t.send(Buffer.from('x'), { transport: 'udp', host: dst4.host, port: dst4.port, local: { host: p2.host, port: p2.port } });
    await a.t.send(Buffer.from('y'), { transport: 'udp', host: dst4.host, port: dst4.port });
    await a.t.send(Buffer.from('z'), { transport: 'udp', host: `[${dst6.host}]`, port: dst6.port });
    await waitFor(() => peer.records.length === 3, 'three datagrams');
    assert.deepEqual(
      peer.records.map((r) => [utf8(r.bytes), r.remote.host, r.remote.port]),
      [
        ['x', p2.host, p2.port],
        ['y', p1.host, p1.port],
        ['z', '::1', p6.port],
      ],
    );
    // Not a SIP message: reported as invalid, never dropped.
    assert.equal(peer.invalid.length, 3);
  });

  test('RFC 4475 dblreq: octets after the Content-Length body are ignored, the message is delivered', async () => {
    const b = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    const bytes = readFileSync(path.join(FIXTURES, 'dblreq.dat'));
    const sender = dgram.createSocket('udp4');
    try {
      await new Promise<void>((r) => sender.send(bytes, b.t.listening[0].port, '127.0.0.1', () => r()));
      await waitFor(() => b.messages.length + b.invalid.length === 1, 'the datagram');
    } finally {
      await new Promise<void>((r) => sender.close(() => r()));
    }
    assert.equal(b.invalid.length, 0);
    const m = b.messages[0].message;
    assert.equal(m.method, 'REGISTER');
    const cl = m.contentLength ?? -1;
    assert.equal(cl, 0);
    assert.equal(m.body.length, 0);
    assert.ok(m.raw.length < bytes.length, 'the trailing INVITE is not part of the message');
    assert.ok(m.diagnostics.some((d) => d.code === 'octets-after-body'));
    assert.deepEqual(Buffer.from(b.records[0].bytes), bytes, 'the tap keeps the whole datagram');
  });

  test('garbage and truncated datagrams go to onInvalid with a reason (and the tap); keep-alives to onKeepAlive', async () => {
    const b = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    const a = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.2', port: 0 }] });
    const to = b.t.sentBy('udp');
    const full = testRequest({ transport: 'udp', from: a.t.sentBy('udp'), to, method: 'MESSAGE', body: 'hello body' });
    const headEnd = full.indexOf('\r\n\r\n');
    const garbage = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x01, 0xfe]);
    const cutInHeaders = full.subarray(0, headEnd - 10);
    const response = Buffer.from(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n' +
        'Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 50\r\n\r\nonly part of the body',
    );
    const truncatedRequest = full.subarray(0, full.length - 4);
    const send = (bytes: Uint8Array) => a.t.send(bytes, { transport: 'udp', host: to.host, port: to.port });
    await send(garbage);
    await send(cutInHeaders);
    await send(response);
    await send(truncatedRequest);
    await send(Buffer.from('\r\n\r\n'));
    await send(Buffer.alloc(0));
    await waitFor(() => b.records.length === 6, 'six datagrams');
    await waitFor(() => b.invalid.length + b.messages.length + b.keepalives.length === 6, 'all reported');

    assert.equal(b.invalid.length, 3);
    assert.deepEqual(Buffer.from(b.invalid[0].bytes), garbage);
    assert.match(b.invalid[0].reason, /^not-sip: /);
    assert.deepEqual(Buffer.from(b.invalid[1].bytes), cutInHeaders);
    assert.match(b.invalid[1].reason, /^no-header-end: /);
    assert.deepEqual(Buffer.from(b.invalid[2].bytes), response);
    assert.match(b.invalid[2].reason, /truncated response.*Content-Length 50/);
    // RFC 3261 §18.3: a truncated request is delivered flagged, so the element can answer 400.
    assert.equal(b.messages.length, 1);
    assert.ok(b.messages[0].message.diagnostics.some((d) => d.code === 'content-length-exceeds'));
    assert.equal(b.keepalives.length, 2);
    for (const inv of b.invalid) assert.equal(inv.flow.remote.port, a.t.sentBy('udp').port);
    assert.deepEqual(
      b.records.map((r) => r.bytes.length),
      [garbage.length, cutInHeaders.length, response.length, truncatedRequest.length, 4, 0],
    );
    assert.equal(b.errors.length, 0);
  });

  test('every RFC 4475 torture message is tapped and reported, none crashes the transport', async () => {
    const b = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    const a = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.2', port: 0 }] });
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.dat'));
    assert.ok(files.length > 40);
    const to = b.t.sentBy('udp');
    for (const f of files) await a.t.send(readFileSync(path.join(FIXTURES, f)), { transport: 'udp', host: to.host, port: to.port });
    await waitFor(() => b.messages.length + b.invalid.length === files.length, 'every torture message');
    assert.equal(b.records.length, files.length);
    assert.equal(b.errors.length, 0);
  });

  test('a send to a closed UDP port (ICMP port unreachable) is harmless', async () => {
    const a = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    const port = await freePort('udp');
    for (let i = 0; i < 3; i++) await a.t.send(Buffer.from('ping'), { transport: 'udp', host: '127.0.0.1', port });
    await sleep(50);
    // Still works afterwards.
    const b = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    await a.t.send(Buffer.from('again'), { transport: 'udp', host: '127.0.0.1', port: b.t.sentBy('udp').port });
    await waitFor(() => b.records.length === 1, 'the datagram after ICMP errors');
    assert.equal(a.errors.length, 0);
  });

  test('send rejections carry a code: oversize datagram, wrong family, bad address', async () => {
    const a = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    await assert.rejects(a.t.send(Buffer.alloc(70_000), { transport: 'udp', host: '127.0.0.1', port: 9 }), { code: 'EMSGSIZE' });
    await assert.rejects(a.t.send(Buffer.from('x'), { transport: 'udp', host: '::1', port: 9 }), { code: 'ERR_NO_LISTENING_POINT' });
    await assert.rejects(a.t.send(Buffer.from('x'), { transport: 'udp', host: 'example.com', port: 9 }), { code: 'ERR_INVALID_ADDRESS' });
    await assert.rejects(a.t.send(Buffer.from('x'), { transport: 'udp', host: '127.0.0.1', port: 0 }), { code: 'ERR_INVALID_PORT' });
    assert.equal(a.records.length, 0, 'nothing that was not sent is in the capture');
  });

  test('UDP buffers are enlarged (up to what the kernel allows)', async () => {
    const a = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    const info = a.t.socketInfo()[0];
    assert.ok((info.recvBufferBytes ?? 0) >= 200_000, `recv buffer ${info.recvBufferBytes}`);
    assert.ok((info.sendBufferBytes ?? 0) >= 200_000, `send buffer ${info.sendBufferBytes}`);
  });
});

describe('TCP framing on a real stream', () => {
  const body = 'Grüße, 你好, 😀 — Content-Length counts bytes';

  test('one message written one byte at a time, and in three chunks', async () => {
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.30', port: 0 }] });
    const to = b.t.sentBy('tcp');
    const peer = await rawTcpPeer(to, '127.0.0.31');
    try {
      const msg = testRequest({ transport: 'tcp', from: { host: '127.0.0.31', port: 5060 }, to, method: 'MESSAGE', body });
      assert.notEqual(msg.length, Buffer.from(msg.toString('latin1'), 'latin1').toString('utf8').length);
      for (let i = 0; i < msg.length; i++) {
        peer.socket.write(msg.subarray(i, i + 1));
        if (i % 8 === 0) await sleep(1);
        else await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => b.messages.length === 1, 'the byte-by-byte message');
      const third = Math.floor(msg.length / 3);
      for (const [s, e] of [
        [0, third],
        [third, 2 * third],
        [2 * third, msg.length],
      ]) {
        peer.socket.write(msg.subarray(s, e));
        await sleep(15);
      }
      await waitFor(() => b.messages.length === 2, 'the three-chunk message');
      for (const { message, flow } of b.messages) {
        assert.deepEqual(Buffer.from(message.raw), msg);
        assert.equal(message.bodyText, body);
        assert.equal(flow.transport, 'tcp');
        assert.equal(flow.remote.host, '127.0.0.31');
        assert.equal(flow.remote.port, peer.socket.localPort);
        assert.deepEqual(flow.local, { host: to.host, port: to.port });
        assert.equal(typeof flow.connId, 'number');
      }
      assert.equal(b.messages[0].flow.connId, b.messages[1].flow.connId);
      // The tap has one record per read; together they are exactly what was written.
      const ins = b.records.filter((r) => r.direction === 'in');
      assert.ok(ins.length >= 4, `${ins.length} segments`);
      assert.deepEqual(recordBytes(ins, () => true), Buffer.concat([msg, msg]));
      for (const r of ins) assert.equal(r.connId, b.messages[0].flow.connId);
      assert.equal(b.invalid.length, 0);
    } finally {
      await peer.close();
    }
  });

  test('coalesced: three messages and CRLF keep-alives in one write; a double-CRLF ping gets a CRLF pong', async () => {
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.32', port: 0 }] });
    const to = b.t.sentBy('tcp');
    const peer = await rawTcpPeer(to);
    try {
      const from = { host: '127.0.0.1', port: 5060 };
      const m1 = testRequest({ transport: 'tcp', from, to, method: 'MESSAGE', body, cseq: 1 });
      const m2 = testRequest({ transport: 'tcp', from, to, method: 'OPTIONS', cseq: 2 });
      const m3 = testRequest({ transport: 'tcp', from, to, method: 'MESSAGE', body: `${body}\r\n\r\n`, cseq: 3 });
      const blob = Buffer.concat([Buffer.from('\r\n'), m1, Buffer.from('\r\n'), m2, m3, Buffer.from('\r\n\r\n')]);
      peer.socket.write(blob);
      await waitFor(() => b.messages.length === 3, 'three messages');
      await waitFor(() => peer.received().length === 2, 'the pong');
      assert.deepEqual(
        b.messages.map((x) => Buffer.from(x.message.raw)),
        [m1, m2, m3],
      );
      assert.equal(b.messages[2].message.bodyText, `${body}\r\n\r\n`);
      assert.deepEqual(peer.received(), Buffer.from('\r\n'), 'one CRLF pong for the one ping');
      // Keep-alives are reported, not delivered as messages; the single CRLFs get no pong.
      assert.equal(b.keepalives.length, 3);
      const outs = b.records.filter((r) => r.direction === 'out');
      assert.equal(outs.length, 1);
      assert.equal(utf8(outs[0].bytes), '\r\n');
      assert.equal(outs[0].transport, 'tcp');
      // A ping split over two reads is still a ping.
      peer.socket.write('\r\n');
      await sleep(20);
      peer.socket.write('\r\n');
      await waitFor(() => peer.received().length === 4, 'the second pong');
      assert.equal(b.invalid.length, 0);
      // Two lone CRLFs far apart are not a ping.
      const lone = b.keepalives.length;
      peer.socket.write('\r\n');
      await waitFor(() => b.keepalives.length === lone + 1, 'a lone CRLF');
      await sleep(1100);
      peer.socket.write('\r\n');
      await waitFor(() => b.keepalives.length === lone + 2, 'another lone CRLF');
      await sleep(50);
      assert.equal(peer.received().length, 4, 'no pong for lone CRLFs');
    } finally {
      await peer.close();
    }
  });

  test('a header section beyond the limit closes the stream with a reason, after reporting the bytes', async () => {
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.33', port: 0 }], maxMessageBytes: 4096 });
    const peer = await rawTcpPeer(b.t.sentBy('tcp'));
    try {
      const closed = new Promise<void>((r) => peer.socket.once('close', () => r()));
      peer.socket.write(`INVITE sip:x@y SIP/2.0\r\nX-Long: ${'a'.repeat(5000)}\r\n`);
      await closed;
      await waitFor(() => b.connections.some((c) => c.type === 'close'), 'the close event');
      assert.equal(b.invalid.length, 1);
      assert.match(b.invalid[0].reason, /framing lost: no end of header section within 4096 bytes/);
      const close = b.connections.find((c) => c.type === 'close');
      assert.match(close?.reason ?? '', /framing lost/);
    } finally {
      await peer.close();
    }
  });

  test('a Content-Length beyond the limit closes the stream; a message cut by the close is reported', async () => {
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.34', port: 0 }], maxMessageBytes: 4096 });
    const to = b.t.sentBy('tcp');
    const peer = await rawTcpPeer(to);
    try {
      const closed = new Promise<void>((r) => peer.socket.once('close', () => r()));
      const big = testRequest({ transport: 'tcp', from: { host: '127.0.0.1', port: 5060 }, to, method: 'MESSAGE', body: 'x'.repeat(5000) });
      peer.socket.write(big);
      await closed;
      await waitFor(() => b.invalid.length === 1, 'the oversize message');
      assert.match(b.invalid[0].reason, /message too large: Content-Length 5000/);
      assert.equal(b.messages.length, 0);
    } finally {
      await peer.close();
    }
    const peer2 = await rawTcpPeer(to);
    const half = testRequest({ transport: 'tcp', from: { host: '127.0.0.1', port: 5060 }, to, method: 'OPTIONS' }).subarray(0, 60);
    peer2.socket.write(half);
    await waitFor(() => b.records.length >= 2, 'the partial message');
    await peer2.close();
    await waitFor(() => b.invalid.length === 2, 'the partial message reported at close');
    assert.match(b.invalid[1].reason, /connection closed in the middle of a message/);
    assert.deepEqual(Buffer.from(b.invalid[1].bytes), half);
  });

  test('an idle connection is closed after idleTimeoutMs', async () => {
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.35', port: 0 }], idleTimeoutMs: 100 });
    const peer = await rawTcpPeer(b.t.sentBy('tcp'));
    const closed = new Promise<void>((r) => peer.socket.once('close', () => r()));
    await closed;
    await waitFor(() => b.connections.length === 2, 'open and close events');
    assert.match(b.connections[1].reason ?? '', /idle for 100 ms/);
    await peer.close();
  });
});

describe('TCP connections', () => {
  test('two requests to one destination share one connection; the response goes back on it', async () => {
    const a = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.40', port: 0 }] });
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.41', port: 0 }] });
    const aAddr = a.t.sentBy('tcp');
    const bAddr = b.t.sentBy('tcp');
    b.t.onMessage((m, flow) => {
      if (m.isRequest) void b.t.send(responseTo(m, 200, 'OK', 'tt').toBytes(), responseDestination(m, flow));
    });
    const dest = { transport: 'tcp' as const, host: bAddr.host, port: bAddr.port };
    // Concurrent sends while connecting share the connection.
    const [f1, f2] = await Promise.all([
      a.t.send(testRequest({ transport: 'tcp', from: aAddr, to: bAddr, cseq: 1 }), dest),
      a.t.send(testRequest({ transport: 'tcp', from: aAddr, to: bAddr, cseq: 2 }), dest),
    ]);
    const f3 = await a.t.send(testRequest({ transport: 'tcp', from: aAddr, to: bAddr, cseq: 3 }), dest);
    assert.equal(f1.connId, f2.connId);
    assert.equal(f1.connId, f3.connId);
    // The connection comes from the endpoint's own address.
    assert.equal(f1.local.host, '127.0.0.40');
    assert.deepEqual(f1.remote, bAddr);
    await waitFor(() => a.messages.length === 3, 'three responses');
    assert.equal(b.connections.filter((c) => c.type === 'open').length, 1, 'one accept on the server');
    assert.equal(b.connections[0].direction, 'inbound');
    assert.equal(a.connections.filter((c) => c.type === 'open').length, 1);
    assert.equal(a.connections[0].direction, 'outbound');
    assert.deepEqual(
      b.messages.map((x) => x.message.cseq?.seq),
      [1, 2, 3],
      'requests arrive in send order',
    );
    const serverConn = b.messages[0].flow.connId;
    for (const x of b.messages) {
      assert.equal(x.flow.connId, serverConn);
      assert.equal(x.flow.remote.host, '127.0.0.40');
    }
    for (const x of a.messages) {
      assert.equal(x.flow.connId, f1.connId, 'responses come back on the connection A opened');
      assert.equal(x.message.status, 200);
    }
    // Tap: one 'out' record per send, with the connection id.
    const outs = a.records.filter((r) => r.direction === 'out');
    assert.equal(outs.length, 3);
    for (const r of outs) {
      assert.equal(r.connId, f1.connId);
      assert.equal(r.transport, 'tcp');
      assert.deepEqual(r.local, f1.local);
    }
    assert.deepEqual(a.t.connectionIds, [f1.connId]);
  });

  test('a response whose connection is gone opens a new one to the source IP and sent-by port (§18.2.2)', async () => {
    const a = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.42', port: 0 }] });
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.43', port: 0 }] });
    const aAddr = a.t.sentBy('tcp');
    const bAddr = b.t.sentBy('tcp');
    const f = await a.t.send(testRequest({ transport: 'tcp', from: aAddr, to: bAddr }), { transport: 'tcp', host: bAddr.host, port: bAddr.port });
    await waitFor(() => b.messages.length === 1, 'the request');
    const { message, flow } = b.messages[0];
    assert.ok(a.t.closeConnection(f.connId as number, 'test closes it'));
    await waitFor(() => b.connections.some((c) => c.type === 'close'), 'the server noticing the close');
    const dest = responseDestination(message, flow);
    assert.deepEqual([dest.connId, dest.host, dest.port], [flow.connId, '127.0.0.42', aAddr.port]);
    const rf = await b.t.send(responseTo(message, 200, 'OK').toBytes(), dest);
    assert.notEqual(rf.connId, flow.connId);
    assert.equal(rf.local.host, '127.0.0.43');
    await waitFor(() => a.messages.length === 1, 'the response on a new connection');
    assert.equal(a.messages[0].flow.local.port, aAddr.port, 'accepted on A’s listening port');
    assert.equal(b.connections.find((c) => c.type === 'close')?.reason, 'closed by peer (FIN)');
  });

  test('ECONNREFUSED rejects the send (and every send waiting on that connect) with the code', async () => {
    const a = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.44', port: 0 }] });
    const port = await freePort('tcp');
    const dest = { transport: 'tcp' as const, host: '127.0.0.1', port };
    const results = await Promise.allSettled([a.t.send(Buffer.from('a'), dest), a.t.send(Buffer.from('b'), dest)]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason;
      assert.ok(err instanceof TransportError);
      assert.equal(err.code, 'ECONNREFUSED');
      assert.match(err.message, /tcp connection to 127\.0\.0\.1:\d+ from 127\.0\.0\.44 failed \(ECONNREFUSED\)/);
    }
    assert.equal(a.records.length, 0);
    assert.deepEqual(a.t.connectionIds, []);
    // A later send tries again (no stale failed connection in the table).
    await assert.rejects(a.t.send(Buffer.from('c'), dest), { code: 'ECONNREFUSED' });
    assert.equal(a.errors.length, 0);
  });

  test('a handler that throws is reported through onError, the transport keeps going', async () => {
    const b = await endpoint({ listen: [{ transport: 'tcp', host: '127.0.0.45', port: 0 }] });
    b.t.onMessage(() => {
      throw new Error('boom');
    });
    const peer = await rawTcpPeer(b.t.sentBy('tcp'));
    try {
      const to = b.t.sentBy('tcp');
      peer.socket.write(testRequest({ transport: 'tcp', from: { host: '127.0.0.1', port: 5060 }, to }));
      peer.socket.write(testRequest({ transport: 'tcp', from: { host: '127.0.0.1', port: 5060 }, to }));
      await waitFor(() => b.messages.length === 2, 'both messages');
      assert.equal(b.errors.length, 2);
      assert.equal(b.errors[0].code, 'ERR_HANDLER');
      assert.match(b.errors[0].message, /boom/);
    } finally {
      await peer.close();
    }
  });
});

describe('listening and closing', () => {
  test('EADDRINUSE names the address; nothing stays bound after a failed create', async () => {
    const a = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.50', port: 0 }, { transport: 'tcp', host: '127.0.0.50', port: 0 }] });
    const udpPort = a.t.sentBy('udp').port;
    const tcpPort = a.t.sentBy('tcp').port;
    await assert.rejects(createTransport({ listen: [{ transport: 'udp', host: '127.0.0.50', port: udpPort }] }), (err: TransportError) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(err.message, new RegExp(`cannot listen on udp 127\\.0\\.0\\.50:${udpPort}: address already in use`));
      return true;
    });
    await assert.rejects(createTransport({ listen: [{ transport: 'tcp', host: '::1', port: 0 }, { transport: 'tcp', host: '127.0.0.50', port: tcpPort }] }), (err: TransportError) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(err.message, new RegExp(`tcp 127\\.0\\.0\\.50:${tcpPort}`));
      return true;
    });
    await assert.rejects(createTransport({ listen: [{ transport: 'udp', host: 'localhost', port: 0 }] }), { code: 'ERR_INVALID_ADDRESS' });
    await assert.rejects(createTransport({ listen: [{ transport: 'tls', host: '127.0.0.1', port: 0 }] }), { code: 'ERR_TLS_CONFIG' });
  });

  test('close() closes every socket, server and connection and leaves no handle or timer', async () => {
    const kinds = () => {
      const counts = new Map<string, number>();
      for (const k of process.getActiveResourcesInfo()) counts.set(k, (counts.get(k) ?? 0) + 1);
      return counts;
    };
    await sleep(20);
    const before = kinds();
    const a = await createTransport({
      listen: [
        { transport: 'udp', host: '127.0.0.51', port: 0 },
        { transport: 'tcp', host: '127.0.0.51', port: 0 },
        { transport: 'udp', host: '::1', port: 0 },
        { transport: 'tcp', host: '::1', port: 0 },
      ],
    });
    const b = await createTransport({ listen: [{ transport: 'tcp', host: '127.0.0.52', port: 0 }] });
    const bAddr = b.sentBy('tcp');
    let got = 0;
    b.onMessage(() => got++);
    await a.send(testRequest({ transport: 'tcp', from: a.sentBy('tcp'), to: bAddr }), { transport: 'tcp', host: bAddr.host, port: bAddr.port });
    const peer = await rawTcpPeer(a.sentBy('tcp'));
    peer.socket.write('INVITE sip:half');
    await waitFor(() => got === 1 && a.connectionIds.length === 2, 'connections up');
    const during = kinds();
    assert.ok((during.get('TCPSocketWrap') ?? 0) >= (before.get('TCPSocketWrap') ?? 0) + 4);
    const peerClosed = new Promise<void>((r) => peer.socket.once('close', () => r()));
    // A send racing the close is rejected, not lost in a half-closed state.
    const racing = assert.rejects(a.send(Buffer.from('x'), { transport: 'tcp', host: '127.0.0.1', port: 9 }), { code: 'ERR_TRANSPORT_CLOSED' });
    await Promise.all([a.close(), b.close()]);
    await racing;
    await peerClosed;
    await peer.close();
    await assert.rejects(a.send(Buffer.from('x'), { transport: 'udp', host: '127.0.0.1', port: 9 }), { code: 'ERR_TRANSPORT_CLOSED' });
    await a.close(); // idempotent
    await sleep(20);
    assert.deepEqual(kinds(), before);
  });
});

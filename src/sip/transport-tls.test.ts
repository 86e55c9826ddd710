/**
 * TLS over real sockets with a throw-away self-signed certificate (made with node:crypto):
 * IPv4 and IPv6 exchange, cleartext in the tap, mutual TLS, verification
 * failures reported with their code, and a TLS peer that is not one.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { responseTo } from './builder.ts';
import { responseDestination } from './response-routing.ts';
import { createTestCertificate, type TestCertificate } from './tls-test-cert.ts';
import { checkServerIdentity, TransportError, type TransportLayer } from './transport.ts';
import { type RecordingEndpoint, rawTcpPeer, recordingEndpoint, sleep, testRequest, waitFor } from './transport-testing.ts';

let cert: TestCertificate;
let other: TestCertificate;
const open: TransportLayer[] = [];

before(async () => {
  [cert, other] = await Promise.all([
    createTestCertificate({ ips: ['127.0.0.1', '127.0.0.60', '127.0.0.61', '127.0.0.62', '127.0.0.63', '127.0.0.64', '::1'] }),
    createTestCertificate({ commonName: 'other', ips: ['127.0.0.1'] }),
  ]);
});
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

async function endpoint(...args: Parameters<typeof recordingEndpoint>): Promise<RecordingEndpoint> {
  const ep = await recordingEndpoint(...args);
  open.push(ep.t);
  return ep;
}

function tlsOpts(c = cert, extra: object = {}) {
  return { key: c.key, cert: c.cert, ca: c.cert, ...extra };
}

describe('TLS', () => {
  for (const [family, hostA, hostB] of [
    ['IPv4', '127.0.0.60', '127.0.0.61'],
    ['IPv6', '::1', '::1'],
  ] as const) {
    test(`${family}: request and response over TLS, the tap shows the cleartext`, async () => {
      const a = await endpoint({ listen: [{ transport: 'tls', host: hostA, port: 0 }], tls: tlsOpts() });
      const b = await endpoint({ listen: [{ transport: 'tls', host: hostB, port: 0 }], tls: tlsOpts() });
      const aAddr = a.t.sentBy('tls');
      const bAddr = b.t.sentBy('tls');
      b.t.onMessage((m, flow) => {
        if (m.isRequest) void b.t.send(responseTo(m, 200, 'OK', 'tls-tag').toBytes(), responseDestination(m, flow));
      });
      const req = testRequest({ transport: 'tls', from: aAddr, to: bAddr, method: 'MESSAGE', body: 'chiffré ✓' });
      const flow = await a.t.send(req, { transport: 'tls', host: bAddr.host, port: bAddr.port });
      assert.equal(flow.transport, 'tls');
      assert.equal(flow.local.host, hostA);
      assert.deepEqual(flow.remote, bAddr);
      await waitFor(() => a.messages.length === 1, 'the response over TLS');
      assert.equal(a.messages[0].flow.connId, flow.connId);
      assert.equal(a.messages[0].message.status, 200);
      const got = b.messages[0];
      assert.deepEqual(Buffer.from(got.message.raw), req);
      assert.equal(got.message.bodyText, 'chiffré ✓');
      assert.equal(got.flow.transport, 'tls');
      assert.equal(got.flow.remote.host, hostA);

      const aOut = a.records.filter((r) => r.direction === 'out');
      assert.equal(aOut.length, 1);
      assert.deepEqual(Buffer.from(aOut[0].bytes), req, 'the tap has the cleartext, not TLS records');
      assert.equal(aOut[0].transport, 'tls');
      assert.equal(aOut[0].connId, flow.connId);
      const bIn = Buffer.concat(b.records.filter((r) => r.direction === 'in').map((r) => r.bytes));
      assert.deepEqual(bIn, req);
      for (const r of b.records) {
        assert.equal(r.transport, 'tls');
        assert.equal(r.connId, got.flow.connId);
      }
      const bOut = b.records.filter((r) => r.direction === 'out');
      assert.equal(bOut.length, 1);
      assert.match(Buffer.from(bOut[0].bytes).toString('latin1'), /^SIP\/2\.0 200 OK\r\n/);
    });
  }

  test('mutual TLS (requestCert) works with a trusted client certificate', async () => {
    const b = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.62', port: 0 }], tls: tlsOpts(cert, { requestCert: true }) });
    const a = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.63', port: 0 }], tls: tlsOpts() });
    const bAddr = b.t.sentBy('tls');
    await a.t.send(testRequest({ transport: 'tls', from: a.t.sentBy('tls'), to: bAddr }), { transport: 'tls', host: bAddr.host, port: bAddr.port });
    await waitFor(() => b.messages.length === 1, 'the request');
  });

  test('an untrusted server certificate rejects the send with the verification code', async () => {
    const b = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.1', port: 0 }], tls: tlsOpts(other) });
    const a = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.64', port: 0 }], tls: tlsOpts() });
    const bAddr = b.t.sentBy('tls');
    const err = await a.t.send(Buffer.from('x'), { transport: 'tls', host: bAddr.host, port: bAddr.port }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof TransportError);
    assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(a.records.length, 0);
    // Accepting any certificate (rejectUnauthorized: false) gets through.
    // A TLS client-only endpoint (no certificate of its own, no TLS listening point).
    const c = await endpoint({ listen: [{ transport: 'udp', host: '127.0.0.64', port: 0 }], tls: { rejectUnauthorized: false } });
    const cf = await c.t.send(testRequest({ transport: 'tls', from: c.t.sentBy('udp'), to: bAddr }), { transport: 'tls', host: bAddr.host, port: bAddr.port });
    assert.equal(cf.local.host, '127.0.0.64');
    await waitFor(() => b.messages.length === 1, 'the request');
  });

  test('a certificate for another address fails hostname (IP SAN) verification', async () => {
    const b = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.65', port: 0 }], tls: tlsOpts() });
    const a = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.64', port: 0 }], tls: tlsOpts() });
    const bAddr = b.t.sentBy('tls');
    await assert.rejects(a.t.send(Buffer.from('x'), { transport: 'tls', host: bAddr.host, port: bAddr.port }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  test('IPv6 literals are matched against IP Address SANs (works around nodejs/node#64144)', () => {
    const san = { subject: {}, subjectaltname: 'DNS:x.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:5' } as unknown as tls.PeerCertificate;
    assert.equal(checkServerIdentity('::1', san), undefined);
    assert.equal(checkServerIdentity('[2001:db8::5]', san), undefined);
    assert.equal(checkServerIdentity('127.0.0.1', san), undefined);
    assert.equal((checkServerIdentity('::2', san) as NodeJS.ErrnoException | undefined)?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal((checkServerIdentity('127.0.0.2', san) as NodeJS.ErrnoException | undefined)?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(checkServerIdentity('x.test', san), undefined);
  });

  test('framing and keep-alive over TLS: coalesced messages, ping answered with a pong', async () => {
    const b = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.60', port: 0 }], tls: tlsOpts() });
    const bAddr = b.t.sentBy('tls');
    const client = tls.connect({ host: bAddr.host, port: bAddr.port, ca: cert.cert });
    await new Promise<void>((resolve, reject) => {
      client.once('secureConnect', () => resolve());
      client.once('error', reject);
    });
    const got: Buffer[] = [];
    client.on('data', (c: Buffer) => got.push(c));
    try {
      const from = { host: '127.0.0.1', port: 5061 };
      const m1 = testRequest({ transport: 'tls', from, to: bAddr, method: 'MESSAGE', body: 'ünïcödé' });
      const m2 = testRequest({ transport: 'tls', from, to: bAddr });
      client.write(Buffer.concat([m1, Buffer.from('\r\n'), m2, Buffer.from('\r\n\r\n')]));
      await waitFor(() => b.messages.length === 2 && Buffer.concat(got).length === 2, 'two messages and a pong');
      assert.deepEqual(Buffer.concat(got), Buffer.from('\r\n'));
      assert.deepEqual(Buffer.from(b.messages[0].message.raw), m1);
      assert.deepEqual(Buffer.from(b.messages[1].message.raw), m2);
    } finally {
      await new Promise<void>((r) => {
        client.once('close', () => r());
        client.destroy();
      });
    }
  });

  test('a peer that does not speak TLS is reported through onError, nothing crashes', async () => {
    const b = await endpoint({ listen: [{ transport: 'tls', host: '127.0.0.61', port: 0 }], tls: tlsOpts() });
    const peer = await rawTcpPeer(b.t.sentBy('tls'));
    const closed = new Promise<void>((r) => peer.socket.once('close', () => r()));
    peer.socket.write('OPTIONS sip:x@y SIP/2.0\r\n\r\n');
    await closed;
    await waitFor(() => b.errors.length === 1, 'the handshake error');
    assert.equal(b.errors[0].transport, 'tls');
    assert.match(b.errors[0].message, /tls handshake from 127\.0\.0\.1:\d+ failed/);
    assert.equal(b.messages.length + b.invalid.length, 0);
    await peer.close();
    await sleep(10);
  });
});

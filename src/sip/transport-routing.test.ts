/**
 * Response routing (RFC 3261 §18.2.1, §18.2.2; RFC 3581 §4) as table cases:
 * where a response goes and which received/rport a server records.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import { responseTo } from './builder.ts';
import type { TransportProtocol } from './capture.ts';
import type { SipMessage } from './message.ts';
import { parseMessage } from './parser.ts';
import { defaultPort, responseDestination, stampTopVia, stampVia, viaReceivedParams } from './response-routing.ts';
import { sameHost } from './transport-address.ts';
import type { Flow } from './transport-types.ts';

function request(...vias: string[]): SipMessage {
  const text =
    'OPTIONS sip:x@example.net SIP/2.0\r\n' +
    vias.map((v) => `Via: ${v}\r\n`).join('') +
    'Max-Forwards: 70\r\nFrom: <sip:a@example.net>;tag=1\r\nTo: <sip:x@example.net>\r\nCall-ID: rr1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
  const r = parseMessage(Buffer.from(text), { datagram: true });
  assert.ok(r.ok);
  return r.message;
}

function flow(transport: TransportProtocol, host: string, port: number, connId: number | null = null): Flow {
  const local = host.includes(':') ? { host: '::1', port: 5060 } : { host: '127.0.0.1', port: 5060 };
  return { transport, local, remote: { host, port }, connId };
}

describe('responseDestination', () => {
  const cases: Array<[string, string[], Flow, { transport: TransportProtocol; host: string; port: number; connId: number | null }]> = [
    ['UDP: sent-by port', ['SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1'], flow('udp', '127.0.0.5', 40000), { transport: 'udp', host: '127.0.0.5', port: 5070, connId: null }],
    ['UDP: sent-by without port → 5060', ['SIP/2.0/UDP 127.0.0.5;branch=z9hG4bK1'], flow('udp', '127.0.0.5', 40000), { transport: 'udp', host: '127.0.0.5', port: 5060, connId: null }],
    ['UDP: domain sent-by → source IP (received), sent-by port', ['SIP/2.0/UDP pbx.example.com:5080;branch=z9hG4bK1'], flow('udp', '192.0.2.7', 1234), { transport: 'udp', host: '192.0.2.7', port: 5080, connId: null }],
    ['UDP: rport without value → source port', ['SIP/2.0/UDP 10.0.0.1:5070;rport;branch=z9hG4bK1'], flow('udp', '192.0.2.7', 40000), { transport: 'udp', host: '192.0.2.7', port: 40000, connId: null }],
    ['UDP: rport with a value → still the source port', ['SIP/2.0/UDP 10.0.0.1:5070;rport=999;branch=z9hG4bK1'], flow('udp', '192.0.2.7', 40000), { transport: 'udp', host: '192.0.2.7', port: 40000, connId: null }],
    ['UDP: RPORT is case-insensitive', ['SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;RPort'], flow('udp', '192.0.2.7', 40000), { transport: 'udp', host: '192.0.2.7', port: 40000, connId: null }],
    ['UDP: maddr with sent-by port, ttl ignored', ['SIP/2.0/UDP 10.0.0.1:5070;maddr=239.255.255.1;ttl=16;branch=z9hG4bK1'], flow('udp', '192.0.2.7', 40000), { transport: 'udp', host: '239.255.255.1', port: 5070, connId: null }],
    ['UDP: maddr beats rport, no sent-by port → 5060', ['SIP/2.0/UDP 10.0.0.1;rport;maddr=192.0.2.99;branch=z9hG4bK1'], flow('udp', '192.0.2.7', 40000), { transport: 'udp', host: '192.0.2.99', port: 5060, connId: null }],
    ['UDP: IPv6 sent-by with brackets', ['SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK1'], flow('udp', '2001:db8::1', 5062), { transport: 'udp', host: '2001:db8::1', port: 5062, connId: null }],
    ['UDP: IPv6 with rport', ['SIP/2.0/UDP [2001:db8::1]:5062;rport;branch=z9hG4bK1'], flow('udp', '2001:db8::9', 33333), { transport: 'udp', host: '2001:db8::9', port: 33333, connId: null }],
    ['UDP: IPv6 maddr in brackets', ['SIP/2.0/UDP [2001:db8::1]:5062;maddr=[ff02::1:3];branch=z9hG4bK1'], flow('udp', '2001:db8::1', 5062), { transport: 'udp', host: 'ff02::1:3', port: 5062, connId: null }],
    ['UDP: only the top Via counts', ['SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1', 'SIP/2.0/UDP 10.0.0.2:5090;rport;branch=z9hG4bK0'], flow('udp', '10.0.0.1', 5070), { transport: 'udp', host: '10.0.0.1', port: 5070, connId: null }],
    ['UDP: comma-separated Vias, top first', ['SIP/2.0/UDP 10.0.0.1:5071;rport;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.2:5090;branch=z9hG4bK0'], flow('udp', '10.0.0.1', 6000), { transport: 'udp', host: '10.0.0.1', port: 6000, connId: null }],
    ['TCP: the connection, fallback source IP + sent-by port', ['SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK1'], flow('tcp', '192.0.2.7', 40000, 17), { transport: 'tcp', host: '192.0.2.7', port: 5070, connId: 17 }],
    ['TCP: rport does not change the fallback port', ['SIP/2.0/TCP 10.0.0.1;rport;branch=z9hG4bK1'], flow('tcp', '192.0.2.7', 40000, 18), { transport: 'tcp', host: '192.0.2.7', port: 5060, connId: 18 }],
    ['TLS: default port 5061', ['SIP/2.0/TLS [2001:db8::1];branch=z9hG4bK1'], flow('tls', '2001:db8::1', 40000, 19), { transport: 'tls', host: '2001:db8::1', port: 5061, connId: 19 }],
    ['TLS: maddr ignored on a reliable transport', ['SIP/2.0/TLS 10.0.0.1:5071;maddr=10.9.9.9;branch=z9hG4bK1'], flow('tls', '192.0.2.7', 40000, 20), { transport: 'tls', host: '192.0.2.7', port: 5071, connId: 20 }],
  ];
  for (const [name, vias, f, expected] of cases) {
    test(name, () => {
      const d = responseDestination(request(...vias), f);
      assert.deepEqual({ transport: d.transport, host: d.host, port: d.port, connId: d.connId }, expected);
      assert.deepEqual(d.local, f.local, 'sent from the listening point the request came in on');
    });
  }

  test('no Via at all: back to the source', () => {
    const r = parseMessage(Buffer.from('OPTIONS sip:x@y SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n'), { datagram: true });
    assert.ok(r.ok);
    const d = responseDestination(r.message, flow('udp', '127.0.0.9', 4444));
    assert.deepEqual([d.host, d.port], ['127.0.0.9', 4444]);
  });

  test('default ports', () => {
    assert.deepEqual([defaultPort('udp'), defaultPort('tcp'), defaultPort('tls')], [5060, 5060, 5061]);
  });
});

describe('viaReceivedParams', () => {
  const cases: Array<[string, string, Flow, { received: string | null; rport: number | null }]> = [
    ['sent-by is the source: nothing to add', 'SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bK1', flow('udp', '127.0.0.5', 5070), { received: null, rport: null }],
    ['sent-by differs: received', 'SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1', flow('udp', '192.0.2.7', 5070), { received: '192.0.2.7', rport: null }],
    ['domain sent-by: received', 'SIP/2.0/TCP pbx.example.com;branch=z9hG4bK1', flow('tcp', '192.0.2.7', 40000, 1), { received: '192.0.2.7', rport: null }],
    ['rport without value: rport and received even when equal (RFC 3581 §4)', 'SIP/2.0/UDP 127.0.0.5:5070;rport;branch=z9hG4bK1', flow('udp', '127.0.0.5', 40001), { received: '127.0.0.5', rport: 40001 }],
    ['rport with a value: overwritten with the source port', 'SIP/2.0/UDP 10.0.0.1:5070;rport=5;branch=z9hG4bK1', flow('udp', '192.0.2.7', 40002), { received: '192.0.2.7', rport: 40002 }],
    ['IPv6: same address spelled differently', 'SIP/2.0/UDP [2001:DB8:0:0::1]:5060;branch=z9hG4bK1', flow('udp', '2001:db8::1', 5060), { received: null, rport: null }],
    ['IPv6: differs → received without brackets', 'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1', flow('udp', '2001:db8::2', 5060), { received: '2001:db8::2', rport: null }],
    ['IPv6 with rport', 'SIP/2.0/UDP [::1]:5060;rport;branch=z9hG4bK1', flow('udp', '::1', 40003), { received: '::1', rport: 40003 }],
    ['IPv4 sent-by, IPv6 source', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1', flow('udp', '::1', 5060), { received: '::1', rport: null }],
  ];
  for (const [name, via, f, expected] of cases) {
    test(name, () => {
      assert.deepEqual(viaReceivedParams(request(via), f), expected);
    });
  }

  test('sameHost compares IP literals by value', () => {
    assert.ok(sameHost('[2001:db8::1]', '2001:DB8:0000::1'));
    assert.ok(!sameHost('127.0.0.1', '::ffff:127.0.0.1'));
    assert.ok(sameHost('PBX.example.com', 'pbx.example.com'));
    assert.ok(!sameHost('pbx.example.com', '192.0.2.1'));
  });
});

describe('stampVia / stampTopVia', () => {
  const cases: Array<[string, string, { received: string | null; rport: number | null }, string]> = [
    ['fills rport in place, appends received', 'SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKx', { received: '192.0.2.7', rport: 40000 }, 'SIP/2.0/UDP 10.0.0.1:5060;rport=40000;branch=z9hG4bKx;received=192.0.2.7'],
    ['rport last', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport', { received: '192.0.2.7', rport: 40000 }, 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport=40000;received=192.0.2.7'],
    ['replaces an existing received and rport value', 'SIP/2.0/UDP h;received=1.1.1.1;rport=1;branch=z9hG4bKx', { received: '192.0.2.7', rport: 2 }, 'SIP/2.0/UDP h;received=192.0.2.7;rport=2;branch=z9hG4bKx'],
    ['leaves look-alike parameters alone', 'SIP/2.0/UDP h;x-rport=1;rportx;branch=z9hG4bKx', { received: '192.0.2.7', rport: null }, 'SIP/2.0/UDP h;x-rport=1;rportx;branch=z9hG4bKx;received=192.0.2.7'],
    ['IPv6 received has no brackets', 'SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKx', { received: '2001:db8::2', rport: null }, 'SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKx;received=2001:db8::2'],
    ['nothing to do', 'SIP/2.0/UDP h;branch=z9hG4bKx', { received: null, rport: null }, 'SIP/2.0/UDP h;branch=z9hG4bKx'],
  ];
  for (const [name, via, params, expected] of cases) {
    test(name, () => {
      assert.equal(stampVia(via, params), expected);
    });
  }

  test('stampTopVia changes only the first element of the first Via line', () => {
    const req = request('SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1 , SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0', 'SIP/2.0/UDP 10.0.0.3;rport;branch=z9hG4bKz');
    const res = responseTo(req, 200, 'OK');
    stampTopVia(res, viaReceivedParams(req, flow('udp', '192.0.2.7', 40000)));
    assert.deepEqual(res.getAll('Via'), [
      'SIP/2.0/UDP 10.0.0.1:5060;rport=40000;branch=z9hG4bK1;received=192.0.2.7 , SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0',
      'SIP/2.0/UDP 10.0.0.3;rport;branch=z9hG4bKz',
    ]);
    const parsed = parseMessage(res.toBytes(), { datagram: true });
    assert.ok(parsed.ok);
    assert.equal(parsed.message.topVia?.received, '192.0.2.7');
    assert.equal(parsed.message.topVia?.rport, 40000);
    assert.equal(parsed.message.vias.length, 3);
  });
});

/** Message model, builder, dialog and proxy helper: the pure parts of the SIP core. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutgoingMessage, responseTo } from './builder.ts';
import { Dialog } from './dialog.ts';
import { StreamFramer } from './framing.ts';
import { parseMessage } from './parser.ts';
import { forwardRequest, forwardResponse, validateForProxy } from './proxy.ts';
import type { SipMessage } from './message.ts';

function parse(text: string, datagram = true): SipMessage {
  const r = parseMessage(Buffer.from(text.replace(/\n/g, '\r\n')), { datagram });
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.message;
}

const INVITE = `INVITE sip:+14255550100@127.0.0.20:5068;user=phone SIP/2.0
v: SIP/2.0/TCP 127.0.0.30:5066;branch=z9hG4bKabc;rport
Max-Forwards: 70
f: "Gateway" <sip:+14255550199@127.0.0.30;user=phone>;tag=gw1
t: <sip:+14255550100@127.0.0.20;user=phone>
i: call-1@127.0.0.30
CSeq: 1 INVITE
m: <sip:gw@127.0.0.30:5066;transport=tcp>
Record-Route: <sip:127.0.0.9:5060;lr>
Supported: 100rel, timer
c: application/sdp
Content-Length: 8

v=0
o=é
`;

describe('message model', () => {
  test('compact forms map to canonical names and keep the name as sent', () => {
    const m = parse(INVITE.replace('Content-Length: 8', 'Content-Length: 10'));
    const names = m.headers.map((h) => `${h.name}>${h.canonical}`);
    assert.deepEqual(names.slice(0, 6), ['v>Via', 'Max-Forwards>Max-Forwards', 'f>From', 't>To', 'i>Call-ID', 'CSeq>CSeq']);
    assert.equal(m.get('Call-ID'), 'call-1@127.0.0.30');
    assert.equal(m.contentType, 'application/sdp');
    assert.deepEqual(m.tokens('supported'), ['100rel', 'timer']);
    assert.equal(m.from?.display, 'Gateway');
    assert.equal(m.fromTag, 'gw1');
    assert.equal(m.topVia?.rport, null);
    assert.equal(m.requestUriParsed?.user, '+14255550100');
  });

  test('Content-Length counts bytes: a 2-byte character makes the body one byte longer', () => {
    const m = parse(INVITE.replace('Content-Length: 8', 'Content-Length: 11'));
    assert.equal(m.body.length, 11);
    assert.equal(m.bodyText, 'v=0\r\no=é\r\n');
    assert.equal(m.bodyText.length, 10);
    const short = parse(INVITE.replace('Content-Length: 8', 'Content-Length: 10'));
    assert.equal(short.bodyText, 'v=0\r\no=é\r');
  });

  test('repeated headers keep order; getAll returns each line', () => {
    const m = parse(INVITE.replace('Supported: 100rel, timer', 'Supported: 100rel\nSupported: timer'));
    assert.deepEqual(m.getAll('supported'), ['100rel', 'timer']);
  });

  test('IPv6 sent-by and URIs', () => {
    const m = parse(INVITE.replace('127.0.0.30:5066;branch', '[::1]:5066;branch').replace('sip:gw@127.0.0.30:5066', 'sip:gw@[::1]:5066'));
    assert.equal(m.topVia?.host, '[::1]');
    assert.equal(m.topVia?.port, 5066);
    assert.equal(m.contacts[0].uri?.host, '[::1]');
  });

  test('a stream message without Content-Length is flagged', () => {
    const r = parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n'), {});
    assert.ok(r.ok && r.message.diagnostics.some((d) => d.code === 'content-length-missing'));
  });

  test('garbage is a failure with a reason, never an exception', () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from('\r\n\r\n'), Buffer.from('hello'), Buffer.from([0, 1, 2, 3, 13, 10, 13, 10]), Buffer.from('GET / HTTP/1.1\r\n\r\n')]) {
      const r = parseMessage(bytes, { datagram: true });
      if (!r.ok) assert.ok(r.error.message.length > 5);
      else assert.ok(r.message.diagnostics.some((d) => d.severity === 'error'));
    }
  });
});

describe('builder', () => {
  test('header order kept, Content-Length computed in bytes', () => {
    const m = OutgoingMessage.request('MESSAGE', 'sip:bob@127.0.0.1');
    m.append('CONTACT', '<sip:a@127.0.0.1>').append('Via', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1').append('Content-Length', '999');
    m.setBody('héllo', 'text/plain');
    const text = m.toBytes().toString('utf8');
    assert.match(text, /^MESSAGE sip:bob@127.0.0.1 SIP\/2.0\r\nCONTACT: <sip:a@127.0.0.1>\r\nVia: [^\r]+\r\nContent-Length: 6\r\nContent-Type: text\/plain\r\n\r\nhéllo$/);
  });

  test('fault injection keeps a wrong Content-Length', () => {
    const m = OutgoingMessage.request('OPTIONS', 'sip:x@127.0.0.1');
    m.append('Content-Length', '50');
    m.keepContentLength = true;
    assert.match(m.toBytes().toString(), /Content-Length: 50\r\n\r\n$/);
  });

  test('responseTo copies Via, From, To (+tag), Call-ID, CSeq and Record-Route', () => {
    const req = parse(INVITE.replace('Content-Length: 8', 'Content-Length: 10'));
    const res = responseTo(req, 180, 'Ringing', 'uas1');
    const parsed = parse(res.toBytes().toString().replace(/\r\n/g, '\n'));
    assert.equal(parsed.status, 180);
    assert.equal(parsed.toTag, 'uas1');
    assert.equal(parsed.callId, 'call-1@127.0.0.30');
    assert.deepEqual(parsed.cseq, { seq: 1, method: 'INVITE' });
    assert.equal(parsed.getAll('record-route').length, 1);
    assert.equal(parsed.topVia?.branch, 'z9hG4bKabc');
  });
});

describe('dialog', () => {
  test('UAS dialog: route set in order, in-dialog BYE with next CSeq and tags', () => {
    const req = parse(INVITE.replace('Content-Length: 8', 'Content-Length: 10'));
    const d = Dialog.asUas(req, 'uas1');
    assert.deepEqual(d.routeSet, ['<sip:127.0.0.9:5060;lr>']);
    assert.equal(d.remoteTarget, 'sip:gw@127.0.0.30:5066;transport=tcp');
    const bye = d.createRequest('BYE');
    const text = bye.toBytes().toString();
    assert.match(text, /^BYE sip:gw@127.0.0.30:5066;transport=tcp SIP\/2.0\r\nRoute: <sip:127.0.0.9:5060;lr>\r\n/);
    assert.match(text, /From: <sip:\+14255550100@127.0.0.20;user=phone>;tag=uas1/);
    assert.match(text, /To: "Gateway" <sip:\+14255550199@127.0.0.30;user=phone>;tag=gw1/);
    assert.equal(d.receiveRequest(req), false, 'a request with an old CSeq is refused');
  });

  test('UAC dialog: Record-Route reversed, strict route becomes the Request-URI', () => {
    const inv = OutgoingMessage.request('INVITE', 'sip:bob@127.0.0.1');
    inv.append('From', '<sip:alice@127.0.0.1>;tag=a1').append('To', '<sip:bob@127.0.0.1>').append('Call-ID', 'c2').append('CSeq', '7 INVITE');
    const ok = parse(`SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK2
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:bob@127.0.0.1>;tag=b1
Call-ID: c2
CSeq: 7 INVITE
Record-Route: <sip:p2.example.com>, <sip:p1.example.com;lr>
Contact: <sip:bob@127.0.0.2:5070>
Content-Length: 0

`);
    const d = Dialog.asUac(inv, ok);
    assert.deepEqual(d.routeSet, ['<sip:p1.example.com;lr>', '<sip:p2.example.com>']);
    const ack = d.createRequest('ACK');
    assert.match(ack.toBytes().toString(), /^ACK sip:bob@127.0.0.2:5070 SIP\/2.0\r\nRoute: <sip:p1.example.com;lr>\r\nRoute: <sip:p2.example.com>/);
    assert.match(ack.toBytes().toString(), /CSeq: 7 ACK/);
    const bye = d.createRequest('BYE');
    assert.match(bye.toBytes().toString(), /CSeq: 8 BYE/);
  });
});

describe('proxy helper', () => {
  const self = { transport: 'tcp' as const, sentBy: { host: '127.0.0.10', port: 5060 } };
  const flow = { transport: 'tcp' as const, local: { host: '127.0.0.10', port: 5060 }, remote: { host: '127.0.0.99', port: 40000 }, connId: 1 };

  test('forwarded copy: our Via on top with received/rport below, Max-Forwards decremented, Record-Route added', () => {
    const req = parse(INVITE.replace('Content-Length: 8', 'Content-Length: 10'));
    const out = forwardRequest(req, flow, self, { requestUri: 'sip:alice@127.0.0.50', recordRoute: true });
    const fwd = parse(out.toBytes().toString().replace(/\r\n/g, '\n'));
    assert.equal(fwd.requestUri, 'sip:alice@127.0.0.50');
    assert.equal(fwd.maxForwards, 69);
    assert.equal(fwd.vias.length, 2);
    assert.equal(fwd.vias[0].host, '127.0.0.10');
    assert.equal(fwd.vias[1].received, '127.0.0.99');
    assert.equal(fwd.vias[1].rport, 40000);
    assert.equal(fwd.getAll('record-route')[0], '<sip:127.0.0.10:5060;transport=tcp;lr>');
    // The same request coming back to us is a loop.
    const looped = validateForProxy(fwd, self);
    assert.equal(looped.ok, true, 'a changed Request-URI is not a loop (spiral)');
    const back = parse(out.toBytes().toString().replace(/\r\n/g, '\n').replace('sip:alice@127.0.0.50', 'sip:+14255550100@127.0.0.20:5068;user=phone'));
    assert.deepEqual(validateForProxy(back, self), { ok: false, status: 482, reason: 'Loop Detected' });
  });

  test('Max-Forwards 0 gets 483; the response loses our Via', () => {
    const req = parse(INVITE.replace('Max-Forwards: 70', 'Max-Forwards: 0').replace('Content-Length: 8', 'Content-Length: 10'));
    assert.deepEqual(validateForProxy(req, self), { ok: false, status: 483, reason: 'Too Many Hops' });
    const res = parse(`SIP/2.0 200 OK
Via: SIP/2.0/TCP 127.0.0.10:5060;branch=z9hG4bKx, SIP/2.0/TCP 127.0.0.30:5066;branch=z9hG4bKabc
From: <sip:a@b>;tag=1
To: <sip:c@d>;tag=2
Call-ID: x
CSeq: 1 INVITE
Content-Length: 0

`);
    const up = parse(forwardResponse(res).toBytes().toString().replace(/\r\n/g, '\n'));
    assert.equal(up.vias.length, 1);
    assert.equal(up.topVia?.branch, 'z9hG4bKabc');
  });
});

describe('stream framing', () => {
  test('split and coalesced reads, keep-alives, byte-counted bodies', () => {
    const a = Buffer.from(INVITE.replace(/\n/g, '\r\n').replace('Content-Length: 8', 'Content-Length: 11'));
    const framer = new StreamFramer();
    const items = [];
    const stream = Buffer.concat([Buffer.from('\r\n\r\n'), a, a, Buffer.from('\r\n'), a]);
    for (let i = 0; i < stream.length; i += 7) items.push(...framer.push(stream.subarray(i, i + 7)));
    const messages = items.filter((x) => x.kind === 'message');
    assert.equal(messages.length, 3);
    for (const m of messages) assert.deepEqual(m.bytes, a);
    assert.ok(items.filter((x) => x.kind === 'keepalive').length >= 2);
    assert.equal(framer.pendingBytes, 0);
  });
});

test('several Via lines are normal; several To lines are not', () => {
  const r = parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP h2;branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nTo: <sip:c@d>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n'), { datagram: true });
  assert.ok(r.ok);
  const repeated = r.message.diagnostics.filter((d) => d.code === 'header-repeated').map((d) => d.message);
  assert.deepEqual(repeated, ['To appears 2 times but allows one value']);
});

/** Pure parts of the transaction layer: matching keys, ACK/CANCEL construction, timer arithmetic. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutgoingMessage } from './builder.ts';
import type { SipMessage } from './message.ts';
import { parseMessage } from './parser.ts';
import { ackForNon2xx, cancelFor, describeParsedRequest, describeRequest } from './transaction-ack-cancel.ts';
import {
  ackFor2xxKey,
  clientKey,
  isRfc3261Branch,
  matchMethod,
  responseKey,
  rfc2543ServerKey,
  serverKey,
  tagOfHeaderValue,
} from './transaction-matching.ts';
import { DEFAULT_TIMERS, nextInterval, resolveTimers, timeout64, timerD, timerI, timerJ, timerK } from './transaction-timers.ts';

function parse(text: string): SipMessage {
  const r = parseMessage(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'), { datagram: true });
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.message;
}

function key(msg: SipMessage, method = matchMethod(msg.method)): string {
  return serverKey(msg, msg.topVia!, method);
}

/** RFC 4475 §3.2.1. */
const BADBRANCH = `OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK
Accept: application/sdp
Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n
CSeq: 8 OPTIONS
l: 0

`;

const INVITE = `INVITE sip:bob@127.0.0.2 SIP/2.0
Via: SIP/2.0/UDP PC33.example.com:5066;branch=z9hG4bKnashds8;rport
Via: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKbelow
Max-Forwards: 70
To: <sip:bob@127.0.0.2>
From: <sip:alice@127.0.0.1>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Content-Length: 0

`;

describe('server transaction keys (RFC 3261 §17.2.3)', () => {
  test('the magic cookie alone is no RFC 3261 branch', () => {
    assert.equal(isRfc3261Branch('z9hG4bK'), false);
    assert.equal(isRfc3261Branch('z9hG4bK1'), true);
    assert.equal(isRfc3261Branch('1234'), false);
    assert.equal(isRfc3261Branch(null), false);
  });

  test('RFC 4475 badbranch: a retransmission has the same RFC 2543 key; another CSeq or Call-ID another key', () => {
    const a = parse(BADBRANCH);
    const b = parse(BADBRANCH);
    assert.ok(key(a).startsWith('2543\n'));
    assert.equal(key(a), key(b));
    assert.notEqual(key(a), key(parse(BADBRANCH.replace('CSeq: 8', 'CSeq: 9'))));
    assert.notEqual(key(a), key(parse(BADBRANCH.replace('badbranch.', 'other.'))));
    assert.notEqual(key(a), key(parse(BADBRANCH.replace(';tag=33242', ';tag=1'))));
  });

  test('ACK (same branch) matches the INVITE; CANCEL has a key of its own but finds the INVITE under INVITE', () => {
    const invite = parse(INVITE);
    const ack = parse(INVITE.replace('INVITE sip:', 'ACK sip:').replace('314159 INVITE', '314159 ACK').replace('<sip:bob@127.0.0.2>', '<sip:bob@127.0.0.2>;tag=x'));
    const cancel = parse(INVITE.replace('INVITE sip:', 'CANCEL sip:').replace('314159 INVITE', '314159 CANCEL'));
    assert.equal(key(ack), key(invite));
    assert.notEqual(key(cancel), key(invite));
    assert.equal(serverKey(cancel, cancel.topVia!, 'INVITE'), key(invite));
    // sent-by takes part (host case-insensitive); a different port is another transaction.
    assert.equal(key(parse(INVITE.replace('PC33.example.com', 'pc33.EXAMPLE.com'))), key(invite));
    assert.notEqual(key(parse(INVITE.replace(':5066', ':5067'))), key(invite));
  });

  test('RFC 2543 ACK: matched with the To tag of the response, not the INVITE\'s', () => {
    const invite = parse(INVITE.replace(';branch=z9hG4bKnashds8', ''));
    const ack = parse(
      INVITE.replace(';branch=z9hG4bKnashds8', '')
        .replace('INVITE sip:', 'ACK sip:')
        .replace('314159 INVITE', '314159 ACK')
        .replace('<sip:bob@127.0.0.2>', '<sip:bob@127.0.0.2>;tag=resp486'),
    );
    assert.notEqual(key(ack), key(invite));
    assert.equal(key(ack), rfc2543ServerKey(invite, invite.topVia!, 'INVITE', 'resp486'));
  });

  test('ACK of a 2xx: recognised by Call-ID, tags and CSeq number', () => {
    const ack = parse(INVITE.replace('INVITE sip:', 'ACK sip:').replace('314159 INVITE', '314159 ACK').replace('<sip:bob@127.0.0.2>', '<sip:bob@127.0.0.2>;tag=uas'));
    assert.equal(ackFor2xxKey(ack.callId, ack.fromTag, ack.toTag, String(ack.cseq?.seq)), ackFor2xxKey('a84b4c76e66710', '1928301774', 'uas', '314159'));
  });
});

describe('client transaction keys (RFC 3261 §17.1.3)', () => {
  test('branch and CSeq method', () => {
    const res = parse(`SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;received=127.0.0.1
CSeq: 1 INVITE
Call-ID: x
Content-Length: 0

`);
    assert.equal(responseKey(res), clientKey('z9hG4bKabc', 'INVITE'));
    const cancel = parse(`SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc
CSeq: 1 CANCEL
Content-Length: 0

`);
    assert.notEqual(responseKey(cancel), responseKey(res));
    assert.equal(responseKey(parse('SIP/2.0 200 OK\nContent-Length: 0\n\n')), null);
  });

  test('tags of From/To values we built: header parameters only', () => {
    assert.equal(tagOfHeaderValue('<sip:a@b;tag=uri>;tag=hdr'), 'hdr');
    assert.equal(tagOfHeaderValue('"A" <sip:a@b;tag=uri>'), null);
    assert.equal(tagOfHeaderValue('sip:a@b;tag=z'), 'z');
    assert.equal(tagOfHeaderValue('<sip:a@b> ; TAG = t1 ;x=y'), 't1');
    assert.equal(tagOfHeaderValue(undefined), null);
  });
});

describe('ACK for non-2xx (§17.1.1.3) and CANCEL (§9.1)', () => {
  const req = OutgoingMessage.request('INVITE', 'sip:+14255550100@127.0.0.2;user=phone')
    .append('v', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtop;rport, SIP/2.0/UDP 127.0.0.5;branch=z9hG4bKlow')
    .append('Route', '<sip:127.0.0.7;lr>')
    .append('Max-Forwards', '70')
    .append('f', '<sip:a@127.0.0.1>;tag=ft')
    .append('t', '<sip:+14255550100@127.0.0.2;user=phone>')
    .append('i', 'cid-1')
    .append('CSeq', '  42 INVITE')
    .append('Route', '<sip:127.0.0.8;lr>');
  const original = describeRequest(req);

  test('one pass over the headers, compact forms included', () => {
    assert.equal(original.topVia, 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtop;rport');
    assert.equal(original.callId, 'cid-1');
    assert.equal(original.cseq, '42');
    assert.equal(original.cseqMethod, 'INVITE');
    assert.deepEqual(original.routes, ['<sip:127.0.0.7;lr>', '<sip:127.0.0.8;lr>']);
    assert.ok(original.hadVia);
    const parsed = describeParsedRequest(parse(req.toBytes().toString('latin1')));
    assert.deepEqual({ ...parsed, cseq: parsed.cseq }, original);
  });

  test('ACK: To of the response, one Via (the top one), the Routes, CSeq number with ACK', () => {
    const res = parse(`SIP/2.0 486 Busy Here
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtop;rport=5060;received=127.0.0.1
From: <sip:a@127.0.0.1>;tag=ft
To: <sip:+14255550100@127.0.0.2;user=phone>;tag=busy
Call-ID: cid-1
CSeq: 42 INVITE
Content-Length: 0

`);
    const ack = parse(ackForNon2xx(original, res).toBytes().toString('latin1'));
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.requestUri, req.requestUri);
    assert.deepEqual(ack.getAll('via'), [original.topVia]);
    assert.deepEqual(ack.getAll('route'), original.routes);
    assert.equal(ack.toTag, 'busy');
    assert.equal(ack.fromTag, 'ft');
    assert.equal(ack.callId, 'cid-1');
    assert.equal(ack.get('cseq'), '42 ACK');
    assert.equal(ack.maxForwards, 70);
  });

  test('CANCEL: the To of the request (no tag), same branch, CSeq number with CANCEL', () => {
    const cancel = parse(cancelFor(original).toBytes().toString('latin1'));
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.toTag, null);
    assert.equal(cancel.topVia?.branch, 'z9hG4bKtop');
    assert.equal(cancel.vias.length, 1);
    assert.equal(cancel.get('cseq'), '42 CANCEL');
    assert.deepEqual(cancel.getAll('route'), original.routes);
  });
});

describe('timers', () => {
  test('defaults and derived values (RFC 3261 Appendix A, RFC 6026)', () => {
    const t = resolveTimers(undefined);
    assert.deepEqual(t, DEFAULT_TIMERS);
    assert.equal(timeout64(t), 32_000);
    assert.deepEqual([timerD(t, false), timerD(t, true)], [32_000, 0]);
    assert.deepEqual([timerI(t, false), timerI(t, true)], [5000, 0]);
    assert.deepEqual([timerJ(t, false), timerJ(t, true)], [32_000, 0]);
    assert.deepEqual([timerK(t, false), timerK(t, true)], [5000, 0]);
    assert.throws(() => resolveTimers({ t1: -1 }), RangeError);
    assert.throws(() => resolveTimers({ t1: 0 }), RangeError);
    assert.throws(() => resolveTimers({ t2: Number.NaN }), RangeError);
  });

  test('A doubles without a cap; E and G double up to T2', () => {
    const a: number[] = [500];
    const e: number[] = [500];
    for (let i = 0; i < 6; i++) {
      a.push(nextInterval(a[a.length - 1], null));
      e.push(nextInterval(e[e.length - 1], 4000));
    }
    assert.deepEqual(a, [500, 1000, 2000, 4000, 8000, 16000, 32000]);
    assert.deepEqual(e, [500, 1000, 2000, 4000, 4000, 4000, 4000]);
  });
});

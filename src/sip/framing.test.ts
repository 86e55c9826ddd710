/**
 * StreamFramer (RFC 3261 §18.3 framing on TCP/TLS, RFC 5626 keep-alives):
 * split and coalesced reads, Content-Length in bytes, compact form, limits.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import { announcedBodyLength, type FramedItem, StreamFramer } from './framing.ts';

function msg(body = '', extraHeaders = '', clName = 'Content-Length'): Buffer {
  const b = Buffer.from(body, 'utf8');
  return Buffer.concat([
    Buffer.from(
      'MESSAGE sip:x@example.net SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n' +
        'From: <sip:a@example.net>;tag=1\r\nTo: <sip:x@example.net>\r\nCall-ID: f1\r\nCSeq: 1 MESSAGE\r\n' +
        extraHeaders +
        `${clName}: ${b.length}\r\n\r\n`,
    ),
    b,
  ]);
}

function summary(items: FramedItem[]): Array<[string, string]> {
  return items.map((i) => [i.kind, i.bytes.toString('latin1')]);
}

/** Feeds `input` cut at `cuts` and returns every item. */
function feed(input: Buffer, cuts: number[], framer = new StreamFramer()): FramedItem[] {
  const out: FramedItem[] = [];
  let prev = 0;
  for (const c of [...cuts, input.length]) {
    out.push(...framer.push(input.subarray(prev, c)));
    prev = c;
  }
  return out;
}

/** Merges adjacent keep-alive items (their split depends on read boundaries). */
function normalize(items: FramedItem[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of summary(items)) {
    const last = out[out.length - 1];
    if (k === 'keepalive' && last?.[0] === 'keepalive') last[1] += v;
    else out.push([k, v]);
  }
  return out;
}

describe('StreamFramer', () => {
  const body = 'Grüße 你好 😀';

  test('Content-Length counts bytes, not characters', () => {
    const m = msg(body);
    assert.notEqual(Buffer.byteLength(body), body.length);
    const items = new StreamFramer().push(m);
    assert.equal(items.length, 1);
    assert.equal(items[0].kind, 'message');
    assert.deepEqual(items[0].bytes, m);
  });

  test('a message cut at every possible place is framed once, identically', () => {
    const m = msg(body);
    for (let cut = 1; cut < m.length; cut++) {
      const f = new StreamFramer();
      const items = feed(m, [cut], f);
      assert.deepEqual(summary(items), [['message', m.toString('latin1')]], `cut at ${cut}`);
      assert.equal(f.pendingBytes, 0);
    }
  });

  test('one byte at a time', () => {
    const m = msg(body);
    const f = new StreamFramer();
    const items: FramedItem[] = [];
    for (let i = 0; i < m.length; i++) {
      items.push(...f.push(m.subarray(i, i + 1)));
      if (i < m.length - 1) assert.equal(items.length, 0);
    }
    assert.deepEqual(summary(items), [['message', m.toString('latin1')]]);
  });

  test('coalesced messages and keep-alives in one read, in order', () => {
    const m1 = msg(body);
    const m2 = msg();
    const m3 = msg('\r\n\r\nbody that looks like an empty line');
    const input = Buffer.concat([Buffer.from('\r\n\r\n'), m1, Buffer.from('\r\n'), m2, m3, Buffer.from('\r\n')]);
    assert.deepEqual(summary(new StreamFramer().push(input)), [
      ['keepalive', '\r\n\r\n'],
      ['message', m1.toString('latin1')],
      ['keepalive', '\r\n'],
      ['message', m2.toString('latin1')],
      ['message', m3.toString('latin1')],
      ['keepalive', '\r\n'],
    ]);
  });

  test('random read boundaries give the same stream of items', () => {
    const input = Buffer.concat([msg(body), Buffer.from('\r\n\r\n'), msg(), msg('x'.repeat(3000)), Buffer.from('\r\n'), msg(body, 'Subject: hi\r\n', 'l')]);
    const expected = normalize(new StreamFramer().push(input));
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const cuts = Array.from({ length: 1 + rand(12) }, () => rand(input.length)).sort((a, b) => a - b);
      assert.deepEqual(normalize(feed(input, cuts)), expected, `cuts ${cuts.join(',')}`);
    }
  });

  test('compact and oddly cased Content-Length', () => {
    for (const name of ['l', 'L', 'content-length', 'CONTENT-LENGTH', 'Content-Length ']) {
      const m = msg('hello', '', name);
      assert.deepEqual(summary(new StreamFramer().push(Buffer.concat([m, m]))), [
        ['message', m.toString('latin1')],
        ['message', m.toString('latin1')],
      ], name);
    }
  });

  test('no Content-Length: the message ends with the header section', () => {
    const head = 'OPTIONS sip:x@y SIP/2.0\r\nCall-ID: 1\r\n\r\n';
    assert.deepEqual(summary(new StreamFramer().push(Buffer.from(`${head}${head}`))), [
      ['message', head],
      ['message', head],
    ]);
  });

  test('bare-LF header section', () => {
    const m = 'OPTIONS sip:x@y SIP/2.0\nCall-ID: 1\nContent-Length: 4\n\nbody';
    assert.deepEqual(summary(new StreamFramer().push(Buffer.from(m + m))), [
      ['message', m],
      ['message', m],
    ]);
  });

  test('a header section beyond the limit is garbage; framing resumes after it', () => {
    const f = new StreamFramer({ maxHeaderBytes: 1024 });
    const junk = Buffer.from(`INVITE sip:x@y SIP/2.0\r\nX: ${'a'.repeat(2000)}`);
    const items = f.push(junk);
    assert.equal(items.length, 1);
    assert.equal(items[0].kind, 'garbage');
    assert.match((items[0] as { reason: string }).reason, /no end of header section within 1024 bytes/);
    assert.equal(f.pendingBytes, 0);
    const m = msg('ok');
    assert.deepEqual(summary(f.push(m)), [['message', m.toString('latin1')]]);
  });

  test('a Content-Length beyond the body limit is passed as a bodiless message (the parser explains it)', () => {
    const f = new StreamFramer({ maxBodyBytes: 100 });
    const m = msg('y'.repeat(200));
    const items = f.push(m);
    assert.equal(items[0].kind, 'message');
    assert.equal(items[0].bytes.length, m.length - 200);
  });

  test('flush returns an incomplete message once', () => {
    const f = new StreamFramer();
    const m = msg(body);
    assert.deepEqual(f.push(m.subarray(0, 50)), []);
    assert.equal(f.pendingBytes, 50);
    assert.deepEqual(f.flush(), m.subarray(0, 50));
    assert.equal(f.flush(), null);
    assert.equal(f.pendingBytes, 0);
  });

  test('framed bytes do not alias the input chunk', () => {
    const m = msg('abc');
    const chunk = Buffer.from(m);
    const items = new StreamFramer().push(chunk);
    chunk.fill(0);
    assert.deepEqual(items[0].bytes, m);
  });
});

describe('announcedBodyLength (the Content-Length the framer reads, from the bytes)', () => {
  const len = (s: string, max?: number): number => announcedBodyLength(Buffer.from(s, 'latin1'), 0, s.length, max);

  test('long and compact names in any case, blanks around the colon, the first one wins', () => {
    assert.equal(len('INVITE x SIP/2.0\r\nContent-Length: 12'), 12);
    assert.equal(len('INVITE x SIP/2.0\r\ncontent-length:7'), 7);
    assert.equal(len('INVITE x SIP/2.0\r\nCONTENT-LENGTH \t: 3'), 3);
    assert.equal(len('INVITE x SIP/2.0\r\nl: 5\r\nContent-Length: 9'), 5);
    assert.equal(len('INVITE x SIP/2.0\r\nLocation: x\r\nContent-Length: 9'), 9);
    assert.equal(len('INVITE x SIP/2.0\nContent-Length: 4'), 4, 'bare LF line ends');
  });

  test('unusable values count as 0 (the parser explains the message)', () => {
    assert.equal(len('INVITE x SIP/2.0\r\nContent-Length: 12abc'), 0);
    assert.equal(len('INVITE x SIP/2.0\r\nContent-Length: 99999999999'), 0);
    assert.equal(len('INVITE x SIP/2.0\r\nContent-Length: 101', 100), 0, 'above the limit');
    assert.equal(len('INVITE x SIP/2.0\r\nContent-Length: -1'), 0);
    assert.equal(len('INVITE x SIP/2.0\r\nContent-Length-X: 4\r\nVia: y'), 0);
    assert.equal(len('INVITE x SIP/2.0\r\nVia: y'), 0);
  });

  test('views: whole messages of a chunk are views of it, a message split over chunks is joined', () => {
    const two = Buffer.concat([msg('hello'), msg('world')]);
    const items = new StreamFramer({ views: true }).push(two);
    assert.deepEqual(summary(items), [
      ['message', msg('hello').toString('latin1')],
      ['message', msg('world').toString('latin1')],
    ]);
    assert.equal(items[0].bytes.buffer, two.buffer);
    assert.equal(items[1].bytes.byteOffset, two.byteOffset + msg('hello').length);
    const copies = new StreamFramer().push(two);
    assert.deepEqual(normalize(feed(two, [7, 100], new StreamFramer({ views: true }))), summary(copies));
    two[0] = 0x58; // the caller changes its bytes after all (it said it would not)
    assert.equal(items[0].bytes[0], 0x58, 'a view sees it');
    assert.equal(copies[0].bytes[0], 0x4d, 'without views every item is a copy of its own');
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAnswer, buildOffer, checkAnswer, PCMU, reoffer, summarize } from './offer-answer.ts';

test('a Mediation Server offer looks like one: s=session, b=CT:1000, 8 0 101, fmtp 0-16', () => {
  const sdp = buildOffer({ address: '127.0.0.20', port: 50000, mediationStyle: true });
  assert.match(sdp, /\r\ns=session\r\n/);
  assert.match(sdp, /\r\nb=CT:1000\r\n/);
  assert.match(sdp, /\r\nm=audio 50000 RTP\/AVP 8 0 101\r\n/);
  assert.match(sdp, /\r\na=fmtp:101 0-16\r\n/);
  const s = summarize(sdp);
  assert.equal(s.media[0].telephoneEvent, 101);
  assert.deepEqual(s.media[0].codecs.map((c) => c.name), ['PCMA', 'PCMU']);
});

test('answer picks a supported codec, mirrors the direction, keeps one m-line per offered one', () => {
  const offer = buildOffer({ address: '127.0.0.20', port: 50000 }).replace('a=sendrecv', 'a=sendrecv\r\nm=video 5000 RTP/AVP 31');
  const ans = buildAnswer(offer, { address: '127.0.0.30', port: 40000, supported: [PCMU] });
  assert.ok(ans.ok);
  assert.equal(ans.codec.name, 'PCMU');
  assert.equal(summarize(ans.sdp).media.length, 2);
  assert.deepEqual(checkAnswer(offer, ans.sdp), []);
});

test('hold: inactive answered inactive properly, sendrecv by a misbehaving peer is flagged', () => {
  const offer = buildOffer({ address: '127.0.0.20', port: 50000 });
  const hold = reoffer(offer, 'inactive');
  assert.equal(summarize(hold).origin.sessionVersion, 2);
  const good = buildAnswer(hold, { address: '127.0.0.30', port: 40000 });
  assert.ok(good.ok && good.direction === 'inactive');
  assert.deepEqual(checkAnswer(hold, good.sdp), []);
  const bad = buildAnswer(hold, { address: '127.0.0.30', port: 40000, holdStyle: 'sendrecv' });
  assert.ok(bad.ok);
  assert.equal(checkAnswer(hold, bad.sdp)[0].code, 'sdp-hold-answered-active');
});

test('no common codec gives 488; codecs not offered are flagged', () => {
  const offer = buildOffer({ address: '127.0.0.20', port: 50000, codecs: [PCMU] });
  const res = buildAnswer(offer, { address: '127.0.0.30', port: 40000, supported: [{ payload: 18, name: 'G729', rate: 8000 }] });
  assert.equal(res.ok, false);
  const answer = buildOffer({ address: '127.0.0.30', port: 40000, codecs: [{ payload: 18, name: 'G729', rate: 8000 }] });
  assert.equal(checkAnswer(offer, answer).some((p) => p.code === 'sdp-codec-not-offered'), true);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DtmfReceiver, type ReceivedDigit } from './dtmf-receiver.ts';
import type { RtpPacket } from './rtp-packet.ts';
import { dtmfSchedule, dtmfSendTimeMs, resolveDtmfOptions, type ScheduledEventPacket, type TelephoneEvent } from './telephone-event.ts';

const row = (p: ScheduledEventPacket): string => `${p.atMs} ${p.digit} M${p.marker ? 1 : 0} ts+${p.timestampOffset} E${p.event.end ? 1 : 0} d${p.event.duration} v${p.event.volume}`;

test('sender schedule: marker on the first packet, one timestamp per event, updates every 50 ms, three end packets, pause between digits', () => {
  // A 100 ms tone at 8 kHz: updates at 0 and 50 ms (duration 400, 800), the end (E, 800) three times, next digit 100 ms after the tone.
  assert.deepEqual(dtmfSchedule('1#').map(row), [
    '0 1 M1 ts+0 E0 d400 v10',
    '50 1 M0 ts+0 E0 d800 v10',
    '100 1 M0 ts+0 E1 d800 v10',
    '120 1 M0 ts+0 E1 d800 v10',
    '140 1 M0 ts+0 E1 d800 v10',
    '200 # M1 ts+1600 E0 d400 v10',
    '250 # M0 ts+1600 E0 d800 v10',
    '300 # M0 ts+1600 E1 d800 v10',
    '320 # M0 ts+1600 E1 d800 v10',
    '340 # M0 ts+1600 E1 d800 v10',
  ]);
  // Configurable: a 160 ms tone with 40 ms updates, 5 end packets 10 ms apart, volume 6, lower-case d.
  assert.deepEqual(dtmfSchedule('d', { toneMs: 160, updateMs: 40, endPackets: 5, endRepeatMs: 10, volume: 6 }).map(row), [
    '0 D M1 ts+0 E0 d320 v6',
    '40 D M0 ts+0 E0 d640 v6',
    '80 D M0 ts+0 E0 d960 v6',
    '120 D M0 ts+0 E0 d1280 v6',
    '160 D M0 ts+0 E1 d1280 v6',
    '170 D M0 ts+0 E1 d1280 v6',
    '180 D M0 ts+0 E1 d1280 v6',
    '190 D M0 ts+0 E1 d1280 v6',
    '200 D M0 ts+0 E1 d1280 v6',
  ]);
  // A tone that is not a multiple of the update interval: the last update reports the whole tone.
  assert.deepEqual(dtmfSchedule('5', { toneMs: 70 }).filter((p) => !p.event.end).map((p) => p.event.duration), [400, 560]);
  assert.equal(dtmfSendTimeMs('123#'), 3 * 200 + 140);
  assert.throws(() => dtmfSchedule('12x'), /not DTMF digits/);
  assert.throws(() => resolveDtmfOptions({ toneMs: 9000 }), /16-bit duration/);
  assert.throws(() => resolveDtmfOptions({ pauseMs: 10 }), /must fit in the 10 ms pause/);
});

/** Feeds a schedule to a receiver as packets (optionally dropping or duplicating some). */
function feed(receiver: DtmfReceiver, schedule: ScheduledEventPacket[], options: { drop?: (i: number) => boolean; ssrc?: number; base?: number; seq?: number } = {}): number {
  let seq = options.seq ?? 1000;
  let at = 0;
  schedule.forEach((p, i) => {
    seq++;
    at = p.atMs;
    if (options.drop?.(i)) return;
    const packet: RtpPacket = {
      padding: 0,
      marker: p.marker,
      payloadType: 101,
      sequenceNumber: seq & 0xffff,
      timestamp: (options.base ?? 5000) + p.timestampOffset,
      ssrc: options.ssrc ?? 42,
      csrc: [],
      extension: null,
      payload: new Uint8Array(4),
    };
    const event: TelephoneEvent = p.event;
    receiver.push(packet, [event], at);
  });
  return at;
}

test('receiver: one digit per event, retransmitted end packets are not new digits, by end packet', () => {
  const got: ReceivedDigit[] = [];
  const r = new DtmfReceiver({ onDigit: (d) => got.push(d) });
  feed(r, dtmfSchedule('123#'));
  assert.deepEqual(got.map((d) => d.digit).join(''), '123#');
  assert.ok(got.every((d) => d.endedBy === 'end-packet' && d.durationMs === 100 && d.volume === 10 && d.startSeen && d.packets === 3));
  assert.deepEqual(got.map((d) => d.rtpTimestamp), [5000, 6600, 8200, 9800]);
  assert.deepEqual(got.map((d) => d.reportedAtMs), [100, 300, 500, 700], 'each digit as its first end packet arrives');
  assert.equal(r.duplicates, 8, 'two copies of each end packet');
  assert.equal(r.pending, false);
});

test('receiver: the same end packet repeated with one sequence number (as SIPp records them) is one digit', () => {
  const got: string[] = [];
  const r = new DtmfReceiver({ onDigit: (d) => got.push(d.digit) });
  const schedule = dtmfSchedule('9');
  feed(r, schedule, { seq: 7 });
  feed(r, schedule.filter((p) => p.event.end), { seq: 7 });
  assert.deepEqual(got, ['9']);
});

test('receiver tolerates loss: lost starts, lost ends (next event or silence), a lost middle digit start', () => {
  const got: ReceivedDigit[] = [];
  const r = new DtmfReceiver({ onDigit: (d) => got.push(d), staleMs: 300 });
  const s = dtmfSchedule('456');
  // Digit 4 loses its first two packets (only end packets arrive); digit 5 loses all three end packets; 6 is whole.
  feed(r, s, { drop: (i) => i === 0 || i === 1 || (i >= 7 && i <= 9) });
  assert.deepEqual(got.map((d) => `${d.digit}:${d.endedBy}:${d.startSeen}`), ['4:end-packet:false', '5:next-event:true', '6:end-packet:true']);
  got.length = 0;
  // A last digit whose end packets are all lost is reported after the silence.
  const last = feed(r, dtmfSchedule('7'), { base: 90_000, drop: (i) => i >= 2 });
  r.checkStale(last + 100);
  assert.equal(got.length, 0, 'not yet: still within staleMs of its last packet');
  assert.equal(r.staleAtMs(), 50 + 300);
  r.checkStale(50 + 300);
  assert.deepEqual(got.map((d) => `${d.digit}:${d.endedBy}:${d.durationMs}`), ['7:silence:100']);
  // flush() reports what is open when the stream closes.
  feed(r, dtmfSchedule('8'), { base: 99_000, drop: (i) => i >= 1 });
  r.flush(1000);
  assert.equal(got.at(-1)?.digit, '8');
  assert.equal(got.at(-1)?.endedBy, 'flush');
  assert.equal(got.at(-1)?.durationMs, 50);
});

test('receiver: two sources are two streams; a late copy of a reported event is a duplicate', () => {
  const got: string[] = [];
  const r = new DtmfReceiver({ onDigit: (d) => got.push(`${d.ssrc}:${d.digit}`) });
  feed(r, dtmfSchedule('1'), { ssrc: 1 });
  feed(r, dtmfSchedule('1'), { ssrc: 2 });
  const before = r.duplicates;
  feed(r, dtmfSchedule('1').slice(0, 1), { ssrc: 1 });
  assert.deepEqual(got, ['1:1', '2:1']);
  assert.equal(r.duplicates, before + 1);
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  advance,
  FIXED_STEP_MS,
  formatOffset,
  MAX_GAP_US,
  MAX_LAG_MS,
  type PlaybackSpeed,
  parseSpeed,
  positionText,
  SPEEDS,
  speedLabel,
  stepDelayMs,
  stepPosition,
} from './playback.ts';

/** Plays `times` (µs) from position 0 at `speed`, waking exactly when advance() says: the wall time (ms) each position was shown. */
function play(times: number[], speed: PlaybackSpeed): number[] {
  const shown = [0];
  let clock = { position: 0, since: 0 };
  let now = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const r = advance(clock, now, times.length, speed, (p) => times[p]);
    for (let p = clock.position + 1; p <= r.position; p++) shown.push(now);
    clock = { position: r.position, since: r.since };
    if (r.state === 'ended') return shown;
    assert.equal(r.state, 'waiting');
    if (r.state === 'waiting') now += r.dueInMs;
  }
  throw new Error('the play did not end');
}

describe('playback timing', () => {
  it('real time divides the gaps by the speed and caps long gaps', () => {
    assert.equal(stepDelayMs(10_000, 1), 10);
    assert.equal(stepDelayMs(10_000, 2), 5);
    assert.equal(stepDelayMs(10_000, 0.5), 20);
    assert.equal(stepDelayMs(3_600_000_000, 1), MAX_GAP_US / 1000);
    assert.equal(stepDelayMs(3_600_000_000, 10), MAX_GAP_US / 1000 / 10);
    assert.equal(stepDelayMs(-5_000, 1), 0, 'out of order: no wait');
    assert.equal(stepDelayMs(0, 'fixed'), FIXED_STEP_MS);
    assert.equal(stepDelayMs(3_600_000_000, 'fixed'), FIXED_STEP_MS);
  });

  it('plays a flow on the schedule of its timestamps', () => {
    // INVITE, 100 after 10 ms, 180 after 3 s (capped to 1 s), 200 half a second later.
    const times = [0, 10_000, 3_010_000, 3_510_000];
    assert.deepEqual(play(times, 1), [0, 10, 1010, 1510]);
    assert.deepEqual(play(times, 2), [0, 5, 505, 755]);
    assert.deepEqual(play(times, 'fixed'), [0, 250, 500, 750]);
  });

  it('passes a burst sent together in one step and waits for the next message', () => {
    const times = [0, 0, 0, 0, 400_000];
    const r = advance({ position: 0, since: 0 }, 0, times.length, 1, (p) => times[p]);
    assert.deepEqual(r, { state: 'waiting', position: 3, since: 0, dueInMs: 400 });
  });

  it('ends on the last message and does not step past it', () => {
    const times = [0, 1000];
    assert.equal(advance({ position: 1, since: 0 }, 5000, 2, 1, (p) => times[p]).state, 'ended');
    assert.deepEqual(advance({ position: 0, since: 0 }, 5000, 2, 1, (p) => times[p]), { state: 'ended', position: 1, since: 4750 });
    assert.deepEqual(advance({ position: 0, since: 0 }, 0, 1, 1, () => 0), { state: 'ended', position: 0, since: 0 });
  });

  it('asks for the row whose time it does not know yet', () => {
    const times = [0, 1000, 2000];
    const known = (p: number): number | undefined => (p < 2 ? times[p] : undefined);
    assert.deepEqual(advance({ position: 0, since: 0 }, 100, 3, 1, known), { state: 'need-row', position: 1, since: 1, need: 2 });
    assert.deepEqual(advance({ position: 5, since: 0 }, 100, 9, 1, known), { state: 'need-row', position: 5, since: 0, need: 5 });
  });

  it('after a stall it catches up at most MAX_LAG_MS of the flow at once', () => {
    // One message every 100 ms; the page was busy for 5 s.
    const times = Array.from({ length: 100 }, (_, i) => i * 100_000);
    const r = advance({ position: 0, since: 0 }, 5000, times.length, 1, (p) => times[p]);
    assert.equal(r.state, 'waiting');
    // Positions 1…3 were due within the allowed lag of the stall's end: shown; the rest plays on from there.
    assert.ok(r.position >= 1 && r.position <= 1 + MAX_LAG_MS / 100, `position ${r.position}`);
    if (r.state === 'waiting') assert.ok(r.dueInMs > 0 && r.dueInMs <= 100);
  });
});

describe('playback position', () => {
  it('steps inside the view', () => {
    assert.equal(stepPosition(null, 1, 10), 0, 'the first step forward shows the first message');
    assert.equal(stepPosition(null, -1, 10), 9, 'the first step back shows the last one');
    assert.equal(stepPosition(3, 1, 10), 4);
    assert.equal(stepPosition(9, 1, 10), 9, 'past the end stays on the last');
    assert.equal(stepPosition(0, -1, 10), 0);
    assert.equal(stepPosition(12, 0, 10), 9, 'a view that shrank');
    assert.equal(stepPosition(null, 1, 0), null);
  });

  it('reads as text', () => {
    assert.equal(positionText(11, 340, 1_234_000), 'message 12 of 340, +1.234 s');
    assert.equal(positionText(0, 1_000_000), 'message 1 of 1,000,000');
    assert.equal(positionText(null, 340), '340 messages, none played');
    assert.equal(positionText(null, 0), 'no messages');
    assert.equal(formatOffset(0), '+0.000 s');
    assert.equal(formatOffset(59_999_400), '+59.999 s');
    assert.equal(formatOffset(125_120_000), '+2:05.120');
    assert.equal(formatOffset(3_725_120_000), '+1:02:05.120');
    assert.equal(formatOffset(-1_500_000), '−1.500 s');
  });

  it('names the speeds and reads them back', () => {
    for (const s of SPEEDS) assert.equal(parseSpeed(String(s)), s);
    assert.equal(speedLabel(2), '2×');
    assert.equal(speedLabel('fixed'), `1 per ${FIXED_STEP_MS} ms`);
    assert.equal(parseSpeed('3'), null);
    assert.equal(parseSpeed(''), null);
  });
});

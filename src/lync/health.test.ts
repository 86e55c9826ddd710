import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HealthSettings, HealthProber, type HealthTransition, PeerHealth, type Timers } from './health.ts';
import { DEFAULT_TRUNK_CONFIGURATION } from './trunk-configuration.ts';

const settings: HealthSettings = {
  optionsIntervalMs: 1000,
  failuresBeforeDown: 3,
  successesBeforeUp: 1,
  downProbeIntervalMs: 5000,
  healthyOptionsResponse: '2xx',
};

/** Sends a probe at `at` and reports `status` (null = unanswered) `after` ms later. */
function probe(health: PeerHealth, at: number, status: number | null, after = 10): HealthTransition | null {
  health.probeSent(at);
  return status === null ? health.probeUnanswered(at + after) : health.probeAnswered(status, at + after);
}

describe('PeerHealth', () => {
  test('defaults come from the trunk configuration (field values: 5 failures, 60 s probes)', () => {
    assert.equal(DEFAULT_TRUNK_CONFIGURATION.failuresBeforeDown, 5);
    assert.equal(DEFAULT_TRUNK_CONFIGURATION.downProbeIntervalMs, 60_000);
    assert.equal(DEFAULT_TRUNK_CONFIGURATION.successesBeforeUp, 1);
    const health = new PeerHealth(DEFAULT_TRUNK_CONFIGURATION, 0);
    for (let i = 0; i < 4; i += 1) assert.equal(probe(health, i * 60_000, null), null);
    assert.equal(probe(health, 4 * 60_000, null)?.to, 'down');
  });

  test('starts up with a probe due at once; the next is due one interval after sending', () => {
    const health = new PeerHealth(settings, 100);
    assert.equal(health.state, 'up');
    assert.ok(health.isProbeDue(100));
    health.probeSent(100);
    assert.equal(health.nextProbeAt, 1100);
    assert.ok(health.probeInFlight);
    assert.ok(!health.isProbeDue(5000), 'not while a probe is outstanding');
    health.probeAnswered(200, 120);
    assert.ok(!health.isProbeDue(1099));
    assert.ok(health.isProbeDue(1100));
  });

  test('up → down after N consecutive unanswered OPTIONS', () => {
    const health = new PeerHealth(settings, 0);
    assert.equal(probe(health, 0, null), null);
    assert.equal(probe(health, 1000, null), null);
    assert.equal(health.consecutiveFailures, 2);
    const transition = probe(health, 2000, null);
    assert.deepEqual(transition, {
      from: 'up',
      to: 'down',
      at: 2010,
      reason: '3 probes failed, last: OPTIONS unanswered',
    });
    assert.ok(health.isDown);
    assert.equal(health.nextProbeAt, 2010 + 5000, 'probed at the down interval from now on');
  });

  test('an answered probe resets the count', () => {
    const health = new PeerHealth(settings, 0);
    probe(health, 0, null);
    probe(health, 1000, null);
    probe(health, 2000, 200);
    assert.equal(health.consecutiveFailures, 0);
    probe(health, 3000, null);
    probe(health, 4000, null);
    assert.equal(health.state, 'up');
  });

  test('while down it stays down and probes every downProbeIntervalMs; one 200 brings it up', () => {
    const health = new PeerHealth(settings, 0, 'down');
    assert.equal(probe(health, 0, null), null);
    assert.equal(health.nextProbeAt, 5000);
    assert.equal(probe(health, 5000, 503), null, 'a 503 is not alive');
    const up = probe(health, 10_000, 200);
    assert.deepEqual(up, { from: 'down', to: 'up', at: 10_010, reason: '200 to OPTIONS' });
    assert.equal(health.nextProbeAt, 11_010);
    assert.equal(health.consecutiveFailures, 0);
  });

  test('non-2xx answers count as failures, unless healthyOptionsResponse is "any"', () => {
    const strict = new PeerHealth(settings, 0);
    probe(strict, 0, 404);
    probe(strict, 1000, 405);
    assert.equal(probe(strict, 2000, 503)?.reason, '3 probes failed, last: 503 to OPTIONS');
    const lenient = new PeerHealth({ ...settings, healthyOptionsResponse: 'any' }, 0);
    for (let i = 0; i < 5; i += 1) probe(lenient, i * 1000, 405);
    assert.equal(lenient.state, 'up');
    assert.equal(lenient.lastResponseStatus, 405);
  });

  test('successesBeforeUp: consecutive answers needed, a failure restarts the count', () => {
    const health = new PeerHealth({ ...settings, successesBeforeUp: 2 }, 0, 'down');
    assert.equal(probe(health, 0, 200), null);
    assert.equal(probe(health, 5000, null), null);
    assert.equal(probe(health, 10_000, 200), null);
    assert.equal(probe(health, 15_000, 200)?.to, 'up');
  });

  test('marked down and up by hand', () => {
    const health = new PeerHealth(settings, 0);
    assert.deepEqual(health.markDown(50, 'operator'), {
      from: 'up',
      to: 'down',
      at: 50,
      reason: 'marked down: operator',
    });
    assert.equal(health.markDown(60, 'again'), null);
    assert.equal(health.markUp(70, 'operator')?.to, 'up');
  });
});

/** Timers on a fake clock: `advance` fires due callbacks in time order. */
class FakeTimers implements Timers {
  time = 0;
  private queue: { at: number; id: number; callback: () => void }[] = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.queue.push({ at: this.time + delayMs, id, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== handle);
  }

  get pending(): number {
    return this.queue.length;
  }

  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      this.queue.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.queue[0];
      if (next === undefined || next.at > end) break;
      this.queue.shift();
      this.time = next.at;
      next.callback();
    }
    this.time = end;
  }
}

describe('HealthProber', () => {
  test('sends OPTIONS on schedule, reports down and up', async () => {
    const timers = new FakeTimers();
    const health = new PeerHealth(settings, 0);
    const answers: (number | null)[] = [null, null, null, null, 200, 200];
    const sent: number[] = [];
    const transitions: HealthTransition[] = [];
    const prober = new HealthProber({
      health,
      timers,
      sendOptions: async () => {
        sent.push(timers.now());
        return answers.length > 0 ? (answers.shift() as number | null) : 200;
      },
      onTransition: (t) => transitions.push(t),
    });
    prober.start();
    await timers.advance(2500);
    assert.deepEqual(sent, [0, 1000, 2000]);
    assert.deepEqual(
      transitions.map((t) => `${t.from}->${t.to}@${t.at}`),
      ['up->down@2000'],
    );
    await timers.advance(10_000);
    assert.deepEqual(sent, [0, 1000, 2000, 7000, 12_000]);
    assert.deepEqual(
      transitions.map((t) => `${t.from}->${t.to}@${t.at}`),
      ['up->down@2000', 'down->up@12000'],
    );
    await timers.advance(1000);
    assert.deepEqual(sent.slice(-1), [13_000]);
    prober.stop();
    assert.equal(timers.pending, 0);
    await timers.advance(10_000);
    assert.equal(sent.length, 6);
  });

  test('a sendOptions that throws counts as unanswered', async () => {
    const timers = new FakeTimers();
    const health = new PeerHealth({ ...settings, failuresBeforeDown: 1 }, 0);
    const prober = new HealthProber({
      health,
      timers,
      sendOptions: async () => {
        throw new Error('ECONNREFUSED');
      },
    });
    prober.start();
    await timers.advance(0);
    assert.equal(health.state, 'down');
    prober.stop();
  });
});

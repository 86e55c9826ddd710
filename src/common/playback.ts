/**
 * Stepping through a trace as it happened: when the next message of a ladder
 * view is due while it plays, and how the player's position reads. Pure
 * functions over plain numbers; the renderer's player (renderer/src/player.ts)
 * runs the clock and moves the selection.
 *
 * Real time follows the messages' own timestamps, with every gap capped at
 * MAX_GAP_US (a call held for minutes, the quiet between two calls of a
 * capture) so the flow keeps moving; the speed divides the gaps. The fixed
 * rate ignores timestamps: one message per FIXED_STEP_MS, for reading a flow
 * whose messages all came within a few milliseconds.
 */

/** A multiple of real time, or one message per FIXED_STEP_MS. */
export type PlaybackSpeed = 0.5 | 1 | 2 | 5 | 10 | 'fixed';
export const SPEEDS: readonly PlaybackSpeed[] = [0.5, 1, 2, 5, 10, 'fixed'];

/** The longest gap between two messages that real time plays out (µs of trace time). */
export const MAX_GAP_US = 1_000_000;
export const FIXED_STEP_MS = 250;
/**
 * How far the clock may fall behind (a busy page, rows still on their way
 * from the engine) and still catch up: beyond it the messages that were due
 * are not all shown at once, the play resumes from where it stood.
 */
export const MAX_LAG_MS = 250;

export function speedLabel(speed: PlaybackSpeed): string {
  return speed === 'fixed' ? `1 per ${FIXED_STEP_MS} ms` : `${speed}×`;
}

/** Parses what speedLabel and `String(speed)` give back (a select's value); null when it is no speed. */
export function parseSpeed(text: string): PlaybackSpeed | null {
  if (text === 'fixed') return 'fixed';
  const n = Number(text.replace(/×$/, ''));
  return (SPEEDS as readonly unknown[]).includes(n) ? (n as PlaybackSpeed) : null;
}

/**
 * Wall-clock ms between showing one message and the next, `gapUs` apart in
 * the trace. A negative gap (captures merged out of order) counts as none.
 */
export function stepDelayMs(gapUs: number, speed: PlaybackSpeed): number {
  if (speed === 'fixed') return FIXED_STEP_MS;
  const gap = Math.min(Math.max(0, gapUs), MAX_GAP_US);
  return gap / 1000 / speed;
}

/** Where a play stands: the position shown and when it was reached (ms, the caller's clock). */
export interface PlayClock {
  position: number;
  since: number;
}

export type Advance =
  /** The next message is due in `dueInMs`. */
  | { state: 'waiting'; position: number; since: number; dueInMs: number }
  /** The timestamp of position `need` is not known yet (its row is being fetched). */
  | { state: 'need-row'; position: number; since: number; need: number }
  /** The position is the view's last message: the play is over. */
  | { state: 'ended'; position: number; since: number };

/**
 * Moves the clock to `now`: past every message that is due by then, one step
 * at a time (a burst of messages sent together passes in one call).
 * `timeOf(position)` gives a message's timestamp in µs, or undefined when it
 * is not known yet; `count` is the number of messages in the view.
 */
export function advance(clock: PlayClock, now: number, count: number, speed: PlaybackSpeed, timeOf: (position: number) => number | undefined): Advance {
  let { position, since } = clock;
  for (;;) {
    if (position + 1 >= count) return { state: 'ended', position, since };
    const a = timeOf(position);
    if (a === undefined) return { state: 'need-row', position, since, need: position };
    const b = timeOf(position + 1);
    if (b === undefined) return { state: 'need-row', position, since, need: position + 1 };
    const due = since + stepDelayMs(b - a, speed);
    if (due > now) return { state: 'waiting', position, since, dueInMs: due - now };
    position++;
    since = Math.max(due, now - MAX_LAG_MS);
  }
}

/** A position moved by `delta` and kept inside a view of `count` messages (null: no position, the view is empty). */
export function stepPosition(position: number | null, delta: number, count: number): number | null {
  if (count <= 0) return null;
  const from = position ?? (delta > 0 ? -1 : count);
  return Math.max(0, Math.min(count - 1, from + delta));
}

/** Time since the view's first message: `+1.234 s`, `+2:05.120`, `+1:02:05.120`. */
export function formatOffset(us: number): string {
  const sign = us < 0 ? '−' : '+';
  const ms = Math.round(Math.abs(us) / 1000);
  const s = Math.floor(ms / 1000);
  const frac = String(ms % 1000).padStart(3, '0');
  if (s < 60) return `${sign}${s}.${frac} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${sign}${h}:${String(m).padStart(2, '0')}:${sec}.${frac}` : `${sign}${m}:${sec}.${frac}`;
}

/** The player's readout: `message 12 of 340, +1.234 s` (the offset when known). */
export function positionText(position: number | null, count: number, offsetUs?: number): string {
  const total = count.toLocaleString('en-US');
  if (position === null) return count === 0 ? 'no messages' : `${total} message${count === 1 ? '' : 's'}, none played`;
  const at = `message ${(position + 1).toLocaleString('en-US')} of ${total}`;
  return offsetUs === undefined ? at : `${at}, ${formatOffset(offsetUs)}`;
}

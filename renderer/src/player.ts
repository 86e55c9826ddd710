/**
 * The player: steps through the ladder's view (the filter in force: a call,
 * a leg, an element, a search) as the messages happened, or one at a time.
 *
 * The player's position is the ladder's selection (`selectedPos` in the
 * store), so the highlighted arrow, the inspector and the player always
 * agree, and a click on an arrow moves the play there. While the player is
 * in use on a view (`active`), arrows after the position are drawn dimmed:
 * the flow draws itself as it plays. The clock is a timer that wakes when
 * the next message is due (src/common/playback.ts says when) and passes
 * every message due by then in one move, so a burst costs one render.
 */
import { create } from 'zustand';

import { arrowName } from '../../src/common/ladder.ts';
import { advance, type PlayClock, type PlaybackSpeed, positionText, speedLabel, stepPosition } from '../../src/common/playback.ts';
import { connect } from './bridge.ts';
import { PAGE, rows } from './rows.ts';
import { nameOf, useStore } from './store.ts';

export interface PlayerState {
  playing: boolean;
  speed: PlaybackSpeed;
  /** The player was used on this view: arrows after the position are dimmed. */
  active: boolean;
  /** Timestamp of the view's first message (the readout's origin), µs. */
  originUs: number | null;
  /** What assistive technology hears: play, pause, a step, the end (not every message of a play). */
  announcement: string;
  /** Bumps each time the player moves the position: the ladder brings it into view. */
  moves: number;
}

export const usePlayer = create<PlayerState>()(() => ({
  playing: false,
  speed: 1,
  active: false,
  originUs: null,
  announcement: '',
  moves: 0,
}));

/** Never sooner than a frame: messages due within one are shown together. */
const MIN_WAKE_MS = 16;
/** While rows are on their way from the engine. */
const ROW_WAIT_MS = 40;

let timer: ReturnType<typeof setTimeout> | null = null;
let clock: PlayClock | null = null;

const now = (): number => performance.now();

function countOf(): number {
  return useStore.getState().ladder?.count ?? 0;
}

function position(): number | null {
  return useStore.getState().selectedPos;
}

/** Moves the position and has the ladder show it. */
function moveTo(pos: number): void {
  selectAt(pos);
  usePlayer.setState({ moves: usePlayer.getState().moves + 1 });
}

/**
 * Selects the message at `pos` of the ladder's view (as a click on its arrow
 * does); a row not fetched yet is selected when it arrives (store.ts).
 */
export function selectAt(pos: number): void {
  const count = countOf();
  if (count === 0) return;
  const p = Math.max(0, Math.min(count - 1, pos));
  const m = rows.get(p);
  if (m) {
    rows.pendingSelect = null;
    useStore.getState().select(m.index, p);
  } else {
    rows.pendingSelect = p;
    rows.ensure(p - 40, p + 40);
    useStore.setState({ selectedPos: p, follow: false });
  }
}

function announce(text: string): void {
  usePlayer.setState({ announcement: text });
}

function described(pos: number): string {
  const text = positionText(pos, countOf());
  const m = rows.get(pos);
  return m ? `${text}: ${arrowName(m, nameOf)}` : text;
}

function stopTimer(): void {
  if (timer !== null) clearTimeout(timer);
  timer = null;
}

function wake(ms: number): void {
  stopTimer();
  timer = setTimeout(tick, ms);
}

function tick(): void {
  timer = null;
  if (!usePlayer.getState().playing) return;
  const count = countOf();
  const at = position();
  if (at === null || count === 0) {
    pause();
    return;
  }
  // Moved by a click, the keyboard or the scrubber: play on from there.
  if (!clock || clock.position !== at) clock = { position: at, since: now() };
  // Rows ahead are fetched before they are due (4 pages: 512 messages, a fifth of a second at 10× of a busy trunk).
  rows.ensure(at, at + 4 * PAGE);
  const t = now();
  const r = advance(clock, t, count, usePlayer.getState().speed, (p) => rows.get(p)?.timeUs);
  if (r.position !== clock.position) moveTo(r.position);
  clock = { position: r.position, since: r.since };
  if (r.state === 'ended') {
    stopTimer();
    clock = null;
    usePlayer.setState({ playing: false, announcement: `End of the view: ${positionText(r.position, count)}.` });
  } else if (r.state === 'need-row') {
    rows.ensure(r.need, r.need + PAGE);
    wake(ROW_WAIT_MS);
  } else wake(Math.max(MIN_WAKE_MS, r.dueInMs));
}

export function play(): void {
  const count = countOf();
  if (count === 0) return;
  const at = position();
  // From the start when nothing is selected yet, or again from the start at the end.
  if (at === null || at >= count - 1) moveTo(0);
  clock = null;
  usePlayer.setState({ playing: true, active: true, announcement: `Playing at ${speedLabel(usePlayer.getState().speed)}.` });
  wake(0);
}

export function pause(): void {
  stopTimer();
  clock = null;
  if (!usePlayer.getState().playing) return;
  const at = position();
  usePlayer.setState({ playing: false, announcement: at === null ? 'Paused.' : `Paused at ${positionText(at, countOf())}.` });
}

export function togglePlay(): void {
  if (usePlayer.getState().playing) pause();
  else play();
}

/** One message forward (1) or back (-1); a step pauses a play. */
export function step(delta: number): void {
  const count = countOf();
  const next = stepPosition(position(), delta, count);
  if (next === null) return;
  const wasPlaying = usePlayer.getState().playing;
  stopTimer();
  clock = null;
  const at = position();
  usePlayer.setState({ playing: false, active: true });
  if (next === at) {
    announce(delta > 0 ? `Last message: ${positionText(next, count)}.` : `First message: ${positionText(next, count)}.`);
    return;
  }
  moveTo(next);
  announce(`${wasPlaying ? 'Paused. ' : ''}${described(next)}`);
}

/** To a position (the scrubber, start, end); a play goes on from there. */
export function seek(pos: number): void {
  if (countOf() === 0) return;
  usePlayer.setState({ active: true });
  moveTo(pos);
  clock = null;
}

export function goToStart(): void {
  seek(0);
  announce(described(0));
}

export function goToEnd(): void {
  const count = countOf();
  if (count === 0) return;
  const wasPlaying = usePlayer.getState().playing;
  pause();
  seek(count - 1);
  announce(`${wasPlaying ? 'Paused. ' : ''}${described(count - 1)}`);
}

export function setSpeed(speed: PlaybackSpeed): void {
  // The gap under way starts over at the new speed.
  if (clock) clock = { position: clock.position, since: now() };
  usePlayer.setState({ speed });
  if (usePlayer.getState().playing) wake(0);
}

// ---------------------------------------------------------------------------
// The view under the player

let originRequest = 0;

/** The first message's time, for the readout's `+1.234 s`. */
function loadOrigin(viewId: number): void {
  const first = rows.get(0);
  if (first) {
    usePlayer.setState({ originUs: first.timeUs });
    return;
  }
  const ticket = ++originRequest;
  connect()
    .api.viewRows(viewId, 0, 1)
    .then((r) => {
      if (ticket === originRequest && useStore.getState().ladder?.id === viewId) usePlayer.setState({ originUs: r.rows[0]?.timeUs ?? null });
    })
    .catch(() => {
      // The view was replaced meanwhile: the next one asks again.
    });
}

let watching = false;

/**
 * Follows the ladder's view: a new filter pauses the play; the position
 * stays on the same message when the new view holds it (the store locates
 * it), else the player starts over. Clearing the selection leaves the player.
 */
export function watchView(): void {
  if (watching) return;
  watching = true;
  useStore.subscribe((s, prev) => {
    const id = s.ladder?.id;
    if (id !== prev.ladder?.id) {
      const wasPlaying = usePlayer.getState().playing;
      pause();
      usePlayer.setState({
        originUs: null,
        active: usePlayer.getState().active && s.selectedPos !== null,
        ...(wasPlaying ? { announcement: 'The filter changed: paused.' } : {}),
      });
      if (id !== undefined && s.ladder!.count > 0) loadOrigin(id);
    } else if (id !== undefined && usePlayer.getState().originUs === null && s.ladder!.count > 0 && (prev.ladder?.count ?? 0) === 0) {
      loadOrigin(id);
    }
    if (s.selectedPos === null && prev.selectedPos !== null) {
      pause();
      usePlayer.setState({ active: false });
    }
  });
  const s = useStore.getState();
  if (s.ladder && s.ladder.count > 0) loadOrigin(s.ladder.id);
}

/**
 * The player's transport bar under the ladder: start, step back, play/pause,
 * step forward, end, the speed, a scrubber over the view and the position
 * as text (`message 12 of 340, +1.234 s`). Keys anywhere in the ladder view
 * (outside text fields and menus): Space plays or pauses, ←/→ step; the
 * ladder's own ↑/↓ (k/j) move the same position.
 */
import { type ReactNode, useEffect } from 'react';

import { parseSpeed, positionText, SPEEDS, speedLabel } from '../../../src/common/playback.ts';
import { goToEnd, goToStart, seek, setSpeed, step, togglePlay, usePlayer, watchView } from '../player.ts';
import { rows } from '../rows.ts';
import { useStore } from '../store.ts';

function Icon({ children }: { children: ReactNode }) {
  return (
    <svg className="player-icon" width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" focusable="false">
      {children}
    </svg>
  );
}

/** |◀◀ start, |◀ step back, ▶ play, ❚❚ pause, ▶| step forward, ▶▶| end. */
const ICONS = {
  start: (
    <Icon>
      <rect x="1" y="2" width="1.8" height="10" />
      <path d="M7.5 2 L3 7 L7.5 12 Z M12.5 2 L8 7 L12.5 12 Z" />
    </Icon>
  ),
  back: (
    <Icon>
      <rect x="2.5" y="2" width="1.8" height="10" />
      <path d="M11.5 2 L5 7 L11.5 12 Z" />
    </Icon>
  ),
  play: (
    <Icon>
      <path d="M3.5 1.5 L12.5 7 L3.5 12.5 Z" />
    </Icon>
  ),
  pause: (
    <Icon>
      <rect x="3" y="2" width="3" height="10" />
      <rect x="8" y="2" width="3" height="10" />
    </Icon>
  ),
  forward: (
    <Icon>
      <path d="M2.5 2 L9 7 L2.5 12 Z" />
      <rect x="9.7" y="2" width="1.8" height="10" />
    </Icon>
  ),
  end: (
    <Icon>
      <path d="M1.5 2 L6 7 L1.5 12 Z M6.5 2 L11 7 L6.5 12 Z" />
      <rect x="11.2" y="2" width="1.8" height="10" />
    </Icon>
  ),
};

/** Targets that keep Space and the arrow keys for themselves. */
function ownsKeys(target: EventTarget | null, key: string): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)) return true;
  if (target.closest('[role="menu"], [role="separator"], [role="dialog"]')) return true;
  // A focused button answers Space itself (a click).
  return key === ' ' && target.tagName === 'BUTTON';
}

export function Player() {
  const playing = usePlayer((s) => s.playing);
  const speed = usePlayer((s) => s.speed);
  const originUs = usePlayer((s) => s.originUs);
  const announcement = usePlayer((s) => s.announcement);
  const count = useStore((s) => s.ladder?.count ?? 0);
  const selectedPos = useStore((s) => s.selectedPos);
  // Rows arriving can bring the current message's time.
  useStore((s) => s.rowsVersion);
  const pos = selectedPos !== null && selectedPos < count ? selectedPos : null;
  const current = pos !== null ? rows.get(pos) : undefined;
  const offsetUs = current && originUs !== null ? current.timeUs - originUs : undefined;
  const text = positionText(pos, count, offsetUs);

  useEffect(() => watchView(), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) return;
      if (e.key !== ' ' && e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      if (ownsKeys(e.target, e.key)) return;
      e.preventDefault();
      if (e.key === ' ') {
        if (!e.repeat) togglePlay();
      } else step(e.key === 'ArrowRight' ? 1 : -1);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const atStart = pos === 0;
  const atEnd = pos !== null && pos >= count - 1;
  const empty = count === 0;
  return (
    <fieldset className="player" aria-label="Player">
      <button type="button" className="player-btn" aria-label="Go to start" title="First message" disabled={empty || atStart} onClick={goToStart}>
        {ICONS.start}
      </button>
      <button type="button" className="player-btn" aria-label="Step back" title="Previous message (←)" disabled={empty || atStart} onClick={() => step(-1)}>
        {ICONS.back}
      </button>
      <button
        type="button"
        className={`player-btn player-play${playing ? ' playing' : ''}`}
        aria-label={playing ? 'Pause' : 'Play'}
        title={playing ? 'Pause (Space)' : 'Play the messages of this view (Space)'}
        disabled={empty}
        onClick={togglePlay}
      >
        {playing ? ICONS.pause : ICONS.play}
      </button>
      <button type="button" className="player-btn" aria-label="Step forward" title="Next message (→)" disabled={empty || atEnd} onClick={() => step(1)}>
        {ICONS.forward}
      </button>
      <button type="button" className="player-btn" aria-label="Go to end" title="Last message" disabled={empty || atEnd} onClick={goToEnd}>
        {ICONS.end}
      </button>
      <select
        aria-label="Speed"
        title="Real time by the messages' timestamps (gaps over 1 s play as 1 s), or a fixed rate"
        value={String(speed)}
        onChange={(e) => {
          const s = parseSpeed(e.target.value);
          if (s !== null) setSpeed(s);
        }}
      >
        {SPEEDS.map((s) => (
          <option key={String(s)} value={String(s)}>
            {speedLabel(s)}
          </option>
        ))}
      </select>
      <input
        type="range"
        className="player-scrub"
        aria-label="Position"
        aria-valuetext={text}
        min={1}
        max={Math.max(1, count)}
        value={pos === null ? 1 : pos + 1}
        disabled={empty}
        onChange={(e) => seek(Number(e.target.value) - 1)}
      />
      {/* Plain text, not a live region: a play would read every message out. */}
      <span className="player-pos">{text}</span>
      <span className="sr-only" aria-live="polite">
        {announcement}
      </span>
    </fieldset>
  );
}

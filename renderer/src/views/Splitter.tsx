/**
 * Two panes side by side with a handle between them: drag it, or focus it
 * and use ←/→ (Shift for bigger steps), Home/End; double-click restores the
 * default. The right pane's width is kept between runs (localStorage).
 */
import { type KeyboardEvent, type PointerEvent, type ReactNode, useCallback, useEffect, useRef, useState } from 'react';

interface SplitterProps {
  children: [ReactNode, ReactNode];
  storageKey: string;
  /** Right pane width in px. */
  defaultSize: number;
  min: number;
  /** Largest share of the whole width the right pane may take. */
  maxFraction: number;
  label: string;
}

function load(key: string, fallback: number): number {
  try {
    const n = Number(localStorage.getItem(key));
    return Number.isFinite(n) && n > 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

export function Splitter({ children, storageKey, defaultSize, min, maxFraction, label }: SplitterProps) {
  const [size, setSize] = useState(() => load(storageKey, defaultSize));
  const [dragging, setDragging] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const [total, setTotal] = useState(0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setTotal(el.clientWidth));
    observer.observe(el);
    setTotal(el.clientWidth);
    return () => observer.disconnect();
  }, []);

  const max = Math.max(min, Math.floor(total * maxFraction));
  const clamped = total > 0 ? Math.max(min, Math.min(max, size)) : size;

  const commit = useCallback(
    (next: number) => {
      const v = Math.round(Math.max(min, Math.min(max, next)));
      setSize(v);
      try {
        localStorage.setItem(storageKey, String(v));
      } catch {
        // storage refused: the size lasts for this run
      }
    },
    [min, max, storageKey],
  );

  const onPointerDown = (e: PointerEvent<HTMLDivElement>): void => {
    if (e.button !== 0) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture(e.pointerId);
    setDragging(true);
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>): void => {
    if (!dragging || !box.current) return;
    const rect = box.current.getBoundingClientRect();
    commit(rect.right - e.clientX);
  };
  const onPointerUp = (e: PointerEvent<HTMLDivElement>): void => {
    if (!dragging) return;
    e.currentTarget.releasePointerCapture(e.pointerId);
    setDragging(false);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    const step = e.shiftKey ? 80 : 16;
    if (e.key === 'ArrowLeft') commit(clamped + step);
    else if (e.key === 'ArrowRight') commit(clamped - step);
    else if (e.key === 'Home') commit(max);
    else if (e.key === 'End') commit(min);
    else return;
    e.preventDefault();
  };

  return (
    <div className={`split${dragging ? ' dragging' : ''}`} ref={box} style={{ gridTemplateColumns: `minmax(0, 1fr) 6px ${clamped}px` }}>
      {children[0]}
      {/* biome-ignore lint/a11y/useSemanticElements: an <hr> cannot be dragged or take focus; this is the ARIA window splitter pattern */}
      <div
        className="split-handle"
        role="separator"
        aria-orientation="vertical"
        aria-label={label}
        aria-valuemin={min}
        aria-valuemax={max}
        aria-valuenow={clamped}
        tabIndex={0}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerUp}
        onKeyDown={onKeyDown}
        onDoubleClick={() => commit(defaultSize)}
        title="Drag to resize the inspector (double-click: default width)"
      />
      {children[1]}
    </div>
  );
}

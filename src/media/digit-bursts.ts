/**
 * Groups digits into the bursts a person keys (`123#`), for one log line
 * per burst instead of one per digit: a burst ends when no digit came for
 * `quietMs`, or when the caller flushes it (it knows the sender is done).
 * Timers are unref'd: a pending burst never keeps a process alive.
 */
export class DigitBursts<T extends { digit: string }> {
  readonly #quietMs: number;
  readonly #onBurst: (key: string, items: T[]) => void;
  readonly #open = new Map<string, { items: T[]; timer: NodeJS.Timeout }>();

  constructor(quietMs: number, onBurst: (key: string, items: T[]) => void) {
    this.#quietMs = quietMs;
    this.#onBurst = onBurst;
  }

  add(key: string, item: T): void {
    const open = this.#open.get(key);
    if (open !== undefined) clearTimeout(open.timer);
    const items = open?.items ?? [];
    items.push(item);
    const timer = setTimeout(() => this.flush(key), this.#quietMs);
    timer.unref();
    this.#open.set(key, { items, timer });
  }

  /** Ends the burst of `key` now (those whose key passes a test, or every burst when none is given). */
  flush(key?: string | ((key: string) => boolean)): void {
    const keys = key === undefined ? [...this.#open.keys()] : typeof key === 'string' ? [key] : [...this.#open.keys()].filter(key);
    for (const k of keys) {
      const open = this.#open.get(k);
      if (open === undefined) continue;
      clearTimeout(open.timer);
      this.#open.delete(k);
      this.#onBurst(k, open.items);
    }
  }
}

/** `123#` from digit records. */
export function digitString(items: ReadonlyArray<{ digit: string }>): string {
  return items.map((d) => (d.digit.length === 1 ? d.digit : `[${d.digit}]`)).join('');
}

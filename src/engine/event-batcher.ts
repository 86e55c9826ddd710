/**
 * Batches engine events for the bridges: one delivery per interval at most
 * (default 50 ms), at most `maxBatch` events each, the rest in the next
 * delivery. Measured in docs: one WebSocket frame per event caps a browser at
 * ~330 events/s; batches of 100 and more reach tens of thousands.
 */
import type { BridgeEvent } from '../common/api.ts';

export interface EventBatcherOptions {
  intervalMs?: number;
  maxBatch?: number;
}

export type BatchListener = (events: BridgeEvent[]) => void;

export class EventBatcher {
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #listeners = new Set<BatchListener>();
  #queue: BridgeEvent[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #lastFlush = 0;

  constructor(options: EventBatcherOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 2000;
  }

  get pending(): number {
    return this.#queue.length;
  }

  subscribe(listener: BatchListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  push(event: BridgeEvent): void {
    this.#queue.push(event);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== null || this.#queue.length === 0) return;
    const wait = Math.max(0, this.#lastFlush + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, wait);
    this.#timer.unref?.();
  }

  /** Delivers up to maxBatch queued events now. */
  flush(): void {
    if (this.#queue.length === 0) return;
    this.#lastFlush = Date.now();
    const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
    for (const listener of this.#listeners) {
      try {
        listener(batch);
      } catch (error) {
        console.error('trunklab engine: event listener failed:', error);
      }
    }
    this.#schedule();
  }

  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue = [];
    this.#listeners.clear();
  }
}

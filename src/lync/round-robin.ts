/**
 * Round-robin state: successive calls through the same key (a voice route,
 * a peer choosing a Mediation Server) start at successive positions of the
 * list. Lync shares a route's calls over its trunks this way *(field)*; a
 * qualified gateway spreads its calls over the Mediation pool by DNS.
 */
export class RoundRobin {
  private readonly counters = new Map<string, number>();

  /**
   * The items rotated to start at this key's next position, and the
   * position advanced. Position is taken modulo the current length, so a
   * list that shrinks (a trunk went down) keeps rotating evenly over what
   * is left. An empty list does not advance the counter.
   */
  rotate<T>(key: string, items: readonly T[]): T[] {
    if (items.length === 0) return [];
    const counter = this.counters.get(key) ?? 0;
    this.counters.set(key, counter + 1);
    const start = counter % items.length;
    return [...items.slice(start), ...items.slice(0, start)];
  }

  /** How many times this key was rotated. */
  count(key: string): number {
    return this.counters.get(key) ?? 0;
  }

  /** Forgets one key, or all. */
  reset(key?: string): void {
    if (key === undefined) this.counters.clear();
    else this.counters.delete(key);
  }
}

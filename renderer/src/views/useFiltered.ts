/**
 * The messages a view shows: indexes into messageLog that pass the filter,
 * and the element ids they use. Kept incrementally: a new batch of messages
 * costs only the new messages, a new filter one pass over the log.
 */
import { useRef } from 'react';

import type { CallSummary, MessageSummary } from '../../../src/common/api.ts';
import { type LadderFilter, messageFilter } from '../../../src/common/ladder.ts';
import { messageLog, nameOf, useStore } from '../store.ts';

export interface Filtered {
  indexes: number[];
  used: Set<string>;
  /** Changes whenever indexes or used change. */
  version: number;
}

interface Cache extends Filtered {
  key: string;
  generation: number;
  upTo: number;
}

export function callPredicate(call: CallSummary): (m: MessageSummary) => boolean {
  const legs = new Set(call.legs);
  return (m) => m.callKey === call.id || legs.has(m.legKey ?? '') || legs.has(m.callId) || legs.has(m.callKey ?? '');
}

export function combinedPredicate(filter: LadderFilter, call: CallSummary | null): (m: MessageSummary) => boolean {
  const base = messageFilter(filter, nameOf);
  if (!call) return base;
  const inCall = callPredicate(call);
  return (m) => inCall(m) && base(m);
}

export function useFiltered(): Filtered {
  const logVersion = useStore((s) => s.logVersion);
  const generation = useStore((s) => s.generation);
  const filter = useStore((s) => s.filter);
  const call = useStore((s) => s.callFilter);
  const cache = useRef<Cache | null>(null);
  const key = JSON.stringify([filter, call?.id, call?.legs]);
  let c = cache.current;
  if (c === null || c.key !== key || c.generation !== generation || c.upTo > messageLog.length) {
    c = { key, generation, upTo: 0, indexes: [], used: new Set(), version: 0 };
    cache.current = c;
  }
  if (c.upTo < messageLog.length) {
    const pass = combinedPredicate(filter, call);
    for (let i = c.upTo; i < messageLog.length; i++) {
      const m = messageLog[i]!;
      if (pass(m)) {
        c.indexes.push(i);
        c.used.add(m.from);
        c.used.add(m.to);
      }
    }
    c.upTo = messageLog.length;
    c.version = logVersion;
  }
  return { indexes: c.indexes, used: c.used, version: c.version + c.indexes.length * 1e-9 };
}

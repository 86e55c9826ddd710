/**
 * The flow diff of src/qualify/flow-diff.ts over two flows of the engine's
 * trace (two calls, two sources: a golden capture and a suite case, a
 * device's run and the emulated peer's), with trace indexes on both sides
 * so the UI opens either message on the ladder.
 */
import type { FlowDiffLine, FlowDiffMessage, FlowDiffResult, FlowDiffSide } from '../common/api.ts';
import { diffFlows, type FlowMessage, flowMessages } from '../qualify/flow-diff.ts';
import type { TraceStore } from '../trace/store.ts';

/** Messages per side at most: the alignment is quadratic (1,000 × 1,000 takes about 0.5 s of the engine thread, 2,000 × 2,000 about 2.5 s). */
export const MAX_FLOW_MESSAGES = 1000;

export interface Flow {
  label: string;
  /** Trace indexes, in order. */
  indexes: readonly number[];
}

/** The messages of a flow (see `flowMessages`), at most MAX_FLOW_MESSAGES. */
function boundedFlow(store: TraceStore, indexes: readonly number[], all: boolean): FlowMessage[] {
  const out = flowMessages(store, { indexes, background: all });
  if (out.length > MAX_FLOW_MESSAGES) throw new Error(`a flow of ${out.length} messages is too long to align (at most ${MAX_FLOW_MESSAGES}): pick one call`);
  return out;
}

export function diffTraceFlows(store: TraceStore, a: Flow, b: Flow, all: boolean, generation: number): FlowDiffResult {
  const fa = boundedFlow(store, a.indexes, all);
  const fb = boundedFlow(store, b.indexes, all);
  const side = (m: FlowMessage): FlowDiffMessage => {
    const s = store.summary(m.index);
    return { index: m.index, label: m.label, from: s.from, to: s.to, direction: m.direction, timeUs: s.timeUs, sdp: s.sdp };
  };
  const lines: FlowDiffLine[] = diffFlows(fa, fb).map((l) => {
    if (l.kind === 'same') return { kind: 'same', reordered: false, a: side(l.a), b: side(l.b), differences: l.differences };
    if (l.kind === 'missing') return { kind: 'missing', reordered: l.reordered, a: side(l.a), differences: [] };
    return { kind: 'extra', reordered: l.reordered, b: side(l.b), differences: [] };
  });
  const sideInfo = (f: Flow, n: number): FlowDiffSide => ({ label: f.label, messages: n });
  return {
    a: sideInfo(a, fa.length),
    b: sideInfo(b, fb.length),
    lines,
    same: lines.filter((l) => l.kind === 'same' && l.differences.length === 0).length,
    differing: lines.filter((l) => l.kind === 'same' && l.differences.length > 0).length,
    missing: lines.filter((l) => l.kind === 'missing').length,
    extra: lines.filter((l) => l.kind === 'extra').length,
    reordered: lines.filter((l) => l.kind !== 'same' && l.reordered).length,
    generation,
  };
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ElementStatus, MessageSummary } from './api.ts';
import { arrowName, formatDelta, ladderLayout, messageFilter, usedIds } from './ladder.ts';

const el = (id: string, name: string, role: ElementStatus['role'], pool?: string): ElementStatus => ({
  id,
  name,
  role,
  listen: [],
  ...(pool ? { pool, poolName: pool === 'p1' ? 'Mediation Pool 1' : 'Mediation Pool 2' } : {}),
});
const elements = [
  el('fe', 'FE-Pool', 'front-end'),
  el('med-1', 'Mediation-1', 'mediation', 'p1'),
  el('gw-a', 'Gateway-A', 'gateway'),
  el('med-3', 'Mediation-3', 'mediation', 'p2'),
  el('med-2', 'Mediation-2', 'mediation', 'p1'),
  el('alice', 'Alice', 'lync-user'),
];
const msg = (index: number, from: string, to: string, method = 'INVITE', status?: number): MessageSummary => ({
  index,
  timeUs: 1_000_000 * index,
  transport: 'tcp',
  from,
  to,
  src: '127.0.0.1:1',
  dst: '127.0.0.2:2',
  kind: status ? 'response' : 'request',
  method,
  ...(status ? { status, reason: 'OK' } : {}),
  callId: `c${index}`,
  cseq: `1 ${method}`,
  retransmission: false,
  sdp: false,
  size: 100,
  errors: 0,
  warnings: 0,
});

describe('ladder layout', () => {
  it('orders columns along the call path and groups pool members', () => {
    const layout = ladderLayout(elements, new Set());
    assert.deepEqual(
      layout.columns.map((c) => c.id),
      ['alice', 'fe', 'med-1', 'med-2', 'med-3', 'gw-a'],
    );
    assert.deepEqual(
      layout.groups.map((g) => [g.name, g.first, g.last]),
      [
        ['Mediation Pool 1', 2, 3],
        ['Mediation Pool 2', 4, 4],
      ],
    );
  });

  it('keeps only used elements when asked, and adds unknown addresses last', () => {
    const used = usedIds([msg(0, 'med-1', 'gw-a'), msg(1, '10.0.0.9:5060', 'med-1')]);
    const layout = ladderLayout(elements, used, { onlyUsed: true });
    assert.deepEqual(
      layout.columns.map((c) => c.id),
      ['med-1', 'gw-a', '10.0.0.9:5060'],
    );
  });

  it('shows no lab column for a trace between unknown addresses', () => {
    const used = usedIds([msg(0, '127.0.0.1:5060', '127.0.0.1:5070')]);
    const layout = ladderLayout(elements, used, { onlyUsed: true });
    assert.deepEqual(
      layout.columns.map((c) => c.id),
      ['127.0.0.1:5060', '127.0.0.1:5070'],
    );
    assert.equal(ladderLayout(elements, new Set(), { onlyUsed: true }).columns.length, elements.length);
  });

  it('names arrows for assistive technology', () => {
    const names = new Map(elements.map((e) => [e.id, e.name]));
    const nameOf = (id: string): string => names.get(id) ?? id;
    assert.equal(arrowName(msg(0, 'med-1', 'gw-a'), nameOf), 'INVITE from Mediation-1 to Gateway-A');
    assert.equal(arrowName(msg(1, 'gw-a', 'med-1', 'INVITE', 200), nameOf), '200 OK from Gateway-A to Mediation-1');
  });

  it('filters by element, method and text', () => {
    const nameOf = (id: string): string => (id === 'gw-a' ? 'Gateway-A' : id);
    const all = [msg(0, 'med-1', 'gw-a'), msg(1, 'fe', 'med-1', 'BYE'), msg(2, 'fe', 'med-1', 'OPTIONS')];
    assert.deepEqual(all.filter(messageFilter({ element: 'gw-a' }, nameOf)).map((m) => m.index), [0]);
    assert.deepEqual(all.filter(messageFilter({ method: 'bye' }, nameOf)).map((m) => m.index), [1]);
    assert.deepEqual(all.filter(messageFilter({ text: 'gateway' }, nameOf)).map((m) => m.index), [0]);
    assert.deepEqual(all.filter(messageFilter({ hideOptions: true }, nameOf)).map((m) => m.index), [0, 1]);
  });

  it('formats deltas', () => {
    assert.equal(formatDelta(512), '+0.512 ms');
    assert.equal(formatDelta(1_250_000), '+1.250 s');
  });
});

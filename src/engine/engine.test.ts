import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { BridgeEvent, MessageSummary } from '../common/api.ts';
import type { Lab } from '../lync/lab.ts';
import { Engine } from './engine.ts';
import { startLabFromFile } from './lab-adapter.ts';

describe('Engine over the lab topology', () => {
  let engine: Engine;
  let lab: Lab;
  const events: BridgeEvent[] = [];
  let batches = 0;

  before(async () => {
    engine = new Engine({ version: 'test' });
    engine.subscribe((batch) => {
      batches += 1;
      events.push(...batch);
    });
    lab = await startLabFromFile(engine, { freePorts: true });
  });
  after(async () => {
    await lab.stop();
    await engine.close();
  });

  it('reports the elements with their Mediation pools', async () => {
    const status = await engine.status();
    const med1 = status.elements.find((e) => e.id === 'med-1');
    assert.equal(med1?.pool, 'medpool-1');
    assert.equal(med1?.poolName, 'Mediation Pool 1');
    assert.ok(status.trunks.length > 0);
  });

  it('places a call and names both ends of every message after the elements', async () => {
    const call = await engine.placeCall({ from: 'alice', to: '2160' });
    const deadline = Date.now() + 10_000;
    let messages: MessageSummary[] = [];
    while (Date.now() < deadline) {
      messages = await engine.messages(0, 10_000);
      if (messages.some((m) => m.from === 'pbx' && m.status === 200 && m.method === 'INVITE')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const invites = messages.filter((m) => m.kind === 'request' && m.method === 'INVITE').map((m) => `${m.from}>${m.to}`);
    assert.ok(invites.includes('alice>fe'), invites.join(' '));
    assert.ok(invites.includes('fe>med-1'), invites.join(' '));
    assert.ok(invites.includes('med-1>pbx'), invites.join(' '));
    // Each message once, although both ends are emulated and the tap sees it twice.
    const keys = messages.filter((m) => !m.retransmission).map((m) => `${m.src}>${m.dst}|${m.callId}|${m.cseq}|${m.status ?? m.method}`);
    assert.equal(new Set(keys).size, keys.length);
    const detail = await engine.messageDetail(messages.find((m) => m.from === 'med-1' && m.to === 'pbx')!.index);
    assert.equal(detail.fromName, 'Mediation-1');
    assert.equal(detail.toName, 'IP-PBX');
    // The lab call's view: the legs the Mediation Server joined, and the Front End's leg the store grouped with them.
    const view = await engine.openView({ labCall: call.id });
    const rows = await engine.viewRows(view.id, 0, 1000);
    const paths = new Set(rows.rows.filter((m) => m.method === 'INVITE' && m.kind === 'request').map((m) => `${m.from}>${m.to}`));
    assert.ok(paths.has('med-1>pbx') && paths.has('fe>med-1'), [...paths].join(' '));
    assert.ok(rows.rows.every((m) => m.callKey === rows.rows[0]!.callKey), 'one call of the store');
    const traceCall = await engine.traceCall(call.id);
    assert.ok(traceCall && traceCall.legs.length >= 2);
    assert.ok(traceCall.links.some((l) => l.source === 'b2bua' && l.confidence === 1), JSON.stringify(traceCall.links));
    await engine.callAction(call.id, { action: 'hangup' });
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(events.some((e) => e.type === 'call' && e.call.id === call.id));
    assert.ok(batches < events.length, 'events are batched');
  });

  it('runs the trace linter once the trace is quiet: its counts go on the summaries (ladder badges)', async () => {
    const deadline = Date.now() + 10_000;
    let linted: MessageSummary[] = [];
    while (Date.now() < deadline) {
      linted = (await engine.messages(0, 10_000)).filter((m) => m.lintWarnings !== undefined);
      if (linted.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(linted.length > 0, 'linted summaries');
    assert.ok(events.some((e) => e.type === 'trace' && e.revision > 0), 'a new revision tells the UI to fetch its rows again');
  });
});

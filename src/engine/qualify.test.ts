import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';

import type { BridgeEvent, QualifyCaseResult, QualifyTotals } from '../common/api.ts';
import type { Lab } from '../lync/lab.ts';
import { Engine } from './engine.ts';
import { startLabFromFile } from './lab-adapter.ts';

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed): connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Engine qualification runs and flow diff, next to a live lab', () => {
  let engine: Engine;
  let lab: Lab;
  const events: BridgeEvent[] = [];

  before(async () => {
    engine = new Engine({ version: 'test' });
    engine.subscribe((batch) => events.push(...batch));
    lab = await startLabFromFile(engine, { freePorts: true });
  });
  after(async () => {
    await lab.stop();
    await engine.close();
  });

  async function finished(run: number): Promise<QualifyTotals> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const done = events.find((e) => e.type === 'qualify-done' && e.run === run);
      if (done?.type === 'qualify-done') return done.totals;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${run} did not finish in 60 s`);
  }

  const results = (run: number): QualifyCaseResult[] =>
    events.flatMap((e) => (e.type === 'qualify-case' && e.run === run ? [e.result] : []));

  it('lists the built-in cases with their areas', async () => {
    const cases = await engine.qualifyCases();
    assert.ok(cases.length >= 30, String(cases.length));
    const hold = cases.find((c) => c.id === 'hold-resume-outbound');
    assert.equal(hold?.area, 'hold-resume');
    assert.ok(cases.every((c) => c.title.length > 0 && c.steps > 0));
  });

  it('refuses a pattern that names no case and a device the topology does not have', async () => {
    await assert.rejects(engine.qualifyRun({ cases: 'no-such-case-*' }), /matches no case/);
    await assert.rejects(engine.qualifyRun({ external: ['gw-zz=127.0.0.1:5060'] }), /gw-zz/);
  });

  it('runs cases on fresh labs: progress events, each case a source of the trace, the cited messages open', async () => {
    const liveSockets = lab.elements().map((e) => e.listen.join(',')).join(';');
    const info = await engine.qualifyRun({ cases: 'basic-outbound-answer,busy-outbound-486', timeScale: 0.25, t1Ms: 100 });
    assert.deepEqual(
      info.cases.map((c) => c.id),
      ['basic-outbound-answer', 'busy-outbound-486'],
    );
    await assert.rejects(engine.qualifyRun({ cases: 'basic-outbound-answer' }), /under way/);
    const totals = await finished(info.run);
    assert.deepEqual({ ...totals, durationMs: 0 }, { passed: 2, failed: 0, skipped: 0, durationMs: 0, stopped: false });
    const started = events.filter((e) => e.type === 'qualify-case-start' && e.run === info.run).map((e) => (e.type === 'qualify-case-start' ? e.id : ''));
    assert.deepEqual(started, ['basic-outbound-answer', 'busy-outbound-486']);

    const [answer, busy] = results(info.run);
    assert.equal(answer!.verdict, 'pass');
    assert.ok(answer!.source && answer!.firstMessage !== undefined && answer!.messages > 5, JSON.stringify(answer));
    const status = await engine.status();
    const source = status.sources.find((s) => s.id === answer!.source);
    assert.deepEqual(source && { kind: source.kind, name: source.name }, { kind: 'suite', name: 'basic-outbound-answer' });

    // Every message a step cites is that message in the trace: same label, same ends.
    for (const r of [answer!, busy!]) {
      const cited = r.steps.filter((s) => s.messageIndex !== undefined);
      assert.ok(cited.length >= 3, r.id);
      for (const step of cited) {
        const detail = await engine.messageDetail(step.messageIndex!);
        const words = step.messageLabel!.split(' ');
        assert.equal(detail.summary.from, words.at(-3), `${r.id} step ${step.index}: ${step.messageLabel}`);
        assert.equal(detail.summary.to, words.at(-1));
        assert.ok(detail.startLine.includes(words[0]!), `${detail.startLine} / ${step.messageLabel}`);
        assert.equal(step.messageIndex! - r.firstMessage!, step.caseMessage);
      }
    }
    const busyFinal = busy!.steps.find((s) => s.messageLabel?.startsWith('486'));
    assert.ok(busyFinal, JSON.stringify(busy!.steps));
    assert.match((await engine.messageDetail(busyFinal.messageIndex!)).startLine, /^SIP\/2\.0 486 /);

    // The ladder filtered to the case's source: exactly its messages, named after the elements.
    const view = await engine.openView({ source: answer!.source });
    assert.equal(view.count, answer!.messages);
    const rows = await engine.viewRows(view.id, 0, 1000);
    assert.equal(rows.rows[0]!.index, answer!.firstMessage);
    const invite = rows.rows.find((m) => m.kind === 'request' && m.method === 'INVITE' && m.from === 'med-1');
    assert.ok(invite && /^gw-/.test(invite.to), JSON.stringify(rows.rows.map((m) => `${m.method} ${m.from}>${m.to}`)));
    // The case's B2BUA legs are one call, as the live lab's are.
    const call = await engine.traceCall(`#${invite.index}`);
    assert.ok(call && call.legs.length >= 2 && call.links.some((l) => l.source === 'b2bua'), JSON.stringify(call?.links));
    // The live lab kept its sockets.
    assert.equal(lab.elements().map((e) => e.listen.join(',')).join(';'), liveSockets);

    const junit = await engine.qualifyReport('junit');
    assert.match(Buffer.from(junit.data, 'base64').toString(), /<testsuites name="trunklab qualification" tests="2" failures="0"/);
    const html = await engine.qualifyReport('html');
    assert.match(html.fileName, /\.html$/);
    assert.match(Buffer.from(html.data, 'base64').toString(), /<title>Trunklab qualification: 2 passed, 0 failed<\/title>/);
  });

  it('a device that refuses: the case fails and its verdict opens the message that broke it', async () => {
    const port = await closedPort();
    const info = await engine.qualifyRun({ cases: 'basic-outbound-answer', external: [`gw-a=127.0.0.1:${port}/tcp`], timeScale: 0.25, t1Ms: 100 });
    assert.deepEqual(info.external, [`gw-a=127.0.0.1:${port}/tcp`]);
    const totals = await finished(info.run);
    assert.equal(totals.failed, 1);
    const [r] = results(info.run);
    assert.equal(r!.verdict, 'fail');
    const failed = r!.steps.find((s) => s.verdict === 'fail');
    assert.ok(failed?.messageIndex !== undefined, JSON.stringify(r));
    assert.match(r!.reason ?? '', new RegExp(`message #${failed.caseMessage}\\)`));
    // The Front End routes around the refusing gateway; the next trunk strips the +: the Request-URI check fails on that INVITE.
    const detail = await engine.messageDetail(failed.messageIndex);
    assert.equal(detail.summary.method, 'INVITE');
    assert.equal(detail.summary.from, 'med-1');
    assert.equal(detail.fromName, 'Mediation-1');
    assert.match(failed.observed ?? '', new RegExp(detail.startLine.split(' ')[1]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const view = await engine.openView({ source: r!.source });
    const pos = await engine.viewLocate(view.id, failed.messageIndex);
    assert.equal((await engine.viewRows(view.id, pos, pos + 1)).rows[0]!.index, failed.messageIndex);
    const state = await engine.qualifyState();
    assert.equal(state?.run, info.run);
    assert.equal(state?.running, false);
    assert.equal(state?.results[0]?.steps.find((s) => s.verdict === 'fail')?.messageIndex, failed.messageIndex);
  });

  it('diffs two flows of the trace: a passing case against the failing one', async () => {
    const sources = (await engine.status()).sources.filter((s) => s.kind === 'suite' && s.name === 'basic-outbound-answer');
    assert.equal(sources.length, 2);
    const [good, bad] = sources;
    const same = await engine.flowDiff({ a: { source: good!.id }, b: { source: good!.id } });
    assert.equal(same.missing + same.extra + same.differing, 0);
    assert.ok(same.same > 5);
    const diff = await engine.flowDiff({ a: { source: good!.id }, b: { source: bad!.id } });
    assert.equal(diff.a.label, 'suite case basic-outbound-answer');
    assert.ok(diff.missing + diff.extra + diff.differing > 0, JSON.stringify(diff.lines.map((l) => l.kind)));
    // The INVITE to the gateway went to another gateway in B: the alignment says so, with trace indexes on both sides.
    const aInvite = diff.lines.find((l) => l.a?.label === 'INVITE' && l.a.from === 'med-1');
    assert.ok(aInvite?.a, JSON.stringify(diff.lines));
    const detail = await engine.messageDetail(aInvite.a.index);
    assert.equal(detail.summary.method, 'INVITE');
    for (const l of diff.lines) {
      if (l.kind === 'same') assert.ok(l.a && l.b);
      if (l.kind === 'missing') assert.ok(l.a && !l.b);
      if (l.kind === 'extra') assert.ok(l.b && !l.a);
    }
    // By call: the case's INVITE call against itself.
    const call = await engine.traceCall(`#${aInvite.a.index}`);
    const byCall = await engine.flowDiff({ a: { callKey: call!.key }, b: { callKey: call!.key } });
    assert.ok(byCall.same > 3 && byCall.missing === 0);
    await assert.rejects(engine.flowDiff({ a: { source: 'nope' }, b: { source: good!.id } }), /no source nope/);
  });

  it('stop ends a run after the case that is running', async () => {
    const info = await engine.qualifyRun({ cases: 'busy-outbound-486,caller-id-outbound-pai,translation-remove-plus', timeScale: 0.25, t1Ms: 100 });
    while (!events.some((e) => e.type === 'qualify-case-start' && e.run === info.run)) await new Promise((r) => setTimeout(r, 10));
    await engine.qualifyStop();
    const totals = await finished(info.run);
    assert.equal(totals.stopped, true);
    // In the built-in order; only the first ran.
    assert.deepEqual(
      info.cases.map((c) => c.id),
      ['caller-id-outbound-pai', 'busy-outbound-486', 'translation-remove-plus'],
    );
    assert.deepEqual(
      results(info.run).map((r) => `${r.id} ${r.verdict}`),
      ['caller-id-outbound-pai pass'],
    );
    assert.equal((await engine.qualifyState())?.running, false);
  });

  it('clearing the trace keeps the verdicts but drops their links to it', async () => {
    await engine.clear();
    const state = await engine.qualifyState();
    assert.ok(state && state.results.length === 1);
    assert.equal(state.results[0]!.id, 'caller-id-outbound-pai');
    assert.equal(state.results[0]!.source, undefined);
    assert.ok(state.results[0]!.steps.every((s) => s.messageIndex === undefined));
    assert.ok(state.results[0]!.steps.some((s) => s.caseMessage !== undefined), 'the case-local numbers stay');
    assert.equal((await engine.status()).sources.filter((s) => s.kind === 'suite').length, 0);
    const junit = await engine.qualifyReport('junit');
    assert.match(Buffer.from(junit.data, 'base64').toString(), /tests="1" failures="0"/);
  });
});

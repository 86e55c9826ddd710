import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LintFinding, lintTrace, type TraceLintOptions } from './lint-dialog.ts';
import { TraceStore } from './store.ts';
import { type DialogOptions, dialogMessages, FE, GW, MED_FE_SIDE, MED_GW_SIDE, message, observedRecords, type SipText, sdp } from './test-support/b2bua-call.ts';

function lint(msgs: SipText[], options: TraceLintOptions = {}, storeOptions = {}): { store: TraceStore; findings: LintFinding[] } {
  const store = new TraceStore(storeOptions);
  store.appendRecords(observedRecords(msgs, 'udp'));
  const findings: LintFinding[] = [];
  lintTrace(store, options, (_i, f) => findings.push(...f));
  return { store, findings };
}

const base: DialogOptions = {
  transport: 'udp',
  caller: MED_GW_SIDE,
  callee: GW,
  callId: 'lint-call-1',
  fromUri: 'sip:+14255550101@lab.trunklab.test;user=phone',
  toUri: 'sip:+14255550150@127.0.0.30;user=phone',
  ruri: 'sip:+14255550150@127.0.0.30:5066;user=phone',
  userAgent: 'RTCC/5.0.0.0 MediationServer',
};

const codes = (f: LintFinding[]) => f.map((x) => x.code).sort();

test('a clean call has no finding', () => {
  const { findings } = lint(dialogMessages(base));
  assert.deepEqual(findings, []);
});

test('an SDP answer that does not fit its offer: m-line count, codecs not offered', () => {
  const answer = `${sdp('127.0.0.30', 50000, [18])}m=video 50002 RTP/AVP 96\r\n`;
  const { findings } = lint(dialogMessages({ ...base, answer }));
  const ok = findings.filter((f) => f.index === 3);
  assert.deepEqual(codes(ok), ['sdp-codec-not-offered', 'sdp-mline-count']);
  for (const f of ok) {
    assert.equal(f.scope, 'dialog');
    assert.deepEqual(f.related, [0]);
    assert.match(f.rule, /RFC 3264 §6/);
  }
});

test('a hold (a=inactive) answered with a=sendrecv is an error with the Lync rule', () => {
  const { findings } = lint(dialogMessages({ ...base, holdAnswer: 'sendrecv' }));
  const hold = findings.find((f) => f.code === 'sdp-hold-answered-active');
  assert.ok(hold);
  assert.equal(hold.severity, 'error');
  assert.match(hold.message, /a=inactive was answered with a=sendrecv/);
  assert.match(hold.rule, /Lync/);
  const { findings: proper } = lint(dialogMessages({ ...base, callId: 'lint-hold-ok', holdAnswer: 'inactive' }));
  assert.deepEqual(proper, []);
});

test('a 2xx without ACK; an ACK for a 2xx that reuses the INVITE branch; a 2xx without To tag', () => {
  const noAck = lint(dialogMessages({ ...base, noAck: true }));
  const f = noAck.findings.find((x) => x.code === 'ack-missing');
  assert.ok(f, 'ack-missing (a BYE follows, so the ACK is not just outside the capture)');
  assert.equal(f.index, 3);
  assert.equal(f.severity, 'error');

  const notSeen = lint(dialogMessages({ ...base, noAck: true, noBye: true }));
  assert.equal(notSeen.findings.find((x) => x.code === 'ack-not-seen')?.severity, 'info');

  const same = lint(dialogMessages({ ...base, ackSameBranch: true }));
  assert.deepEqual(codes(same.findings), ['ack-2xx-same-branch']);

  const msgs = dialogMessages(base);
  msgs[3] = { ...msgs[3], text: msgs[3].text.replace(/(To: <[^>]*>);tag=[^\r]*/, '$1') };
  const noTag = lint(msgs);
  assert.ok(noTag.findings.some((x) => x.code === 'to-tag-missing' && x.index === 3 && x.scope === 'message'));
});

test('CSeq not increasing within the dialog; ACK CSeq that matches no INVITE', () => {
  const msgs = dialogMessages(base);
  const bye = msgs.findIndex((m) => m.text.startsWith('BYE'));
  msgs[bye] = { ...msgs[bye], text: msgs[bye].text.replace('CSeq: 3 BYE', 'CSeq: 1 BYE') };
  msgs[bye + 1] = { ...msgs[bye + 1], text: msgs[bye + 1].text.replace('CSeq: 3 BYE', 'CSeq: 1 BYE') };
  const { findings } = lint(msgs);
  const f = findings.find((x) => x.code === 'cseq-not-increasing');
  assert.ok(f);
  assert.match(f.rule, /RFC 3261 §12\.2\.1\.1/);

  const m2 = dialogMessages({ ...base, callId: 'lint-ack-cseq' });
  const ack = m2.findIndex((m) => m.text.startsWith('ACK'));
  m2[ack] = { ...m2[ack], text: m2[ack].text.replace('CSeq: 1 ACK', 'CSeq: 7 ACK') };
  assert.ok(lint(m2).findings.some((x) => x.code === 'ack-cseq-mismatch'));
});

test('an ACK for a non-2xx with another branch than its INVITE', () => {
  const msgs = dialogMessages({ ...base, final: 503 });
  const ack = msgs.length - 1;
  msgs[ack] = { ...msgs[ack], text: msgs[ack].text.replace(/branch=z9hG4bK-inv-/, 'branch=z9hG4bK-other-') };
  const { findings } = lint(msgs);
  assert.deepEqual(codes(findings), ['ack-non2xx-branch']);
});

test('a 4xx from a gateway to a Mediation Server where failover needs a 5xx (Lync outbound routing)', () => {
  const msgs = dialogMessages({ ...base, final: 404 });
  // Without a topology: the Mediation Server's User-Agent tells; unknown route → info.
  let f = lint(msgs).findings.find((x) => x.code === 'failover-needs-5xx');
  assert.ok(f);
  assert.equal(f.severity, 'info');
  assert.match(f.rule, /Lync outbound routing failover/);
  // With roles and a route that has more trunks → warning.
  const roles: TraceLintOptions = {
    roleOf: (e) => (e === 'med-1' ? 'mediation' : e === 'gw-a' ? 'gateway' : null),
    moreTrunks: () => true,
  };
  const named = { resolveElement: (a: { host: string }) => (a.host === GW.host ? 'gw-a' : a.host === MED_GW_SIDE.host ? 'med-1' : null) };
  f = lint(msgs, roles, named).findings.find((x) => x.code === 'failover-needs-5xx');
  assert.equal(f?.severity, 'warning');
  assert.match(f?.message ?? '', /gw-a answered the Mediation Server's INVITE with 404/);
  // A 503 fails over: nothing to say; 486 Busy is a normal answer.
  assert.equal(lint(dialogMessages({ ...base, callId: 'lint-503', final: 503 }), roles, named).findings.length, 0);
  assert.equal(lint(dialogMessages({ ...base, callId: 'lint-486', final: 486 }), roles, named).findings.length, 0);
});

test('late offer: the 2xx carries the offer, the ACK must answer; missing answers are errors', () => {
  const msgs = dialogMessages({ ...base, offer: null, answer: null });
  const { findings } = lint(msgs);
  assert.ok(findings.some((x) => x.code === 'sdp-offer-missing' && x.index === 3));
  const answerless = lint(dialogMessages({ ...base, callId: 'lint-no-answer', answer: null }));
  assert.ok(answerless.findings.some((x) => x.code === 'sdp-answer-missing' && x.index === 3));
});

test('retransmissions are reported (info) with the first copy; malformed messages keep their parser findings', () => {
  const msgs = dialogMessages(base);
  const seq = [msgs[0], { ...msgs[0], atUs: 500_000 }, ...msgs.slice(1)];
  const { findings } = lint(seq);
  const r = findings.find((x) => x.code === 'retransmission');
  assert.equal(r?.index, 1);
  assert.deepEqual(r?.related, [0]);
  const bad = [{ from: GW, to: MED_GW_SIDE, atUs: 0, text: message('OPTIONS sip:a@b SIP/2.0', ['Via: SIP/2.0/UDP 127.0.0.30;branch=z9hG4bK1', 'From: <sip:x@y>;tag=1', 'To: <sip:a@b>', 'Call-ID: bad1', 'CSeq: 1 INVITE', 'Max-Forwards: 70']) }];
  const { findings: fb } = lint(bad);
  assert.ok(fb.some((x) => x.code === 'cseq-method-mismatch' && x.scope === 'message'));
});

/**
 * A dialog through a proxy (the Front End): one Call-ID and From tag, each request and response on two hops,
 * user → FE and FE → Mediation Server, as a live lab trace holds them. Each hop has its own branch.
 */
function proxiedDialog(o: { callId: string; noAckOnFirstHop?: boolean; ackPastProxy?: boolean }): SipText[] {
  const USER = { host: '127.0.0.101', port: 5061 };
  const opts: DialogOptions = { ...base, transport: 'udp', callId: o.callId, holdAnswer: 'inactive', userAgent: undefined };
  const first = dialogMessages({ ...opts, caller: USER, callee: FE });
  const second = dialogMessages({ ...opts, caller: FE, callee: MED_FE_SIDE }).map((m) => ({ ...m, atUs: m.atUs + 500, text: m.text.replace(/branch=z9hG4bK-/g, 'branch=z9hG4bK-fe-') }));
  const isAck = (m: SipText): boolean => m.text.startsWith('ACK ');
  let hops = [...first, ...second];
  if (o.noAckOnFirstHop) hops = hops.filter((m) => !(isAck(m) && m.from === USER && m.text.includes('CSeq: 1 ACK')));
  // Without Record-Route the user's ACK goes straight to the Mediation Server: one copy, on neither hop.
  if (o.ackPastProxy) hops = [...first.filter((m) => !isAck(m)), ...second.filter((m) => !isAck(m)), ...first.filter(isAck).map((m) => ({ ...m, to: MED_FE_SIDE }))];
  return hops.sort((a, b) => a.atUs - b.atUs);
}

test('a dialog through a proxy: each hop ACKs its own 2xx and keeps its own CSeq order (no false ack-missing)', () => {
  const clean = lint(proxiedDialog({ callId: 'lint-proxied-1' }));
  assert.equal(clean.store.legCount, 1, 'both hops are one leg (one Call-ID, one From tag)');
  assert.equal(clean.store.size, 2 * 10);
  assert.deepEqual(clean.findings.map((f) => `${f.index} ${f.code}`), []);

  // The first hop's ACK of the initial 200 is lost: reported there, and only there.
  const lost = lint(proxiedDialog({ callId: 'lint-proxied-2', noAckOnFirstHop: true }));
  const missing = lost.findings.filter((f) => f.code === 'ack-missing');
  assert.equal(missing.length, 1, JSON.stringify(lost.findings));
  const ok = lost.store.summary(missing[0].index);
  assert.equal(ok.status, 200);
  assert.equal(lost.store.to(missing[0].index), '127.0.0.101:5061');
  assert.equal(lost.store.cseq(missing[0].index), 1);

  // An ACK sent past a proxy that did not Record-Route acknowledges the 2xx of every hop.
  const past = lint(proxiedDialog({ callId: 'lint-proxied-3', ackPastProxy: true }));
  assert.deepEqual(past.findings.map((f) => `${f.index} ${f.code}`), []);
});

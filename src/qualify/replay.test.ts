/**
 * Replay against real peers: a SIPp uac ↔ `trunklab uas` call recorded by
 * dumpcap on lo, its uac side replayed against a fresh `trunklab uas` and
 * against `sipp -sn uas`; the Mediation Server's gateway-side messages of
 * calls recorded from the emulated lab (answered, cancelled, busy) replayed
 * against the lab's gateway; a target that never answers. Each replay is
 * compared with its recording by flow-diff.ts.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { diffCommand } from '../cli/diff.ts';
import { replayCommand } from '../cli/replay.ts';
import { importTraceFile, writeTraceFile } from '../formats/trace-io.ts';
import { type Background, background, freePorts, missingTool, run, sleep, waitForStderr } from '../formats/test-support/peers.ts';
import { sippStats, waitForPort } from '../formats/test-support/sipp-run.ts';
import { callAndHangUp, fixtureTopology, quick, until, wait } from '../lync/lab-test-support.ts';
import { Lab } from '../lync/lab.ts';
import { parseMessage } from '../sip/parser.ts';
import { FlowSelectionError, selectFlow } from './replay.ts';
import { WireLog } from './wire.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const trunklab = path.join(root, 'src/cli/trunklab.js');
const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-replay-'));
const processes: Background[] = [];
after(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const missing = missingTool('sipp', 'dumpcap');

function start(cmd: string, args: string[]): Background {
  const p = background(cmd, args, { cwd: dir });
  processes.push(p);
  return p;
}

/** `trunklab uas` on a free UDP port. (Not --max-calls 1: it closes before the 200 to the last BYE goes out.) */
async function trunklabUas(): Promise<{ port: number; p: Background; stop(): Promise<number> }> {
  const [port] = await freePorts(1);
  const p = start(process.execPath, [trunklab, 'uas', '--listen', `127.0.0.1:${port}`]);
  await waitForPort(port, 'udp', p);
  // SIGTERM: the uas prints its summary line and exits; the number of completed calls.
  const stop = async (): Promise<number> => {
    await p.stop('SIGTERM');
    const last = JSON.parse(p.stdout().trim().split('\n').at(-1) ?? '{}') as { summary?: { completed: number } };
    return last.summary?.completed ?? -1;
  };
  return { port, p, stop };
}

type Line = Record<string, unknown>;

/** `trunklab replay` in this process: its exit code and JSON lines. */
async function replayCli(argv: string[]): Promise<{ code: number; lines: Line[]; summary: Line & { diff: Record<string, number> } }> {
  const lines: Line[] = [];
  const code = await replayCommand(argv, (l) => lines.push(JSON.parse(l) as Line));
  const last = lines.at(-1) as { summary: Line & { diff: Record<string, number> } };
  return { code, lines, summary: last.summary };
}

/** `trunklab diff A B` in this process: the counts of its last line. */
async function diffCli(a: string, b: string): Promise<{ aligned: number; missing: number; extra: number; differing: number; text: string }> {
  const lines: string[] = [];
  await diffCommand([a, b], (l) => lines.push(l));
  const m = /^(\d+) aligned, (\d+) missing in B, (\d+) extra in B, (\d+) with differences$/.exec(lines.at(-1) ?? '');
  assert.ok(m, lines.join('\n'));
  return { aligned: Number(m[1]), missing: Number(m[2]), extra: Number(m[3]), differing: Number(m[4]), text: lines.join('\n') };
}

const MARKER = Buffer.from('trunklab-replay-capture-marker');

/** One SIPp uac → `trunklab uas` call over UDP, recorded by dumpcap on lo. */
async function recordSippCall(): Promise<{ file: string; uacPort: number }> {
  const file = path.join(dir, 'recording.pcap');
  const [uacPort, mediaPort] = await freePorts(2);
  const uas = await trunklabUas();
  const dumpcap = start('dumpcap', ['-i', 'lo', '-f', `udp port ${uas.port} or udp port ${uacPort}`, '-w', file, '-P']);
  await waitForStderr(dumpcap, 'Capturing on');
  const uac = await run('sipp', ['-sn', 'uac', `127.0.0.1:${uas.port}`, '-i', '127.0.0.1', '-p', String(uacPort), '-mp', String(mediaPort), '-t', 'u1', '-m', '1', '-nostdin', '-timeout', '20s'], { cwd: dir, timeoutMs: 30000 });
  assert.equal(uac.code, 0, `sipp uac: ${uac.stdout.slice(-1500)} ${uac.stderr}`);
  assert.equal(await uas.stop(), 1, 'the recorded call completed at the uas');
  // libpcap hands packets over a block at a time: wait until a marker sent last is in the file.
  const s = createSocket('udp4');
  for (let i = 0; i < 200 && !readFileSync(file).includes(MARKER); i++) {
    await new Promise<void>((resolve) => s.send(MARKER, uacPort, '127.0.0.1', () => resolve()));
    await sleep(50);
  }
  s.close();
  await dumpcap.stop('SIGINT');
  return { file, uacPort };
}

let recording: Promise<{ file: string; uacPort: number }> | null = null;
const sippRecording = (): Promise<{ file: string; uacPort: number }> => {
  recording ??= recordSippCall();
  return recording;
};

test('the uac side of a SIPp ↔ trunklab uas recording replays against a fresh trunklab uas and against sipp -sn uas, and diffs clean', async (t) => {
  if (missing) return t.skip(missing);
  const { file, uacPort } = await sippRecording();
  const imported = await importTraceFile(file);
  assert.deepEqual(
    imported.store.summaries().map((s) => (s.kind === 'request' ? s.method : s.status)),
    ['INVITE', 180, 200, 'ACK', 'BYE', 200],
  );

  // Against a fresh trunklab uas.
  const uas = await trunklabUas();
  const out1 = path.join(dir, 'replay-uas.pcap');
  const rec1 = path.join(dir, 'recorded-uac.pcap');
  const r1 = await replayCli([file, '--side', `127.0.0.1:${uacPort}`, '--target', `127.0.0.1:${uas.port}`, '--pcap', out1, '--recorded', rec1]);
  assert.equal(r1.code, 0, JSON.stringify(r1.lines));
  assert.deepEqual(
    r1.lines.filter((l) => 'step' in l).map((l) => `${l.event} ${l.label}`),
    ['sent INVITE', 'received 180 Ringing (INVITE)', 'received 200 OK (INVITE)', 'sent ACK', 'sent BYE', 'received 200 OK (BYE)'],
  );
  assert.equal(r1.summary.ok, true);
  assert.deepEqual(r1.summary.diff, { aligned: 6, missing: 0, extra: 0, withDifferences: 0 });
  assert.equal(await uas.stop(), 1, 'the uas saw one complete call');
  // trunklab diff: the whole recording (one call) and the replay's capture.
  const d1 = await diffCli(file, out1);
  assert.deepEqual([d1.aligned, d1.missing, d1.extra], [6, 0, 0], d1.text);
  const d1r = await diffCli(rec1, out1);
  assert.deepEqual([d1r.aligned, d1r.missing, d1r.extra], [6, 0, 0], d1r.text);

  // What went out was rewritten: new Call-ID, tag and branches; our Via, Contact and SDP address; Content-Length right.
  const replayed = await importTraceFile(out1);
  const sent = replayed.store.summaries().filter((s) => s.kind === 'request');
  const recorded = imported.store.summaries().filter((s) => s.kind === 'request');
  const invite = replayed.store.message(replayed.store.summaries().findIndex((s) => s.method === 'INVITE' && s.kind === 'request'));
  const original = imported.store.message(0);
  assert.ok(invite !== null && original !== null);
  assert.notEqual(invite.callId, original.callId);
  assert.notEqual(invite.fromTag, original.fromTag);
  assert.notEqual(invite.topVia?.branch, original.topVia?.branch);
  const local = sent[0].from;
  assert.equal(`${invite.topVia?.host}:${invite.topVia?.port}`, local);
  assert.match(invite.get('contact') ?? '', new RegExp(`@${local.replace(/\./g, '\\.')}\\b`));
  assert.equal(invite.contentLength, invite.body.length);
  assert.match(invite.bodyText, /^c=IN IP4 127\.0\.0\.1/m);
  assert.equal(parseMessage(invite.raw).ok, true);
  assert.equal(new Set(sent.map((s) => s.callId)).size, 1);
  const cseqs = (list: typeof sent): number[] => list.map((s) => Number.parseInt(s.cseq, 10));
  assert.deepEqual(
    cseqs(sent).map((n) => n - cseqs(sent)[0]),
    cseqs(recorded).map((n) => n - cseqs(recorded)[0]),
    'CSeq numbers keep their differences',
  );
  assert.deepEqual(cseqs(recorded), [1, 1, 2], 'SIPp: INVITE 1, ACK 1, BYE 2');
  const bye = replayed.store.message(replayed.store.summaries().findIndex((s) => s.method === 'BYE'));
  const ok = replayed.store.message(replayed.store.summaries().findIndex((s) => s.status === 200 && s.method === 'INVITE'));
  assert.ok(bye !== null && ok !== null);
  assert.equal(bye.toTag, ok.toTag, "the BYE carries the uas's tag learned from its 200");
  assert.equal(bye.requestUri, ok.contacts[0].uriText, "the BYE goes to the uas's Contact");

  // Against SIPp's own uas: it counts the call as successful.
  const [sippPort, sippMedia] = await freePorts(2);
  const stat = path.join(dir, 'sipp-uas.csv');
  const sipp = start('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(sippPort), '-mp', String(sippMedia), '-t', 'u1', '-m', '1', '-nostdin', '-timeout', '20s', '-trace_stat', '-fd', '1', '-stf', stat]);
  await waitForPort(sippPort, 'udp', sipp);
  const out2 = path.join(dir, 'replay-sipp.pcap');
  const r2 = await replayCli([file, '--side', `127.0.0.1:${uacPort}`, '--target', `127.0.0.1:${sippPort}/udp`, '--pcap', out2, '--diff']);
  assert.equal(r2.code, 0, JSON.stringify(r2.lines));
  assert.deepEqual([r2.summary.diff.aligned, r2.summary.diff.missing, r2.summary.diff.extra], [6, 0, 0], JSON.stringify(r2.lines));
  const d2 = await diffCli(file, out2);
  assert.deepEqual([d2.aligned, d2.missing, d2.extra], [6, 0, 0], d2.text);
  // SIPp's uas ends after its timewait.
  await Promise.race([sipp.exited, sleep(10000)]);
  assert.equal((await sippStats(stat)).successful, 1, 'sipp uas: one successful call');
});

test('the uas side of the same recording answers sipp -sn uac: the responses answer the actual requests', async (t) => {
  if (missing) return t.skip(missing);
  const { file, uacPort } = await sippRecording();
  const uasSide = (await importTraceFile(file)).store.summaries()[0].to;
  const [local, clientPort, clientMedia] = await freePorts(3);
  const replaying = replayCli([file, '--side', uasSide, '--target', `127.0.0.1:${clientPort}`, '--local', `127.0.0.1:${local}`, '--timeout-ms', '10000']);
  const uac = await run('sipp', ['-sn', 'uac', `127.0.0.1:${local}`, '-i', '127.0.0.1', '-p', String(clientPort), '-mp', String(clientMedia), '-t', 'u1', '-m', '1', '-nostdin', '-timeout', '20s'], { cwd: dir, timeoutMs: 30000 });
  const r = await replaying;
  assert.equal(uac.code, 0, `sipp uac: ${uac.stdout.slice(-1500)}`);
  assert.equal(r.code, 0, JSON.stringify(r.lines));
  assert.deepEqual(
    r.lines.filter((l) => 'step' in l).map((l) => `${l.event} ${l.label}`),
    ['received INVITE', 'sent 180 Ringing (INVITE)', 'sent 200 OK (INVITE)', 'received ACK', 'received BYE', 'sent 200 OK (BYE)'],
  );
  // A new SIPp uac, the same headers: no difference at all.
  assert.deepEqual(r.summary.diff, { aligned: 6, missing: 0, extra: 0, withDifferences: 0 });
  assert.notEqual(uacPort, clientPort);
});

test("the Mediation Server's gateway-side messages of lab calls replay against the lab's gateway and diff clean", async () => {
  const wire = new WireLog();
  const lab = await Lab.start(fixtureTopology('single-gateway.json', quick), { tap: wire.tap, timers: { t1: 100 } });
  try {
    wire.attach(lab);
    // Answered and hung up by alice; cancelled while ringing; busy.
    const answered = await callAndHangUp(lab, 'alice', '+14255550110', 100);
    assert.equal(answered.state, 'ended');
    const { callId } = lab.placeCall({ from: 'alice', to: '+14255550112' });
    await until(() => lab.calls().find((c) => c.id === callId)?.state === 'ringing', 5000, 'ringing');
    await wait(200);
    await lab.callAction(callId, { action: 'hangup' });
    await lab.waitForCall(callId);
    const busy = lab.placeCall({ from: 'alice', to: '+14255550111' });
    await lab.waitForCall(busy.callId);
    await wait(200);
    const file = path.join(dir, 'lab.json');
    assert.ok(wire.store !== null);
    await writeTraceFile(wire.store, file, 'json');
    const gw = lab.topology.peers.find((p) => p.name === 'gw-a')?.listeners[0];
    assert.ok(gw !== undefined);
    const target = `${gw.address}:${gw.port}/tcp`;

    // The calls of the trace where med-1 sends gw-a an INVITE (the others: OPTIONS, the Lync side).
    const { store } = await importTraceFile(file);
    const calls: string[] = [];
    for (let n = 1; n <= store.calls().length; n++) {
      try {
        if (selectFlow(store, { side: 'med-1', peer: 'gw-a', call: n }).steps[0].label === 'INVITE') calls.push(String(n));
      } catch (error) {
        assert.ok(error instanceof FlowSelectionError);
        assert.match(error.message, /^no SIP message between med-1 ↔ gw-a in call \d+ \(c\d+\); calls with med-1 ↔ gw-a: [\d, ]+$/);
      }
    }
    assert.equal(calls.length, 3);

    const expected = [
      ['sent INVITE', 'received 100 Trying (INVITE)', 'received 180 Ringing (INVITE)', 'received 200 OK (INVITE)', 'sent ACK', 'sent BYE', 'received 200 OK (BYE)'],
      ['sent INVITE', 'received 100 Trying (INVITE)', 'received 180 Ringing (INVITE)', 'sent CANCEL', 'received 200 OK (CANCEL)', 'received 487 Request Terminated (INVITE)', 'sent ACK'],
      ['sent INVITE', 'received 100 Trying (INVITE)', 'received 180 Ringing (INVITE)', 'received 486 Busy Here (INVITE)', 'sent ACK'],
    ];
    for (const [k, call] of calls.entries()) {
      const out = path.join(dir, `lab-replay-${call}.pcapng`);
      const r = await replayCli([file, '--side', 'med-1', '--peer', 'gw-a', '--call', call, '--target', target, '--pcap', out, '--diff']);
      assert.equal(r.code, 0, JSON.stringify(r.lines));
      assert.deepEqual(r.lines.filter((l) => 'step' in l).map((l) => `${l.event} ${l.label}`), expected[k]);
      // Same gateway, same behaviour: every message aligned, no header or SDP difference.
      assert.deepEqual(r.summary.diff, { aligned: expected[k].length, missing: 0, extra: 0, withDifferences: 0 }, JSON.stringify(r.lines.filter((l) => 'diff' in l)));
      const replayed = (await importTraceFile(out)).store;
      const msgs = replayed.summaries().map((s, i) => ({ s, m: replayed.message(i) }));
      const branchOf = (method: string): string | undefined => msgs.find((x) => x.s.kind === 'request' && x.s.method === method)?.m?.topVia?.branch ?? undefined;
      if (k === 1) {
        // RFC 3261 §9.1, §17.1.1.3: CANCEL and the ACK of the 487 are the INVITE's transaction.
        assert.equal(branchOf('CANCEL'), branchOf('INVITE'));
        assert.equal(branchOf('ACK'), branchOf('INVITE'));
      } else if (k === 0) assert.notEqual(branchOf('ACK'), branchOf('INVITE'), 'the ACK of a 2xx is a new transaction');
      else assert.equal(branchOf('ACK'), branchOf('INVITE'));
    }
    // The gateway saw the replayed requests (3 + 3 + 2) in the lab's own trace.
    const labStore = wire.store;
    const fromReplayer = labStore.summaries().filter((m) => m.kind === 'request' && m.to === 'gw-a' && m.from.startsWith('127.0.0.1:'));
    assert.deepEqual(
      fromReplayer.map((m) => m.method),
      ['INVITE', 'ACK', 'BYE', 'INVITE', 'CANCEL', 'ACK', 'INVITE', 'ACK'],
    );
  } finally {
    await lab.stop();
    wire.close();
  }
});

test('a target that never answers: exit 1, an expected-not-received line naming the message', async (t) => {
  if (missing) return t.skip(missing);
  const { file, uacPort } = await sippRecording();
  const [port] = await freePorts(1);
  const silent = createSocket('udp4');
  let datagrams = 0;
  silent.on('message', () => datagrams++);
  await new Promise<void>((resolve) => silent.bind(port, '127.0.0.1', resolve));
  try {
    const p = start(process.execPath, [trunklab, 'replay', file, '--side', `127.0.0.1:${uacPort}`, '--target', `127.0.0.1:${port}`, '--timeout-ms', '600', '--t1-ms', '100']);
    const code = await p.exited;
    assert.equal(code, 1, p.stderr());
    const lines = p.stdout().trim().split('\n').map((l) => JSON.parse(l) as Line);
    assert.deepEqual(
      lines.filter((l) => 'event' in l).map((l) => l.event),
      ['sent', 'optional-not-received', 'expected-not-received'],
    );
    const missed = lines.find((l) => l.event === 'expected-not-received');
    assert.equal(missed?.label, '200 OK (INVITE)');
    assert.equal(missed?.step, 3);
    assert.match(String(missed?.expected), /^200 OK \(INVITE\): any 2xx response to INVITE from the target \(recorded #2, sent by 127\.0\.0\.1:\d+\)$/);
    assert.deepEqual(missed?.receivedInstead, []);
    const summary = (lines.at(-1) as { summary: Line }).summary;
    assert.equal(summary.ok, false);
    assert.equal(summary.failedStep, 3);
    assert.match(String(summary.reason), /^step 3: expected 200 OK \(INVITE\): .*, nothing came within \d+ ms$/);
    assert.ok(datagrams >= 3, `the INVITE was retransmitted on UDP (${datagrams} datagrams)`);
  } finally {
    silent.close();
  }
});

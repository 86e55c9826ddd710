/**
 * The `trunklab` command end to end, run as a user runs it (`node
 * src/cli/trunklab.js ...` in a child process) against real sockets on
 * loopback: `lint` exit codes and JSON lines, `uas` answering RFC 4475
 * torture requests, SIPp and our own UserAgent, `options` probes over UDP,
 * TCP and TLS, signals and usage errors. Every child is killed when its test
 * ends, passed or failed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildOffer } from '../sdp/offer-answer.ts';
import { newBranch, newCallId, newTag, OutgoingMessage } from '../sip/builder.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseMessage } from '../sip/parser.ts';
import { createTransactionLayer } from '../sip/transaction-layer.ts';
import { createTransport } from '../sip/transport.ts';
import { type Session, UserAgent } from '../sip/user-agent.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'src', 'cli', 'trunklab.js');
const RFC4475 = path.join(ROOT, 'fixtures', 'rfc4475');

type UasExpectation = null | 'logic' | Array<number | 'logic'>;
const expectations = JSON.parse(readFileSync(path.join(RFC4475, 'expectations.json'), 'utf8')).messages as Record<
  string,
  { section: string; valid: boolean; codes?: string[]; uas: UasExpectation; unsupported?: string }
>;
const torture = Object.keys(expectations);

function has(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
const SIPP = has('sipp', ['-v']);

// ---------------------------------------------------------------- children

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `trunklab` (or any) child with its output collected. */
class Child {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(command: string, args: string[]) {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    children.add(child);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        children.delete(child);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
      child.once('error', (err) => {
        children.delete(child);
        resolve({ code: null, signal: null, stdout: this.stdout, stderr: `${this.stderr}${err.message}` });
      });
    });
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Complete stdout lines parsed as JSON (a line that is not JSON fails the test). */
  json(): Array<Record<string, unknown>> {
    const lines = this.stdout.split('\n');
    lines.pop(); // the unterminated tail, if any
    return lines.filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async waitForLine(pred: (o: Record<string, unknown>) => boolean, what: string, ms = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.json().find(pred);
      if (hit) return hit;
      if (!this.alive) throw new Error(`exited before ${what}:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${what} after ${ms} ms:\n${this.stdout}\n${this.stderr}`);
      await sleep(10);
    }
  }

  /** Sends `signal` (null: none) and waits for the exit (SIGKILL after `ms`). */
  async stop(signal: NodeJS.Signals | null = 'SIGTERM', ms = 10_000): Promise<Exit> {
    if (signal !== null && this.alive) this.process.kill(signal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.alive) this.process.kill('SIGKILL');
  }
}

function trunklab(args: string[]): Child {
  return new Child(process.execPath, [BIN, ...args]);
}

/** Runs `trunklab ARGS` to its end (killed after `ms`). */
async function runTrunklab(args: string[], ms = 30_000): Promise<Exit> {
  const c = trunklab(args);
  const timer = setTimeout(() => c.kill(), ms);
  try {
    return await c.exited;
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface RunningUas {
  child: Child;
  transport: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  /** HOST:PORT (IPv6 in brackets). */
  target: string;
}

/** Starts `trunklab uas ARGS` (add `--listen HOST:0`) and waits for its `listening` line. */
async function startUas(t: TestContext, args: string[]): Promise<RunningUas> {
  const child = trunklab(['uas', ...args]);
  t.after(() => child.kill());
  const line = await child.waitForLine((o) => typeof o.listening === 'string', 'listening line', 20_000);
  const m = /^(udp|tcp|tls):(\[[^\]]+\]|[^:]+):(\d+)$/.exec(String(line.listening));
  assert.ok(m, `listening line ${JSON.stringify(line)}`);
  const host = m[2].replace(/^\[|\]$/g, '');
  return { child, transport: m[1] as RunningUas['transport'], host, port: Number(m[3]), target: `${m[2]}:${m[3]}` };
}

/** A UserAgent on loopback (the client side of the tests). */
async function clientUa(t: TestContext, transport: 'udp' | 'tcp' | 'tls' = 'udp'): Promise<UserAgent> {
  const tp = await createTransport({ listen: [{ transport, host: '127.0.0.1', port: 0 }] });
  const layer = createTransactionLayer(tp);
  t.after(async () => {
    layer.close();
    await tp.close();
  });
  return new UserAgent(tp, layer, { product: 'trunklab-cli-test' });
}

interface CallResult {
  session: Session;
  provisional: Array<{ status: number; at: number; sdp: string | null }>;
  confirmedAt: number | null;
  end: string;
}

/** Places one call to `uas`, waits for its end (answered calls are hung up at once with BYE). */
function placeCall(ua: UserAgent, uas: RunningUas): Promise<CallResult> {
  return new Promise((resolve) => {
    const provisional: CallResult['provisional'] = [];
    let confirmedAt: number | null = null;
    ua.invite({
      target: `sip:+14255550150@${uas.target}`,
      dest: { transport: uas.transport, host: uas.host, port: uas.port },
      from: '<sip:+14255550101@127.0.0.1>',
      sdp: buildOffer({ address: '127.0.0.1', port: 40000 }),
      events: {
        onProvisional: (res, s) => {
          provisional.push({ status: res.status, at: performance.now() - s.createdAt, sdp: res.body.length > 0 && res.contentType === 'application/sdp' ? res.bodyText : null });
        },
        onConfirmed: (s) => {
          confirmedAt = performance.now() - s.createdAt;
          s.hangup();
        },
        onEnd: (reason, s) => {
          resolve({ session: s, provisional, confirmedAt, end: reason.kind === 'rejected' ? String(reason.status) : reason.kind });
        },
      },
    });
  });
}

// ---------------------------------------------------------------- lint

describe('trunklab lint', () => {
  test('RFC 4475: valid messages ok:true, invalid ones ok:false with a diagnostic, one JSON line each, exit 1', async () => {
    const files = torture.map((n) => path.join(RFC4475, `${n}.dat`));
    const r = await runTrunklab(['lint', ...files]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, files.length);
    for (const [i, line] of lines.entries()) {
      const name = torture[i];
      const exp = expectations[name];
      const rec = JSON.parse(line) as Record<string, unknown>;
      const why = `${name}: ${line}`;
      assert.equal(rec.file, files[i], why);
      // The documented key order: file, ok, kind, method|status, callId, diagnostics.
      const keys = Object.keys(rec);
      if (rec.kind === null) assert.deepEqual(keys, ['file', 'ok', 'kind', 'callId', 'diagnostics'], why);
      else assert.deepEqual(keys, ['file', 'ok', 'kind', rec.kind === 'request' ? 'method' : 'status', 'callId', 'diagnostics'], why);
      const diagnostics = rec.diagnostics as Array<Record<string, unknown>>;
      for (const d of diagnostics) {
        assert.equal(typeof d.code, 'string', why);
        assert.ok(['error', 'warning', 'info'].includes(String(d.severity)), why);
        assert.ok(typeof d.message === 'string' && d.message.length > 0, why);
      }
      const errors = diagnostics.filter((d) => d.severity === 'error');
      if (exp.valid) {
        assert.equal(rec.ok, true, why);
        assert.deepEqual(errors, [], why);
      } else {
        assert.equal(rec.ok, false, why);
        assert.ok(errors.length > 0, `${why}: an invalid message needs an error diagnostic`);
        if (rec.kind !== null) for (const code of exp.codes ?? []) assert.ok(diagnostics.some((d) => d.code === code), `${why}: expected ${code}`);
      }
    }
    const unreason = JSON.parse(lines[torture.indexOf('unreason')]);
    assert.equal(unreason.kind, 'response');
    assert.equal(unreason.status, 200);
    assert.equal(unreason.callId, 'unreason.1234ksdfak3j2erwedfsASdf');
    const intmeth = JSON.parse(lines[torture.indexOf('intmeth')]);
    assert.equal(intmeth.method, "!interesting-Method0123456789_*+`.%indeed'~");
  });

  test('only valid messages: exit 0', async () => {
    const valid = torture.filter((n) => expectations[n].valid).map((n) => path.join(RFC4475, `${n}.dat`));
    const r = await runTrunklab(['lint', ...valid]);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout.trimEnd().split('\n').length, valid.length);
  });

  test('a file that cannot be read: exit 2, a line naming it, the other files still linted', async () => {
    const missing = path.join(tmpdir(), `trunklab-missing-${process.pid}.dat`);
    const r = await runTrunklab(['lint', path.join(RFC4475, 'wsinv.dat'), missing, path.join(RFC4475, 'badvers.dat')]);
    assert.equal(r.code, 2);
    const recs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      recs.map((x) => [path.basename(x.file), x.ok]),
      [
        ['wsinv.dat', true],
        [path.basename(missing), false],
        ['badvers.dat', false],
      ],
    );
    assert.match(recs[1].error, /ENOENT/);
  });

  test('bytes that are not a SIP message: ok:false, kind null, a diagnostic', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-lint-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'http.dat');
    writeFileSync(file, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])); // a TLS ClientHello on the wrong port
    const r = await runTrunklab(['lint', file]);
    assert.equal(r.code, 1);
    const rec = JSON.parse(r.stdout);
    assert.equal(rec.ok, false);
    assert.equal(rec.kind, null);
    assert.equal(rec.diagnostics[0].severity, 'error');
  });

  test('usage errors: exit 2 with a message on stderr', async () => {
    for (const args of [['lint'], ['lint', '--no-such-option', 'x.dat']]) {
      const r = await runTrunklab(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^trunklab lint: /, args.join(' '));
    }
  });
});

// ---------------------------------------------------------------- uas

/** Sockets on a loopback address of their own: 5060 and 5050 (ports RFC 4475 Vias name) and an ephemeral one to send from. */
interface TorturePeer {
  host: string;
  sender: dgram.Socket;
  sockets: dgram.Socket[];
  received: Array<{ message: SipMessage | null; bytes: Buffer; port: number; at: number }>;
  close(): Promise<void>;
}

async function torturePeer(): Promise<TorturePeer> {
  for (let attempt = 0; ; attempt++) {
    const host = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const sockets: dgram.Socket[] = [];
    try {
      for (const port of [0, 5060, 5050]) {
        const s = dgram.createSocket('udp4');
        sockets.push(s);
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(port, host, () => resolve());
        });
      }
    } catch (err) {
      for (const s of sockets) s.close();
      if (attempt > 20) throw err;
      continue;
    }
    const peer: TorturePeer = {
      host,
      sender: sockets[0],
      sockets,
      received: [],
      close: async () => {
        await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
      },
    };
    for (const s of sockets) {
      const port = s.address().port;
      s.on('message', (bytes) => {
        const r = parseMessage(bytes, { datagram: true });
        peer.received.push({ message: r.ok ? r.message : null, bytes, port, at: performance.now() });
      });
    }
    return peer;
  }
}

function okOptions(peer: TorturePeer): { bytes: Buffer; callId: string } {
  const port = peer.sender.address().port;
  const callId = newCallId(peer.host);
  const req = OutgoingMessage.request('OPTIONS', `sip:uas@127.0.0.1`);
  req.append('Via', `SIP/2.0/UDP ${peer.host}:${port};branch=${newBranch()};rport`);
  req.append('Max-Forwards', '70');
  req.append('From', `<sip:probe@${peer.host}>;tag=${newTag()}`);
  req.append('To', '<sip:uas@127.0.0.1>');
  req.append('Call-ID', callId);
  req.append('CSeq', '1 OPTIONS');
  return { bytes: Buffer.from(req.toBytes()), callId };
}

/** The Call-ID of raw bytes (long or compact form), or null. */
function rawCallId(bytes: Buffer): string | null {
  const m = /\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)/i.exec(bytes.toString('latin1'));
  return m ? m[1].trim() : null;
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/** Addresses a process sent datagrams to, from an `strace -e trace=sendto,sendmsg,sendmmsg` log. */
function sentToAddresses(log: string): Set<string> {
  const out = new Set<string>();
  for (const line of log.split('\n')) {
    if (!/\bsend(to|msg|mmsg)\(/.test(line)) continue;
    for (const m of line.matchAll(/inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"/g)) out.add(m[1] ?? m[2]);
  }
  return out;
}

const STRACE = process.platform === 'linux' && has('strace', ['-V']);

/**
 * RFC 3261 §17.2.3's server transaction key of a torture request (branch, sent-by, method), or a key of its own when it
 * has no usable Via. RFC 4475 reuses branches (unkscm/novelsc, cparam01/cparam02, escnull/regescrt): sent to one UAS,
 * the second of a pair is a retransmission of the first and rightly gets the first one's response again.
 */
function serverTxKey(name: string, bytes: Buffer): string {
  const r = parseMessage(bytes, { datagram: true });
  if (!r.ok || r.message.kind !== 'request') return name;
  const via = r.message.topVia;
  if (!via || !via.branch) return name;
  return `${via.branch} ${via.host}:${via.port ?? ''} ${r.message.method}`;
}

/** A `trunklab uas --listen 127.0.0.1:0` over UDP, under strace when there is one. */
async function straceUas(t: TestContext, dir: string, index: number): Promise<{ child: Child; port: number; pid: number; log: string }> {
  const log = path.join(dir, `strace-${index}.log`);
  const args = ['uas', '--listen', '127.0.0.1:0'];
  const child = STRACE
    ? new Child('strace', ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=sendto,sendmsg,sendmmsg', '-e', 'signal=none', '-o', log, process.execPath, BIN, ...args])
    : trunklab(args);
  t.after(() => child.kill());
  const listening = await child.waitForLine((o) => typeof o.listening === 'string', 'listening line', 20_000);
  const port = Number(/:(\d+)$/.exec(String(listening.listening))?.[1]);
  // Under strace, signals go to strace's child, the node process (strace then exits with its status).
  const pid = STRACE ? Number(readFileSync(`/proc/${child.process.pid}/task/${child.process.pid}/children`, 'utf8').trim().split(/\s+/)[0]) : child.process.pid!;
  return { child, port, pid, log };
}

describe('trunklab uas', () => {
  test('RFC 4475 torture messages over UDP get the answer expectations.json lists; the uas survives them all', { timeout: 90_000 }, async (t) => {
    const peer = await torturePeer();
    t.after(() => peer.close());
    const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-uas-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));

    // Which uas gets which message: the first one that has not seen its transaction key yet.
    const bytesOf = new Map(torture.map((n) => [n, readFileSync(path.join(RFC4475, `${n}.dat`))]));
    const seen: Array<Set<string>> = [];
    const target = new Map<string, number>();
    for (const name of torture) {
      const key = serverTxKey(name, bytesOf.get(name)!);
      let i = seen.findIndex((keys) => !keys.has(key));
      if (i < 0) i = seen.push(new Set()) - 1;
      seen[i].add(key);
      target.set(name, i);
    }
    const uases = await Promise.all(seen.map((_, i) => straceUas(t, dir, i)));
    t.diagnostic(`${uases.length} uas processes (RFC 4475 reuses Via branches)`);

    /** Responses received since `from`, optionally only those with this Call-ID. */
    const responsesFor = (callId: string | null, from: number) =>
      peer.received.filter((r) => r.at >= from && r.message?.kind === 'response' && (callId === null || r.message.callId === callId));
    const allCallIds = new Set([...bytesOf.values()].map(rawCallId).filter((c) => c !== null));

    const expectAlive = async (port: number): Promise<void> => {
      const probe = okOptions(peer);
      const from = performance.now();
      peer.sender.send(probe.bytes, port, '127.0.0.1');
      const got = await waitUntil(() => responsesFor(probe.callId, from).some((r) => r.message!.status === 200), 3000);
      assert.ok(got, 'the uas no longer answers OPTIONS');
    };

    for (const name of torture) {
      const exp = expectations[name];
      const port = uases[target.get(name)!].port;
      await t.test(`${name} (§${exp.section}): ${exp.uas === null ? 'no answer' : JSON.stringify(exp.uas)}`, async (st) => {
        const bytes = bytesOf.get(name)!;
        const callId = name === 'dblreq' ? 'dblreq.0ha0isndaksdj99sdfafnl3lk233412' : rawCallId(bytes);
        const from = performance.now();
        peer.sender.send(bytes, port, '127.0.0.1');
        if (exp.uas === null) {
          // A response to a UAS: nothing goes back. 300 ms of silence, then the uas must still answer.
          await sleep(300);
          assert.deepEqual(
            responsesFor(callId, from).map((r) => r.message!.startLine),
            [],
          );
          await expectAlive(port);
          return;
        }
        // A request: wait for its final response. One without a Call-ID (insuf) gets a response without one:
        // take the first final response that belongs to no other torture message.
        const mine = (r: { message: SipMessage | null }): boolean =>
          r.message!.status >= 200 && (callId !== null ? r.message!.callId === callId : !allCallIds.has(r.message!.callId));
        const got = await waitUntil(() => responsesFor(null, from).some(mine), 3000);
        assert.ok(got, `no final response; received: ${responsesFor(null, from).map((r) => r.message!.startLine).join(' | ')}`);
        const res = responsesFor(null, from).find(mine)!.message!;
        const allowed: Array<number | 'logic'> = exp.uas === 'logic' ? ['logic'] : exp.uas;
        const status = res.status;
        st.diagnostic(`${status} ${res.reason}`);
        const accepted = allowed.includes(status) || (allowed.includes('logic') && status !== 400);
        assert.ok(accepted, `got ${status} ${res.reason}, expected ${allowed.join(' or ')} ('logic': anything but 400)`);
        if (status === 420) assert.equal(res.get('unsupported'), exp.unsupported);
        if (status === 415) assert.ok(res.has('accept'), '415 without Accept');
        if (status === 405 || status === 501) assert.ok(res.has('allow'), `${status} without Allow (RFC 3261 §8.2.1, §21.4.6)`);
        if (status === 505 || status === 400) assert.ok(res.has('warning'), `${status} without a Warning that explains it`);
        if (name === 'dblreq') {
          // The INVITE after the REGISTER in the same datagram is not a second message: never answered.
          await sleep(300);
          assert.deepEqual(responsesFor('dblreq.0ha0isnda977644900765@192.0.2.15', from).map((r) => r.message!.startLine), []);
        }
      });
    }

    // Everything that came back parsed, and the CLI's own OPTIONS probe still gets 200 from every uas.
    assert.deepEqual(peer.received.filter((r) => r.message === null).map((r) => r.bytes.toString('latin1').slice(0, 80)), []);
    for (const uas of uases) {
      const probe = await runTrunklab(['options', `127.0.0.1:${uas.port}`, '--t1-ms', '50', '--from', `${peer.host}:0`]);
      assert.equal(probe.code, 0, probe.stdout + probe.stderr);
    }

    const sentTo = new Set<string>();
    let screened = 0;
    for (const uas of uases) {
      process.kill(uas.pid, 'SIGTERM');
      const exit = await uas.child.stop(null);
      assert.equal(exit.code, 0, exit.stderr);
      const summary = uas.child.json().find((o) => o.summary)?.summary as Record<string, number>;
      assert.ok(summary, exit.stdout);
      screened += summary.screened;
      if (STRACE) for (const a of sentToAddresses(readFileSync(uas.log, 'utf8'))) sentTo.add(a);
    }
    assert.ok(screened >= 20, `${screened} requests screened`);
    if (STRACE) {
      // Nothing to the broadcast Via of bcast, nor to any other address a torture Via names: only to our loopback peer.
      assert.ok(!sentTo.has('255.255.255.255'), 'sent to the broadcast address');
      assert.deepEqual([...sentTo].filter((a) => a !== peer.host), [], `sent to ${[...sentTo].join(', ')}`);
      assert.ok(sentTo.has(peer.host), 'strace saw no send at all');
    } else t.diagnostic('strace is not installed: where the uas sent datagrams is not checked');
  });

  test('--answer 486: SIPp calls fail with 486 (a SIPp scenario that expects 486 and ACKs it)', { skip: SIPP ? false : 'sipp is not installed', timeout: 60_000 }, async (t) => {
    const uas = await startUas(t, ['--listen', '127.0.0.1:0', '--answer', '486']);
    const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const scenario = path.join(dir, 'uac-486.xml');
    writeFileSync(scenario, UAC_486);
    const stf = path.join(dir, 'stats.csv');
    const sipp = new Child('sipp', ['-sf', scenario, uas.target, '-i', '127.0.0.1', '-m', '20', '-r', '50', '-nostdin', '-trace_stat', '-stf', stf, '-timeout', '30s', '-timeout_error']);
    t.after(() => sipp.kill());
    const run = await sipp.exited;
    const stats = sippStats(stf);
    const why = `SIPp exit ${run.code}\n${run.stdout.slice(-2000)}${run.stderr.slice(-2000)}`;
    assert.equal(run.code, 0, why);
    assert.equal(stats['SuccessfulCall(C)'], '20', why);
    assert.equal(stats['FailedCall(C)'], '0', why);
    const exit = await uas.child.stop('SIGTERM');
    assert.equal(exit.code, 0);
    const calls = uas.child.json().filter((o) => o.call);
    assert.equal(calls.length, 20);
    for (const c of calls) assert.equal(c.result, 486);
    const summary = uas.child.json().find((o) => o.summary)?.summary as Record<string, number>;
    assert.equal(summary.rejected, 20);
    assert.equal(summary.answered, 0);
  });

  test('--ring-ms 300: 180 at once, the answer 300 ms later', { timeout: 30_000 }, async (t) => {
    const ring = await startUas(t, ['--listen', '127.0.0.1:0', '--ring-ms', '300']);
    const quick = await startUas(t, ['--listen', '127.0.0.1:0']);
    const ua = await clientUa(t);
    for (let i = 0; i < 3; i++) {
      const slow = await placeCall(ua, ring);
      assert.equal(slow.end, 'bye');
      assert.ok(slow.confirmedAt !== null && slow.confirmedAt >= 295 && slow.confirmedAt < 1500, `answered after ${slow.confirmedAt} ms`);
      const ringing = slow.provisional.find((p) => p.status === 180);
      assert.ok(ringing && ringing.at < 250, `180 after ${ringing?.at} ms`);
      assert.ok(slow.provisional.some((p) => p.status === 100), '100 Trying while the answer waits');
      const fast = await placeCall(ua, quick);
      assert.equal(fast.end, 'bye');
      assert.ok(fast.confirmedAt !== null && fast.confirmedAt < 250, `without --ring-ms answered after ${fast.confirmedAt} ms`);
    }
    const exit = await ring.child.stop('SIGTERM');
    assert.equal(exit.code, 0);
    const calls = ring.child.json().filter((o) => o.call);
    assert.equal(calls.length, 3);
    for (const c of calls) assert.ok(Number(c.durationMs) >= 295, JSON.stringify(c));
  });

  test('--early-media: 183 with an SDP answer, then 200 with the same SDP', { timeout: 30_000 }, async (t) => {
    const uas = await startUas(t, ['--listen', '127.0.0.1:0', '--early-media']);
    const ua = await clientUa(t);
    const call = await placeCall(ua, uas);
    assert.equal(call.end, 'bye');
    const p183 = call.provisional.find((p) => p.status === 183);
    assert.ok(p183, `provisionals: ${call.provisional.map((p) => p.status).join(', ')}`);
    assert.ok(!call.provisional.some((p) => p.status === 180), 'no 180 with --early-media');
    assert.ok(p183.sdp, '183 without SDP');
    assert.match(p183.sdp, /^v=0\r\n/);
    assert.match(p183.sdp, /\r\nm=audio [1-9]\d* RTP\/AVP /);
    assert.equal(call.session.remoteSdp, p183.sdp);
    // Each call gets a media port of its own, in the 183 and the 200 alike.
    const second = await placeCall(ua, uas);
    const port = (sdp: string | null) => /\r\nm=audio (\d+) /.exec(sdp ?? '')?.[1];
    assert.equal(port(second.provisional.find((p) => p.status === 183)?.sdp ?? null), port(second.session.remoteSdp));
    assert.notEqual(port(second.session.remoteSdp), port(call.session.remoteSdp));
    assert.match(second.session.remoteSdp ?? '', /^v=0\r\no=- \d+ 1 IN IP4 127\.0\.0\.1\r\ns=-\r\nc=IN IP4 127\.0\.0\.1\r\nt=0 0\r\nm=audio \d+ RTP\/AVP 8 101\r\n/);
    const plain = await startUas(t, ['--listen', '127.0.0.1:0']);
    const ringing = await placeCall(ua, plain);
    assert.deepEqual(
      ringing.provisional.filter((p) => p.status > 100).map((p) => [p.status, p.sdp]),
      [[180, null]],
    );
  });

  test('SIGTERM and SIGINT: one summary JSON line, exit 0', { timeout: 30_000 }, async (t) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const uas = await startUas(t, ['--listen', '127.0.0.1:0']);
      const ua = await clientUa(t);
      const call = await placeCall(ua, uas);
      assert.equal(call.end, 'bye');
      await uas.child.waitForLine((o) => o.call !== undefined, 'call line');
      const exit = await uas.child.stop(signal);
      assert.equal(exit.code, 0, `${signal}: ${exit.stderr}`);
      assert.equal(exit.signal, null);
      const lines = uas.child.json();
      const call1 = lines.find((o) => o.call);
      assert.equal(call1?.call, call.session.callId);
      assert.equal(call1?.result, 'bye');
      const summaries = lines.filter((o) => o.summary);
      assert.equal(summaries.length, 1);
      assert.deepEqual(lines.at(-1), summaries[0], 'the summary is the last line');
      assert.deepEqual(summaries[0].summary, { calls: 1, answered: 1, rejected: 0, cancelled: 0, completed: 1, failed: 0, invalid: 0, screened: 0, stoppedBy: signal });
    }
  });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`--max-calls 20 over ${transport.toUpperCase()}: the uas exits by itself after the 200 to the last BYE (SIPp counts no failed call)`, { skip: SIPP ? false : 'sipp is not installed', timeout: 60_000 }, async (t) => {
      const uas = await startUas(t, ['--listen', '127.0.0.1:0', '--transport', transport, '--max-calls', '20']);
      const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const stf = path.join(dir, 'stats.csv');
      // A BYE without its 200 is retransmitted twice (0.5 s, 1 s) and then fails the call.
      const sipp = new Child('sipp', ['-sn', 'uac', uas.target, '-t', transport === 'udp' ? 'u1' : 't1', '-i', '127.0.0.1', '-m', '20', '-r', '50', '-nostdin', '-trace_stat', '-stf', stf, '-max_non_invite_retrans', '2', '-timeout', '30s', '-timeout_error']);
      t.after(() => sipp.kill());
      const run = await sipp.exited;
      const stats = sippStats(stf);
      const why = `SIPp exit ${run.code}\n${run.stdout.slice(-2000)}${run.stderr.slice(-2000)}\nuas: ${uas.child.stdout.slice(-1000)}`;
      assert.equal(stats['SuccessfulCall(C)'], '20', why);
      assert.equal(stats['FailedCall(C)'], '0', why);
      assert.equal(run.code, 0, why);
      // No signal: --max-calls ends it.
      const exit = await uas.child.stop(null, 10_000);
      assert.equal(exit.code, 0, exit.stderr);
      const summary = uas.child.json().at(-1)?.summary as Record<string, unknown>;
      assert.deepEqual([summary.calls, summary.completed, summary.failed, summary.stoppedBy], [20, 20, 0, 'max-calls']);
    });
  }

  test('bad usage: exit 2 with a message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['uas'], /--listen HOST:PORT is required/],
      [['uas', '--listen', 'localhost'], /HOST:PORT/],
      [['uas', '--listen', '127.0.0.1:0', '--transport', 'sctp'], /--transport must be udp, tcp or tls/],
      [['uas', '--listen', '127.0.0.1:0', '--answer', '180'], /--answer must be an integer from 200 to 699/],
      [['uas', '--listen', '127.0.0.1:0', '--ring-ms', 'soon'], /--ring-ms/],
      [['uas', '--listen', '127.0.0.1:0', '--early-media=yes'], /takes no value/],
      [['uas', '--listen', '127.0.0.1:0', 'extra'], /unexpected argument/],
      [['uas', '--listen'], /needs a value/],
      [['options'], /exactly one HOST:PORT/],
      [['options', '127.0.0.1'], /HOST:PORT/],
      [['options', '127.0.0.1:5060', '--count', '0'], /--count/],
      [['options', '127.0.0.1:5060', '--t1-ms', '1'], /--t1-ms/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [[], /usage: trunklab/],
    ];
    await Promise.all(
      cases.map(async ([args, pattern]) => {
        const r = await runTrunklab(args);
        assert.equal(r.code, 2, `trunklab ${args.join(' ')}: exit ${r.code}`);
        assert.match(args.length === 0 ? r.stdout : r.stderr, pattern, `trunklab ${args.join(' ')}`);
      }),
    );
    const help = await runTrunklab(['help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: trunklab/);
  });
});

// ---------------------------------------------------------------- options

describe('trunklab options', () => {
  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    test(`${transport.toUpperCase()}: status and round-trip time per probe against trunklab uas, exit 0`, { timeout: 30_000 }, async (t) => {
      const uas = await startUas(t, ['--listen', '127.0.0.1:0', '--transport', transport]);
      const r = await runTrunklab(['options', uas.target, '--transport', transport, '--count', '3', '--interval-ms', '20']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, 4);
      for (const [i, l] of lines.slice(0, 3).entries()) {
        assert.equal(l.seq, i + 1);
        assert.equal(l.status, 200);
        assert.equal(l.server, 'trunklab-uas');
        assert.ok(typeof l.rttMs === 'number' && l.rttMs > 0 && l.rttMs < 5000, JSON.stringify(l));
      }
      assert.equal(lines[3].summary.sent, 3);
      assert.equal(lines[3].summary.ok, 3);
      assert.equal(lines[3].summary.failed, 0);
      assert.ok(lines[3].summary.avgRttMs > 0 && lines[3].summary.maxRttMs >= lines[3].summary.avgRttMs);
    });
  }

  test('SIGINT stops the probes: the summary counts those sent, exit 0 when they all got 200', { timeout: 30_000 }, async (t) => {
    const uas = await startUas(t, ['--listen', '127.0.0.1:0']);
    const probe = trunklab(['options', uas.target, '--count', '1000', '--interval-ms', '50']);
    t.after(() => probe.kill());
    await probe.waitForLine((o) => o.seq === 3, 'three probes');
    const exit = await probe.stop('SIGINT');
    assert.equal(exit.code, 0, exit.stdout + exit.stderr);
    const lines = probe.json();
    const summary = lines.at(-1)?.summary as Record<string, number>;
    const probes = lines.filter((l) => l.seq !== undefined);
    assert.ok(probes.length >= 3 && probes.length < 1000, `${probes.length} probes`);
    assert.deepEqual([summary.sent, summary.ok, summary.failed], [probes.length, probes.length, 0]);
  });

  test('IPv6 ([::1]) over UDP', { timeout: 30_000 }, async (t) => {
    const uas = await startUas(t, ['--listen', '[::1]:0']);
    assert.equal(uas.host, '::1');
    const r = await runTrunklab(['options', uas.target]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout.split('\n')[0]).status, 200);
  });

  test('--transport tcp against a TLS port: the server closes the connection, the probe fails at once (not after Timer F), exit 1', { timeout: 30_000 }, async (t) => {
    const uas = await startUas(t, ['--listen', '127.0.0.1:0', '--transport', 'tls']);
    const t0 = performance.now();
    // Default T1 (500 ms): Timer F would be 32 s per probe.
    const r = await runTrunklab(['options', uas.target, '--transport', 'tcp', '--count', '2', '--interval-ms', '0']);
    const elapsed = performance.now() - t0;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 3, r.stdout);
    for (const [i, l] of lines.slice(0, 2).entries()) {
      assert.equal(l.seq, i + 1);
      assert.equal(l.status, null);
      assert.match(l.error, /^connection closed by the server without an answer \(.+\); if the port speaks TLS, use --transport tls$/);
      assert.ok(l.rttMs < 5000, JSON.stringify(l));
    }
    assert.deepEqual(lines[2].summary, { sent: 2, ok: 0, failed: 2, avgRttMs: null, maxRttMs: null });
    assert.ok(elapsed < 10_000, `took ${Math.round(elapsed)} ms`);
    // The same port over TLS answers.
    const ok = await runTrunklab(['options', uas.target, '--transport', 'tls']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  });

  test('a silent UDP port: timeout, exit 1 (timer F with --t1-ms 10 is 640 ms)', { timeout: 30_000 }, async (t) => {
    const silent = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    silent.on('message', (m) => got.push(m));
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => silent.close(() => r())));
    const t0 = performance.now();
    const r = await runTrunklab(['options', `127.0.0.1:${silent.address().port}`, '--t1-ms', '10', '--count', '2', '--interval-ms', '0']);
    const elapsed = performance.now() - t0;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.slice(0, 2).map((l) => [l.seq, l.status, l.error]),
      [
        [1, null, 'timeout'],
        [2, null, 'timeout'],
      ],
    );
    for (const l of lines.slice(0, 2)) assert.ok(l.rttMs >= 600 && l.rttMs < 5000, JSON.stringify(l));
    assert.deepEqual(lines[2].summary, { sent: 2, ok: 0, failed: 2, avgRttMs: null, maxRttMs: null });
    assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
    // The OPTIONS was retransmitted on T1 (10 ms, doubling): the silent port saw the same request several times.
    assert.ok(got.length >= 8, `${got.length} datagrams`);
    assert.match(got[0].toString('latin1'), /^OPTIONS sip:127\.0\.0\.1:\d+ SIP\/2\.0\r\n/);
    assert.match(got[0].toString('latin1'), /\r\nUser-Agent: RTCC\/5\.0\.0\.0 MediationServer\r\n/);
  });
});

// ---------------------------------------------------------------- SIPp helpers

function sippStats(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'latin1').split(/\r?\n/).filter((l) => l.trim().length > 0);
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h, last[i]]));
}

/** SIPp's uac with a 486 as the only acceptable final answer (ACKed, as §17.1.1.3 wants). */
const UAC_486 = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac expecting 486">
  <send retrans="500">
    <![CDATA[
      INVITE sip:busy@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:busy@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="486"></recv>
  <send>
    <![CDATA[
      ACK sip:busy@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:busy@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
</scenario>
`;

// Keep `readdirSync` honest: the fixture set the tests iterate is the whole folder.
test('the RFC 4475 fixture folder holds exactly the messages expectations.json lists', () => {
  const files = readdirSync(RFC4475).filter((f) => f.endsWith('.dat')).map((f) => f.replace(/\.dat$/, '')).sort();
  assert.deepEqual(files, [...torture].sort());
});

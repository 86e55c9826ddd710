/**
 * Interop with SIPp (Debian's `sipp`, installed in CI): SIPp's built-in UAC
 * scenario places calls against a minimal UAS written here on top of the
 * transport only (100/180/200 with a To tag, ACK ignored, BYE answered), over
 * UDP and TCP. SIPp's exit code and its statistics file must both say that
 * every call succeeded.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { newTag, responseTo } from './builder.ts';
import { formatHostPort } from './capture.ts';
import { responseDestination, stampTopVia, viaReceivedParams } from './response-routing.ts';
import type { TransportLayer } from './transport.ts';
import { freePort, recordingEndpoint } from './transport-testing.ts';

function hasSipp(): boolean {
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch (err) {
    // `sipp -v` exits non-zero on some versions but still runs.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
const SIPP = hasSipp();

const children = new Set<ChildProcess>();
const open: TransportLayer[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(open.map((t) => t.close()));
});

interface SippRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  stats: Record<string, string>;
}

/** Runs SIPp to completion (killed after `limitMs`); returns its exit status, output and last statistics row. */
async function runSipp(args: string[], limitMs: number): Promise<SippRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-'));
  const stf = path.join(dir, 'stats.csv');
  try {
    const child = spawn('sipp', [...args, '-nostdin', '-trace_stat', '-stf', stf, '-fd', '1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    child.stdout?.on('data', (c: Buffer) => {
      output = (output + c.toString('latin1')).slice(-20_000);
    });
    child.stderr?.on('data', (c: Buffer) => {
      output = (output + c.toString('latin1')).slice(-20_000);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.once('close', (c, s) => resolve([c, s]));
      child.once('error', () => resolve([null, null]));
    });
    clearTimeout(killer);
    children.delete(child);
    let stats: Record<string, string> = {};
    try {
      const lines = readFileSync(stf, 'latin1').split(/\r?\n/).filter((l) => l.trim().length > 0);
      const head = lines[0].split(';');
      const last = lines[lines.length - 1].split(';');
      stats = Object.fromEntries(head.map((h, i) => [h, last[i]]));
    } catch {
      // no statistics file: the assertions below show SIPp's output
    }
    return { code, signal, output, stats };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SIPp interop (built-in uac scenario against a UAS on this transport)', { skip: SIPP ? false : 'sipp is not installed' }, () => {
  for (const transport of ['udp', 'tcp'] as const) {
    test(`${transport.toUpperCase()}: 20 calls at 50 cps all succeed`, { timeout: 60_000 }, async () => {
      const uas = await recordingEndpoint({ listen: [{ transport, host: '127.0.0.1', port: 0 }] });
      open.push(uas.t);
      const at = uas.t.sentBy(transport);
      const tags = new Map<string, string>();
      const sendFailures: string[] = [];
      const stats = { invite: 0, ack: 0, bye: 0 };
      uas.t.onMessage((m, flow) => {
        if (!m.isRequest) return;
        const dest = responseDestination(m, flow);
        const received = viaReceivedParams(m, flow);
        const reply = (status: number, reason: string, toTag?: string): void => {
          const res = responseTo(m, status, reason, toTag);
          stampTopVia(res, received);
          if (status >= 180 && status < 300 && m.method === 'INVITE') res.append('Contact', `<sip:uas@${formatHostPort(at)};transport=${transport}>`);
          uas.t.send(res.toBytes(), dest).catch((err: Error) => sendFailures.push(err.message));
        };
        if (m.method === 'INVITE') {
          stats.invite++;
          let tag = tags.get(m.callId);
          if (tag === undefined) {
            tag = newTag();
            tags.set(m.callId, tag);
          }
          reply(100, 'Trying');
          reply(180, 'Ringing', tag);
          reply(200, 'OK', tag);
        } else if (m.method === 'ACK') stats.ack++;
        else if (m.method === 'BYE') {
          stats.bye++;
          reply(200, 'OK');
        } else reply(501, 'Not Implemented');
      });

      const sippPort = await freePort(transport === 'udp' ? 'udp' : 'tcp');
      const args = ['-sn', 'uac', formatHostPort(at), '-m', '20', '-r', '50', '-i', '127.0.0.1', '-p', String(sippPort), '-timeout', '30s', '-timeout_error'];
      if (transport === 'tcp') args.push('-t', 't1');
      const run = await runSipp(args, 45_000);
      const why = `SIPp exit ${run.code} ${run.signal ?? ''}\n${run.output.slice(-3000)}`;
      assert.equal(run.code, 0, why);
      assert.equal(run.stats['SuccessfulCall(C)'], '20', why);
      assert.equal(run.stats['FailedCall(C)'], '0', why);
      assert.deepEqual(sendFailures, []);
      assert.ok(stats.invite >= 20 && stats.ack >= 20 && stats.bye >= 20, JSON.stringify(stats));
      assert.deepEqual(uas.invalid, []);
      assert.deepEqual(uas.errors, []);
      // Everything went through the tap: 3 requests in and 4 responses out per call, at least.
      const ins = uas.records.filter((r) => r.direction === 'in').length;
      const outs = uas.records.filter((r) => r.direction === 'out').length;
      assert.ok(outs >= 80, `${outs} records out`);
      assert.ok(ins >= (transport === 'udp' ? 60 : 1), `${ins} records in`);
      if (transport === 'udp') {
        for (const r of uas.records) assert.deepEqual([r.remote.host, r.remote.port], ['127.0.0.1', sippPort], 'UDP to/from SIPp’s port');
      } else {
        const ids = new Set(uas.records.map((r) => r.connId));
        assert.equal(ids.size, 1, 'one TCP connection from SIPp (t1), all responses on it');
      }
    });
  }
});

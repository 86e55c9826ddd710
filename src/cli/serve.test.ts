import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import type { EngineSnapshot } from '../common/api.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(root, 'src/cli/main.ts');
const capture = path.join(root, 'fixtures/captures/sipp-udp-call.pcap');

type Line = Record<string, unknown>;

/** Runs `trunklab serve`; `whileReady` runs once `{"ready": true}` is printed, then SIGTERM. */
async function serve(args: string[], whileReady: (lines: Line[]) => Promise<void> = async () => undefined): Promise<{ lines: Line[]; code: number | null }> {
  const child = spawn(process.execPath, [main, 'serve', '--topology', path.join(root, 'fixtures/topologies/pool-mixed.json'), '--free-ports', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const rl = createInterface({ input: child.stdout });
  let failure: unknown = null;
  for await (const line of rl) {
    const value = JSON.parse(line) as Line;
    lines.push(value);
    if (value.ready === true) {
      try {
        await whileReady(lines);
      } catch (error) {
        failure = error;
      }
      child.kill('SIGTERM');
    }
  }
  const code = await exit;
  if (failure !== null) throw failure;
  return { lines, code };
}

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One RPC over the host's WebSocket. */
async function rpc<T>(wsUrl: string, method: string, ...params: unknown[]): Promise<T> {
  const ws = new WebSocket(wsUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return await new Promise<T>((resolve, reject) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as { id?: number; result?: T; error?: { message: string } };
        if (msg.id !== 1) return;
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result as T);
      });
      ws.send(JSON.stringify({ id: 1, method, params }));
    });
  } finally {
    ws.terminate();
  }
}

test('trunklab serve --no-ui: one line per element, ready, then a clean stop on SIGTERM', async () => {
  const { lines, code } = await serve(['--no-ui']);
  assert.equal(code, 0);
  const elements = lines.filter((l) => typeof l.element === 'string');
  const roles = new Set(elements.map((e) => e.role));
  for (const role of ['front-end', 'mediation', 'lync-user']) assert.ok(roles.has(role), role);
  const med = elements.find((e) => e.role === 'mediation');
  assert.ok(Array.isArray(med?.listen) && (med.listen as string[]).every((l) => /^(udp|tcp|tls):127\.0\.0\.\d+:[1-9]\d*$/.test(l)));
  const user = elements.find((e) => e.role === 'lync-user');
  assert.ok(typeof user?.uri === 'string' && 'lineUri' in user);
  const peer = elements.find((e) => e.role === 'gateway' || e.role === 'sbc' || e.role === 'ip-pbx');
  assert.ok(Array.isArray(peer?.numbers));
  assert.deepEqual(lines.at(-2), { ready: true });
  assert.deepEqual(lines.at(-1), { stopped: true });
  assert.ok(!lines.some((l) => 'ui' in l), 'no UI line with --no-ui');
});

test('trunklab serve with the UI: one lab, the UI line with its token, 403 without it, the lab traffic and --open file in the trace', async () => {
  const { lines, code } = await serve(['--port', '0', '--t1-ms', '100', '--open', capture], async (lines) => {
    const uiLines = lines.filter((l) => 'ui' in l);
    assert.equal(uiLines.length, 1, JSON.stringify(lines));
    const url = String(uiLines[0].ui);
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]+)$/.exec(url);
    assert.ok(m, url);
    const [, port, token] = m;
    assert.equal(await get(`http://127.0.0.1:${port}/`), 403, 'no token');
    assert.equal(await get(`http://127.0.0.1:${port}/?token=wrong`), 403, 'wrong token');
    assert.ok([200, 503].includes(await get(url)), 'the page with the token (503 when the renderer is not built)');
    const status = await rpc<EngineSnapshot>(`ws://127.0.0.1:${port}/ws?token=${token}`, 'status');
    assert.equal(status.topology?.sipDomain, 'contoso.com');
    assert.ok(status.elements.some((e) => e.role === 'mediation'));
    const live = status.sources.find((s) => s.kind === 'live');
    // The users registered while the lab started: only a lab started with the engine's tap has those.
    assert.ok(live !== undefined && live.messages >= 2, JSON.stringify(status.sources));
    const file = status.sources.find((s) => s.kind === 'capture');
    assert.equal(file?.messages, 6);
  });
  assert.equal(code, 0);
  const ui = lines.findIndex((l) => 'ui' in l);
  const opened = lines.findIndex((l) => 'opened' in l);
  const ready = lines.findIndex((l) => l.ready === true);
  assert.ok(lines.findIndex((l) => typeof l.element === 'string') < ui && ui < opened && opened < ready, JSON.stringify(lines));
  assert.deepEqual(lines[opened], { opened: 'sipp-udp-call.pcap', messages: 6 });
  assert.deepEqual(lines.at(-1), { stopped: true });
});

test('trunklab serve --no-ui --open is a usage error', async () => {
  const child = spawn(process.execPath, [main, 'serve', '--no-ui', '--open', capture], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /--open needs the UI/);
});

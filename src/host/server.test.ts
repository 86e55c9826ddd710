import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import type { BridgeEvent, MessageDetail, MessageSummary, ViewInfo, ViewRows } from '../common/api.ts';
import { Engine } from '../engine/engine.ts';
import { type RunningHost, startHost } from './server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const capture = path.join(root, 'fixtures', 'captures', 'sipp-udp-call.pcap');

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

class Client {
  readonly ws: WebSocket;
  readonly events: BridgeEvent[] = [];
  readonly batches: number[] = [];
  #id = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (Array.isArray(msg.events)) {
        this.events.push(...msg.events);
        this.batches.push(msg.events.length);
        return;
      }
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    });
  }
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  call<T>(method: string, ...params: unknown[]): Promise<T> {
    const id = ++this.#id;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }
}

describe('headless host', () => {
  let engine: Engine;
  let host: RunningHost;
  let rendererDir: string;

  before(async () => {
    rendererDir = await mkdtemp(path.join(tmpdir(), 'trunklab-host-test-'));
    await writeFile(path.join(rendererDir, 'index.html'), '<!doctype html><title>Trunklab</title>');
    engine = new Engine({ version: '9.9.9' });
    engine.detached();
    host = await startHost(engine, { rendererDir });
  });
  after(async () => {
    await host.close();
    await engine.close();
    await rm(rendererDir, { recursive: true, force: true });
  });

  it('prints a loopback URL with the token', () => {
    assert.match(host.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
  });

  it('refuses HTTP requests without the token, or with a wrong one', async () => {
    const base = `http://127.0.0.1:${host.port}`;
    assert.equal((await get(`${base}/`)).status, 403);
    assert.equal((await get(`${base}/index.html`)).status, 403);
    assert.equal((await get(`${base}/?token=wrong`)).status, 403);
    assert.equal((await get(`${base}/assets/x.js`, { Cookie: 'trunklab_token=wrong' })).status, 403);
  });

  it('serves the page with the token and sets it as a cookie for the assets', async () => {
    const page = await get(host.url);
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>Trunklab<\/title>/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    assert.match(cookie, /^trunklab_token=/);
    assert.match(String(page.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    assert.equal((await get(`http://127.0.0.1:${host.port}/index.html`, { Cookie: cookie })).status, 200);
    assert.equal((await get(`http://127.0.0.1:${host.port}/../package.json`, { Cookie: cookie })).status, 404);
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    assert.equal((await get(host.url, { Host: `evil.example:${host.port}` })).status, 403);
  });

  it('refuses WebSockets without the token or from another origin', async () => {
    for (const [url, origin] of [
      [`ws://127.0.0.1:${host.port}/ws`, undefined],
      [`ws://127.0.0.1:${host.port}/ws?token=nope`, undefined],
      [`ws://127.0.0.1:${host.port}/ws?token=${host.token}`, 'http://evil.example'],
    ] as const) {
      const ws = new WebSocket(url, origin ? { origin } : {});
      const outcome = await new Promise<string>((resolve) => {
        ws.on('open', () => resolve('open'));
        ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        ws.on('error', () => resolve('error'));
      });
      ws.terminate();
      assert.notEqual(outcome, 'open', url);
    }
  });

  it('answers RPCs, validates arguments and streams events in batches', async () => {
    const client = new Client(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`);
    await client.open();
    const status = await client.call<{ version: string; messageCount: number }>('status');
    assert.equal(status.version, '9.9.9');
    assert.equal(status.messageCount, 0);
    await assert.rejects(client.call('messages', -1, 5), /messages: expected/);
    await assert.rejects(client.call('placeCall', { from: 'alice', to: '2160', extra: 1 }), /unknown property/);
    await assert.rejects(client.call('evil'), /unknown method/);
    await assert.rejects(client.call('placeCall', { from: 'alice', to: '2160' }), /no lab is running/);

    const bytes = await readFile(capture);
    const id = await client.call<string>('uploadStart', { name: 'sipp-udp-call.pcap', size: bytes.byteLength });
    await client.call('uploadChunk', id, bytes.subarray(0, 100).toString('base64'));
    await client.call('uploadChunk', id, bytes.subarray(100).toString('base64'));
    const imported = await client.call<{ added: number }>('uploadFinish', id);
    assert.equal(imported.added, 6);

    // No summary is pushed: a tick says how many messages there are, the rows are fetched through a view.
    const deadline = Date.now() + 3000;
    const indexedTick = () => client.events.find((e) => e.type === 'trace' && e.indexedCount === 6);
    while (!indexedTick() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(indexedTick(), 'a trace tick reports the 6 messages');
    assert.ok(!client.events.some((e) => (e as { type: string }).type === 'message'), 'no per-message events');
    const view = await client.call<ViewInfo>('openView', {});
    assert.equal(view.count, 6);
    const rows = await client.call<ViewRows>('viewRows', view.id, 0, 100);
    assert.deepEqual(
      rows.rows.map((m) => (m.kind === 'request' ? m.method : String(m.status))),
      ['INVITE', '180', '200', 'ACK', 'BYE', '200'],
    );
    const byes = await client.call<ViewInfo>('openView', { method: 'BYE' }, view.id);
    assert.equal(byes.count, 2);
    await assert.rejects(client.call('viewRows', view.id, 0, 10), /view \d+ is closed/);
    assert.equal(await client.call<number>('viewLocate', byes.id, 0), 0);
    await assert.rejects(client.call('openView', { method: 'BYE', evil: 1 }), /unknown property/);
    await assert.rejects(client.call('viewRows', byes.id, 5, 1), /viewRows: expected/);
    const call = await client.call<{ legs: unknown[] } | null>('traceCall', '#0');
    assert.equal(call?.legs.length, 1);
    assert.ok(client.batches.length < client.events.length || client.events.length <= 3, 'events arrive batched');

    const page = await client.call<MessageSummary[]>('messages', 0, 100);
    assert.equal(page.length, 6);
    const detail = await client.call<MessageDetail>('messageDetail', 0);
    assert.match(detail.raw, /^INVITE sip:/);
    assert.ok(detail.headers.some((h) => h.canonical === 'Call-ID'));
    assert.ok(detail.sdp?.some((r) => r.type === 'm'));

    const exported = await client.call<{ data: string; messages: number }>('exportTrace', { format: 'pcap' });
    assert.equal(exported.messages, 6);
    assert.equal(Buffer.from(exported.data, 'base64').readUInt32LE(0), 0xa1b2c3d4);
    client.ws.close();
  });

  it('runs a qualification case for a page over the WebSocket: progress events, then its verdict and report', async () => {
    const client = new Client(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`);
    await client.open();
    const cases = await client.call<{ id: string }[]>('qualifyCases');
    assert.ok(cases.some((c) => c.id === 'busy-outbound-486'));
    await assert.rejects(client.call('qualifyRun', { cases: 'busy-*', external: ['nonsense'] }), /PEER=HOST:PORT/);
    await assert.rejects(client.call('qualifyReport', 'junit'), /no qualification case has run/);
    const run = await client.call<{ run: number }>('qualifyRun', { cases: 'busy-outbound-486', timeScale: 0.25, t1Ms: 100 });
    const deadline = Date.now() + 30_000;
    const done = () => client.events.find((e) => e.type === 'qualify-done' && e.run === run.run);
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      client.events.filter((e) => e.type.startsWith('qualify-')).map((e) => e.type),
      ['qualify-start', 'qualify-case-start', 'qualify-case', 'qualify-done'],
    );
    const result = client.events.find((e) => e.type === 'qualify-case');
    assert.ok(result?.type === 'qualify-case' && result.result.verdict === 'pass' && result.result.source, JSON.stringify(result));
    // Its messages are in the trace of a window that has no lab: a source of their own, the cited 486 among them.
    const view = await client.call<ViewInfo>('openView', { source: result.result.source });
    assert.equal(view.count, result.result.messages);
    const cited = result.result.steps.find((s) => s.messageLabel?.startsWith('486'));
    const detail = await client.call<MessageDetail>('messageDetail', cited!.messageIndex);
    assert.match(detail.startLine, /^SIP\/2\.0 486 /);
    const report = await client.call<{ fileName: string; data: string }>('qualifyReport', 'html');
    assert.match(Buffer.from(report.data, 'base64').toString(), /1 passed, 0 failed/);
    client.ws.close();
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { messageLabels } from './call.ts';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(root, 'src/cli/main.ts');
const topology = path.join(root, 'fixtures/topologies/single-gateway.json');

async function call(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [main, 'call', '--topology', topology, '--free-ports', '--t1-ms', '100', ...args], { timeout: 30_000 });
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '' };
  }
}

test('trunklab call: first user to first number, completed, with the flow through fe and med-1', async () => {
  const { code, stdout } = await call(['--talk-ms', '100']);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /^completed: alice → \+14255550110 {2}200 OK/m);
  assert.match(stdout, /alice → fe\s+tls\s+INVITE/);
  assert.match(stdout, /med-1 → gw-a\s+tcp\s+INVITE/);
  assert.match(stdout, /gw-a → med-1\s+tcp\s+200 OK \(BYE\)/);
});

test('trunklab call --inbound --json: the PSTN number calls the first user', async () => {
  const { code, stdout } = await call(['--inbound', '--json', '--talk-ms', '50']);
  assert.equal(code, 0, stdout);
  const result = JSON.parse(stdout) as { completed: boolean; call: { from: string; to: string }; flow: Array<{ from: string; to: string; label: string }> };
  assert.equal(result.completed, true);
  assert.equal(result.call.from, '+14255550110');
  assert.equal(result.call.to, 'alice');
  assert.ok(result.flow.some((f) => f.from === 'fe' && f.to === 'alice' && f.label === 'INVITE'));
});

test('trunklab call: a busy number exits 1', async () => {
  const { code, stdout } = await call(['--to', '+14255550111']);
  assert.equal(code, 1);
  assert.match(stdout, /^failed: alice → \+14255550111 {2}486/m);
});

test('messageLabels reads every start line of a segment', () => {
  const seg = Buffer.from('SIP/2.0 180 Ringing\r\nCSeq: 1 INVITE\r\n\r\nBYE sip:a SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n');
  assert.deepEqual(messageLabels(seg), ['180 Ringing (INVITE)', 'BYE']);
});

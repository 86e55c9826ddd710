import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(root, 'src/cli/main.ts');

async function serve(args: string[]): Promise<{ lines: Array<Record<string, unknown>>; code: number | null }> {
  const child = spawn(process.execPath, [main, 'serve', '--topology', path.join(root, 'fixtures/topologies/pool-mixed.json'), '--free-ports', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Array<Record<string, unknown>> = [];
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const rl = createInterface({ input: child.stdout });
  for await (const line of rl) {
    const value = JSON.parse(line) as Record<string, unknown>;
    lines.push(value);
    if (value.ready === true) child.kill('SIGTERM');
  }
  return { lines, code: await exit };
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
});

test('trunklab serve without --no-ui says whether the UI is there', async () => {
  const { lines, code } = await serve([]);
  assert.equal(code, 0);
  assert.ok(lines.some((l) => l.ready === true));
});

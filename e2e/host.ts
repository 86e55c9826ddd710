/**
 * Starts `trunklab serve` (or `trunklab view`) on free ports for a spec and
 * reads the `{"ui": url}` line it prints; stops it (SIGTERM) afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = path.join(root, 'node_modules', '.bin', 'node');

export interface TrunklabProcess {
  url: string;
  lines: string[];
  stop(): Promise<void>;
}

export async function startTrunklab(args: string[]): Promise<TrunklabProcess> {
  const child: ChildProcess = spawn(node, [path.join(root, 'src', 'cli', 'trunklab.js'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`trunklab ${args[0]} printed no UI URL in 30 s:\n${lines.join('\n')}\n${stderr}`)), 30_000);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      lines.push(line);
      try {
        const json = JSON.parse(line) as { ui?: string };
        if (typeof json.ui === 'string' && json.ui.startsWith('http')) {
          clearTimeout(timer);
          resolve(json.ui);
        }
      } catch {
        // not a JSON line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`trunklab ${args[0]} exited (${code}) before printing its UI URL:\n${lines.join('\n')}\n${stderr}`));
    });
  });
  return {
    url,
    lines,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

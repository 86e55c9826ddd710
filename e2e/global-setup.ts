/** Builds the renderer into dist/renderer/ once before the specs (the host serves it). */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { root } from './host.ts';

export default function globalSetup(): void {
  const result = spawnSync(path.join(root, 'node_modules', '.bin', 'vite'), ['build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error('the renderer build failed');
}

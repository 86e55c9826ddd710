/**
 * Vite config of the renderer (React). Two callers:
 * - `npm run build:renderer` (vite build --config renderer/vite.config.ts)
 *   writes dist/renderer/, which `trunklab serve` serves to browsers;
 * - @electron-forge/plugin-vite passes `forgeConfigSelf` and expects the
 *   build in .vite/renderer/<name>/ for the desktop app.
 * Node-side build tooling: type-checked with tsconfig.electron.json.
 */
import { META_CONTENT_SECURITY_POLICY } from '../src/common/csp.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import react from '@vitejs/plugin-react';
import { type ConfigEnv, defineConfig, type Plugin } from 'vite';

const rendererDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(rendererDir, '..');

/**
 * The page's Content-Security-Policy, as a <meta> tag in the built
 * index.html: it must hold for file:// in Electron (no response headers) and
 * for browser mode alike. Not in dev, where Vite injects inline scripts.
 * `connect-src 'self'` also admits ws:/wss: to the serving host (CSP 3).
 */
export const CONTENT_SECURITY_POLICY = META_CONTENT_SECURITY_POLICY;

function contentSecurityPolicy(): Plugin {
  return {
    name: 'trunklab:content-security-policy',
    apply: 'build',
    transformIndexHtml: () => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
        injectTo: 'head-prepend',
      },
    ],
  };
}

/** What Forge's plugin-vite adds to the environment (forge-vite-env.d.ts). */
type Env = ConfigEnv & { forgeConfigSelf?: { name?: string } };

export default defineConfig((env: Env) => {
  const forgeRenderer = env.forgeConfigSelf?.name;
  return {
    root: rendererDir,
    base: './',
    plugins: [react(), contentSecurityPolicy()],
    // The renderer imports src/common/, outside its root.
    server: { fs: { allow: [repoRoot] } },
    build: {
      outDir: forgeRenderer
        ? path.join(repoRoot, '.vite', 'renderer', forgeRenderer)
        : path.join(repoRoot, 'dist', 'renderer'),
      emptyOutDir: true,
      sourcemap: true,
    },
  };
});

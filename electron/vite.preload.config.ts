// Vite config for the preload bundle. @electron-forge/plugin-vite adds the
// entry (electron/preload.ts) and writes one CommonJS file,
// .vite/build/preload.cjs: a sandboxed preload cannot load other files.
import { defineConfig } from 'vite';

export default defineConfig({});

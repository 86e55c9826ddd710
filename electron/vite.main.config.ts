// Vite config for the main process bundle. @electron-forge/plugin-vite adds
// the entry (electron/main.ts), the output (.vite/build/main.cjs, CommonJS),
// the externals (electron, Node built-ins) and the MAIN_WINDOW_* defines.
// Everything else the main process imports (src/engine/ and its packages) is
// bundled: the packaged app.asar holds only .vite/ and package.json.
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    sourcemap: true,
  },
});

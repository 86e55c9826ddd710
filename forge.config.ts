/**
 * Electron Forge 8 configuration: `electron-forge start | package | make`.
 *
 * Needs the Electron binary (see README: without it, `npm start` serves the
 * UI in the browser instead). Where it cannot be downloaded, point
 * ELECTRON_ZIP_DIR at a folder holding electron-v<version>-<platform>-<arch>.zip
 * (e.g. electron-v45.5.0-linux-x64.zip) and packaging uses it offline.
 *
 * Bundles (plugin-vite): .vite/build/main.cjs and preload.cjs from
 * electron/, .vite/renderer/main_window/ from renderer/. package.json "main"
 * points at .vite/build/main.cjs; app.asar holds only .vite/ and package.json.
 */
import { MakerDeb } from '@electron-forge/maker-deb';
import { MakerDMG } from '@electron-forge/maker-dmg';
import { MakerSquirrel } from '@electron-forge/maker-squirrel';
import { MakerZIP } from '@electron-forge/maker-zip';
import { VitePlugin } from '@electron-forge/plugin-vite';
import type { ForgeConfig } from '@electron-forge/shared-types';

const electronZipDir = process.env.ELECTRON_ZIP_DIR;

const config: ForgeConfig = {
  packagerConfig: {
    name: 'Trunklab',
    executableName: 'trunklab',
    appBundleId: 'dev.trunklab.desktop',
    appCategoryType: 'public.app-category.developer-tools',
    asar: true,
    ...(electronZipDir ? { electronZipDir } : {}),
  },
  rebuildConfig: {},
  makers: [
    new MakerZIP({}, ['linux', 'darwin', 'win32']),
    new MakerDeb(
      {
        options: {
          name: 'trunklab',
          productName: 'Trunklab',
          genericName: 'SIP trunk test harness',
          bin: 'trunklab',
          maintainer: 'Trunklab developers',
          section: 'net',
          categories: ['Development', 'Network'],
        },
      },
      ['linux'],
    ),
    new MakerSquirrel({ name: 'trunklab' }, ['win32']),
    new MakerDMG({ format: 'ULFO' }, ['darwin']),
  ],
  plugins: [
    new VitePlugin({
      build: [
        { entry: 'electron/main.ts', config: 'electron/vite.main.config.ts', target: 'main' },
        { entry: 'electron/preload.ts', config: 'electron/vite.preload.config.ts', target: 'preload' },
      ],
      renderer: [{ name: 'main_window', config: 'renderer/vite.config.ts' }],
    }),
  ],
};

export default config;

/**
 * Electron main process: a thin shell around the Engine (src/engine/). It
 * starts the lab topology with the engine's capture tap, bridges the
 * EngineApi to the renderer over IPC (every argument checked with
 * `checkArgs`, as the WebSocket host does; events in batches of at most one
 * per 50 ms), builds the menus (open a capture, export, topology, views)
 * and keeps the window's size and position between runs.
 *
 * Security (https://www.electronjs.org/docs/latest/tutorial/security):
 * sandboxed, context-isolated renderer without Node; a strict
 * Content-Security-Policy (a <meta> tag injected into the built index.html
 * by renderer/vite.config.ts, since file:// responses carry no headers; a
 * header for the Vite dev server); no navigation away from the app, no new
 * windows, no permissions; IPC only from our own page, arguments validated.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import {
  app,
  BrowserWindow,
  dialog,
  type IpcMainEvent,
  type IpcMainInvokeEvent,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  type Rectangle,
  screen,
  session,
} from 'electron';

import type { BridgeEvent, EngineApi } from '../src/common/api.ts';
import { type AppPage, CHANNELS, checkIpc, isAppUrl as isAppPage } from '../src/common/ipc.ts';
import { Engine } from '../src/engine/engine.ts';
import { startLabFromFile } from '../src/engine/lab-adapter.ts';

/**
 * The dev server serves scripts Vite and React Refresh inject inline, and
 * talks to the page over a WebSocket: relaxed only there.
 */
const DEV_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self' ws:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const devServerUrl = MAIN_WINDOW_VITE_DEV_SERVER_URL;
// app.getAppPath() is the project folder under `electron-forge start` and
// the app.asar root once packaged; both hold the `.vite/` build output.
const rendererIndex = path.join(app.getAppPath(), '.vite', 'renderer', MAIN_WINDOW_VITE_NAME, 'index.html');
const preloadScript = path.join(app.getAppPath(), '.vite', 'build', 'preload.cjs');

const appPage: AppPage = {
  ...(devServerUrl ? { devServerUrl } : {}),
  indexPathname: pathToFileURL(rendererIndex).pathname,
};

/** True for the pages of our own renderer, and nothing else. */
function isAppUrl(raw: string): boolean {
  return isAppPage(raw, appPage);
}

function assertFromApp(event: IpcMainEvent | IpcMainInvokeEvent): void {
  const url = event.senderFrame?.url;
  if (url === undefined || !isAppUrl(url)) throw new Error(`IPC refused from ${url ?? 'a destroyed frame'}`);
}

// ---------------------------------------------------------------------------
// The engine and its lab

interface LabHandle {
  stop(): Promise<void>;
}

let engine: Engine | null = null;
let lab: LabHandle | null = null;
let mainWindow: BrowserWindow | null = null;

/** `--topology FILE` and `--free-ports` from the command line (after `--` under electron-forge start). */
function labArguments(): { topologyPath?: string; freePorts: boolean } {
  const argv = process.argv;
  const i = argv.indexOf('--topology');
  const topologyPath = i >= 0 ? argv[i + 1] : undefined;
  return { ...(topologyPath ? { topologyPath } : {}), freePorts: argv.includes('--free-ports') };
}

/** A fresh engine (synchronously, so IPC always finds one), then its lab; the old ones are stopped. */
async function startEngine(topologyPath?: string): Promise<void> {
  const previous = engine;
  const previousLab = lab;
  const fresh = new Engine({ version: app.getVersion() });
  engine = fresh;
  lab = null;
  fresh.subscribe((events: BridgeEvent[]) => {
    const contents = mainWindow?.webContents;
    if (contents && !contents.isDestroyed()) contents.send(CHANNELS.events, events);
  });
  await previousLab?.stop();
  await previous?.close();
  const args = labArguments();
  try {
    const started = await startLabFromFile(fresh, { ...args, ...(topologyPath ? { topologyPath } : {}) });
    if (engine === fresh) lab = started;
    else await started.stop();
  } catch (error) {
    fresh.detached();
    fresh.emit({ type: 'log', level: 'error', text: `The lab did not start: ${error instanceof Error ? error.message : String(error)}`, timeUs: Date.now() * 1000 });
  }
  // Another engine's trace: the page starts over.
  if (previous) mainWindow?.webContents.reload();
}

function openCaptureDialog(): void {
  if (!mainWindow || !engine) return;
  const current = engine;
  void dialog
    .showOpenDialog(mainWindow, {
      title: 'Open a capture or log',
      properties: ['openFile', 'multiSelections'],
      filters: [
        { name: 'Captures and logs', extensions: ['pcap', 'pcapng', 'cap', 'gz', 'log', 'txt', 'json'] },
        { name: 'All files', extensions: ['*'] },
      ],
    })
    .then(async (result) => {
      for (const file of result.filePaths) {
        try {
          await current.importPath(file);
        } catch (error) {
          current.emit({ type: 'log', level: 'error', text: String(error instanceof Error ? error.message : error), timeUs: Date.now() * 1000 });
        }
      }
      current.emit({ type: 'open-request', what: 'view', detail: 'ladder' });
    });
}

function openTopologyDialog(): void {
  if (!mainWindow) return;
  void dialog
    .showOpenDialog(mainWindow, { title: 'Open a lab topology', properties: ['openFile'], filters: [{ name: 'Topology', extensions: ['json'] }] })
    .then((result) => {
      const file = result.filePaths[0];
      if (file) void startEngine(file);
    });
}

function buildMenu(): void {
  const send = (what: 'capture' | 'export' | 'view', detail?: string): void => {
    engine?.emit({ type: 'open-request', what, ...(detail ? { detail } : {}) });
  };
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        { label: 'Open Capture or Log…', accelerator: 'CmdOrCtrl+O', click: openCaptureDialog },
        { label: 'Export…', accelerator: 'CmdOrCtrl+E', click: () => send('export') },
        { type: 'separator' },
        { label: 'Open Topology…', accelerator: 'CmdOrCtrl+Shift+O', click: openTopologyDialog },
        { label: 'Restart Lab', click: () => void startEngine() },
        { label: 'Clear Trace', accelerator: 'CmdOrCtrl+K', click: () => void engine?.clear() },
        { type: 'separator' },
        { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: '&View',
      submenu: [
        { label: 'Topology', accelerator: 'CmdOrCtrl+1', click: () => send('view', 'topology') },
        { label: 'Calls', accelerator: 'CmdOrCtrl+2', click: () => send('view', 'calls') },
        { label: 'Ladder', accelerator: 'CmdOrCtrl+3', click: () => send('view', 'ladder') },
        { label: 'Qualification', accelerator: 'CmdOrCtrl+4', click: () => send('view', 'qualify') },
        { label: 'Flow Diff', accelerator: 'CmdOrCtrl+5', click: () => send('view', 'diff') },
        { type: 'separator' },
        { role: 'reload' },
        { role: 'toggleDevTools' },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

// ---------------------------------------------------------------------------
// Window state

interface WindowState {
  bounds: Rectangle;
  maximized: boolean;
}

const stateFile = (): string => path.join(app.getPath('userData'), 'window-state.json');

function loadWindowState(): WindowState | null {
  try {
    const state = JSON.parse(readFileSync(stateFile(), 'utf8')) as WindowState;
    const { x, y, width, height } = state.bounds;
    if (![x, y, width, height].every(Number.isFinite) || width < 400 || height < 300) return null;
    // Only where a display still shows it (a monitor may be gone).
    const visible = screen.getAllDisplays().some((d) => {
      const a = d.workArea;
      return x < a.x + a.width && x + width > a.x && y < a.y + a.height && y + height > a.y;
    });
    return visible ? state : null;
  } catch {
    return null;
  }
}

function saveWindowState(window: BrowserWindow): void {
  try {
    const state: WindowState = { bounds: window.getNormalBounds(), maximized: window.isMaximized() };
    writeFileSync(stateFile(), JSON.stringify(state));
  } catch (error) {
    console.warn('trunklab: cannot save the window state:', error);
  }
}

/** Every message from the page is checked (sender, channel, arguments: src/common/ipc.ts) before the engine sees it. */
function registerIpc(): void {
  ipcMain.handle(CHANNELS.rpc, async (event, ...args: unknown[]) => {
    assertFromApp(event);
    const call = checkIpc(CHANNELS.rpc, args);
    if (call.channel !== CHANNELS.rpc) throw new TypeError('unreachable');
    if (!engine) throw new Error('the engine is not running');
    const fn = engine[call.method] as (...a: unknown[]) => Promise<unknown>;
    return (await fn.apply(engine satisfies EngineApi, call.params)) ?? null;
  });
  ipcMain.handle(CHANNELS.version, (event, ...args: unknown[]) => {
    assertFromApp(event);
    checkIpc(CHANNELS.version, args);
    return app.getVersion();
  });
  ipcMain.on(CHANNELS.log, (event, ...args: unknown[]) => {
    try {
      assertFromApp(event);
      const call = checkIpc(CHANNELS.log, args);
      if (call.channel === CHANNELS.log) console[call.level](`[renderer] ${call.message}`);
    } catch (error) {
      console.warn(`${CHANNELS.log}: ${String(error instanceof Error ? error.message : error)}`);
    }
  });
}

function lockDown(): void {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  if (devServerUrl) {
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      const responseHeaders = { ...details.responseHeaders };
      if (isAppUrl(details.url)) responseHeaders['Content-Security-Policy'] = [DEV_CONTENT_SECURITY_POLICY];
      callback({ responseHeaders });
    });
  }
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (event, url) => {
      if (!isAppUrl(url)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}

async function createWindow(): Promise<void> {
  const saved = loadWindowState();
  const window = new BrowserWindow({
    ...(saved ? saved.bounds : { width: 1400, height: 860 }),
    minWidth: 900,
    minHeight: 560,
    title: 'Trunklab',
    show: false,
    webPreferences: {
      preload: preloadScript,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  mainWindow = window;
  if (saved?.maximized) window.maximize();
  window.once('ready-to-show', () => window.show());
  window.on('close', () => saveWindowState(window));
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  if (devServerUrl) await window.loadURL(devServerUrl);
  else await window.loadFile(rendererIndex);
}

app.enableSandbox();

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting) return;
  quitting = true;
  event.preventDefault();
  void Promise.allSettled([lab?.stop(), engine?.close()]).then(() => app.quit());
});

app
  .whenReady()
  .then(async () => {
    lockDown();
    registerIpc();
    buildMenu();
    const started = startEngine();
    await createWindow();
    await started;
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) void createWindow();
    });
  })
  .catch((error: unknown) => {
    console.error('trunklab: cannot start the desktop app:', error);
    app.exit(1);
  });

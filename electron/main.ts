/**
 * Electron main process: a thin shell that opens the renderer in a locked
 * down window. Placeholder until the desktop UI issue: the engine
 * (src/engine/) will be started here and bridged to the renderer.
 *
 * Security (https://www.electronjs.org/docs/latest/tutorial/security):
 * sandboxed, context-isolated renderer without Node; a strict
 * Content-Security-Policy (a <meta> tag injected into the built index.html
 * by renderer/vite.config.ts, since file:// responses carry no headers; a
 * header for the Vite dev server); no navigation away from the app, no new
 * windows, no permissions; IPC only from our own page, arguments validated.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { app, BrowserWindow, type IpcMainEvent, type IpcMainInvokeEvent, ipcMain, session } from 'electron';

import { CHANNELS, isLogLevel, isLogMessage } from './ipc.ts';

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

/** True for the pages of our own renderer, and nothing else. */
function isAppUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (devServerUrl) return url.origin === new URL(devServerUrl).origin;
  return url.protocol === 'file:' && url.pathname === pathToFileURL(rendererIndex).pathname;
}

function assertFromApp(event: IpcMainEvent | IpcMainInvokeEvent): void {
  const url = event.senderFrame?.url;
  if (url === undefined || !isAppUrl(url)) throw new Error(`IPC refused from ${url ?? 'a destroyed frame'}`);
}

function registerIpc(): void {
  ipcMain.handle(CHANNELS.version, (event, ...args: unknown[]) => {
    assertFromApp(event);
    if (args.length !== 0) throw new TypeError(`${CHANNELS.version} takes no arguments`);
    return app.getVersion();
  });
  ipcMain.on(CHANNELS.log, (event, ...args: unknown[]) => {
    try {
      assertFromApp(event);
    } catch (error) {
      console.warn(String(error));
      return;
    }
    const [level, message] = args;
    if (args.length !== 2 || !isLogLevel(level) || !isLogMessage(message)) {
      console.warn(`${CHANNELS.log}: malformed message ignored`);
      return;
    }
    console[level](`[renderer] ${message}`);
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
  const mainWindow = new BrowserWindow({
    width: 1280,
    height: 800,
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
  mainWindow.once('ready-to-show', () => mainWindow.show());
  if (devServerUrl) await mainWindow.loadURL(devServerUrl);
  else await mainWindow.loadFile(rendererIndex);
}

app.enableSandbox();

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app
  .whenReady()
  .then(async () => {
    lockDown();
    registerIpc();
    await createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) void createWindow();
    });
  })
  .catch((error: unknown) => {
    console.error('trunklab: cannot start the desktop app:', error);
    app.exit(1);
  });

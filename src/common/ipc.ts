/**
 * The IPC contract between the desktop app's preload script and its main
 * process (electron/): channel names, and the check every message from the
 * page gets in main before anything reaches the engine. Pure functions of
 * plain data, so that they are unit-tested without Electron
 * (src/common/ipc.test.ts) and bundled into both sides.
 *
 * Engine commands travel as (method, params) over one invoke channel and
 * are checked with `checkArgs` (rpc.ts), the validation the WebSocket host
 * applies too. Event batches come back on one channel. The renderer sees
 * only `window.trunklab` (electron/preload.ts), mirrored in
 * renderer/src/bridge.ts.
 */
import { checkArgs, isRpcMethod, type RpcMethod } from './rpc.ts';

export const CHANNELS = {
  version: 'trunklab:version',
  log: 'trunklab:log',
  rpc: 'trunklab:rpc',
  events: 'trunklab:events',
} as const;

export const LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Longer log messages are refused, not truncated: a renderer bug, not data. */
export const MAX_LOG_MESSAGE_LENGTH = 4000;

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

export function isLogMessage(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_LOG_MESSAGE_LENGTH;
}

/** A message from the page, checked: what main may act on. */
export type IpcCall =
  | { channel: typeof CHANNELS.rpc; method: RpcMethod; params: unknown[] }
  | { channel: typeof CHANNELS.version }
  | { channel: typeof CHANNELS.log; level: LogLevel; message: string };

/**
 * Checks one message from the page on `channel` with the arguments the
 * page sent (after Electron's own event argument). Throws a TypeError that
 * says what is wrong; returns the arguments checked and copied (unknown
 * properties refused, strings bounded).
 */
export function checkIpc(channel: string, args: readonly unknown[]): IpcCall {
  switch (channel) {
    case CHANNELS.rpc: {
      const [method, params] = args;
      if (args.length !== 2 || !isRpcMethod(method)) throw new TypeError(`${CHANNELS.rpc}: expected (method, params) with a known method`);
      return { channel, method, params: checkArgs(method, params) };
    }
    case CHANNELS.version:
      if (args.length !== 0) throw new TypeError(`${CHANNELS.version} takes no arguments`);
      return { channel };
    case CHANNELS.log: {
      const [level, message] = args;
      if (args.length !== 2 || !isLogLevel(level) || !isLogMessage(message)) {
        throw new TypeError(`${CHANNELS.log}: expected (info|warn|error, a string of at most ${MAX_LOG_MESSAGE_LENGTH} characters)`);
      }
      return { channel, level, message };
    }
    default:
      throw new TypeError(`unknown IPC channel ${JSON.stringify(channel)}`);
  }
}

/** Where the app's own page is: the Vite dev server (electron-forge start), or the built index.html as a file URL. */
export interface AppPage {
  devServerUrl?: string;
  /** `pathToFileURL(index.html).pathname` of the built renderer. */
  indexPathname: string;
}

/** True for the pages of our own renderer, and nothing else (IPC from any other frame is refused). */
export function isAppUrl(raw: string, app: AppPage): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (app.devServerUrl) {
    try {
      return url.origin === new URL(app.devServerUrl).origin;
    } catch {
      return false;
    }
  }
  return url.protocol === 'file:' && url.host === '' && url.pathname === app.indexPathname;
}

/**
 * Preload script (sandboxed, context-isolated): the only bridge between the
 * page and the main process. It exposes `window.trunklab`, a small frozen
 * object of functions; the page never sees ipcRenderer or any Node object.
 * Arguments are checked here and checked again in main.ts.
 */
import { contextBridge, type IpcRendererEvent, ipcRenderer } from 'electron';

import type { BridgeEvent } from '../src/common/api.ts';
import { isRpcMethod, type RpcMethod } from '../src/common/rpc.ts';
import { CHANNELS, isLogLevel, isLogMessage, type LogLevel, MAX_LOG_MESSAGE_LENGTH } from '../src/common/ipc.ts';

const trunklab = Object.freeze({
  /** The application version (package.json), from the main process. */
  async version(): Promise<string> {
    const version: unknown = await ipcRenderer.invoke(CHANNELS.version);
    if (typeof version !== 'string') throw new TypeError('trunklab.version: unexpected reply');
    return version;
  },
  /** Writes a line to the main process's log (stdout of `electron-forge start`). */
  log(level: LogLevel, message: string): void {
    if (!isLogLevel(level)) throw new TypeError('trunklab.log: level must be info, warn or error');
    if (!isLogMessage(message)) {
      throw new TypeError(`trunklab.log: message must be a string of at most ${MAX_LOG_MESSAGE_LENGTH} characters`);
    }
    ipcRenderer.send(CHANNELS.log, level, message);
  },
  /** One EngineApi command; main validates the arguments before the engine sees them. */
  call(method: RpcMethod, params: unknown[]): Promise<unknown> {
    if (!isRpcMethod(method)) return Promise.reject(new TypeError(`trunklab.call: unknown method ${String(method)}`));
    if (!Array.isArray(params)) return Promise.reject(new TypeError('trunklab.call: params must be an array'));
    return ipcRenderer.invoke(CHANNELS.rpc, method, params);
  },
  /** Engine event batches; returns the unsubscribe function. */
  onEvents(listener: (events: BridgeEvent[]) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('trunklab.onEvents: listener must be a function');
    const handler = (_event: IpcRendererEvent, events: unknown): void => {
      if (Array.isArray(events)) listener(events as BridgeEvent[]);
    };
    ipcRenderer.on(CHANNELS.events, handler);
    return () => {
      ipcRenderer.removeListener(CHANNELS.events, handler);
    };
  },
});

export type TrunklabBridge = typeof trunklab;

contextBridge.exposeInMainWorld('trunklab', trunklab);

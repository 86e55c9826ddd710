/**
 * The renderer's one EngineApi, whichever host it runs in:
 * - the desktop app: electron/preload.ts exposes `window.trunklab`, which
 *   forwards each command over IPC (arguments are checked again in main);
 * - browser mode: a WebSocket to `trunklab serve`, with the token from the
 *   page URL (`/?token=…`).
 * Both deliver engine events in batches.
 */
import type { BridgeEvent, EngineApi } from '../../src/common/api.ts';
import type { RpcMethod } from '../../src/common/rpc.ts';

export type LogLevel = 'info' | 'warn' | 'error';

/** Mirrors the object electron/preload.ts exposes (the renderer may not import it). */
export interface TrunklabBridge {
  version(): Promise<string>;
  log(level: LogLevel, message: string): void;
  call(method: RpcMethod, params: unknown[]): Promise<unknown>;
  onEvents(listener: (events: BridgeEvent[]) => void): () => void;
}

declare global {
  interface Window {
    readonly trunklab?: TrunklabBridge;
  }
}

export type ConnectionState = 'connecting' | 'open' | 'closed' | 'refused';

export interface Connection {
  api: EngineApi;
  kind: 'desktop' | 'browser';
  /** Called when the link goes up or down (the WebSocket reconnects by itself). */
  onState(listener: (state: ConnectionState) => void): () => void;
}

/** The bridge when running in the desktop app, undefined in a browser. */
export function desktopBridge(): TrunklabBridge | undefined {
  return window.trunklab;
}

function apiOver(call: (method: RpcMethod, params: unknown[]) => Promise<unknown>, subscribe: EngineApi['subscribe']): EngineApi {
  const c =
    <T>(method: RpcMethod) =>
    (...params: unknown[]): Promise<T> =>
      call(method, params) as Promise<T>;
  return {
    status: c('status'),
    messages: c('messages'),
    messageDetail: c('messageDetail'),
    calls: c('calls'),
    placeCall: c('placeCall'),
    callAction: c('callAction'),
    uploadStart: c('uploadStart'),
    uploadChunk: c('uploadChunk'),
    uploadFinish: c('uploadFinish'),
    exportTrace: c('exportTrace'),
    clear: c('clear'),
    openView: c('openView'),
    viewRows: c('viewRows'),
    viewLocate: c('viewLocate'),
    closeView: c('closeView'),
    traceCalls: c('traceCalls'),
    traceCall: c('traceCall'),
    qualifyCases: c('qualifyCases'),
    qualifyRun: c('qualifyRun'),
    qualifyStop: c('qualifyStop'),
    qualifyState: c('qualifyState'),
    qualifyReport: c('qualifyReport'),
    flowDiff: c('flowDiff'),
    subscribe,
  };
}

function desktopConnection(bridge: TrunklabBridge): Connection {
  return {
    api: apiOver(bridge.call, bridge.onEvents),
    kind: 'desktop',
    onState(listener) {
      listener('open');
      return () => {};
    },
  };
}

function browserConnection(): Connection {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws?token=${encodeURIComponent(token)}`;
  const listeners = new Set<(events: BridgeEvent[]) => void>();
  const stateListeners = new Set<(state: ConnectionState) => void>();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const queue: string[] = [];
  let ws: WebSocket | null = null;
  let nextId = 1;
  let state: ConnectionState = 'connecting';
  let everOpened = false;

  const setState = (s: ConnectionState): void => {
    state = s;
    for (const l of stateListeners) l(s);
  };

  const open = (): void => {
    const socket = new WebSocket(url);
    ws = socket;
    setState('connecting');
    socket.onopen = () => {
      everOpened = true;
      setState('open');
      for (const text of queue.splice(0)) socket.send(text);
    };
    socket.onmessage = (e: MessageEvent<string>) => {
      const msg = JSON.parse(e.data) as { events?: BridgeEvent[]; id?: number; result?: unknown; error?: { message: string } };
      if (msg.events) {
        for (const l of listeners) l(msg.events);
        return;
      }
      const p = pending.get(msg.id ?? -1);
      if (!p) return;
      pending.delete(msg.id ?? -1);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    };
    socket.onclose = () => {
      for (const p of pending.values()) p.reject(new Error('connection to trunklab serve lost'));
      pending.clear();
      // Refused before ever opening: the token is wrong or the host is gone.
      setState(everOpened ? 'closed' : 'refused');
      setTimeout(open, everOpened ? 1000 : 3000);
    };
  };
  open();

  const call = (method: RpcMethod, params: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      const text = JSON.stringify({ id, method, params });
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
      else queue.push(text);
    });

  return {
    api: apiOver(call, (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    }),
    kind: 'browser',
    onState(listener) {
      stateListeners.add(listener);
      listener(state);
      return () => stateListeners.delete(listener);
    },
  };
}

let connection: Connection | null = null;

export function connect(): Connection {
  connection ??= desktopBridge() ? desktopConnection(desktopBridge()!) : browserConnection();
  return connection;
}

/**
 * The desktop bridge: in the Electron app, electron/preload.ts exposes
 * `window.trunklab`; in browser mode (`trunklab serve`) there is none.
 * Mirrors the object in electron/preload.ts, which the renderer may not
 * import.
 */

export type LogLevel = 'info' | 'warn' | 'error';

export interface TrunklabBridge {
  version(): Promise<string>;
  log(level: LogLevel, message: string): void;
}

declare global {
  interface Window {
    readonly trunklab?: TrunklabBridge;
  }
}

/** The bridge when running in the desktop app, undefined in a browser. */
export function desktopBridge(): TrunklabBridge | undefined {
  return window.trunklab;
}

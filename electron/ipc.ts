/**
 * The IPC contract between the preload script and the main process: channel
 * names and the checks both sides apply to every argument. Bundled into both
 * (the sandboxed preload cannot load files at run time).
 *
 * Engine commands travel as (method, params) over one invoke channel; the
 * main process checks them with `checkArgs` (src/common/rpc.ts), the same
 * validation the WebSocket host applies. Event batches come back on one
 * channel. The renderer sees only `window.trunklab` (see preload.ts); its
 * type is mirrored in renderer/src/bridge.ts.
 */

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

/**
 * The wire protocol of the EngineApi over a WebSocket (browser mode) and
 * over Electron IPC (desktop): one request names a method and carries its
 * arguments as a JSON array; the answer carries a result or an error; the
 * engine pushes event batches. Both hosts validate every argument with
 * `checkArgs` before anything reaches the engine: the page is not trusted.
 */
import {
  CALL_ACTIONS,
  type CallActionRequest,
  EXPORT_FORMATS,
  type ExportRequest,
  type FlowDiffRequest,
  type FlowRef,
  type PlaceCallRequest,
  type QualifyRunRequest,
  type TraceFilter,
  type UploadStart,
} from './api.ts';
import type { BridgeEvent } from './api.ts';

/** Commands of EngineApi callable over a bridge (everything but subscribe). */
export const RPC_METHODS = [
  'status',
  'messages',
  'messageDetail',
  'calls',
  'placeCall',
  'callAction',
  'uploadStart',
  'uploadChunk',
  'uploadFinish',
  'exportTrace',
  'clear',
  'openView',
  'viewRows',
  'viewLocate',
  'closeView',
  'traceCalls',
  'traceCall',
  'qualifyCases',
  'qualifyRun',
  'qualifyStop',
  'qualifyState',
  'qualifyReport',
  'flowDiff',
] as const;
export type RpcMethod = (typeof RPC_METHODS)[number];

export interface RpcRequest {
  id: number;
  method: RpcMethod;
  params: unknown[];
}

export type RpcResponse = { id: number; result: unknown } | { id: number; error: { message: string } };

export interface RpcEvents {
  events: BridgeEvent[];
}

/** Largest chunk of an upload, in base64 characters (≈ 1.5 MB of file). */
export const MAX_UPLOAD_CHUNK = 2 * 1024 * 1024;
/** Largest file accepted by upload. */
export const MAX_UPLOAD_SIZE = 2 * 1024 * 1024 * 1024;
/** At most this many summaries per `messages` or `viewRows` call. */
export const MAX_MESSAGE_PAGE = 20_000;
/** At most this many calls per `traceCalls` call. */
export const MAX_CALL_PAGE = 2_000;
/** Views are numbered from 1. */
const isViewId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

export function isRpcMethod(value: unknown): value is RpcMethod {
  return typeof value === 'string' && (RPC_METHODS as readonly string[]).includes(value);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isShortString = (v: unknown, max = 256): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

function onlyKeys(value: Record<string, unknown>, keys: readonly string[], what: string): void {
  for (const key of Object.keys(value)) if (!keys.includes(key)) throw new TypeError(`${what}: unknown property ${JSON.stringify(key)}`);
}

function placeCallRequest(v: unknown): PlaceCallRequest {
  if (!isObject(v)) throw new TypeError('placeCall: expected {from, to}');
  onlyKeys(v, ['from', 'to'], 'placeCall');
  if (!isShortString(v.from) || !isShortString(v.to)) throw new TypeError('placeCall: from and to must be non-empty strings');
  return { from: v.from.trim(), to: v.to.trim() };
}

function callActionRequest(v: unknown): CallActionRequest {
  if (!isObject(v)) throw new TypeError('callAction: expected {action, …}');
  onlyKeys(v, ['action', 'target', 'digits', 'replaces', 'direction'], 'callAction');
  if (typeof v.action !== 'string' || !(CALL_ACTIONS as readonly string[]).includes(v.action)) {
    throw new TypeError(`callAction: action must be one of ${CALL_ACTIONS.join(', ')}`);
  }
  const out: CallActionRequest = { action: v.action as CallActionRequest['action'] };
  if (v.target !== undefined) {
    if (!isShortString(v.target)) throw new TypeError('callAction: target must be a non-empty string');
    out.target = v.target;
  }
  if (v.digits !== undefined) {
    if (typeof v.digits !== 'string' || !/^[0-9*#A-Da-d]{1,32}$/.test(v.digits)) throw new TypeError('callAction: digits must be 1-32 of 0-9 * # A-D');
    out.digits = v.digits.toUpperCase();
  }
  if (v.replaces !== undefined) {
    if (!isShortString(v.replaces, 1024)) throw new TypeError('callAction: replaces must be a call id');
    out.replaces = v.replaces;
  }
  if (v.direction !== undefined) {
    if (v.direction !== 'sendonly' && v.direction !== 'inactive') throw new TypeError('callAction: direction must be sendonly or inactive');
    out.direction = v.direction;
  }
  if (out.action === 'transfer' && out.target === undefined && out.replaces === undefined) throw new TypeError('callAction: transfer needs a target or a call to replace');
  if (out.action === 'dtmf' && out.digits === undefined) throw new TypeError('callAction: dtmf needs digits');
  return out;
}

const FILTER_STRINGS = ['callKey', 'legKey', 'labCall', 'callId', 'element', 'method', 'text', 'source'] as const;

/** A ladder filter: known keys only, short strings, a boolean for hideOptions. */
export function traceFilter(v: unknown, what = 'filter'): TraceFilter {
  if (!isObject(v)) throw new TypeError(`${what}: expected an object`);
  onlyKeys(v, [...FILTER_STRINGS, 'hideOptions'], what);
  const out: TraceFilter = {};
  for (const key of FILTER_STRINGS) {
    const value = v[key];
    if (value === undefined || value === '') continue;
    if (!isShortString(value, 1024)) throw new TypeError(`${what}: ${key} must be a string of at most 1024 characters`);
    out[key] = value;
  }
  if (v.hideOptions !== undefined) {
    if (typeof v.hideOptions !== 'boolean') throw new TypeError(`${what}: hideOptions must be true or false`);
    if (v.hideOptions) out.hideOptions = true;
  }
  return out;
}

function exportRequest(v: unknown): ExportRequest {
  if (!isObject(v)) throw new TypeError('exportTrace: expected {format, selection?, side?}');
  onlyKeys(v, ['format', 'selection', 'side'], 'exportTrace');
  if (typeof v.format !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(v.format)) {
    throw new TypeError(`exportTrace: format must be one of ${EXPORT_FORMATS.join(', ')}`);
  }
  const out: ExportRequest = { format: v.format as ExportRequest['format'] };
  if (v.selection !== undefined) {
    const s = v.selection;
    if (!isObject(s)) throw new TypeError('exportTrace: selection must be an object');
    onlyKeys(s, ['indexes', 'callKey', 'filter'], 'exportTrace selection');
    out.selection = {};
    if (s.indexes !== undefined) {
      if (!Array.isArray(s.indexes) || s.indexes.length > 10_000_000 || !s.indexes.every(isIndex)) {
        throw new TypeError('exportTrace: selection.indexes must be message indexes');
      }
      out.selection.indexes = s.indexes as number[];
    }
    if (s.callKey !== undefined) {
      if (!isShortString(s.callKey, 1024)) throw new TypeError('exportTrace: selection.callKey must be a string');
      out.selection.callKey = s.callKey;
    }
    if (s.filter !== undefined) out.selection.filter = traceFilter(s.filter, 'exportTrace: selection.filter');
  }
  if (v.side !== undefined) {
    if (!isShortString(v.side, 256)) throw new TypeError('exportTrace: side must be a non-empty string');
    out.side = v.side;
  }
  return out;
}

/** At most this many external devices and case ids in one run. */
export const MAX_EXTERNAL = 16;
const MAX_CASE_IDS = 500;
/** `PEER=HOST:PORT[/transport]`, as `trunklab suite --external` takes it (the topology checks the rest). */
const EXTERNAL = /^[A-Za-z0-9_.-]{1,64}=[^\s=]{1,200}$/;

function qualifyRunRequest(v: unknown): QualifyRunRequest {
  if (!isObject(v)) throw new TypeError('qualifyRun: expected {cases?, ids?, external?, timeScale?, t1Ms?}');
  onlyKeys(v, ['cases', 'ids', 'external', 'timeScale', 't1Ms'], 'qualifyRun');
  const out: QualifyRunRequest = {};
  if (v.cases !== undefined && v.cases !== '') {
    if (!isShortString(v.cases, 1024)) throw new TypeError('qualifyRun: cases must be a pattern of at most 1024 characters');
    out.cases = v.cases.trim();
  }
  if (v.ids !== undefined) {
    if (!Array.isArray(v.ids) || v.ids.length > MAX_CASE_IDS || !v.ids.every((id) => isShortString(id, 128))) {
      throw new TypeError(`qualifyRun: ids must be at most ${MAX_CASE_IDS} case ids`);
    }
    out.ids = [...(v.ids as string[])];
  }
  if (v.external !== undefined) {
    if (!Array.isArray(v.external) || v.external.length > MAX_EXTERNAL) throw new TypeError(`qualifyRun: external must be a list of at most ${MAX_EXTERNAL} devices`);
    out.external = v.external.map((e) => {
      if (typeof e !== 'string' || !EXTERNAL.test(e.trim())) throw new TypeError(`qualifyRun: external device ${JSON.stringify(e)} is not PEER=HOST:PORT[/udp|tcp|tls]`);
      return e.trim();
    });
  }
  if (v.timeScale !== undefined) {
    if (typeof v.timeScale !== 'number' || !Number.isFinite(v.timeScale) || v.timeScale <= 0 || v.timeScale > 10) throw new TypeError('qualifyRun: timeScale must be above 0 and up to 10');
    out.timeScale = v.timeScale;
  }
  if (v.t1Ms !== undefined) {
    if (!Number.isSafeInteger(v.t1Ms) || (v.t1Ms as number) < 10 || (v.t1Ms as number) > 10_000) throw new TypeError('qualifyRun: t1Ms must be an integer from 10 to 10000');
    out.t1Ms = v.t1Ms as number;
  }
  return out;
}

function flowRef(v: unknown, what: string): FlowRef {
  if (!isObject(v)) throw new TypeError(`${what}: expected {callKey} or {source}`);
  onlyKeys(v, ['callKey', 'source'], what);
  const callKey = v.callKey === '' ? undefined : v.callKey;
  const source = v.source === '' ? undefined : v.source;
  if ((callKey === undefined) === (source === undefined)) throw new TypeError(`${what}: give either callKey or source`);
  if (callKey !== undefined) {
    if (!isShortString(callKey, 1024)) throw new TypeError(`${what}: callKey must be a string`);
    return { callKey };
  }
  if (!isShortString(source, 256)) throw new TypeError(`${what}: source must be a string`);
  return { source };
}

function flowDiffRequest(v: unknown): FlowDiffRequest {
  if (!isObject(v)) throw new TypeError('flowDiff: expected {a, b, all?}');
  onlyKeys(v, ['a', 'b', 'all'], 'flowDiff');
  const out: FlowDiffRequest = { a: flowRef(v.a, 'flowDiff a'), b: flowRef(v.b, 'flowDiff b') };
  if (v.all !== undefined) {
    if (typeof v.all !== 'boolean') throw new TypeError('flowDiff: all must be true or false');
    if (v.all) out.all = true;
  }
  return out;
}

function uploadStart(v: unknown): UploadStart {
  if (!isObject(v)) throw new TypeError('uploadStart: expected {name, size}');
  onlyKeys(v, ['name', 'size'], 'uploadStart');
  if (!isShortString(v.name, 1024)) throw new TypeError('uploadStart: name must be a non-empty string');
  if (!isIndex(v.size) || v.size > MAX_UPLOAD_SIZE) throw new TypeError('uploadStart: size must be 0 … 2 GiB');
  return { name: v.name, size: v.size };
}

function arity(method: string, params: unknown[], n: number): void {
  if (params.length !== n) throw new TypeError(`${method} takes ${n} argument${n === 1 ? '' : 's'}, got ${params.length}`);
}

/**
 * The arguments of `method`, checked and copied (unknown properties
 * refused); throws a TypeError saying what is wrong.
 */
export function checkArgs(method: RpcMethod, params: unknown): unknown[] {
  if (!Array.isArray(params)) throw new TypeError(`${method}: params must be an array`);
  switch (method) {
    case 'status':
    case 'calls':
    case 'clear':
    case 'qualifyCases':
    case 'qualifyStop':
    case 'qualifyState':
      arity(method, params, 0);
      return [];
    case 'messages': {
      arity(method, params, 2);
      const [from, to] = params;
      if (!isIndex(from) || !isIndex(to) || to < from || to - from > MAX_MESSAGE_PAGE) {
        throw new TypeError(`messages: expected 0 ≤ from ≤ to, at most ${MAX_MESSAGE_PAGE} apart`);
      }
      return [from, to];
    }
    case 'messageDetail':
      arity(method, params, 1);
      if (!isIndex(params[0])) throw new TypeError('messageDetail: expected a message index');
      return [params[0]];
    case 'placeCall':
      arity(method, params, 1);
      return [placeCallRequest(params[0])];
    case 'callAction':
      arity(method, params, 2);
      if (!isShortString(params[0], 1024)) throw new TypeError('callAction: expected a call id');
      return [params[0], callActionRequest(params[1])];
    case 'uploadStart':
      arity(method, params, 1);
      return [uploadStart(params[0])];
    case 'uploadChunk':
      arity(method, params, 2);
      if (!isShortString(params[0])) throw new TypeError('uploadChunk: expected an upload id');
      if (typeof params[1] !== 'string' || params[1].length > MAX_UPLOAD_CHUNK || !/^[A-Za-z0-9+/]*={0,2}$/.test(params[1])) {
        throw new TypeError('uploadChunk: data must be base64, at most 2 MiB of text');
      }
      return [params[0], params[1]];
    case 'uploadFinish':
      arity(method, params, 1);
      if (!isShortString(params[0])) throw new TypeError('uploadFinish: expected an upload id');
      return [params[0]];
    case 'exportTrace':
      arity(method, params, 1);
      return [exportRequest(params[0])];
    case 'openView': {
      if (params.length !== 1 && params.length !== 2) throw new TypeError(`openView takes 1 or 2 arguments, got ${params.length}`);
      const filter = traceFilter(params[0], 'openView');
      if (params.length === 1 || params[1] === undefined || params[1] === null) return [filter];
      if (!isViewId(params[1])) throw new TypeError('openView: replaces must be a view id');
      return [filter, params[1]];
    }
    case 'viewRows': {
      arity(method, params, 3);
      const [view, from, to] = params;
      if (!isViewId(view)) throw new TypeError('viewRows: expected a view id');
      if (!isIndex(from) || !isIndex(to) || to < from || to - from > MAX_MESSAGE_PAGE) {
        throw new TypeError(`viewRows: expected 0 ≤ from ≤ to, at most ${MAX_MESSAGE_PAGE} apart`);
      }
      return [view, from, to];
    }
    case 'viewLocate':
      arity(method, params, 2);
      if (!isViewId(params[0])) throw new TypeError('viewLocate: expected a view id');
      if (!isIndex(params[1])) throw new TypeError('viewLocate: expected a message index');
      return [params[0], params[1]];
    case 'closeView':
      arity(method, params, 1);
      if (!isViewId(params[0])) throw new TypeError('closeView: expected a view id');
      return [params[0]];
    case 'traceCalls': {
      arity(method, params, 2);
      const [from, to] = params;
      if (!isIndex(from) || !isIndex(to) || to < from || to - from > MAX_CALL_PAGE) {
        throw new TypeError(`traceCalls: expected 0 ≤ from ≤ to, at most ${MAX_CALL_PAGE} apart`);
      }
      return [from, to];
    }
    case 'traceCall':
      arity(method, params, 1);
      if (!isShortString(params[0], 1024)) throw new TypeError('traceCall: expected a call key, a leg key, #index or a lab call id');
      return [params[0]];
    case 'qualifyRun':
      arity(method, params, 1);
      return [qualifyRunRequest(params[0])];
    case 'qualifyReport':
      arity(method, params, 1);
      if (params[0] !== 'junit' && params[0] !== 'html') throw new TypeError('qualifyReport: format must be junit or html');
      return [params[0]];
    case 'flowDiff':
      arity(method, params, 1);
      return [flowDiffRequest(params[0])];
  }
}

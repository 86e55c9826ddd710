/**
 * The headless host of browser mode: the built renderer over HTTP and the
 * EngineApi over a WebSocket, on a loopback address.
 *
 * Access: a random token made per run. The page URL carries it
 * (`/?token=…`); that response sets it as an HttpOnly, SameSite=Strict
 * cookie so the page's own asset requests carry it too; every other request
 * without it gets 403. The WebSocket (`/ws?token=…`) needs it in the URL
 * (a cookie alone would let another site's page open it) and an Origin of
 * this server. The Host header must name the loopback address, against DNS
 * rebinding.
 */
import { HEADER_CONTENT_SECURITY_POLICY } from '../common/csp.ts';
import { Buffer } from 'node:buffer';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type WebSocket, WebSocketServer } from 'ws';

import type { BridgeEvent, EngineApi } from '../common/api.ts';
import { checkArgs, isRpcMethod, type RpcResponse } from '../common/rpc.ts';

export const DEFAULT_RENDERER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'renderer');
const COOKIE = 'trunklab_token';
/** Largest WebSocket message: an upload chunk (2 MiB of base64) and its envelope. */
const MAX_PAYLOAD = 3 * 1024 * 1024;
/** A client that stops reading is dropped rather than buffered without end. */
const MAX_BUFFERED = 64 * 1024 * 1024;


const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export interface HostOptions {
  host?: string;
  port?: number;
  /** Folder of the built renderer (default dist/renderer). */
  rendererDir?: string;
  /** Fixed token (tests); random otherwise. */
  token?: string;
}

export interface RunningHost {
  /** The page URL with the token: `http://127.0.0.1:PORT/?token=…`. */
  url: string;
  host: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

function refuse(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${text}\n`);
}

export async function startHost(engine: EngineApi, options: HostOptions = {}): Promise<RunningHost> {
  const bindHost = options.host ?? '127.0.0.1';
  const rendererDir = path.resolve(options.rendererDir ?? DEFAULT_RENDERER_DIR);
  const token = options.token ?? randomBytes(24).toString('base64url');
  let port = 0;

  const hostAllowed = (req: IncomingMessage): boolean => {
    const h = req.headers.host ?? '';
    return h === `${bindHost}:${port}` || h === `localhost:${port}` || h === `[${bindHost}]:${port}`;
  };

  const server = createServer((req, res) => {
    void serveFile(req, res).catch((error: unknown) => {
      if (!res.headersSent) refuse(res, 500, 'internal error');
      console.error('trunklab host:', error);
    });
  });

  async function serveFile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req)) return refuse(res, 403, 'forbidden: unexpected Host header');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const queryToken = url.searchParams.get('token');
    const byQuery = sameToken(queryToken, token);
    if (!byQuery && !sameToken(cookieToken(req), token)) return refuse(res, 403, 'forbidden: this URL needs the token printed by trunklab serve');
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return refuse(res, 400, 'bad path');
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(rendererDir, `.${path.posix.normalize(rel)}`);
    if (file !== rendererDir && !file.startsWith(rendererDir + path.sep)) return refuse(res, 403, 'forbidden');
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(file);
      if (!info.isFile()) throw new Error('not a file');
    } catch {
      if (rel === '/index.html') return refuse(res, 503, 'the UI is not built: run `npm run build:renderer`');
      return refuse(res, 404, 'not found');
    }
    const headers: Record<string, string | string[]> = {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
      'Content-Security-Policy': HEADER_CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cache-Control': rel.startsWith('/assets/') ? 'private, max-age=31536000, immutable' : 'no-store',
    };
    if (byQuery) headers['Set-Cookie'] = `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const origin = req.headers.origin;
    const originOk = origin === undefined || origin === `http://${bindHost}:${port}` || origin === `http://localhost:${port}`;
    if (url.pathname !== '/ws' || !hostAllowed(req) || !originOk || !sameToken(url.searchParams.get('token'), token)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const unsubscribe = engine.subscribe((events: BridgeEvent[]) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED) {
        ws.close(1013, 'client too slow');
        return;
      }
      ws.send(JSON.stringify({ events }));
    });
    ws.on('close', unsubscribe);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'text frames only');
      let request: { id?: unknown; method?: unknown; params?: unknown };
      try {
        request = JSON.parse(data.toString());
      } catch {
        return ws.close(1007, 'not JSON');
      }
      const id = typeof request.id === 'number' ? request.id : -1;
      const reply = (response: RpcResponse): void => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(response));
      };
      void (async () => {
        try {
          if (!isRpcMethod(request.method)) throw new TypeError(`unknown method ${JSON.stringify(request.method)}`);
          const args = checkArgs(request.method, request.params ?? []);
          const fn = engine[request.method] as (...a: unknown[]) => Promise<unknown>;
          const result = await fn.apply(engine, args);
          reply({ id, result: result ?? null });
        } catch (error) {
          reply({ id, error: { message: error instanceof Error ? error.message : String(error) } });
        }
      })();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  return {
    url: `http://${urlHost}:${port}/?token=${token}`,
    host: bindHost,
    port,
    token,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

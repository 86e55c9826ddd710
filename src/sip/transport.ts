/**
 * The SIP transport layer (RFC 3261 §18) over real sockets: UDP, TCP and TLS
 * listening points of one emulated element, each bound to its own address.
 *
 * - Every datagram and every stream segment sent or received goes through the
 *   capture tap first, with the exact bytes (TLS: the cleartext, the tap sits
 *   above TLS). Nothing received is dropped silently: a message goes to
 *   `onMessage`, bytes that are not one to `onInvalid`, CRLF keep-alives to
 *   `onKeepAlive`, socket trouble to `onError` / `onConnection`.
 * - UDP is sent from the listening socket, so the source port is the
 *   listening port (SIPp and gateways answer to it). TCP/TLS connections we
 *   open bind their local address to the endpoint's host.
 * - Stream connections are reused (RFC 3261 §18.1.1, §18.2.2): a send with a
 *   `connId` uses that connection while it is open; otherwise an open (or
 *   opening) connection to the same transport/host/port is used; otherwise a
 *   new one is opened. Sends racing a connect share it.
 * - Keep-alives (RFC 5626 §3.5.1): a double-CRLF ping on a stream is answered
 *   with a single CRLF pong.
 *
 * Hot path: no per-byte loops over message data, one tap record object per
 * datagram/segment, datagrams are parsed in the Buffer dgram hands over.
 */
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { type CaptureTap, formatHostPort, type HostPort, nextCaptureSeq, nowUs, type TransportProtocol } from './capture.ts';
import { StreamFramer } from './framing.ts';
import type { SipMessage } from './message.ts';
import { parseMessage } from './parser.ts';
import { type NormalizedIp, normalizeIp } from './transport-address.ts';

export { normalizeIp } from './transport-address.ts';
import type { Destination, Flow, ListeningPoint, SendCallback, SipTransport } from './transport-types.ts';

export interface ListenSpec {
  transport: TransportProtocol;
  /** IPv4 or IPv6 literal (IPv6 with or without brackets). */
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export interface TransportTlsOptions {
  /** PEM private key (server side, and client certificate for mutual TLS). */
  key?: string | Buffer;
  cert?: string | Buffer;
  /** Trusted CAs (for a self-signed peer: its certificate). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Server side: ask the client for a certificate (mutual TLS, as Lync does). */
  requestCert?: boolean;
  /**
   * Verify the peer's certificate (the server's always when connecting; the
   * client's when `requestCert`). Default true, as in Node.
   */
  rejectUnauthorized?: boolean;
}

export interface TransportOptions {
  listen: ListenSpec[];
  tap?: CaptureTap;
  tls?: TransportTlsOptions;
  /** SO_RCVBUF/SO_SNDBUF wanted on UDP sockets (default 4 MiB; the kernel may cap it, see `socketInfo()`). */
  udpBufferBytes?: number;
  /** Close a stream connection with no traffic for this long (default 5 minutes; 0 disables). */
  idleTimeoutMs?: number;
  /** Give up a TCP connect / TLS handshake after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Largest message accepted on a stream (header section + body); beyond it the connection is closed (default 1 MiB). */
  maxMessageBytes?: number;
  /** Largest amount queued for a peer that does not read before its connection is closed (default 16 MiB). */
  maxWriteBufferBytes?: number;
}

/** A destination, optionally naming the listening point to send from (the one a request came in on). */
export interface SendDestination extends Destination {
  /** For UDP: send from the listening socket bound to this address; for a new TCP/TLS connection: bind to this host. */
  local?: HostPort;
}

export type StreamDirection = 'inbound' | 'outbound';

export interface ConnectionEvent {
  type: 'open' | 'close';
  connId: number;
  transport: 'tcp' | 'tls';
  direction: StreamDirection;
  local: HostPort;
  remote: HostPort;
  /** Why the connection closed ('close' events only). */
  reason?: string;
}

export interface TransportErrorEvent {
  /** Node/system error code when there is one (EADDRINUSE, ECONNRESET...), or a transport code. */
  code: string;
  message: string;
  transport?: TransportProtocol;
  local?: HostPort;
  remote?: HostPort;
  connId?: number | null;
  error?: unknown;
}

export interface SocketInfo extends ListeningPoint {
  /** UDP only: effective receive/send buffer sizes as the kernel reports them. */
  recvBufferBytes?: number;
  sendBufferBytes?: number;
}

export interface TransportStats {
  datagramsIn: number;
  datagramsOut: number;
  segmentsIn: number;
  segmentsOut: number;
  messagesIn: number;
  invalidIn: number;
  keepalivesIn: number;
  pongsOut: number;
  connectionsAccepted: number;
  connectionsOpened: number;
  errors: number;
}

/** A failed send: `code` says why (ECONNREFUSED, ETIMEDOUT, EMSGSIZE, ERR_TRANSPORT_CLOSED...). */
export class TransportError extends Error {
  readonly code: string;
  readonly destination: Destination | undefined;
  constructor(message: string, code: string, destination?: Destination, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TransportError';
    this.code = code;
    this.destination = destination;
  }
}

const DEFAULT_UDP_BUFFER = 4 * 1024 * 1024;
const DEFAULT_IDLE_MS = 5 * 60 * 1000;
const DEFAULT_CONNECT_MS = 10_000;
const DEFAULT_MAX_MESSAGE = 1024 * 1024;
const DEFAULT_MAX_WRITE_BUFFER = 16 * 1024 * 1024;
/** Largest UDP payload: 65535 - 20 (IPv4) - 8; IPv6 has no IP header in its payload length. */
const MAX_UDP4_PAYLOAD = 65507;
const MAX_UDP6_PAYLOAD = 65527;
const CRLF = Buffer.from('\r\n');
/** Longest gap inside one double-CRLF ping split over reads. */
const PING_SPLIT_MS = 1000;
/** Peer-side closures that are normal on a test bench: reported as a close reason, not as an error. */
const PEER_CLOSE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Stream connection ids, unique per process (CaptureRecord.connId). */
let lastConnId = 0;

/** Calls `done` with `err` on the next tick (a send's answer is never synchronous). */
function later(done: SendCallback | null, err: TransportError): void {
  if (done !== null) process.nextTick(done, err, null);
}

function uncork(conn: Conn): void {
  conn.corked = false;
  conn.socket.uncork();
}

/**
 * dgram resolves every destination, and the bind address, through the
 * socket's `lookup`; the default (dns.lookup) answers an IP literal on the
 * next tick, one tick per datagram. Every address here is an IP literal
 * (`#checkDest`, `normalizeIp`), so the answer is given at once.
 */
function literalLookup(address: string, family: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  callback(null, address, family === 6 ? 6 : 4);
}

interface UdpPoint {
  point: ListeningPoint;
  local: HostPort;
  family: 4 | 6;
  socket: dgram.Socket;
  closed: boolean;
}

interface StreamPoint {
  point: ListeningPoint;
  family: 4 | 6;
  server: net.Server;
}

interface Conn {
  id: number;
  transport: 'tcp' | 'tls';
  direction: StreamDirection;
  socket: net.Socket;
  state: 'connecting' | 'open' | 'closed';
  /** Set once connected (outbound) or at accept (inbound). */
  flow: Flow | null;
  framer: StreamFramer;
  /** Settles when connected (outbound) or fails. */
  ready: Promise<void>;
  /** Resolves on the socket's 'close'. */
  closed: Promise<void>;
  /** Reuse-table keys pointing at this connection. */
  keys: string[];
  /** Why we closed it, or what the peer did. */
  reason: string | null;
  /** Progress through "\r\n\r\n" in the current keep-alive run (RFC 5626 ping detection). */
  pingState: number;
  /** When the last keep-alive byte arrived (performance.now()), to tell a split ping from two lone CRLFs. */
  pingAt: number;
  /** Set when framing is lost: items after it are not delivered. */
  broken: boolean;
  /** Writes are corked until the end of this event-loop turn. */
  corked: boolean;
}

function reuseKey(transport: TransportProtocol, host: string, port: number): string {
  return `${transport} ${host} ${port}`;
}

function errCode(err: unknown, fallback = 'EUNKNOWN'): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && c.length > 0 ? c : fallback;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function freezeHostPort(host: string, port: number): HostPort {
  return Object.freeze({ host, port });
}

/**
 * Binds every listening point of `options.listen`; rejects (closing whatever
 * was bound) with an error naming the address when one cannot be bound.
 */
export async function createTransport(options: TransportOptions): Promise<TransportLayer> {
  const t = new TransportLayer(options);
  try {
    await t.bindAll();
  } catch (err) {
    await t.close();
    throw err;
  }
  return t;
}

export class TransportLayer implements SipTransport {
  readonly #options: TransportOptions;
  readonly #tap: CaptureTap | undefined;
  readonly #idleMs: number;
  readonly #connectMs: number;
  readonly #maxMessage: number;
  readonly #maxWriteBuffer: number;
  readonly #udpBuffer: number;
  readonly #listening: ListeningPoint[] = [];
  readonly #udp: UdpPoint[] = [];
  readonly #stream: StreamPoint[] = [];
  readonly #conns = new Map<number, Conn>();
  readonly #byRemote = new Map<string, Conn>();
  /** Raw sockets accepted by TLS servers (handshake not yet done included), destroyed on close(). */
  readonly #tlsRaw = new Set<net.Socket>();
  #messageHandlers: Array<(message: SipMessage, flow: Flow) => void> = [];
  #invalidHandlers: Array<(bytes: Uint8Array, flow: Flow, reason: string) => void> = [];
  #keepAliveHandlers: Array<(bytes: Uint8Array, flow: Flow) => void> = [];
  #errorHandlers: Array<(event: TransportErrorEvent) => void> = [];
  #connectionHandlers: Array<(event: ConnectionEvent) => void> = [];
  #closing: Promise<void> | null = null;
  #lastHost: string | null = null;
  #lastIp: NormalizedIp | null = null;
  #lastRemoteHost = '';
  readonly stats: TransportStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    segmentsIn: 0,
    segmentsOut: 0,
    messagesIn: 0,
    invalidIn: 0,
    keepalivesIn: 0,
    pongsOut: 0,
    connectionsAccepted: 0,
    connectionsOpened: 0,
    errors: 0,
  };

  /** Use `createTransport`; the constructor binds nothing. */
  constructor(options: TransportOptions) {
    this.#options = options;
    this.#tap = options.tap;
    this.#idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
    this.#connectMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_MS;
    this.#maxMessage = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    this.#maxWriteBuffer = options.maxWriteBufferBytes ?? DEFAULT_MAX_WRITE_BUFFER;
    this.#udpBuffer = options.udpBufferBytes ?? DEFAULT_UDP_BUFFER;
  }

  get listening(): readonly ListeningPoint[] {
    return this.#listening;
  }

  /** Open stream connections (inbound and outbound) by id. */
  get connectionIds(): number[] {
    const ids: number[] = [];
    for (const c of this.#conns.values()) if (isUsable(c)) ids.push(c.id);
    return ids;
  }

  sentBy(transport: TransportProtocol): HostPort {
    for (const p of this.#listening) if (p.transport === transport) return { host: p.host, port: p.port };
    throw new TransportError(`no ${transport} listening point on this endpoint`, 'ERR_NO_LISTENING_POINT');
  }

  /** Listening points with the effective UDP buffer sizes (the kernel caps SO_RCVBUF at net.core.rmem_max). */
  socketInfo(): SocketInfo[] {
    const out: SocketInfo[] = [];
    for (const p of this.#listening) {
      const u = this.#udp.find((x) => x.point === p);
      if (u && !u.closed) {
        let recv: number | undefined;
        let send: number | undefined;
        try {
          recv = u.socket.getRecvBufferSize();
          send = u.socket.getSendBufferSize();
        } catch {
          // closed meanwhile
        }
        out.push({ ...p, recvBufferBytes: recv, sendBufferBytes: send });
      } else out.push({ ...p });
    }
    return out;
  }

  onMessage(handler: (message: SipMessage, flow: Flow) => void): void {
    this.#messageHandlers.push(handler);
  }

  onInvalid(handler: (bytes: Uint8Array, flow: Flow, reason: string) => void): void {
    this.#invalidHandlers.push(handler);
  }

  /** CRLF keep-alives received (stream runs between messages, or CRLF-only/empty datagrams). */
  onKeepAlive(handler: (bytes: Uint8Array, flow: Flow) => void): void {
    this.#keepAliveHandlers.push(handler);
  }

  /** Socket errors that are not a send's failure (those reject the send). Without a handler they become process warnings. */
  onError(handler: (event: TransportErrorEvent) => void): void {
    this.#errorHandlers.push(handler);
  }

  /** Stream connections opening (accepted or connected) and closing, with the reason. */
  onConnection(handler: (event: ConnectionEvent) => void): void {
    this.#connectionHandlers.push(handler);
  }

  // ---------------------------------------------------------------- binding

  /** @internal called once by createTransport. */
  async bindAll(): Promise<void> {
    if (this.#options.listen.length === 0) throw new TransportError('no listening point given', 'ERR_NO_LISTENING_POINT');
    for (const spec of this.#options.listen) {
      const ip = normalizeIp(spec.host);
      if (ip === null) {
        throw new TransportError(`cannot listen on ${spec.transport} ${spec.host}: the host must be an IPv4 or IPv6 literal`, 'ERR_INVALID_ADDRESS');
      }
      if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) {
        throw new TransportError(`cannot listen on ${spec.transport} ${spec.host}: bad port ${spec.port}`, 'ERR_INVALID_PORT');
      }
      if (spec.transport === 'udp') await this.#bindUdp(ip.host, ip.family, spec.port);
      else if (spec.transport === 'tcp' || spec.transport === 'tls') await this.#bindStream(spec.transport, ip.host, ip.family, spec.port);
      else throw new TransportError(`unsupported transport ${String(spec.transport)}`, 'ERR_UNSUPPORTED_TRANSPORT');
    }
  }

  #bindError(transport: TransportProtocol, host: string, port: number, err: unknown): TransportError {
    const code = errCode(err);
    const where = `${transport} ${formatHostPort({ host, port })}`;
    let hint = '';
    if (code === 'EADDRINUSE') hint = ': address already in use (another process or endpoint has this port)';
    else if (code === 'EADDRNOTAVAIL') hint = ': address not available on this host (on macOS, loopback aliases other than 127.0.0.1 need `ifconfig lo0 alias`)';
    else if (code === 'EACCES') hint = ': permission denied (ports below 1024 need privileges)';
    return new TransportError(`cannot listen on ${where}${hint} (${code}: ${errMessage(err)})`, code, { transport, host, port }, err);
  }

  async #bindUdp(host: string, family: 4 | 6, port: number): Promise<void> {
    const socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: family === 6,
      reuseAddr: false,
      lookup: literalLookup as unknown as dgram.SocketOptions['lookup'],
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.off('listening', onListening);
        try {
          socket.close();
        } catch {
          // never bound
        }
        reject(this.#bindError('udp', host, port, err));
      };
      const onListening = (): void => {
        socket.off('error', onError);
        resolve();
      };
      socket.once('error', onError);
      socket.once('listening', onListening);
      socket.bind({ address: host, port, exclusive: true });
    });
    this.#setUdpBuffers(socket);
    const actual = socket.address().port;
    const point: ListeningPoint = Object.freeze({ transport: 'udp' as const, host, port: actual });
    const u: UdpPoint = { point, local: freezeHostPort(host, actual), family, socket, closed: false };
    this.#udp.push(u);
    this.#listening.push(point);
    socket.on('message', (msg, rinfo) => this.#onDatagram(u, msg, rinfo));
    socket.on('error', (err) => {
      // Unconnected UDP sockets get no ICMP errors on Linux; where they do (ECONNREFUSED on some
      // systems), they are not worth a warning.
      if (errCode(err) === 'ECONNREFUSED') return;
      this.#emitError({ code: errCode(err), message: `udp ${formatHostPort(u.local)}: ${errMessage(err)}`, transport: 'udp', local: u.local, error: err });
    });
    socket.on('close', () => {
      u.closed = true;
    });
  }

  #setUdpBuffers(socket: dgram.Socket): void {
    // Set after bind (createSocket's options throw from inside the bind when the kernel refuses a size).
    for (const set of [(n: number) => socket.setRecvBufferSize(n), (n: number) => socket.setSendBufferSize(n)]) {
      let size = this.#udpBuffer;
      while (size >= 64 * 1024) {
        try {
          set(size);
          break;
        } catch {
          size >>= 1;
        }
      }
    }
  }

  async #bindStream(transport: 'tcp' | 'tls', host: string, family: 4 | 6, port: number): Promise<void> {
    let server: net.Server;
    if (transport === 'tls') {
      const o = this.#options.tls;
      if (!o?.key || !o.cert) {
        throw new TransportError(`cannot listen on tls ${formatHostPort({ host, port })}: options.tls.key and options.tls.cert are required`, 'ERR_TLS_CONFIG');
      }
      let tlsServer: tls.Server;
      try {
        tlsServer = tls.createServer({
          key: o.key,
          cert: o.cert,
          ca: o.ca,
          requestCert: o.requestCert ?? false,
          rejectUnauthorized: o.rejectUnauthorized ?? true,
          handshakeTimeout: this.#connectMs,
        });
      } catch (err) {
        throw new TransportError(`cannot listen on tls ${formatHostPort({ host, port })}: bad TLS configuration (${errMessage(err)})`, 'ERR_TLS_CONFIG', undefined, err);
      }
      tlsServer.on('connection', (raw: net.Socket) => {
        // Reading the peer address now caches it: a handshake failure is reported after the handle is gone.
        void raw.remoteAddress;
        this.#tlsRaw.add(raw);
        raw.once('close', () => this.#tlsRaw.delete(raw));
        // A raw socket error before the TLS layer owns it must not be unhandled.
        raw.on('error', () => {});
      });
      tlsServer.on('secureConnection', (s: tls.TLSSocket) => this.#accept('tls', s));
      tlsServer.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
        // The TLS socket may be destroyed already; its raw socket (internal `_parent`) still knows the peer.
        const raw = (s as unknown as { _parent?: net.Socket })._parent;
        const host = s.remoteAddress ?? raw?.remoteAddress;
        const remote = host ? { host: normalizeIp(host)?.host ?? host, port: s.remotePort ?? raw?.remotePort ?? 0 } : undefined;
        this.#emitError({
          code: errCode(err, 'ERR_TLS_HANDSHAKE'),
          message: `tls handshake from ${remote ? formatHostPort(remote) : 'unknown peer'} failed: ${errMessage(err)}`,
          transport: 'tls',
          remote,
          error: err,
        });
      });
      server = tlsServer;
    } else {
      server = net.createServer({ noDelay: true }, (s) => this.#accept('tcp', s));
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(this.#bindError(transport, host, port, err));
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host, port, ipv6Only: family === 6, exclusive: true, backlog: 1024 });
    });
    const addr = server.address() as net.AddressInfo;
    const point: ListeningPoint = Object.freeze({ transport, host, port: addr.port });
    this.#stream.push({ point, family, server });
    this.#listening.push(point);
    server.on('error', (err) => {
      this.#emitError({ code: errCode(err), message: `${transport} ${formatHostPort(point)}: ${errMessage(err)}`, transport, local: point, error: err });
    });
  }

  // ---------------------------------------------------------------- events out

  #emitError(event: TransportErrorEvent): void {
    this.stats.errors++;
    if (this.#errorHandlers.length === 0) {
      process.emitWarning(event.message, { code: `TRUNKLAB_${event.code}`, type: 'SipTransportWarning' });
      return;
    }
    for (const h of this.#errorHandlers) {
      try {
        h(event);
      } catch {
        // an error handler that throws has nowhere left to report to
      }
    }
  }

  #handlerFailed(what: string, err: unknown): void {
    this.#emitError({ code: 'ERR_HANDLER', message: `${what} handler threw: ${errMessage(err)}`, error: err });
  }

  #tapRecord(direction: 'in' | 'out', transport: TransportProtocol, local: HostPort, remote: HostPort, connId: number | null, bytes: Uint8Array): void {
    const tap = this.#tap;
    if (tap === undefined) return;
    try {
      tap({ seq: nextCaptureSeq(), timeUs: nowUs(), direction, transport, local, remote, connId, bytes });
    } catch (err) {
      this.#handlerFailed('capture tap', err);
    }
  }

  #emitMessage(message: SipMessage, flow: Flow): void {
    this.stats.messagesIn++;
    const hs = this.#messageHandlers;
    for (let i = 0; i < hs.length; i++) {
      try {
        hs[i](message, flow);
      } catch (err) {
        this.#handlerFailed('onMessage', err);
      }
    }
  }

  #emitInvalid(bytes: Uint8Array, flow: Flow, reason: string): void {
    this.stats.invalidIn++;
    for (const h of this.#invalidHandlers) {
      try {
        h(bytes, flow, reason);
      } catch (err) {
        this.#handlerFailed('onInvalid', err);
      }
    }
  }

  #emitKeepAlive(bytes: Uint8Array, flow: Flow): void {
    this.stats.keepalivesIn++;
    for (const h of this.#keepAliveHandlers) {
      try {
        h(bytes, flow);
      } catch (err) {
        this.#handlerFailed('onKeepAlive', err);
      }
    }
  }

  #emitConnection(conn: Conn, type: 'open' | 'close'): void {
    if (this.#connectionHandlers.length === 0 || conn.flow === null) return;
    const event: ConnectionEvent = {
      type,
      connId: conn.id,
      transport: conn.transport,
      direction: conn.direction,
      local: conn.flow.local,
      remote: conn.flow.remote,
    };
    if (type === 'close') event.reason = conn.reason ?? 'closed';
    for (const h of this.#connectionHandlers) {
      try {
        h(event);
      } catch (err) {
        this.#handlerFailed('onConnection', err);
      }
    }
  }

  // ---------------------------------------------------------------- UDP receive

  #onDatagram(u: UdpPoint, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.stats.datagramsIn++;
    // One string per peer address rather than one per datagram: flows are kept by transactions for 32 s.
    let host = rinfo.address;
    if (host === this.#lastRemoteHost) host = this.#lastRemoteHost;
    else this.#lastRemoteHost = host;
    const remote: HostPort = { host, port: rinfo.port };
    this.#tapRecord('in', 'udp', u.local, remote, null, msg);
    const flow: Flow = { transport: 'udp', local: u.local, remote, connId: null };
    const r = parseMessage(msg, { datagram: true });
    if (!r.ok) {
      if (r.error.code === 'empty') this.#emitKeepAlive(msg, flow);
      else this.#emitInvalid(msg, flow, `${r.error.code}: ${r.error.message}`);
      return;
    }
    const m = r.message;
    if (m.kind === 'response' && m.diagnostics.length > 0) {
      // RFC 3261 §18.3: a response whose datagram ends before its Content-Length body MUST be discarded.
      // (A truncated request is delivered with the diagnostic: the element SHOULD answer 400.)
      const d = m.diagnostics.find((x) => x.code === 'content-length-exceeds');
      if (d) {
        this.#emitInvalid(msg, flow, `truncated response: ${d.message} (discarded, RFC 3261 §18.3)`);
        return;
      }
    }
    this.#emitMessage(m, flow);
  }

  // ---------------------------------------------------------------- streams

  #newConn(transport: 'tcp' | 'tls', direction: StreamDirection, socket: net.Socket): Conn {
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => {
      resolveClosed = r;
    });
    const conn: Conn = {
      id: ++lastConnId,
      transport,
      direction,
      socket,
      state: direction === 'inbound' ? 'open' : 'connecting',
      flow: null,
      framer: new StreamFramer({ maxHeaderBytes: Math.min(64 * 1024, this.#maxMessage), maxBodyBytes: this.#maxMessage }),
      ready: Promise.resolve(),
      closed,
      keys: [],
      reason: null,
      pingState: 0,
      pingAt: 0,
      broken: false,
      corked: false,
    };
    this.#conns.set(conn.id, conn);
    socket.on('data', (chunk: Buffer) => this.#onStreamData(conn, chunk));
    socket.on('end', () => {
      if (conn.reason === null) conn.reason = 'closed by peer (FIN)';
    });
    socket.on('error', (err) => this.#onStreamError(conn, err));
    socket.on('timeout', () => {
      if (conn.state === 'open') this.#closeConn(conn, `idle for ${this.#idleMs} ms`);
    });
    socket.on('close', () => {
      this.#onStreamClose(conn);
      resolveClosed();
    });
    return conn;
  }

  #register(conn: Conn, key: string, overwrite: boolean): void {
    const existing = this.#byRemote.get(key);
    if (existing && existing !== conn && !overwrite && existing.state !== 'closed') return;
    this.#byRemote.set(key, conn);
    conn.keys.push(key);
  }

  #flowOf(conn: Conn, socket: net.Socket): Flow {
    const localHost = normalizeIp(socket.localAddress ?? '')?.host ?? socket.localAddress ?? '';
    const remoteHost = normalizeIp(socket.remoteAddress ?? '')?.host ?? socket.remoteAddress ?? '';
    return Object.freeze({
      transport: conn.transport,
      local: freezeHostPort(localHost, socket.localPort ?? 0),
      remote: freezeHostPort(remoteHost, socket.remotePort ?? 0),
      connId: conn.id,
    });
  }

  #accept(transport: 'tcp' | 'tls', socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.stats.connectionsAccepted++;
    socket.setNoDelay(true);
    const conn = this.#newConn(transport, 'inbound', socket);
    if (socket.remoteAddress === undefined) {
      // Already gone (reset before we got to it).
      conn.state = 'closed';
      socket.destroy();
      return;
    }
    conn.flow = this.#flowOf(conn, socket);
    this.#register(conn, reuseKey(transport, conn.flow.remote.host, conn.flow.remote.port), false);
    if (this.#idleMs > 0) socket.setTimeout(this.#idleMs);
    this.#emitConnection(conn, 'open');
  }

  #onStreamData(conn: Conn, chunk: Buffer): void {
    const flow = conn.flow;
    if (flow === null || conn.broken) return;
    this.stats.segmentsIn++;
    this.#tapRecord('in', conn.transport, flow.local, flow.remote, conn.id, chunk);
    const items = conn.framer.push(chunk);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item.kind === 'message') {
        conn.pingState = 0;
        this.#onStreamMessage(conn, flow, item.bytes);
        if (conn.broken) return;
      } else if (item.kind === 'keepalive') {
        this.#onStreamKeepAlive(conn, flow, item.bytes);
      } else {
        this.#emitInvalid(item.bytes, flow, `framing lost: ${item.reason}`);
        conn.broken = true;
        this.#closeConn(conn, `framing lost: ${item.reason} (limit ${this.#maxMessage} bytes per message)`);
        return;
      }
    }
  }

  #onStreamMessage(conn: Conn, flow: Flow, bytes: Buffer): void {
    const r = parseMessage(bytes, { datagram: false });
    if (!r.ok) {
      this.#emitInvalid(bytes, flow, `${r.error.code}: ${r.error.message}`);
      return;
    }
    const m = r.message;
    if (m.diagnostics.length > 0) {
      // The framer passes a Content-Length beyond the limit as a bodiless message: the stream is lost.
      const d = m.diagnostics.find((x) => x.code === 'content-length-exceeds' || x.code === 'content-length-too-large');
      if (d) {
        this.#emitInvalid(bytes, flow, `message too large: ${d.message} (limit ${this.#maxMessage} bytes)`);
        conn.broken = true;
        this.#closeConn(conn, `message too large: ${d.message} (limit ${this.#maxMessage} bytes)`);
        return;
      }
    }
    this.#emitMessage(m, flow);
  }

  #onStreamKeepAlive(conn: Conn, flow: Flow, bytes: Buffer): void {
    // RFC 5626 §3.5.1: each "\r\n\r\n" ping is answered with one "\r\n" pong. Keep-alive runs are tiny.
    // A ping split over reads still counts, but two lone CRLFs seconds apart (some devices' own
    // keep-alive, or pongs) are not a ping.
    const now = performance.now();
    let s = now - conn.pingAt > PING_SPLIT_MS ? 0 : conn.pingState;
    conn.pingAt = now;
    let pongs = 0;
    for (let i = 0; i < bytes.length; i++) {
      const want = s === 0 || s === 2 ? 13 : 10;
      if (bytes[i] === want) {
        s++;
        if (s === 4) {
          pongs++;
          s = 0;
        }
      } else s = bytes[i] === 13 ? 1 : 0;
    }
    conn.pingState = s;
    this.#emitKeepAlive(bytes, flow);
    for (let i = 0; i < pongs; i++) this.#writePong(conn);
  }

  #onStreamError(conn: Conn, err: Error): void {
    const code = errCode(err);
    if (conn.reason === null) conn.reason = `${code}: ${errMessage(err)}`;
    // Connect/handshake failures reject the sends waiting on them; peer resets are close reasons.
    if (conn.state === 'connecting' || PEER_CLOSE_CODES.has(code)) return;
    const flow = conn.flow;
    this.#emitError({
      code,
      message: `${conn.transport} connection ${conn.id}${flow ? ` ${formatHostPort(flow.local)} <-> ${formatHostPort(flow.remote)}` : ''}: ${errMessage(err)}`,
      transport: conn.transport,
      local: flow?.local,
      remote: flow?.remote,
      connId: conn.id,
      error: err,
    });
  }

  #onStreamClose(conn: Conn): void {
    const wasOpen = conn.state === 'open';
    conn.state = 'closed';
    this.#conns.delete(conn.id);
    for (const k of conn.keys) if (this.#byRemote.get(k) === conn) this.#byRemote.delete(k);
    const rest = conn.framer.flush();
    if (rest !== null && conn.flow !== null && !conn.broken) {
      this.#emitInvalid(rest, conn.flow, `connection closed in the middle of a message (${rest.length} bytes never completed)`);
    }
    if (wasOpen) {
      if (conn.reason === null) conn.reason = 'closed';
      this.#emitConnection(conn, 'close');
    }
  }

  #closeConn(conn: Conn, reason: string): void {
    if (conn.state === 'closed') return;
    if (conn.reason === null || conn.reason.startsWith('closed by peer')) conn.reason = reason;
    conn.socket.destroy();
  }

  /** Closes one stream connection (fault injection, tests). */
  closeConnection(connId: number, reason = 'closed locally'): boolean {
    const conn = this.#conns.get(connId);
    if (!conn) return false;
    this.#closeConn(conn, reason);
    return true;
  }

  // ---------------------------------------------------------------- sending

  send(bytes: Uint8Array, dest: SendDestination): Promise<Flow> {
    return new Promise<Flow>((resolve, reject) => {
      this.sendNow(bytes, dest, (err, flow) => {
        if (err) reject(err);
        else resolve(flow as Flow);
      });
    });
  }

  /**
   * `send` without a promise (the transaction layer's path): `done` is
   * called once, never synchronously, with a TransportError or the flow
   * used. Without `done`, a failure is not reported (a stream's failure still
   * shows as the connection closing).
   */
  sendNow(bytes: Uint8Array, dest: SendDestination, done: SendCallback | null): void {
    if (this.#closing) later(done, new TransportError('transport is closed', 'ERR_TRANSPORT_CLOSED', dest));
    else if (dest.transport === 'udp') this.#sendUdp(bytes, dest, done);
    else if (dest.transport === 'tcp' || dest.transport === 'tls') this.#sendStream(bytes, dest, done);
    else later(done, new TransportError(`unsupported transport ${String(dest.transport)}`, 'ERR_UNSUPPORTED_TRANSPORT', dest));
  }

  #checkDest(dest: Destination): NormalizedIp | TransportError {
    // Most sends of an element go to the same few hosts: the last answer is kept.
    const host = dest.host;
    let ip: NormalizedIp | null;
    if (host === this.#lastHost) ip = this.#lastIp;
    else {
      ip = normalizeIp(host);
      this.#lastHost = host;
      this.#lastIp = ip;
    }
    if (ip === null) return new TransportError(`destination host ${JSON.stringify(dest.host)} is not an IP literal (resolve it first, RFC 3263)`, 'ERR_INVALID_ADDRESS', dest);
    if (!Number.isInteger(dest.port) || dest.port <= 0 || dest.port > 65535) {
      return new TransportError(`destination port ${dest.port} is out of range`, 'ERR_INVALID_PORT', dest);
    }
    return ip;
  }

  #udpPointFor(dest: SendDestination, family: 4 | 6): UdpPoint | undefined {
    const udp = this.#udp;
    const want = dest.local;
    if (want) {
      for (let i = 0; i < udp.length; i++) {
        const x = udp[i];
        if (x.local.port === want.port && x.local.host === want.host && x.family === family) return x;
      }
      const lh = normalizeIp(want.host)?.host;
      for (let i = 0; i < udp.length; i++) {
        const x = udp[i];
        if (x.local.port === want.port && x.local.host === lh && x.family === family) return x;
      }
    }
    for (let i = 0; i < udp.length; i++) if (udp[i].family === family) return udp[i];
    return undefined;
  }

  #sendUdp(bytes: Uint8Array, dest: SendDestination, done: SendCallback | null): void {
    const ip = this.#checkDest(dest);
    if (ip instanceof TransportError) {
      later(done, ip);
      return;
    }
    const point = this.#udpPointFor(dest, ip.family);
    if (point === undefined) {
      later(done, new TransportError(`no IPv${ip.family} udp listening point to send to ${formatHostPort({ host: ip.host, port: dest.port })} from`, 'ERR_NO_LISTENING_POINT', dest));
      return;
    }
    const max = ip.family === 4 ? MAX_UDP4_PAYLOAD : MAX_UDP6_PAYLOAD;
    if (bytes.length > max) {
      later(done, new TransportError(`${bytes.length} bytes do not fit in one UDP datagram (max ${max})`, 'EMSGSIZE', dest));
      return;
    }
    const remote: HostPort = { host: ip.host, port: dest.port };
    this.stats.datagramsOut++;
    this.#tapRecord('out', 'udp', point.local, remote, null, bytes);
    const failed = (err: unknown, fallback?: string): TransportError =>
      new TransportError(`udp send ${formatHostPort(point.local)} -> ${formatHostPort(remote)} failed: ${errMessage(err)}`, errCode(err, fallback), dest, err);
    try {
      // The socket's lookup is synchronous for IP literals (see literalLookup): the datagram is handed to the
      // kernel before send() returns; dgram calls back on the next tick.
      point.socket.send(
        bytes,
        dest.port,
        ip.host,
        done === null
          ? undefined
          : (err) => {
              if (err) done(failed(err), null);
              else done(null, { transport: 'udp', local: point.local, remote, connId: null });
            },
      );
    } catch (err) {
      later(done, failed(err, 'ERR_SOCKET_DGRAM_NOT_RUNNING'));
    }
  }

  #sendStream(bytes: Uint8Array, dest: SendDestination, done: SendCallback | null): void {
    let conn: Conn | undefined;
    if (dest.connId !== undefined && dest.connId !== null) {
      const c = this.#conns.get(dest.connId);
      if (c && c.transport === dest.transport && isUsable(c)) conn = c;
    }
    if (conn === undefined) {
      const ip = this.#checkDest(dest);
      if (ip instanceof TransportError) {
        later(done, ip);
        return;
      }
      const c = this.#byRemote.get(reuseKey(dest.transport, ip.host, dest.port));
      if (c && isUsable(c)) conn = c;
      else {
        try {
          conn = this.#connect(dest as SendDestination & { transport: 'tcp' | 'tls' }, ip);
        } catch (err) {
          later(done, new TransportError(`${dest.transport} connection to ${formatHostPort({ host: ip.host, port: dest.port })} failed: ${errMessage(err)}`, errCode(err), dest, err));
          return;
        }
      }
    }
    if (conn.state === 'connecting') {
      const c = conn;
      c.ready.then(
        () => this.#write(c, bytes, dest, done),
        (err: unknown) => done?.(err, null),
      );
      return;
    }
    this.#write(conn, bytes, dest, done);
  }

  /**
   * Writes one message on an open connection. Writes are corked for the rest
   * of the event-loop turn: the responses to every message of one read go out
   * in one system call (writev), not one each.
   */
  #write(conn: Conn, bytes: Uint8Array, dest: Destination, done: SendCallback | null): void {
    if (!isWritable(conn)) {
      later(done, new TransportError(`${conn.transport} connection ${conn.id} closed before the send (${conn.reason ?? 'closed'})`, 'ERR_CONNECTION_CLOSED', dest));
      return;
    }
    const flow = conn.flow as Flow;
    const socket = conn.socket;
    if (socket.writableLength + bytes.length > this.#maxWriteBuffer) {
      this.#closeConn(conn, `peer is not reading: ${socket.writableLength} bytes queued`);
      later(done, new TransportError(`${conn.transport} connection ${conn.id}: peer is not reading, connection closed`, 'ERR_WRITE_BUFFER_FULL', dest));
      return;
    }
    this.stats.segmentsOut++;
    this.#tapRecord('out', conn.transport, flow.local, flow.remote, conn.id, bytes);
    if (!conn.corked) {
      conn.corked = true;
      socket.cork();
      process.nextTick(uncork, conn);
    }
    socket.write(
      bytes,
      done === null
        ? undefined
        : (err) => {
            if (err) done(new TransportError(`${conn.transport} send on connection ${conn.id} to ${formatHostPort(flow.remote)} failed: ${errMessage(err)}`, errCode(err), dest, err), null);
            else done(null, flow);
          },
    );
  }

  /** RFC 5626 §3.5.1 pong: no caller waits for it; a failure shows up as the connection closing. */
  #writePong(conn: Conn): void {
    const flow = conn.flow as Flow;
    const socket = conn.socket;
    if (!isWritable(conn)) return;
    this.stats.pongsOut++;
    this.stats.segmentsOut++;
    this.#tapRecord('out', conn.transport, flow.local, flow.remote, conn.id, CRLF);
    socket.write(CRLF);
  }

  /** The local address for a new connection: the endpoint's host of that transport (else any) in the right family. */
  #localAddressFor(transport: TransportProtocol, family: 4 | 6, local: HostPort | undefined): string | undefined {
    if (local) {
      const l = normalizeIp(local.host);
      if (l && l.family === family) return l.host;
    }
    let any: string | undefined;
    for (const p of this.#listening) {
      const f = net.isIP(p.host);
      if (f !== family) continue;
      if (p.transport === transport) return isWildcard(p.host) ? undefined : p.host;
      any ??= isWildcard(p.host) ? undefined : p.host;
    }
    return any;
  }

  #connect(dest: SendDestination & { transport: 'tcp' | 'tls' }, ip: { host: string; family: 4 | 6 }): Conn {
    const transport = dest.transport;
    const localAddress = this.#localAddressFor(transport, ip.family, dest.local);
    let socket: net.Socket;
    const o = this.#options.tls;
    if (transport === 'tls') {
      // tls.connect hands localAddress/family to net.connect (missing from @types/node's ConnectionOptions).
      const opts: tls.ConnectionOptions & { localAddress?: string; family?: number } = {
        host: ip.host,
        port: dest.port,
        localAddress,
        family: ip.family,
        key: o?.key,
        cert: o?.cert,
        ca: o?.ca,
        rejectUnauthorized: o?.rejectUnauthorized ?? true,
        checkServerIdentity,
      };
      socket = tls.connect(opts);
    } else {
      socket = net.connect({ host: ip.host, port: dest.port, localAddress, family: ip.family, noDelay: true });
    }
    this.stats.connectionsOpened++;
    const conn = this.#newConn(transport, 'outbound', socket);
    this.#register(conn, reuseKey(transport, ip.host, dest.port), true);
    const target = `${transport} connection to ${formatHostPort({ host: ip.host, port: dest.port })}${localAddress ? ` from ${localAddress}` : ''}`;
    conn.ready = new Promise<void>((resolve, reject) => {
      const onFail = (err: unknown, code: string): void => {
        socket.off(transport === 'tls' ? 'secureConnect' : 'connect', onUp);
        socket.off('error', onError);
        socket.off('close', onClose);
        socket.off('timeout', onTimeout);
        reject(new TransportError(`${target} failed (${code}): ${errMessage(err)}`, code, dest, err));
      };
      const onError = (err: Error): void => onFail(err, errCode(err));
      const onClose = (): void => onFail(new Error(conn.reason ?? 'closed before connecting'), conn.reason?.startsWith('transport closed') ? 'ERR_TRANSPORT_CLOSED' : 'ECONNRESET');
      const onTimeout = (): void => {
        const err = new Error(`no ${transport === 'tls' ? 'TLS handshake' : 'connection'} within ${this.#connectMs} ms`);
        conn.reason = err.message;
        onFail(err, 'ETIMEDOUT');
        socket.destroy();
      };
      const onUp = (): void => {
        socket.off('error', onError);
        socket.off('close', onClose);
        socket.off('timeout', onTimeout);
        socket.setTimeout(this.#idleMs > 0 ? this.#idleMs : 0);
        conn.state = 'open';
        conn.flow = this.#flowOf(conn, socket);
        // Also reachable under its actual remote address text.
        this.#register(conn, reuseKey(transport, conn.flow.remote.host, conn.flow.remote.port), false);
        this.#emitConnection(conn, 'open');
        resolve();
      };
      socket.once(transport === 'tls' ? 'secureConnect' : 'connect', onUp);
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once('timeout', onTimeout);
      if (this.#connectMs > 0) socket.setTimeout(this.#connectMs);
    });
    conn.ready.catch(() => {});
    return conn;
  }

  // ---------------------------------------------------------------- close

  /** Closes every socket, server and connection; resolves once all are closed. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const waits: Promise<void>[] = [];
    for (const conn of this.#conns.values()) {
      waits.push(conn.closed);
      this.#closeConn(conn, 'transport closed');
    }
    for (const raw of this.#tlsRaw) raw.destroy();
    this.#tlsRaw.clear();
    for (const s of this.#stream) {
      waits.push(
        new Promise<void>((resolve) => {
          s.server.close(() => resolve());
        }),
      );
    }
    for (const u of this.#udp) {
      if (u.closed) continue;
      waits.push(
        new Promise<void>((resolve) => {
          try {
            u.socket.close(() => resolve());
          } catch {
            resolve();
          }
        }),
      );
    }
    // Node emits a server's 'close' before libuv has run the handle's close callback: two loop
    // turns later the handles are really gone (process.getActiveResourcesInfo() is back to before).
    this.#closing = Promise.all(waits)
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(() => new Promise<void>((r) => setImmediate(r)));
    return this.#closing;
  }
}

/**
 * tls.checkServerIdentity, except that an IPv6 literal is matched against the
 * certificate's IP Address SANs: Node 22.23.1 / 24.17+ run the host through
 * domainToASCII() first, which turns "::1" into "" and skips the IP SAN check
 * (nodejs/node#64144, fixed by nodejs/node#64145).
 */
export function checkServerIdentity(host: string, cert: tls.PeerCertificate): Error | undefined {
  const ip = normalizeIp(host);
  if (ip === null || ip.family === 4) return tls.checkServerIdentity(host, cert);
  const ips: string[] = [];
  for (const name of (cert.subjectaltname ?? '').split(', ')) {
    if (!name.startsWith('IP Address:')) continue;
    const n = normalizeIp(name.slice(11));
    if (n !== null) ips.push(n.host);
  }
  if (ips.includes(ip.host)) return undefined;
  const err = new Error(`Hostname/IP does not match certificate's altnames: IP: ${ip.host} is not in the cert's list: ${ips.join(', ')}`);
  Object.assign(err, { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: `IP: ${ip.host} is not in the cert's list: ${ips.join(', ')}`, host, cert });
  return err;
}

/** Open, or still connecting, and not on its way out. */
function isUsable(c: Conn): boolean {
  if (c.state === 'closed' || c.broken || c.socket.destroyed) return false;
  return c.state === 'connecting' || c.socket.writable;
}

function isWritable(c: Conn): boolean {
  return c.state === 'open' && c.flow !== null && !c.broken && !c.socket.destroyed && c.socket.writable;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

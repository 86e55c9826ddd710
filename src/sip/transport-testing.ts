/**
 * Helpers for the transport tests (real sockets on loopback): an endpoint
 * that records everything it sees, polling with a deadline, test messages,
 * free ports. Test support only; nothing in the product imports it.
 */
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import net from 'node:net';
import { newBranch, newCallId, newTag, OutgoingMessage } from './builder.ts';
import { type CaptureRecord, formatHostPort, type HostPort, type TransportProtocol } from './capture.ts';
import type { SipMessage } from './message.ts';
import { type ConnectionEvent, createTransport, type TransportErrorEvent, type TransportLayer, type TransportOptions } from './transport.ts';
import type { Flow } from './transport-types.ts';

export interface Received {
  message: SipMessage;
  flow: Flow;
}

export interface InvalidReceived {
  bytes: Uint8Array;
  flow: Flow;
  reason: string;
}

export interface RecordingEndpoint {
  t: TransportLayer;
  records: CaptureRecord[];
  messages: Received[];
  invalid: InvalidReceived[];
  keepalives: Array<{ bytes: Uint8Array; flow: Flow }>;
  errors: TransportErrorEvent[];
  connections: ConnectionEvent[];
}

export async function recordingEndpoint(options: TransportOptions): Promise<RecordingEndpoint> {
  const records: CaptureRecord[] = [];
  const t = await createTransport({ ...options, tap: (r) => records.push(r) });
  const ep: RecordingEndpoint = { t, records, messages: [], invalid: [], keepalives: [], errors: [], connections: [] };
  t.onMessage((message, flow) => ep.messages.push({ message, flow }));
  t.onInvalid((bytes, flow, reason) => ep.invalid.push({ bytes, flow, reason }));
  t.onKeepAlive((bytes, flow) => ep.keepalives.push({ bytes, flow }));
  t.onError((e) => ep.errors.push(e));
  t.onConnection((e) => ep.connections.push(e));
  return ep;
}

/** Polls `cond` every few ms until it holds; throws after `ms`. Leaves no timer behind. */
export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface TestRequestOptions {
  transport: TransportProtocol;
  from: HostPort;
  to: HostPort;
  method?: string;
  body?: string;
  rport?: boolean;
  callId?: string;
  cseq?: number;
}

/** A well-formed request from `from` to `to` (Via sent-by = from). */
export function testRequest(o: TestRequestOptions): Buffer {
  const method = o.method ?? 'OPTIONS';
  const hp = formatHostPort(o.to);
  const req = OutgoingMessage.request(method, `sip:test@${hp}`);
  req.append('Via', `SIP/2.0/${o.transport.toUpperCase()} ${formatHostPort(o.from)};branch=${newBranch()}${o.rport ? ';rport' : ''}`);
  req.append('Max-Forwards', '70');
  req.append('From', `<sip:tester@${formatHostPort(o.from)}>;tag=${newTag()}`);
  req.append('To', `<sip:test@${hp}>`);
  req.append('Call-ID', o.callId ?? newCallId(o.from.host));
  req.append('CSeq', `${o.cseq ?? 1} ${method}`);
  if (o.body !== undefined) req.setBody(o.body, 'text/plain;charset=utf-8');
  return req.toBytes();
}

/** A port that was free a moment ago (bound with port 0, then released). */
export async function freePort(kind: 'udp' | 'tcp', host = '127.0.0.1'): Promise<number> {
  if (kind === 'udp') {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, host, () => resolve());
    });
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Everything a raw TCP peer read, with a way to wait for some of it. */
export interface RawPeer {
  socket: net.Socket;
  received: () => Buffer;
  close: () => Promise<void>;
}

export async function rawTcpPeer(to: HostPort, localAddress?: string): Promise<RawPeer> {
  const socket = net.connect({ host: to.host, port: to.port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  return {
    socket,
    received: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((r) => {
        if (socket.destroyed) return r();
        socket.once('close', () => r());
        socket.destroy();
      }),
  };
}

/** The bytes of all records matching the filter, concatenated. */
export function recordBytes(records: readonly CaptureRecord[], filter: (r: CaptureRecord) => boolean): Buffer {
  return Buffer.concat(records.filter(filter).map((r) => r.bytes));
}

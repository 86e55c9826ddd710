/**
 * The transaction layer over real sockets on 127.0.0.1: retransmission
 * schedules measured on the receiving socket, INVITE/non-INVITE state
 * machines on both sides, RFC 6026 Accepted states, CANCEL, RFC 2543
 * matching (RFC 4475 badbranch), reliable transports, and close().
 *
 * T1 is 50 ms (T2 400 ms) in the timing tests, smaller elsewhere; every test
 * runs concurrently with the others, so the file takes about as long as its
 * slowest test (timer B/F at 64*T1 = 3.2 s).
 *
 * Run as a child with TRUNKLAB_TX_CLOSE_CHILD=1, this file instead builds a
 * layer full of long-lived transactions (RFC default timers), closes it and
 * its transport, and must exit at once (the close test).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newCallId, newTag, OutgoingMessage, responseTo } from './builder.ts';
import { type CaptureRecord, formatHostPort, type HostPort } from './capture.ts';
import type { SipMessage } from './message.ts';
import { parseMessage } from './parser.ts';
import { createTestCertificate } from './tls-test-cert.ts';
import { createTransactionLayer, type TransactionLayer, type TransactionLayerOptions } from './transaction-layer.ts';
import type { ServerTransaction } from './transaction-server.ts';
import { createTransport, type TransportLayer } from './transport.ts';
import type { Destination } from './transport-types.ts';

// ------------------------------------------------------------------ helpers

const HOST = '127.0.0.1';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

function parse(bytes: Uint8Array): SipMessage {
  const r = parseMessage(bytes, { datagram: true });
  if (!r.ok) throw new Error(`unparseable: ${r.error.message}`);
  return r.message;
}

/** Intervals between consecutive times. */
function intervals(times: number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < times.length; i++) out.push(times[i] - times[i - 1]);
  return out;
}

/**
 * Timer checks allow 20 ms early: Node starts a timer at the event loop's cached time, which lags
 * the real time when the loop iteration that sets it runs long (a busy host).
 *
 * Checks arrival times against a retransmission schedule. Timers are late by a few ms on a quiet
 * loop, more on a busy host, and early by the loop-time lag above; reading the datagrams adds jitter of its own (a late
 * read lengthens one interval and shortens the next). The first datagram can also leave well after
 * the retransmission timer started when the CPU is busy (the timer starts when the request is handed
 * to the transport). So: the first interval within -30/+45 ms, every other one within -20/+45 ms, and
 * each arrival after the second, counted from the second (timer to timer), within -20/+80 ms of the
 * schedule: enough to tell T1 from 2*T1, and a cap at T2 from none.
 */
function assertSchedule(times: number[], expectedIntervals: number[], what: string): void {
  const actual = intervals(times);
  const all = `(intervals: ${actual.map(Math.round).join(', ')}; expected ${expectedIntervals.join(', ')})`;
  assert.equal(actual.length, expectedIntervals.length, `${what}: ${actual.length} intervals, expected ${expectedIntervals.length} ${all}`);
  let expectedAt = 0;
  for (let i = 0; i < expectedIntervals.length; i++) {
    const d = actual[i] - expectedIntervals[i];
    assert.ok(d >= (i === 0 ? -30 : -20) && d <= 45, `${what}: interval ${i} is ${actual[i].toFixed(1)} ms, expected ${expectedIntervals[i]} ms ${all}`);
    if (i === 0) continue;
    expectedAt += expectedIntervals[i];
    const at = times[i + 1] - times[1];
    assert.ok(at >= expectedAt - 20 && at <= expectedAt + 80, `${what}: message ${i + 1} ${at.toFixed(1)} ms after the second, expected ${expectedAt} ms ${all}`);
  }
}

/**
 * A schedule that ends with a timeout (timer B or F at 64*T1, counted from the start, while each
 * retransmission is timed from the previous one): on a starved host the chain can drift past the
 * timeout and lose its last copy. That is accepted only when the arrivals show it: the missing copy
 * would have come after the timeout.
 */
function assertScheduleUntil(times: number[], expectedIntervals: number[], timeoutAt: number, what: string): void {
  if (times.length === expectedIntervals.length) {
    const next = times[times.length - 1] + expectedIntervals[expectedIntervals.length - 1];
    assert.ok(next >= timeoutAt - 5, `${what}: ${times.length} copies; the next was due at ${(next - times[0]).toFixed(0)} ms, before the timeout at ${(timeoutAt - times[0]).toFixed(0)} ms`);
    assertSchedule(times, expectedIntervals.slice(0, -1), what);
    return;
  }
  assertSchedule(times, expectedIntervals, what);
}

interface Arrival {
  at: number;
  bytes: Buffer;
  msg: SipMessage;
  from: HostPort;
}

/** A device under test played by a bare UDP socket: records what arrives (with the arrival time), sends raw bytes. */
class Device {
  readonly sock: dgram.Socket;
  readonly received: Arrival[] = [];
  onMessage: ((a: Arrival) => void) | null = null;

  private constructor(sock: dgram.Socket) {
    this.sock = sock;
    sock.on('message', (bytes, rinfo) => {
      const a: Arrival = { at: performance.now(), bytes, msg: parse(bytes), from: { host: rinfo.address, port: rinfo.port } };
      this.received.push(a);
      this.onMessage?.(a);
    });
  }

  static async open(): Promise<Device> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, HOST, resolve));
    return new Device(sock);
  }

  get address(): HostPort {
    return { host: HOST, port: this.sock.address().port };
  }

  get dest(): Destination {
    return { transport: 'udp', host: HOST, port: this.address.port };
  }

  send(bytes: Uint8Array | string, to: HostPort): Promise<void> {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    return new Promise((resolve, reject) => this.sock.send(b, to.port, to.host, (err) => (err ? reject(err) : resolve())));
  }

  /** Answers a request it received (Via, From, To, Call-ID, CSeq copied). */
  answer(request: SipMessage, status: number, reason: string, toTag?: string): Promise<void> {
    return this.send(responseTo(request, status, reason, toTag).toBytes(), this.received.find((a) => a.msg === request)!.from);
  }

  requests(method: string): Arrival[] {
    return this.received.filter((a) => a.msg.kind === 'request' && a.msg.method === method);
  }

  responses(status?: number): Arrival[] {
    return this.received.filter((a) => a.msg.kind === 'response' && (status === undefined || a.msg.status === status));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

interface Endpoint {
  transport: TransportLayer;
  layer: TransactionLayer;
  records: CaptureRecord[];
  address: HostPort;
  dest: Destination;
  /** Requests seen by the TU (onRequest). */
  requests: Array<{ request: SipMessage; tx: ServerTransaction }>;
  close(): Promise<void>;
}

/** A real transport (src/sip/transport.ts) with a capture tap, and a transaction layer on it. */
async function endpoint(options: TransactionLayerOptions, transport: 'udp' | 'tcp' = 'udp'): Promise<Endpoint> {
  const records: CaptureRecord[] = [];
  const t = await createTransport({ listen: [{ transport, host: HOST, port: 0 }], tap: (r) => records.push(r) });
  const handlerErrors: unknown[] = [];
  const layer = createTransactionLayer(t, { onHandlerError: (err) => handlerErrors.push(err), ...options });
  const lp = t.listening[0];
  const ep: Endpoint = {
    transport: t,
    layer,
    records,
    address: { host: lp.host, port: lp.port },
    dest: { transport, host: lp.host, port: lp.port },
    requests: [],
    async close() {
      layer.close();
      await t.close();
      // Assertions inside TU handlers surface here (the layer reports what handlers throw).
      if (handlerErrors.length > 0) throw handlerErrors[0];
    },
  };
  layer.onRequest((request, tx) => ep.requests.push({ request, tx }));
  return ep;
}

/** Messages on the wire as the capture tap saw them (UDP: one record per datagram). */
function wire(ep: Endpoint, direction: 'in' | 'out'): Array<{ at: number; msg: SipMessage }> {
  const out: Array<{ at: number; msg: SipMessage }> = [];
  for (const r of ep.records) {
    if (r.direction !== direction) continue;
    const p = parseMessage(r.bytes, { datagram: r.transport === 'udp' });
    if (p.ok) out.push({ at: r.timeUs / 1000, msg: p.message });
  }
  return out;
}

/** A request as a UAC core would hand it to the layer (no Via: the layer adds it). */
function uacRequest(method: string, target: HostPort, extra: Array<[string, string]> = []): OutgoingMessage {
  const uri = `sip:service@${formatHostPort(target)}`;
  const req = OutgoingMessage.request(method, uri);
  req.append('Max-Forwards', '70');
  req.append('From', `<sip:trunklab@${HOST}>;tag=${newTag()}`);
  req.append('To', `<${uri}>`);
  req.append('Call-ID', newCallId(HOST));
  req.append('CSeq', `1 ${method}`);
  for (const [n, v] of extra) req.append(n, v);
  req.append('Contact', `<sip:trunklab@${HOST}>`);
  return req;
}

let branchSeq = 0;

/** A request as a device sends it: Via with its own address and rport, so responses come back to it. */
function deviceRequest(
  method: string,
  device: Device,
  target: HostPort,
  o: { branch?: string; callId?: string; cseq?: number; fromTag?: string; toTag?: string } = {},
): string {
  const branch = o.branch ?? `z9hG4bKdev${++branchSeq}x${Date.now().toString(36)}`;
  const via = branch === '' ? `SIP/2.0/UDP ${formatHostPort(device.address)};rport` : `SIP/2.0/UDP ${formatHostPort(device.address)};branch=${branch};rport`;
  return (
    `${method} sip:service@${formatHostPort(target)} SIP/2.0\r\n` +
    `Via: ${via}\r\n` +
    'Max-Forwards: 70\r\n' +
    `From: <sip:device@${HOST}>;tag=${o.fromTag ?? 'dev1'}\r\n` +
    `To: <sip:service@${formatHostPort(target)}>${o.toTag ? `;tag=${o.toTag}` : ''}\r\n` +
    `Call-ID: ${o.callId ?? `dev-${branchSeq}@${HOST}`}\r\n` +
    `CSeq: ${o.cseq ?? 1} ${method}\r\n` +
    `Contact: <sip:device@${formatHostPort(device.address)}>\r\n` +
    'Content-Length: 0\r\n\r\n'
  );
}

/** The ACK a device sends for a final response to its INVITE (same branch for non-2xx, §17.1.1.3). */
function deviceAck(invite: string, response: SipMessage, branch?: string): string {
  let text = invite.replace(/^INVITE /, 'ACK ').replace(/CSeq: (\d+) INVITE/, 'CSeq: $1 ACK');
  text = text.replace(/^To: .*$/m, `To: ${response.get('to')}`);
  if (branch !== undefined) text = text.replace(/branch=[^;\r]+/, `branch=${branch}`);
  return text;
}

// ------------------------------------------------------------------ child mode (close test)

async function closeChild(): Promise<void> {
  const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const baseline = timeouts();
  const uac = await endpoint({});
  const uas = await endpoint({});
  const silent = await Device.open();
  // Client side: an INVITE and an OPTIONS to a silent socket (timers A, B, E, F of 32 s), and a call to the UAS.
  uac.layer.sendRequest(uacRequest('INVITE', silent.address), silent.dest);
  uac.layer.sendRequest(uacRequest('OPTIONS', silent.address), silent.dest);
  let invites = 0;
  uas.layer.onRequest((req, tx) => {
    if (req.method !== 'INVITE') tx.reply(200);
    // The first INVITE: Accepted (timer L, 2xx retransmissions: nobody ACKs); the second: 486, ACKed (timer I).
    else if (++invites === 1) tx.reply(200, 'OK', { retransmit2xx: true });
    else tx.reply(486);
  });
  const first = uac.layer.sendRequest(uacRequest('INVITE', uas.address), uas.dest); // client: Accepted, timer M
  await waitFor(() => first.state === 'accepted', 'the first INVITE accepted');
  const second = uac.layer.sendRequest(uacRequest('INVITE', uas.address), uas.dest); // client: Completed, timer D
  const registered = uac.layer.sendRequest(uacRequest('REGISTER', uas.address), uas.dest); // client: K; server: J
  await waitFor(() => second.state === 'completed' && registered.state === 'completed', 'transactions in their waiting states');
  await sleep(50);
  const during = timeouts();
  uac.layer.close();
  uas.layer.close();
  const afterLayers = timeouts();
  await uac.transport.close();
  await uas.transport.close();
  await silent.close();
  process.stdout.write(`${JSON.stringify({ baseline, during, afterLayers, after: timeouts() })}\n`);
}

if (process.env.TRUNKLAB_TX_CLOSE_CHILD === '1') {
  await closeChild();
} else {
  registerTests();
}

// ------------------------------------------------------------------ tests

function registerTests(): void {
  const TIMING = { t1: 50, t2: 400, t4: 300, timerD: 300 };

  // The timing tests run together (the two 3.2 s ones overlap), before the rest, which would otherwise
  // block the event loop (sockets, a child process) right when their first datagram goes out.
  describe('retransmission timing on the wire', { concurrency: true }, () => {
    // One round trip through every part first, so that first-use compilation does not delay the first
    // datagram of a timing test while its retransmission timer already runs.
    before(async () => {
      const uac = await endpoint({ timers: { t1: 5 } });
      const uas = await endpoint({ timers: { t1: 5 } });
      uas.layer.onRequest((_req, tx) => tx.reply(486));
      const tx = uac.layer.sendRequest(uacRequest('INVITE', uas.address), uas.dest);
      await waitFor(() => tx.state !== 'calling' && tx.state !== 'proceeding', 'the warm-up call');
      await uac.close();
      await uas.close();
    });

    test('INVITE to a silent socket: sent at 0, T1, 3T1, 7T1, ... (same bytes) until timer B = 64*T1', async () => {
      const uac = await endpoint({ timers: TIMING });
      const dev = await Device.open();
      try {
        let timedOut: { at: number; timer: string } | null = null;
        let terminated = 0;
        const t0 = performance.now();
        const tx = uac.layer.sendRequest(uacRequest('INVITE', dev.address), dev.dest, {
          onTimeout: (_tx, timer) => {
            timedOut = { at: performance.now(), timer };
          },
          onTerminated: () => terminated++,
        });
        assert.equal(tx.state, 'calling');
        await waitFor(() => terminated > 0, 'timer B', 5000);
        const got = dev.requests('INVITE');
        // 0, 50, 150, 350, 750, 1550, 3150; timer B at 3200.
        const timeout = timedOut as { at: number; timer: string } | null;
        assert.ok(timeout !== null);
        assertScheduleUntil(got.map((a) => a.at), [50, 100, 200, 400, 800, 1600], timeout.at, 'INVITE retransmissions');
        for (const a of got) assert.ok(a.bytes.equals(got[0].bytes), 'every retransmission is the same bytes');
        assert.match(got[0].msg.get('via') ?? '', new RegExp(`^SIP/2\\.0/UDP ${HOST}:${uac.address.port};branch=z9hG4bK\\w+;rport$`));
        assert.equal(timeout.timer, 'B');
        const b = timeout.at - t0;
        assert.ok(b >= 3200 - 20 && b <= 3200 + 60, `timer B fired after ${b.toFixed(0)} ms`);
        assert.equal(tx.state, 'terminated');
        assert.equal(tx.terminationReason, 'timeout');
        assert.equal(tx.retransmissions, got.length - 1);
        await sleep(150);
        assert.equal(dev.requests('INVITE').length, got.length, 'nothing sent after timer B');
        assert.equal(uac.layer.size.client, 0);
      } finally {
        await uac.close();
        await dev.close();
      }
    });

    test('OPTIONS to a silent socket: sent at 0, 50, 150, 350, 750, 1150, ... (capped at T2) until timer F', async () => {
      const uac = await endpoint({ timers: TIMING });
      const dev = await Device.open();
      try {
        let timer = '';
        let terminated = false;
        const t0 = performance.now();
        let fAt = 0;
        const tx = uac.layer.sendRequest(uacRequest('OPTIONS', dev.address), dev.dest, {
          onTimeout: (_tx, which) => {
            timer = which;
            fAt = performance.now() - t0;
          },
          onTerminated: () => {
            terminated = true;
          },
        });
        assert.equal(tx.state, 'trying');
        await waitFor(() => terminated, 'timer F', 5000);
        const got = dev.requests('OPTIONS');
        assertScheduleUntil(got.map((a) => a.at), [50, 100, 200, 400, 400, 400, 400, 400, 400, 400], t0 + fAt, 'OPTIONS retransmissions');
        for (const a of got) assert.ok(a.bytes.equals(got[0].bytes));
        assert.equal(timer, 'F');
        assert.ok(fAt >= 3180 && fAt <= 3260, `timer F fired after ${fAt.toFixed(0)} ms`);
        await sleep(100);
        assert.equal(dev.requests('OPTIONS').length, got.length, 'nothing sent after timer F');
      } finally {
        await uac.close();
        await dev.close();
      }
    });

    test('INVITE: a provisional stops retransmissions; a 486 is ACKed by the transaction, and its retransmission re-ACKed', async () => {
      const uac = await endpoint({ timers: TIMING });
      const dev = await Device.open();
      try {
        const events: string[] = [];
        let terminated = false;
        const req = uacRequest('INVITE', dev.address, [
          ['Route', `<sip:${HOST}:5999;lr>`],
          ['Route', `<sip:${HOST}:5998;lr>`],
        ]);
        const tx = uac.layer.sendRequest(req, dev.dest, {
          onProvisional: (r) => events.push(`${r.status}`),
          onFinal: (r) => events.push(`final ${r.status}`),
          onTerminated: () => {
            terminated = true;
          },
        });
        // The device answers 100 as soon as the first retransmission arrives (at 50 ms).
        dev.onMessage = (a) => {
          if (dev.requests('INVITE').length === 2) void dev.answer(a.msg, 100, 'Trying');
        };
        await waitFor(() => tx.state === 'proceeding', 'Proceeding');
        dev.onMessage = null;
        const invite = dev.requests('INVITE')[0].msg;
        await sleep(600); // A would have fired at 150, 350 (and 750) ms
        assert.equal(dev.requests('INVITE').length, 2, 'no retransmission in Proceeding');
        await dev.answer(invite, 486, 'Busy Here', 'dev486');
        await waitFor(() => dev.requests('ACK').length === 1, 'the ACK');
        assert.equal(tx.state, 'completed');
        const ack = dev.requests('ACK')[0];
        // §17.1.1.3: same Request-URI, Call-ID, From, CSeq number; To of the response; the INVITE's top Via only; its Routes.
        assert.equal(ack.msg.requestUri, invite.requestUri);
        assert.equal(ack.msg.callId, invite.callId);
        assert.equal(ack.msg.get('from'), invite.get('from'));
        assert.equal(ack.msg.toTag, 'dev486');
        assert.equal(ack.msg.get('cseq'), '1 ACK');
        assert.deepEqual(ack.msg.getAll('via'), [invite.get('via')]);
        assert.equal(ack.msg.topVia?.branch, invite.topVia?.branch);
        assert.deepEqual(ack.msg.getAll('route'), invite.getAll('route'));
        // The 486 again (our ACK "lost"): the ACK again, the TU not told twice.
        await dev.answer(invite, 486, 'Busy Here', 'dev486');
        await waitFor(() => dev.requests('ACK').length === 2, 'the second ACK');
        assert.ok(dev.requests('ACK')[1].bytes.equals(ack.bytes), 'the same ACK bytes');
        assert.deepEqual(events, ['100', 'final 486']);
        await waitFor(() => terminated, 'timer D');
        assert.equal(tx.terminationReason, 'completed');
      } finally {
        await uac.close();
        await dev.close();
      }
    });

    test('non-INVITE: after a provisional the retransmission interval becomes T2; timer K after the final', async () => {
      const uac = await endpoint({ timers: TIMING });
      const dev = await Device.open();
      try {
        let final = 0;
        let completedAt = 0;
        let terminatedAt = 0;
        // The device answers 100 as soon as the OPTIONS arrives.
        dev.onMessage = (a) => {
          if (dev.requests('OPTIONS').length === 1) void dev.answer(a.msg, 100, 'Trying');
        };
        const tx = uac.layer.sendRequest(uacRequest('OPTIONS', dev.address), dev.dest, {
          onFinal: () => {
            final++;
            completedAt = performance.now();
          },
          onTerminated: () => {
            terminatedAt = performance.now();
          },
        });
        await waitFor(() => tx.state === 'proceeding', 'Proceeding');
        dev.onMessage = null;
        const options = dev.requests('OPTIONS')[0].msg;
        await waitFor(() => dev.requests('OPTIONS').length >= 4, 'three retransmissions', 2000);
        // E was armed for 50 ms before the 100 came: it fires then, and is reset to T2 each time after.
        assertSchedule(dev.requests('OPTIONS').slice(0, 4).map((a) => a.at), [50, 400, 400], 'OPTIONS in Proceeding');
        await dev.answer(options, 200, 'OK', 'devopt');
        await waitFor(() => tx.state === 'completed', 'Completed');
        await dev.answer(options, 200, 'OK', 'devopt'); // absorbed
        await waitFor(() => terminatedAt > 0, 'timer K');
        const k = terminatedAt - completedAt;
        assert.ok(k >= 280 && k <= 360, `timer K = T4 (300 ms): ${k.toFixed(0)} ms`);
        assert.equal(final, 1);
        assert.equal(dev.requests('OPTIONS').length, 4);
      } finally {
        await uac.close();
        await dev.close();
      }
    });

    test('INVITE server: 486 retransmitted at T1, 2T1, ... capped at T2 until the ACK; timer I absorbs ACKs; the TU never sees them', async () => {
      const uas = await endpoint({ timers: { t1: 50, t2: 200, t4: 300 } });
      const dev = await Device.open();
      try {
        const acks: Array<ServerTransaction | null> = [];
        uas.layer.onAck((_ack, _flow, tx) => acks.push(tx));
        let terminated = false;
        uas.layer.onRequest((req, tx) => {
          uas.requests.push({ request: req, tx });
          tx.onTerminated = () => {
            terminated = true;
          };
          tx.reply(486);
        });
        const invite = deviceRequest('INVITE', dev, uas.address);
        await dev.send(invite, uas.address);
        await waitFor(() => dev.responses(486).length >= 5, 'five copies of the 486', 3000);
        const r486 = dev.responses(486).slice(0, 5);
        // G: 50, 100, 200, 200 (T2)
        assertSchedule(r486.map((a) => a.at), [50, 100, 200, 200], '486 retransmissions');
        for (const a of r486) assert.ok(a.bytes.equals(r486[0].bytes));
        const res = r486[0].msg;
        // §18.2.1 / RFC 3581 on the top Via; §8.2.6.2 To tag.
        assert.equal(res.topVia?.rport, dev.address.port);
        assert.equal(res.topVia?.received, HOST);
        assert.ok(res.toTag);
        const tx = uas.requests[0].tx;
        assert.equal(tx.state, 'completed');
        await dev.send(deviceAck(invite, res), uas.address);
        await waitFor(() => tx.state === 'confirmed', 'Confirmed');
        const count = dev.responses(486).length;
        await sleep(250); // G would have fired
        assert.equal(dev.responses(486).length, count, 'no 486 after the ACK');
        await dev.send(deviceAck(invite, res), uas.address); // absorbed in Confirmed
        await sleep(20);
        assert.equal(tx.state, 'confirmed');
        assert.deepEqual(acks, [], 'the ACKs of a non-2xx are not passed to the TU');
        await waitFor(() => terminated, 'timer I', 1000);
        assert.equal(tx.terminationReason, 'completed');
        // After timer I the transaction is gone: the same ACK now matches nothing.
        await dev.send(deviceAck(invite, res), uas.address);
        await waitFor(() => acks.length === 1, 'the unmatched ACK');
        assert.equal(acks[0], null);
        assert.equal(uas.requests.length, 1);
        assert.equal(uas.layer.size.server, 0);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

  });

  describe('after the final response: the request is released (memory), retransmissions and ACKs still handled', { concurrency: true }, () => {
    test('INVITE 486: request released, createResponse refused, the retransmitted INVITE gets the stored 486, the ACK is absorbed', async () => {
      const uas = await endpoint({ timers: { t1: 5000 } }); // timer G at 5 s: the second 486 answers the retransmitted INVITE
      const dev = await Device.open();
      try {
        const invite = deviceRequest('INVITE', dev, uas.address);
        await dev.send(invite, uas.address);
        await waitFor(() => uas.requests.length === 1, 'the INVITE');
        const tx = uas.requests[0].tx;
        uas.requests.length = 0; // the test's own copy of the request: the transaction's is what is measured
        assert.equal(uas.layer.heldRequests, 1, 'no final response yet: the request is held');
        assert.ok(tx.request !== null);
        assert.ok(tx.reply(486));
        assert.equal(tx.request, null, 'released with the final response');
        assert.equal(uas.layer.heldRequests, 0);
        assert.throws(() => tx.createResponse(180), /createResponse\(180\).*after its final response 486.*released/);
        assert.equal(tx.reply(500), false, 'reply after the final: nothing sent');
        await waitFor(() => dev.responses(486).length === 1, 'the 486');
        const first = dev.responses(486)[0];
        await dev.send(invite, uas.address);
        await waitFor(() => dev.responses(486).length === 2, 'the 486 again, for the retransmitted INVITE');
        assert.ok(dev.responses(486)[1].bytes.equals(first.bytes), 'the same bytes');
        assert.equal(uas.requests.length, 0, 'the retransmission did not reach the TU');
        await dev.send(deviceAck(invite, first.msg), uas.address);
        await waitFor(() => tx.state === 'confirmed', 'the ACK (same branch) matched after the release');
        assert.ok(tx.ackReceived);
        assert.equal(dev.received.filter((a) => a.msg.kind === 'request').length, 0);
        assert.ok(dev.received.every((a) => a.msg.status === 486));
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('INVITE 200: the ACK with its own branch is matched by dialog after the release; INVITE retransmissions absorbed; a further 2xx still goes out', async () => {
      const uas = await endpoint({ timers: { t1: 40, t2: 160 } });
      const dev = await Device.open();
      try {
        const acks: Array<ServerTransaction | null> = [];
        uas.layer.onAck((_ack, _flow, tx) => acks.push(tx));
        const invite = deviceRequest('INVITE', dev, uas.address);
        await dev.send(invite, uas.address);
        await waitFor(() => uas.requests.length === 1, 'the INVITE');
        const tx = uas.requests[0].tx;
        uas.requests.length = 0;
        // What a proxy does with a later 2xx of another fork: built elsewhere, passed to respond() (RFC 6026 §7.1).
        const second = tx.createResponse(200, 'OK');
        second.set('To', `${second.get('to')!.replace(/;tag=.*$/, '')};tag=otherfork`);
        let txAcks = 0;
        tx.onAck = () => txAcks++;
        assert.ok(tx.reply(200, 'OK', { retransmit2xx: true }));
        assert.equal(tx.request, null);
        assert.equal(uas.layer.heldRequests, 0);
        assert.throws(() => tx.createResponse(200), /released/);
        await waitFor(() => dev.responses(200).length >= 2, 'the 200 and its first retransmission');
        await dev.send(invite, uas.address); // absorbed in Accepted
        const ok = dev.responses(200)[0].msg;
        await dev.send(deviceAck(invite, ok, `z9hG4bKack${Date.now()}`), uas.address);
        await waitFor(() => txAcks === 1, 'the ACK of the 2xx, matched by Call-ID, tags and CSeq');
        assert.deepEqual(acks, [tx]);
        const n = dev.responses(200).length;
        await sleep(200); // two retransmission intervals
        assert.equal(dev.responses(200).length, n, 'the 2xx retransmissions stopped at the ACK');
        assert.equal(uas.requests.length, 0, 'the retransmitted INVITE did not reach the TU');
        // A further 2xx (another fork) is sent, and its ACK matched too.
        assert.ok(tx.respond(second));
        await waitFor(() => dev.responses(200).some((a) => a.msg.toTag === 'otherfork'), 'the other fork\'s 2xx');
        const other = dev.responses(200).find((a) => a.msg.toTag === 'otherfork')!.msg;
        await dev.send(deviceAck(invite, other, `z9hG4bKack2${Date.now()}`), uas.address);
        await waitFor(() => txAcks === 2, 'the ACK of the other fork\'s 2xx');
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('non-INVITE 200: released; the retransmitted request gets the stored 200 until timer J', async () => {
      const uas = await endpoint({ timers: { t1: 20 } }); // J = 1280 ms
      const dev = await Device.open();
      try {
        uas.layer.onRequest((_req, tx) => {
          assert.ok(tx.reply(200));
          assert.equal(tx.request, null);
        });
        const options = deviceRequest('OPTIONS', dev, uas.address);
        await dev.send(options, uas.address);
        await waitFor(() => dev.responses(200).length === 1, 'the 200');
        assert.equal(uas.layer.size.server, 1, 'Completed, waiting for timer J');
        assert.equal(uas.layer.heldRequests, 0);
        await dev.send(options, uas.address);
        await dev.send(options, uas.address);
        await waitFor(() => dev.responses(200).length === 3, 'the 200 again for each retransmission');
        for (const a of dev.responses(200)) assert.ok(a.bytes.equals(dev.responses(200)[0].bytes));
        await waitFor(() => uas.layer.size.server === 0, 'timer J', 3000);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('a request the TU never answered: out of the count when timer F ends it; a late answer is built but not sent', async () => {
      const uas = await endpoint({ timers: { t1: 5 } }); // F = 320 ms
      const dev = await Device.open();
      try {
        await dev.send(deviceRequest('OPTIONS', dev, uas.address), uas.address);
        await waitFor(() => uas.requests.length === 1, 'the OPTIONS');
        const tx = uas.requests[0].tx;
        assert.equal(uas.layer.heldRequests, 1);
        await waitFor(() => tx.state === 'terminated', 'timer F', 3000);
        assert.equal(uas.layer.heldRequests, 0, 'an ended transaction is not counted');
        const late = tx.createResponse(200);
        assert.equal(late.status, 200);
        assert.equal(tx.respond(late), false, 'nothing is sent after the end');
        await sleep(20);
        assert.equal(dev.received.length, 0);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('200 calls through real sockets: the live server transactions (Accepted INVITEs, Completed BYEs) hold no parsed request', async () => {
      const uac = await endpoint({});
      const uas = await endpoint({}); // RFC timers: every transaction lives on for 32 s after its final response
      try {
        const CALLS = 200;
        let heldDuringCall = -1;
        uas.layer.onRequest((req, tx) => {
          if (req.method === 'INVITE') {
            heldDuringCall = uas.layer.heldRequests;
            tx.reply(180);
            tx.reply(200, 'OK', { retransmit2xx: true });
          } else tx.reply(200);
        });
        let ended = 0;
        const call = (): void => {
          const req = uacRequest('INVITE', uas.address);
          uac.layer.sendRequest(req, uas.dest, {
            onFinal: (r) => {
              const inDialog = (method: string): OutgoingMessage =>
                OutgoingMessage.request(method, req.requestUri)
                  .append('Max-Forwards', '70')
                  .append('From', r.get('from')!)
                  .append('To', r.get('to')!)
                  .append('Call-ID', r.callId)
                  .append('CSeq', `${method === 'ACK' ? 1 : 2} ${method}`);
              void uac.layer.sendAck(inDialog('ACK'), uas.dest);
              uac.layer.sendRequest(inDialog('BYE'), uas.dest, { onFinal: () => ended++ });
            },
          });
        };
        for (let i = 0; i < CALLS; i++) {
          call();
          if (i % 20 === 19) await sleep(5);
        }
        await waitFor(() => ended === CALLS, `${CALLS} calls ended`, 20_000);
        assert.equal(heldDuringCall, 1, 'while the TU handles an INVITE, its transaction holds the request');
        assert.equal(uas.layer.size.server, 2 * CALLS, 'every INVITE and BYE transaction is still alive (timers L and J)');
        assert.equal(uas.layer.heldRequests, 0, 'and none of them holds its parsed request');
      } finally {
        await uac.close();
        await uas.close();
      }
    });
  });

  describe('transaction layer behaviour', { concurrency: true }, () => {
    test('INVITE server: a retransmitted INVITE gets 100 at once, then the last provisional again; the TU sees the INVITE once', async () => {
      const uas = await endpoint({ timers: { t1: 20 }, tryingDelay: 10_000 });
      const dev = await Device.open();
      try {
        const invite = deviceRequest('INVITE', dev, uas.address);
        await dev.send(invite, uas.address);
        await waitFor(() => uas.requests.length === 1, 'the INVITE at the TU');
        await sleep(30);
        assert.equal(dev.received.length, 0, '100 is delayed (tryingDelay)');
        await dev.send(invite, uas.address);
        await waitFor(() => dev.responses(100).length === 1, '100 Trying for the retransmission');
        assert.equal(dev.responses(100)[0].msg.toTag, null);
        const tx = uas.requests[0].tx;
        assert.ok(tx.reply(180));
        await waitFor(() => dev.responses(180).length === 1, '180');
        await dev.send(invite, uas.address);
        await dev.send(invite, uas.address);
        await waitFor(() => dev.responses(180).length === 3, '180 re-sent for each retransmission');
        assert.ok(dev.responses(180)[2].bytes.equals(dev.responses(180)[0].bytes));
        assert.equal(dev.responses(100).length, 1);
        assert.equal(uas.requests.length, 1, 'the TU saw the INVITE once');
        assert.ok(tx.reply(603));
        assert.equal(tx.reply(200), false, 'no second final response');
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('2xx, client side: Accepted passes retransmitted 200s to the TU until timer M, then they are stray', async () => {
      const uac = await endpoint({ timers: { t1: 10, t4: 50, timerD: 50 } }); // M = 640 ms
      const dev = await Device.open();
      try {
        const finals: number[] = [];
        const additional: string[] = [];
        const stray: number[] = [];
        let acceptedAt = 0;
        let terminatedAt = 0;
        uac.layer.onStrayResponse((r) => stray.push(r.status));
        const tx = uac.layer.sendRequest(uacRequest('INVITE', dev.address), dev.dest, {
          onFinal: (r) => {
            finals.push(r.status);
            acceptedAt = performance.now();
          },
          onAdditional2xx: (r) => additional.push(r.toTag ?? ''),
          onTerminated: () => {
            terminatedAt = performance.now();
          },
        });
        await waitFor(() => dev.requests('INVITE').length >= 1, 'the INVITE');
        const invite = dev.requests('INVITE')[0].msg;
        await dev.answer(invite, 200, 'OK', 'fork1');
        await waitFor(() => tx.state === 'accepted', 'Accepted');
        assert.equal(dev.requests('ACK').length, 0, 'the transaction does not ACK a 2xx (the UAC core does)');
        await dev.answer(invite, 200, 'OK', 'fork1'); // retransmission
        await dev.answer(invite, 200, 'OK', 'fork2'); // another fork
        await waitFor(() => additional.length === 2, 'both 2xx at the TU');
        assert.deepEqual(additional, ['fork1', 'fork2']);
        // The UAC core ACKs each (the ACK for 2xx is no transaction).
        const ack = OutgoingMessage.request('ACK', invite.requestUri)
          .append('Max-Forwards', '70')
          .append('From', invite.get('from')!)
          .append('To', `${invite.get('to')};tag=fork1`)
          .append('Call-ID', invite.callId)
          .append('CSeq', '1 ACK');
        await uac.layer.sendAck(ack, dev.dest);
        await waitFor(() => dev.requests('ACK').length === 1, 'the 2xx ACK');
        const ackVia = dev.requests('ACK')[0].msg.topVia;
        assert.notEqual(ackVia?.branch, invite.topVia?.branch, 'the ACK of a 2xx has a branch of its own');
        await waitFor(() => terminatedAt > 0, 'timer M', 2000);
        const m = terminatedAt - acceptedAt;
        assert.ok(m >= 620 && m <= 720, `timer M = 64*T1 (640 ms): ${m.toFixed(0)} ms`);
        await dev.answer(invite, 200, 'OK', 'fork1');
        await waitFor(() => stray.length === 1, 'the stray 200');
        assert.deepEqual(finals, [200]);
        assert.equal(additional.length, 2);
      } finally {
        await uac.close();
        await dev.close();
      }
    });

    test('2xx, server side: Accepted absorbs INVITE retransmissions, 2xx retransmitted until the ACK, which reaches onAck', async () => {
      const uas = await endpoint({ timers: { t1: 50, t2: 200 } }); // L = 3200 ms
      const dev = await Device.open();
      try {
        const acks: Array<{ ack: SipMessage; tx: ServerTransaction | null }> = [];
        uas.layer.onAck((ack, _flow, tx) => acks.push({ ack, tx }));
        const invite = deviceRequest('INVITE', dev, uas.address);
        await dev.send(invite, uas.address);
        await waitFor(() => uas.requests.length === 1, 'the INVITE');
        const tx = uas.requests[0].tx;
        let txAck = 0;
        tx.onAck = () => txAck++;
        assert.ok(tx.reply(200, 'OK', { retransmit2xx: true }));
        assert.equal(tx.state, 'accepted');
        await waitFor(() => dev.responses(200).length >= 4, '2xx retransmissions', 2000);
        // §13.3.1.4: T1, 2T1, 4T1 (= T2)
        assertSchedule(dev.responses(200).slice(0, 4).map((a) => a.at), [50, 100, 200], '2xx retransmissions');
        // Retransmitted INVITEs are absorbed: no new request for the TU.
        await dev.send(invite, uas.address);
        await dev.send(invite, uas.address);
        const ok = dev.responses(200)[0].msg;
        await sleep(10);
        assert.equal(uas.requests.length, 1);
        // The ACK for the 2xx: a new branch (§13.2.2.4).
        await dev.send(deviceAck(invite, ok, `z9hG4bKack${Date.now()}`), uas.address);
        await waitFor(() => acks.length === 1, 'the ACK at the TU');
        assert.equal(acks[0].tx, tx, 'the ACK is tied to the Accepted INVITE transaction');
        assert.equal(txAck, 1);
        assert.ok(tx.ackReceived);
        const n = dev.responses(200).length;
        await sleep(300);
        assert.equal(dev.responses(200).length, n, '2xx retransmissions stop at the ACK');
        assert.equal(tx.state, 'accepted', 'Accepted lasts until timer L');
        // ACK retransmissions are passed up too (RFC 6026: ACK in Accepted goes to the TU).
        await dev.send(deviceAck(invite, ok, `z9hG4bKack2${Date.now()}`), uas.address);
        await waitFor(() => acks.length === 2, 'the second ACK');
        assert.equal(uas.requests.length, 1);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('UAC layer to UAS layer: 200 with 2xx retransmission, ACK via sendAck stops it; no TU handler error', async () => {
      const uac = await endpoint({ timers: { t1: 20, t2: 80 } });
      const uas = await endpoint({ timers: { t1: 20, t2: 80 } });
      try {
        const acks: SipMessage[] = [];
        uas.layer.onAck((ack) => acks.push(ack));
        uas.layer.onRequest((_req, tx) => tx.reply(200, 'OK', { retransmit2xx: true }));
        let okCount = 0;
        const req = uacRequest('INVITE', uas.address);
        const tx = uac.layer.sendRequest(req, uas.dest, {
          onFinal: (r) => {
            okCount++;
            const ack = OutgoingMessage.request('ACK', req.requestUri)
              .append('Max-Forwards', '70')
              .append('From', r.get('from')!)
              .append('To', r.get('to')!)
              .append('Call-ID', r.callId)
              .append('CSeq', `${r.cseq?.seq} ACK`);
            void uac.layer.sendAck(ack, uas.dest);
          },
          onAdditional2xx: () => okCount++,
        });
        await waitFor(() => acks.length === 1, 'the ACK at the UAS');
        await sleep(150);
        const sent200 = wire(uas, 'out').filter((w) => w.msg.status === 200).length;
        await sleep(150);
        assert.equal(wire(uas, 'out').filter((w) => w.msg.status === 200).length, sent200, 'no 200 after the ACK');
        assert.equal(okCount, sent200, 'every copy of the 200 reached the UAC core (onFinal, then onAdditional2xx)');
        assert.equal(tx.state, 'accepted');
      } finally {
        await uac.close();
        await uas.close();
      }
    });

    test('CANCEL: pending until the 180, 200 for the CANCEL, TU told, 487 on the INVITE, ACK for the 487 from the client', async () => {
      const uac = await endpoint({ timers: { t1: 100 } }); // no INVITE retransmission before the 180
      const uas = await endpoint({ timers: { t1: 20, t4: 100 } });
      try {
        const cancels: ServerTransaction[] = [];
        uas.layer.onRequest((req, tx) => {
          uas.requests.push({ request: req, tx });
          setTimeout(() => tx.reply(180), 60);
        });
        uas.layer.onCancel((_cancel, invite) => {
          cancels.push(invite);
          assert.ok(invite.cancelled);
          invite.reply(487);
        });
        const acks: unknown[] = [];
        uas.layer.onAck((a) => acks.push(a));
        const statuses: number[] = [];
        const cancelStatuses: number[] = [];
        const tx = uac.layer.sendRequest(uacRequest('INVITE', uas.address), uas.dest, {
          onProvisional: (r) => statuses.push(r.status),
          onFinal: (r) => statuses.push(r.status),
        });
        assert.ok(tx.cancel({ onFinal: (r) => cancelStatuses.push(r.status) }));
        assert.equal(tx.cancel(), false, 'one CANCEL');
        await waitFor(() => statuses.includes(487), 'the 487');
        await waitFor(() => cancelStatuses.length === 1, 'the 200 for the CANCEL');
        assert.deepEqual(cancelStatuses, [200]);
        // A 180 normally; on a busy host the INVITE may go out twice, and its retransmission gets a 100
        // (nothing sent yet) or the 180 again.
        const last = statuses.length - 1;
        assert.ok(statuses[last] === 487 && statuses.slice(0, last).every((st) => st === 100 || st === 180), `responses: ${statuses}`);
        assert.equal(cancels.length, 1);
        const out = wire(uac, 'out');
        const inAt = wire(uac, 'in');
        const cancel = out.find((w) => w.msg.method === 'CANCEL')!;
        const firstProvisional = inAt.find((w) => w.msg.status < 200)!;
        assert.ok(cancel.at >= firstProvisional.at, 'the CANCEL waited for a provisional response (§9.1)');
        const invite = out.find((w) => w.msg.method === 'INVITE')!.msg;
        // §9.1: same Request-URI, Call-ID, From, To, CSeq number, single Via = the INVITE's top Via.
        assert.equal(cancel.msg.requestUri, invite.requestUri);
        assert.deepEqual(cancel.msg.getAll('via'), [invite.get('via')]);
        assert.equal(cancel.msg.get('to'), invite.get('to'));
        assert.equal(cancel.msg.get('cseq'), '1 CANCEL');
        // §9.2: the 200 to the CANCEL carries the To tag of the INVITE's responses.
        const ok = inAt.find((w) => w.msg.status === 200 && w.msg.cseq?.method === 'CANCEL')!.msg;
        const r487 = inAt.find((w) => w.msg.status === 487)!.msg;
        assert.equal(ok.toTag, r487.toTag);
        await waitFor(() => wire(uac, 'out').some((w) => w.msg.method === 'ACK'), 'the ACK');
        const ack = wire(uac, 'out').find((w) => w.msg.method === 'ACK')!.msg;
        assert.equal(ack.topVia?.branch, invite.topVia?.branch);
        assert.equal(ack.toTag, r487.toTag);
        const stx = uas.requests[0].tx;
        await waitFor(() => stx.state === 'confirmed' || stx.state === 'terminated', 'the UAS INVITE transaction confirmed');
        assert.deepEqual(acks, [], 'the ACK of the 487 stays in the transaction layer');
      } finally {
        await uac.close();
        await uas.close();
      }
    });

    test('CANCEL matching nothing gets 481; without onCancel the layer sends the 487 itself; CANCEL after the final gets 200 only', async () => {
      const uas = await endpoint({ timers: { t1: 20 }, tryingDelay: 0 });
      const dev = await Device.open();
      try {
        await dev.send(deviceRequest('CANCEL', dev, uas.address, { branch: 'z9hG4bKnothing' }), uas.address);
        await waitFor(() => dev.responses(481).length === 1, '481');
        // No onCancel handler: 200 to the CANCEL, 487 to the INVITE by the layer.
        const invite = deviceRequest('INVITE', dev, uas.address, { branch: 'z9hG4bKcancelme' });
        await dev.send(invite, uas.address);
        await waitFor(() => dev.responses(100).length === 1, '100 at once (tryingDelay 0)');
        await dev.send(invite.replace(/^INVITE/, 'CANCEL').replace('1 INVITE', '1 CANCEL'), uas.address);
        await waitFor(() => dev.responses(487).length >= 1 && dev.responses(200).length === 1, '200 and 487');
        assert.equal(dev.responses(200)[0].msg.cseq?.method, 'CANCEL');
        assert.equal(dev.responses(200)[0].msg.toTag, dev.responses(487)[0].msg.toTag);
        // The CANCEL again: its transaction re-sends the 200 (and nothing reaches the TU).
        await dev.send(invite.replace(/^INVITE/, 'CANCEL').replace('1 INVITE', '1 CANCEL'), uas.address);
        await waitFor(() => dev.responses(200).length === 2, 'the 200 again');
        assert.equal(uas.requests.length, 1);
        assert.equal(uas.requests[0].tx.state, 'completed');
        assert.ok(uas.requests[0].tx.cancelled);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('RFC 2543 matching: RFC 4475 badbranch (branch=z9hG4bK) and its retransmission are one transaction', async () => {
      const uas = await endpoint({ timers: { t1: 20 } });
      const dev = await Device.open();
      try {
        // RFC 4475 §3.2.1, byte for byte.
        const badbranch =
          'OPTIONS sip:user@example.com SIP/2.0\r\n' +
          'To: sip:user@example.com\r\n' +
          'From: sip:caller@example.org;tag=33242\r\n' +
          'Max-Forwards: 3\r\n' +
          'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\r\n' +
          'Accept: application/sdp\r\n' +
          'Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n\r\n' +
          'CSeq: 8 OPTIONS\r\n' +
          'l: 0\r\n' +
          '\r\n';
        uas.layer.onRequest((req, tx) => {
          uas.requests.push({ request: req, tx });
          tx.reply(200);
        });
        await dev.send(badbranch, uas.address);
        await waitFor(() => uas.requests.length === 1, 'the OPTIONS');
        const tx = uas.requests[0].tx;
        assert.equal(tx.rfc2543, true);
        assert.equal(tx.state, 'completed');
        // No rport: the 200 goes to the source address and the sent-by port (5060), §18.2.2.
        assert.deepEqual([tx.destination.host, tx.destination.port], [HOST, 5060]);
        await dev.send(badbranch, uas.address);
        await waitFor(() => wire(uas, 'out').length === 2, 'the 200 re-sent');
        const out = wire(uas, 'out');
        assert.equal(out[1].msg.status, 200);
        assert.equal(out[0].msg.rawText, out[1].msg.rawText);
        assert.equal(uas.requests.length, 1, 'the retransmission is not a new request');
        // Same empty branch, another CSeq and Call-ID: another transaction.
        await dev.send(badbranch.replace('CSeq: 8', 'CSeq: 9').replace('Call-ID: badbranch.', 'Call-ID: badbranch2.'), uas.address);
        await waitFor(() => uas.requests.length === 2, 'the second request');
        assert.notEqual(uas.requests[1].tx, tx);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('RFC 2543 INVITE (no branch): 486, and its ACK (To tag of the 486) matches the transaction', async () => {
      const uas = await endpoint({ timers: { t1: 20, t4: 100 } });
      const dev = await Device.open();
      try {
        const acks: unknown[] = [];
        uas.layer.onAck((a) => acks.push(a));
        uas.layer.onRequest((req, tx) => {
          uas.requests.push({ request: req, tx });
          tx.reply(486);
        });
        const invite = deviceRequest('INVITE', dev, uas.address, { branch: '' });
        await dev.send(invite, uas.address);
        await waitFor(() => dev.responses(486).length >= 1, 'the 486');
        await dev.send(invite, uas.address);
        await waitFor(() => dev.responses(486).length >= 2, 'the 486 again');
        await sleep(30);
        assert.equal(uas.requests.length, 1, 'the retransmitted INVITE matched');
        const tx = uas.requests[0].tx;
        assert.ok(tx.rfc2543);
        await dev.send(deviceAck(invite, dev.responses(486)[0].msg), uas.address);
        await waitFor(() => tx.state === 'confirmed', 'Confirmed');
        assert.deepEqual(acks, []);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('bad input: no Via, no CSeq, garbage responses: passed up or stray, never thrown', async () => {
      const uas = await endpoint({ timers: { t1: 20 } });
      const dev = await Device.open();
      try {
        const stray: number[] = [];
        uas.layer.onStrayResponse((r) => stray.push(r.status));
        uas.layer.onRequest((req, tx) => {
          uas.requests.push({ request: req, tx });
          tx.reply(400, 'Bad Request');
        });
        const noVia = deviceRequest('OPTIONS', dev, uas.address).replace(/^Via: .*\r\n/m, '');
        await dev.send(noVia, uas.address);
        await waitFor(() => dev.responses(400).length === 1, '400 to the source address');
        assert.equal(uas.requests[0].tx.key, null);
        assert.equal(uas.requests[0].tx.state, 'terminated');
        const noCSeq = deviceRequest('OPTIONS', dev, uas.address).replace(/^CSeq: .*\r\n/m, '');
        await dev.send(noCSeq, uas.address);
        await waitFor(() => uas.requests.length === 2, 'the request without CSeq');
        await dev.send('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n', uas.address);
        await dev.send(`SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP ${HOST}:1;branch=z9hG4bKnope\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`, uas.address);
        await waitFor(() => stray.length === 2, 'two stray responses');
        const noViaAck = deviceRequest('ACK', dev, uas.address).replace(/^Via: .*\r\n/m, '');
        const acks: Array<ServerTransaction | null> = [];
        uas.layer.onAck((_a, _f, tx) => acks.push(tx));
        await dev.send(noViaAck, uas.address);
        await waitFor(() => acks.length === 1, 'the ACK without Via');
        assert.equal(acks[0], null);
      } finally {
        await uas.close();
        await dev.close();
      }
    });

    test('reliable transport (TCP): no retransmissions, timer B still fires; timers D, I, J, K are zero', async () => {
      const timers = { t1: 10 }; // B/F/H = 640 ms
      const uac = await endpoint({ timers }, 'tcp');
      const uas = await endpoint({ timers }, 'tcp');
      // A silent TCP peer: accepts and reads, never answers.
      const silentData: Buffer[] = [];
      const silent = net.createServer((s) => s.on('data', (d) => silentData.push(d)));
      const sockets = new Set<net.Socket>();
      silent.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((r) => silent.listen(0, HOST, r));
      try {
        const port = (silent.address() as net.AddressInfo).port;
        let timer = '';
        const tx = uac.layer.sendRequest(uacRequest('INVITE', { host: HOST, port }), { transport: 'tcp', host: HOST, port }, {
          onTimeout: (_t, which) => {
            timer = which;
          },
        });
        assert.equal(tx.reliable, true);
        await waitFor(() => tx.state === 'terminated', 'timer B', 3000);
        assert.equal(timer, 'B');
        const text = Buffer.concat(silentData).toString('latin1');
        assert.equal(text.split('INVITE sip:').length - 1, 1, 'the INVITE was sent once');
        assert.match(text, /Via: SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK\w+;rport/);

        // INVITE → 486 over TCP: the client is Terminated at once (D = 0), the server at the ACK (I = 0).
        uas.layer.onRequest((req, stx) => {
          uas.requests.push({ request: req, tx: stx });
          if (req.get('subject') === 'answer') stx.reply(200, 'OK', { retransmit2xx: true });
          else stx.reply(req.method === 'INVITE' ? 486 : 200);
        });
        const inv = uac.layer.sendRequest(uacRequest('INVITE', uas.address), uas.dest);
        await waitFor(() => inv.state === 'terminated', 'the INVITE client transaction');
        assert.equal(inv.finalResponse?.status, 486);
        assert.equal(inv.terminationReason, 'completed');
        const stx = uas.requests[0].tx;
        await waitFor(() => stx.state === 'terminated', 'the INVITE server transaction (timer I = 0)');
        assert.equal(stx.ackReceived, true);
        // OPTIONS → 200: J = 0 on the server, K = 0 on the client.
        const opt = uac.layer.sendRequest(uacRequest('OPTIONS', uas.address), uas.dest);
        await waitFor(() => opt.state === 'terminated', 'the OPTIONS client transaction (timer K = 0)');
        assert.equal(uas.requests[1].tx.state, 'terminated');
        await sleep(50);
        const invitesOut = wire(uac, 'out').filter((w) => w.msg.method === 'INVITE' && w.msg.requestUri.includes(String(uas.address.port)));
        assert.equal(invitesOut.length, 1);
        assert.equal(wire(uas, 'out').filter((w) => w.msg.status === 486).length, 1, 'no timer G on TCP');
        assert.deepEqual(uac.layer.size, { client: 0, server: 0 });
        assert.deepEqual(uas.layer.size, { client: 0, server: 0 });
        // The 2xx is retransmitted end to end by the UAS core even on TCP (§13.3.1.4), until the ACK.
        let extra2xx = 0;
        let acked = 0;
        uas.layer.onAck(() => acked++);
        const call = uac.layer.sendRequest(uacRequest('INVITE', uas.address, [['Subject', 'answer']]), uas.dest, {
          onAdditional2xx: (r) => {
            if (++extra2xx === 2) {
              const ack = OutgoingMessage.request('ACK', `sip:service@${formatHostPort(uas.address)}`)
                .append('Max-Forwards', '70')
                .append('From', r.get('from')!)
                .append('To', r.get('to')!)
                .append('Call-ID', r.callId)
                .append('CSeq', '1 ACK');
              void uac.layer.sendAck(ack, uas.dest);
            }
          },
        });
        await waitFor(() => acked === 1, 'the ACK of the 2xx');
        const n = extra2xx;
        await sleep(100);
        assert.equal(extra2xx, n, 'no 2xx after the ACK');
        assert.equal(call.state, 'accepted');
      } finally {
        await uac.close();
        await uas.close();
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => silent.close(() => r()));
      }
    });

    test('timer C (§16.8, when enabled): CANCEL after a provisional, then a timeout; without a provisional, a timeout', async () => {
      const uac = await endpoint({ timers: { t1: 20, timerC: 150 } }); // B = 1280 ms, later than C
      const dev = await Device.open();
      try {
        dev.onMessage = (a) => {
          if (a.msg.method === 'INVITE' && a.msg.get('subject') === 'ring' && dev.requests('INVITE').length === 1) void dev.answer(a.msg, 180, 'Ringing', 'ring');
        };
        const timeouts: string[] = [];
        const ringing = uac.layer.sendRequest(uacRequest('INVITE', dev.address, [['Subject', 'ring']]), dev.dest, {
          onTimeout: (_t, timer) => timeouts.push(`ringing ${timer}`),
        });
        await waitFor(() => dev.requests('CANCEL').length === 1, 'the CANCEL sent by timer C');
        assert.equal(ringing.state, 'proceeding');
        assert.ok(ringing.cancelRequested);
        await waitFor(() => ringing.state === 'terminated', 'timer C again, no final response');
        assert.deepEqual(timeouts, ['ringing C']);
        const silent = uac.layer.sendRequest(uacRequest('INVITE', dev.address), dev.dest, {
          onTimeout: (_t, timer) => timeouts.push(`silent ${timer}`),
        });
        await waitFor(() => silent.state === 'terminated', 'timer C without a provisional');
        assert.deepEqual(timeouts, ['ringing C', 'silent C']);
      } finally {
        await uac.close();
        await dev.close();
      }
    });

    test('CANCEL answered by nothing: the INVITE transaction is given up 64*T1 after the CANCEL (§9.1)', async () => {
      const uac = await endpoint({ timers: { t1: 10 } }); // 640 ms
      const dev = await Device.open();
      try {
        dev.onMessage = (a) => {
          if (a.msg.method === 'INVITE' && dev.requests('INVITE').length === 1) void dev.answer(a.msg, 180, 'Ringing', 'ring');
        };
        let timeout = '';
        let cancelTimeout = '';
        const tx = uac.layer.sendRequest(uacRequest('INVITE', dev.address), dev.dest, {
          onTimeout: (_t, timer) => {
            timeout = timer;
          },
        });
        await waitFor(() => tx.provisionalReceived, 'the 180');
        const cancelledAt = performance.now();
        assert.ok(tx.cancel({ onTimeout: (_t, timer) => (cancelTimeout = timer) }));
        await waitFor(() => tx.state === 'terminated', 'the INVITE given up', 2000);
        const after = performance.now() - cancelledAt;
        assert.equal(timeout, 'cancel');
        assert.ok(after >= 620 && after <= 720, `${after.toFixed(0)} ms after the CANCEL`);
        await waitFor(() => cancelTimeout !== '', 'the CANCEL transaction timing out');
        assert.equal(cancelTimeout, 'F');
      } finally {
        await uac.close();
        await dev.close();
      }
    });

    test('a UAS core that throws: reported, and the request gets a 500', async () => {
      const t = await createTransport({ listen: [{ transport: 'udp', host: HOST, port: 0 }] });
      const errors: unknown[] = [];
      const layer = createTransactionLayer(t, { timers: { t1: 20 }, onHandlerError: (err) => errors.push(err) });
      const dev = await Device.open();
      try {
        layer.onRequest(() => {
          throw new Error('scenario bug');
        });
        const lp = t.listening[0];
        await dev.send(deviceRequest('OPTIONS', dev, lp), lp);
        await waitFor(() => dev.responses(500).length === 1, 'the 500');
        assert.equal((errors[0] as Error).message, 'scenario bug');
      } finally {
        layer.close();
        await t.close();
        await dev.close();
      }
    });

    test('TCP to a TLS port: the server closes the connection without an answer, the request fails at once (ERR_CONNECTION_CLOSED), not at timer F', async () => {
      const cert = await createTestCertificate({ ips: [HOST], keyType: 'ec' });
      const server = tls.createServer({ key: cert.key, cert: cert.cert });
      server.on('tlsClientError', () => undefined); // plain SIP is no ClientHello: the server drops the connection
      await new Promise<void>((r) => server.listen(0, HOST, () => r()));
      const port = (server.address() as net.AddressInfo).port;
      const uac = await endpoint({}, 'tcp'); // RFC timers: timer F would wait 32 s
      try {
        const errors: unknown[] = [];
        const t0 = performance.now();
        const tx = uac.layer.sendRequest(uacRequest('OPTIONS', { host: HOST, port }), { transport: 'tcp', host: HOST, port }, { onTransportError: (err) => errors.push(err) });
        await waitFor(() => tx.state === 'terminated', 'the transport error', 5000);
        assert.ok(performance.now() - t0 < 5000);
        assert.equal(tx.terminationReason, 'transport-error');
        assert.equal(errors.length, 1);
        assert.equal((errors[0] as { code?: string }).code, 'ERR_CONNECTION_CLOSED');
        assert.match(String((errors[0] as Error).message), /closed before any response to the OPTIONS/);
        assert.equal(uac.layer.size.client, 0);
      } finally {
        await uac.close();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    test('a connection that closes after a provisional does not fail the INVITE (the final may come on a new connection, §18.2.2)', async () => {
      const uac = await endpoint({}, 'tcp');
      const server = net.createServer((s) => {
        s.once('data', (d) => {
          const req = parse(d);
          s.end(responseTo(req, 180, 'Ringing', 'ring1').toBytes());
        });
      });
      await new Promise<void>((r) => server.listen(0, HOST, () => r()));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const events: string[] = [];
        const tx = uac.layer.sendRequest(uacRequest('INVITE', { host: HOST, port }), { transport: 'tcp', host: HOST, port }, {
          onProvisional: (r) => events.push(String(r.status)),
          onTransportError: () => events.push('transport error'),
        });
        await waitFor(() => events.length > 0, 'the 180');
        await waitFor(() => uac.transport.connectionIds.length === 0, 'the connection closed by the server');
        await sleep(50);
        assert.deepEqual(events, ['180']);
        assert.equal(tx.state, 'proceeding');
      } finally {
        await uac.close();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    test('transport failure (§17.1.4): onTransportError, then Terminated', async () => {
      const uac = await endpoint({ timers: { t1: 20 } });
      try {
        let error: unknown = null;
        const tx = uac.layer.sendRequest(uacRequest('OPTIONS', { host: HOST, port: 9 }), { transport: 'udp', host: 'not-an-ip', port: 9 }, {
          onTransportError: (err) => {
            error = err;
          },
        });
        await waitFor(() => tx.state === 'terminated', 'the transport error');
        assert.ok(error instanceof Error);
        assert.equal(tx.terminationReason, 'transport-error');
        assert.equal(uac.layer.size.client, 0);
      } finally {
        await uac.close();
      }
    });

    test('closing the layer terminates everything and clears every timer: the process exits at once', async () => {
      const started = performance.now();
      const env: NodeJS.ProcessEnv = { ...process.env, TRUNKLAB_TX_CLOSE_CHILD: '1' };
      delete env.NODE_TEST_CONTEXT; // the child is a plain script, not a test file under the runner
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const code = await new Promise<number | null>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.on('exit', (c) => {
          clearTimeout(kill);
          resolve(c);
        });
      });
      const took = performance.now() - started;
      assert.equal(code, 0, `child failed: ${stderr}`);
      const counts = JSON.parse(stdout.trim().split('\n').pop()!) as { baseline: number; during: number; afterLayers: number; after: number };
      assert.ok(counts.during >= counts.baseline + 6, `transactions held timers (${JSON.stringify(counts)})`);
      assert.equal(counts.afterLayers, counts.baseline, `closing the layers cleared every timer (${JSON.stringify(counts)})`);
      // Timers B, D, F, H, I, J, K, L are 32 s and more with the RFC defaults: exiting at once proves none is left.
      assert.ok(took < 5000, `the child exited after ${took.toFixed(0)} ms`);
    });
  });
}

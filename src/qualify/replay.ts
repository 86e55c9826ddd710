/**
 * Replay: one side of a recorded flow, played again against a target over
 * real sockets, the way SIPp plays a scenario. The replayer binds its own
 * socket, sends the side's messages in order with the recording's relative
 * timing (scaled by `speed`, or none with `asFast`), and for each message the
 * counterpart sent in the recording waits for a matching one from the target
 * (a request of the same method; a response of the same status class to the
 * same method: 100 only for 100, any 101-199 for a provisional). Provisional
 * responses are optional, like SIPp's `optional="true"`: one that does not
 * come is skipped as soon as a later expected message arrives.
 *
 * Messages are rewritten per dialog by `ReplayRewriter` (replay-rewrite.ts):
 * Call-ID, tags, branches, Via, Contact, in-dialog Request-URI and route set,
 * CSeq, SDP addresses, Content-Length; the side's responses answer the
 * target's actual requests.
 *
 * On UDP the replayer does what a transaction layer does about loss
 * (RFC 3261 §17): requests are retransmitted from T1 (doubling, non-INVITE
 * capped at T2) until a response comes, a 2xx to an INVITE until its ACK,
 * and a retransmitted request or final response from the target gets the
 * replayer's answer again (the response, the ACK).
 *
 * Everything on the replayer's socket goes through its capture tap into a
 * trace store (`capture`), for `--pcap` and for the flow diff against the
 * recording (flow-diff.ts).
 */
import dgram from 'node:dgram';
import type { OutgoingMessage } from '../sip/builder.ts';
import { type CaptureRecord, formatHostPort, type HostPort, type TransportProtocol } from '../sip/capture.ts';
import type { SipMessage } from '../sip/message.ts';
import { createTransport, type SendDestination, type TransportTlsOptions } from '../sip/transport.ts';
import type { Flow } from '../sip/transport-types.ts';
import { TraceStore } from '../trace/store.ts';
import { type DiffLine, diffFlows, type FlowMessage } from './flow-diff.ts';
import { type FlowSelection, labelOf, type RecordedFlow, type RecordedStep, selectFlow } from './replay-flow.ts';
import { expectation, ReplayRewriter } from './replay-rewrite.ts';

export { FlowSelectionError, type RecordedFlow, type RecordedStep, selectFlow } from './replay-flow.ts';

export interface ReplayTarget {
  host: string;
  port: number;
  /** Default: the recording's transport. */
  transport?: TransportProtocol;
}

export interface ReplayOptions extends FlowSelection {
  target: ReplayTarget;
  /** The replayer's socket; default: the address the system would use towards the target (127.0.0.1 for loopback), a free port. */
  local?: HostPort;
  /** Playback speed of the side's own waits (default 1; 2 = twice as fast). */
  speed?: number;
  /** Send without the recorded waits. */
  asFast?: boolean;
  /** How long to wait for each expected message beyond the wait the recording shows before it (ms, default 5000). */
  timeoutMs?: number;
  /** Provisional responses are optional (default true; false: 18x must come, 100 stays optional). */
  optionalProvisionals?: boolean;
  /** UDP retransmission timer T1 (ms, default 500). */
  t1Ms?: number;
  /** After the last step, how long to stay for stray messages before closing (ms, default 300). */
  lingerMs?: number;
  /** TLS: the replayer's key and certificate, and whether to verify the target's. */
  tls?: TransportTlsOptions;
  /** First CSeq number of the side's requests per Call-ID (default random). */
  cseqStart?: number;
  /** Each step as it happens. */
  onEvent?: (event: ReplayEvent) => void;
}

interface StepRef {
  /** Step number in the flow (1-based). */
  step: number;
  /** Index of the recorded message in the trace. */
  recorded: number;
  /** The recorded message (`INVITE`, `200 OK (INVITE)`). */
  label: string;
  /** ms since the replay started. */
  atMs: number;
}

export type ReplayEvent =
  | (StepRef & { event: 'sent'; to: string; callId: string })
  | (StepRef & { event: 'received'; /** what came */ received: string; from: string })
  | (StepRef & { event: 'optional-not-received'; expected: string; /** what made it skip: a later expected message, or the time */ skippedFor: string })
  | (StepRef & { event: 'expected-not-received'; expected: string; waitedMs: number; /** messages from the target that matched no step */ receivedInstead: string[] })
  | (StepRef & { event: 'send-failed'; error: string })
  | { event: 'unexpected'; received: string; from: string; atMs: number; /** a provisional response: tolerated */ ignored: boolean }
  | { event: 'transport-error'; code: string; message: string; atMs: number };

export interface ReplaySummary {
  /** Every step done (optional provisionals aside) and nothing unexpected but provisionals. */
  ok: boolean;
  side: string;
  peer: string;
  call: number;
  callKey: string;
  target: string;
  local: string;
  transport: TransportProtocol;
  steps: number;
  sent: number;
  received: number;
  optionalNotReceived: number;
  unexpected: number;
  durationMs: number;
  /** The step the replay stopped at, and why. */
  failedStep?: number;
  reason?: string;
}

export interface ReplayResult {
  summary: ReplaySummary;
  events: ReplayEvent[];
  flow: RecordedFlow;
  /** What crossed the replayer's socket. */
  capture: TraceStore;
  /** The recorded flow against the replayed one (flow-diff.ts): missing, extra, header and SDP differences. */
  diff: DiffLine[];
}

/** The element names of the two ends in the capture (pcapng interfaces, the diff). */
export const REPLAYER = 'replayer';
export const TARGET = 'target';

interface Arrival {
  message: SipMessage;
  flow: Flow;
  atMs: number;
  used: boolean;
}

/** Messages from the target, in arrival order, with a wait for the next one. */
class Inbox {
  readonly items: Arrival[] = [];
  #wake: (() => void) | null = null;

  push(a: Arrival): void {
    this.items.push(a);
    this.#wake?.();
  }

  /** The first unused arrival `accept` takes; else one `skip` takes (kind 'skip'); else null at the deadline. */
  async wait(accept: (m: SipMessage) => boolean, skip: ((m: SipMessage) => boolean) | null, deadline: number): Promise<{ kind: 'match' | 'skip'; arrival: Arrival } | null> {
    for (;;) {
      const match = this.items.find((a) => !a.used && accept(a.message));
      if (match !== undefined) return { kind: 'match', arrival: match };
      if (skip !== null) {
        const later = this.items.find((a) => !a.used && skip(a.message));
        if (later !== undefined) return { kind: 'skip', arrival: later };
      }
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#wake = done;
      });
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The source address the system picks towards `host` (a connected UDP socket sends nothing). */
export async function localAddressFor(host: string): Promise<string> {
  const v6 = host.includes(':');
  const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
  try {
    return await new Promise<string>((resolve) => {
      socket.once('error', () => resolve(v6 ? '::1' : '127.0.0.1'));
      socket.connect(9, host, () => resolve(socket.address().address));
    });
  } finally {
    socket.close();
  }
}

function retransmissionKey(m: SipMessage): string {
  const branch = m.topVia?.branch ?? '';
  return m.kind === 'request' ? `Q ${m.method} ${m.get('cseq')} ${m.callId} ${branch}` : `S ${m.status} ${m.get('cseq')} ${m.callId} ${m.toTag ?? ''} ${branch}`;
}

const isProvisional = (s: RecordedStep): boolean => s.message.kind === 'response' && s.message.status < 200;

/** Plays one side of a recorded flow against a target. Throws FlowSelectionError when the trace has no such flow. */
export async function replay(store: TraceStore, options: ReplayOptions): Promise<ReplayResult> {
  const flow = selectFlow(store, options);
  const transport = options.target.transport ?? flow.transport;
  const target: HostPort = { host: options.target.host.replace(/^\[|\]$/g, ''), port: options.target.port };
  const localHost = options.local?.host.replace(/^\[|\]$/g, '') ?? (await localAddressFor(target.host));
  const ours = new Set<string>();
  const capture = new TraceStore({ linkHeuristics: false, batchMs: 1000, resolveElement: (hp) => (ours.has(formatHostPort(hp)) ? REPLAYER : TARGET) });
  const tap = (r: CaptureRecord): void => {
    // Every record's local end is one of our sockets (a TCP client's ephemeral port too).
    ours.add(formatHostPort(r.local));
    capture.tap(r);
  };
  const tp = await createTransport({ listen: [{ transport, host: localHost, port: options.local?.port ?? 0 }], tap, tls: options.tls });
  const local = tp.sentBy(transport);
  ours.add(formatHostPort(local));
  const player = new Player(flow, options, tp, { local, target, transport });
  try {
    await player.run();
  } finally {
    await player.close();
    await tp.close();
    capture.flushEvents();
  }
  const summary: ReplaySummary = {
    ok: player.failure === null && player.unexpected === 0,
    side: flow.side,
    peer: flow.peer,
    call: flow.call.number,
    callKey: flow.call.key,
    target: `${formatHostPort(target)}/${transport}`,
    local: `${formatHostPort(local)}/${transport}`,
    transport,
    steps: flow.steps.length,
    sent: player.sent,
    received: player.received,
    optionalNotReceived: player.skipped,
    unexpected: player.unexpected,
    durationMs: Math.round(performance.now() - player.started),
  };
  if (player.failure !== null) {
    summary.failedStep = player.failure.step;
    summary.reason = player.failure.reason;
  } else if (player.unexpected > 0) summary.reason = `${player.unexpected} unexpected message${player.unexpected === 1 ? '' : 's'} from the target`;
  const diff = diffFlows(recordedFlowMessages(flow), replayedFlowMessages(capture, flow));
  return { summary, events: player.events, flow, capture, diff };
}

/** The recorded flow for flow-diff.ts, directions named `side → peer`. */
export function recordedFlowMessages(flow: RecordedFlow): FlowMessage[] {
  return flow.steps.map((s) => ({ index: s.index, label: s.label, direction: s.dir === 'send' ? `${flow.side} → ${flow.peer}` : `${flow.peer} → ${flow.side}`, message: s.message }));
}

/** The replayed flow for flow-diff.ts: the capture without retransmissions, the replayer named as the recorded side. */
export function replayedFlowMessages(capture: TraceStore, flow: RecordedFlow): FlowMessage[] {
  const out: FlowMessage[] = [];
  for (let i = 0; i < capture.size; i++) {
    if (capture.isRetransmission(i)) continue;
    const message = capture.message(i);
    const mine = capture.from(i) === REPLAYER;
    out.push({ index: i, label: message === null ? 'invalid' : labelOf(message), direction: mine ? `${flow.side} → ${flow.peer}` : `${flow.peer} → ${flow.side}`, message });
  }
  return out;
}

interface Sent {
  bytes: Uint8Array;
  dest: SendDestination;
}

/** The state of one replay while it runs. */
class Player {
  readonly events: ReplayEvent[] = [];
  readonly started = performance.now();
  sent = 0;
  received = 0;
  skipped = 0;
  unexpected = 0;
  failure: { step: number; reason: string } | null = null;
  readonly #flow: RecordedFlow;
  readonly #o: ReplayOptions;
  readonly #tp: Awaited<ReturnType<typeof createTransport>>;
  readonly #transport: TransportProtocol;
  readonly #target: HostPort;
  readonly #rw: ReplayRewriter;
  readonly #inbox = new Inbox();
  readonly #seen = new Set<string>();
  /** Recorded index of a request from the counterpart → the target's actual request. */
  readonly #actual = new Map<number, Arrival>();
  /** UDP retransmission timers, by what stops them. */
  readonly #retransmitting = new Map<string, NodeJS.Timeout>();
  /** Our ACK per INVITE (`cseq callId`), our last response per target request (its retransmission key). */
  readonly #acks = new Map<string, Sent>();
  readonly #answers = new Map<string, Sent>();
  readonly #t1: number;
  #closed = false;

  constructor(flow: RecordedFlow, o: ReplayOptions, tp: Awaited<ReturnType<typeof createTransport>>, at: { local: HostPort; target: HostPort; transport: TransportProtocol }) {
    this.#flow = flow;
    this.#o = o;
    this.#tp = tp;
    this.#transport = at.transport;
    this.#target = at.target;
    this.#t1 = o.t1Ms ?? 500;
    this.#rw = new ReplayRewriter({
      local: at.local,
      target: at.target,
      transport: at.transport,
      recordedTransport: flow.transport,
      sideAddresses: flow.sideAddresses,
      peerAddresses: flow.peerAddresses,
      cseqStart: o.cseqStart,
    });
    tp.onMessage((message, f) => this.#arrived(message, f));
    tp.onError((e) => this.#emit({ event: 'transport-error', code: e.code, message: e.message, atMs: this.#at() }));
  }

  #at(): number {
    return Math.round(performance.now() - this.started);
  }

  #emit(e: ReplayEvent): void {
    this.events.push(e);
    this.#o.onEvent?.(e);
  }

  #ref(s: RecordedStep): StepRef {
    return { step: s.step, recorded: s.index, label: s.label, atMs: this.#at() };
  }

  #arrived(message: SipMessage, f: Flow): void {
    if (this.#closed) return;
    const key = retransmissionKey(message);
    if (this.#seen.has(key)) {
      this.#again(message);
      return;
    }
    this.#seen.add(key);
    if (message.kind === 'response' && message.cseq) this.#stop(`req ${message.cseq.seq} ${message.cseq.method} ${message.callId}`);
    if (message.kind === 'request' && message.method === 'ACK' && message.cseq) this.#stop(`2xx ${message.cseq.seq} ${message.callId}`);
    this.#inbox.push({ message, flow: f, atMs: performance.now(), used: false });
  }

  /** A retransmission from the target: it missed our answer; send it again. */
  #again(message: SipMessage): void {
    let again: Sent | undefined;
    if (message.kind === 'response' && message.status >= 200 && message.cseq?.method === 'INVITE') again = this.#acks.get(`${message.cseq.seq} ${message.callId}`);
    else if (message.kind === 'request') again = this.#answers.get(retransmissionKey(message));
    if (again !== undefined) void this.#tp.send(again.bytes, again.dest).catch(() => undefined);
  }

  #stop(key: string): void {
    const t = this.#retransmitting.get(key);
    if (t !== undefined) clearTimeout(t);
    this.#retransmitting.delete(key);
  }

  /** RFC 3261 §17.1.1.2 / §17.1.2.2 / §13.3.1.4: T1, doubling (capped at T2 when `cap`), given up after 64·T1. */
  #retransmit(key: string, sent: Sent, cap: boolean): void {
    if (this.#transport !== 'udp') return;
    let interval = this.#t1;
    let elapsed = 0;
    const tick = (): void => {
      if (this.#closed) return;
      elapsed += interval;
      if (elapsed >= 64 * this.#t1) {
        this.#retransmitting.delete(key);
        return;
      }
      void this.#tp.send(sent.bytes, sent.dest).catch(() => undefined);
      interval = cap ? Math.min(interval * 2, 4000) : interval * 2;
      this.#retransmitting.set(key, setTimeout(tick, interval));
    };
    this.#stop(key);
    this.#retransmitting.set(key, setTimeout(tick, interval));
  }

  async run(): Promise<void> {
    const steps = this.#flow.steps;
    const timeoutMs = this.#o.timeoutMs ?? 5000;
    const speed = this.#o.speed ?? 1;
    const optionalProvisionals = this.#o.optionalProvisionals ?? true;
    let lastRecordedUs = steps[0]?.timeUs ?? 0;
    let lastActual = performance.now();
    for (let k = 0; k < steps.length; k++) {
      const step = steps[k];
      const gapMs = Math.max(0, (step.timeUs - lastRecordedUs) / 1000);
      if (step.dir === 'send') {
        if (!this.#o.asFast) await sleep(lastActual + gapMs / speed - performance.now());
        const ok = await this.#send(step, steps, k);
        if (!ok) return;
        lastActual = performance.now();
        lastRecordedUs = step.timeUs;
        continue;
      }
      const waitFrom = performance.now();
      const deadline = lastActual + gapMs + timeoutMs;
      const optional = isProvisional(step) && (optionalProvisionals || step.message.status === 100);
      // An optional step gives way to the expected messages right after it (up to the next send).
      const after: RecordedStep[] = [];
      for (let j = k + 1; optional && j < steps.length && steps[j].dir === 'expect'; j++) after.push(steps[j]);
      const got = await this.#inbox.wait(
        (m) => this.#rw.accepts(step, m),
        optional ? (m) => after.some((s) => this.#rw.accepts(s, m)) : null,
        deadline,
      );
      if (got !== null && got.kind === 'match') {
        const a = got.arrival;
        a.used = true;
        this.#rw.learn(step, a.message);
        if (a.message.kind === 'request') this.#actual.set(step.index, a);
        this.received++;
        this.#emit({ ...this.#ref(step), atMs: Math.round(a.atMs - this.started), event: 'received', received: labelOf(a.message), from: formatHostPort(a.flow.remote) });
        lastActual = a.atMs;
        lastRecordedUs = step.timeUs;
        continue;
      }
      if (optional) {
        this.skipped++;
        this.#emit({ ...this.#ref(step), event: 'optional-not-received', expected: this.#describe(step), skippedFor: got === null ? `nothing within ${Math.round(performance.now() - waitFrom)} ms` : labelOf(got.arrival.message) });
        continue;
      }
      const instead = this.#inbox.items.filter((a) => !a.used).map((a) => labelOf(a.message));
      const waitedMs = Math.round(performance.now() - waitFrom);
      this.#emit({ ...this.#ref(step), event: 'expected-not-received', expected: this.#describe(step), waitedMs, receivedInstead: instead });
      this.failure = { step: step.step, reason: `step ${step.step}: expected ${this.#describe(step)}, ${instead.length > 0 ? `received ${instead.join(', ')} instead` : `nothing came within ${waitedMs} ms`}` };
      return;
    }
    await sleep(this.#o.lingerMs ?? 300);
    for (const a of this.#inbox.items) {
      if (a.used) continue;
      const ignored = a.message.kind === 'response' && a.message.status < 200;
      if (!ignored) this.unexpected++;
      this.#emit({ event: 'unexpected', received: labelOf(a.message), from: formatHostPort(a.flow.remote), atMs: Math.round(a.atMs - this.started), ignored });
    }
  }

  /** `200 OK (INVITE): any 2xx response to INVITE from the target (recorded #20, sent by gw-a)`. */
  #describe(step: RecordedStep): string {
    return `${step.label}: any ${expectation(step)} from the target (recorded #${step.index}, sent by ${this.#flow.peer})`;
  }

  async #send(step: RecordedStep, steps: RecordedStep[], k: number): Promise<boolean> {
    const m = step.message;
    let out: OutgoingMessage;
    let dest: SendDestination;
    let answering: Arrival | undefined;
    let request: ReturnType<ReplayRewriter['request']> | undefined;
    if (m.kind === 'request') {
      request = this.#rw.request(step);
      out = request.message;
      dest = { transport: this.#transport, host: this.#target.host, port: this.#target.port };
    } else {
      // The request this response answers: the counterpart's, same Call-ID, CSeq and method.
      let asked: RecordedStep | undefined;
      for (let j = k - 1; j >= 0 && asked === undefined; j--) {
        const s = steps[j];
        if (s.dir === 'expect' && s.message.kind === 'request' && s.message.callId === m.callId && s.message.cseq?.seq === m.cseq?.seq && s.message.method === m.cseq?.method) asked = s;
      }
      answering = asked === undefined ? undefined : this.#actual.get(asked.index);
      if (answering === undefined) {
        const error = `cannot answer: the ${m.cseq?.method ?? ''} request it answers was ${asked === undefined ? 'not in the recorded flow' : 'not received'}`;
        this.#emit({ ...this.#ref(step), event: 'send-failed', error });
        this.failure = { step: step.step, reason: `step ${step.step} (${step.label}): ${error}` };
        return false;
      }
      out = this.#rw.response(step, answering.message);
      const f = answering.flow;
      dest = { transport: f.transport, host: f.remote.host, port: f.remote.port, connId: f.connId };
    }
    const bytes = out.toBytes();
    try {
      await this.#tp.send(bytes, dest);
    } catch (error) {
      const text = (error as Error).message;
      this.#emit({ ...this.#ref(step), event: 'send-failed', error: text });
      this.failure = { step: step.step, reason: `step ${step.step} (${step.label}): the send failed: ${text}` };
      return false;
    }
    this.sent++;
    const sent: Sent = { bytes, dest };
    if (request !== undefined) {
      if (request.method === 'ACK') this.#acks.set(`${request.cseq} ${request.callId}`, sent);
      else this.#retransmit(`req ${request.cseq} ${request.method} ${request.callId}`, sent, request.method !== 'INVITE');
      this.#emit({ ...this.#ref(step), event: 'sent', to: formatHostPort(dest), callId: request.callId });
    } else if (answering !== undefined) {
      const asked = answering.message;
      this.#answers.set(retransmissionKey(asked), sent);
      if (asked.method === 'INVITE' && m.status >= 200 && m.status < 300 && asked.cseq) this.#retransmit(`2xx ${asked.cseq.seq} ${asked.callId}`, sent, true);
      this.#emit({ ...this.#ref(step), event: 'sent', to: formatHostPort(dest), callId: asked.callId });
    }
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#retransmitting.values()) clearTimeout(t);
    this.#retransmitting.clear();
  }
}

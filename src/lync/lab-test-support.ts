/** Helpers for the lab tests: free-port topologies, calls that hang up once answered, the wire as parsed messages. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallSummary, EngineEvent } from '../common/api.ts';
import type { CaptureRecord, HostPort, TransportProtocol } from '../sip/capture.ts';
import { StreamFramer } from '../sip/framing.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseMessage } from '../sip/parser.ts';
import { UserAgent } from '../sip/user-agent.ts';
import { openStack, type SipStack } from './sip-stack.ts';
import { readTopologyInput, withFreePorts } from './free-ports.ts';
import { Lab } from './lab.ts';
import { parseTopology, type Topology, type TopologyInput } from './topology.ts';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/topologies');

export function fixtureInput(name: string): TopologyInput {
  return withFreePorts(readTopologyInput(path.join(FIXTURES, name)));
}

export function fixtureTopology(name: string, edit?: (input: TopologyInput) => void, external: string[] = []): Topology {
  const input = fixtureInput(name);
  edit?.(input);
  return parseTopology(input, name, { external });
}

/** Places a call, hangs up `talkMs` after it is answered, resolves with the final summary. */
export async function callAndHangUp(lab: Lab, from: string, to: string, talkMs = 100, limitMs = 20_000): Promise<CallSummary> {
  const { callId } = lab.placeCall({ from, to });
  let talk: NodeJS.Timeout | null = null;
  const poll = setInterval(() => {
    const s = lab.calls().find((c) => c.id === callId);
    if (s?.state === 'connected' && talk === null) talk = setTimeout(() => void lab.callAction(callId, { action: 'hangup' }).catch(() => undefined), talkMs);
  }, 5);
  const limit = setTimeout(() => void lab.callAction(callId, { action: 'hangup' }).catch(() => undefined), limitMs);
  try {
    return await lab.waitForCall(callId);
  } finally {
    clearInterval(poll);
    clearTimeout(limit);
    if (talk !== null) clearTimeout(talk);
  }
}

export function firstParties(topology: Topology): { user: string; number: string } {
  const user = topology.users.find((u) => u.registered && u.behaviour.outcome === 'answer');
  const peer = topology.peers.find((p) => p.external === null && p.numbers.length > 0);
  if (user === undefined || peer === undefined) throw new Error('no user or number');
  const number = peer.numbers.find((n) => n.behaviour.outcome === 'answer' && n.behaviour.hangUpAfterMs === null) ?? peer.numbers[0];
  return { user: user.name, number: number.number };
}

export const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `what()` holds; throws after `ms`. */
export async function until(what: () => boolean, ms: number, label = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await wait(10);
  }
}

/** One SIP message as it crossed a socket: who sent it to whom, and the parsed message. */
export interface WireMessage {
  seq: number;
  timeUs: number;
  transport: TransportProtocol;
  from: HostPort;
  to: HostPort;
  message: SipMessage;
}

export interface WireFilter {
  /** Sender / receiver IP address. */
  from?: string;
  to?: string;
  /** Request method, or for responses the CSeq method. */
  method?: string;
  kind?: 'request' | 'response';
  status?: number;
  callId?: string;
}

/**
 * The capture tap of a lab, read back as SIP messages: pass `wire.tap` as
 * the lab's `tap`. A message between two emulated elements is captured
 * twice (sent and received): it is listed once, from the sender's record.
 * A message from a device outside the lab is listed from the record of the
 * socket that received it. Stream segments are reassembled per connection
 * (RFC 3261 §18.3 framing), datagrams parsed one by one.
 */
export class WireLog {
  readonly records: CaptureRecord[] = [];
  readonly tap = (record: CaptureRecord): void => {
    this.records.push(record);
  };

  all(): WireMessage[] {
    const senders = new Set(this.records.filter((r) => r.direction === 'out').map((r) => r.local.host));
    const framers = new Map<string, StreamFramer>();
    const out: WireMessage[] = [];
    for (const r of this.records) {
      if (r.direction === 'in' && senders.has(r.remote.host)) continue;
      const from = r.direction === 'out' ? r.local : r.remote;
      const to = r.direction === 'out' ? r.remote : r.local;
      const chunks: Uint8Array[] = [];
      if (r.transport === 'udp') chunks.push(r.bytes);
      else {
        const key = `${r.connId}/${r.direction}/${r.local.host}:${r.local.port}`;
        let framer = framers.get(key);
        if (framer === undefined) {
          framer = new StreamFramer();
          framers.set(key, framer);
        }
        for (const item of framer.push(r.bytes)) if (item.kind === 'message') chunks.push(item.bytes);
      }
      for (const bytes of chunks) {
        const parsed = parseMessage(bytes, { datagram: r.transport === 'udp' });
        if (parsed.ok) out.push({ seq: r.seq, timeUs: r.timeUs, transport: r.transport, from, to, message: parsed.message });
      }
    }
    return out;
  }

  find(filter: WireFilter = {}): WireMessage[] {
    return this.all().filter((w) => {
      const m = w.message;
      if (filter.from !== undefined && w.from.host !== filter.from) return false;
      if (filter.to !== undefined && w.to.host !== filter.to) return false;
      if (filter.method !== undefined && m.method !== filter.method) return false;
      if (filter.kind !== undefined && m.kind !== filter.kind) return false;
      if (filter.status !== undefined && m.status !== filter.status) return false;
      if (filter.callId !== undefined && m.callId !== filter.callId) return false;
      return true;
    });
  }

  requests(method: string, filter: Omit<WireFilter, 'method' | 'kind'> = {}): SipMessage[] {
    return this.find({ ...filter, method, kind: 'request' }).map((w) => w.message);
  }

  responses(method: string, filter: Omit<WireFilter, 'method' | 'kind'> = {}): SipMessage[] {
    return this.find({ ...filter, method, kind: 'response' }).map((w) => w.message);
  }

  /** Forgets what was captured so far (e.g. the REGISTERs and OPTIONS at start). */
  clear(): void {
    this.records.length = 0;
  }
}

/** The SDP body's lines of a message. */
export function sdpLines(message: SipMessage): string[] {
  return message.bodyText.split(/\r?\n/).filter((l) => l.length > 0);
}

/** Header names as written on the wire (first occurrence each). */
export function headerNamesAsSent(message: SipMessage): string[] {
  return message.headers.map((h) => h.name);
}

/**
 * A SIP device outside the lab (what `--external` points a peer at), built
 * on our own SIP core so a test can send exactly the header fields it wants:
 * one UA on `host`, port picked at start. It answers OPTIONS (200) and
 * answers INVITEs with 200 and no SDP unless `ua.onInvite` is replaced.
 */
export async function externalDevice(host = '127.0.0.1', transport: 'udp' | 'tcp' = 'tcp'): Promise<{ stack: SipStack; ua: UserAgent; port: number; close(): Promise<void> }> {
  const stack = await openStack([{ transport, host, port: 0 }], { timers: { t1: 100 } });
  const ua = new UserAgent(stack.transport, stack.layer, { product: 'Trunklab-Test-Device/1.0', supported: ['timer'] });
  ua.onInvite = (session) => session.answer(null);
  const port = stack.transport.listening[0].port;
  return {
    stack,
    ua,
    port,
    close: async () => {
      ua.hangupAll();
      await stack.close();
    },
  };
}

/** Every answering user and number answers within 50 ms; `answerAfterMs` is kept where a test needs it. */
export function quick(input: TopologyInput): void {
  for (const u of input.users ?? []) if (u.behaviour === undefined || u.behaviour.outcome === 'answer') u.behaviour = { ...u.behaviour, outcome: 'answer', answerAfterMs: 50 };
  for (const p of input.peers ?? []) {
    p.behaviour = { ...p.behaviour, unknownNumber: { outcome: 'answer', answerAfterMs: 50 } };
    for (const n of p.numbers ?? []) {
      const b = n.behaviour;
      const plainAnswer = b === undefined || ((b.outcome ?? 'answer') === 'answer' && b.earlyMedia === undefined && b.ringingAfterMs === undefined);
      if (plainAnswer) n.behaviour = { ...b, answerAfterMs: 50 };
    }
  }
}

/** A fixture lab with `quick` answers, its wire and its events. */
export async function startQuickLab(fixture: string, edit?: (input: TopologyInput) => void, external: string[] = []): Promise<{ lab: Lab; wire: WireLog; events: EngineEvent[] }> {
  const wire = new WireLog();
  const events: EngineEvent[] = [];
  const lab = await Lab.start(
    fixtureTopology(fixture, (input) => {
      quick(input);
      edit?.(input);
    }, external),
    { timers: { t1: 100 }, tap: wire.tap, onEvent: (e) => events.push(e) },
  );
  return { lab, wire, events };
}

/** The IP address of an element (peer, user, Mediation Server). */
export function address(lab: Lab, element: string): string {
  const peer = lab.topology.peers.find((p) => p.name === element);
  if (peer !== undefined) return peer.external?.host ?? peer.address;
  const user = lab.topology.users.find((u) => u.name === element);
  if (user !== undefined) return user.address;
  const ms = lab.topology.mediationServers.find((m) => m.name === element);
  if (ms !== undefined) return ms.address;
  throw new Error(`no element ${element}`);
}

/** Places a call and waits until it is connected; resolves with its id. */
export async function connectedCall(lab: Lab, from: string, to: string): Promise<string> {
  const { callId } = lab.placeCall({ from, to });
  await until(() => lab.calls().find((c) => c.id === callId)?.state === 'connected', 5000, `${from} → ${to} connected`);
  return callId;
}

/** The media direction attribute of an SDP. */
export function direction(lines: string[]): string | undefined {
  return lines.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l))?.slice(2);
}


/**
 * The recorded flow a replay plays back: one side of one call, against one
 * counterpart. Every message that side sent to the counterpart is a `send`
 * step; every message the counterpart sent to it is an `expect` step.
 * Retransmissions and bytes that do not parse are left out (the replayer
 * retransmits by itself on UDP, as RFC 3261 §17 and SIPp do).
 *
 * The side and the counterpart are named the way the trace names its ends:
 * an element id (`med-1`, from a JSON trace or a Lync log), `host:port`, or
 * a host (every port of it: a TCP client's ephemeral ports included); the
 * side may also be `caller` or `callee` of the call.
 */
import { formatHostPort, type HostPort, type TransportProtocol } from '../sip/capture.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseNameAddrList } from '../sip/name-addr.ts';
import type { TraceStore } from '../trace/store.ts';

export interface RecordedStep {
  /** Position in the flow, from 1 (what the replay's output lines cite). */
  step: number;
  /** The message's index in the recorded trace. */
  index: number;
  dir: 'send' | 'expect';
  message: SipMessage;
  timeUs: number;
  /** `INVITE`, `180 Ringing (INVITE)`: the label flow-diff.ts uses. */
  label: string;
  transport: TransportProtocol;
}

export interface RecordedFlow {
  /** The side as the trace names it (`med-1`, `127.0.0.1:5061`). */
  side: string;
  /** The counterpart as the trace names it. */
  peer: string;
  /** 1-based number of the call in the trace (order of first message, as `convert --call`), its key and Call-IDs. */
  call: { number: number; key: string; callIds: string[] };
  transport: TransportProtocol;
  /** Every address of the side and of the counterpart seen in the flow: sockets, Via sent-by, Contact. */
  sideAddresses: HostPort[];
  peerAddresses: HostPort[];
  steps: RecordedStep[];
}

export interface FlowSelection {
  /** The side to replay: element id, `host:port`, host, or `caller` / `callee` (the ends of the call's first message). */
  side: string;
  /** The counterpart, when the side talks to more than one in the call. */
  peer?: string;
  /** 1-based call number, a Call-ID or a call key (`c12`); default: the first call where the side exchanges more than OPTIONS/REGISTER. */
  call?: number | string;
}

export class FlowSelectionError extends Error {}

const BACKGROUND = new Set(['OPTIONS', 'REGISTER']);

function partyMatches(party: string, name: string, hp: HostPort): boolean {
  return party === name || party === formatHostPort(hp) || party === hp.host || party === `[${hp.host}]`;
}

/** The counterpart key: its element name, or its host when the trace names it by address (TCP clients use many ports). */
function counterpartKey(name: string, hp: HostPort): string {
  return name === formatHostPort(hp) ? hp.host : name;
}

export function labelOf(m: SipMessage): string {
  return m.kind === 'request' ? m.method : `${m.status} ${m.reason} (${m.cseq?.method ?? m.method})`;
}

/** Picks the flow of one side against one counterpart in one call. Throws FlowSelectionError naming what is missing or ambiguous. */
export function selectFlow(store: TraceStore, selection: FlowSelection): RecordedFlow {
  const calls = store.calls();
  const wanted = selection.call;
  let chosen: number | null = null;
  if (typeof wanted === 'number') {
    if (wanted < 1 || wanted > calls.length) throw new FlowSelectionError(`no call ${wanted} in the trace (it has ${calls.length})`);
    chosen = wanted - 1;
  } else if (typeof wanted === 'string') {
    chosen = calls.findIndex((c) => c.key === wanted || c.legs.some((l) => store.leg(l).callId === wanted));
    if (chosen < 0) throw new FlowSelectionError(`no call with key or Call-ID ${JSON.stringify(wanted)} in the trace`);
  }
  const candidates = chosen === null ? calls.map((_, k) => k) : [chosen];
  const exchange = (k: number): Array<{ i: number; dir: 'send' | 'expect'; key: string; name: string }> => {
    const indexes = calls[k].legs.flatMap((l) => store.legMessages(l)).sort((a, b) => a - b);
    // `caller` / `callee`: the two ends of the call's first message (as `convert --side` takes them).
    let side = selection.side;
    if ((side === 'caller' || side === 'callee') && indexes.length > 0) side = side === 'caller' ? store.from(indexes[0]) : store.to(indexes[0]);
    const picked: Array<{ i: number; dir: 'send' | 'expect'; key: string; name: string }> = [];
    for (const i of indexes) {
      if (store.isRetransmission(i) || store.kind(i) === 'invalid') continue;
      const sends = partyMatches(side, store.from(i), store.src(i));
      const receives = partyMatches(side, store.to(i), store.dst(i));
      if (sends === receives) continue;
      const name = sends ? store.to(i) : store.from(i);
      const hp = sends ? store.dst(i) : store.src(i);
      if (selection.peer !== undefined && !partyMatches(selection.peer, name, hp)) continue;
      picked.push({ i, dir: sends ? 'send' : 'expect', key: counterpartKey(name, hp), name });
    }
    return picked;
  };
  const foreground = (picked: ReturnType<typeof exchange>): boolean => picked.some((p) => !BACKGROUND.has(store.method(p.i)));
  for (const k of candidates) {
    const c = calls[k];
    const picked = exchange(k);
    if (picked.length === 0 || (chosen === null && !foreground(picked))) continue;
    const peers = [...new Set(picked.map((p) => p.key))];
    if (peers.length > 1) {
      throw new FlowSelectionError(`${selection.side} talks to ${peers.join(', ')} in call ${k + 1} (${c.key}): name the counterpart with --peer`);
    }
    const steps: RecordedStep[] = [];
    for (const p of picked) {
      const message = store.message(p.i);
      if (message === null) continue;
      steps.push({ step: steps.length + 1, index: p.i, dir: p.dir, message, timeUs: store.timeUs(p.i), label: labelOf(message), transport: store.transport(p.i) });
    }
    if (steps.length === 0) continue;
    const sideAddresses: HostPort[] = [];
    const peerAddresses: HostPort[] = [];
    for (const s of steps) {
      const [mine, theirs] = s.dir === 'send' ? [store.src(s.index), store.dst(s.index)] : [store.dst(s.index), store.src(s.index)];
      addAddress(sideAddresses, mine);
      addAddress(peerAddresses, theirs);
      const own = s.dir === 'send' ? sideAddresses : peerAddresses;
      const via = s.message.kind === 'request' ? s.message.topVia : undefined;
      if (via !== undefined && via.port !== null) addAddress(own, { host: via.host.replace(/^\[|\]$/g, ''), port: via.port });
      for (const value of s.message.getAll('contact')) {
        for (const na of parseNameAddrList(value)) {
          const u = na.uri;
          if (u !== null && u.port !== null && u.host !== '') addAddress(own, { host: u.host.replace(/^\[|\]$/g, ''), port: u.port });
        }
      }
    }
    const callIds = [...new Set(steps.map((s) => s.message.callId))];
    return { side: picked[0].dir === 'send' ? store.from(picked[0].i) : store.to(picked[0].i), peer: picked[0].name, call: { number: k + 1, key: c.key, callIds }, transport: steps[0].transport, sideAddresses, peerAddresses, steps };
  }
  // Nothing there: say where the side does talk.
  const elsewhere: number[] = [];
  for (let k = 0; k < calls.length && elsewhere.length < 20; k++) if (foreground(exchange(k))) elsewhere.push(k + 1);
  const who = `${selection.side}${selection.peer !== undefined ? ` ↔ ${selection.peer}` : ''}`;
  const where = chosen === null ? 'the trace' : `call ${chosen + 1} (${calls[chosen].key})`;
  const hint = elsewhere.length > 0 ? `; calls with ${who}: ${elsewhere.join(', ')}` : '';
  throw new FlowSelectionError(`no SIP message ${chosen === null ? 'other than OPTIONS/REGISTER ' : ''}between ${who}${selection.peer === undefined ? ' and anyone' : ''} in ${where}${hint}`);
}

function addAddress(list: HostPort[], hp: HostPort): void {
  if (!list.some((x) => x.host === hp.host && x.port === hp.port)) list.push({ host: hp.host, port: hp.port });
}

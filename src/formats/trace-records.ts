/**
 * The trace store's messages as capture records for the pcap and pcapng
 * writers: one record per message (sngrep loses messages that share a TCP
 * segment), from the sender to the receiver, with the store's connection
 * numbers. Hosts that are not IP literals (a Lync log's `Peer:
 * lyncserver.contoso.com:5061`, the log owner) get a stable stand-in address
 * from 198.18.0.0/15 (RFC 2544 benchmarking), and port 0 becomes 5060, so
 * that every packet is a valid frame that Wireshark dissects as SIP.
 */
import type { CaptureRecord, HostPort } from '../sip/capture.ts';
import type { TraceStore } from '../trace/store.ts';
import { parseIp } from './ip-address.ts';
import type { PcapngWriterOptions } from './pcapng.ts';

/** Numbers calls and legs densely in order of first message (`call 1`, `leg 2` in comments and logs). */
export class CallNumbering {
  readonly callOfLeg: Int32Array;
  readonly legInCall: Int32Array;
  readonly callCount: number;

  constructor(store: TraceStore) {
    this.callOfLeg = new Int32Array(store.legCount);
    this.legInCall = new Int32Array(store.legCount);
    const calls = store.calls();
    calls.forEach((c, k) => {
      c.legs.forEach((l, j) => {
        this.callOfLeg[l] = k + 1;
        this.legInCall[l] = j + 1;
      });
    });
    this.callCount = calls.length;
  }

  /** `call=3 leg=2`, or '' for a message in no leg. */
  label(store: TraceStore, i: number): string {
    const l = store.legOf(i);
    return l < 0 ? '' : `call=${this.callOfLeg[l]} leg=${this.legInCall[l]}`;
  }
}

const standIns = new Map<string, string>();

/** An IP literal for any host text (the host itself when it is one). */
export function exportHost(host: string): string {
  if (parseIp(host)) return host;
  let a = standIns.get(host);
  if (a === undefined) {
    let h = 0x811c9dc5;
    for (let i = 0; i < host.length; i++) h = Math.imul(h ^ host.charCodeAt(i), 0x01000193);
    h >>>= 0;
    a = `198.${18 + ((h >>> 16) & 1)}.${(h >>> 8) & 0xff}.${Math.max(1, h & 0xff)}`;
    standIns.set(host, a);
  }
  return a;
}

function exportEndpoint(hp: HostPort): HostPort {
  const host = exportHost(hp.host);
  const port = hp.port === 0 ? 5060 : hp.port;
  return host === hp.host && port === hp.port ? hp : { host, port };
}

/** One capture record per message (all, or the given indexes in order); `seq` is the message index + 1. */
export function* messageRecords(store: TraceStore, indexes?: Iterable<number>): Generator<CaptureRecord> {
  const list = indexes ?? range(store.size);
  for (const i of list) {
    yield {
      seq: i + 1,
      timeUs: store.timeUs(i),
      direction: 'out',
      transport: store.transport(i),
      local: exportEndpoint(store.src(i)),
      remote: exportEndpoint(store.dst(i)),
      connId: store.connId(i),
      bytes: store.bytes(i),
    };
  }
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/**
 * pcapng options for a store: one interface per sending element (or sender
 * address outside the topology), and a packet comment naming the element,
 * the receiver, the call and the leg (`decrypted TLS` is added by the writer).
 */
export function pcapngOptionsFor(store: TraceStore, numbering = new CallNumbering(store)): PcapngWriterOptions {
  return {
    interfaceOf: (r) => {
      const name = store.from(r.seq - 1);
      return { interfaceName: name, description: `Trunklab: messages sent by ${name}` };
    },
    commentOf: (r) => {
      const i = r.seq - 1;
      const parts = [`element=${store.from(i)} to=${store.to(i)}`];
      const cl = numbering.label(store, i);
      if (cl) parts.push(cl);
      const ro = store.retransmissionOf(i);
      if (ro >= 0) parts.push(`retransmission of message ${ro + 1}`);
      if (store.kind(i) === 'invalid') parts.push(`invalid: ${store.invalidReason(i)}`);
      return parts.join(' ');
    },
  };
}

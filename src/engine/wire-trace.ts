/**
 * The engine's index of the messages on the wire: capture records (from the
 * tap or an imported file) framed into SIP messages, each with its summary
 * and exact bytes. Dense indexes from 0; append-only until cleared.
 *
 * Element names come from a resolver (the lab's `elementOf`); a record the
 * lab both sent and received (both ends emulated) is tapped twice, once per
 * socket: only the sending side's copy is kept.
 */
import { Buffer } from 'node:buffer';

import type { MessageSummary, TransportName } from '../common/api.ts';
import type { CaptureRecord, HostPort } from '../sip/capture.ts';
import { formatHostPort } from '../sip/capture.ts';
import { StreamFramer } from '../sip/framing.ts';
import { parseMessage } from '../sip/parser.ts';

export interface StoredMessage {
  summary: MessageSummary;
  bytes: Uint8Array;
  src: HostPort;
  dst: HostPort;
  connId: number | null;
  source: string;
}

/** Element id for an address, or undefined outside the topology. */
export type Resolver = (host: string, port: number, transport: TransportName) => string | undefined;

export class WireTrace {
  readonly messages: StoredMessage[] = [];
  readonly #framers = new Map<string, StreamFramer>();
  readonly #lastByKey = new Map<string, number>();
  #resolve: Resolver;
  readonly #onMessage: (m: StoredMessage) => void;

  constructor(resolve: Resolver, onMessage: (m: StoredMessage) => void) {
    this.#resolve = resolve;
    this.#onMessage = onMessage;
  }

  get size(): number {
    return this.messages.length;
  }

  setResolver(resolve: Resolver): void {
    this.#resolve = resolve;
  }

  clear(): void {
    this.messages.length = 0;
    this.#framers.clear();
    this.#lastByKey.clear();
  }

  /**
   * A record from the live tap (`live`: both ends may be ours) or from a
   * capture file (every record is a distinct packet, `local` = destination).
   */
  add(record: CaptureRecord, source: string, live: boolean): void {
    const outgoing = record.direction === 'out';
    const src = outgoing ? record.local : record.remote;
    const dst = outgoing ? record.remote : record.local;
    const fromId = this.#resolve(src.host, src.port, record.transport);
    // Our own element sent it: its outgoing copy is (or will be) in the trace.
    if (live && !outgoing && fromId !== undefined) return;
    if (record.transport === 'udp') {
      this.#addMessage(record, record.bytes, src, dst, fromId, source);
      return;
    }
    const key = `${source}|${record.connId ?? `${formatHostPort(src)}>${formatHostPort(dst)}`}|${formatHostPort(src)}`;
    let framer = this.#framers.get(key);
    if (framer === undefined) {
      framer = new StreamFramer();
      this.#framers.set(key, framer);
    }
    for (const item of framer.push(record.bytes)) {
      if (item.kind === 'keepalive') continue;
      this.#addMessage(record, item.bytes, src, dst, fromId, source);
    }
  }

  #addMessage(record: CaptureRecord, bytes: Uint8Array, src: HostPort, dst: HostPort, fromId: string | undefined, source: string): void {
    const transport = record.transport;
    const copy = new Uint8Array(bytes);
    const parsed = parseMessage(copy, { datagram: transport === 'udp' });
    const index = this.messages.length;
    const base = {
      index,
      timeUs: record.timeUs,
      transport,
      from: fromId ?? formatHostPort(src),
      to: this.#resolve(dst.host, dst.port, transport) ?? formatHostPort(dst),
      src: formatHostPort(src),
      dst: formatHostPort(dst),
      size: copy.byteLength,
    };
    let summary: MessageSummary;
    if (parsed.ok) {
      const m = parsed.message;
      const cseq = m.cseq;
      const callId = m.callId;
      // Same bytes between the same ends again: a retransmission (RFC 3261 §17).
      const key = `${base.src}>${base.dst}|${callId}|${cseq?.seq ?? ''} ${m.method}|${m.status}|${m.topVia?.params ?? ''}|${copy.byteLength}`;
      const retransmission = this.#lastByKey.has(key);
      this.#lastByKey.set(key, index);
      const errors = m.diagnostics.filter((d) => d.severity === 'error').length;
      summary = {
        ...base,
        kind: m.kind,
        method: m.kind === 'request' ? m.method : (cseq?.method ?? m.method),
        ...(m.kind === 'response' ? { status: m.status, reason: m.reason } : {}),
        callId,
        cseq: m.get('cseq') ?? '',
        callKey: callId,
        legKey: callId,
        retransmission,
        sdp: m.contentType === 'application/sdp' && m.body.byteLength > 0,
        errors,
        warnings: m.diagnostics.length - errors,
      };
    } else {
      const firstLine = Buffer.from(copy.buffer, copy.byteOffset, Math.min(copy.byteLength, 200)).toString('latin1').split(/\r?\n/, 1)[0] ?? '';
      summary = {
        ...base,
        kind: 'invalid',
        method: /^[A-Z]+ /.test(firstLine) ? firstLine.split(' ', 1)[0]! : '',
        reason: parsed.error.message,
        callId: '',
        cseq: '',
        retransmission: false,
        sdp: false,
        errors: 1,
        warnings: 0,
      };
    }
    const stored: StoredMessage = { summary, bytes: copy, src, dst, connId: record.connId, source };
    this.messages.push(stored);
    this.#onMessage(stored);
  }
}

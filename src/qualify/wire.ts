/**
 * What a case sees of the wire: every capture record of its lab, fed into a
 * trace store (one message per SIP message, both ends of an internal hop
 * merged, retransmissions marked), with the role of each end so an
 * expectation can ask for "the trunk" (Mediation Server ↔ gateway, IP-PBX
 * or SBC) or "the Lync side" (users, Front End, Mediation's FE side).
 *
 * The store is created once the lab runs (its resolver needs the bound
 * ports); records captured before that (REGISTER at start) are replayed
 * into it then. Message indexes are the store's: the index a verdict cites
 * is the message's position in the case's trace and in its pcap.
 */
import type { ElementRole, ElementStatus, MessageSummary } from '../common/api.ts';
import type { CaptureRecord } from '../sip/capture.ts';
import type { SipMessage } from '../sip/message.ts';
import { TraceStore } from '../trace/store.ts';
import type { Side } from './scenario.ts';

export type Role = ElementRole | 'unknown';

export interface WireMessage {
  index: number;
  summary: MessageSummary;
  /** Null for bytes that do not parse as SIP. */
  message: SipMessage | null;
  fromRole: Role;
  toRole: Role;
  side: Exclude<Side, 'any'>;
  /** `INVITE`, `183 Session Progress (INVITE)`. */
  label: string;
}

export interface ElementResolverSource {
  elementOf(host: string, port: number, transport: 'udp' | 'tcp' | 'tls'): string | null;
  elements(): ElementStatus[];
}

const PEER_ROLES: ReadonlySet<Role> = new Set(['gateway', 'ip-pbx', 'sbc']);

export function isPeerRole(role: Role): boolean {
  return PEER_ROLES.has(role);
}

export function labelOf(s: MessageSummary): string {
  if (s.kind === 'request') return s.method;
  if (s.kind === 'response') return `${s.status} ${s.reason ?? ''} (${s.method})`.replace(/ {2}/, ' ');
  return `invalid: ${s.reason ?? ''}`;
}

export class WireLog {
  /** Every record, as captured (for the pcap). */
  readonly records: CaptureRecord[] = [];
  #store: TraceStore | null = null;
  #roles = new Map<string, Role>();
  #cache: WireMessage[] = [];
  elements: ElementStatus[] = [];

  readonly tap = (record: CaptureRecord): void => {
    this.records.push(record);
    this.#store?.tap(record);
  };

  /** Starts resolving addresses to elements (call once the lab is up). */
  attach(source: ElementResolverSource): void {
    this.elements = source.elements();
    for (const e of this.elements) this.#roles.set(e.id, e.role);
    this.#store = new TraceStore({ resolveElement: (hp, transport) => source.elementOf(hp.host, hp.port, transport), linkHeuristics: false, batchMs: 1000 });
    for (const r of this.records) this.#store.tap(r);
  }

  get size(): number {
    return this.#store?.size ?? 0;
  }

  get store(): TraceStore | null {
    return this.#store;
  }

  roleOf(element: string): Role {
    return this.#roles.get(element) ?? 'unknown';
  }

  /** Message `i` (parsed once, cached). */
  at(i: number): WireMessage {
    const cached = this.#cache[i];
    if (cached !== undefined) return cached;
    const store = this.#store;
    if (store === null) throw new Error('WireLog: not attached');
    const summary = store.summary(i);
    const fromRole = this.roleOf(summary.from);
    const toRole = this.roleOf(summary.to);
    const trunk = (fromRole === 'mediation' && isPeerRole(toRole)) || (toRole === 'mediation' && isPeerRole(fromRole));
    const w: WireMessage = { index: i, summary, message: store.message(i), fromRole, toRole, side: trunk ? 'trunk' : 'lync', label: labelOf(summary) };
    this.#cache[i] = w;
    return w;
  }

  timeUs(i: number): number {
    return this.#store?.timeUs(i) ?? 0;
  }

  text(i: number): string {
    const store = this.#store;
    return store === null ? '' : Buffer.from(store.bytes(i)).toString('utf8');
  }

  /** One record per message, in trace order, as the sender sent it (frame N of a pcap is message #N-1). */
  messageRecords(): CaptureRecord[] {
    const store = this.#store;
    if (store === null) return [];
    const out: CaptureRecord[] = [];
    for (let i = 0; i < store.size; i++) {
      const r = store.record(i);
      out.push({ seq: i + 1, timeUs: r.timeUs, direction: 'out', transport: r.transport, local: r.src, remote: r.dst, connId: r.connId, bytes: new Uint8Array(r.bytes) });
    }
    return out;
  }

  /** Drops the store's pending timers (end of a case). */
  close(): void {
    this.#store?.flushEvents();
  }
}

/** Does an element (with its role) match a party word: an id, or `peer` / `mediation` / `front-end` / `user`? */
export function partyMatches(party: string, element: string, role: Role): boolean {
  switch (party) {
    case 'peer':
      return isPeerRole(role);
    case 'mediation':
      return role === 'mediation';
    case 'front-end':
      return role === 'front-end';
    case 'user':
      return role === 'lync-user';
    default:
      return party === element;
  }
}

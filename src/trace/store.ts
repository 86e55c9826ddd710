/**
 * The trace store: every SIP message of a run or an imported file, once, in
 * order, grouped into transactions (RFC 3261 §17.1.3, §17.2.3), dialogs
 * (§12), legs and calls.
 *
 * - Append-only. Live runs feed it from the capture tap ({@link tap}),
 *   importers from file records ({@link appendRecords}) or events.
 * - When both ends of a message are in the process, the tap sees it twice
 *   (an 'out' record at the sender, an 'in' record at the receiver, same
 *   bytes, mirrored addresses): the store keeps one message that knows the
 *   sender, the receiver, the send time and the receive time.
 * - Columnar: numbers in typed arrays, Call-IDs and addresses interned, raw
 *   bytes packed in large chunks; a message is parsed once on append for
 *   its summary fields and again only when someone asks for it.
 * - Retransmissions (same transaction, same sender, same status for
 *   responses) are marked with the index of the first copy.
 * - Legs: the dialogs of one Call-ID and one initiator tag (early ones
 *   included). Calls: sets of legs, joined by the B2BUA ({@link linkLegs},
 *   confidence 1) or, for traffic the store did not originate, by the
 *   evidence in the messages (see call-linker.ts).
 */
import { Buffer } from 'node:buffer';
import type { MessageSummary } from '../common/api.ts';
import type { CaptureRecord, HostPort, TransportProtocol } from '../sip/capture.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseMessage } from '../sip/parser.ts';
import { CallLinker, type LegFeatures } from './call-linker.ts';
import { ByteArena, hashBytes, hashString, StringTable } from './columns.ts';
import { extractFields, numberOf } from './extract.ts';
import type {
  CallChange,
  CallInfo,
  ElementResolver,
  LegInfo,
  LegLink,
  LegRef,
  LinkOptions,
  MessageRecord,
  StoreMemory,
  TraceStoreOptions,
  TransactionInfo,
} from './store-types.ts';
import { type SourceRecord, type WireEvent, WireEventAssembler } from './wire-event.ts';

export type * from './store-types.ts';

const TRANSPORTS: readonly TransportProtocol[] = ['udp', 'tcp', 'tls'];
const KIND_REQUEST = 0;
const KIND_RESPONSE = 1;
const KIND_INVALID = 2;
const KINDS = ['request', 'response', 'invalid'] as const;

/** Message flags. */
export const FLAG_RETRANSMISSION = 1;
export const FLAG_SDP = 2;
/** Both ends recorded by the tap (send and receive time known). */
export const FLAG_BOTH_ENDS = 4;
/** Stream bytes were lost just before this message. */
export const FLAG_GAP = 8;
const FLAG_TAP_OUT = 16;
const FLAG_TAP_IN = 32;

const NONE = -1;
const SMALL_OVERFLOW = 0xffff;
/** Transactions of one Call-ID searched for a match (newest first). */
const TX_SEARCH_DEPTH = 64;

interface PairEntry {
  key: string;
  index: number;
  timeUs: number;
}

export class TraceStore {
  readonly #resolve: ElementResolver | undefined;
  readonly #linker: CallLinker | null;
  readonly #pairWindowUs: number;
  readonly #batchMs: number;
  readonly #assembler = new WireEventAssembler();

  // Message table: one typed array per field, all of capacity #cap.
  #n = 0;
  #cap = 0;
  #time = new Float64Array(0);
  #recvTime = new Float64Array(0);
  #src = new Uint32Array(0);
  #dst = new Uint32Array(0);
  /** transport | kind << 2 */
  #info = new Uint8Array(0);
  #flags = new Uint8Array(0);
  #conn = new Int32Array(0);
  #ref = new Uint32Array(0);
  #loc = new Float64Array(0);
  #len = new Uint32Array(0);
  #method = new Uint16Array(0);
  #status = new Uint16Array(0);
  #reason = new Uint16Array(0);
  #callId = new Int32Array(0);
  #cseq = new Uint32Array(0);
  #cseqMethod = new Uint16Array(0);
  #tx = new Int32Array(0);
  #leg = new Int32Array(0);
  #dialog = new Int32Array(0);
  #prevInTx = new Int32Array(0);
  #nextInLeg = new Int32Array(0);
  #retransOf = new Int32Array(0);
  #errors = new Uint8Array(0);
  #warnings = new Uint8Array(0);

  // Transaction table.
  #txN = 0;
  #txCap = 0;
  #txBranch = new Uint32Array(0);
  #txMethod = new Uint16Array(0);
  #txFirst = new Int32Array(0);
  #txLast = new Int32Array(0);
  #txFinal = new Uint16Array(0);
  #txNextInCall = new Int32Array(0);
  #txLeg = new Int32Array(0);

  // Dialog table.
  #dN = 0;
  #dCap = 0;
  #dLeg = new Int32Array(0);
  #dTag = new Uint32Array(0);
  #dFirst = new Int32Array(0);
  #dNextInLeg = new Int32Array(0);

  // Leg table.
  #lN = 0;
  #lCap = 0;
  #lCallId = new Int32Array(0);
  #lTag = new Uint32Array(0);
  #lFirst = new Int32Array(0);
  #lLast = new Int32Array(0);
  #lCount = new Uint32Array(0);
  #lNextInCall = new Int32Array(0);
  #lDialogHead = new Int32Array(0);
  #lInviteTx = new Int32Array(0);
  #lParent = new Int32Array(0);
  /** The legs of one call form a ring (merged in O(1) when calls join). */
  #lRing = new Int32Array(0);

  // Per Call-ID: newest transaction and newest leg.
  #cidCap = 0;
  #cidTxHead = new Int32Array(0);
  #cidLegHead = new Int32Array(0);
  #lastMethod = '';
  #lastReason = '';
  #lastReasonId = 0;
  #lastMethodId = 0;

  readonly #bytes = new ByteArena();
  readonly #callIds = new StringTable();
  readonly #methods = new StringTable();
  readonly #reasons = new StringTable();
  /** Per transport: host → port → endpoint id. */
  readonly #endpointIds: [Map<string, Map<number, number>>, Map<string, Map<number, number>>, Map<string, Map<number, number>>] = [new Map(), new Map(), new Map()];
  readonly #endpointAddr: HostPort[] = [];
  readonly #endpointTransport: TransportProtocol[] = [];
  readonly #endpointName: string[] = [];
  readonly #conns = new StringTable();

  readonly #links: LegLink[] = [];
  readonly #deferredLinks = new Map<string, Array<{ other: LegRef; options: LinkOptions }>>();

  // Live pairing of the two tap records of one message.
  readonly #pairs = new Map<string, number[]>();
  readonly #pairQueue: PairEntry[] = [];
  #pairHead = 0;

  // Events.
  readonly #appendListeners = new Set<(batch: MessageSummary[]) => void>();
  readonly #callListeners = new Set<(change: CallChange) => void>();
  #pendingEvents: number[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: TraceStoreOptions = {}) {
    this.#resolve = options.resolveElement;
    const h = options.linkHeuristics ?? true;
    this.#linker = h === false ? null : new CallLinker(h === true ? {} : h);
    this.#pairWindowUs = options.pairWindowUs ?? 5_000_000;
    this.#batchMs = options.batchMs ?? 16;
    this.#methods.intern('');
    this.#reasons.intern('');
  }

  /** Number of messages. */
  get size(): number {
    return this.#n;
  }

  get assemblerStats() {
    return this.#assembler.stats;
  }

  // ---------------------------------------------------------------- feeding

  /** A capture tap that feeds this store (live runs): `createTransport({ tap: store.tap })`. */
  readonly tap = (record: CaptureRecord): void => {
    const events = this.#assembler.push(record, true);
    for (const ev of events) this.appendEvent(ev);
    this.#schedule();
  };

  /** Records read from a file (pcap/pcapng reader, log reader): framed, parsed, correlated. Listeners get one batch. */
  appendRecords(records: readonly SourceRecord[]): void {
    const events: WireEvent[] = [];
    for (const r of records) {
      events.length = 0;
      this.#assembler.push(r, false, events);
      for (const ev of events) this.appendEvent(ev);
    }
    this.flushEvents();
  }

  /** End of the input: bytes left on streams become invalid messages. */
  endInput(): void {
    for (const ev of this.#assembler.flush()) this.appendEvent(ev);
    this.flushEvents();
  }

  /** A live connection closed: an incomplete message on it becomes an invalid message. */
  connectionClosed(connId: number): void {
    for (const ev of this.#assembler.closeConnection(connId)) this.appendEvent(ev);
    this.#schedule();
  }

  /** Appends one wire event; returns its message index (the existing one when it is the other end of a live message). */
  appendEvent(ev: WireEvent): number {
    const transport = ev.transport;
    const srcEp = this.#endpoint(ev.src, transport);
    const dstEp = this.#endpoint(ev.dst, transport);
    let pairKey = '';
    if (ev.tap !== null) {
      this.#expirePairs(ev.timeUs);
      pairKey = `${transport}|${srcEp}|${dstEp}|${ev.bytes.length}|${hashBytes(ev.bytes)}`;
      const merged = this.#pairWith(pairKey, ev);
      if (merged >= 0) return merged;
    }

    const i = this.#n;
    if (i === this.#cap) this.#growMessages();
    this.#n = i + 1;
    this.#time[i] = ev.timeUs;
    this.#recvTime[i] = ev.recvTimeUs ?? Number.NaN;
    this.#src[i] = srcEp;
    this.#dst[i] = dstEp;
    this.#conn[i] = ev.connId === null || transport === 'udp' ? NONE : this.#connection(ev, srcEp, dstEp);
    this.#ref[i] = ev.ref;
    // Copied: the tap's buffers belong to the sockets, and keeping an importer's slabs instead was
    // measured no faster (the page faults move to the reader) and higher in peak memory.
    this.#loc[i] = this.#bytes.add(ev.bytes);
    this.#len[i] = ev.bytes.length;
    this.#tx[i] = NONE;
    this.#leg[i] = NONE;
    this.#dialog[i] = NONE;
    this.#prevInTx[i] = NONE;
    this.#nextInLeg[i] = NONE;
    this.#retransOf[i] = NONE;
    let flags = 0;
    if (ev.tap === 'out') flags |= FLAG_TAP_OUT;
    else if (ev.tap === 'in') flags |= FLAG_TAP_IN;
    if (ev.missingBefore) flags |= FLAG_GAP;
    if (ev.recvTimeUs !== undefined) flags |= FLAG_BOTH_ENDS;

    let msg: SipMessage | null = null;
    let invalidReason = ev.invalid;
    if (invalidReason === undefined) {
      const r = parseMessage(ev.bytes, { datagram: transport === 'udp' });
      if (r.ok) msg = r.message;
      else invalidReason = `${r.error.message} (at byte ${r.error.offset})`;
    }
    const t = transport === 'udp' ? 0 : transport === 'tcp' ? 1 : 2;
    if (msg === null) {
      this.#info[i] = t | (KIND_INVALID << 2);
      this.#method[i] = 0;
      this.#status[i] = 0;
      this.#reason[i] = this.#small(this.#reasons, invalidReason ?? '');
      this.#callId[i] = NONE;
      this.#cseq[i] = 0;
      this.#cseqMethod[i] = 0;
      this.#errors[i] = 1;
      this.#warnings[i] = 0;
      this.#flags[i] = flags;
    } else {
      const f = extractFields(msg);
      const request = msg.kind === 'request';
      this.#info[i] = t | ((request ? KIND_REQUEST : KIND_RESPONSE) << 2);
      this.#method[i] = request ? this.#methodId(msg.method) : this.#methodId(f.cseqMethod);
      this.#status[i] = msg.status;
      this.#reason[i] = request ? 0 : this.#reasonId(msg.reason);
      const cid = f.callId === '' ? NONE : this.#callIds.intern(f.callId);
      this.#callId[i] = cid;
      this.#cseq[i] = f.cseq;
      this.#cseqMethod[i] = this.#methodId(f.cseqMethod);
      this.#errors[i] = f.errors > 255 ? 255 : f.errors;
      this.#warnings[i] = f.warnings > 255 ? 255 : f.warnings;
      if (f.sdp) flags |= FLAG_SDP;
      this.#flags[i] = flags;
      if (cid !== NONE) this.#correlate(i, msg, cid, f.branch, f.fromTag, f.toTag, f.cseq, f.cseqMethod, srcEp);
    }
    if (pairKey !== '') this.#addPair(pairKey, i, ev.timeUs);
    if (this.#appendListeners.size > 0) this.#pendingEvents.push(i);
    return i;
  }

  #growMessages(): void {
    const cap = this.#cap === 0 ? 4096 : this.#cap * 2;
    this.#cap = cap;
    this.#time = grow(this.#time, cap);
    this.#recvTime = grow(this.#recvTime, cap);
    this.#src = grow(this.#src, cap);
    this.#dst = grow(this.#dst, cap);
    this.#info = grow(this.#info, cap);
    this.#flags = grow(this.#flags, cap);
    this.#conn = grow(this.#conn, cap);
    this.#ref = grow(this.#ref, cap);
    this.#loc = grow(this.#loc, cap);
    this.#len = grow(this.#len, cap);
    this.#method = grow(this.#method, cap);
    this.#status = grow(this.#status, cap);
    this.#reason = grow(this.#reason, cap);
    this.#callId = grow(this.#callId, cap);
    this.#cseq = grow(this.#cseq, cap);
    this.#cseqMethod = grow(this.#cseqMethod, cap);
    this.#tx = grow(this.#tx, cap);
    this.#leg = grow(this.#leg, cap);
    this.#dialog = grow(this.#dialog, cap);
    this.#prevInTx = grow(this.#prevInTx, cap);
    this.#nextInLeg = grow(this.#nextInLeg, cap);
    this.#retransOf = grow(this.#retransOf, cap);
    this.#errors = grow(this.#errors, cap);
    this.#warnings = grow(this.#warnings, cap);
  }

  #growTransactions(): void {
    const cap = this.#txCap === 0 ? 2048 : this.#txCap * 2;
    this.#txCap = cap;
    this.#txBranch = grow(this.#txBranch, cap);
    this.#txMethod = grow(this.#txMethod, cap);
    this.#txFirst = grow(this.#txFirst, cap);
    this.#txLast = grow(this.#txLast, cap);
    this.#txFinal = grow(this.#txFinal, cap);
    this.#txNextInCall = grow(this.#txNextInCall, cap);
    this.#txLeg = grow(this.#txLeg, cap);
  }

  #growDialogs(): void {
    const cap = this.#dCap === 0 ? 1024 : this.#dCap * 2;
    this.#dCap = cap;
    this.#dLeg = grow(this.#dLeg, cap);
    this.#dTag = grow(this.#dTag, cap);
    this.#dFirst = grow(this.#dFirst, cap);
    this.#dNextInLeg = grow(this.#dNextInLeg, cap);
  }

  #growLegs(): void {
    const cap = this.#lCap === 0 ? 1024 : this.#lCap * 2;
    this.#lCap = cap;
    this.#lCallId = grow(this.#lCallId, cap);
    this.#lTag = grow(this.#lTag, cap);
    this.#lFirst = grow(this.#lFirst, cap);
    this.#lLast = grow(this.#lLast, cap);
    this.#lCount = grow(this.#lCount, cap);
    this.#lNextInCall = grow(this.#lNextInCall, cap);
    this.#lDialogHead = grow(this.#lDialogHead, cap);
    this.#lInviteTx = grow(this.#lInviteTx, cap);
    this.#lParent = grow(this.#lParent, cap);
    this.#lRing = grow(this.#lRing, cap);
  }

  #growCallIds(cid: number): void {
    let cap = this.#cidCap === 0 ? 1024 : this.#cidCap * 2;
    while (cap <= cid) cap *= 2;
    const from = this.#cidCap;
    this.#cidCap = cap;
    this.#cidTxHead = grow(this.#cidTxHead, cap);
    this.#cidLegHead = grow(this.#cidLegHead, cap);
    this.#cidTxHead.fill(NONE, from);
    this.#cidLegHead.fill(NONE, from);
  }

  /** Method ids fit the 16-bit columns; a flood of distinct junk methods shares one overflow id. */
  #methodId(method: string): number {
    if (method === this.#lastMethod) return this.#lastMethodId;
    const id = this.#small(this.#methods, method);
    this.#lastMethod = method;
    this.#lastMethodId = id;
    return id;
  }

  #reasonId(reason: string): number {
    if (reason === this.#lastReason) return this.#lastReasonId;
    const id = this.#small(this.#reasons, reason);
    this.#lastReason = reason;
    this.#lastReasonId = id;
    return id;
  }

  #small(table: StringTable, s: string): number {
    const id = table.intern(s);
    return id >= SMALL_OVERFLOW ? SMALL_OVERFLOW : id;
  }

  #endpoint(hp: HostPort, transport: TransportProtocol): number {
    const t = transport === 'udp' ? 0 : transport === 'tcp' ? 1 : 2;
    let byPort = this.#endpointIds[t].get(hp.host);
    if (byPort === undefined) {
      byPort = new Map();
      this.#endpointIds[t].set(hp.host, byPort);
    }
    let id = byPort.get(hp.port);
    if (id === undefined) {
      id = this.#endpointAddr.length;
      byPort.set(hp.port, id);
      this.#endpointAddr.push({ host: hp.host, port: hp.port });
      this.#endpointTransport.push(transport);
      const name = this.#resolve?.(hp, transport) ?? null;
      this.#endpointName.push(name ?? formatAddress(hp));
    }
    return id;
  }

  #connection(ev: WireEvent, srcEp: number, dstEp: number): number {
    // Live: both ends' views of one connection share the 4-tuple; imports: the file's connection id too.
    const a = srcEp < dstEp ? srcEp : dstEp;
    const b = srcEp < dstEp ? dstEp : srcEp;
    return this.#conns.intern(ev.tap === null ? `${a}|${b}|${ev.connId}` : `${a}|${b}`);
  }

  // ------------------------------------------------------- live pair dedup

  #pairWith(key: string, ev: WireEvent): number {
    const q = this.#pairs.get(key);
    if (!q) return NONE;
    const want = ev.tap === 'out' ? FLAG_TAP_IN : FLAG_TAP_OUT;
    for (let k = 0; k < q.length; k++) {
      const m = q[k];
      const fl = this.#flags[m];
      if ((fl & want) === 0 || (fl & FLAG_BOTH_ENDS) !== 0) continue;
      q.splice(k, 1);
      if (q.length === 0) this.#pairs.delete(key);
      if (ev.tap === 'in') this.#recvTime[m] = ev.timeUs;
      else {
        // The receiver's record came first: keep the send time as the message time.
        this.#recvTime[m] = this.#time[m];
        this.#time[m] = ev.timeUs;
      }
      this.#flags[m] = fl | FLAG_BOTH_ENDS | FLAG_TAP_IN | FLAG_TAP_OUT;
      return m;
    }
    return NONE;
  }

  #addPair(key: string, index: number, timeUs: number): void {
    let q = this.#pairs.get(key);
    if (!q) {
      q = [];
      this.#pairs.set(key, q);
    }
    q.push(index);
    this.#pairQueue.push({ key, index, timeUs });
  }

  #expirePairs(nowUs: number): void {
    const oldest = nowUs - this.#pairWindowUs;
    const pq = this.#pairQueue;
    while (this.#pairHead < pq.length && pq[this.#pairHead].timeUs < oldest) {
      const e = pq[this.#pairHead++];
      const q = this.#pairs.get(e.key);
      if (!q) continue;
      const k = q.indexOf(e.index);
      if (k >= 0) q.splice(k, 1);
      if (q.length === 0) this.#pairs.delete(e.key);
    }
    if (this.#pairHead > 4096 && this.#pairHead * 2 > pq.length) {
      pq.splice(0, this.#pairHead);
      this.#pairHead = 0;
    }
  }

  // ------------------------------------------------------------ correlation

  #correlate(i: number, msg: SipMessage, cid: number, branch: string, fromTag: string, toTag: string, cseq: number, cseqMethod: string, srcEp: number): void {
    const fromH = fromTag === '' ? 0 : hashString(fromTag);
    const toH = toTag === '' ? 0 : hashString(toTag);
    const request = msg.kind === 'request';

    // Leg: Call-ID + the initiator's tag.
    if (cid >= this.#cidCap) this.#growCallIds(cid);
    let leg = this.#cidLegHead[cid];
    while (leg !== NONE) {
      const tagA = this.#lTag[leg];
      if (tagA === fromH || (toH !== 0 && tagA === toH)) break;
      leg = this.#lNextInCall[leg];
    }
    let newLeg = false;
    if (leg === NONE) {
      leg = this.#lN;
      if (leg === this.#lCap) this.#growLegs();
      this.#lN = leg + 1;
      this.#lCallId[leg] = cid;
      this.#lTag[leg] = fromH;
      this.#lFirst[leg] = i;
      this.#lLast[leg] = i;
      this.#lCount[leg] = 0;
      this.#lNextInCall[leg] = this.#cidLegHead[cid];
      this.#cidLegHead[cid] = leg;
      this.#lDialogHead[leg] = NONE;
      this.#lInviteTx[leg] = NONE;
      this.#lParent[leg] = leg;
      this.#lRing[leg] = leg;
      newLeg = true;
    } else {
      this.#nextInLeg[this.#lLast[leg]] = i;
      this.#lLast[leg] = i;
    }
    this.#lCount[leg]++;
    this.#leg[i] = leg;

    // Dialog: the leg plus the other side's tag (none while early).
    const other = this.#lTag[leg] === fromH ? toH : fromH;
    let d = this.#lDialogHead[leg];
    let early = NONE;
    while (d !== NONE) {
      const tag = this.#dTag[d];
      if (tag === other) break;
      if (tag === 0) early = d;
      d = this.#dNextInLeg[d];
    }
    if (d === NONE) {
      if (early !== NONE && other !== 0) {
        d = early;
        this.#dTag[d] = other;
      } else {
        d = this.#dN;
        if (d === this.#dCap) this.#growDialogs();
        this.#dN = d + 1;
        this.#dLeg[d] = leg;
        this.#dTag[d] = other;
        this.#dFirst[d] = i;
        this.#dNextInLeg[d] = this.#lDialogHead[leg];
        this.#lDialogHead[leg] = d;
      }
    }
    this.#dialog[i] = d;

    // Transaction: top Via branch + method (RFC 3261 §17.2.3); RFC 2543 peers: CSeq + From tag.
    const branchH = branch !== '' && branch !== 'z9hG4bK' ? hashString(branch) : hashString(`${cseq}|${fromTag}|2543`);
    const method = request ? msg.method : cseqMethod;
    const methodId = this.#methodId(method);
    let tx = NONE;
    if (request && method === 'ACK') {
      // ACK for a non-2xx final response belongs to the INVITE transaction (§17.1.1.3).
      const inv = this.#findTx(cid, branchH, this.#methodId('INVITE'));
      if (inv !== NONE && this.#txFinal[inv] >= 300) tx = inv;
    }
    if (tx === NONE) tx = this.#findTx(cid, branchH, methodId);
    const isNewTx = tx === NONE;
    if (isNewTx) {
      tx = this.#txN;
      if (tx === this.#txCap) this.#growTransactions();
      this.#txN = tx + 1;
      this.#txBranch[tx] = branchH;
      this.#txMethod[tx] = methodId;
      this.#txFirst[tx] = i;
      this.#txLast[tx] = i;
      this.#txFinal[tx] = 0;
      this.#txLeg[tx] = leg;
      this.#txNextInCall[tx] = this.#cidTxHead[cid];
      this.#cidTxHead[cid] = tx;
      if (request && method === 'INVITE' && this.#lInviteTx[leg] === NONE) this.#lInviteTx[leg] = tx;
    } else {
      this.#retransmission(i, tx, msg, request, method, srcEp, d);
      this.#prevInTx[i] = this.#txLast[tx];
      this.#txLast[tx] = i;
    }
    this.#tx[i] = tx;
    if (!request && msg.status >= 200 && this.#txFinal[tx] === 0) this.#txFinal[tx] = msg.status;

    if (newLeg) this.#legCreated(leg, i, msg, cid);
  }

  #findTx(cid: number, branchH: number, methodId: number): number {
    let tx = this.#cidTxHead[cid];
    for (let depth = 0; tx !== NONE && depth < TX_SEARCH_DEPTH; depth++) {
      if (this.#txBranch[tx] === branchH && this.#txMethod[tx] === methodId) return tx;
      tx = this.#txNextInCall[tx];
    }
    return NONE;
  }

  /** Marks `i` when an earlier message of the transaction is the same message from the same sender. */
  #retransmission(i: number, tx: number, msg: SipMessage, request: boolean, method: string, srcEp: number, dialog: number): void {
    const bytes = this.bytes(i);
    for (let m = this.#txLast[tx]; m !== NONE; m = this.#prevInTx[m]) {
      if (this.#src[m] !== srcEp) continue;
      const kind = (this.#info[m] >> 2) & 3;
      if (request) {
        if (kind !== KIND_REQUEST || this.#methods.get(this.#method[m]) !== method) continue;
      } else {
        if (kind !== KIND_RESPONSE || this.#status[m] !== msg.status || this.#dialog[m] !== dialog) continue;
        // A new provisional (another RSeq, another SDP) is not a retransmission; a repeated final is.
        if (msg.status < 200 && !equalBytes(this.bytes(m), bytes)) continue;
      }
      const orig = this.#retransOf[m];
      this.#retransOf[i] = orig === NONE ? m : orig;
      this.#flags[i] |= FLAG_RETRANSMISSION;
      return;
    }
  }

  #legCreated(leg: number, i: number, msg: SipMessage, cid: number): void {
    const callId = this.#callIds.get(cid);
    const deferred = this.#deferredLinks.get(callId);
    if (deferred) {
      // A link the B2BUA made before the leg's first message reached the store.
      this.#deferredLinks.delete(callId);
      for (const d of deferred) this.linkLegs(leg, d.other, d.options);
    }
    // Live traffic is linked by the B2BUA that made it (linkLegs); the evidence is for imports.
    if (this.#linker === null || msg.kind !== 'request' || msg.method !== 'INVITE' || (this.#flags[i] & (FLAG_TAP_IN | FLAG_TAP_OUT)) !== 0) return;
    // Legs sharing a Call-ID are one call (a proxy on the path, or a B2BUA that keeps the Call-ID).
    for (let l = this.#lNextInCall[leg]; l !== NONE; l = this.#lNextInCall[l]) {
      if (this.#lInviteTx[l] !== NONE && this.#find(l) !== this.#find(leg)) {
        this.linkLegs(l, leg, { source: 'call-id', confidence: 0.9, evidence: [`same Call-ID ${callId}, another From tag`] });
        return;
      }
    }
    if (this.#find(leg) !== leg) return;
    const f = this.#features(leg, i, msg);
    const decision = this.#linker.consider(
      f,
      (l) => {
        const tx = this.#lInviteTx[l];
        return tx !== NONE && this.#txFinal[tx] === 0;
      },
      (a, b) => this.#find(a) === this.#find(b),
    );
    if (decision) this.linkLegs(decision.leg, leg, { source: 'heuristic', confidence: decision.confidence, evidence: decision.evidence });
  }

  #features(leg: number, i: number, msg: SipMessage): LegFeatures {
    const src = this.#src[i];
    const dst = this.#dst[i];
    const fromNum = numberOf(msg.get('from'));
    const pai = numberOf(msg.get('p-asserted-identity'));
    const history: string[] = [];
    for (const v of msg.getAll('history-info')) {
      for (const part of v.split(',')) {
        const n = numberOf(part);
        if (n !== '') history.push(n);
      }
    }
    const peer = msg.get('ms-trunking-peer') ?? '';
    const ua = msg.get('user-agent') ?? msg.get('server') ?? '';
    return {
      leg,
      timeUs: this.#time[i],
      srcHost: this.#endpointAddr[src].host,
      srcEndpoint: src,
      dstHost: this.#endpointAddr[dst].host,
      dstEndpoint: dst,
      caller: pai || fromNum,
      callerAlt: pai && pai !== fromNum ? fromNum : '',
      called: numberOf(msg.requestUri) || numberOf(msg.get('to')),
      history,
      callSource: (msg.get('ms-call-source') ?? '').trim().toLowerCase(),
      trunkingPeer: peer.split(/[;:\s]/)[0].replace(/^\[|\]$/g, ''),
      fromLync: /RTCC\//.test(ua),
    };
  }

  // ---------------------------------------------------------------- calls

  #find(leg: number): number {
    const p = this.#lParent;
    let r = leg;
    while (p[r] !== r) r = p[r];
    while (p[leg] !== r) {
      const n = p[leg];
      p[leg] = r;
      leg = n;
    }
    return r;
  }

  #resolveLeg(ref: LegRef): number {
    if (typeof ref === 'number') return ref >= 0 && ref < this.#lN ? ref : NONE;
    const cid = this.#callIds.find(ref.callId);
    if (cid < 0 || cid >= this.#cidCap) return NONE;
    // The oldest leg of the Call-ID, or the one with that tag on either side.
    let found = NONE;
    const want = ref.tag === undefined || ref.tag === '' ? 0 : hashString(ref.tag);
    for (let l = this.#cidLegHead[cid]; l !== NONE; l = this.#lNextInCall[l]) {
      if (want !== 0 && this.#legHasTag(l, want)) return l;
      found = l;
    }
    return found;
  }

  #legHasTag(l: number, tagH: number): boolean {
    if (this.#lTag[l] === tagH) return true;
    for (let d = this.#lDialogHead[l]; d !== NONE; d = this.#dNextInLeg[d]) if (this.#dTag[d] === tagH) return true;
    return false;
  }

  /**
   * Puts two legs in one call. The emulated B2BUA calls it with
   * `{source: 'b2bua', confidence: 1}`, naming legs by Call-ID (and a tag
   * of either side when one Call-ID has several legs); a leg that has no
   * message yet is linked when its first message arrives.
   */
  linkLegs(a: LegRef, b: LegRef, options: LinkOptions): void {
    const la = this.#resolveLeg(a);
    const lb = this.#resolveLeg(b);
    if (la === NONE || lb === NONE) {
      const [missing, other] = la === NONE ? [a, lb === NONE ? b : lb] : [b, la];
      if (typeof missing === 'number') throw new RangeError(`no leg ${missing}`);
      const list = this.#deferredLinks.get(missing.callId) ?? [];
      list.push({ other, options });
      this.#deferredLinks.set(missing.callId, list);
      return;
    }
    const ra = this.#find(la);
    const rb = this.#find(lb);
    if (ra === rb) return;
    const link: LegLink = { a: la, b: lb, source: options.source, confidence: Math.max(0, Math.min(1, options.confidence)), evidence: options.evidence ?? [] };
    this.#links.push(link);
    const root = ra < rb ? ra : rb;
    const gone = ra < rb ? rb : ra;
    this.#lParent[gone] = root;
    const ring = this.#lRing;
    const next = ring[root];
    ring[root] = ring[gone];
    ring[gone] = next;
    if (this.#callListeners.size > 0) {
      const change: CallChange = { callKey: `c${root}`, legs: this.callLegs(root), absorbed: [`c${gone}`], link };
      for (const l of this.#callListeners) l(change);
    }
  }

  /** The call (root leg) a leg belongs to. */
  callOfLeg(leg: number): number {
    return this.#find(leg);
  }

  /** Legs of the call that `leg` belongs to, in order. */
  callLegs(leg: number): number[] {
    const out = [leg];
    for (let l = this.#lRing[leg]; l !== leg; l = this.#lRing[l]) out.push(l);
    return out.sort((a, b) => a - b);
  }

  get links(): readonly LegLink[] {
    return this.#links;
  }

  get legCount(): number {
    return this.#lN;
  }

  get transactionCount(): number {
    return this.#txN;
  }

  get dialogCount(): number {
    return this.#dN;
  }

  /** Every call: sets of legs with their links, in order of first message. */
  calls(): CallInfo[] {
    const byRoot = new Map<number, CallInfo>();
    const out: CallInfo[] = [];
    for (let l = 0; l < this.#lN; l++) {
      const root = this.#find(l);
      let c = byRoot.get(root);
      if (!c) {
        c = { key: `c${root}`, legs: [], links: [], confidence: 1, startUs: Number.POSITIVE_INFINITY, endUs: 0, messages: 0 };
        byRoot.set(root, c);
        out.push(c);
      }
      c.legs.push(l);
      c.startUs = Math.min(c.startUs, this.#time[this.#lFirst[l]]);
      c.endUs = Math.max(c.endUs, this.#time[this.#lLast[l]]);
      c.messages += this.#lCount[l];
    }
    for (const link of this.#links) {
      const c = byRoot.get(this.#find(link.a));
      if (!c) continue;
      c.links.push(link);
      c.confidence = Math.min(c.confidence, link.confidence);
    }
    out.sort((x, y) => this.#lFirst[x.legs[0]] - this.#lFirst[y.legs[0]]);
    return out;
  }

  leg(l: number): LegInfo {
    const first = this.#lFirst[l];
    const tx = this.#lInviteTx[l];
    const firstReq = this.#firstRequestOfLeg(l);
    return {
      index: l,
      key: `l${l}`,
      callKey: `c${this.#find(l)}`,
      callId: this.#callIds.get(this.#lCallId[l]),
      first,
      last: this.#lLast[l],
      messages: this.#lCount[l],
      method: firstReq === NONE ? '' : this.method(firstReq),
      finalStatus: tx === NONE ? 0 : this.#txFinal[tx],
      from: this.#endpointName[this.#src[first]],
      to: this.#endpointName[this.#dst[first]],
      startUs: this.#time[first],
      endUs: this.#time[this.#lLast[l]],
    };
  }

  /** Index of a leg's first message. */
  legFirst(l: number): number {
    return this.#lFirst[l];
  }

  #firstRequestOfLeg(l: number): number {
    for (let m = this.#lFirst[l]; m !== NONE; m = this.#nextInLeg[m]) if (this.kind(m) === 'request') return m;
    return NONE;
  }

  /** Message indexes of a leg, in order. */
  legMessages(l: number): number[] {
    const out: number[] = [];
    for (let m = this.#lFirst[l]; m !== NONE; m = this.#nextInLeg[m]) out.push(m);
    return out;
  }

  /** Message indexes of a call (all its legs), in order. */
  callMessages(leg: number): number[] {
    const out: number[] = [];
    for (const l of this.callLegs(leg)) out.push(...this.legMessages(l));
    return out.sort((a, b) => a - b);
  }

  transaction(tx: number): TransactionInfo {
    return {
      index: tx,
      method: this.#methods.get(this.#txMethod[tx]),
      first: this.#txFirst[tx],
      last: this.#txLast[tx],
      finalStatus: this.#txFinal[tx],
      leg: this.#txLeg[tx],
    };
  }

  // -------------------------------------------------------------- reading

  timeUs(i: number): number {
    return this.#time[i];
  }

  /** Receive time at the other end (both ends in the process), else NaN. */
  recvTimeUs(i: number): number {
    return this.#recvTime[i];
  }

  transport(i: number): TransportProtocol {
    return TRANSPORTS[this.#info[i] & 3];
  }

  kind(i: number): 'request' | 'response' | 'invalid' {
    return KINDS[(this.#info[i] >> 2) & 3];
  }

  method(i: number): string {
    const id = this.#method[i];
    if (id === SMALL_OVERFLOW) return this.message(i)?.method ?? '';
    return this.#methods.get(id);
  }

  status(i: number): number {
    return this.#status[i];
  }

  /** Reason phrase of a response; for an invalid message, why it is invalid. */
  reason(i: number): string {
    const id = this.#reason[i];
    if (id === SMALL_OVERFLOW) return this.kind(i) === 'response' ? (this.message(i)?.reason ?? '') : 'invalid message';
    return this.#reasons.get(id);
  }

  callId(i: number): string {
    const c = this.#callId[i];
    return c === NONE ? '' : this.#callIds.get(c);
  }

  cseq(i: number): number {
    return this.#cseq[i];
  }

  cseqMethod(i: number): string {
    return this.#methods.get(this.#cseqMethod[i]);
  }

  src(i: number): HostPort {
    return this.#endpointAddr[this.#src[i]];
  }

  dst(i: number): HostPort {
    return this.#endpointAddr[this.#dst[i]];
  }

  /** Endpoint ids (stable per store) of the sender and receiver. */
  srcEndpoint(i: number): number {
    return this.#src[i];
  }

  dstEndpoint(i: number): number {
    return this.#dst[i];
  }

  /** Element id or `host:port` of an endpoint. */
  endpointName(endpoint: number): string {
    return this.#endpointName[endpoint];
  }

  endpointAddress(endpoint: number): HostPort {
    return this.#endpointAddr[endpoint];
  }

  /** Sender (element id or `host:port`). */
  from(i: number): string {
    return this.#endpointName[this.#src[i]];
  }

  /** Receiver (element id or `host:port`). */
  to(i: number): string {
    return this.#endpointName[this.#dst[i]];
  }

  /** Store-wide connection number (1-based), null for UDP. */
  connId(i: number): number | null {
    const c = this.#conn[i];
    return c === NONE ? null : c + 1;
  }

  /** Capture seq, frame number or log record number the message came from. */
  ref(i: number): number {
    return this.#ref[i];
  }

  flags(i: number): number {
    return this.#flags[i];
  }

  isRetransmission(i: number): boolean {
    return (this.#flags[i] & FLAG_RETRANSMISSION) !== 0;
  }

  /** Index of the first copy when `i` is a retransmission, else -1. */
  retransmissionOf(i: number): number {
    return this.#retransOf[i];
  }

  errors(i: number): number {
    return this.#errors[i];
  }

  warnings(i: number): number {
    return this.#warnings[i];
  }

  transactionOf(i: number): number {
    return this.#tx[i];
  }

  dialogOf(i: number): number {
    return this.#dialog[i];
  }

  legOf(i: number): number {
    return this.#leg[i];
  }

  /** The call (its root leg) of a message, or -1. */
  callOf(i: number): number {
    const l = this.#leg[i];
    return l === NONE ? NONE : this.#find(l);
  }

  /** The exact bytes (a view into the store; copy to keep beyond the store). */
  bytes(i: number): Uint8Array {
    return this.#bytes.view(this.#loc[i], this.#len[i]);
  }

  /** The message parsed again (for the inspector and the linter); null for an invalid message. */
  message(i: number): SipMessage | null {
    if (this.kind(i) === 'invalid') return null;
    const r = parseMessage(this.bytes(i), { datagram: this.transport(i) === 'udp' });
    return r.ok ? r.message : null;
  }

  /** Why an invalid message could not be parsed. */
  invalidReason(i: number): string | null {
    return this.kind(i) === 'invalid' ? this.reason(i) : null;
  }

  record(i: number): MessageRecord {
    return {
      index: i,
      timeUs: this.#time[i],
      recvTimeUs: this.#recvTime[i],
      transport: this.transport(i),
      src: this.src(i),
      dst: this.dst(i),
      connId: this.connId(i),
      bytes: this.bytes(i),
    };
  }

  summary(i: number): MessageSummary {
    const kind = this.kind(i);
    const leg = this.#leg[i];
    const fl = this.#flags[i];
    const s: MessageSummary = {
      index: i,
      timeUs: this.#time[i],
      transport: this.transport(i),
      from: this.from(i),
      to: this.to(i),
      src: formatAddress(this.src(i)),
      dst: formatAddress(this.dst(i)),
      kind,
      method: this.method(i),
      callId: this.callId(i),
      cseq: kind === 'invalid' ? '' : `${this.#cseq[i]} ${this.cseqMethod(i)}`,
      retransmission: (fl & FLAG_RETRANSMISSION) !== 0,
      sdp: (fl & FLAG_SDP) !== 0,
      size: this.#len[i],
      errors: this.#errors[i],
      warnings: this.#warnings[i],
    };
    if (kind === 'response') {
      s.status = this.#status[i];
      s.reason = this.reason(i);
    } else if (kind === 'invalid') s.reason = this.reason(i);
    if (leg !== NONE) {
      s.legKey = `l${leg}`;
      s.callKey = `c${this.#find(leg)}`;
    }
    const rt = this.#recvTime[i];
    if (!Number.isNaN(rt)) s.recvTimeUs = rt;
    const ro = this.#retransOf[i];
    if (ro !== NONE) s.retransmissionOf = ro;
    return s;
  }

  summaries(from = 0, to = this.size): MessageSummary[] {
    const out: MessageSummary[] = [];
    for (let i = from; i < to; i++) out.push(this.summary(i));
    return out;
  }

  // ---------------------------------------------------------------- events

  /** Batches of new messages for the UI bridge. Returns the unsubscribe function. */
  onAppend(listener: (batch: MessageSummary[]) => void): () => void {
    this.#appendListeners.add(listener);
    return () => this.#appendListeners.delete(listener);
  }

  /** Legs joined into one call (the call key of the absorbed legs changes). */
  onCallChange(listener: (change: CallChange) => void): () => void {
    this.#callListeners.add(listener);
    return () => this.#callListeners.delete(listener);
  }

  /** Hands pending appends to the listeners now. */
  flushEvents(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#pendingEvents.length === 0) return;
    const list = this.#pendingEvents;
    this.#pendingEvents = [];
    const batch = list.map((i) => this.summary(i));
    for (const l of this.#appendListeners) l(batch);
  }

  #schedule(): void {
    if (this.#pendingEvents.length === 0 || this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.flushEvents();
    }, this.#batchMs);
    this.#timer.unref?.();
  }

  // ---------------------------------------------------------------- memory

  memory(): StoreMemory {
    const cols = [
      this.#time, this.#recvTime, this.#src, this.#dst, this.#info, this.#flags, this.#conn, this.#ref, this.#loc, this.#len,
      this.#method, this.#status, this.#reason, this.#callId, this.#cseq, this.#cseqMethod, this.#tx, this.#leg, this.#dialog,
      this.#prevInTx, this.#nextInLeg, this.#retransOf, this.#errors, this.#warnings,
      this.#txBranch, this.#txMethod, this.#txFirst, this.#txLast, this.#txFinal, this.#txNextInCall, this.#txLeg,
      this.#dLeg, this.#dTag, this.#dFirst, this.#dNextInLeg,
      this.#lCallId, this.#lTag, this.#lFirst, this.#lLast, this.#lCount, this.#lNextInCall, this.#lDialogHead, this.#lInviteTx, this.#lParent, this.#lRing,
      this.#cidTxHead, this.#cidLegHead,
    ];
    let columnBytes = 0;
    let usedBytes = 0;
    for (const c of cols) columnBytes += c.byteLength;
    const per = (arrays: ArrayLike<number>[], n: number) => {
      for (const c of arrays) usedBytes += (c as Uint8Array).BYTES_PER_ELEMENT * n;
    };
    per(cols.slice(0, 24), this.#n);
    per(cols.slice(24, 31), this.#txN);
    per(cols.slice(31, 35), this.#dN);
    per(cols.slice(35, 45), this.#lN);
    per(cols.slice(45), this.#callIds.size);
    const stringBytes = this.#callIds.estimateBytes() + this.#endpointAddr.length * 160 + this.#methods.estimateBytes() + this.#reasons.estimateBytes() + this.#conns.estimateBytes();
    const n = this.size;
    return {
      messages: n,
      columnBytes,
      usedColumnBytes: usedBytes,
      payloadBytes: this.#bytes.totalBytes,
      arenaBytes: this.#bytes.allocatedBytes,
      stringBytes,
      overheadPerMessage: n === 0 ? 0 : Math.round((usedBytes + stringBytes) / n),
    };
  }
}

export function formatAddress(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

function grow<T extends Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a as never);
  return b;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

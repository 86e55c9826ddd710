/**
 * What a replay changes in a recorded message before it goes out again, and
 * what it learns from the target's answers (the keywords SIPp fills in,
 * done on a recording instead of a template):
 *
 * - Call-ID: a new one per recorded Call-ID the side started; one the
 *   counterpart started is learned from the target's first message of it.
 * - Tags (RFC 3261 §19.3): the side's tags get new values (old → new); the
 *   counterpart's tags are learned from the target's messages and put where
 *   the recording had the old ones.
 * - Branches: new for each request; an ACK for a non-2xx and a CANCEL reuse
 *   their INVITE's branch (§17.1.1.3, §9.1), and its Request-URI.
 * - Via sent-by and Contact host:port are the replayer's; the recorded
 *   addresses of the side and of the counterpart in other header values
 *   become the replayer's and the target's.
 * - In-dialog requests go to the target's Contact (§12.2.1.1) with the route
 *   set of the target's Record-Route.
 * - CSeq: the side's numbers keep their differences from a new start per
 *   Call-ID (ACK and CANCEL keep their INVITE's number).
 * - SDP c= and o= carry the replayer's address; Content-Length is computed.
 * - A response the side sent answers the target's actual request: Via,
 *   From, To (with the side's tag), Call-ID, CSeq and Record-Route (§8.2.6.2,
 *   §12.1.1) come from it; status, reason, other headers and body from the
 *   recording.
 */
import { Buffer } from 'node:buffer';
import { newBranch, newCallId, newTag, OutgoingMessage } from '../sip/builder.ts';
import type { HostPort, TransportProtocol } from '../sip/capture.ts';
import { splitCommaList } from '../sip/grammar.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseNameAddr, parseNameAddrList } from '../sip/name-addr.ts';
import { formatVia, parseVia } from '../sip/via.ts';
import type { RecordedStep } from './replay-flow.ts';

export interface RewriteOptions {
  /** The replayer's address (Via sent-by, Contact, SDP). */
  local: HostPort;
  /** Where the replay sends. */
  target: HostPort;
  transport: TransportProtocol;
  recordedTransport: TransportProtocol;
  /** Recorded addresses of the side (→ local) and of the counterpart (→ target). */
  sideAddresses: readonly HostPort[];
  peerAddresses: readonly HostPort[];
  /** First CSeq number of the side's requests in each Call-ID (default: random 1-20000). */
  cseqStart?: number;
}

/** A request as it is sent: the message and the numbers a response to it carries. */
export interface RewrittenRequest {
  message: OutgoingMessage;
  callId: string;
  cseq: number;
  method: string;
  branch: string;
}

const uriHost = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const TAG_IN_PARAMS = /(;\s*tag\s*=\s*)([^;,\s>]+)/i;

/** The tag parameter of a From/To value (after the `>` of a name-addr). */
function tagOf(value: string): string | null {
  const gt = value.lastIndexOf('>');
  const m = TAG_IN_PARAMS.exec(gt >= 0 ? value.slice(gt) : value);
  return m ? m[2] : null;
}

function withTag(value: string, tag: string | null): string {
  const gt = value.lastIndexOf('>');
  const head = gt >= 0 ? value.slice(0, gt + 1) : '';
  const params = gt >= 0 ? value.slice(gt + 1) : value;
  if (tag === null) return head + params.replace(/;\s*tag\s*=\s*[^;,\s>]+/i, '');
  return TAG_IN_PARAMS.test(params) ? head + params.replace(TAG_IN_PARAMS, `$1${tag}`) : `${value};tag=${tag}`;
}

const txKey = (callId: string, cseq: number): string => `${cseq} ${callId}`;

export function statusMatches(recorded: number, actual: number): boolean {
  if (recorded === 100) return actual === 100;
  if (recorded < 200) return actual > 100 && actual < 200;
  return Math.floor(recorded / 100) === Math.floor(actual / 100);
}

/** What a recorded response from the counterpart means, for the output lines: `2xx response to INVITE`. */
export function expectation(step: RecordedStep): string {
  const m = step.message;
  if (m.kind === 'request') return `${m.method} request`;
  const method = m.cseq?.method ?? m.method;
  if (m.status === 100) return `100 response to ${method}`;
  if (m.status < 200) return `1xx (101-199) response to ${method}`;
  return `${Math.floor(m.status / 100)}xx response to ${method}`;
}

export class ReplayRewriter {
  /** Recorded Call-ID → replayed. */
  readonly callIds = new Map<string, string>();
  /** Recorded tag → replayed (the side's new ones, the target's learned ones). */
  readonly tags = new Map<string, string>();
  readonly #o: RewriteOptions;
  readonly #addressRules: Array<[RegExp, string]> = [];
  readonly #cseqOffset = new Map<string, number>();
  readonly #remoteTarget = new Map<string, string>();
  readonly #routeSet = new Map<string, string[]>();
  readonly #remoteTag = new Map<string, string>();
  readonly #finalOfInvite = new Map<string, number>();
  /** INVITEs sent, by replayed transaction key: branch, Request-URI and the recorded branch. */
  readonly #invites = new Map<string, { branch: string; requestUri: string; recordedBranch: string | null; routes: string[] }>();
  readonly #rseq = new Map<string, string>();

  constructor(options: RewriteOptions) {
    this.#o = options;
    const to = (hp: HostPort): string => `${uriHost(hp.host)}:${hp.port}`;
    for (const [list, replacement] of [
      [options.sideAddresses, to(options.local)],
      [options.peerAddresses, to(options.target)],
    ] as const) {
      for (const hp of list) this.#addressRules.push([new RegExp(`(?<![\\w.:\\[])${escapeRegExp(uriHost(hp.host))}:${hp.port}(?![0-9])`, 'g'), replacement]);
    }
  }

  /** Recorded host:port of the side and of the counterpart → the replayer's and the target's. */
  addresses(text: string): string {
    let out = text;
    for (const [re, replacement] of this.#addressRules) out = out.replace(re, replacement);
    return out;
  }

  #localTag(recorded: string): string {
    let t = this.tags.get(recorded);
    if (t === undefined) {
      t = newTag();
      this.tags.set(recorded, t);
    }
    return t;
  }

  #callId(recorded: string): string {
    let c = this.callIds.get(recorded);
    if (c === undefined) {
      c = newCallId(uriHost(this.#o.local.host));
      this.callIds.set(recorded, c);
    }
    return c;
  }

  #cseq(recordedCallId: string, recorded: number): number {
    let offset = this.#cseqOffset.get(recordedCallId);
    if (offset === undefined) {
      const start = this.#o.cseqStart ?? 1 + Math.floor(Math.random() * 20000);
      offset = start - recorded;
      this.#cseqOffset.set(recordedCallId, offset);
    }
    return recorded + offset;
  }

  /** The replayer's Contact: each URI's host:port ours; `transport=` follows the replay's transport when it differs from the recording's. */
  #contact(value: string): string {
    let out = value;
    for (const na of parseNameAddrList(value)) {
      if (na.wildcard || na.uri === null || (na.uri.scheme !== 'sip' && na.uri.scheme !== 'sips')) continue;
      out = out.replace(na.uriText, this.#uriAt(na.uriText, this.#o.local));
    }
    return out;
  }

  #uriAt(uriText: string, hp: HostPort): string {
    const m = /^(sips?:)(?:([^@]*)@)?(\[[^\]]*\]|[^:;?>]+)(?::\d+)?(.*)$/i.exec(uriText);
    if (m === null) return uriText;
    let rest = m[4];
    if (this.#o.transport !== this.#o.recordedTransport) {
      rest = rest.replace(/;\s*transport\s*=\s*[^;?>]*/i, '');
      if (this.#o.transport !== 'udp') rest = rest.replace(/^([^?]*)/, `$1;transport=${this.#o.transport}`);
    }
    return `${m[1]}${m[2] !== undefined ? `${m[2]}@` : ''}${uriHost(hp.host)}:${hp.port}${rest}`;
  }

  /** Our top Via: the replay's transport, our sent-by, the branch; rport asked for again, received dropped. */
  #via(value: string, branch: string): string {
    const [top, ...rest] = splitCommaList(value);
    const v = parseVia(top);
    const params = v.params.filter((p) => !/^(received|branch)$/i.test(p.name)).map((p) => (/^rport$/i.test(p.name) ? { name: p.name, value: null } : p));
    params.unshift({ name: 'branch', value: branch });
    const mine = formatVia({ transport: this.#o.transport.toUpperCase(), host: uriHost(this.#o.local.host), port: this.#o.local.port, params });
    return [mine, ...rest].join(', ');
  }

  #sdp(body: Uint8Array): Uint8Array {
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    const family = this.#o.local.host.includes(':') ? 'IP6' : 'IP4';
    const out = text
      .replace(/^c=IN IP[46] [^\s/]+/gm, `c=IN ${family} ${this.#o.local.host}`)
      .replace(/^(o=.* IN )IP[46] \S+/gm, `$1${family} ${this.#o.local.host}`);
    return Buffer.from(out, 'utf8');
  }

  #body(m: SipMessage): Uint8Array {
    return m.body.length > 0 && m.contentType === 'application/sdp' ? this.#sdp(m.body) : m.body;
  }

  /** A request the side sent, made ready for the target. */
  request(step: RecordedStep): RewrittenRequest {
    const m = step.message;
    const recordedCallId = m.callId;
    const callId = this.#callId(recordedCallId);
    const recordedSeq = m.cseq?.seq ?? 1;
    const cseq = this.#cseq(recordedCallId, recordedSeq);
    const method = m.method;
    const key = txKey(callId, cseq);
    const invite = this.#invites.get(key);
    const final = this.#finalOfInvite.get(key);
    const recordedBranch = m.topVia?.branch ?? null;
    // ACK for a non-2xx, CANCEL: the INVITE's transaction (RFC 3261 §17.1.1.3, §9.1).
    const sameTransaction =
      invite !== undefined && (method === 'CANCEL' || (method === 'ACK' && (final !== undefined ? final >= 300 : recordedBranch !== null && recordedBranch === invite.recordedBranch)));
    const inDialog = m.toTag !== null && !sameTransaction;
    const branch = sameTransaction ? invite.branch : newBranch();
    let requestUri: string;
    if (sameTransaction) requestUri = invite.requestUri;
    else if (inDialog && this.#remoteTarget.has(callId)) requestUri = this.#remoteTarget.get(callId) as string;
    else requestUri = this.addresses(m.requestUri);
    const out = OutgoingMessage.request(method, requestUri);
    out.version = m.version;
    const routes = inDialog ? this.#routeSet.get(callId) : sameTransaction ? invite.routes : undefined;
    let viaDone = false;
    let routesDone = false;
    const putRoutes = (): void => {
      if (routesDone || routes === undefined) return;
      routesDone = true;
      for (const r of routes) out.append('Route', r);
    };
    for (const h of m.headers) {
      switch (h.key) {
        case 'via':
          if (!viaDone) out.append(h.name, this.#via(h.value, branch));
          else out.append(h.name, h.value);
          viaDone = true;
          break;
        case 'route':
          if (routes !== undefined) putRoutes();
          else out.append(h.name, this.addresses(h.value));
          break;
        case 'from': {
          const t = tagOf(h.value);
          out.append(h.name, withTag(this.addresses(h.value), t === null ? null : this.#localTag(t)));
          break;
        }
        case 'to': {
          const t = tagOf(h.value);
          const mapped = t === null ? null : (this.tags.get(t) ?? this.#remoteTag.get(callId) ?? t);
          out.append(h.name, withTag(this.addresses(h.value), mapped));
          break;
        }
        case 'call-id':
          out.append(h.name, callId);
          break;
        case 'cseq':
          out.append(h.name, `${cseq} ${m.cseq?.method ?? method}`);
          break;
        case 'contact':
          out.append(h.name, this.#contact(h.value));
          break;
        case 'rack': {
          // RFC 3262 §7.2: RSeq of the target's provisional, CSeq of our INVITE.
          const r = /^\s*(\d+)\s+(\d+)\s+(\S+)/.exec(h.value);
          out.append(h.name, r ? `${this.#rseq.get(r[1]) ?? r[1]} ${this.#cseq(recordedCallId, Number(r[2]))} ${r[3]}` : h.value);
          break;
        }
        default:
          out.append(h.name, this.addresses(h.value));
      }
      if (h.key === 'via' && inDialog) putRoutes();
    }
    out.body = this.#body(m);
    if (method === 'INVITE') this.#invites.set(key, { branch, requestUri, recordedBranch, routes: out.getAll('route') });
    return { message: out, callId, cseq, method, branch };
  }

  /** A response the side sent, as the answer to `request` (the target's actual request). */
  response(step: RecordedStep, request: SipMessage): OutgoingMessage {
    const m = step.message;
    const out = OutgoingMessage.response(m.status, m.reason);
    out.version = m.version;
    const copy = new Set(['via', 'from', 'to', 'call-id', 'cseq']);
    const copied = new Set<string>();
    const recordedTag = m.toTag;
    const copyFromRequest = (key: string): void => {
      if (copied.has(key)) return;
      copied.add(key);
      for (const h of request.headers) {
        if (h.key !== key) continue;
        if (key === 'to' && recordedTag !== null && tagOf(h.value) === null) out.append(h.name, `${h.value};tag=${this.#localTag(recordedTag)}`);
        else out.append(h.name, h.value);
      }
      // §12.1.1: a UAS copies Record-Route into the responses that set up a dialog.
      if (key === 'via' && m.status > 100 && m.status < 300 && request.toTag === null) for (const h of request.headers) if (h.key === 'record-route') out.append(h.name, h.value);
    };
    for (const h of m.headers) {
      if (copy.has(h.key)) copyFromRequest(h.key);
      else if (h.key === 'record-route') continue;
      else if (h.key === 'contact') out.append(h.name, this.#contact(h.value));
      else out.append(h.name, this.addresses(h.value));
    }
    for (const key of copy) if (!copied.has(key)) copyFromRequest(key);
    out.body = this.#body(m);
    return out;
  }

  /** Whether `actual`, received from the target, is the message the step expects. */
  accepts(step: RecordedStep, actual: SipMessage): boolean {
    const r = step.message;
    if (r.kind !== actual.kind) return false;
    const mapped = this.callIds.get(r.callId);
    if (mapped !== undefined ? actual.callId !== mapped : [...this.callIds.values()].includes(actual.callId)) return false;
    if (r.kind === 'request') return actual.method === r.method;
    if ((actual.cseq?.method ?? '') !== (r.cseq?.method ?? '')) return false;
    if (!statusMatches(r.status, actual.status)) return false;
    const offset = this.#cseqOffset.get(r.callId);
    return offset === undefined || r.cseq === null || actual.cseq?.seq === r.cseq.seq + offset;
  }

  /** Learns the target's Call-ID, tags, Contact, route set, final status and RSeq from a message it sent. */
  learn(step: RecordedStep, actual: SipMessage): void {
    const r = step.message;
    if (!this.callIds.has(r.callId)) this.callIds.set(r.callId, actual.callId);
    const pairs: Array<[string | null, string | null]> = [
      [r.fromTag, actual.fromTag],
      [r.toTag, actual.toTag],
    ];
    for (const [rt, at] of pairs) if (rt !== null && at !== null && !this.tags.has(rt)) this.tags.set(rt, at);
    const theirs = actual.kind === 'response' ? actual.toTag : actual.fromTag;
    if (theirs !== null) this.#remoteTag.set(actual.callId, theirs);
    const method = actual.cseq?.method ?? actual.method;
    const dialogMethod = method !== 'OPTIONS' && method !== 'REGISTER';
    const contact = actual.get('contact');
    if (contact !== undefined && dialogMethod && (actual.kind === 'request' || actual.status < 300)) {
      const na = parseNameAddr(splitCommaList(contact)[0] ?? contact);
      if (!na.wildcard && na.uriText !== '') this.#remoteTarget.set(actual.callId, na.uriText);
    }
    const recordRoute = actual.getAll('record-route').flatMap((v) => splitCommaList(v));
    if (actual.kind === 'response' && method === 'INVITE' && actual.status > 100 && actual.status < 300 && actual.toTag !== null) {
      // §12.1.2: the UAC's route set is the Record-Route of the response, reversed.
      this.#routeSet.set(actual.callId, recordRoute.reverse());
    } else if (actual.kind === 'request' && actual.method === 'INVITE' && actual.toTag === null) this.#routeSet.set(actual.callId, recordRoute);
    if (actual.kind === 'response' && method === 'INVITE' && actual.status >= 200 && actual.cseq) this.#finalOfInvite.set(txKey(actual.callId, actual.cseq.seq), actual.status);
    const rr = r.get('rseq');
    const ar = actual.get('rseq');
    if (rr !== undefined && ar !== undefined) this.#rseq.set(rr.trim(), ar.trim());
  }
}

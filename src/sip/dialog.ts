/**
 * A dialog (RFC 3261 §12): the peer-to-peer relationship a 2xx or a 1xx with
 * a To tag creates. It holds the route set, the local and remote CSeq, the
 * remote target, and builds in-dialog requests (§12.2.1.1) with loose or
 * strict routing.
 */
import { OutgoingMessage } from './builder.ts';
import { getParam } from './grammar.ts';
import type { SipMessage } from './message.ts';
import { parseNameAddr, parseNameAddrList } from './name-addr.ts';
import { parseUri } from './uri.ts';

export type DialogState = 'early' | 'confirmed' | 'terminated';

export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  /** From (UAC) or To (UAS) of the dialog-creating request, as name-addr text without tag. */
  readonly localUri: string;
  readonly remoteUri: string;
  localSeq: number;
  /** null until the remote side sends a request in the dialog. */
  remoteSeq: number | null;
  /** URI of the remote Contact (updated by target refresh requests and responses). */
  remoteTarget: string;
  /** Route set as Route header values (name-addr text), in the order they are sent. */
  routeSet: string[];
  readonly secure: boolean;
  state: DialogState;
  readonly role: 'uac' | 'uas';

  constructor(init: {
    callId: string;
    localTag: string;
    remoteTag: string;
    localUri: string;
    remoteUri: string;
    localSeq: number;
    remoteSeq: number | null;
    remoteTarget: string;
    routeSet: string[];
    secure: boolean;
    state: DialogState;
    role: 'uac' | 'uas';
  }) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.secure = init.secure;
    this.state = init.state;
    this.role = init.role;
  }

  /** Dialog id (§12): Call-ID, local tag, remote tag. */
  get id(): string {
    return dialogId(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * UAC side (§12.1.2): from the request we sent and a 1xx/2xx with a To tag.
   * Route set = Record-Route of the response, reversed.
   */
  static asUac(request: OutgoingMessage, response: SipMessage): Dialog {
    const from = request.get('from') ?? '';
    const to = request.get('to') ?? '';
    const rr = response.getAll('record-route').flatMap((v) => parseNameAddrList(v)).map((na) => routeValue(na.uriText, na.params));
    const contact = response.contacts[0];
    const seq = Number(/^\s*(\d+)/.exec(request.get('cseq') ?? '0')?.[1] ?? 0);
    return new Dialog({
      callId: request.get('call-id') ?? '',
      localTag: tagOf(from) ?? '',
      remoteTag: response.toTag ?? '',
      localUri: stripTag(from),
      remoteUri: stripTag(to),
      localSeq: seq,
      remoteSeq: null,
      remoteTarget: contact?.uriText ?? parseNameAddr(to).uriText,
      routeSet: rr.reverse(),
      secure: request.requestUri.startsWith('sips:'),
      state: response.status >= 200 ? 'confirmed' : 'early',
      role: 'uac',
    });
  }

  /** UAS side (§12.1.1): from the received request; route set = its Record-Route in order. */
  static asUas(request: SipMessage, localTag: string, state: DialogState = 'confirmed'): Dialog {
    const rr = request.getAll('record-route').flatMap((v) => parseNameAddrList(v)).map((na) => routeValue(na.uriText, na.params));
    return new Dialog({
      callId: request.callId,
      localTag,
      remoteTag: request.fromTag ?? '',
      localUri: stripTag(request.get('to') ?? ''),
      remoteUri: stripTag(request.get('from') ?? ''),
      localSeq: Math.floor(Math.random() * 10000) + 1,
      remoteSeq: request.cseq?.seq ?? null,
      remoteTarget: request.contacts[0]?.uriText ?? request.from?.uriText ?? '',
      routeSet: rr,
      secure: request.requestUri.startsWith('sips:'),
      state,
      role: 'uas',
    });
  }

  /**
   * A request within the dialog (§12.2.1.1). ACK and CANCEL reuse `cseq`;
   * other methods take the next local CSeq.
   */
  createRequest(method: string, cseq?: number): OutgoingMessage {
    const seq = cseq ?? (method === 'ACK' || method === 'CANCEL' ? this.localSeq : ++this.localSeq);
    let requestUri = this.remoteTarget;
    let routes = this.routeSet;
    const first = routes[0];
    if (first !== undefined) {
      const firstUri = parseNameAddr(first);
      const lr = firstUri.uri ? getParam(firstUri.uri.params, 'lr') !== undefined : true;
      if (!lr) {
        // Strict routing (§12.2.1.1): the first route becomes the Request-URI, the remote target the last Route.
        requestUri = firstUri.uriText;
        routes = [...routes.slice(1), `<${this.remoteTarget}>`];
      }
    }
    const req = OutgoingMessage.request(method, requestUri);
    for (const r of routes) req.append('Route', r);
    req.append('Max-Forwards', '70');
    req.append('From', `${this.localUri};tag=${this.localTag}`);
    req.append('To', this.remoteTag ? `${this.remoteUri};tag=${this.remoteTag}` : this.remoteUri);
    req.append('Call-ID', this.callId);
    req.append('CSeq', `${seq} ${method}`);
    return req;
  }

  /**
   * Checks and records a request received in the dialog (§12.2.2). Returns
   * false when its CSeq is lower than the last one (the UAS answers 500).
   * A target refresh (re-INVITE, UPDATE) with a Contact updates the remote target.
   */
  receiveRequest(request: SipMessage): boolean {
    const seq = request.cseq?.seq;
    if (seq === undefined) return false;
    if (request.method !== 'ACK' && request.method !== 'CANCEL') {
      if (this.remoteSeq !== null && seq <= this.remoteSeq) return false;
      this.remoteSeq = seq;
    }
    if ((request.method === 'INVITE' || request.method === 'UPDATE') && request.contacts[0]) {
      this.remoteTarget = request.contacts[0].uriText;
    }
    if (request.method === 'BYE') this.state = 'terminated';
    return true;
  }

  /** A 2xx to a target refresh we sent updates the remote target (§12.2.1.2); an early dialog becomes confirmed. */
  receiveResponse(response: SipMessage): void {
    if (response.status >= 200 && response.status < 300) {
      if (this.state === 'early') this.state = 'confirmed';
      const method = response.cseq?.method;
      if ((method === 'INVITE' || method === 'UPDATE') && response.contacts[0]) this.remoteTarget = response.contacts[0].uriText;
    }
  }
}

/** What a Replaces header field (RFC 3891 §6.1) names: a dialog by Call-ID and tags, as the recipient sees it. */
export interface ReplacesTarget {
  callId: string;
  /** The recipient's own tag. */
  toTag: string;
  /** The other party's tag. */
  fromTag: string;
  earlyOnly: boolean;
}

/**
 * `Replaces: 98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff` (RFC 3891 §6.1), or null when the
 * Call-ID or a tag is missing. Parameters in any order, names case-insensitive.
 */
export function parseReplaces(value: string | undefined): ReplacesTarget | null {
  if (value === undefined) return null;
  const [callId, ...params] = value.split(';').map((p) => p.trim());
  if (!callId) return null;
  let toTag: string | null = null;
  let fromTag: string | null = null;
  let earlyOnly = false;
  for (const p of params) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : p.slice(eq + 1).trim();
    if (name === 'to-tag') toTag = v;
    else if (name === 'from-tag') fromTag = v;
    else if (name === 'early-only') earlyOnly = true;
  }
  if (!toTag || !fromTag) return null;
  return { callId, toTag, fromTag, earlyOnly };
}

/** A Replaces value (RFC 3891) for a dialog as the recipient sees it. */
export function formatReplaces(target: Pick<ReplacesTarget, 'callId' | 'toTag' | 'fromTag'> & { earlyOnly?: boolean }): string {
  return `${target.callId};to-tag=${target.toTag};from-tag=${target.fromTag}${target.earlyOnly ? ';early-only' : ''}`;
}

/**
 * A URI with an embedded Replaces header (Refer-To, RFC 3515 §2.1 and RFC 3891 §6.1):
 * `sip:bob@example.com?Replaces=call%40host%3Bto-tag%3Da%3Bfrom-tag%3Db`. Any header part the URI
 * already has is replaced.
 */
export function uriWithReplaces(uri: string, replaces: string): string {
  return `${uri.replace(/\?.*$/, '')}?Replaces=${encodeURIComponent(replaces)}`;
}

/** The URI without its header part, and the unescaped value of its embedded Replaces (or null). */
export function splitUriHeaders(uri: string): { uri: string; replaces: string | null } {
  const q = uri.indexOf('?');
  if (q < 0) return { uri, replaces: null };
  let replaces: string | null = null;
  for (const part of uri.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).toLowerCase() !== 'replaces') continue;
    try {
      replaces = decodeURIComponent(part.slice(eq + 1));
    } catch {
      replaces = part.slice(eq + 1);
    }
  }
  return { uri: uri.slice(0, q), replaces };
}

export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\u0000${localTag}\u0000${remoteTag}`;
}

function tagOf(nameAddrText: string): string | null {
  return getParam(parseNameAddr(nameAddrText).params, 'tag') ?? null;
}

function stripTag(nameAddrText: string): string {
  return nameAddrText.replace(/;\s*tag\s*=\s*[^;]*/i, '');
}

function routeValue(uriText: string, params: Array<{ name: string; value: string | null }>): string {
  let out = `<${uriText}>`;
  for (const p of params) out += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  return out;
}

/** The URI a Route/Record-Route entry points at (for routing the next hop). */
export function routeTarget(routeText: string): ReturnType<typeof parseUri> {
  return parseNameAddr(routeText).uri;
}

/**
 * A SIPp XML scenario for one side of one call in the trace: what that side
 * sent becomes `<send>`, what it received `<recv>`, so that SIPp can play the
 * device under test (or the Lync side) against the other end again.
 *
 * The messages are made into templates SIPp fills per call:
 * - our Via is `SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]`
 *   (an ACK for a non-2xx or a CANCEL reuses its INVITE's branch with
 *   `[branch-N]`); Call-ID is `[call_id]`; our tag is
 *   `[pid]SIPpTag0x[call_number]`; the peer's tag comes from
 *   `[peer_tag_param]` (client) or from the INVITE's From (server: an
 *   `ereg` action puts `;tag=…` in `[$remote_tag]`);
 * - responses copy the request's Via, From, To, Call-ID, CSeq and
 *   Record-Route with `[last_*:]`;
 * - in-dialog requests go to `[next_url]` with `[routes]`, stored by
 *   `rrs="true"` on the message that set up the dialog (RFC 3261 §12.1);
 * - the recorded addresses become `[local_ip]:[local_port]` and
 *   `[remote_ip]:[remote_port]`, SDP addresses `[media_ip]` and ports
 *   `[media_port]`; Content-Length is `[len]`;
 * - provisional responses are `optional="true"`; retransmissions are left
 *   out (SIPp retransmits by itself, `retrans="500"` on UDP); the time the
 *   side waited before sending becomes `<pause>`.
 */
import type { HostPort } from '../sip/capture.ts';
import type { SipMessage } from '../sip/message.ts';
import type { TraceStore } from '../trace/store.ts';
import { sideOf } from './lync-log.ts';

export interface SippScenarioOptions {
  /** The side SIPp plays: an element id, `host:port`, a host, or `caller` / `callee` (of the call's first INVITE). */
  side: string;
  /** Which call: 1-based number in order of first message, a Call-ID, or a call key (`c12`). Default: the first call the side is in. */
  call?: number | string;
  /** Keep the recorded waits before sends as `<pause>` (default true, each at most 30 s). */
  pauses?: boolean;
  /** Scenario name (default: derived from the call). */
  name?: string;
}

export class ScenarioError extends Error {}

interface Step {
  index: number;
  dir: 'send' | 'recv';
  msg: SipMessage;
}

const CDATA_END = ']]>';

/** Picks the messages of one leg that the side sent or received, without retransmissions. */
function selectSteps(store: TraceStore, o: SippScenarioOptions): { steps: Step[]; side: string; local: HostPort; remote: HostPort; callLabel: string } {
  const calls = store.calls();
  let chosen: (typeof calls)[number] | undefined;
  const wanted = o.call;
  if (typeof wanted === 'number') chosen = calls[wanted - 1];
  else if (typeof wanted === 'string') {
    chosen = calls.find((c) => c.key === wanted || c.legs.some((l) => store.leg(l).callId === wanted));
  }
  if (wanted !== undefined && !chosen) throw new ScenarioError(`no call ${JSON.stringify(wanted)} in the trace (${calls.length} calls)`);
  const resolveSide = (legFirst: number): string => {
    if (o.side !== 'caller' && o.side !== 'callee') return o.side;
    const inv = legFirst;
    return o.side === 'caller' ? addr(store.src(inv)) : addr(store.dst(inv));
  };
  const candidates = chosen ? [chosen] : calls;
  for (const c of candidates) {
    for (const l of c.legs) {
      const msgs = store.legMessages(l);
      const side = resolveSide(store.legFirst(l));
      const steps: Step[] = [];
      let local: HostPort | null = null;
      let remote: HostPort | null = null;
      for (const i of msgs) {
        if (store.isRetransmission(i)) continue;
        const s = sideOf(store, i, side);
        if (s === null) continue;
        const msg = store.message(i);
        if (msg === null) continue;
        if (local === null) {
          local = s === 'out' ? store.src(i) : store.dst(i);
          remote = s === 'out' ? store.dst(i) : store.src(i);
        }
        steps.push({ index: i, dir: s === 'out' ? 'send' : 'recv', msg });
      }
      if (steps.length > 0 && local && remote) {
        return { steps, side, local, remote, callLabel: `${c.key} leg ${store.leg(l).key} (Call-ID ${store.leg(l).callId})` };
      }
    }
  }
  throw new ScenarioError(`the side ${JSON.stringify(o.side)} sends or receives no message${chosen ? ` in call ${JSON.stringify(wanted)}` : ''}`);
}

function addr(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces the recorded addresses in free text with SIPp's keywords. */
function addressKeywords(text: string, local: HostPort, remote: HostPort): string {
  const forms = (hp: HostPort, ip: string, port: string): Array<[RegExp, string]> => {
    const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
    return [
      [new RegExp(`${escapeRegExp(host)}:${hp.port}(?![0-9])`, 'g'), `${ip}:${port}`],
      [new RegExp(`(?<=[@:/ ]|^)${escapeRegExp(host)}(?![0-9.:\\]])`, 'g'), ip],
    ];
  };
  let out = text;
  if (local.host === remote.host) {
    // Same host (loopback tests): only host:port pairs are told apart.
    out = out.replace(new RegExp(`${escapeRegExp(local.host.includes(':') ? `[${local.host}]` : local.host)}:${local.port}(?![0-9])`, 'g'), '[local_ip]:[local_port]');
    out = out.replace(new RegExp(`${escapeRegExp(remote.host.includes(':') ? `[${remote.host}]` : remote.host)}:${remote.port}(?![0-9])`, 'g'), '[remote_ip]:[remote_port]');
    return out;
  }
  for (const [re, rep] of [...forms(local, '[local_ip]', '[local_port]'), ...forms(remote, '[remote_ip]', '[remote_port]')]) out = out.replace(re, rep);
  return out;
}

/** Brackets that are not SIPp keywords (IPv6 literals left in header values) are written as \x5b. */
function protectBrackets(line: string): string {
  return line.replace(/\[(?!(?:local_ip|local_port|remote_ip|remote_port|media_ip|media_port|media_ip_type|local_ip_type|transport|branch(?:-\d+)?|call_id|call_number|pid|len|next_url|routes|peer_tag_param|last_[A-Za-z0-9-]+:?|\$[A-Za-z0-9_]+)\])/g, '\\x5b');
}

function sdpTemplate(body: string): string {
  return body
    .split(/\r?\n/)
    .map((l) => {
      if (/^c=IN IP[46] /.test(l)) return 'c=IN IP[media_ip_type] [media_ip]';
      if (/^o=/.test(l)) return l.replace(/IN IP[46] \S+$/, 'IN IP[media_ip_type] [media_ip]');
      const m = /^m=(\S+) (\d+)( .*)$/.exec(l);
      if (m && m[2] !== '0') return `m=${m[1]} [media_port]${m[3]}`;
      return l;
    })
    .join('\n');
}

function tagParam(value: string, tag: string): string {
  return /;\s*tag\s*=/i.test(value) ? value.replace(/(;\s*tag\s*=\s*)[^;>\s,]+/i, `$1${tag}`) : `${value};tag=${tag}`;
}

function withoutTag(value: string): string {
  return value.replace(/;\s*tag\s*=\s*[^;>\s,]+/i, '');
}

interface Ctx {
  local: HostPort;
  remote: HostPort;
  uac: boolean;
  /** Scenario element index of each sent INVITE, by CSeq number (for [branch-N]). */
  inviteElement: Map<number, number>;
  element: number;
  rrsSeen: boolean;
  usesRemoteTag: boolean;
  /** The last received request had a To tag. */
  lastRecvHadToTag: boolean;
  lastRecvRecordRoute: boolean;
}

function sendTemplate(step: Step, ctx: Ctx, finalOfInvite: Map<number, number>): string {
  const m = step.msg;
  const ourTag = ctx.uac ? '[pid]SIPpTag00[call_number]' : '[pid]SIPpTag01[call_number]';
  const lines: string[] = [];
  const request = m.isRequest;
  const inDialog = request && m.toTag !== null;
  if (request) {
    let ruri = m.requestUri;
    if (inDialog && ctx.rrsSeen) ruri = '[next_url]';
    else ruri = addressKeywords(ruri, ctx.local, ctx.remote);
    if (ruri === m.requestUri) {
      // Another host than the peer's address: keep the user, send to the peer.
      const u = /^(sips?:)(?:([^@]*)@)?([^;?]*)(.*)$/.exec(m.requestUri);
      if (u) ruri = `${u[1]}${u[2] !== undefined ? `${u[2]}@` : ''}[remote_ip]:[remote_port]${u[4]}`;
    }
    lines.push(`${m.method} ${ruri} ${m.version}`);
  } else lines.push(`${m.version} ${m.status} ${m.reason}`);

  let viaDone = false;
  let routeDone = false;
  for (const h of m.headers) {
    const key = h.key;
    if (key === 'via') {
      if (viaDone) continue;
      viaDone = true;
      if (!request) {
        lines.push('[last_Via:]');
        continue;
      }
      let branch = '[branch]';
      const cseq = m.cseq?.seq ?? -1;
      if ((m.method === 'CANCEL' || (m.method === 'ACK' && (finalOfInvite.get(cseq) ?? 0) >= 300)) && ctx.inviteElement.has(cseq)) {
        branch = `[branch-${ctx.element - (ctx.inviteElement.get(cseq) ?? ctx.element)}]`;
      }
      const rport = m.topVia?.rport !== undefined ? ';rport' : '';
      lines.push(`Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${branch}${rport}`);
      // The route set right after Via: SIPp drops the line when it is empty (at the end of the
      // header section the line end would stay, and over TCP the stray CRLF breaks SIPp's framing).
      if (inDialog && ctx.rrsSeen && !routeDone) {
        lines.push('[routes]');
        routeDone = true;
      }
      continue;
    }
    if (key === 'from') {
      if (!request) lines.push('[last_From:]');
      else if (ctx.uac) lines.push(`${h.name}: ${protectBrackets(addressKeywords(tagParam(h.value, ourTag), ctx.local, ctx.remote))}`);
      else lines.push(`${h.name}: ${protectBrackets(addressKeywords(tagParam(h.value, ourTag), ctx.local, ctx.remote))}`);
      continue;
    }
    if (key === 'to') {
      if (!request) {
        const hadTag = m.toTag !== null;
        lines.push(hadTag && !ctx.lastRecvHadToTag ? `[last_To:];tag=${ourTag}` : '[last_To:]');
        continue;
      }
      const base = protectBrackets(addressKeywords(withoutTag(h.value), ctx.local, ctx.remote));
      if (!inDialog) lines.push(`${h.name}: ${base}`);
      else if (ctx.uac) lines.push(`${h.name}: ${base}[peer_tag_param]`);
      else {
        ctx.usesRemoteTag = true;
        lines.push(`${h.name}: ${base}[$remote_tag]`);
      }
      continue;
    }
    if (key === 'call-id') {
      lines.push(request ? `${h.name}: [call_id]` : '[last_Call-ID:]');
      continue;
    }
    if (key === 'cseq') {
      lines.push(request ? `${h.name}: ${h.value}` : '[last_CSeq:]');
      continue;
    }
    if (key === 'contact') {
      const user = /<?sips?:([^@;>]+)@/.exec(h.value)?.[1];
      lines.push(`${h.name}: <sip:${user ? `${user}@` : ''}[local_ip]:[local_port];transport=[transport]>`);
      continue;
    }
    if (key === 'content-length') {
      lines.push(`${h.name}: [len]`);
      continue;
    }
    if (key === 'record-route') {
      if (!request && ctx.lastRecvRecordRoute && !routeDone) lines.push('[last_Record-Route:]');
      routeDone = true;
      continue;
    }
    if (key === 'route') {
      if (inDialog && ctx.rrsSeen) {
        if (!routeDone) lines.push('[routes]');
        routeDone = true;
        continue;
      }
    }
    lines.push(protectBrackets(addressKeywords(`${h.name}: ${h.value}`, ctx.local, ctx.remote)));
  }
  let text = lines.join('\n');
  if (m.body.length > 0) {
    const body = m.contentType === 'application/sdp' ? sdpTemplate(m.bodyText) : m.bodyText;
    text += `\n\n${protectBrackets(body.replace(/\r?\n$/, ''))}`;
  } else text += '\n';
  if (text.includes(CDATA_END)) text = text.replaceAll(CDATA_END, ']]]]><![CDATA[>');
  return text;
}

function xmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** The SIPp scenario XML for one side of one call. */
export function sippScenario(store: TraceStore, options: SippScenarioOptions): string {
  const { steps, side, local, remote, callLabel } = selectSteps(store, options);
  const first = steps[0];
  const uac = first.dir === 'send' && first.msg.isRequest;
  const transport = store.transport(first.index);
  const ctx: Ctx = { local, remote, uac, inviteElement: new Map(), element: 0, rrsSeen: false, usesRemoteTag: false, lastRecvHadToTag: false, lastRecvRecordRoute: false };
  // Final status of each INVITE (by CSeq number) as the trace shows it.
  const finalOfInvite = new Map<number, number>();
  for (const s of steps) {
    const m = s.msg;
    if (m.isResponse && m.cseq?.method === 'INVITE' && m.status >= 200 && !finalOfInvite.has(m.cseq.seq)) finalOfInvite.set(m.cseq.seq, m.status);
  }
  const pauses = options.pauses !== false;
  const out: string[] = [];
  const name = options.name ?? `Trunklab ${uac ? 'UAC' : 'UAS'} ${side}`;
  out.push('<?xml version="1.0" encoding="ISO-8859-1" ?>');
  out.push('<!DOCTYPE scenario SYSTEM "sipp.dtd">');
  out.push(`<!-- Exported by Trunklab: ${xmlAttr(side)} in ${xmlAttr(callLabel).replace(/--/g, '- -')}, ${steps.length} messages over ${transport.toUpperCase()}. -->`);
  out.push(`<!-- Run: sipp ${uac ? 'REMOTE_HOST:PORT ' : ''}-sf THIS_FILE -t ${transport === 'udp' ? 'u1' : 't1'} -m 1 -->`);
  out.push(`<scenario name="${xmlAttr(name)}">`);
  const body: string[] = [];
  let prevTime = store.timeUs(first.index);
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k];
    const m = s.msg;
    const t = store.timeUs(s.index);
    if (s.dir === 'send') {
      const waitMs = Math.round((t - prevTime) / 1000);
      if (pauses && k > 0 && waitMs >= 20) {
        body.push(`  <pause milliseconds="${Math.min(waitMs, 30000)}"/>`);
        ctx.element++;
      }
      const retrans = transport === 'udp' && (m.isRequest ? m.method !== 'ACK' : m.status >= 200 && m.cseq?.method === 'INVITE') ? ' retrans="500"' : '';
      if (m.isRequest && m.method === 'INVITE' && m.cseq) ctx.inviteElement.set(m.cseq.seq, ctx.element);
      const text = sendTemplate(s, ctx, finalOfInvite);
      body.push(`  <send${retrans}>`, '    <![CDATA[', ...text.split('\n').map((l) => (l === '' ? '' : `      ${l}`)), '    ]]>', '  </send>');
      ctx.element++;
    } else {
      if (m.isResponse) {
        const attrs = [`response="${m.status}"`];
        if (m.status < 200) attrs.push('optional="true"');
        if (m.cseq?.method === 'INVITE' && m.status >= 200 && m.status < 300) attrs.push('rtd="true"');
        if (m.cseq?.method === 'INVITE' && m.status > 100 && m.status < 300 && m.toTag !== null) {
          attrs.push('rrs="true"');
          ctx.rrsSeen = true;
        }
        body.push(`  <recv ${attrs.join(' ')}/>`);
      } else {
        const attrs = [`request="${xmlAttr(m.method)}"`];
        let action = '';
        if (m.method === 'INVITE' && m.toTag === null) {
          attrs.push('rrs="true"');
          ctx.rrsSeen = true;
          action = 'TAG';
        }
        if (m.method === 'ACK') attrs.push('rtd="true"');
        attrs.push('crlf="true"');
        ctx.lastRecvHadToTag = m.toTag !== null;
        ctx.lastRecvRecordRoute = m.has('record-route');
        if (action) body.push(`  <recv ${attrs.join(' ')}>`, '%REMOTE_TAG_ACTION%', '  </recv>');
        else body.push(`  <recv ${attrs.join(' ')}/>`);
      }
      ctx.element++;
    }
    prevTime = t;
  }
  // The peer's tag is only captured when a request we send needs it.
  const action = ctx.usesRemoteTag
    ? '    <action>\n      <ereg regexp=";[[:space:]]*tag=[^;>[:space:]]+" search_in="hdr" header="From:" assign_to="remote_tag"/>\n    </action>'
    : null;
  for (let k = 0; k < body.length; k++) {
    if (body[k] !== '%REMOTE_TAG_ACTION%') continue;
    if (action) body[k] = action;
    else {
      // No action: fold `<recv ...>` `</recv>` into one element.
      body[k - 1] = body[k - 1].replace(/>$/, '/>');
      body.splice(k, 2);
    }
  }
  // A trailing optional recv would let the call end before it: the last recv is mandatory.
  for (let k = body.length - 1; k >= 0; k--) {
    if (body[k].startsWith('  <recv')) {
      body[k] = body[k].replace(' optional="true"', '');
      break;
    }
    if (body[k].startsWith('  <send')) break;
  }
  out.push(...body);
  // UDP: linger for retransmissions of the last request. Not on TCP: SIPp aborts a call in
  // timewait when the peer closes the connection, and counts it failed.
  if (!uac && transport === 'udp') out.push('  <timewait milliseconds="2000"/>');
  out.push('  <ResponseTimeRepartition value="10, 20, 30, 40, 50, 100, 150, 200"/>');
  out.push('  <CallLengthRepartition value="10, 50, 100, 500, 1000, 5000, 10000"/>');
  out.push('</scenario>', '');
  return out.join('\n');
}

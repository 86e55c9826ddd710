/**
 * What the trace store keeps of each parsed message: the few fields that
 * group messages into transactions, dialogs and legs (RFC 3261 §17.1.3,
 * §17.2.3, §12), read straight from the header values the parser already
 * split, without building the structured views (Via lists, name-addrs).
 */
import type { SipMessage } from '../sip/message.ts';

export interface MessageFields {
  callId: string;
  cseq: number;
  /** CSeq method ('' when the CSeq is unusable). */
  cseqMethod: string;
  /** Top Via branch, or '' when absent (RFC 2543 client). */
  branch: string;
  fromTag: string;
  toTag: string;
  /** An SDP body is present (application/sdp, or an SDP part of a multipart body). */
  sdp: boolean;
  errors: number;
  warnings: number;
}

const BRANCH_RE = /;[ \t]*branch[ \t]*=[ \t]*([^ \t;,]+)/i;
const TAG_RE = /;[ \t]*tag[ \t]*=[ \t]*([^ \t;,>]+)/i;
const CSEQ_RE = /^[ \t]*(\d{1,10})[ \t]+([^ \t]+)/;

/** The tag parameter of a From/To value: looked for after the `>` of a name-addr, anywhere for an addr-spec. */
export function tagOf(value: string | undefined): string {
  if (value === undefined) return '';
  const gt = value.lastIndexOf('>');
  const m = TAG_RE.exec(gt >= 0 ? value.slice(gt + 1) : value);
  return m ? m[1] : '';
}

/** The branch of the first Via entry of the first Via header value. */
export function branchOf(via: string | undefined): string {
  if (via === undefined) return '';
  const comma = via.indexOf(',');
  const m = BRANCH_RE.exec(comma >= 0 ? via.slice(0, comma) : via);
  return m ? m[1] : '';
}

export function extractFields(msg: SipMessage): MessageFields {
  let callId = '';
  let cseqText: string | undefined;
  let via: string | undefined;
  let from: string | undefined;
  let to: string | undefined;
  let ctype: string | undefined;
  for (const h of msg.headers) {
    switch (h.key) {
      case 'call-id':
        if (callId === '') callId = h.value;
        break;
      case 'cseq':
        cseqText ??= h.value;
        break;
      case 'via':
        via ??= h.value;
        break;
      case 'from':
        from ??= h.value;
        break;
      case 'to':
        to ??= h.value;
        break;
      case 'content-type':
        ctype ??= h.value;
        break;
    }
  }
  let cseq = 0;
  let cseqMethod = '';
  if (cseqText !== undefined) {
    const m = CSEQ_RE.exec(cseqText);
    if (m) {
      cseq = Number(m[1]);
      cseqMethod = m[2];
    }
  }
  let errors = 0;
  let warnings = 0;
  for (const d of msg.diagnostics) {
    if (d.severity === 'error') errors++;
    else if (d.severity === 'warning') warnings++;
  }
  let sdp = false;
  if (msg.body.length > 0 && ctype !== undefined) {
    const t = ctype.toLowerCase();
    sdp = t.startsWith('application/sdp') || (t.startsWith('multipart/') && Buffer.from(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength).includes('application/sdp'));
  }
  return { callId, cseq, cseqMethod, branch: branchOf(via), fromTag: tagOf(from), toTag: tagOf(to), sdp, errors, warnings };
}

/** Digits of the user part of a SIP/tel URI or name-addr (`"A" <sip:+1 425-555@x;user=phone>` → `1425555`). */
export function numberOf(value: string | undefined | null): string {
  if (!value) return '';
  let s = value;
  const lt = s.indexOf('<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt);
    s = s.slice(lt + 1, gt < 0 ? undefined : gt);
  }
  const colon = s.indexOf(':');
  if (colon >= 0) s = s.slice(colon + 1);
  const at = s.indexOf('@');
  let user = at >= 0 ? s.slice(0, at) : s;
  const semi = user.indexOf(';');
  if (semi >= 0) user = user.slice(0, semi);
  // Dial strings and E.164: keep the digits only (visual separators of RFC 3966 dropped).
  let out = '';
  for (let i = 0; i < user.length; i++) {
    const c = user.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) out += user[i];
    else if (c !== 0x2b && c !== 0x2d && c !== 0x2e && c !== 0x28 && c !== 0x29 && c !== 0x20) return '';
  }
  return out;
}

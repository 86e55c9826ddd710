/**
 * The checks a UAS core makes before its own logic sees a request
 * (RFC 3261 §8.2): version, syntax, method, Request-URI scheme, Require,
 * body type, Accept, and for a proxying element Max-Forwards. It returns the
 * rejection to send, or null when the request may be processed.
 */
import { conformance } from './conformance.ts';
import type { Diagnostic, SipMessage } from './message.ts';

export interface UasPolicy {
  /** Methods this element implements; others get 501 with Allow. */
  methods: readonly string[];
  /** Request-URI schemes accepted; others get 416. */
  schemes: readonly string[];
  /** Option tags understood in Require; others get 420 with Unsupported. */
  extensions: readonly string[];
  /** Body types understood; others get 415 with Accept. */
  bodyTypes: readonly string[];
  /** True for elements that forward requests (Front End, Mediation Server): Max-Forwards 0 gets 483. */
  proxying?: boolean;
}

export const DEFAULT_UAS_POLICY: UasPolicy = {
  methods: ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'NOTIFY', 'REGISTER', 'MESSAGE', 'SUBSCRIBE'],
  schemes: ['sip', 'sips'],
  extensions: ['100rel', 'timer', 'replaces', 'histinfo', 'norefersub', 'ms-dialog-route-set-update'],
  bodyTypes: ['application/sdp', 'multipart/mixed', 'multipart/alternative', 'text/plain', 'message/sipfrag', 'application/dtmf-relay', 'application/vnd.nortelnetworks.digits'],
};

export interface Rejection {
  status: number;
  reason: string;
  /** Extra header fields the rejection must carry (Allow, Unsupported, Accept, Warning). */
  headers: Array<{ name: string; value: string }>;
  /** The diagnostics that caused it (for the trace and the linter). */
  diagnostics: Diagnostic[];
}

/** Reason phrases stay on one line and short. */
function phrase(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').slice(0, 120);
}

function warning(text: string): { name: string; value: string } {
  return { name: 'Warning', value: `399 trunklab "${phrase(text).replace(/["\\]/g, "'")}"` };
}

/**
 * Screens a request. ACK is never answered (§17), so for ACK this returns null;
 * the caller still sees the diagnostics through `conformance(msg)`.
 */
export function screenRequest(msg: SipMessage, policy: UasPolicy = DEFAULT_UAS_POLICY): Rejection | null {
  if (!msg.isRequest || msg.method === 'ACK') return null;
  const diagnostics = conformance(msg, { strict: false });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const version = errors.find((d) => d.code === 'version-unsupported');
  if (version) return { status: 505, reason: 'Version Not Supported', headers: [warning(version.message)], diagnostics: [version] };
  if (errors.length > 0) {
    return { status: 400, reason: phrase(`Bad Request - ${errors[0].message}`), headers: [warning(errors.map((e) => e.message).join('; '))], diagnostics: errors };
  }
  if (!policy.methods.includes(msg.method)) {
    return { status: 501, reason: 'Not Implemented', headers: [{ name: 'Allow', value: policy.methods.join(', ') }], diagnostics: [] };
  }
  const ruri = msg.requestUriParsed;
  if (ruri && !policy.schemes.includes(ruri.scheme)) {
    return { status: 416, reason: 'Unsupported URI Scheme', headers: [warning(`Request-URI scheme "${ruri.scheme}" is not supported`)], diagnostics: [] };
  }
  if (msg.method !== 'CANCEL') {
    const unsupported = msg.tokens('require').filter((t) => !policy.extensions.includes(t.toLowerCase()));
    if (unsupported.length > 0) {
      return { status: 420, reason: 'Bad Extension', headers: [{ name: 'Unsupported', value: unsupported.join(', ') }], diagnostics: [] };
    }
  }
  if (msg.body.length > 0) {
    const type = msg.contentType;
    if (type && !policy.bodyTypes.includes(type)) {
      return { status: 415, reason: 'Unsupported Media Type', headers: [{ name: 'Accept', value: policy.bodyTypes.join(', ') }], diagnostics: [] };
    }
    const encoding = msg.get('content-encoding');
    if (encoding && encoding.trim().toLowerCase() !== 'identity') {
      return { status: 415, reason: 'Unsupported Media Type', headers: [{ name: 'Accept-Encoding', value: 'identity' }], diagnostics: [] };
    }
  }
  if (msg.method === 'INVITE' && msg.has('accept')) {
    const accepted = msg.tokens('accept').map((t) => t.split(';')[0].trim().toLowerCase());
    if (!accepted.some((a) => a === 'application/sdp' || a === '*/*' || a === 'application/*')) {
      return { status: 406, reason: 'Not Acceptable', headers: [warning(`Accept (${accepted.join(', ')}) excludes application/sdp, the only answer body`)], diagnostics: [] };
    }
  }
  if (policy.proxying && msg.maxForwards === 0 && msg.method !== 'OPTIONS') {
    return { status: 483, reason: 'Too Many Hops', headers: [], diagnostics: [] };
  }
  return null;
}

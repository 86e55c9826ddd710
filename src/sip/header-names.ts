/**
 * Header field names: compact forms (RFC 3261 §7.3.3 and later RFCs) and the
 * canonical spelling used for display. Lookups use the lower-case long form.
 */

/** Compact form → lower-case long form (RFC 3261 §20, RFC 3515, RFC 3892, RFC 4028, RFC 3841, RFC 4474). */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  s: 'subject',
  c: 'content-type',
  f: 'from',
  k: 'supported',
  o: 'event',
  t: 'to',
  v: 'via',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
  n: 'identity-info',
};

const CANONICAL_LIST = [
  'Accept', 'Accept-Contact', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events',
  'Authentication-Info', 'Authorization', 'Call-ID', 'Call-Info', 'Contact', 'Content-Disposition',
  'Content-Encoding', 'Content-Language', 'Content-Length', 'Content-Type', 'CSeq', 'Date', 'Error-Info',
  'Event', 'Expires', 'From', 'History-Info', 'Identity', 'Identity-Info', 'In-Reply-To', 'Max-Forwards',
  'MIME-Version', 'Min-Expires', 'Min-SE', 'Organization', 'P-Asserted-Identity', 'P-Preferred-Identity',
  'Priority', 'Privacy', 'Proxy-Authenticate', 'Proxy-Authorization', 'Proxy-Require', 'RAck', 'Reason',
  'Record-Route', 'Refer-To', 'Referred-By', 'Reject-Contact', 'Replaces', 'Reply-To', 'Request-Disposition',
  'Require', 'Retry-After', 'Route', 'RSeq', 'Server', 'Session-Expires', 'Subject', 'Subscription-State',
  'Supported', 'Timestamp', 'To', 'Unsupported', 'User-Agent', 'Via', 'Warning', 'WWW-Authenticate',
  'Diversion', 'Path', 'Service-Route', 'P-Charging-Vector', 'P-Access-Network-Info', 'Privacy',
  'ms-diagnostics', 'ms-diagnostics-public', 'ms-call-source', 'ms-correlation-id', 'ms-trunking-peer',
  'ms-endpoint-location-data', 'ms-client-diagnostics', 'ms-accepted-content-type', 'ms-keep-alive',
  'ms-conversation-id', 'ms-application-aor', 'ms-bypass', 'ms-media-bypass-cause', 'ms-subnet',
  'ms-edge-proxy-message-trust', 'ms-fe', 'ms-telemetry-id', 'ms-mediation-generated',
];

const CANONICAL = new Map<string, string>();
for (const name of CANONICAL_LIST) CANONICAL.set(name.toLowerCase(), name);

/** Lower-case long-form key of a header name as sent (`v` → `via`, `CONTACT` → `contact`). */
export function headerKey(nameAsSent: string): string {
  const lower = nameAsSent.toLowerCase();
  if (lower.length === 1) return COMPACT[lower] ?? lower;
  return lower;
}

/** Canonical spelling of a key (`call-id` → `Call-ID`); unknown names get Title-Case per dash part. */
export function canonicalName(key: string): string {
  const known = CANONICAL.get(key);
  if (known) return known;
  let out = '';
  let upper = true;
  for (let i = 0; i < key.length; i++) {
    const ch = key[i];
    out += upper ? ch.toUpperCase() : ch;
    upper = ch === '-';
  }
  CANONICAL.set(key, out);
  return out;
}

/** The compact form of a key, if it has one (`via` → `v`). */
export function compactForm(key: string): string | undefined {
  for (const [short, long] of Object.entries(COMPACT)) if (long === key) return short;
  return undefined;
}

/**
 * Headers that RFC 3261 §7.3.1 allows only once (their grammar has no comma list),
 * used to flag RFC 4475 multi01-style messages.
 */
export const SINGLE_VALUE_HEADERS = new Set([
  'call-id', 'content-length', 'content-type', 'cseq', 'from', 'to', 'max-forwards', 'expires',
  'min-expires', 'date', 'mime-version', 'organization', 'priority', 'reply-to', 'retry-after',
  'server', 'subject', 'timestamp', 'user-agent', 'content-disposition', 'rseq', 'rack',
  'session-expires', 'min-se', 'refer-to', 'referred-by', 'event',
]);

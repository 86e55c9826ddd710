/**
 * Conformance checks beyond what the parser needs: the syntax of the header
 * fields a B2BUA or proxy relies on (Via, From, To, Contact, Route...), the
 * Request-URI, transaction identifiers and body framing. Each finding names
 * the rule it comes from. JsSIP's complete grammar is a second opinion on
 * URIs and name-addrs; it is used here only, never on the hot path.
 */
// A static import, so that a bundler resolves and bundles the grammar: the
// Electron main process runs a CommonJS bundle (.vite/build/main.cjs) where
// `import.meta.url` is undefined and app.asar has no node_modules, so a
// runtime `createRequire(import.meta.url)` finds nothing there. Loading the
// grammar costs about 6 ms at startup; parsing with it happens only here.
import jssipGrammarModule from 'jssip/lib/Grammar.js';
import { getParam } from './grammar.ts';
import type { Diagnostic, SipMessage } from './message.ts';
import { parseNameAddr, parseNameAddrList } from './name-addr.ts';
import { MAGIC_COOKIE } from './via.ts';

interface JsSipGrammar {
  parse(input: string, rule: string): unknown;
}

/** Null only if a bundler mangled the module (the strict findings are then absent, never wrong). */
const grammar: JsSipGrammar | null = typeof jssipGrammarModule?.parse === 'function' ? jssipGrammarModule : null;

/** True when JsSIP's RFC 3261 grammar accepts `text` under `rule` (e.g. `SIP_URI`, `From`, `Contact`). */
export function strictGrammarAccepts(text: string, rule: string): boolean | null {
  if (!grammar) return null;
  try {
    return grammar.parse(text, rule) !== -1;
  } catch {
    return false;
  }
}

const NAME_ADDR_HEADERS: Array<[string, string, boolean]> = [
  // key, code prefix, list?
  ['from', 'from', false],
  ['to', 'to', false],
  ['contact', 'contact', true],
  ['route', 'route', true],
  ['record-route', 'record-route', true],
  ['p-asserted-identity', 'p-asserted-identity', true],
  ['refer-to', 'refer-to', false],
  ['reply-to', 'reply-to', false],
];

export interface ConformanceOptions {
  /** Also check URIs against JsSIP's complete RFC 3261 grammar (slower; the linter does). Default true. */
  strict?: boolean;
}

/** All diagnostics of a message: the parser's plus the deeper checks. Computed on demand. */
export function conformance(msg: SipMessage, options: ConformanceOptions = {}): Diagnostic[] {
  const strict = options.strict !== false;
  const out: Diagnostic[] = [...msg.diagnostics];
  const seen = new Set<string>();
  const push = (d: Diagnostic): void => {
    const key = `${d.code}\u0000${d.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(d);
  };

  // Via (RFC 3261 §20.42) and the transaction id (§8.1.1.7, §17.2.3).
  const vias = msg.vias;
  for (const [i, via] of vias.entries()) {
    for (const p of via.problems) push({ code: 'via-syntax', severity: 'error', message: `Via #${i + 1}: ${p}`, rule: 'RFC 3261 §20.42, §25.1' });
  }
  const top = vias[0];
  if (top && msg.isRequest) {
    if (top.branch === null) {
      push({ code: 'via-branch-missing', severity: 'warning', message: 'top Via has no branch: RFC 2543 transaction matching applies', rule: 'RFC 3261 §8.1.1.7, §17.2.3' });
    } else if (top.branch === MAGIC_COOKIE) {
      push({
        code: 'via-branch-no-id',
        severity: 'warning',
        message: 'branch is only the magic cookie "z9hG4bK" with no transaction id: RFC 2543 matching applies',
        rule: 'RFC 3261 §8.1.1.7, RFC 4475 §3.2.1',
      });
    } else if (!top.branch.startsWith(MAGIC_COOKIE)) {
      push({ code: 'via-branch-no-cookie', severity: 'info', message: `branch ${top.branch} lacks the z9hG4bK magic cookie (RFC 2543 client)`, rule: 'RFC 3261 §8.1.1.7' });
    }
  }
  if (top) {
    if (top.maddr && /^(255\.255\.255\.255|.*\.255)$/.test(top.maddr)) {
      push({ code: 'via-maddr-broadcast', severity: 'warning', message: `top Via maddr ${top.maddr} looks like a broadcast address`, rule: 'RFC 4475 §3.3.10' });
    }
  }

  // name-addr headers.
  for (const [key, code, list] of NAME_ADDR_HEADERS) {
    const values = msg.getAll(key);
    for (const value of values) {
      const items = list ? parseNameAddrList(value) : [parseNameAddr(value)];
      for (const na of items) {
        for (const p of na.problems) {
          push({ code: `${code}-syntax`, severity: 'error', message: `${canonical(key)}: ${p}`, rule: 'RFC 3261 §20.10, §25.1' });
        }
        if (strict && na.problems.length === 0 && na.uri && (na.uri.scheme === 'sip' || na.uri.scheme === 'sips')) {
          if (strictGrammarAccepts(na.uriText, 'SIP_URI') === false) {
            push({ code: `${code}-uri-strict`, severity: 'warning', message: `${canonical(key)} URI ${na.uriText} does not match the strict RFC 3261 grammar`, rule: 'RFC 3261 §25.1' });
          }
        }
      }
    }
  }
  if (msg.isRequest && msg.from && getParam(msg.from.params, 'tag') === undefined) {
    push({ code: 'from-tag-missing', severity: 'warning', message: 'From has no tag (RFC 2543 style request)', rule: 'RFC 3261 §8.1.1.3' });
  }
  if (msg.isResponse && msg.status >= 200 && msg.status < 300 && msg.method === 'INVITE' && msg.toTag === null) {
    push({ code: 'to-tag-missing', severity: 'error', message: 'a 2xx answer to INVITE has no To tag', rule: 'RFC 3261 §8.2.6.2, §12.1.1' });
  }

  // Request-URI (RFC 3261 §19.1).
  if (msg.isRequest) {
    const ruri = msg.requestUriParsed;
    if (ruri === null) {
      if (!msg.diagnostics.some((d) => d.code.startsWith('request-uri'))) {
        push({ code: 'request-uri-invalid', severity: 'error', message: `Request-URI ${JSON.stringify(msg.requestUri)} is not a URI`, rule: 'RFC 3261 §25.1' });
      }
    } else if (strict && (ruri.scheme === 'sip' || ruri.scheme === 'sips') && strictGrammarAccepts(msg.requestUri, 'SIP_URI') === false) {
      push({ code: 'request-uri-strict', severity: 'warning', message: `Request-URI ${msg.requestUri} does not match the strict RFC 3261 grammar`, rule: 'RFC 3261 §25.1' });
    }
  }

  // Body and its type (RFC 3261 §7.4, §20.15).
  if (msg.body.length > 0 && !msg.has('content-type')) {
    push({ code: 'content-type-missing', severity: 'error', message: 'a body without Content-Type', rule: 'RFC 3261 §7.4.1' });
  }
  return out;
}

function canonical(key: string): string {
  return key.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()).replace('Call-Id', 'Call-ID');
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

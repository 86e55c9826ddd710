/**
 * `trunklab lint [--strict] [--problems] [--self NAME] FILE...`: one JSON
 * object per message on stdout.
 *
 * A FILE is a raw SIP message (a `.dat` file: one message, datagram
 * semantics), or a capture (pcap, pcapng, gzip), a Lync/OCSLogger log or a
 * JSON trace. Messages of captures and logs are linted alone and within
 * their dialog (transactions, CSeq, ACK, SDP offer/answer, Lync trunk
 * behaviour); their lines add the `frame` (capture) or `record` (log)
 * number and the message `index` in the trace, and each diagnostic says its
 * `scope` (message or dialog).
 *
 * --strict checks URIs against the complete RFC 3261 grammar (always on for
 * raw messages); --problems prints only messages with findings.
 *
 * Exit 0 when every message is ok, 1 when any is not, 2 on a usage or read
 * error (a truncated or corrupt file: its messages before the damage are
 * linted, then an error line says where).
 */
import { readFile } from 'node:fs/promises';
import { detectImportFormat, importTraceFile } from '../formats/trace-io.ts';
import { conformance } from '../sip/conformance.ts';
import { parseMessage } from '../sip/parser.ts';
import { lintTrace } from '../trace/lint-dialog.ts';
import { parseArgs, UsageError } from './args.ts';

export interface LintRecord {
  file: string;
  /** Captures: frame number; logs: record number. */
  frame?: number;
  record?: number;
  /** Position of the message in the trace (captures, logs, traces). */
  index?: number;
  ok: boolean;
  kind: 'request' | 'response' | null;
  method?: string;
  status?: number;
  callId: string | null;
  diagnostics: Array<{ code: string; severity: string; message: string; rule?: string; scope?: 'message' | 'dialog' }>;
}

/** Lints one raw message (a `.dat` file: one message, datagram semantics). */
export function lintBytes(file: string, bytes: Uint8Array): LintRecord {
  const r = parseMessage(bytes, { datagram: true });
  if (!r.ok) {
    return {
      file,
      ok: false,
      kind: null,
      callId: null,
      diagnostics: [{ code: r.error.code, severity: 'error', message: `${r.error.message} (at byte ${r.error.offset})`, rule: 'RFC 3261 §7' }],
    };
  }
  const m = r.message;
  const diagnostics = conformance(m).map((d) => ({ code: d.code, severity: d.severity, message: d.message, rule: d.rule }));
  const rec: LintRecord = { file, ok: !diagnostics.some((d) => d.severity === 'error'), kind: m.kind, callId: m.has('call-id') ? m.callId : null, diagnostics };
  if (m.kind === 'request') rec.method = m.method;
  else rec.status = m.status;
  // Keep the documented key order: file, ok, kind, method|status, callId, diagnostics.
  const { file: f, ok, kind, method, status, callId } = rec;
  return method !== undefined ? { file: f, ok, kind, method, callId, diagnostics } : { file: f, ok, kind, status, callId, diagnostics };
}

/** Lints every message of a capture, log or JSON trace; returns the exit code for this file. */
async function lintTraceFile(file: string, format: string, options: { strict: boolean; problems: boolean; self?: string }, out: (line: string) => void): Promise<number> {
  const { store, error } = await importTraceFile(file, { self: options.self });
  const refKey = format === 'cls' ? 'record' : format === 'json' ? null : 'frame';
  let exit = 0;
  lintTrace(
    store,
    { strict: options.strict },
    (i, findings) => {
      const ok = !findings.some((f) => f.severity === 'error');
      if (!ok) exit = 1;
      if (options.problems && findings.length === 0) return;
      const kind = store.kind(i);
      const line: Record<string, unknown> = { file };
      if (refKey) line[refKey] = store.ref(i);
      line.index = i;
      line.ok = ok;
      line.kind = kind === 'invalid' ? null : kind;
      if (kind === 'request') line.method = store.method(i);
      else if (kind === 'response') line.status = store.status(i);
      line.callId = kind === 'invalid' || store.callId(i) === '' ? null : store.callId(i);
      line.diagnostics = findings.map((f) => ({ code: f.code, severity: f.severity, message: f.message, rule: f.rule, scope: f.scope }));
      out(JSON.stringify(line));
    },
    !options.problems,
  );
  if (error) {
    out(JSON.stringify({ file, ok: false, error: error.message }));
    return 2;
  }
  return exit;
}

export async function lintCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, { strict: { type: 'boolean' }, problems: { type: 'boolean' }, self: { type: 'string' } });
  if (positionals.length === 0) throw new UsageError('lint needs at least one FILE');
  let exit = 0;
  for (const file of positionals) {
    let format: string | null;
    try {
      format = await detectImportFormat(file);
    } catch (err) {
      out(JSON.stringify({ file, ok: false, error: `cannot read: ${(err as Error).message}` }));
      exit = 2;
      continue;
    }
    if (format !== null) {
      const code = await lintTraceFile(file, format, { strict: options.strict === true, problems: options.problems === true, self: typeof options.self === 'string' ? options.self : undefined }, out);
      exit = Math.max(exit, code);
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      out(JSON.stringify({ file, ok: false, error: `cannot read: ${(err as Error).message}` }));
      exit = 2;
      continue;
    }
    const rec = lintBytes(file, bytes);
    if (options.problems === true && rec.diagnostics.length === 0) continue;
    out(JSON.stringify(rec));
    if (!rec.ok && exit === 0) exit = 1;
  }
  return exit;
}

/**
 * `trunklab lint FILE...`: one JSON object per message on stdout.
 * Exit 0 when every message is ok, 1 when any is not, 2 on a usage or read error.
 */
import { readFile } from 'node:fs/promises';
import { conformance } from '../sip/conformance.ts';
import { parseMessage } from '../sip/parser.ts';
import { parseArgs, UsageError } from './args.ts';

export interface LintRecord {
  file: string;
  ok: boolean;
  kind: 'request' | 'response' | null;
  method?: string;
  status?: number;
  callId: string | null;
  diagnostics: Array<{ code: string; severity: string; message: string; rule?: string }>;
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

export async function lintCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals } = parseArgs(argv, {});
  if (positionals.length === 0) throw new UsageError('lint needs at least one FILE');
  let exit = 0;
  for (const file of positionals) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      out(JSON.stringify({ file, ok: false, error: `cannot read: ${(err as Error).message}` }));
      exit = 2;
      continue;
    }
    const rec = lintBytes(file, bytes);
    out(JSON.stringify(rec));
    if (!rec.ok && exit === 0) exit = 1;
  }
  return exit;
}

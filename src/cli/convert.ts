/**
 * `trunklab convert IN OUT [--to pcap|pcapng|cls|json|sipp] [--side ELEMENT]
 * [--call N|CALL-ID] [--self NAME] [--progress]`
 *
 * Reads a capture (pcap, pcapng, gzip), a Lync/OCSLogger log or a JSON
 * trace into the trace store and writes it in another format; the output
 * format comes from OUT's extension unless --to says it. `--side` picks the
 * element (id, HOST:PORT, host, `caller` or `callee`) whose view is written:
 * required for a SIPp scenario, optional for a Lync log. One JSON line on
 * stdout says what was done.
 *
 * Exit 0 when done, 1 when the input was truncated or corrupt (what came
 * before the damage is converted and the error says where), 2 on a usage or
 * read error.
 */
import { CallNumbering } from '../formats/trace-records.ts';
import { type ExportFormat, EXPORT_FORMATS, formatFromPath, importTraceFile, UnknownFormatError, writeTraceFile } from '../formats/trace-io.ts';
import { ScenarioError } from '../formats/sipp-scenario.ts';
import { parseArgs, UsageError } from './args.ts';

export async function convertCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, {
    to: { type: 'string' },
    side: { type: 'string' },
    call: { type: 'string' },
    self: { type: 'string' },
    progress: { type: 'boolean' },
  });
  if (positionals.length !== 2) throw new UsageError('convert needs IN and OUT');
  const [input, output] = positionals;
  let format: ExportFormat | null;
  if (options.to !== undefined) {
    if (!EXPORT_FORMATS.includes(options.to as ExportFormat)) throw new UsageError(`--to must be one of ${EXPORT_FORMATS.join(', ')}, got ${JSON.stringify(options.to)}`);
    format = options.to as ExportFormat;
  } else {
    format = formatFromPath(output);
    if (format === null) throw new UsageError(`cannot tell the format from ${JSON.stringify(output)}: use --to ${EXPORT_FORMATS.join('|')}`);
  }
  const side = typeof options.side === 'string' ? options.side : undefined;
  if (format === 'sipp' && side === undefined) throw new UsageError('a SIPp scenario needs --side ELEMENT (an element id, HOST:PORT, caller or callee)');
  const call = typeof options.call === 'string' ? (/^\d+$/.test(options.call) ? Number(options.call) : options.call) : undefined;

  const showProgress = options.progress === true || process.stderr.isTTY === true;
  let lastShown = 0;
  let imported: Awaited<ReturnType<typeof importTraceFile>>;
  try {
    imported = await importTraceFile(input, {
      self: typeof options.self === 'string' ? options.self : undefined,
      onProgress: (p) => {
        if (!showProgress) return;
        const now = Date.now();
        if (now - lastShown < 500) return;
        lastShown = now;
        const pct = p.totalBytes ? ` ${((100 * p.bytesRead) / p.totalBytes).toFixed(0)}%` : '';
        process.stderr.write(`\rreading ${input}:${pct} ${p.messages.toLocaleString('en')} messages`);
      },
    });
  } catch (err) {
    if (showProgress) process.stderr.write('\n');
    if (err instanceof UnknownFormatError) {
      out(JSON.stringify({ in: input, ok: false, error: err.message }));
      return 2;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') {
      out(JSON.stringify({ in: input, ok: false, error: `cannot read: ${e.message}` }));
      return 2;
    }
    throw err;
  }
  if (showProgress) process.stderr.write('\n');
  const { store } = imported;
  try {
    await writeTraceFile(store, output, format, { side, call });
  } catch (err) {
    if (err instanceof ScenarioError) {
      out(JSON.stringify({ in: input, ok: false, error: err.message }));
      return 2;
    }
    throw err;
  }
  const result: Record<string, unknown> = {
    in: input,
    from: imported.format,
    out: output,
    to: format,
    ok: imported.error === undefined,
    messages: store.size,
    calls: new CallNumbering(store).callCount,
    legs: store.legCount,
  };
  if (side !== undefined) result.side = side;
  if (imported.error) {
    result.error = imported.error.message;
    process.stderr.write(`trunklab convert: ${imported.error.message}; the ${store.size} messages before it were converted\n`);
  }
  out(JSON.stringify(result));
  return imported.error ? 1 : 0;
}

/**
 * `trunklab diff A B [--all]`: two call flows (pcap, pcapng, Lync log or
 * Trunklab JSON trace) message by message: missing, extra and reordered
 * messages, header and SDP differences of aligned ones. REGISTER and
 * OPTIONS are left out unless --all. Exit 0 when the flows match, 1 when
 * they differ, 2 on a usage error.
 */
import { importTraceFile } from '../formats/trace-io.ts';
import { diffFlows, flowMessages, formatDiff } from '../qualify/flow-diff.ts';
import { parseArgs, UsageError } from './args.ts';

export async function diffCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, { all: { type: 'boolean' } });
  if (positionals.length !== 2) throw new UsageError('diff needs two trace files: A B');
  const flows = [];
  for (const file of positionals) {
    let imported: Awaited<ReturnType<typeof importTraceFile>>;
    try {
      imported = await importTraceFile(file);
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
    }
    flows.push(flowMessages(imported.store, { background: options.all === true }));
  }
  const lines = diffFlows(flows[0], flows[1]);
  for (const l of formatDiff(lines)) out(l);
  const differing = lines.filter((l) => l.kind !== 'same' || l.differences.length > 0).length;
  out(`${lines.filter((l) => l.kind === 'same').length} aligned, ${lines.filter((l) => l.kind === 'missing').length} missing in B, ${lines.filter((l) => l.kind === 'extra').length} extra in B, ${lines.filter((l) => l.kind === 'same' && l.differences.length > 0).length} with differences`);
  return differing === 0 ? 0 : 1;
}

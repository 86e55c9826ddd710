/**
 * `trunklab replay TRACE --side ELEMENT --target HOST:PORT[/udp|tcp|tls]
 * [--peer ELEMENT] [--call N|CALL-ID] [--local HOST:PORT] [--speed F |
 * --as-fast] [--timeout-ms N] [--strict-provisionals] [--t1-ms N]
 * [--pcap OUT] [--recorded OUT] [--diff]`
 *
 * Plays one side of a recorded call (pcap, pcapng, Lync log or JSON trace)
 * against a target, as SIPp plays a scenario: the side's messages are sent
 * with new Call-IDs, tags, branches, addresses and CSeq numbers, with the
 * recorded timing, and each message the other side sent in the recording
 * is waited for from the target (src/qualify/replay.ts).
 *
 * Output: one JSON line per step (`sent`, `received`,
 * `optional-not-received`, `expected-not-received` naming what was
 * expected, `send-failed`, `unexpected`), with --diff the flow diff against
 * the recording (`{"diff": "..."}`, as `trunklab diff`), then
 * `{"summary": {...}}`. `--pcap OUT` writes what crossed the replayer's
 * socket (pcapng when OUT ends in .pcapng); `--recorded OUT` the recorded
 * messages that were replayed, so that `trunklab diff RECORDED OUT`
 * compares the same flow (a whole recording has the side's other legs).
 *
 * Exit 0 when the whole flow replayed, 1 when a step failed or the target
 * sent something unexpected, 2 on a usage error (including a trace without
 * that side or call).
 */
import { formatFromPath, importTraceFile, UnknownFormatError, writeTraceFile } from '../formats/trace-io.ts';
import { formatDiff } from '../qualify/flow-diff.ts';
import { FlowSelectionError, replay, selectFlow } from '../qualify/replay.ts';
import type { TransportTlsOptions } from '../sip/transport.ts';
import { intOption, parseArgs, parseHostPort, UsageError } from './args.ts';
import { testTlsOptions } from './tls.ts';

/** `HOST:PORT[/transport]`. */
function parseTarget(text: string): { host: string; port: number; transport?: 'udp' | 'tcp' | 'tls' } {
  const m = /^(.*?)(?:\/(udp|tcp|tls))?$/i.exec(text);
  const hp = parseHostPort(m?.[1] ?? text, '--target');
  const transport = m?.[2]?.toLowerCase() as 'udp' | 'tcp' | 'tls' | undefined;
  return transport === undefined ? hp : { ...hp, transport };
}

export async function replayCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, {
    side: { type: 'string' },
    peer: { type: 'string' },
    target: { type: 'string' },
    call: { type: 'string' },
    local: { type: 'string' },
    speed: { type: 'string' },
    'as-fast': { type: 'boolean' },
    'timeout-ms': { type: 'string' },
    'strict-provisionals': { type: 'boolean' },
    't1-ms': { type: 'string' },
    pcap: { type: 'string' },
    recorded: { type: 'string' },
    diff: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('replay needs one trace file: TRACE --side ELEMENT --target HOST:PORT[/transport]');
  if (typeof options.side !== 'string') throw new UsageError('--side ELEMENT is required: the element, HOST:PORT, host, caller or callee whose messages to replay');
  if (typeof options.target !== 'string') throw new UsageError('--target HOST:PORT[/udp|tcp|tls] is required');
  const target = parseTarget(options.target);
  const local = typeof options.local === 'string' ? parseHostPort(options.local, '--local') : undefined;
  let speed: number | undefined;
  if (options.speed !== undefined) {
    speed = Number(options.speed);
    if (!(speed > 0 && speed <= 1000)) throw new UsageError(`--speed must be a number above 0 (2 = twice as fast), got ${JSON.stringify(options.speed)}`);
    if (options['as-fast'] === true) throw new UsageError('--speed and --as-fast exclude each other');
  }
  const timeoutMs = intOption(options['timeout-ms'], 'timeout-ms', 1, 3_600_000);
  const t1Ms = intOption(options['t1-ms'], 't1-ms', 10, 10_000);
  const call = typeof options.call === 'string' ? (/^\d+$/.test(options.call) ? Number(options.call) : options.call) : undefined;
  const pcap = typeof options.pcap === 'string' ? options.pcap : undefined;
  const recorded = typeof options.recorded === 'string' ? options.recorded : undefined;
  const captureFormat = (file: string): 'pcap' | 'pcapng' => (formatFromPath(file) === 'pcapng' ? 'pcapng' : 'pcap');

  const [file] = positionals;
  let imported: Awaited<ReturnType<typeof importTraceFile>>;
  try {
    imported = await importTraceFile(file);
  } catch (error) {
    if (error instanceof UnknownFormatError) throw new UsageError(error.message);
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (imported.error !== undefined) process.stderr.write(`trunklab replay: ${imported.error.message}; replaying from the ${imported.store.size} messages before it\n`);

  const selection = { side: options.side, peer: typeof options.peer === 'string' ? options.peer : undefined, call };
  let transport: string;
  try {
    transport = target.transport ?? selectFlow(imported.store, selection).transport;
  } catch (error) {
    if (error instanceof FlowSelectionError) throw new UsageError(error.message);
    throw error;
  }
  let tls: TransportTlsOptions | undefined;
  if (transport === 'tls') tls = await testTlsOptions(local?.host ?? '127.0.0.1');
  let result: Awaited<ReturnType<typeof replay>>;
  try {
    result = await replay(imported.store, {
      ...selection,
      target,
      local,
      speed,
      asFast: options['as-fast'] === true,
      timeoutMs,
      t1Ms,
      optionalProvisionals: options['strict-provisionals'] !== true,
      tls,
      onEvent: (e) => out(JSON.stringify(e)),
    });
  } catch (error) {
    if (error instanceof FlowSelectionError) throw new UsageError(error.message);
    throw error;
  }
  if (pcap !== undefined) await writeTraceFile(result.capture, pcap, captureFormat(pcap));
  if (recorded !== undefined) await writeTraceFile(imported.store, recorded, captureFormat(recorded), { indexes: result.flow.steps.map((s) => s.index) });
  if (options.diff === true) for (const line of formatDiff(result.diff)) out(JSON.stringify({ diff: line }));
  const d = result.diff;
  const diff = {
    aligned: d.filter((l) => l.kind === 'same').length,
    missing: d.filter((l) => l.kind === 'missing').length,
    extra: d.filter((l) => l.kind === 'extra').length,
    withDifferences: d.filter((l) => l.kind === 'same' && l.differences.length > 0).length,
  };
  out(JSON.stringify({ summary: { ...result.summary, diff, ...(pcap !== undefined ? { pcap } : {}), ...(recorded !== undefined ? { recorded } : {}) } }));
  return result.summary.ok ? 0 : 1;
}

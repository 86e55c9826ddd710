/**
 * `trunklab call [--topology FILE] [--from USER_OR_NUMBER] [--to NUMBER_OR_USER]
 * [--inbound] [--talk-ms N] [--json] [--external ...] [--free-ports]`: starts
 * the topology, places one call, hangs up after --talk-ms once answered,
 * prints the outcome and the message flow, and exits 0 on a completed call,
 * 1 otherwise. Without --from/--to it calls from the first Lync user to the
 * first PSTN number of an emulated peer (with --inbound the other way): a
 * smoke test of any topology.
 */
import type { CallSummary } from '../common/api.ts';
import { Lab } from '../lync/lab.ts';
import type { Topology } from '../lync/topology.ts';
import type { CaptureRecord } from '../sip/capture.ts';
import { intOption, parseArgs, UsageError } from './args.ts';
import { LAB_OPTION_SPEC, loadLabTopology } from './lab-options.ts';

export interface FlowLine {
  /** ms since the call was placed. */
  ms: number;
  from: string;
  to: string;
  transport: string;
  /** `INVITE` or `200 OK (INVITE)`. */
  label: string;
}

const START_LINE = /^(?:SIP\/2\.0 (\d{3}) ([^\r\n]*)|([A-Z]+) \S+ SIP\/2\.0)\r?$/gm;

/** The start lines of the messages in one captured datagram or segment (a segment may hold several). */
export function messageLabels(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString('latin1');
  const labels: string[] = [];
  for (const m of text.matchAll(START_LINE)) {
    if (m[3] !== undefined) labels.push(m[3]);
    else {
      const after = text.slice((m.index ?? 0) + m[0].length);
      const cseq = /^CSeq:\s*\d+\s+(\S+)/im.exec(after)?.[1];
      labels.push(`${m[1]} ${m[2]}${cseq ? ` (${cseq})` : ''}`);
    }
  }
  return labels;
}

/** The first Lync user and the first number of an emulated peer, for the default call. */
export function defaultParties(topology: Topology): { user: string; number: string } {
  const user = topology.users.find((u) => u.registered)?.name ?? topology.users[0]?.name;
  const peer = topology.peers.find((p) => p.numbers.length > 0);
  if (user === undefined) throw new UsageError('the topology has no Lync user: give --from and --to');
  if (peer === undefined) throw new UsageError('the topology has no PSTN number on a peer: give --from and --to');
  return { user, number: peer.numbers[0].number };
}

export async function callCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, {
    ...LAB_OPTION_SPEC,
    from: { type: 'string' },
    to: { type: 'string' },
    inbound: { type: 'boolean' },
    'talk-ms': { type: 'string' },
    'timeout-ms': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const topology = loadLabTopology(options);
  const talkMs = intOption(options['talk-ms'], 'talk-ms', 0, 3_600_000) ?? 1000;
  const timeoutMs = intOption(options['timeout-ms'], 'timeout-ms', 100, 3_600_000) ?? 60_000;
  const t1 = intOption(options['t1-ms'], 't1-ms', 10, 10_000);
  const parties = options.from === undefined || options.to === undefined ? defaultParties(topology) : null;
  const inbound = options.inbound === true;
  const from = typeof options.from === 'string' ? options.from : inbound ? (parties as { number: string }).number : (parties as { user: string }).user;
  const to = typeof options.to === 'string' ? options.to : inbound ? (parties as { user: string }).user : (parties as { number: string }).number;

  const records: CaptureRecord[] = [];
  const lab = await Lab.start(topology, { tap: (r) => records.push(r), timers: t1 === undefined ? undefined : { t1 } });
  const t0 = performance.now();
  const startUs = records.length > 0 ? records[records.length - 1].timeUs : 0;
  let summary: CallSummary;
  try {
    const { callId } = lab.placeCall({ from, to });
    let talk: NodeJS.Timeout | null = null;
    const poll = setInterval(() => {
      const now = lab.calls().find((c) => c.id === callId);
      if (now?.state === 'connected' && talk === null) {
        talk = setTimeout(() => void lab.callAction(callId, { action: 'hangup' }).catch(() => undefined), talkMs);
      }
    }, 10);
    const limit = setTimeout(() => void lab.callAction(callId, { action: 'hangup' }).catch(() => undefined), timeoutMs);
    summary = await lab.waitForCall(callId);
    clearInterval(poll);
    clearTimeout(limit);
    if (talk !== null) clearTimeout(talk);
    // Let the last transactions (BYE / 200, ACK) reach the wire before closing.
    await new Promise((resolve) => setTimeout(resolve, 150));
  } finally {
    await lab.stop();
  }
  const flow: FlowLine[] = [];
  const ours = (host: string, port: number, transport: CaptureRecord['transport']): boolean => lab.elementOf(host, port, transport) !== null && !lab.topology.peers.some((p) => p.external?.host === host && p.external.port === port);
  for (const r of records) {
    if (r.timeUs < startUs) continue;
    // Each message between two emulated elements is captured twice (out and in): keep the sending side,
    // and the receiving side only for what a real device sent.
    if (r.direction === 'in' && ours(r.remote.host, r.remote.port, r.transport)) continue;
    const self = lab.elementOf(r.local.host, r.local.port, r.transport) ?? `${r.local.host}:${r.local.port}`;
    const other = lab.elementOf(r.remote.host, r.remote.port, r.transport) ?? `${r.remote.host}:${r.remote.port}`;
    for (const label of messageLabels(r.bytes)) {
      if (label.startsWith('REGISTER') || label.includes('(REGISTER)') || label.startsWith('OPTIONS') || label.includes('(OPTIONS)')) continue;
      flow.push({
        ms: Math.round((r.timeUs - startUs) / 100) / 10,
        from: r.direction === 'out' ? self : other,
        to: r.direction === 'out' ? other : self,
        transport: r.transport,
        label,
      });
    }
  }
  const completed = summary.answeredUs !== undefined && summary.state === 'ended';
  void t0;
  if (options.json === true) out(JSON.stringify({ call: summary, completed, flow }));
  else {
    out(`${completed ? 'completed' : 'failed'}: ${summary.from} → ${summary.to}  ${summary.status ?? ''} ${summary.reason ?? ''}`.trimEnd());
    if (summary.trunks?.length) out(`trunks: ${summary.trunks.join(', ')}`);
    if (summary.pddMs !== undefined) out(`post-dial delay: ${summary.pddMs} ms`);
    const width = Math.max(4, ...flow.map((f) => f.from.length));
    for (const f of flow) out(`${f.ms.toFixed(1).padStart(9)} ms  ${f.from.padStart(width)} → ${f.to.padEnd(width)}  ${f.transport.padEnd(3)}  ${f.label}`);
  }
  return completed ? 0 : 1;
}

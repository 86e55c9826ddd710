/** Reading a capture with tshark, for the format tests. */

import { run, tsharkErrors } from './peers.ts';

const CHECKSUMS = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];

export const SEVERITY_WARN = 6291456;

export interface TsharkFrame {
  number: number;
  /** One entry per SIP message dissected in the frame ("314159 INVITE"). */
  cseqs: string[];
  methods: string[];
  statusCodes: string[];
  checksumStatuses: string[];
  malformed: boolean;
  severities: number[];
  expert: string[];
  comment: string;
  interfaceName: string;
  udpPayloadLen: number;
  tcpLen: number;
}

export interface TsharkOptions {
  /** Display filter (-Y). */
  filter?: string;
  /** Extra preferences (-o name:value). */
  prefs?: string[];
  /** Validate IP/UDP/TCP checksums (default true; off for loopback captures, whose checksums are offloaded). */
  checksums?: boolean;
}

/** Every frame of `file` with its SIP fields, checksum verdicts and expert info. */
export async function tsharkFrames(file: string, opts: TsharkOptions = {}): Promise<TsharkFrame[]> {
  const fields = [
    'frame.number',
    'sip.CSeq',
    'sip.Method',
    'sip.Status-Code',
    'ip.checksum.status',
    'udp.checksum.status',
    'tcp.checksum.status',
    '_ws.malformed',
    '_ws.expert.severity',
    '_ws.expert.message',
    'frame.comment',
    'frame.interface_name',
    'udp.length',
    'tcp.len',
  ];
  const args = ['-r', file, ...(opts.checksums === false ? [] : CHECKSUMS), '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=\u0001', '-E', 'separator=\u0002'];
  if (opts.filter) args.push('-Y', opts.filter);
  // Random free ports may belong to another dissector: let the SIP heuristics look first.
  for (const o of ['tcp.try_heuristic_first:TRUE', 'udp.try_heuristic_first:TRUE', ...(opts.prefs ?? [])]) args.push('-o', o);
  for (const f of fields) args.push('-e', f);
  const r = await run('tshark', args, { timeoutMs: 60000 });
  const err = tsharkErrors(r.stderr);
  if (r.code !== 0 || err) throw new Error(`tshark failed on ${file} (exit ${r.code}): ${err}`);
  const list = (s: string) => (s === '' ? [] : s.split('\u0001'));
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const c = line.split('\u0002');
      return {
        number: Number(c[0]),
        cseqs: list(c[1]),
        methods: list(c[2]),
        statusCodes: list(c[3]),
        checksumStatuses: [...list(c[4]), ...list(c[5]), ...list(c[6])],
        malformed: c[7] !== '',
        severities: list(c[8]).map(Number),
        expert: list(c[9]),
        comment: list(c[10]).join('\n'),
        interfaceName: c[11],
        udpPayloadLen: c[12] ? Number(list(c[12])[0]) - 8 : 0,
        tcpLen: c[13] ? Number(c[13]) : 0,
      };
    });
}

/** Problems tshark reports: bad checksums, malformed packets, warnings and errors. */
export function tsharkProblems(frames: TsharkFrame[]): string[] {
  const out: string[] = [];
  for (const f of frames) {
    if (f.checksumStatuses.some((s) => s !== '1' && s !== '2' && s !== '3')) out.push(`frame ${f.number}: checksum ${f.checksumStatuses.join(',')}`);
    if (f.malformed) out.push(`frame ${f.number}: malformed`);
    f.severities.forEach((s, i) => {
      if (s >= SEVERITY_WARN) out.push(`frame ${f.number}: ${f.expert[i]}`);
    });
  }
  return out;
}

/** Number of SIP messages tshark dissects (one CSeq per message, several per frame possible). */
export function sipMessageCount(frames: TsharkFrame[]): number {
  let n = 0;
  for (const f of frames) n += f.cseqs.length;
  return n;
}

/** Running sngrep without its interface (`-N`) on a capture file. */

import { join } from 'node:path';
import { run } from './peers.ts';
import { tsharkFrames } from './tshark.ts';

export interface SngrepResult {
  dialogs: number;
  /** Packets sngrep kept as SIP (written back with -O). */
  sipPackets: number;
}

/**
 * `sngrep -F -N -I FILE -O OUT`: no config, no UI; it prints "Dialog count: N"
 * as it reads and writes the SIP packets it parsed to OUT.
 */
export async function sngrepFile(file: string, workDir: string): Promise<SngrepResult> {
  const out = join(workDir, `sngrep-${Date.now()}-${Math.random().toString(36).slice(2)}.pcap`);
  const r = await run('sngrep', ['-F', '-N', '-l', '1000000', '-I', file, '-O', out], { timeoutMs: 30000 });
  if (r.code !== 0) throw new Error(`sngrep exited ${r.code}: ${r.stderr}`);
  const counts = [...r.stdout.matchAll(/Dialog count: (\d+)/g)].map((m) => Number(m[1]));
  const dialogs = counts.length ? counts[counts.length - 1] : 0;
  const frames = await tsharkFrames(out);
  return { dialogs, sipPackets: frames.length };
}

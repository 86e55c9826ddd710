/**
 * tshark as the independent RTP implementation of the media tests: a live
 * capture of one UDP port on lo, and the fields its RTP and RTPEvent
 * dissectors read from a capture file.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { bindUdp } from '../port-pool.ts';

const execFileAsync = promisify(execFile);

export const HAS_TSHARK = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;

export interface LiveCapture {
  /** Ends the capture (SIGINT) and waits for tshark to write the file. */
  stop(): Promise<void>;
  /** Packets to the port captured so far (from tshark's one-line summaries). */
  packetsTo(): number;
}

/**
 * A live capture on lo of UDP `port` (and of a probe port), written to
 * `file`; it ends by itself after `limitSeconds`. Resolves once a probe
 * datagram shows tshark is capturing (its "Capturing on" line comes before
 * the filter is in place).
 */
export async function captureUdpPort(file: string, port: number, limitSeconds = 90): Promise<LiveCapture> {
  const probe = await bindUdp('127.0.0.1', 0);
  const probePort = probe.address().port;
  const child: ChildProcess = spawn('tshark', ['-i', 'lo', '-f', `udp port ${port} or udp port ${probePort}`, '-a', `duration:${limitSeconds}`, '-w', file, '-P', '-l'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let seen = false;
  let err = '';
  let printed = '';
  child.stdout?.on('data', (d) => {
    seen = true;
    printed += String(d);
  });
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  const limit = performance.now() + 20_000;
  while (!seen) {
    if (performance.now() > limit || child.exitCode !== null) {
      child.kill('SIGKILL');
      probe.close();
      throw new Error(`tshark did not capture: ${err}`);
    }
    probe.send('probe', probePort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
  }
  probe.close();
  return {
    stop: async () => {
      child.kill('SIGINT');
      await done;
    },
    // tshark's one-line summaries (-P): "… 48200 → 44354 Len=16".
    packetsTo: () => printed.split('\n').filter((l) => new RegExp(`\\d (?:→|->) ${port}\\b`).test(l)).length,
  };
}

/** The fields `names` of each packet of `file`, UDP `port` decoded as RTP, `extra` tshark arguments (a -Y filter). */
export async function rtpFields(file: string, port: number, names: string[], extra: string[] = []): Promise<string[][]> {
  const { stdout } = await execFileAsync('tshark', ['-r', file, '-d', `udp.port==${port},rtp`, ...extra, '-T', 'fields', '-E', 'separator=|', ...names.flatMap((n) => ['-e', n])], { maxBuffer: 1 << 24 });
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'));
}

/** The frames to UDP `port` that tshark finds malformed or warns about (their numbers; none is the answer wanted). */
export async function rtpProblems(file: string, port: number): Promise<string[]> {
  const rows = await rtpFields(file, port, ['frame.number'], ['-Y', `udp.dstport == ${port} && (_ws.malformed || _ws.expert.severity >= "warning")`]);
  return rows.map((r) => r[0]);
}

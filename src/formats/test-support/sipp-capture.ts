/**
 * Real SIP captures for the tests and fixtures: SIPp's built-in uac and uas
 * scenarios talk over loopback while dumpcap records them.
 *
 * SIPp's uas ends each call with a 4 s timewait, so it is stopped as soon as
 * the uac has finished; dumpcap is stopped with SIGINT (it then flushes and
 * closes the file cleanly).
 */

import { createSocket } from 'node:dgram';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { background, type Background, freePorts, run, sleep, waitForStderr } from './peers.ts';
import { portBound } from './sipp-run.ts';

const MARKER = Buffer.from('trunklab-capture-flush-marker');

function sendMarker(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.send(MARKER, port, host, (err) => {
      s.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Waits until the uas is ready, so the first INVITE is not lost (and retransmitted). */
async function waitForPort(port: number, transport: 'udp' | 'tcp', p: Background): Promise<void> {
  const start = Date.now();
  let exited = false;
  void p.exited.then(() => {
    exited = true;
  });
  while (!(await portBound(port, transport))) {
    if (exited) throw new Error(`sipp uas exited: ${p.stderr()} ${p.stdout()}`);
    if (Date.now() - start > 10000) throw new Error(`sipp uas never bound port ${port}`);
    await sleep(20);
  }
}

async function waitForBytes(file: string, needle: Buffer, timeoutMs = 10000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const data = await readFile(file).catch(() => Buffer.alloc(0));
    if (data.includes(needle)) return;
    if (Date.now() - start > timeoutMs) throw new Error(`capture ${file} never received the flush marker`);
    await sleep(50);
  }
}

/** Removes the marker, the file's last packet, with editcap (same format). */
async function dropLastPacket(file: string, pcapng: boolean): Promise<void> {
  const info = await run('capinfos', ['-M', '-c', '-T', '-r', file]);
  const count = Number(info.stdout.trim().split('\t').pop());
  if (!(count > 0)) throw new Error(`capinfos could not count ${file}: ${info.stdout} ${info.stderr}`);
  const tmp = `${file}.tmp`;
  const r = await run('editcap', ['-F', pcapng ? 'pcapng' : 'pcap', file, tmp, String(count)]);
  if (r.code !== 0) throw new Error(`editcap failed: ${r.stderr}`);
  await rename(tmp, file);
}

export interface SippCaptureOptions {
  transport: 'udp' | 'tcp';
  /** '127.0.0.1' or '::1'. */
  host: string;
  calls: number;
  /** Calls per second for the uac (default: 10 × calls, at least 10). */
  rate?: number;
  /** Work directory for SIPp's own files. */
  dir: string;
  /**
   * Captures to take at once: file name (in `dir`), interface and optional
   * dumpcap link type (e.g. 'LINUX_SLL'). Default: one pcap on `lo`.
   */
  captures?: { file: string; iface?: string; linkType?: string; pcapng?: boolean }[];
  /** dumpcap kernel buffer in MiB (default 2; raise it for thousands of calls/s). */
  bufferMiB?: number;
}

export interface SippCaptureResult {
  files: string[];
  uasPort: number;
  uacPort: number;
  uacOutput: string;
}

export async function captureSippCalls(o: SippCaptureOptions): Promise<SippCaptureResult> {
  const [uasPort, uacPort, mp1, mp2] = await freePorts(4, o.host);
  const filter = `port ${uasPort} or port ${uacPort}`;
  const caps = o.captures ?? [{ file: 'capture.pcap' }];
  const dumpcaps: Background[] = [];
  const procs: Background[] = [];
  try {
    for (const c of caps) {
      if (c.iface === 'any' && !c.linkType) c.linkType = 'LINUX_SLL2';
      const args = ['-i', c.iface ?? 'lo', '-f', filter, '-w', join(o.dir, c.file), c.pcapng ? '-n' : '-P'];
      if (c.linkType) args.push('-y', c.linkType);
      if (o.bufferMiB) args.push('-B', String(o.bufferMiB));
      const d = background('dumpcap', args, { cwd: o.dir });
      dumpcaps.push(d);
    }
    for (const d of dumpcaps) await waitForStderr(d, 'Capturing on');
    const t = o.transport === 'tcp' ? ['-t', 't1'] : ['-t', 'u1'];
    const common = ['-i', o.host, '-m', String(o.calls), '-nostdin', '-timeout', '60s', '-buff_size', '4194304', ...t];
    const uas = background('sipp', ['-sn', 'uas', '-p', String(uasPort), '-mp', String(mp1), ...common], { cwd: o.dir });
    procs.push(uas);
    await waitForPort(uasPort, o.transport, uas);
    const target = o.host.includes(':') ? `[${o.host}]:${uasPort}` : `${o.host}:${uasPort}`;
    const rate = o.rate ?? Math.max(10, o.calls * 10);
    const uac = await run(
      'sipp',
      ['-sn', 'uac', target, '-p', String(uacPort), '-mp', String(mp2), '-r', String(rate), '-l', '1000', ...common],
      { cwd: o.dir, timeoutMs: 120000 },
    );
    if (uac.code !== 0) throw new Error(`sipp uac exited ${uac.code}: ${uac.stderr}\n${uac.stdout.slice(-2000)}`);
    // uas: its last call is in the 4 s timewait; everything has been sent.
    await uas.stop('SIGKILL');
    // libpcap hands packets over a block at a time (TPACKET_V3 block timeout):
    // send a marker and wait until every file has it, then stop and cut it off.
    await sendMarker(o.host, uasPort);
    const files = caps.map((c) => join(o.dir, c.file));
    for (const f of files) await waitForBytes(f, MARKER);
    for (const d of dumpcaps) await d.stop('SIGINT');
    for (let i = 0; i < files.length; i++) await dropLastPacket(files[i], caps[i].pcapng === true);
    return { files, uasPort, uacPort, uacOutput: uac.stdout };
  } finally {
    for (const p of procs) await p.stop('SIGKILL');
    for (const d of dumpcaps) await d.stop('SIGINT');
  }
}

/**
 * `trunklab view FILE... [--host H] [--port N]`: opens capture files straight
 * into the UI (as `sngrep -I` does), served to the browser by the headless
 * host. Prints `{"ui": "http://127.0.0.1:PORT/?token=…"}`, then one line per
 * file read; runs until interrupted.
 */
import { startViewer } from '../host/index.ts';
import { intOption, parseArgs, UsageError } from './args.ts';

export async function viewCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, { host: { type: 'string' }, port: { type: 'string' } });
  if (positionals.length === 0) throw new UsageError('view needs at least one FILE (pcap, pcapng)');
  const host = typeof options.host === 'string' ? options.host : '127.0.0.1';
  const port = intOption(options.port, 'port', 0, 65535) ?? 0;
  const ui = await startViewer(positionals, { host, port });
  out(JSON.stringify({ ui: ui.url }));
  let status = 0;
  try {
    for (const result of await ui.opened) {
      out(JSON.stringify({ opened: result.source.name, messages: result.added, ...(result.source.error ? { error: result.source.error } : {}) }));
    }
  } catch (error) {
    out(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
    status = 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await ui.close();
  return status;
}

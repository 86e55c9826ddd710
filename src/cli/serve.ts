/**
 * `trunklab serve [--topology FILE] [--no-ui] [--host H] [--port N]
 * [--open FILE]... [--external PEER=HOST:PORT[/udp|tcp|tls]]...
 * [--free-ports] [--t1-ms N]`: starts the topology, prints one JSON line per
 * element, then (with the UI) `{"ui": "http://HOST:PORT/?token=…"}` and one
 * `{"opened": …}` line per `--open` file, then `{"ready": true}`; runs until
 * SIGINT or SIGTERM, then stops cleanly (`{"stopped": true}`). Trunk health
 * changes print `{"health": TRUNK, …}` lines while it runs.
 *
 * With the UI (the default), the lab is started once, with the engine's
 * capture tap and event sink from the headless host (`prepareUi()`), so the
 * UI's trace holds every message from the first REGISTER on; the UI server
 * listens on --host (127.0.0.1) and --port (8080; 0 picks a free one).
 */
import path from 'node:path';
import { elementSummaries } from '../lync/elements.ts';
import { Lab, type LabOptions } from '../lync/lab.ts';
import { intOption, parseArgs, UsageError } from './args.ts';
import { LAB_OPTION_SPEC, loadLabTopology, readTopologyFile } from './lab-options.ts';

export const DEFAULT_UI_PORT = 8080;

export async function serveCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, {
    ...LAB_OPTION_SPEC,
    'no-ui': { type: 'boolean' },
    host: { type: 'string' },
    port: { type: 'string' },
    open: { type: 'list' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const withUi = options['no-ui'] !== true;
  const open = (options.open as string[] | undefined) ?? [];
  if (!withUi && open.length > 0) throw new UsageError('--open needs the UI: leave out --no-ui');
  const read = readTopologyFile(options);
  // The file as written, for suite runs from the UI (each case applies its own settings); taken before the lab edits it.
  const written = structuredClone(read.input);
  const topology = loadLabTopology(options, read);
  const t1 = intOption(options['t1-ms'], 't1-ms', 10, 10_000);
  const uiHost = typeof options.host === 'string' ? options.host : '127.0.0.1';
  const uiPort = intOption(options.port, 'port', 0, 65535) ?? DEFAULT_UI_PORT;

  // The engine must exist before the lab so that its tap sees the lab's first byte.
  // Suite runs started from the UI use the same topology file (each case on a fresh lab with free ports).
  const qualifyTopology = withUi && typeof options.topology === 'string' ? { input: written, source: path.basename(options.topology) } : undefined;
  const prepared = withUi ? (await import('../host/index.ts')).prepareUi({ host: uiHost, port: uiPort, open, out, ...(qualifyTopology ? { qualifyTopology } : {}) }) : null;
  const onEvent: LabOptions['onEvent'] = (event) => {
    prepared?.onEvent(event);
    if (event.type === 'health') out(JSON.stringify({ health: event.trunk, peer: event.peer, state: event.health, reason: event.reason }));
    else if (event.type === 'log' && event.level !== 'info') process.stderr.write(`trunklab serve: ${event.text}\n`);
  };
  const lab = await Lab.start(topology, {
    timers: t1 === undefined ? undefined : { t1 },
    onEvent,
    ...(prepared === null ? {} : { tap: prepared.tap }),
  });
  for (const e of elementSummaries(lab.topology)) out(JSON.stringify(e));

  let ui: { close(): Promise<void> } | null = null;
  if (prepared !== null) {
    try {
      const running = await prepared.attach(lab);
      ui = running;
      try {
        for (const result of await running.opened) {
          out(JSON.stringify({ opened: result.source.name, messages: result.added, ...(result.source.error ? { error: result.source.error } : {}) }));
        }
      } catch (error) {
        out(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
      }
    } catch (error) {
      // The UI server could not start (port taken): nothing half-running is left behind.
      await prepared.engine.close();
      await lab.stop();
      throw new UsageError(`the UI cannot listen on ${uiHost}:${uiPort}: ${(error as Error).message}`);
    }
  }
  // The signal handlers go in before "ready": a caller that stops us as soon as it reads that line gets a clean stop.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  out(JSON.stringify({ ready: true }));
  await stopped;
  await ui?.close();
  await lab.stop();
  out(JSON.stringify({ stopped: true }));
  return 0;
}

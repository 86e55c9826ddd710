/**
 * `trunklab serve [--topology FILE] [--no-ui] [--host H] [--port N]
 * [--external PEER=HOST:PORT[/udp|tcp|tls]]... [--free-ports]`: starts the
 * topology, prints one JSON line per element then `{"ready": true}`, and
 * runs until SIGINT or SIGTERM, then stops cleanly (`{"stopped": true}`).
 *
 * Without --no-ui it hands the lab to `startUi(lab, {host, port})` of
 * `src/host/index.ts` when that module exists; otherwise it says the UI is
 * not available yet and runs headless.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { elementSummaries } from '../lync/elements.ts';
import { Lab } from '../lync/lab.ts';
import { intOption, parseArgs, UsageError } from './args.ts';
import { LAB_OPTION_SPEC, loadLabTopology } from './lab-options.ts';

type StartUi = (lab: Lab, options: { host: string; port: number }) => Promise<{ close(): Promise<void> } | undefined | void>;

export async function serveCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, {
    ...LAB_OPTION_SPEC,
    'no-ui': { type: 'boolean' },
    host: { type: 'string' },
    port: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const topology = loadLabTopology(options);
  const t1 = intOption(options['t1-ms'], 't1-ms', 10, 10_000);
  const uiHost = typeof options.host === 'string' ? options.host : '127.0.0.1';
  const uiPort = intOption(options.port, 'port', 0, 65535) ?? 8080;

  const lab = await Lab.start(topology, {
    timers: t1 === undefined ? undefined : { t1 },
    onEvent: (event) => {
      if (event.type === 'health') out(JSON.stringify({ health: event.trunk, peer: event.peer, state: event.health, reason: event.reason }));
      else if (event.type === 'log' && event.level !== 'info') process.stderr.write(`trunklab serve: ${event.text}\n`);
    },
  });
  for (const e of elementSummaries(lab.topology)) out(JSON.stringify(e));

  let ui: { close(): Promise<void> } | undefined;
  if (options['no-ui'] !== true) {
    const hostModule = new URL('../host/index.ts', import.meta.url);
    if (existsSync(fileURLToPath(hostModule))) {
      const mod = (await import(hostModule.href)) as { startUi?: StartUi };
      if (typeof mod.startUi === 'function') ui = (await mod.startUi(lab, { host: uiHost, port: uiPort })) ?? undefined;
      else out(JSON.stringify({ ui: 'src/host/index.ts has no startUi(); running without the UI' }));
    } else out(JSON.stringify({ ui: 'not available yet; running without the UI' }));
  }
  out(JSON.stringify({ ready: true }));

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await ui?.close();
  await lab.stop();
  out(JSON.stringify({ stopped: true }));
  return 0;
}

/**
 * Browser mode: an Engine served to a browser by the headless host.
 *
 * - `prepareUi(…)`, then `Lab.start(topology, {tap, onEvent})` with the
 *   prepared tap and event sink, then `attach(lab)`: the UI of a lab, every
 *   message on the ladder from the lab's first byte (`trunklab serve`). The
 *   lab stays the caller's: it is started once, and stopped by the caller
 *   after the UI closes;
 * - `startViewer(files, …)`: files only, no lab (`trunklab view FILE`).
 * `attach` prints `{"ui": url}` (one JSON line, through `out`, as serve's
 * other lines); startViewer leaves printing to its command.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ImportResult, TopologyInfo } from '../common/api.ts';
import { Engine } from '../engine/engine.ts';
import { labPort, topologyInfo } from '../engine/lab-adapter.ts';
import type { Lab } from '../lync/lab.ts';
import type { TopologyInput } from '../lync/topology.ts';
import { type RunningHost, startHost } from './server.ts';

export interface UiOptions {
  host?: string;
  port?: number;
  rendererDir?: string;
  /** Files to open straight into the trace (`--open FILE`). */
  open?: string[];
  topology?: TopologyInfo;
  /** The topology qualification cases run on, as written (default: the built-in lab topology the cases are written against). */
  qualifyTopology?: { input: TopologyInput; source: string };
  /** Where `attach` prints `{"ui": url}` (default stdout). */
  out?: (line: string) => void;
}

export interface RunningUi {
  url: string;
  engine: Engine;
  host: RunningHost;
  /** Settles when the files given with `open` are in the trace. */
  opened: Promise<ImportResult[]>;
  close(): Promise<void>;
}

export function appVersion(): string {
  try {
    const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

async function serve(engine: Engine, options: UiOptions): Promise<RunningUi> {
  const host = await startHost(engine, {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    ...(options.rendererDir ? { rendererDir: options.rendererDir } : {}),
  });
  const opened = (async () => {
    const results: ImportResult[] = [];
    for (const file of options.open ?? []) results.push(await engine.importPath(path.resolve(file)));
    return results;
  })();
  opened.catch(() => {});
  return {
    url: host.url,
    engine,
    host,
    opened,
    async close() {
      await host.close();
      await engine.close();
    },
  };
}

export interface PreparedUi {
  engine: Engine;
  /** Hand to `Lab.start` as its `tap`. */
  tap: Engine['tap'];
  /** Hand to `Lab.start` as (or call from) its `onEvent`. */
  onEvent: Engine['onLabEvent'];
  /** Serves the UI of the lab started with `tap` and `onEvent`; the lab stays the caller's to stop. */
  attach(lab: Lab): Promise<RunningUi>;
}

/** An engine ready before the lab starts, so its tap sees the lab's first byte. */
export function prepareUi(options: UiOptions = {}): PreparedUi {
  const engine = new Engine({ version: appVersion(), ...(options.qualifyTopology ? { qualifyTopology: options.qualifyTopology } : {}) });
  return {
    engine,
    tap: engine.tap,
    onEvent: engine.onLabEvent,
    async attach(lab) {
      engine.attachLab(labPort(lab), topologyInfo(lab.topology));
      const ui = await serve(engine, options);
      (options.out ?? printLine)(JSON.stringify({ ui: ui.url }));
      return ui;
    },
  };
}

function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Serves the UI over files only (no lab). */
export async function startViewer(files: string[], options: UiOptions = {}): Promise<RunningUi> {
  const engine = new Engine({ version: appVersion() });
  engine.detached();
  return serve(engine, { ...options, open: [...(options.open ?? []), ...files] });
}

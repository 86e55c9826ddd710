/**
 * The default lab topology (fixtures/topologies/lab.json), imported as a
 * module: Node reads it with the engine, and the Electron main bundle
 * carries it inside (Vite inlines JSON), so a packaged app, whose app.asar
 * holds only `.vite/` and package.json, starts its lab without the
 * fixtures folder.
 */
import lab from '../../fixtures/topologies/lab.json' with { type: 'json' };

import type { TopologyInput } from '../lync/topology.ts';

/** Name the built-in topology goes by in the UI (status bar, errors). */
export const DEFAULT_TOPOLOGY_SOURCE = 'lab.json (built in)';

/** A fresh copy of the default topology, as written in the file. */
export function defaultTopologyInput(): TopologyInput {
  return structuredClone(lab) as unknown as TopologyInput;
}

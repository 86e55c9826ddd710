/**
 * The running Lab (src/lync/lab.ts) as the engine's LabPort: elements with
 * their Mediation pool (the ladder groups pool members), placeCall answering
 * with the call's summary, and `startLab`, which starts a topology with the
 * engine's capture tap and event sink wired in.
 */
import { readFileSync } from 'node:fs';

import type { CallActionRequest, CallSummary, ElementStatus, TopologyInfo } from '../common/api.ts';
import { Lab, type LabOptions } from '../lync/lab.ts';
import { withFreePorts } from '../lync/free-ports.ts';
import { parseTopology, type Topology, type TopologyInput } from '../lync/topology.ts';
import { DEFAULT_TOPOLOGY_SOURCE, defaultTopologyInput } from './default-topology.ts';
import type { Engine } from './engine.ts';
import type { LabPort } from './lab-port.ts';

export function labPort(lab: Lab): LabPort {
  const pools = new Map(lab.topology.mediationPools.map((p) => [p.name, p.displayName]));
  const poolOf = new Map(lab.topology.mediationServers.map((m) => [m.name, m.pool]));
  return {
    elements(): ElementStatus[] {
      return lab.elements().map((e) => {
        const pool = poolOf.get(e.id);
        return pool === undefined ? e : { ...e, pool, poolName: pools.get(pool) ?? pool };
      });
    },
    trunks: () => lab.trunks(),
    calls: () => lab.calls(),
    async placeCall(request): Promise<CallSummary> {
      const { callId } = lab.placeCall(request);
      const call = lab.calls().find((c) => c.id === callId);
      if (!call) throw new Error(`placeCall: call ${callId} vanished`);
      return call;
    },
    callAction: (callId: string, request: CallActionRequest) => lab.callAction(callId, request),
    elementOf: (host, port, transport) => lab.elementOf(host, port, transport) ?? undefined,
    stop: () => lab.stop(),
  };
}

export function topologyInfo(topology: Topology): TopologyInfo {
  return { source: topology.source, description: topology.description, sipDomain: topology.sipDomain };
}

/** Starts `topology` with the engine's tap and event sink, and attaches it. */
export async function startLab(engine: Engine, topology: Topology, options: Omit<LabOptions, 'tap' | 'onEvent'> & { onEvent?: LabOptions['onEvent'] } = {}): Promise<Lab> {
  const { onEvent, ...rest } = options;
  const lab = await Lab.start(topology, {
    ...rest,
    tap: engine.tap,
    onEvent: (event) => {
      engine.onLabEvent(event);
      onEvent?.(event);
    },
  });
  engine.attachLab(labPort(lab), topologyInfo(lab.topology));
  return lab;
}

export interface LabFileOptions {
  /** Topology file (default: the lab topology built into the engine, fixtures/topologies/lab.json). */
  topologyPath?: string;
  /** Every port 0: for a desktop app next to other SIP software. */
  freePorts?: boolean;
}

/** Loads a topology file and starts it for `engine` (the desktop app's lab). */
export async function startLabFromFile(engine: Engine, options: LabFileOptions = {}): Promise<Lab> {
  const file = options.topologyPath;
  let input = file === undefined ? defaultTopologyInput() : (JSON.parse(readFileSync(file, 'utf8')) as TopologyInput);
  // Qualification cases run on fresh labs of the same topology, every port free.
  engine.setQualifyTopology(input, file ?? DEFAULT_TOPOLOGY_SOURCE);
  if (options.freePorts) input = withFreePorts(input);
  return startLab(engine, parseTopology(input, file ?? DEFAULT_TOPOLOGY_SOURCE));
}

/** What every command that starts a topology shares: --topology, --external, --free-ports, loading. */
import { readFileSync } from 'node:fs';
import { withFreePorts } from '../lync/free-ports.ts';
import { defaultTopologyPath, parseTopology, type Topology, TopologyError, type TopologyInput } from '../lync/topology.ts';
import { UsageError } from './args.ts';

export const LAB_OPTION_SPEC = {
  topology: { type: 'string' },
  external: { type: 'list' },
  'free-ports': { type: 'boolean' },
  't1-ms': { type: 'string' },
} as const;

/** The topology file as written (`--topology`, default `fixtures/topologies/lab.json`); a usage error when it cannot be read. */
export function readTopologyFile(options: Record<string, string | boolean | string[] | undefined>): { input: TopologyInput; file: string } {
  const file = typeof options.topology === 'string' ? options.topology : defaultTopologyPath();
  try {
    return { input: JSON.parse(readFileSync(file, 'utf8')) as TopologyInput, file };
  } catch (error) {
    throw new UsageError(`cannot read the topology ${file}: ${(error as Error).message}`);
  }
}

/** Loads the topology file (default `fixtures/topologies/lab.json`, or the one already `read`), applies `--external` and `--free-ports`. */
export function loadLabTopology(
  options: Record<string, string | boolean | string[] | undefined>,
  read: { input: TopologyInput; file: string } = readTopologyFile(options),
): Topology {
  let { input } = read;
  const { file } = read;
  if (options['free-ports'] === true) input = withFreePorts(input);
  const external = (options.external as string[] | undefined) ?? [];
  try {
    return parseTopology(input, file, { external });
  } catch (error) {
    if (error instanceof TopologyError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * A copy of a topology file with every port set to 0 ("pick a free one at
 * start"), for tests and one-shot commands that must not collide with a
 * running lab. Ports of external devices are kept.
 */
import { readFileSync } from 'node:fs';
import type { GatewayPortsInput, TopologyInput } from './topology.ts';

export function withFreePorts(input: TopologyInput): TopologyInput {
  const t: TopologyInput = structuredClone(input);
  const fe = t.frontEnd;
  if (fe.tlsPort !== null) fe.tlsPort = 0;
  if (fe.tcpPort !== null) fe.tcpPort = 0;
  for (const user of t.users ?? []) user.port = 0;
  for (const pool of t.mediationPools ?? []) {
    for (const ms of pool.servers) {
      ms.frontEndPort = 0;
      const gp: GatewayPortsInput = ms.gatewayPorts ?? { tcp: 5068, tls: 5067 };
      for (const k of ['udp', 'tcp', 'tls'] as const) if (gp[k] != null) gp[k] = 0;
      ms.gatewayPorts = gp;
    }
  }
  const external = new Set((t.peers ?? []).filter((p) => p.external != null).map((p) => p.name));
  for (const peer of t.peers ?? []) if (!external.has(peer.name)) peer.port = 0;
  for (const trunk of t.trunks ?? []) {
    if (trunk.mediationPort !== undefined) trunk.mediationPort = 0;
    if (!external.has(trunk.peer) && trunk.peerPort !== undefined) trunk.peerPort = 0;
  }
  return t;
}

export function readTopologyInput(file: string): TopologyInput {
  return JSON.parse(readFileSync(file, 'utf8')) as TopologyInput;
}

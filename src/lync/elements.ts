/**
 * The elements of a topology as `trunklab serve` lists them: one JSON line
 * per element, e.g.
 * `{"element":"med-1","role":"mediation","listen":["tls:127.0.0.20:5070","tcp:127.0.0.20:5068"]}`.
 * A `lync-user` line adds `uri` and `lineUri`; a peer line lists its
 * emulated numbers under `numbers` (and `external` for a real device).
 */
import { formatExternalTarget } from './apply-external.ts';
import { formatListener } from './listeners.ts';
import type { ElementRole, Topology } from './topology.ts';

export interface ElementSummary {
  element: string;
  role: ElementRole;
  displayName: string;
  /** `transport:address:port` of each listener (port 0 until bound). */
  listen: string[];
  /** lync-user: the SIP URI. */
  uri?: string;
  /** lync-user: the Line URI, or null. */
  lineUri?: string | null;
  /** Peers: the emulated numbers. */
  numbers?: string[];
  /** Peers replaced by a real device: `HOST:PORT[/transport]`. */
  external?: string;
  /** Mediation Servers: their pool. */
  pool?: string;
}

/** Front End, Mediation Servers, peers, then users, in file order. */
export function elementSummaries(topology: Topology): ElementSummary[] {
  const fe = topology.frontEnd;
  const out: ElementSummary[] = [
    { element: fe.name, role: 'front-end', displayName: fe.displayName, listen: fe.listeners.map(formatListener) },
  ];
  for (const ms of topology.mediationServers) {
    out.push({
      element: ms.name,
      role: 'mediation',
      displayName: ms.displayName,
      listen: [ms.frontEndListener, ...ms.gatewayListeners].map(formatListener),
      pool: ms.pool,
    });
  }
  for (const peer of topology.peers) {
    const line: ElementSummary = {
      element: peer.name,
      role: peer.kind,
      displayName: peer.displayName,
      listen: peer.listeners.map(formatListener),
      numbers: peer.numbers.map((n) => n.number),
    };
    if (peer.external !== null) line.external = formatExternalTarget(peer.external);
    out.push(line);
  }
  for (const user of topology.users) {
    out.push({
      element: user.name,
      role: 'lync-user',
      displayName: user.displayName,
      listen: [formatListener(user.listener)],
      uri: user.sipUri,
      lineUri: user.lineUri?.uri ?? null,
    });
  }
  return out;
}

/**
 * Trunks as the Mediation Server and the peers see them: the tuple
 * {Mediation Server, Mediation port : peer, peer port} plus transport.
 *
 * - A Mediation Server accepts a request on its gateway side only when a
 *   trunk of its own names the sender (`trunkForInbound`).
 * - A peer with trunks to several Mediation Servers of a pool spreads its
 *   calls towards Lync over them by DNS round robin and, when one fails,
 *   retries on another (`trunksTowardsLync`).
 */
import type { RoundRobin } from './round-robin.ts';
import type { MediationServer, Peer, Topology, Transport, Trunk } from './topology.ts';

export function findTrunk(topology: Topology, name: string): Trunk | null {
  return topology.trunks.find((t) => t.name === name) ?? null;
}

export function findPeer(topology: Topology, name: string): Peer | null {
  return topology.peers.find((p) => p.name === name) ?? null;
}

export function findMediationServer(topology: Topology, name: string): MediationServer | null {
  return topology.mediationServers.find((m) => m.name === name) ?? null;
}

/** The trunks of one Mediation Server, in file order. */
export function trunksOfMediationServer(topology: Topology, mediationServer: string): Trunk[] {
  return topology.trunks.filter((t) => t.mediationServer === mediationServer);
}

/** The trunks to one peer, in file order. */
export function trunksOfPeer(topology: Topology, peer: string): Trunk[] {
  return topology.trunks.filter((t) => t.peer === peer);
}

/** Canonical text of an address for comparison (IPv6 compressed, lower case). */
export function canonicalAddress(address: string): string {
  if (address.includes(':')) {
    try {
      return new URL(`http://[${address}]/`).hostname.slice(1, -1);
    } catch {
      return address.toLowerCase();
    }
  }
  return address.toLowerCase();
}

/** Where a request arrived on a Mediation Server's gateway side. */
export interface InboundFlow {
  mediationServer: string;
  transport: Transport;
  /** The Mediation Server's port the request arrived on. */
  localPort: number;
  remoteAddress: string;
  /** The sender's source port; over TCP/TLS usually ephemeral, used only to break ties. */
  remotePort?: number;
}

/**
 * The trunk a request from a peer belongs to, or null: the Mediation Server
 * then refuses it (it accepts calls only from the peers its trunks name).
 * Matches the Mediation Server, the local port, the transport and the
 * peer's address; when several trunks fit (one peer, several ports), the one
 * whose peer port equals the source port wins, else the first. A peer given
 * by host name matches only once the engine puts its resolved address in
 * the model.
 */
export function trunkForInbound(topology: Topology, flow: InboundFlow): Trunk | null {
  const remote = canonicalAddress(flow.remoteAddress);
  const fits = topology.trunks.filter(
    (t) =>
      t.mediationServer === flow.mediationServer &&
      t.mediationPort === flow.localPort &&
      t.transport === flow.transport &&
      canonicalAddress(t.peerAddress) === remote,
  );
  return fits.find((t) => t.peerPort === flow.remotePort) ?? fits[0] ?? null;
}

/**
 * The trunks a peer tries, in order, for one call towards Lync: rotated per
 * call (DNS round robin over the pool) for `dns-round-robin`, in file order
 * for `in-order`; trunks whose Mediation Server is down (as the peer sees
 * it) go last. Without `retryOnOtherMediationServer` only the first is
 * returned.
 */
export function trunksTowardsLync(
  topology: Topology,
  peer: string,
  roundRobin: RoundRobin,
  isMediationServerDown: (name: string) => boolean = () => false,
): Trunk[] {
  const p = findPeer(topology, peer);
  if (p === null) throw new Error(`trunksTowardsLync: no peer named "${peer}"`);
  const trunks = trunksOfPeer(topology, peer);
  const ordered =
    p.behaviour.mediationSelection === 'dns-round-robin' ? roundRobin.rotate(`peer:${peer}`, trunks) : trunks;
  const up = ordered.filter((t) => !isMediationServerDown(t.mediationServer));
  const down = ordered.filter((t) => isMediationServerDown(t.mediationServer));
  const all = [...up, ...down];
  return p.behaviour.retryOnOtherMediationServer ? all : all.slice(0, 1);
}

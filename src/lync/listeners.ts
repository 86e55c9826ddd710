/**
 * The sockets a topology listens on, and port 0.
 *
 * A port of 0 in the topology means "pick a free one at start". Each
 * listener has a stable key `element/side/transport/configuredPort`; every
 * part of the model that uses a listener (a trunk's Mediation port, a
 * peer's port...) refers to it through the same key, so when the engine has
 * bound the sockets it calls `bindPorts(model, picked)` and gets a model with
 * the real ports everywhere.
 */
import type { Listener, Topology, Transport } from './topology.ts';

export function listenerKey(element: string, side: Listener['side'], transport: Transport, port: number): string {
  return `${element}/${side}/${transport}/${port}`;
}

export function makeListener(
  element: string,
  side: Listener['side'],
  transport: Transport,
  address: string,
  port: number,
): Listener {
  return { key: listenerKey(element, side, transport, port), element, side, transport, address, port };
}

/** `tcp:127.0.0.20:5068`, `tls:[::1]:5061`: the CLI's `listen` entries. */
export function formatListener(listener: Pick<Listener, 'transport' | 'address' | 'port'>): string {
  const host = listener.address.includes(':') ? `[${listener.address}]` : listener.address;
  return `${listener.transport}:${host}:${listener.port}`;
}

/** Every listener of the topology, element by element (FE, Mediation Servers, peers, users). */
export function allListeners(topology: Topology): Listener[] {
  return [
    ...topology.frontEnd.listeners,
    ...topology.mediationServers.flatMap((ms) => [ms.frontEndListener, ...ms.gatewayListeners]),
    ...topology.peers.flatMap((peer) => peer.listeners),
    ...topology.users.map((user) => user.listener),
  ];
}

/** The listeners still at port 0 (the engine must pick a port for each). */
export function unboundListeners(topology: Topology): Listener[] {
  return allListeners(topology).filter((listener) => listener.port === 0);
}

/**
 * A copy of the model with every port-0 listener replaced by the port the
 * engine picked (`picked` maps listener keys to ports), and every trunk,
 * element and user port that referred to it updated. Keys are recomputed
 * from the new ports. Throws if a port-0 listener has no picked port.
 */
export function bindPorts(topology: Topology, picked: ReadonlyMap<string, number>): Topology {
  const missing = unboundListeners(topology).filter((listener) => !picked.has(listener.key));
  if (missing.length > 0) {
    throw new Error(`bindPorts: no port picked for ${missing.map((l) => l.key).join(', ')}`);
  }
  const portOf = (element: string, side: Listener['side'], transport: Transport, port: number): number =>
    port === 0 ? (picked.get(listenerKey(element, side, transport, 0)) ?? 0) : port;
  const rebind = (l: Listener): Listener =>
    makeListener(l.element, l.side, l.transport, l.address, portOf(l.element, l.side, l.transport, l.port));

  const model: Topology = structuredClone(topology);
  const fe = model.frontEnd;
  fe.listeners = fe.listeners.map(rebind);
  if (fe.tlsPort !== null) fe.tlsPort = portOf(fe.name, 'sip', 'tls', fe.tlsPort);
  if (fe.tcpPort !== null) fe.tcpPort = portOf(fe.name, 'sip', 'tcp', fe.tcpPort);
  for (const ms of model.mediationServers) {
    ms.frontEndListener = rebind(ms.frontEndListener);
    ms.frontEndPort = ms.frontEndListener.port;
    ms.gatewayListeners = ms.gatewayListeners.map(rebind);
    for (const transport of ['udp', 'tcp', 'tls'] as const) {
      const port = ms.gatewayPorts[transport];
      if (port !== null) ms.gatewayPorts[transport] = portOf(ms.name, 'gateway', transport, port);
    }
  }
  for (const peer of model.peers) {
    if (peer.external !== null) continue;
    peer.listeners = peer.listeners.map(rebind);
    peer.port = portOf(peer.name, 'sip', peer.transport, peer.port);
  }
  for (const user of model.users) {
    user.listener = rebind(user.listener);
    user.port = user.listener.port;
  }
  const external = new Set(model.peers.filter((peer) => peer.external !== null).map((peer) => peer.name));
  for (const trunk of model.trunks) {
    trunk.mediationPort = portOf(trunk.mediationServer, 'gateway', trunk.transport, trunk.mediationPort);
    if (!external.has(trunk.peer)) trunk.peerPort = portOf(trunk.peer, 'sip', trunk.transport, trunk.peerPort);
  }
  return model;
}

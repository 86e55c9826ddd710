/**
 * The checks only the whole topology shows, run after every section has
 * been read: duplicate element names, references to trunks and to `Tag:`
 * policies and dial plans, SIP URIs and Line URIs (a Line URI belongs to
 * one user; Lync refuses a main number that is also used with `;ext=`),
 * listeners (it places them on the model, then looks for two on one
 * address and port: TCP and TLS share port numbers), trunk port pairs (no
 * two trunks share one), address families, and whether a real device
 * (`external`) can reach the Mediation Servers of its trunks.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { pointer, type Problems, suggestion } from './json-reader.ts';
import { makeListener } from './listeners.ts';
import {
  type DialPlanScope,
  type Listener,
  type LyncUser,
  type PolicyScope,
  TRANSPORTS,
  type Topology,
} from './topology.ts';

/** Where an element was declared, for the duplicate check. */
export interface Declared {
  name: string;
  path: string;
  what: string;
}

/** A listener and the JSON pointer of the port that made it, for collision messages. */
interface Placed {
  listener: Listener;
  path: string;
}

/** 127.0.0.0/8 or ::1 (in any spelling), or `localhost`. */
export function isLoopback(address: string): boolean {
  if (isIPv4(address)) return address.startsWith('127.');
  if (isIPv6(address)) {
    try {
      return new URL(`http://[${address}]/`).hostname === '[::1]';
    } catch {
      return false;
    }
  }
  return address.toLowerCase() === 'localhost';
}

function family(address: string): 4 | 6 | null {
  const kind = isIP(address);
  return kind === 4 || kind === 6 ? kind : null;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** Reports every name after the first that repeats one (case-insensitive). */
export function uniqueNames(problems: Problems, items: { name: string; path: string }[], what: string): void {
  const seen = new Map<string, string>();
  for (const item of items) {
    const key = item.name.toLowerCase();
    if (item.name === '') continue;
    const first = seen.get(key);
    if (first !== undefined) problems.add(item.path, `duplicate ${what} "${item.name}" (first at ${first})`);
    else seen.set(key, item.path);
  }
}

export interface CheckInput {
  /** Every element name with where it was declared. */
  declared: Declared[];
  /** Trunk names the routes refer to, with their pointers. */
  trunkRefs: { value: string; path: string }[];
  /** Mediation Server name → its pointer. */
  serverPaths: Map<string, string>;
  /** Pointer of each trunk, by index. */
  trunkPaths: string[];
}

/** Runs every whole-topology check; places the listeners on the model on the way. */
export function checkTopology(problems: Problems, model: Topology, input: CheckInput): void {
  uniqueElementNames(problems, input.declared);
  routeTrunkRefs(problems, model, input.trunkRefs);
  userRefs(problems, model, '/users');
  sipUris(problems, model, '/users');
  lineUris(problems, model, '/users');
  placeListeners(problems, model, '/users', input.serverPaths, '/peers', input.trunkPaths);
  trunkPairs(problems, model, input.trunkPaths);
  families(problems, model, '/users', input.serverPaths);
  externalReach(problems, model, '/peers', input.serverPaths);
}

function uniqueElementNames(problems: Problems, declared: Declared[]): void {
  const seen = new Map<string, Declared>();
  for (const item of declared) {
    if (item.name === '') continue;
    const first = seen.get(item.name.toLowerCase());
    if (first !== undefined) {
      problems.add(
        item.path,
        `duplicate element name "${item.name}": already the ${first.what} at ${first.path}; element names are unique across the topology`,
      );
    } else seen.set(item.name.toLowerCase(), item);
  }
}

function placeListeners(
  problems: Problems,
  model: Topology,
  usersPath: string,
  serverPaths: Map<string, string>,
  peersPath: string,
  trunkPaths: string[],
): void {
  const placed: Placed[] = [];
  const add = (list: Listener[], listener: Listener, path: string): void => {
    if (list.some((l) => l.key === listener.key)) return;
    list.push(listener);
    placed.push({ listener, path });
  };
  const fe = model.frontEnd;
  if (fe.tlsPort !== null)
    add(fe.listeners, makeListener(fe.name, 'sip', 'tls', fe.address, fe.tlsPort), '/frontEnd/tlsPort');
  if (fe.tcpPort !== null)
    add(fe.listeners, makeListener(fe.name, 'sip', 'tcp', fe.address, fe.tcpPort), '/frontEnd/tcpPort');
  for (const ms of model.mediationServers) {
    const msPath = serverPaths.get(ms.name) ?? '';
    placed.push({ listener: ms.frontEndListener, path: pointer(msPath, 'frontEndPort') });
    for (const transport of TRANSPORTS) {
      const port = ms.gatewayPorts[transport];
      if (port !== null)
        add(
          ms.gatewayListeners,
          makeListener(ms.name, 'gateway', transport, ms.gatewayAddress, port),
          pointer(msPath, 'gatewayPorts', transport),
        );
    }
  }
  model.peers.forEach((peer, index) => {
    if (peer.external === null)
      add(
        peer.listeners,
        makeListener(peer.name, 'sip', peer.transport, peer.address, peer.port),
        pointer(peersPath, index, 'port'),
      );
  });
  model.trunks.forEach((trunk, index) => {
    const ms = model.mediationServers.find((s) => s.name === trunk.mediationServer);
    const peer = model.peers.find((p) => p.name === trunk.peer);
    if (ms !== undefined)
      add(
        ms.gatewayListeners,
        makeListener(ms.name, 'gateway', trunk.transport, ms.gatewayAddress, trunk.mediationPort),
        pointer(trunkPaths[index], 'mediationPort'),
      );
    if (peer !== undefined && peer.external === null)
      add(
        peer.listeners,
        makeListener(peer.name, 'sip', trunk.transport, peer.address, trunk.peerPort),
        pointer(trunkPaths[index], 'peerPort'),
      );
  });
  model.users.forEach((user, index) => {
    placed.push({ listener: user.listener, path: pointer(usersPath, index, 'port') });
  });

  const taken = new Map<string, Placed>();
  for (const item of placed) {
    const l = item.listener;
    if (l.port === 0) continue;
    const socket = `${l.address}|${l.transport === 'udp' ? 'udp' : 'stream'}|${l.port}`;
    const first = taken.get(socket);
    if (first === undefined) {
      taken.set(socket, item);
    } else if (first.listener.key !== l.key) {
      const owner = first.listener.element === l.element ? `${l.element} itself` : first.listener.element;
      problems.add(
        item.path,
        `${l.transport.toUpperCase()} port ${l.port} on ${l.address} is already taken by ${owner} (${first.listener.transport.toUpperCase()}, from ${first.path}); TCP and TLS share port numbers, so give each listener its own address or port`,
      );
    }
  }
}

function trunkPairs(problems: Problems, model: Topology, trunkPaths: string[]): void {
  const seen = new Map<string, string>();
  model.trunks.forEach((trunk, index) => {
    if (trunk.mediationAddress === '' || trunk.peerAddress === '') return;
    const key = `${trunk.mediationAddress}|${trunk.mediationPort}|${trunk.peerAddress.toLowerCase()}|${trunk.peerPort}`;
    const first = seen.get(key);
    const pair = `${trunk.mediationServer}:${trunk.mediationPort} ↔ ${trunk.peerAddress}:${trunk.peerPort}`;
    if (first !== undefined) {
      problems.add(
        trunkPaths[index],
        `trunk "${trunk.name}" has the same port pair (${pair}) as trunk "${first}"; no two trunks may share a port pair`,
      );
    } else seen.set(key, trunk.name);
    const a = family(trunk.mediationAddress);
    const b = family(trunk.peerAddress);
    if (a !== null && b !== null && a !== b) {
      problems.add(
        trunkPaths[index],
        `trunk "${trunk.name}" joins IPv${a} ${trunk.mediationAddress} (${trunk.mediationServer}) to IPv${b} ${trunk.peerAddress} (${trunk.peer}); both ends need one address family`,
      );
    }
  });
}

function families(problems: Problems, model: Topology, usersPath: string, serverPaths: Map<string, string>): void {
  const fe = family(model.frontEnd.address);
  for (const ms of model.mediationServers) {
    const f = family(ms.address);
    if (fe !== null && f !== null && f !== fe) {
      problems.add(
        pointer(serverPaths.get(ms.name) ?? '', 'address'),
        `${ms.name} is IPv${f} but the Front End is IPv${fe} (${model.frontEnd.address}); they must talk over one address family`,
      );
    }
  }
  model.users.forEach((user, index) => {
    const f = family(user.address);
    if (fe !== null && f !== null && f !== fe) {
      problems.add(
        pointer(usersPath, index, 'address'),
        `${user.name} is IPv${f} but the Front End is IPv${fe} (${model.frontEnd.address}); they must talk over one address family`,
      );
    }
  });
}

function externalReach(problems: Problems, model: Topology, peersPath: string, serverPaths: Map<string, string>): void {
  model.peers.forEach((peer, index) => {
    if (peer.external === null || isLoopback(peer.external.host)) return;
    const blocked = new Set<string>();
    for (const trunk of model.trunks) {
      if (trunk.peer !== peer.name) continue;
      const ms = model.mediationServers.find((s) => s.name === trunk.mediationServer);
      if (ms !== undefined && isLoopback(ms.gatewayAddress)) blocked.add(ms.name);
    }
    for (const name of blocked) {
      const ms = model.mediationServers.find((s) => s.name === name);
      problems.add(
        pointer(peersPath, index, 'external'),
        `${peer.name} is a real device at ${peer.external.host}, but ${name} listens on loopback (${ms?.gatewayAddress}) on its gateway side, which that device cannot reach; set gatewayAddress of ${name} (${pointer(serverPaths.get(name) ?? '', 'gatewayAddress')}) to this host's address on that network`,
      );
    }
  });
}

function lineUris(problems: Problems, model: Topology, usersPath: string): void {
  const byUri = new Map<string, LyncUser>();
  const byNumber = new Map<string, LyncUser[]>();
  model.users.forEach((user, index) => {
    if (user.lineUri === null) return;
    const path = pointer(usersPath, index, 'lineUri');
    const key = user.lineUri.uri.toLowerCase();
    const owner = byUri.get(key);
    if (owner !== undefined) {
      problems.add(
        path,
        `${user.lineUri.uri} is already the Line URI of ${owner.name}; a Line URI belongs to one user`,
      );
      return;
    }
    byUri.set(key, user);
    const sharing = byNumber.get(user.lineUri.number) ?? [];
    const clash = sharing.find((other) => (other.lineUri?.ext === null) !== (user.lineUri?.ext === null));
    if (clash !== undefined) {
      const plain = user.lineUri.ext === null ? user : clash;
      problems.add(
        path,
        `tel:${user.lineUri.number} is ambiguous: ${plain.name} has it without ;ext= while ${plain === user ? clash.name : user.name} has it with one; Lync refuses a main number that is also used with extensions (give the main line an ext too, e.g. tel:${user.lineUri.number};ext=1000)`,
      );
    }
    sharing.push(user);
    byNumber.set(user.lineUri.number, sharing);
  });
}

function sipUris(problems: Problems, model: Topology, usersPath: string): void {
  uniqueNames(
    problems,
    model.users.map((user, index) => ({ name: user.sipUri, path: pointer(usersPath, index, 'sipUri') })),
    'SIP URI',
  );
}

function userRefs(problems: Problems, model: Topology, usersPath: string): void {
  const tags = (items: { scope: DialPlanScope | PolicyScope }[]): string[] =>
    items.flatMap((item) => (item.scope.kind === 'user' ? [item.scope.tag] : []));
  const policyTags = tags(model.voicePolicies);
  const planTags = tags(model.dialPlans);
  model.users.forEach((user, index) => {
    if (user.voicePolicy !== null) {
      const known = policyTags.find((t) => same(t, user.voicePolicy ?? ''));
      if (known === undefined) {
        problems.add(
          pointer(usersPath, index, 'voicePolicy'),
          `unknown voice policy "${user.voicePolicy}"${suggestion(user.voicePolicy, policyTags)}; the Tag: voice policies are ${policyTags.join(', ') || 'none'}`,
        );
      } else user.voicePolicy = known;
    }
    if (user.dialPlan !== null) {
      const known = planTags.find((t) => same(t, user.dialPlan ?? ''));
      if (known === undefined) {
        problems.add(
          pointer(usersPath, index, 'dialPlan'),
          `unknown dial plan "${user.dialPlan}"${suggestion(user.dialPlan, planTags)}; the Tag: dial plans are ${planTags.join(', ') || 'none'}`,
        );
      } else user.dialPlan = known;
    }
  });
}

function routeTrunkRefs(problems: Problems, model: Topology, refs: { value: string; path: string }[]): void {
  const names = model.trunks.map((t) => t.name);
  for (const { value: name, path } of refs) {
    if (!names.includes(name)) {
      problems.add(
        path,
        `unknown trunk "${name}"${suggestion(name, names)}; the trunks are ${names.join(', ') || 'none'}`,
      );
    }
  }
}

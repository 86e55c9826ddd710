/**
 * `--external PEER=HOST:PORT[/udp|tcp|tls]`: replace the emulation of a
 * peer with a real device (a gateway, IP-PBX or SBC under test, or SIPp).
 *
 * The same `HOST:PORT[/transport]` syntax is the `external` property of a
 * peer in the topology file. HOST is an IPv4 address, an IPv6 address in
 * brackets (`[::1]:5060`) or a host name; PORT is 1-65535 (a real device has
 * a real port). Without a transport, each trunk to the peer keeps its own.
 *
 * The override is applied to the file's document before validation, so the
 * whole topology is checked with it; problems it causes name the option.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isPlainObject, type TopologyProblem } from './json-reader.ts';
import { type ExternalTarget, TRANSPORTS, type Transport } from './topology.ts';

/** One parsed `--external` value. */
export interface ExternalOverride {
  peer: string;
  target: ExternalTarget;
  /** The option value as given, for messages. */
  option: string;
}

const SYNTAX = 'PEER=HOST:PORT[/udp|tcp|tls], e.g. gw-a=192.0.2.10:5060/tcp or pbx=[::1]:5066';
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A bad `--external` value (or a bad `external` property); the message says what and how to write it. */
export class ExternalOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExternalOptionError';
  }
}

/**
 * Parses `HOST:PORT[/transport]`. Throws `ExternalOptionError` with a message
 * that says what is wrong (without naming the option: callers add that).
 */
export function parseExternalTarget(text: string): ExternalTarget {
  let rest = text.trim();
  let transport: Transport | null = null;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const name = rest.slice(slash + 1).toLowerCase();
    if (!(TRANSPORTS as readonly string[]).includes(name)) {
      throw new ExternalOptionError(`unknown transport "${rest.slice(slash + 1)}"; expected udp, tcp or tls`);
    }
    transport = name as Transport;
    rest = rest.slice(0, slash);
  }
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new ExternalOptionError(`"${rest}" has "[" without "]"; write IPv6 as [::1]:5060`);
    host = rest.slice(1, close);
    if (!isIPv6(host)) throw new ExternalOptionError(`"${host}" is not an IPv6 address`);
    if (rest[close + 1] !== ':') throw new ExternalOptionError(`missing port after [${host}]; expected [${host}]:PORT`);
    portText = rest.slice(close + 2);
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 0) throw new ExternalOptionError(`missing port in "${rest}"; expected HOST:PORT`);
    if (colons > 1) {
      throw new ExternalOptionError(`"${rest}" looks like an IPv6 address without brackets; write [::1]:5060`);
    }
    [host, portText] = rest.split(':');
    if (host === '') throw new ExternalOptionError(`missing host in "${rest}"; expected HOST:PORT`);
    if (/^[\d.]+$/.test(host) ? !isIPv4(host) : !HOST_NAME.test(host)) {
      throw new ExternalOptionError(`"${host}" is neither an IPv4 address nor a host name`);
    }
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new ExternalOptionError(`port "${portText}" is not a number from 1 to 65535`);
  }
  return { host, port: Number(portText), transport };
}

/** `HOST:PORT[/transport]`, with IPv6 in brackets. */
export function formatExternalTarget(target: ExternalTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${host}:${target.port}${target.transport === null ? '' : `/${target.transport}`}`;
}

/** Parses one `--external` value. Throws `ExternalOptionError` naming the option. */
export function parseExternalOption(text: string): ExternalOverride {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new ExternalOptionError(`--external ${text}: expected ${SYNTAX}`);
  const peer = text.slice(0, equals).trim();
  try {
    return { peer, target: parseExternalTarget(text.slice(equals + 1)), option: text };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ExternalOptionError(`--external ${text}: ${reason}; expected ${SYNTAX}`);
  }
}

export interface AppliedOverrides {
  /** A copy of the document with `external` set on the named peers (the input is not changed). */
  document: unknown;
  /** Peer index → the option that set it, to report later problems against the option. */
  origins: Map<number, string>;
  problems: TopologyProblem[];
}

/**
 * Sets `external` on the named peers of a topology document. Problems (bad
 * syntax, unknown or repeated peer) have the option as their path.
 */
export function applyExternalOverrides(
  document: unknown,
  overrides: readonly (string | ExternalOverride)[],
): AppliedOverrides {
  const origins = new Map<number, string>();
  const problems: TopologyProblem[] = [];
  if (overrides.length === 0) return { document, origins, problems };
  const copy = structuredClone(document);
  const peers = isPlainObject(copy) && Array.isArray(copy.peers) ? (copy.peers as unknown[]) : [];
  const names = peers.map((peer) => (isPlainObject(peer) && typeof peer.name === 'string' ? peer.name : null));
  for (const item of overrides) {
    let override: ExternalOverride;
    try {
      override = typeof item === 'string' ? parseExternalOption(item) : item;
    } catch (error) {
      const text = typeof item === 'string' ? item : item.option;
      problems.push({ path: `--external ${text}`, message: error instanceof Error ? error.message : String(error) });
      continue;
    }
    const path = `--external ${override.option}`;
    const index = names.indexOf(override.peer);
    if (index < 0) {
      const known = names.filter((n) => n !== null).join(', ') || 'none';
      problems.push({ path, message: `no peer named "${override.peer}"; the peers are ${known}` });
      continue;
    }
    if (origins.has(index)) {
      problems.push({ path, message: `peer "${override.peer}" is already set by --external ${origins.get(index)}` });
      continue;
    }
    origins.set(index, override.option);
    (peers[index] as Record<string, unknown>).external = formatExternalTarget(override.target);
  }
  return { document: copy, origins, problems };
}

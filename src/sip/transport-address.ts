/** IP literal helpers shared by the transport layer and response routing. */
import net from 'node:net';

export interface NormalizedIp {
  /** The address as Node reports socket addresses (IPv6 lower-case, RFC 5952 compressed, no brackets). */
  host: string;
  family: 4 | 6;
}

/** Strips IPv6 brackets and normalizes the text; null if `host` is not an IP literal. */
export function normalizeIp(host: string): NormalizedIp | null {
  const h = host.length > 1 && host.charCodeAt(0) === 0x5b && host.endsWith(']') ? host.slice(1, -1) : host;
  const v = net.isIP(h);
  if (v === 4) return { host: h, family: 4 };
  if (v === 6) {
    try {
      return { host: new net.SocketAddress({ address: h, family: 'ipv6' }).address, family: 6 };
    } catch {
      return { host: h.toLowerCase(), family: 6 };
    }
  }
  return null;
}

/** True when both are IP literals for the same address (any spelling), or equal text otherwise (case-insensitive). */
export function sameHost(a: string, b: string): boolean {
  const x = normalizeIp(a);
  const y = normalizeIp(b);
  if (x !== null && y !== null) return x.family === y.family && x.host === y.host;
  if (x !== null || y !== null) return false;
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * IP address text <-> bytes, for the capture writers and readers.
 *
 * - IPv4 dotted quad: RFC 791 §3.2 / inet_pton(3).
 * - IPv6 text forms: RFC 4291 §2.2 (`::` compression, embedded IPv4 tail);
 *   a zone suffix (`fe80::1%eth0`, RFC 6874) is accepted and dropped.
 * - IPv6 output follows what Node (libuv `inet_ntop`) prints for socket
 *   addresses, which is RFC 5952 §4 (lowercase, no leading zeros, the longest
 *   run of two or more zero groups as `::`, first run on a tie) plus the mixed
 *   notation of §5 for IPv4-mapped (`::ffff:1.2.3.4`) and IPv4-compatible
 *   (`::1.2.3.4`) addresses, so addresses read from a capture compare equal to
 *   those a Node socket reports.
 */

/** Parses a dotted-quad IPv4 address into 4 bytes, or null. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parses an IPv6 address (with or without brackets or zone) into 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.length < 2) return null;
  const words: number[] = [];
  let tail: number[] = [];
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return null;
  const parseGroups = (part: string, into: number[], allowV4Tail: boolean): boolean => {
    if (part === '') return true;
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return false;
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      into.push(parseInt(g, 16));
    }
    return true;
  };
  if (dbl >= 0) {
    const head = s.slice(0, dbl);
    const rest = s.slice(dbl + 2);
    if (!parseGroups(head, words, false) || !parseGroups(rest, tail, true)) return null;
    if (words.length + tail.length > 7) return null;
  } else {
    if (!parseGroups(s, words, true) || words.length !== 8) return null;
    tail = [];
  }
  const all = new Array<number>(8).fill(0);
  for (let i = 0; i < words.length; i++) all[i] = words[i];
  for (let i = 0; i < tail.length; i++) all[8 - tail.length + i] = tail[i];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = all[i] >> 8;
    out[i * 2 + 1] = all[i] & 0xff;
  }
  return out;
}

export interface ParsedIp {
  version: 4 | 6;
  /** 4 or 16 bytes in network order. */
  bytes: Uint8Array;
}

/** Parses an IPv4 or IPv6 literal; null if it is neither. */
export function parseIp(text: string): ParsedIp | null {
  if (text.includes(':')) {
    const b = parseIPv6(text);
    return b ? { version: 6, bytes: b } : null;
  }
  const b = parseIPv4(text);
  return b ? { version: 4, bytes: b } : null;
}

/** True for `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2). */
export function isIPv4Mapped(b16: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b16[i] !== 0) return false;
  return b16[10] === 0xff && b16[11] === 0xff;
}

const v4Cache = new Map<number, string>();
let lastV4Key = -1;
let lastV4 = '';

/** Formats 4 bytes at `off` as a dotted quad (cached: capture files repeat few addresses). */
export function formatIPv4(b: Uint8Array, off: number): string {
  const key = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
  if (key === lastV4Key) return lastV4;
  let s = v4Cache.get(key);
  if (s === undefined) {
    s = `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
    if (v4Cache.size > 65536) v4Cache.clear();
    v4Cache.set(key, s);
  }
  lastV4Key = key;
  lastV4 = s;
  return s;
}

/** Formats 16 bytes at `off` like Node/libuv `inet_ntop` (RFC 5952). */
export function formatIPv6(b: Uint8Array, off: number): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[off + i * 2] << 8) | b[off + i * 2 + 1];
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase !== -1) {
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && curLen > bestLen) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      out += `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
      break;
    }
    out += w[i].toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

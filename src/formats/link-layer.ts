/**
 * Link-layer headers of captured packets, down to the IP header.
 * LINKTYPE values: https://www.tcpdump.org/linktypes.html
 *
 * - NULL (0): 4-byte address family in the capturing host's byte order
 *   (AF_INET = 2; AF_INET6 = 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD,
 *   30 macOS); LOOP (108): the same, always big-endian.
 * - ETHERNET (1): Ethernet II with any number of IEEE 802.1Q (0x8100),
 *   802.1ad QinQ (0x88A8) or legacy 0x9100 VLAN tags.
 * - RAW (101), IPV4 (228), IPV6 (229): the packet is the IP header.
 * - LINUX_SLL (113): 16-byte cooked header, protocol at offset 14.
 * - LINUX_SLL2 (276): 20-byte cooked header, protocol at offset 0.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** The link types {@link ipOffset} understands. */
export const SUPPORTED_LINK_TYPES: readonly number[] = [
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
];

function isVlan(t: number): boolean {
  return t === 0x8100 || t === 0x88a8 || t === 0x9100;
}

/** Offset of an IPv4/IPv6 header after an EtherType at `typeOff` whose payload starts at `payloadOff`; -1 if not IP. */
function afterEtherType(d: Uint8Array, typeOff: number, payloadOff: number): number {
  let t = (d[typeOff] << 8) | d[typeOff + 1];
  let p = payloadOff;
  while (isVlan(t)) {
    // Tag: 2 bytes TCI then the inner EtherType.
    if (p + 4 > d.length) return -1;
    t = (d[p + 2] << 8) | d[p + 3];
    p += 4;
  }
  if (t === 0x0800 || t === 0x86dd) return p < d.length ? p : -1;
  return -1;
}

/** AF_INET6 values of the BSDs, macOS and Linux. */
function isInet6Family(f: number): boolean {
  return f === 10 || f === 24 || f === 28 || f === 30;
}

/**
 * Offset of the IP header inside a captured packet of `linkType`, or -1 when
 * the packet is not IPv4/IPv6 (ARP, LLDP...) or the link type is unknown.
 * The caller checks the version nibble at the returned offset.
 */
export function ipOffset(linkType: number, d: Uint8Array): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return d.length >= 14 ? afterEtherType(d, 12, 14) : -1;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return d.length > 0 ? 0 : -1;
    case LINKTYPE_LINUX_SLL:
      return d.length >= 16 ? afterEtherType(d, 14, 16) : -1;
    case LINKTYPE_LINUX_SLL2:
      return d.length >= 20 ? afterEtherType(d, 0, 20) : -1;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (d.length < 5) return -1;
      const be = ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
      const le = ((d[3] << 24) | (d[2] << 16) | (d[1] << 8) | d[0]) >>> 0;
      const f = linkType === LINKTYPE_LOOP ? be : be < 0x10000 ? be : le;
      return f === 2 || isInet6Family(f) ? 4 : -1;
    }
    default:
      return -1;
  }
}

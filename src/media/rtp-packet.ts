/**
 * RTP packets (RFC 3550 §5.1): the fixed header, CSRC list, header
 * extension (§5.3.1) and padding. `decodeRtp` never throws: bytes that are
 * not a valid RTP packet come back with the reason and the bytes, for the
 * caller to show and flag (a device's malformed media is reported, not
 * dropped in silence). `encodeRtp` is for our own packets: a field out of
 * range is a programming error and throws.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |           synchronization source (SSRC) identifier            |
 * |            contributing source (CSRC) identifiers             |
 * ```
 */

export interface RtpHeaderExtension {
  /** The 16-bit profile-defined value (0xBEDE for RFC 8285 one-byte headers). */
  profile: number;
  /** The extension body; its length is a multiple of 4 bytes. */
  data: Uint8Array;
}

export interface RtpPacket {
  /** Padding bytes at the end (the last of them holds the count); 0 = none. */
  padding: number;
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrc: number[];
  extension: RtpHeaderExtension | null;
  payload: Uint8Array;
}

export type RtpPacketInput = Partial<Pick<RtpPacket, 'padding' | 'marker' | 'csrc' | 'extension'>> &
  Pick<RtpPacket, 'payloadType' | 'sequenceNumber' | 'timestamp' | 'ssrc' | 'payload'>;

export type RtpDecodeResult = { ok: true; packet: RtpPacket } | { ok: false; error: string; bytes: Uint8Array };

export const RTP_HEADER_LENGTH = 12;

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`RTP ${name} must be a 32-bit unsigned integer, got ${v}`);
  return v;
}

/** The bytes of one RTP packet (version 2). */
export function encodeRtp(p: RtpPacketInput): Uint8Array {
  const csrc = p.csrc ?? [];
  const padding = p.padding ?? 0;
  const ext = p.extension ?? null;
  if (csrc.length > 15) throw new RangeError(`RTP carries at most 15 CSRCs, got ${csrc.length}`);
  if (!Number.isInteger(p.payloadType) || p.payloadType < 0 || p.payloadType > 127) throw new RangeError(`RTP payload type must be 0-127, got ${p.payloadType}`);
  if (!Number.isInteger(p.sequenceNumber) || p.sequenceNumber < 0 || p.sequenceNumber > 0xffff) throw new RangeError(`RTP sequence number must be 0-65535, got ${p.sequenceNumber}`);
  if (!Number.isInteger(padding) || padding < 0 || padding > 255) throw new RangeError(`RTP padding must be 0-255 bytes, got ${padding}`);
  if (ext !== null && (ext.data.length % 4 !== 0 || ext.data.length / 4 > 0xffff || ext.profile < 0 || ext.profile > 0xffff)) {
    throw new RangeError('RTP header extension: profile 0-65535 and a body of whole 32-bit words');
  }
  const extLength = ext === null ? 0 : 4 + ext.data.length;
  const total = RTP_HEADER_LENGTH + csrc.length * 4 + extLength + p.payload.length + padding;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = 0x80 | (padding > 0 ? 0x20 : 0) | (ext !== null ? 0x10 : 0) | csrc.length;
  out[1] = (p.marker ? 0x80 : 0) | p.payloadType;
  view.setUint16(2, p.sequenceNumber);
  view.setUint32(4, u32('timestamp', p.timestamp));
  view.setUint32(8, u32('SSRC', p.ssrc));
  let at = RTP_HEADER_LENGTH;
  for (const c of csrc) {
    view.setUint32(at, u32('CSRC', c));
    at += 4;
  }
  if (ext !== null) {
    view.setUint16(at, ext.profile);
    view.setUint16(at + 2, ext.data.length / 4);
    out.set(ext.data, at + 4);
    at += extLength;
  }
  out.set(p.payload, at);
  at += p.payload.length;
  // §5.1: the last octet of the padding counts the padding octets, itself included; the others are zero.
  if (padding > 0) out[total - 1] = padding;
  return out;
}

/** One RTP packet from a datagram, or why it is not one. */
export function decodeRtp(bytes: Uint8Array): RtpDecodeResult {
  const fail = (error: string): RtpDecodeResult => ({ ok: false, error, bytes });
  if (bytes.length < RTP_HEADER_LENGTH) return fail(`${bytes.length} bytes: shorter than the 12-byte RTP header`);
  const version = bytes[0] >> 6;
  if (version !== 2) return fail(`RTP version ${version} (expected 2)`);
  const hasPadding = (bytes[0] & 0x20) !== 0;
  const hasExtension = (bytes[0] & 0x10) !== 0;
  const cc = bytes[0] & 0x0f;
  const payloadType = bytes[1] & 0x7f;
  if (payloadType >= 72 && payloadType <= 76) {
    // RFC 5761 §4: 72-76 collide with RTCP packet types 200-204 (marker bit set).
    return fail(`payload type ${payloadType}${bytes[1] & 0x80 ? ` (RTCP packet type ${bytes[1]})` : ''}: RTCP, or a payload type RTP must not use`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = RTP_HEADER_LENGTH;
  if (bytes.length < at + cc * 4) return fail(`CSRC count ${cc} needs ${at + cc * 4} bytes, the packet has ${bytes.length}`);
  const csrc: number[] = [];
  for (let i = 0; i < cc; i++) {
    csrc.push(view.getUint32(at));
    at += 4;
  }
  let extension: RtpHeaderExtension | null = null;
  if (hasExtension) {
    if (bytes.length < at + 4) return fail('the X bit is set but the header extension is cut short');
    const profile = view.getUint16(at);
    const words = view.getUint16(at + 2);
    if (bytes.length < at + 4 + words * 4) return fail(`header extension of ${words} words runs past the end of the packet`);
    extension = { profile, data: bytes.slice(at + 4, at + 4 + words * 4) };
    at += 4 + words * 4;
  }
  let end = bytes.length;
  let padding = 0;
  if (hasPadding) {
    padding = bytes[bytes.length - 1];
    if (padding === 0) return fail('the P bit is set but the padding count is 0');
    if (end - padding < at) return fail(`padding of ${padding} bytes runs into the header`);
    end -= padding;
  }
  return {
    ok: true,
    packet: {
      padding,
      marker: (bytes[1] & 0x80) !== 0,
      payloadType,
      sequenceNumber: view.getUint16(2),
      timestamp: view.getUint32(4),
      ssrc: view.getUint32(8),
      csrc,
      extension,
      payload: bytes.slice(at, end),
    },
  };
}

/** The first bytes of a datagram in hex, for a report about it. */
export function hexPreview(bytes: Uint8Array, max = 24): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > max ? `${shown} … (${bytes.length} bytes)` : shown;
}

/** What a capture container parser hands on: one captured link-layer packet. */
export interface PacketSink {
  /**
   * @param frame 1-based packet number in the file (pcapng: across sections).
   * @param linkType LINKTYPE_* value of the packet's interface.
   * @param timeUs capture time, microseconds since the Unix epoch.
   * @param data the captured bytes; a view valid only during the call.
   */
  packet(frame: number, linkType: number, timeUs: number, data: Uint8Array): void;
}

/** Reads an unsigned 16-bit integer in the given byte order. */
export function u16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
}

/** Reads an unsigned 32-bit integer in the given byte order. */
export function u32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
    : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * The error a capture reader reports for a truncated or corrupt file. It says
 * where (byte offset, frame number) and what was expected there, and is
 * reported only after every record before that point has been delivered.
 */

export type CaptureErrorCode =
  /** The file ends inside a header, block or packet. */
  | 'truncated'
  /** Not a pcap/pcapng magic number, or a bad pcapng byte-order magic. */
  | 'bad-magic'
  /** A pcap record or pcapng block length that cannot be right. */
  | 'bad-length'
  /** Another impossible field value (unknown interface id, bad version...). */
  | 'bad-value';

export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
  readonly code: CaptureErrorCode;
  /** Byte offset in the (uncompressed) file where the bad structure starts. */
  readonly offset: number;
  /** 1-based number of the frame being read there; null outside packets (file header, IDB...). */
  readonly frame: number | null;
  /** What the reader expected at that offset. */
  readonly expected: string;
  /** What it found instead. */
  readonly found: string;

  constructor(code: CaptureErrorCode, offset: number, frame: number | null, expected: string, found: string) {
    super(
      `${code === 'truncated' ? 'truncated capture' : `corrupt capture (${code})`} at byte offset ${offset}` +
        `${frame !== null ? `, frame ${frame}` : ''}: expected ${expected}, found ${found}`,
    );
    this.code = code;
    this.offset = offset;
    this.frame = frame;
    this.expected = expected;
    this.found = found;
  }
}

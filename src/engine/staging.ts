/**
 * Framing for staging (opening a file): capture records → wire events with
 * the trace store's own assembler (src/trace/wire-event.ts, RFC 3261 §18.3
 * framing by Content-Length in src/sip/framing.ts), so an opened file and a
 * live trace are cut into messages by the same code. A file's bytes are read
 * into memory once and never changed: whole messages are handed on as views
 * of them (no copy, no per-message buffer); only a message split over
 * segments is joined. Used only for files: `tap` is always null.
 */
import type { CaptureRecord } from '../sip/capture.ts';
import { type WireEvent, WireEventAssembler } from '../trace/wire-event.ts';

export class StagingAssembler {
  readonly #assembler = new WireEventAssembler({ views: true });

  /** Events completed by one record, appended to `out`. */
  push(record: CaptureRecord & { frame?: number; missingBefore?: number }, out: WireEvent[]): void {
    this.#assembler.push(record, false, out);
  }

  /** End of the file: bytes still waiting for the rest of a message become invalid events. */
  flush(out: WireEvent[]): void {
    this.#assembler.flush(out);
  }
}

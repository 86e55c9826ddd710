/** Checks that records read back from a capture match the records written. */

import assert from 'node:assert/strict';
import type { CaptureRecord } from '../../sip/capture.ts';
import type { ReadRecord } from '../capture-reader.ts';

/**
 * One read record per written record, in order: same bytes, timestamp (µs),
 * transport (tls reads back as tcp), sender/receiver addresses and ports, and
 * a consistent one-to-one mapping of connection ids.
 */
export function assertRoundTrip(written: CaptureRecord[], read: ReadRecord[]): void {
  assert.equal(read.length, written.length, 'record count');
  const connMap = new Map<number, number>();
  written.forEach((w, i) => {
    const r = read[i];
    const where = `record ${i + 1} (seq ${w.seq})`;
    assert.equal(r.seq, i + 1, `${where}: seq`);
    assert.equal(r.direction, 'in', `${where}: direction`);
    assert.equal(r.transport, w.transport === 'tls' ? 'tcp' : w.transport, `${where}: transport`);
    assert.equal(r.timeUs, w.timeUs, `${where}: timeUs`);
    const sender = w.direction === 'out' ? w.local : w.remote;
    const receiver = w.direction === 'out' ? w.remote : w.local;
    assert.deepEqual(r.remote, sender, `${where}: source`);
    assert.deepEqual(r.local, receiver, `${where}: destination`);
    assert.deepEqual(Buffer.from(r.bytes), Buffer.from(w.bytes), `${where}: bytes`);
    if (w.transport === 'udp') assert.equal(r.connId, null, `${where}: connId`);
    else {
      assert.ok(w.connId !== null && r.connId !== null);
      const seen = connMap.get(w.connId);
      if (seen === undefined) {
        assert.ok(![...connMap.values()].includes(r.connId), `${where}: connId ${r.connId} reused`);
        connMap.set(w.connId, r.connId);
      } else assert.equal(r.connId, seen, `${where}: connId`);
    }
  });
}

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import path from 'node:path';
import { describe, it } from 'node:test';

import { readCaptureFile } from '../formats/capture-reader.ts';
import { readCaptureInWorker, type StagedRecord } from './capture-worker.ts';

const captures = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'captures');

const shape = (r: { timeUs: number; frame: number; transport: string; local: { host: string; port: number }; remote: { host: string; port: number }; connId: number | null; bytes: Uint8Array }) =>
  `${r.timeUs} f${r.frame} ${r.transport} ${r.remote.host}:${r.remote.port}>${r.local.host}:${r.local.port} c${r.connId} ${Buffer.from(r.bytes).toString('latin1')}`;

describe('reading a capture on a worker thread', () => {
  for (const name of ['sipp-tcp-call.pcap', 'sipp-udp-call.pcap', 'trunklab-export.pcapng']) {
    it(`hands on the records the reader makes in this thread: ${name}`, async () => {
      const file = path.join(captures, name);
      const here = await readCaptureFile(file);
      const there: StagedRecord[] = [];
      const result = await readCaptureInWorker(file, { onRecords: (records) => there.push(...records) });
      assert.ok(result, 'a worker started');
      assert.equal(result.format, here.format);
      assert.equal(result.error, null);
      assert.deepEqual(there.map(shape), here.records.map(shape));
    });
  }

  it('reports a file that is not a capture', async () => {
    const result = await readCaptureInWorker(path.join(captures, 'README.md'), { onRecords: () => {} });
    assert.equal(result?.format, null);
  });
});

/**
 * Our RTP against an independent implementation, tshark's RTP and RTPEvent
 * dissectors, both ways: the digits we send, captured live on the loopback
 * interface, are RTP events to tshark (event, E bit, marker, timestamps,
 * durations) with nothing malformed; and SIPp's recorded RFC 2833/4733
 * digits (Debian's sip-tester pcaps) decode with our decoder exactly as
 * tshark decodes them, and our receiver turns each into its digit.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DtmfReceiver } from './dtmf-receiver.ts';
import { bindUdp } from './port-pool.ts';
import { decodeRtp } from './rtp-packet.ts';
import { RtpSession } from './rtp-session.ts';
import { decodeTelephoneEvents, dtmfSchedule } from './telephone-event.ts';
import { captureUdpPort, HAS_TSHARK, type LiveCapture, rtpFields, rtpProblems } from './test-support/tshark-rtp.ts';

const SIPP_PCAPS = '/usr/share/sip-tester';

test('tshark decodes the digits we send as RTP events: event ids, E bit, marker, one timestamp per event, durations; nothing malformed', { skip: !HAS_TSHARK, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-rtp-'));
  const [sa, sb] = await Promise.all([bindUdp('127.0.0.1', 0), bindUdp('127.0.0.1', 0)]);
  const a = new RtpSession(sa);
  const b = new RtpSession(sb, { isTelephoneEvent: (pt) => pt === 101 });
  const port = b.local.port;
  const file = path.join(dir, 'dtmf.pcap');
  let cap: LiveCapture | null = null;
  try {
    const digits = '1*9#';
    const schedule = dtmfSchedule(digits);
    cap = await captureUdpPort(file, port, 60);
    a.remote = b.local;
    const sent = await a.sendDigits(digits, { payloadType: 101 });
    const limit = performance.now() + 10_000;
    while (cap.packetsTo() < schedule.length && performance.now() < limit) await new Promise((r) => setTimeout(r, 20));
    await cap.stop();
    cap = null;
    const rows = await rtpFields(file, port, ['rtp.p_type', 'rtp.marker', 'rtp.timestamp', 'rtpevent.event_id', 'rtpevent.end_of_event', 'rtpevent.volume', 'rtpevent.duration', 'rtp.ssrc'], ['-Y', `udp.dstport == ${port}`]);
    assert.equal(rows.length, schedule.length);
    const expected = schedule.map((p) => ['101', p.marker ? '1' : '0', String((sent.timestamp + p.timestampOffset) >>> 0), String(p.event.event), p.event.end ? '1' : '0', '10', String(p.event.duration)]);
    assert.deepEqual(rows.map((r) => r.slice(0, 7)), expected);
    assert.ok(rows.every((r) => Number(r[7]) === a.ssrc));
    assert.deepEqual(await rtpProblems(file, port), [], 'no malformed packet and no expert warning');
    // And our own receiver on the other end saw the same digits.
    assert.equal(b.digits.map((d) => d.digit).join(''), digits);
  } finally {
    await cap?.stop();
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIPp's recorded RFC 4733 digits decode with our decoder as tshark decodes them; our receiver gives one digit per file", { skip: !HAS_TSHARK || !existsSync(SIPP_PCAPS) }, async () => {
  const files = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'star', 'pound'].map((n) => ({ n, file: path.join(SIPP_PCAPS, `dtmf_2833_${n}.pcap`) }));
  const decoded = await Promise.all(files.map(async ({ n, file }) => ({ n, file, rows: await rtpFields(file, 10000, ['udp.payload', 'rtp.p_type', 'rtp.seq', 'rtp.timestamp', 'rtp.marker', 'rtpevent.event_id', 'rtpevent.end_of_event', 'rtpevent.volume', 'rtpevent.duration']) })));
  for (const { n, file, rows } of decoded) {
    assert.ok(rows.length >= 4, file);
    const digits: string[] = [];
    const receiver = new DtmfReceiver({ onDigit: (d) => digits.push(d.digit) });
    rows.forEach((r, i) => {
      const bytes = Uint8Array.from(Buffer.from(r[0], 'hex'));
      const d = decodeRtp(bytes);
      assert.ok(d.ok, `${file} #${i + 1}`);
      const e = decodeTelephoneEvents(d.packet.payload);
      assert.ok(e.ok);
      const ours = [d.packet.payloadType, d.packet.sequenceNumber, d.packet.timestamp, d.packet.marker ? 1 : 0, e.events[0].event, e.events[0].end ? 1 : 0, e.events[0].volume, e.events[0].duration].map(String);
      assert.deepEqual(ours, r.slice(1), `${file} #${i + 1}`);
      receiver.push(d.packet, e.events, i * 20);
    });
    assert.deepEqual(digits, [n === 'star' ? '*' : n === 'pound' ? '#' : n], file);
  }
});

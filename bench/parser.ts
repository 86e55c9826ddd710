/**
 * Parser throughput: messages per second for an INVITE with SDP and a 200 OK
 * with SDP, parse only and parse + full conformance check, plus serialization.
 */
import { OutgoingMessage } from '../src/sip/builder.ts';
import { conformance } from '../src/sip/conformance.ts';
import { parseMessage } from '../src/sip/parser.ts';

const SDP = [
  'v=0',
  'o=- 1234567890 1 IN IP4 127.0.0.20',
  's=session',
  'c=IN IP4 127.0.0.20',
  'b=CT:1000',
  't=0 0',
  'm=audio 50000 RTP/AVP 8 0 101',
  'c=IN IP4 127.0.0.20',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  '',
].join('\r\n');

export const INVITE = Buffer.from(
  [
    'INVITE sip:+14255550150@127.0.0.30:5066;user=phone SIP/2.0',
    'Via: SIP/2.0/TCP 127.0.0.20:5068;branch=z9hG4bK-524287-1---6bd4c4e5e4d7c1f2;rport',
    'Max-Forwards: 70',
    'FROM: "Alice" <sip:+14255550101@lab.trunklab.test;user=phone>;epid=1f2e3d4c5b;tag=3b1f9c2a',
    'TO: <sip:+14255550150@127.0.0.30;user=phone>',
    'CSeq: 1 INVITE',
    'CALL-ID: 7f3c1a2b-9d8e-4f60-a1b2-c3d4e5f60718',
    'CONTACT: <sip:med-1.lab.trunklab.test:5068;transport=Tcp;maddr=127.0.0.20;ms-opaque=d3470f2e1d>',
    'SUPPORTED: 100rel',
    'SUPPORTED: timer',
    'ALLOW: INVITE, BYE, ACK, CANCEL, INFO, UPDATE, PRACK, REFER',
    'P-ASSERTED-IDENTITY: <sip:+14255550101@lab.trunklab.test;user=phone>',
    'USER-AGENT: RTCC/5.0.0.0 MediationServer',
    'CONTENT-TYPE: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n'),
);

export const OK200 = Buffer.from(
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/TCP 127.0.0.20:5068;branch=z9hG4bK-524287-1---6bd4c4e5e4d7c1f2;rport=5068;received=127.0.0.20',
    'From: "Alice" <sip:+14255550101@lab.trunklab.test;user=phone>;epid=1f2e3d4c5b;tag=3b1f9c2a',
    'To: <sip:+14255550150@127.0.0.30;user=phone>;tag=as6f2b1c3d',
    'Call-ID: 7f3c1a2b-9d8e-4f60-a1b2-c3d4e5f60718',
    'CSeq: 1 INVITE',
    'Contact: <sip:+14255550150@127.0.0.30:5066;transport=tcp>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO',
    'Supported: replaces, timer',
    'Server: Gateway-A',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n'),
);

function rate(fn: () => void, ms: number): number {
  for (let i = 0; i < 20000; i++) fn(); // warm-up
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  return n / (ms / 1000);
}

export interface ParserBench {
  name: string;
  bytes: number;
  perSecond: number;
}

export function benchParser(ms = 2000): ParserBench[] {
  const out: ParserBench[] = [];
  for (const [name, bytes] of [
    ['INVITE with SDP', INVITE],
    ['200 OK with SDP', OK200],
  ] as const) {
    out.push({
      name: `parse ${name}`,
      bytes: bytes.length,
      perSecond: rate(() => {
        const r = parseMessage(bytes);
        if (!r.ok) throw new Error(r.error.message);
        // Touch the views every receiver needs (transaction matching).
        void r.message.topVia?.branch;
        void r.message.cseq;
      }, ms),
    });
    out.push({
      name: `parse + conformance ${name}`,
      bytes: bytes.length,
      perSecond: rate(() => {
        const r = parseMessage(bytes);
        if (r.ok) conformance(r.message, { strict: false });
      }, ms),
    });
    out.push({
      name: `parse + lint (strict grammar) ${name}`,
      bytes: bytes.length,
      perSecond: rate(() => {
        const r = parseMessage(bytes);
        if (r.ok) conformance(r.message);
      }, ms),
    });
  }
  const first = parseMessage(INVITE);
  if (!first.ok) throw new Error('bench INVITE does not parse');
  const m = first.message;
  out.push({ name: 'serialize INVITE with SDP (builder)', bytes: INVITE.length, perSecond: rate(() => OutgoingMessage.from(m).toBytes(), ms) });
  return out;
}

if (import.meta.main) {
  for (const r of benchParser()) console.log(`${r.name.padEnd(40)} ${Math.round(r.perSecond).toLocaleString('en-US').padStart(12)} msg/s  (${r.bytes} bytes)`);
}

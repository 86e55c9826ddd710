/**
 * Real SIP messages (RFC 3261 §24.2-style INVITE/BYE call flow with an SDP
 * offer/answer, RFC 4566) for the capture format tests.
 */

import type { CaptureRecord, HostPort, TransportProtocol } from '../../sip/capture.ts';

const enc = new TextEncoder();

function hp(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

export interface CallFlowOptions {
  transport: TransportProtocol;
  caller: HostPort;
  callee: HostPort;
  callId: string;
  /** Start time, microseconds since the epoch. */
  startUs: number;
  /** TCP/TLS connection id used by the caller's records. */
  connId?: number;
}

/** The seven messages of a basic call, as text, in wire order, with their sender. */
export function callFlowMessages(o: CallFlowOptions): { fromCaller: boolean; text: string }[] {
  const tp = o.transport.toUpperCase();
  const ip6 = o.caller.host.includes(':');
  const ipv = ip6 ? 'IP6' : 'IP4';
  const scheme = o.transport === 'tls' ? 'sips' : 'sip';
  const ruri = `${scheme}:+15551230002@${hp(o.callee)}`;
  const from = `<${scheme}:+15551230001@${hp(o.caller)}>;tag=a73kszlfl`;
  const to = `<${scheme}:+15551230002@${hp(o.callee)}>`;
  const toTag = `${to};tag=1410948204`;
  const via = `SIP/2.0/${tp} ${hp(o.caller)};branch=z9hG4bK776asdhds;rport`;
  const via2 = `SIP/2.0/${tp} ${hp(o.caller)};branch=z9hG4bK776asdhdt;rport`;
  const offer = [
    'v=0',
    `o=alice 2890844526 2890844526 IN ${ipv} ${o.caller.host}`,
    's=-',
    `c=IN ${ipv} ${o.caller.host}`,
    't=0 0',
    'm=audio 49170 RTP/AVP 0 8 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=sendrecv',
    '',
  ].join('\r\n');
  const answer = offer.replace('alice', 'bob').replaceAll(o.caller.host, o.callee.host).replace('49170', '3456');
  const msg = (start: string, headers: string[], body = '') =>
    `${start}\r\n${headers.join('\r\n')}\r\nContent-Length: ${enc.encode(body).length}\r\n\r\n${body}`;
  const common = (v: string, cseq: string, toH: string) => [
    `Via: ${v}`,
    'Max-Forwards: 70',
    `From: ${from}`,
    `To: ${toH}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${cseq}`,
  ];
  const resp = (code: string, v: string, cseq: string, toH: string, extra: string[] = [], body = '') =>
    msg(`SIP/2.0 ${code}`, [...common(v, cseq, toH).filter((h) => !h.startsWith('Max-')), ...extra], body);
  const contactCallee = `Contact: <${scheme}:bob@${hp(o.callee)};transport=${o.transport}>`;
  return [
    {
      fromCaller: true,
      text: msg(
        `INVITE ${ruri} SIP/2.0`,
        [
          ...common(via, '314159 INVITE', to),
          `Contact: <${scheme}:alice@${hp(o.caller)};transport=${o.transport}>`,
          'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS',
          'Content-Type: application/sdp',
        ],
        offer,
      ),
    },
    { fromCaller: false, text: resp('100 Trying', via, '314159 INVITE', to) },
    { fromCaller: false, text: resp('180 Ringing', via, '314159 INVITE', toTag, [contactCallee]) },
    {
      fromCaller: false,
      text: resp('200 OK', via, '314159 INVITE', toTag, [contactCallee, 'Content-Type: application/sdp'], answer),
    },
    { fromCaller: true, text: msg(`ACK ${ruri} SIP/2.0`, common(via2.replace('hdt', 'hdu'), '314159 ACK', toTag)) },
    { fromCaller: true, text: msg(`BYE ${ruri} SIP/2.0`, common(via2, '314160 BYE', toTag)) },
    { fromCaller: false, text: resp('200 OK', via2, '314160 BYE', toTag) },
  ];
}

/**
 * Capture records of the call as the caller's tap sees it: one record per
 * message, 'out' for what the caller sends and 'in' for what it receives.
 */
export function callFlowRecords(o: CallFlowOptions, firstSeq = 1): CaptureRecord[] {
  return callFlowMessages(o).map((m, i) => ({
    seq: firstSeq + i,
    timeUs: o.startUs + i * 1000 + (i % 3) * 17,
    direction: m.fromCaller ? 'out' : 'in',
    transport: o.transport,
    local: o.caller,
    remote: o.callee,
    connId: o.transport === 'udp' ? null : (o.connId ?? 1),
    bytes: enc.encode(m.text),
  }));
}

/** 2025-11-24T16:00:00Z in microseconds: a fixed, realistic capture time. */
export const T0_US = 1_764_000_000_000_000;

/**
 * The export scenario of the writer tests: the same call over UDP/IPv4,
 * TCP/IPv4, UDP/IPv6 and TLS/IPv4 (28 messages, 4 dialogs), one SIP message
 * per record, as a tap records them.
 */
export function exportScenario(t0 = T0_US): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  const add = (o: CallFlowOptions) => out.push(...callFlowRecords(o, out.length + 1));
  add({ transport: 'udp', caller: { host: '192.0.2.10', port: 5060 }, callee: { host: '198.51.100.20', port: 5060 }, callId: 'udp4-call@192.0.2.10', startUs: t0 });
  add({
    transport: 'tcp',
    caller: { host: '192.0.2.10', port: 40001 },
    callee: { host: '198.51.100.20', port: 5060 },
    callId: 'tcp4-call@192.0.2.10',
    startUs: t0 + 100_000,
    connId: 7,
  });
  add({ transport: 'udp', caller: { host: '2001:db8::10', port: 5060 }, callee: { host: '2001:db8::20', port: 5060 }, callId: 'udp6-call@2001:db8::10', startUs: t0 + 200_000 });
  add({
    transport: 'tls',
    caller: { host: '192.0.2.10', port: 40002 },
    callee: { host: '198.51.100.20', port: 5061 },
    callId: 'tls-call@192.0.2.10',
    startUs: t0 + 300_000,
    connId: 8,
  });
  return out;
}

/**
 * A TCP call whose records are not one message each: ACK and BYE share one
 * record (one segment), and the 200 OK to INVITE is split over two records.
 */
export function coalescedTcpScenario(t0 = T0_US): CaptureRecord[] {
  const base = callFlowRecords({
    transport: 'tcp',
    caller: { host: '192.0.2.30', port: 40100 },
    callee: { host: '198.51.100.40', port: 5060 },
    callId: 'coalesced@192.0.2.30',
    startUs: t0,
    connId: 3,
  });
  const [invite, trying, ringing, ok, ack, bye, byeOk] = base;
  const cut = Math.floor(ok.bytes.length / 2);
  const both = new Uint8Array(ack.bytes.length + bye.bytes.length);
  both.set(ack.bytes);
  both.set(bye.bytes, ack.bytes.length);
  const recs: CaptureRecord[] = [
    invite,
    trying,
    ringing,
    { ...ok, bytes: ok.bytes.subarray(0, cut) },
    { ...ok, timeUs: ok.timeUs + 300, bytes: ok.bytes.subarray(cut) },
    { ...ack, bytes: both },
    byeOk,
  ];
  return recs.map((r, i) => ({ ...r, seq: i + 1 }));
}

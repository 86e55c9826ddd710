/**
 * A synthetic but realistic trace for the UI benchmark: calls through a
 * Lync Mediation Server (Front End → Mediation-1 over TLS, Mediation-1 →
 * Gateway-A over TCP, OPTIONS keep-alives over UDP to an SBC), every
 * message built with src/sip/builder.ts, written as a pcap with
 * src/formats/pcap.ts. Deterministic: the same count gives the same bytes,
 * so the file is made once and reused (cached under the OS temp folder).
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { writePcapFile } from '../src/formats/pcap.ts';
import { OutgoingMessage } from '../src/sip/builder.ts';
import type { CaptureRecord, HostPort } from '../src/sip/capture.ts';

const FE: HostPort = { host: '127.0.0.10', port: 5061 };
const MED: HostPort = { host: '127.0.0.20', port: 5068 };
const MED_FE: HostPort = { host: '127.0.0.20', port: 5067 };
const GW: HostPort = { host: '127.0.0.30', port: 5066 };
const SBC: HostPort = { host: '127.0.0.50', port: 5060 };
const MED_UDP: HostPort = { host: '127.0.0.20', port: 5070 };

const sdp = (host: string, port: number, version: number): string =>
  [
    'v=0',
    `o=- ${3_800_000_000 + port} ${version} IN IP4 ${host}`,
    's=session',
    `c=IN IP4 ${host}`,
    'b=CT:1000',
    't=0 0',
    `m=audio ${port} RTP/AVP 8 0 101`,
    `c=IN IP4 ${host}`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=sendrecv',
    'a=ptime:20',
    '',
  ].join('\r\n');

interface Leg {
  callId: string;
  fromTag: string;
  toTag: string;
  branch: string;
  from: string;
  to: string;
  ruri: string;
  caller: HostPort;
  callee: HostPort;
  transport: 'TCP' | 'TLS';
  contactCaller: string;
  contactCallee: string;
}

function request(leg: Leg, method: string, cseq: number, branch: string, reverse = false): OutgoingMessage {
  const src = reverse ? leg.callee : leg.caller;
  const m = OutgoingMessage.request(method, reverse ? leg.contactCaller.replace(/^<|>$/g, '') : leg.ruri);
  m.append('Via', `SIP/2.0/${leg.transport} ${src.host}:${src.port};branch=${branch};rport`);
  m.append('Max-Forwards', '70');
  m.append('From', reverse ? `${leg.to};tag=${leg.toTag}` : `${leg.from};tag=${leg.fromTag}`);
  m.append('To', reverse ? `${leg.from};tag=${leg.fromTag}` : method === 'INVITE' ? leg.to : `${leg.to};tag=${leg.toTag}`);
  m.append('Call-ID', leg.callId);
  m.append('CSeq', `${cseq} ${method}`);
  if (method === 'INVITE') {
    m.append('Contact', leg.contactCaller);
    m.append('Allow', 'INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK');
    m.append('Supported', '100rel, timer');
    m.append('User-Agent', 'RTCC/5.0.0.0 MediationServer');
    m.append('P-Asserted-Identity', leg.from.replace(/^"[^"]*" /, ''));
    m.append('Session-Expires', '1800;refresher=uac');
  }
  return m;
}

function response(leg: Leg, status: number, reason: string, method: string, cseq: number, branch: string, withTag: boolean): OutgoingMessage {
  const m = OutgoingMessage.response(status, reason);
  m.append('Via', `SIP/2.0/${leg.transport} ${leg.caller.host}:${leg.caller.port};branch=${branch};rport=${leg.caller.port};received=${leg.caller.host}`);
  m.append('From', `${leg.from};tag=${leg.fromTag}`);
  m.append('To', withTag ? `${leg.to};tag=${leg.toTag}` : leg.to);
  m.append('Call-ID', leg.callId);
  m.append('CSeq', `${cseq} ${method}`);
  if (status >= 180 && method === 'INVITE') {
    m.append('Contact', leg.contactCallee);
    m.append('Server', 'Gateway-A/9.1');
  }
  return m;
}

/** The 7 messages of one leg (INVITE with SDP, 100, 180, 200 with SDP, ACK, BYE, 200), oldest first. */
function legMessages(leg: Leg, n: number): { bytes: Uint8Array; fromCaller: boolean; delayUs: number }[] {
  const b1 = `z9hG4bK-${n.toString(36)}-1`;
  const invite = request(leg, 'INVITE', 1, b1).setBody(sdp(leg.caller.host, 40000 + (n % 20000) * 2, 1), 'application/sdp');
  const ok = response(leg, 200, 'OK', 'INVITE', 1, b1, true).setBody(sdp(leg.callee.host, 20000 + (n % 20000) * 2, 1), 'application/sdp');
  const ack = request(leg, 'ACK', 1, `z9hG4bK-${n.toString(36)}-2`);
  const b3 = `z9hG4bK-${n.toString(36)}-3`;
  const bye = request(leg, 'BYE', 2, b3);
  return [
    { bytes: invite.toBytes(), fromCaller: true, delayUs: 0 },
    { bytes: response(leg, 100, 'Trying', 'INVITE', 1, b1, false).toBytes(), fromCaller: false, delayUs: 2_500 },
    { bytes: response(leg, 180, 'Ringing', 'INVITE', 1, b1, true).toBytes(), fromCaller: false, delayUs: 40_000 },
    { bytes: ok.toBytes(), fromCaller: false, delayUs: 1_500_000 },
    { bytes: ack.toBytes(), fromCaller: true, delayUs: 1_200 },
    { bytes: bye.toBytes(), fromCaller: true, delayUs: 30_000_000 },
    { bytes: response(leg, 200, 'OK', 'BYE', 2, b3, true).toBytes(), fromCaller: false, delayUs: 3_000 },
  ];
}

interface Pending {
  timeUs: number;
  seq: number;
  record: Omit<CaptureRecord, 'seq' | 'timeUs'>;
}

const before = (a: Pending, b: Pending): boolean => a.timeUs < b.timeUs || (a.timeUs === b.timeUs && a.seq < b.seq);

function heapPush(heap: Pending[], item: Pending): void {
  let i = heap.length;
  heap.push(item);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(item, heap[parent]!)) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = item;
}

function heapPop(heap: Pending[]): Pending {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
      if (!before(heap[c]!, last)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
  return top;
}

/**
 * Records of `count` messages: calls of two legs (14 messages) starting
 * every 40 ms, interleaved in time order, and an OPTIONS/200 pair every 2 s.
 */
export function* syntheticRecords(count: number, startUs = Date.UTC(2026, 10, 26, 8, 0, 0) * 1000): Generator<CaptureRecord> {
  // Pending messages of calls in progress, a min-heap by time (calls overlap: a call lasts ~32 s).
  const heap: Pending[] = [];
  let emitted = 0;
  let call = 0;
  let nextCallUs = startUs;
  let nextOptionsUs = startUs + 500_000;
  let options = 0;
  let order = 0;
  const connIn = 1;
  const connOut = 2;
  const push = (timeUs: number, record: Omit<CaptureRecord, 'seq' | 'timeUs'>): void => heapPush(heap, { timeUs, seq: order++, record });
  while (emitted < count) {
    // Schedule new calls until the earliest pending message is before the next call.
    while (heap.length === 0 || nextCallUs <= heap[0]!.timeUs || nextOptionsUs <= heap[0]!.timeUs) {
      if (nextOptionsUs < nextCallUs) {
        const branch = `z9hG4bK-opt-${options.toString(36)}`;
        const leg: Leg = {
          callId: `opt-${options}-7f3c1a2b@127.0.0.20`,
          fromTag: `o${options.toString(36)}`,
          toTag: `s${options.toString(36)}`,
          branch,
          from: '<sip:med-1.contoso.com>',
          to: '<sip:127.0.0.50:5060>',
          ruri: 'sip:127.0.0.50:5060',
          caller: MED_UDP,
          callee: SBC,
          transport: 'TCP',
          contactCaller: '<sip:127.0.0.20:5070>',
          contactCallee: '<sip:127.0.0.50:5060>',
        };
        const req = request(leg, 'OPTIONS', options + 1, branch);
        req.headers[0] = { name: 'Via', value: `SIP/2.0/UDP 127.0.0.20:5070;branch=${branch};rport` };
        const res = response(leg, 200, 'OK', 'OPTIONS', options + 1, branch, true);
        res.headers[0] = { name: 'Via', value: `SIP/2.0/UDP 127.0.0.20:5070;branch=${branch};rport=5070;received=127.0.0.20` };
        push(nextOptionsUs, { direction: 'out', transport: 'udp', local: MED_UDP, remote: SBC, connId: null, bytes: req.toBytes() });
        push(nextOptionsUs + 800, { direction: 'in', transport: 'udp', local: MED_UDP, remote: SBC, connId: null, bytes: res.toBytes() });
        options++;
        nextOptionsUs += 2_000_000;
        continue;
      }
      const n = call++;
      const number = `+1425555${String(n % 10_000).padStart(4, '0')}`;
      const user = `user${n % 500}`;
      const inbound: Leg = {
        callId: `${n.toString(16).padStart(8, '0')}-1b2c-4d5e-8f90-fe01a2b3c4d5`,
        fromTag: `fe${n.toString(36)}`,
        toTag: `md${n.toString(36)}`,
        branch: '',
        from: `"User ${n % 500}" <sip:${user}@contoso.com>;epid=${(n * 7919).toString(16)}`,
        to: `<sip:${number}@contoso.com;user=phone>`,
        ruri: `sip:${number}@med-1.contoso.com:5067;user=phone;transport=tls`,
        caller: FE,
        callee: MED_FE,
        transport: 'TLS',
        contactCaller: `<sip:fepool.contoso.com:5061;transport=tls;ms-opaque=${n.toString(36)}>`,
        contactCallee: '<sip:med-1.contoso.com:5067;transport=tls>',
      };
      const outbound: Leg = {
        callId: `${n.toString(36)}-med-${(n * 104729).toString(36)}@127.0.0.20`,
        fromTag: `mo${n.toString(36)}`,
        toTag: `gw${n.toString(36)}`,
        branch: '',
        from: `<sip:${number.replace('5555', '5550')}@med-1.contoso.com;user=phone>`,
        to: `<sip:${number}@127.0.0.30;user=phone>`,
        ruri: `sip:${number}@127.0.0.30:5066;user=phone`,
        caller: MED,
        callee: GW,
        transport: 'TCP',
        contactCaller: '<sip:med-1.contoso.com:5068;transport=tcp;maddr=127.0.0.20>',
        contactCallee: `<sip:${number}@127.0.0.30:5066;transport=tcp>`,
      };
      // Leg 2 follows leg 1 through the B2BUA a few ms later; responses go back the other way.
      let t = nextCallUs;
      const a = legMessages(inbound, n);
      const b = legMessages(outbound, n);
      const times: number[] = [];
      for (let i = 0; i < a.length; i++) {
        t += a[i]!.delayUs;
        times.push(t);
      }
      for (let i = 0; i < a.length; i++) {
        const fromCaller = a[i]!.fromCaller;
        // The outbound leg runs 3 ms behind the inbound one; responses reach the inbound leg 2 ms after.
        const tA = fromCaller ? times[i]! : times[i]! + 5_000;
        const tB = times[i]! + 3_000;
        push(tA, { direction: fromCaller ? 'in' : 'out', transport: 'tls', local: MED_FE, remote: FE, connId: connIn, bytes: a[i]!.bytes });
        push(tB, { direction: fromCaller ? 'out' : 'in', transport: 'tcp', local: MED, remote: GW, connId: connOut, bytes: b[i]!.bytes });
      }
      nextCallUs += 40_000;
    }
    const next = heapPop(heap);
    yield { seq: ++emitted, timeUs: next.timeUs, ...next.record };
  }
}

/** The pcap of `count` synthetic messages, made once (about 650 bytes a message). */
export async function syntheticPcap(count: number, dir = path.join(tmpdir(), 'trunklab-bench')): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `ui-${count}-v1.pcap`);
  if (existsSync(file)) return file;
  const partial = `${file}.${process.pid}.partial`;
  await writePcapFile(partial, syntheticRecords(count));
  renameSync(partial, file);
  return file;
}

/**
 * SIP messages of a call through a Mediation Server, as the tests of the
 * trace store and linter need them: an inbound call from a gateway (leg 1,
 * gateway → Mediation Server) relayed to the Front End (leg 2, new Call-ID,
 * normalized numbers, ms-call-source), with knobs for the faults the linter
 * must find.
 */
import type { CaptureRecord, HostPort, TransportProtocol } from '../../sip/capture.ts';

const enc = new TextEncoder();

export interface SipText {
  from: HostPort;
  to: HostPort;
  text: string;
  /** µs after the call start. */
  atUs: number;
}

export function hp(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

export function sdp(address: string, port: number, payloads: number[], direction = 'sendrecv', version = 1): string {
  const names: Record<number, string> = { 0: 'PCMU/8000', 8: 'PCMA/8000', 18: 'G729/8000', 101: 'telephone-event/8000' };
  const lines = ['v=0', `o=- 4711 ${version} IN IP4 ${address}`, 's=session', `c=IN IP4 ${address}`, 't=0 0', `m=audio ${port} RTP/AVP ${payloads.join(' ')}`];
  for (const p of payloads) lines.push(`a=rtpmap:${p} ${names[p] ?? `X${p}/8000`}`);
  lines.push(`a=${direction}`);
  return `${lines.join('\r\n')}\r\n`;
}

export function message(start: string, headers: string[], body = '', contentType = 'application/sdp'): string {
  const h = [...headers];
  if (body !== '') h.push(`Content-Type: ${contentType}`);
  h.push(`Content-Length: ${enc.encode(body).length}`);
  return `${start}\r\n${h.join('\r\n')}\r\n\r\n${body}`;
}

export interface DialogOptions {
  transport: TransportProtocol;
  caller: HostPort;
  callee: HostPort;
  callId: string;
  fromUri: string;
  toUri: string;
  ruri: string;
  extra?: string[];
  offer?: string | null;
  answer?: string | null;
  /** Final answer to the INVITE (default 200). */
  final?: number;
  /** Leave out the ACK. */
  noAck?: boolean;
  /** Give the 2xx ACK the INVITE's branch. */
  ackSameBranch?: boolean;
  /** A hold re-INVITE from the caller answered with this direction. */
  holdAnswer?: string;
  /** Leave out BYE. */
  noBye?: boolean;
  /** The callee hangs up (BYE from the callee, in its own CSeq space). */
  byeFromCallee?: boolean;
  startUs?: number;
  userAgent?: string;
}

/** One dialog: INVITE, 100, 180, final, ACK, optional hold re-INVITE, BYE, 200. */
export function dialogMessages(o: DialogOptions): SipText[] {
  const tp = o.transport.toUpperCase();
  const t0 = o.startUs ?? 0;
  const fromTag = `ft-${o.callId.slice(0, 6)}`;
  const toTag = `tt-${o.callId.slice(0, 6)}`;
  const via = (b: string) => `Via: SIP/2.0/${tp} ${hp(o.caller)};branch=z9hG4bK-${b}-${o.callId.slice(0, 6)}`;
  const from = `From: <${o.fromUri}>;tag=${fromTag}`;
  const to = `To: <${o.toUri}>`;
  const toT = `${to};tag=${toTag}`;
  const callId = `Call-ID: ${o.callId}`;
  const contactA = `Contact: <sip:${hp(o.caller)};transport=${o.transport}>`;
  const contactB = `Contact: <sip:${hp(o.callee)};transport=${o.transport}>`;
  const ua = o.userAgent ? [`User-Agent: ${o.userAgent}`] : [];
  const out: SipText[] = [];
  const req = (at: number, text: string) => out.push({ from: o.caller, to: o.callee, text, atUs: t0 + at });
  const resp = (at: number, text: string) => out.push({ from: o.callee, to: o.caller, text, atUs: t0 + at });
  const offer = o.offer === undefined ? sdp(o.caller.host, 40000, [8, 0, 101]) : o.offer;
  const answer = o.answer === undefined ? sdp(o.callee.host, 50000, [8, 101]) : o.answer;
  const final = o.final ?? 200;
  req(0, message(`INVITE ${o.ruri} SIP/2.0`, [via('inv'), 'Max-Forwards: 70', from, to, callId, 'CSeq: 1 INVITE', contactA, ...ua, ...(o.extra ?? [])], offer ?? ''));
  resp(1000, message('SIP/2.0 100 Trying', [via('inv'), from, to, callId, 'CSeq: 1 INVITE']));
  resp(20000, message('SIP/2.0 180 Ringing', [via('inv'), from, toT, callId, 'CSeq: 1 INVITE', contactB]));
  if (final >= 300) {
    resp(40000, message(`SIP/2.0 ${final} Failed`, [via('inv'), from, toT, callId, 'CSeq: 1 INVITE']));
    req(41000, message(`ACK ${o.ruri} SIP/2.0`, [via('inv'), 'Max-Forwards: 70', from, toT, callId, 'CSeq: 1 ACK']));
    return out;
  }
  resp(40000, message('SIP/2.0 200 OK', [via('inv'), from, toT, callId, 'CSeq: 1 INVITE', contactB], answer ?? ''));
  if (!o.noAck) req(41000, message(`ACK sip:${hp(o.callee)} SIP/2.0`, [via(o.ackSameBranch ? 'inv' : 'ack'), 'Max-Forwards: 70', from, toT, callId, 'CSeq: 1 ACK']));
  if (o.holdAnswer) {
    req(100000, message(`INVITE sip:${hp(o.callee)} SIP/2.0`, [via('hold'), 'Max-Forwards: 70', from, toT, callId, 'CSeq: 2 INVITE', contactA], sdp(o.caller.host, 40000, [8, 0, 101], 'inactive', 2)));
    resp(110000, message('SIP/2.0 200 OK', [via('hold'), from, toT, callId, 'CSeq: 2 INVITE', contactB], sdp(o.callee.host, 50000, [8, 101], o.holdAnswer, 2)));
    req(111000, message(`ACK sip:${hp(o.callee)} SIP/2.0`, [via('hack'), 'Max-Forwards: 70', from, toT, callId, 'CSeq: 2 ACK']));
  }
  if (!o.noBye && o.byeFromCallee) {
    const viaB = `Via: SIP/2.0/${tp} ${hp(o.callee)};branch=z9hG4bK-cbye-${o.callId.slice(0, 6)}`;
    const fromB = `From: <${o.toUri}>;tag=${toTag}`;
    const toA = `To: <${o.fromUri}>;tag=${fromTag}`;
    resp(200000, message(`BYE sip:${hp(o.caller)} SIP/2.0`, [viaB, 'Max-Forwards: 70', fromB, toA, callId, 'CSeq: 7 BYE']));
    req(201000, message('SIP/2.0 200 OK', [viaB, fromB, toA, callId, 'CSeq: 7 BYE']));
  } else if (!o.noBye) {
    req(200000, message(`BYE sip:${hp(o.callee)} SIP/2.0`, [via('bye'), 'Max-Forwards: 70', from, toT, callId, 'CSeq: 3 BYE']));
    resp(201000, message('SIP/2.0 200 OK', [via('bye'), from, toT, callId, 'CSeq: 3 BYE']));
  }
  return out;
}

export const GW: HostPort = { host: '127.0.0.30', port: 5066 };
export const MED_GW_SIDE: HostPort = { host: '127.0.0.20', port: 5068 };
export const MED_FE_SIDE: HostPort = { host: '127.0.0.20', port: 5070 };
export const FE: HostPort = { host: '127.0.0.10', port: 5061 };

/**
 * Inbound call through the Mediation Server: gateway → med-1 (Call-ID
 * `gwcall…`, called 2160) then med-1 → FE 2 ms later (Call-ID `medcall…`,
 * called +14255552160, ms-call-source: non-ms-rtc, PAI).
 */
export function inboundB2buaCall(n: number, startUs: number): SipText[] {
  const gwLeg = dialogMessages({
    transport: 'tcp',
    caller: GW,
    callee: MED_GW_SIDE,
    callId: `gwcall${n}-${startUs}`,
    fromUri: `sip:4255550${100 + n}@${GW.host};user=phone`,
    toUri: `sip:2160@${MED_GW_SIDE.host};user=phone`,
    ruri: `sip:2160@${MED_GW_SIDE.host}:5068;user=phone`,
    startUs,
  });
  const feLeg = dialogMessages({
    transport: 'tls',
    caller: MED_FE_SIDE,
    callee: FE,
    callId: `medcall${n}-${startUs}`,
    fromUri: `sip:+14255550${100 + n}@lab.trunklab.test;user=phone`,
    toUri: 'sip:+14255552160@lab.trunklab.test;user=phone',
    ruri: 'sip:+14255552160@lab.trunklab.test;user=phone',
    extra: ['ms-call-source: non-ms-rtc', `P-Asserted-Identity: <sip:+14255550${100 + n}@lab.trunklab.test;user=phone>`, `ms-trunking-peer: ${GW.host};User-Agent="SIPGW"`],
    userAgent: 'RTCC/5.0.0.0 MediationServer',
    startUs: startUs + 2000,
  });
  return [...gwLeg, ...feLeg].sort((a, b) => a.atUs - b.atUs);
}

/** Capture records as an outside observer (a capture file) would give them: direction 'in' at the receiver. */
export function observedRecords(msgs: SipText[], transport: TransportProtocol, firstSeq = 1): CaptureRecord[] {
  const conn = new Map<string, number>();
  return msgs.map((m, k) => {
    const a = hp(m.from);
    const b = hp(m.to);
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    if (!conn.has(key)) conn.set(key, conn.size + 1);
    return {
      seq: firstSeq + k,
      timeUs: m.atUs,
      direction: 'in' as const,
      transport,
      local: m.to,
      remote: m.from,
      connId: transport === 'udp' ? null : (conn.get(key) ?? 1),
      bytes: enc.encode(m.text),
    };
  });
}

/** Both tap records of each message, as an in-process lab sees them: 'out' at the sender, 'in' at the receiver (`delayUs` later). */
export function tapRecords(msgs: SipText[], transport: TransportProtocol, delayUs = 150): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  let seq = 1;
  for (const m of msgs) {
    const bytes = enc.encode(m.text);
    out.push({ seq: seq++, timeUs: m.atUs, direction: 'out', transport, local: m.from, remote: m.to, connId: transport === 'udp' ? null : 11, bytes });
    out.push({ seq: seq++, timeUs: m.atUs + delayUs, direction: 'in', transport, local: m.to, remote: m.from, connId: transport === 'udp' ? null : 12, bytes });
  }
  return out;
}

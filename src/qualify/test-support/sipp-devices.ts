/**
 * SIPp scenarios that play a device under test on an external trunk: a
 * gateway that answers calls from Lync (well or badly), and a device that
 * places calls towards Lync (answered, cancelled, refused). The tests write
 * them to files and run `sipp -sf`.
 *
 * The Mediation Server writes header names in upper case (its wire look):
 * SIPp's `[last_*:]` keywords find them, its `[next_url]` does not, so the
 * in-dialog requests of the calling scenarios go to the address they called.
 */

/** A gateway's SDP (PCMA and telephone-event 101) in its `version`, with a=`direction`. */
export const gatewaySdp = (version: number, direction: string): string => `v=0
o=gw 1 ${version} IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=${direction}
`;

/** A response to the last request received, with `toLine` for its To and an optional Contact and SDP `body`. */
export function sippResponse(status: string, toLine: string, body: string | null, contact = true): string {
  return `<![CDATA[

SIP/2.0 ${status}
[last_Via:]
[last_From:]
${toLine}
[last_Call-ID:]
[last_CSeq:]
${contact ? 'Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n' : ''}${body === null ? 'Content-Length: 0\n' : `Content-Type: application/sdp\nContent-Length: [len]\n\n${body}`}
]]>`;
}

export interface GatewayOptions {
  /** How it answers a hold (a re-INVITE offering a=inactive or a=sendonly; right: a=inactive); a resume gets a=sendrecv. */
  holdAnswer: 'inactive' | 'sendrecv';
  /** Tag the To header of its answers (default true). */
  toTag?: boolean;
  /** Send 100 Trying at once (default true). */
  trying?: boolean;
  /** Wait this long before ringing (ms, default 0). */
  ringAfterMs?: number;
  /** Ring with 180 (default true); without, the 200 is the first answer. */
  ringing?: boolean;
  /** Answer OPTIONS keep-alives 200 (default) or ignore them (never answer). */
  options?: 'answer' | 'ignore';
}

/** A gateway (uas) that answers every call 200, a hold with `holdAnswer`, any other re-INVITE a=sendrecv; BYE gets 200. */
export function gatewayScenario(o: GatewayOptions): string {
  const to = (o.toTag ?? true) ? '[last_To:];tag=[pid]gw[call_number]' : '[last_To:]';
  const options =
    (o.options ?? 'answer') === 'answer'
      ? `<send>${sippResponse('200 OK', '[last_To:];tag=[pid]opt[call_number]', null, false)}</send>`
      : '<!-- OPTIONS ignored: no answer at all -->';
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="gateway under test">
  <recv request="OPTIONS" optional="true" next="8"/>
  <recv request="INVITE"/>
  ${(o.trying ?? true) ? `<send>${sippResponse('100 Trying', '[last_To:]', null, false)}</send>` : '<!-- no 100 Trying -->'}
  ${o.ringAfterMs ? `<pause milliseconds="${o.ringAfterMs}"/>` : ''}
  ${(o.ringing ?? true) ? `<send>${sippResponse('180 Ringing', to, null)}</send>` : ''}
  <send>${sippResponse('200 OK', to, gatewaySdp(1, 'sendrecv'))}</send>
  <recv request="ACK"/>
  <label id="1"/>
  <recv request="INVITE" optional="true" next="2">
    <action>
      <!-- Set on every re-INVITE (a regexp that does not match would leave the previous value). -->
      <ereg regexp="a=(sendrecv|sendonly|recvonly|inactive)" search_in="body" check_it="true" assign_to="direction"/>
      <strcmp assign_to="differs" variable="direction" value="a=sendrecv"/>
      <test assign_to="hold" variable="differs" compare="not_equal" value="0"/>
    </action>
  </recv>
  <recv request="BYE" next="3"/>
  <label id="2"/>
  <nop test="hold" next="4"/>
  <send>${sippResponse('200 OK', '[last_To:]', gatewaySdp(2, 'sendrecv'))}</send>
  <recv request="ACK" next="1"/>
  <label id="4"/>
  <send>${sippResponse('200 OK', '[last_To:]', gatewaySdp(2, o.holdAnswer))}</send>
  <recv request="ACK" next="1"/>
  <label id="3"/>
  <send next="9">${sippResponse('200 OK', '[last_To:]', null, false)}</send>
  <label id="8"/>
  ${options}
  <label id="9"/>
</scenario>
`;
}

/** A gateway (uas) that answers every call 486 Busy Here. */
export const BUSY_GATEWAY = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="always busy">
  <recv request="OPTIONS" optional="true" next="8"/>
  <recv request="INVITE"/>
  <send>${sippResponse('486 Busy Here', '[last_To:];tag=[pid]gw[call_number]', null, false)}</send>
  <recv request="ACK" next="9"/>
  <label id="8"/>
  <send>${sippResponse('200 OK', '[last_To:];tag=[pid]opt[call_number]', null, false)}</send>
  <label id="9"/>
</scenario>
`;

const CALLER_SDP = `v=0
o=dev 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
`;

/** Request line and dialog headers of the calling device (`sipp -s NUMBER -key calling NUMBER`). */
const FROM = 'From: <sip:[calling]@[local_ip];user=phone>;tag=[pid]dev[call_number]';
const RURI = 'sip:[service]@[remote_ip]:[remote_port];user=phone';

function request(method: string, branch: string, cseq: string, toLine: string, body: string | null): string {
  return `<![CDATA[

${method} ${RURI} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${branch}
${FROM}
${toLine}
Call-ID: [call_id]
CSeq: ${cseq}
Contact: <sip:[calling]@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
${body === null ? 'Content-Length: 0\n' : `Content-Type: application/sdp\nContent-Length: [len]\n\n${body}`}
]]>`;
}

const INVITE = `<send retrans="500">${request('INVITE', '[branch]', '1 INVITE', `To: <${RURI}>`, CALLER_SDP)}</send>`;

/** The INVITE, then any of 100, 180 and 183 before its final response. */
const INVITE_THEN_PROVISIONALS = `${INVITE}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>`;

/** A device that calls, lets the call be answered, talks `talkMs` and hangs up (BYE). */
export function callerAnswered(talkMs: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="device calls and hangs up">
  ${INVITE_THEN_PROVISIONALS}
  <recv response="200"/>
  <send>${request('ACK', '[branch]', '1 ACK', '[last_To:]', null)}</send>
  <pause milliseconds="${talkMs}"/>
  <send retrans="500">${request('BYE', '[branch]', '2 BYE', '[last_To:]', null)}</send>
  <recv response="200"/>
</scenario>
`;
}

/** A device that calls and gives up `afterRingMs` after the 180 (CANCEL, then ACKs the 487). */
export function callerCancels(afterRingMs: number): string {
  // [branch-N]: the branch of the message N places earlier, the INVITE (CANCEL and the ACK of a non-2xx reuse it).
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="device calls and cancels">
  ${INVITE}
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="${afterRingMs}"/>
  <send>${request('CANCEL', '[branch-4]', '1 CANCEL', `To: <${RURI}>`, null)}</send>
  <recv response="200"/>
  <recv response="487"/>
  <send>${request('ACK', '[branch-7]', '1 ACK', '[last_To:]', null)}</send>
</scenario>
`;
}

/** A device whose call is refused with `status` (which it ACKs). */
export function callerRefused(status: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="device calls, refused ${status}">
  ${INVITE_THEN_PROVISIONALS}
  <recv response="${status}"/>
  <send>${request('ACK', '[branch-5]', '1 ACK', '[last_To:]', null)}</send>
</scenario>
`;
}

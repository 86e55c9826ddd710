/**
 * The requests a client transaction derives from the request it sent: the
 * ACK for a non-2xx final response (RFC 3261 §17.1.1.3) and CANCEL (§9.1).
 * Both reuse the top Via (hence the branch) of the original request.
 *
 * §17.1.1.3:
 *
 * > The ACK request constructed by the client transaction MUST contain values
 * > for the Call-ID, From, and Request-URI that are equal to the values of
 * > those header fields in the request passed to the transport by the client
 * > transaction (call this the "original request"). The To header field in
 * > the ACK MUST equal the To header field in the response being
 * > acknowledged, and therefore will usually differ from the To header field
 * > in the original request by the addition of the tag parameter. The ACK
 * > MUST contain a single Via header field, and this MUST be equal to the top
 * > Via header field of the original request. The CSeq header field in the
 * > ACK MUST contain the same value for the sequence number as was present in
 * > the original request, but the method parameter MUST be equal to "ACK".
 * > If the INVITE request whose response is being acknowledged had Route
 * > header fields, those header fields MUST appear in the ACK.
 *
 * §9.1:
 *
 * > The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
 * > fields in the CANCEL request MUST be identical to those in the request
 * > being cancelled, including tags. A CANCEL constructed by a client MUST
 * > have only a single Via header field value matching the top Via value in
 * > the request being cancelled. [...] the method part of the CSeq header
 * > field MUST have a value of CANCEL. [...] If the request being cancelled
 * > contains a Route header field, the CANCEL request MUST include that Route
 * > header field's values.
 */
import { OutgoingMessage } from './builder.ts';
import { splitCommaList } from './grammar.ts';
import { headerKey } from './header-names.ts';
import type { SipMessage } from './message.ts';

/** What ACK and CANCEL copy from the original request (header values as sent). */
export interface OriginalRequest {
  method: string;
  requestUri: string;
  /** The top Via value (one list element). */
  topVia: string;
  callId: string;
  from: string;
  to: string;
  /** CSeq sequence number as sent ('' if the CSeq had none). */
  cseq: string;
  /** CSeq method as sent (the request method if the CSeq had none). */
  cseqMethod: string;
  /** Route header values in order (do not modify: shared when empty). */
  routes: readonly string[];
  /** True when the request had a Via before the transaction layer saw it. */
  hadVia: boolean;
}

const CSEQ_RE = /^\s*(\d*)\s*(\S*)/;
const NO_ROUTES: string[] = [];

/** One pass over the headers of a request about to be sent. */
export function describeRequest(request: OutgoingMessage): OriginalRequest {
  const out: OriginalRequest = {
    method: request.method,
    requestUri: request.requestUri,
    topVia: '',
    callId: '',
    from: '',
    to: '',
    cseq: '',
    cseqMethod: request.method,
    routes: NO_ROUTES,
    hadVia: false,
  };
  let seenCallId = false;
  let seenFrom = false;
  let seenTo = false;
  let seenCSeq = false;
  const headers = request.headers;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    switch (headerKey(h.name)) {
      case 'via':
        if (!out.hadVia) {
          out.hadVia = true;
          out.topVia = h.value.includes(',') ? splitCommaList(h.value)[0] : h.value.trim();
        }
        break;
      case 'call-id':
        if (!seenCallId) {
          seenCallId = true;
          out.callId = h.value;
        }
        break;
      case 'from':
        if (!seenFrom) {
          seenFrom = true;
          out.from = h.value;
        }
        break;
      case 'to':
        if (!seenTo) {
          seenTo = true;
          out.to = h.value;
        }
        break;
      case 'cseq':
        if (!seenCSeq) {
          seenCSeq = true;
          const m = CSEQ_RE.exec(h.value);
          if (m !== null) {
            out.cseq = m[1];
            if (m[2].length > 0) out.cseqMethod = m[2];
          }
        }
        break;
      case 'route':
        out.routes = out.routes === NO_ROUTES ? [h.value] : [...out.routes, h.value];
        break;
      default:
        break;
    }
  }
  return out;
}

/** The same description from a parsed request (what we sent, read back). */
export function describeParsedRequest(request: SipMessage): OriginalRequest {
  const top = request.topVia;
  const cseq = request.cseq;
  return {
    method: request.method,
    requestUri: request.requestUri,
    topVia: top === undefined ? '' : top.text,
    callId: request.callId,
    from: request.get('from') ?? '',
    to: request.get('to') ?? '',
    cseq: cseq === null ? '' : String(cseq.seq),
    cseqMethod: cseq === null ? request.method : cseq.method,
    routes: request.getAll('route'),
    hadVia: top !== undefined,
  };
}

function derived(original: OriginalRequest, method: 'ACK' | 'CANCEL', to: string): OutgoingMessage {
  const req = OutgoingMessage.request(method, original.requestUri);
  req.append('Via', original.topVia);
  for (let i = 0; i < original.routes.length; i++) req.append('Route', original.routes[i]);
  req.append('Max-Forwards', '70');
  req.append('From', original.from);
  req.append('To', to);
  req.append('Call-ID', original.callId);
  req.append('CSeq', original.cseq.length > 0 ? `${original.cseq} ${method}` : method);
  return req;
}

/**
 * ACK for a non-2xx final response (§17.1.1.3): To from the response (with
 * its tag), everything else from the original INVITE.
 */
export function ackForNon2xx(original: OriginalRequest, response: SipMessage): OutgoingMessage {
  return derived(original, 'ACK', response.get('to') ?? original.to);
}

/** CANCEL of the original request (§9.1). */
export function cancelFor(original: OriginalRequest): OutgoingMessage {
  return derived(original, 'CANCEL', original.to);
}

/**
 * An IP-PBX on a direct SIP connection: one trunk per Mediation Server, its
 * numbers are extensions (often not E.164: `2160`), and its calls show up on
 * the Lync side with `ms-call-source: non-ms-rtc` (the Mediation Server adds
 * it, see `mediation-server.ts`). Behaviour is that of `EmulatedPeer`.
 */
import { EmulatedPeer, type PeerContext } from './emulated-peer.ts';
import type { SipStack } from './sip-stack.ts';
import type { Peer } from './topology.ts';

export class IpPbx extends EmulatedPeer {
  constructor(peer: Peer, stack: SipStack, ctx: PeerContext) {
    if (peer.kind !== 'ip-pbx') throw new Error(`IpPbx: ${peer.name} is a ${peer.kind}`);
    super(peer, stack, ctx);
  }
}

/**
 * An ITSP's SBC (SIP trunking): the provider network behind one address,
 * usually TLS. Behaviour is that of `EmulatedPeer`.
 */
import { EmulatedPeer, type PeerContext } from './emulated-peer.ts';
import type { SipStack } from './sip-stack.ts';
import type { Peer } from './topology.ts';

export class ItspSbc extends EmulatedPeer {
  constructor(peer: Peer, stack: SipStack, ctx: PeerContext) {
    if (peer.kind !== 'sbc') throw new Error(`ItspSbc: ${peer.name} is a ${peer.kind}`);
    super(peer, stack, ctx);
  }
}

/**
 * A PSTN gateway (Topology Builder's "PSTN gateway"): a qualified gateway
 * with a PRI behind it. Its numbers are PSTN subscribers; it spreads calls
 * towards Lync over the Mediation pool by DNS and retries on another pool
 * member when one fails. Behaviour is that of `EmulatedPeer`.
 */
import { EmulatedPeer, type PeerContext } from './emulated-peer.ts';
import type { SipStack } from './sip-stack.ts';
import type { Peer } from './topology.ts';

export class PstnGateway extends EmulatedPeer {
  constructor(peer: Peer, stack: SipStack, ctx: PeerContext) {
    if (peer.kind !== 'gateway') throw new Error(`PstnGateway: ${peer.name} is a ${peer.kind}`);
    super(peer, stack, ctx);
  }
}

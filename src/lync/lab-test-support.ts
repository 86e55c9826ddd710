/** Helpers for the lab tests: free-port topologies, calls that hang up once answered. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallSummary } from '../common/api.ts';
import { readTopologyInput, withFreePorts } from './free-ports.ts';
import type { Lab } from './lab.ts';
import { parseTopology, type Topology, type TopologyInput } from './topology.ts';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/topologies');

export function fixtureInput(name: string): TopologyInput {
  return withFreePorts(readTopologyInput(path.join(FIXTURES, name)));
}

export function fixtureTopology(name: string, edit?: (input: TopologyInput) => void, external: string[] = []): Topology {
  const input = fixtureInput(name);
  edit?.(input);
  return parseTopology(input, name, { external });
}

/** Places a call, hangs up `talkMs` after it is answered, resolves with the final summary. */
export async function callAndHangUp(lab: Lab, from: string, to: string, talkMs = 100, limitMs = 20_000): Promise<CallSummary> {
  const { callId } = lab.placeCall({ from, to });
  let talk: NodeJS.Timeout | null = null;
  const poll = setInterval(() => {
    const s = lab.calls().find((c) => c.id === callId);
    if (s?.state === 'connected' && talk === null) talk = setTimeout(() => void lab.callAction(callId, { action: 'hangup' }).catch(() => undefined), talkMs);
  }, 5);
  const limit = setTimeout(() => void lab.callAction(callId, { action: 'hangup' }).catch(() => undefined), limitMs);
  try {
    return await lab.waitForCall(callId);
  } finally {
    clearInterval(poll);
    clearTimeout(limit);
    if (talk !== null) clearTimeout(talk);
  }
}

export function firstParties(topology: Topology): { user: string; number: string } {
  const user = topology.users.find((u) => u.registered && u.behaviour.outcome === 'answer');
  const peer = topology.peers.find((p) => p.external === null && p.numbers.length > 0);
  if (user === undefined || peer === undefined) throw new Error('no user or number');
  const number = peer.numbers.find((n) => n.behaviour.outcome === 'answer' && n.behaviour.hangUpAfterMs === null) ?? peer.numbers[0];
  return { user: user.name, number: number.number };
}

export const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

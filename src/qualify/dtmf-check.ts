/**
 * The `expect-dtmf` step: RFC 4733 digits that must reach a party's RTP
 * socket, checked on what the lab's elements recorded as received
 * (`Lab.receivedDigits`), not on what was sent. A party is an element id
 * or a role (`peer`, `user`, `mediation`); an external device's reception
 * cannot be seen, so for it the digits the Mediation Server relayed
 * towards it (as RFC 4733, with their payload type there) stand in.
 *
 * Verdicts name what was expected and what was observed:
 * `expected 123# at Gateway-A within 5000 ms`, `observed received 12`.
 */
import type { DigitReceipt, Lab } from '../lync/lab.ts';
import type { DtmfExpectation } from './scenario.ts';

export interface DtmfOutcome {
  verdict: 'pass' | 'fail';
  expected?: string;
  observed?: string;
}

/** A receipt as the party saw it; `towards`: what the Mediation Server relayed towards an external device. */
type Seen = DigitReceipt & { towards?: true };

interface DtmfParty {
  /** How the verdict names the party: `Gateway-A`, `the Lync user`. */
  label: string;
  /** The receipts that count as the party's, as the party saw them (payload type on arrival). */
  pick(receipts: DigitReceipt[]): Seen[];
  /** Only relayed-towards records (an external device). */
  external: boolean;
}

const ROLE_LABELS: Record<string, { role: DigitReceipt['role']; label: string }> = {
  peer: { role: 'peer', label: 'the peer' },
  user: { role: 'user', label: 'the Lync user' },
  mediation: { role: 'mediation', label: 'the Mediation Server' },
};

function resolveParty(lab: Lab, to: string): DtmfParty | string {
  const names = new Map(lab.elements().map((e) => [e.id, e.name]));
  const externals = new Set(lab.topology.peers.filter((p) => p.external !== null).map((p) => p.name));
  const towardsExternal = (targets: Set<string>) => (receipts: DigitReceipt[]): Seen[] =>
    receipts
      .filter((r) => r.role === 'mediation' && r.from === 'lync' && r.relayedTo !== undefined && targets.has(r.relayedTo) && r.relayedAs !== null && r.relayedAs !== undefined)
      .map((r) => ({ ...r, element: r.relayedTo as string, payloadType: r.relayedAs as number, towards: true as const }));
  const role = ROLE_LABELS[to];
  if (role !== undefined) {
    if (role.role === 'peer' && externals.size > 0) {
      // Emulated peers' own receptions, and what went towards external ones.
      const pick = (rs: DigitReceipt[]): Seen[] => [...rs.filter((r) => r.role === 'peer'), ...towardsExternal(externals)(rs)].sort((a, b) => a.receivedUs - b.receivedUs);
      return { label: role.label, pick, external: lab.peers.length === 0 };
    }
    return { label: role.label, pick: (rs) => rs.filter((r) => r.role === role.role), external: false };
  }
  if (to === 'front-end' || names.get(to) === undefined) {
    const known = [...names.keys()].filter((id) => id !== lab.topology.frontEnd.name);
    return to === 'front-end' ? 'the Front End is a proxy: media never reaches it' : `no element ${to} (known: ${known.join(', ')}, or peer, user, mediation)`;
  }
  const label = names.get(to) ?? to;
  if (externals.has(to)) return { label, pick: towardsExternal(new Set([to])), external: true };
  return { label, pick: (rs) => rs.filter((r) => r.element === to), external: false };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const text = (rs: Seen[]): string => rs.map((r) => (r.digit.length === 1 ? r.digit : `[${r.digit}]`)).join('');

/**
 * Waits up to `within` ms for the digits; `from` = how many of the party's
 * digits on this call earlier steps already matched. Resolves with the
 * verdict and how many digits this step matched.
 */
export async function checkDtmf(lab: Lab, callId: string, e: DtmfExpectation, from: number): Promise<DtmfOutcome & { consumed: number }> {
  const party = resolveParty(lab, e.to);
  if (typeof party === 'string') return { verdict: 'fail', expected: `digits at ${e.to}`, observed: party, consumed: 0 };
  const want = e.digits ?? '';
  const where = `${party.external ? 'towards ' : 'at '}${party.label}`;
  const deadline = performance.now() + e.within;
  const received = (): Seen[] => party.pick(lab.receivedDigits(callId)).slice(from);
  let got = received();
  for (;;) {
    if (e.absent && got.length > 0) break;
    if (!e.absent && (got.length >= want.length || !want.startsWith(text(got)))) break;
    if (performance.now() >= deadline) break;
    await sleep(10);
    got = received();
  }
  // Where the digits were seen: the element's name when the party is a role (`peer` → Gateway-A).
  const observedAt = (rs: Seen[]): string => {
    const els = [...new Set(rs.map((r) => r.element))];
    if (!party.label.startsWith('the ') || els.length !== 1) return '';
    return ` ${rs.every((r) => r.towards) ? 'relayed towards' : 'at'} ${lab.elements().find((x) => x.id === els[0])?.name ?? els[0]}`;
  };
  if (e.absent) {
    const matching = e.digits === undefined ? got : got.filter((r) => want.includes(r.digit));
    if (matching.length > 0) return { verdict: 'fail', expected: `no DTMF ${where} within ${e.within} ms`, observed: `received ${text(matching)}${observedAt(matching)}`, consumed: 0 };
    return { verdict: 'pass', observed: `no DTMF ${where} within ${e.within} ms`, consumed: 0 };
  }
  const mine = got.slice(0, want.length);
  const expected = `${want} ${where} within ${e.within} ms`;
  if (text(mine) !== want) {
    return { verdict: 'fail', expected, observed: got.length === 0 ? 'received nothing' : `received ${text(got)}${observedAt(got)}`, consumed: 0 };
  }
  const pts = [...new Set(mine.map((r) => r.payloadType))];
  if (e.payloadType !== undefined && (pts.length !== 1 || pts[0] !== e.payloadType)) {
    return { verdict: 'fail', expected: `${want} ${where} on telephone-event payload type ${e.payloadType}`, observed: `${want} on payload type ${pts.join(', ')}`, consumed: 0 };
  }
  if (e.relayed !== undefined) {
    if (mine.some((r) => r.role !== 'mediation')) return { verdict: 'fail', expected: `"relayed" checked at a Mediation Server`, observed: `${e.to} is not one`, consumed: 0 };
    const wrong = mine.filter((r) => (r.relayedAs !== null) !== e.relayed);
    if (wrong.length > 0) {
      const peer = mine[0].relayedTo === 'lync' ? 'the Lync side' : mine[0].relayedTo;
      return e.relayed
        ? { verdict: 'fail', expected: `${want} relayed to ${peer} as RFC 4733`, observed: `${text(wrong)} not relayed: ${peer} has no telephone-event on its leg`, consumed: 0 }
        : { verdict: 'fail', expected: `${want} reported as not relayable to ${peer} (no telephone-event on its leg)`, observed: `${text(wrong)} relayed as RFC 4733 (payload ${wrong[0].relayedAs})`, consumed: 0 };
    }
  }
  if (e.beforeAnswer) {
    const answeredUs = lab.calls().find((c) => c.id === callId)?.answeredUs;
    const late = answeredUs === undefined ? [] : mine.filter((r) => r.receivedUs >= answeredUs);
    if (late.length > 0 && answeredUs !== undefined) {
      return { verdict: 'fail', expected: `${want} ${where} before the call was answered (early media)`, observed: `${late[0].digit} arrived ${Math.round((late[0].receivedUs - answeredUs) / 1000)} ms after the answer`, consumed: 0 };
    }
  }
  const relayNote = e.relayed === false ? ', reported as not relayable' : e.relayed ? `, relayed as RFC 4733 (payload ${mine[0].relayedAs})` : '';
  const timing = e.beforeAnswer ? ', before the answer' : '';
  const seenAt = observedAt(mine) || (party.external ? ` relayed ${where}` : ` ${where}`);
  return { verdict: 'pass', observed: `${want}${seenAt} (RFC 4733, payload ${pts.join(', ')})${relayNote}${timing}`, consumed: want.length };
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallLinker, type LegFeatures } from './call-linker.ts';

function leg(over: Partial<LegFeatures>): LegFeatures {
  return {
    leg: 0,
    timeUs: 0,
    srcHost: '10.0.0.50',
    srcEndpoint: 1,
    dstHost: '10.0.0.20',
    dstEndpoint: 2,
    caller: '',
    callerAlt: '',
    called: '',
    history: [],
    callSource: '',
    trunkingPeer: '',
    fromLync: false,
    ...over,
  };
}

const pending = () => true;
const unlinked = () => false;

test('an outbound leg from the host that received a pending call, with the translated called number and History-Info', () => {
  const linker = new CallLinker();
  assert.equal(linker.consider(leg({ leg: 0, called: '2160', caller: '4255550123' }), pending, unlinked), null);
  const d = linker.consider(
    leg({ leg: 1, timeUs: 3000, srcHost: '10.0.0.20', srcEndpoint: 3, dstHost: '10.0.0.10', dstEndpoint: 4, called: '14255552160', caller: '14255550123', history: ['2160'] }),
    pending,
    unlinked,
  );
  assert.ok(d);
  assert.equal(d.leg, 0);
  assert.equal(d.confidence, 0.9, '0.3 continuity + 0.15 called (4-digit suffix) + 0.15 calling (10-digit suffix) + 0.2 History-Info + 0.1 timing');
  assert.deepEqual(d.evidence, [
    'B2BUA: sent by 10.0.0.20, which received leg 0 and had not answered it yet',
    'called numbers 2160 and 14255552160 share their last digits',
    'calling numbers 4255550123 and 14255550123 share their last digits',
    'History-Info names 2160',
    'started 3.0 ms later',
  ]);
});

test('no link to a leg that already has its final answer, nor to one outside the window', () => {
  const linker = new CallLinker({ windowUs: 1_000_000 });
  linker.consider(leg({ leg: 0, called: '2160' }), pending, unlinked);
  const answered = linker.consider(leg({ leg: 1, timeUs: 1000, srcHost: '10.0.0.20', srcEndpoint: 3, called: '2160' }), () => false, unlinked);
  assert.equal(answered, null);
  const late = linker.consider(leg({ leg: 2, timeUs: 2_000_000, srcHost: '10.0.0.20', srcEndpoint: 3, called: '2160' }), pending, unlinked);
  assert.equal(late, null);
});

test('without B2BUA continuity only a unique, well-evidenced candidate links, at a lower confidence', () => {
  const linker = new CallLinker();
  linker.consider(leg({ leg: 0, called: '14255552160', caller: '14255550123', srcHost: '10.0.0.50' }), pending, unlinked);
  // A dual-homed SBC: the new leg leaves from another address.
  const d = linker.consider(
    leg({ leg: 1, timeUs: 2000, srcHost: '192.168.1.5', srcEndpoint: 9, dstHost: '192.168.1.9', called: '14255552160', caller: '14255550123', trunkingPeer: '10.0.0.50', history: ['14255552160'] }),
    pending,
    unlinked,
  );
  assert.ok(d);
  assert.ok(d.confidence >= 0.5 && d.confidence < 0.8, `confidence ${d.confidence}`);
  // Two candidates with the same evidence: no guess.
  const two = new CallLinker();
  two.consider(leg({ leg: 0, called: '14255552160', caller: '14255550123' }), pending, unlinked);
  two.consider(leg({ leg: 1, timeUs: 100, srcEndpoint: 5, called: '14255552160', caller: '14255550123' }), pending, unlinked);
  const e = two.consider(
    leg({ leg: 2, timeUs: 2000, srcHost: '192.168.1.5', srcEndpoint: 9, dstHost: '192.168.1.9', called: '14255552160', caller: '14255550123', trunkingPeer: '10.0.0.50', history: ['14255552160'] }),
    pending,
    unlinked,
  );
  assert.equal(e, null);
});

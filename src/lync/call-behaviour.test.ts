import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  behaviourForNumber,
  type CallStep,
  callTimeline,
  defaultCallBehaviour,
  findPstnNumber,
} from './call-behaviour.ts';
import { defaultTopologyPath, loadTopology, type Peer } from './topology.ts';

const lab = loadTopology(defaultTopologyPath());
const peer = (name: string): Peer => lab.peers.find((p) => p.name === name) as Peer;
const steps = (list: CallStep[]): string[] =>
  list.map((s) => {
    switch (s.action) {
      case 'early-media':
        return `183${s.withSdp ? '+sdp' : ''}@${s.atMs}`;
      case 'reject':
        return `${s.code}${s.isupCause === null ? '' : `/q850:${s.isupCause}`}@${s.atMs}`;
      case 'send-digits':
        return `dtmf:${s.digits}@${s.atMs}`;
      default:
        return `${s.action}@${s.atMs}`;
    }
  });
const timelineOf = (peerName: string, number: string): string[] =>
  steps(callTimeline(behaviourForNumber(peer(peerName), number)));

describe('call timelines', () => {
  test('default: ring at once, answer after a second', () => {
    assert.deepEqual(steps(callTimeline(defaultCallBehaviour())), ['ringing@0', 'answer@1000']);
  });

  test('busy, reject with an ISUP cause, temporarily unavailable after ringing', () => {
    assert.deepEqual(timelineOf('gw-a', '+14255550111'), ['ringing@0', '486@300']);
    assert.deepEqual(timelineOf('gw-a', '+14255550113'), ['503/q850:42@0']);
    assert.deepEqual(timelineOf('gw-a', '+14255550121'), ['ringing@0', '480@1500']);
  });

  test('no answer rings forever; no response sends nothing', () => {
    assert.deepEqual(timelineOf('gw-a', '+14255550112'), ['ringing@0']);
    assert.deepEqual(timelineOf('gw-a', '+14255550118'), []);
  });

  test('early media with SDP and DTMF during early media', () => {
    assert.deepEqual(timelineOf('gw-a', '+14255550115'), ['183+sdp@200', 'dtmf:123#@1000', 'answer@4000']);
  });

  test('183 without SDP, then 180', () => {
    assert.deepEqual(timelineOf('gw-a', '+14255550116'), ['183@200', 'ringing@1000', 'answer@3000']);
  });

  test('talk time: the far end hangs up', () => {
    assert.deepEqual(timelineOf('gw-a', '+14255550120'), ['ringing@0', 'answer@1000', 'hang-up@6000']);
  });

  test('an announcement in early media, then a failure', () => {
    assert.deepEqual(timelineOf('sbc', '+12065550102'), ['183+sdp@200', '404@4000']);
  });

  test('hold answer and DTMF payload are carried for the roles', () => {
    assert.equal(behaviourForNumber(peer('gw-a'), '+14255550117').holdAnswer, 'sendrecv');
    assert.equal(behaviourForNumber(peer('gw-a'), '+14255550119').dtmfPayloadType, null);
    assert.equal(behaviourForNumber(peer('gw-a'), '+14255550110').dtmfPayloadType, 101);
  });
});

describe('numbers behind a peer', () => {
  test('exact match, then without the +, then decorated URIs', () => {
    assert.equal(findPstnNumber(peer('gw-c'), '+14255550140')?.number, '+14255550140');
    assert.equal(
      findPstnNumber(peer('gw-b'), '+14255550140')?.number,
      '14255550140',
      'RemovePlusFromUri numbers still match',
    );
    assert.equal(findPstnNumber(peer('gw-c'), '14255550141')?.number, '+14255550141');
    assert.equal(findPstnNumber(peer('gw-b'), 'sip:14255550143@127.0.0.31;user=phone')?.number, '14255550143');
    assert.equal(findPstnNumber(peer('pbx'), 'tel:2161')?.number, '2161');
  });

  test("an unlisted number takes the peer's unknownNumber behaviour", () => {
    assert.equal(findPstnNumber(peer('gw-a'), '+14255559999'), null);
    assert.equal(behaviourForNumber(peer('gw-a'), '+14255559999').outcome, 'answer');
    const bare = loadTopology(defaultTopologyPath());
    bare.peers[0].behaviour.unknownNumber = {
      ...defaultCallBehaviour(),
      outcome: 'reject',
      rejectCode: 404,
      ringingAfterMs: null,
    };
    assert.deepEqual(steps(callTimeline(behaviourForNumber(bare.peers[0], '+19999'))), ['404@0']);
  });
});

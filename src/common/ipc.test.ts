import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CHANNELS, checkIpc, isAppUrl, MAX_LOG_MESSAGE_LENGTH } from './ipc.ts';

describe('desktop IPC validation (what main accepts from the page)', () => {
  it('passes engine commands with arguments checkArgs accepts, copied', () => {
    const filter = { method: 'INVITE', hideOptions: true };
    const call = checkIpc(CHANNELS.rpc, ['openView', [filter]]);
    assert.deepEqual(call, { channel: CHANNELS.rpc, method: 'openView', params: [{ method: 'INVITE', hideOptions: true }] });
    assert.notEqual((call as { params: unknown[] }).params[0], filter, 'a copy, not the page object');
    assert.deepEqual(checkIpc(CHANNELS.rpc, ['status', []]), { channel: CHANNELS.rpc, method: 'status', params: [] });
    assert.deepEqual(checkIpc(CHANNELS.rpc, ['viewRows', [3, 0, 128]]), { channel: CHANNELS.rpc, method: 'viewRows', params: [3, 0, 128] });
    assert.deepEqual(checkIpc(CHANNELS.rpc, ['callAction', ['c1', { action: 'dtmf', digits: '12#a' }]]), {
      channel: CHANNELS.rpc,
      method: 'callAction',
      params: ['c1', { action: 'dtmf', digits: '12#A' }],
    });
    assert.deepEqual(checkIpc(CHANNELS.rpc, ['qualifyRun', [{ cases: ' hold-* ', external: [' gw-a=10.0.0.5:5060/tcp '], timeScale: 0.25, t1Ms: 100 }]]), {
      channel: CHANNELS.rpc,
      method: 'qualifyRun',
      params: [{ cases: 'hold-*', external: ['gw-a=10.0.0.5:5060/tcp'], timeScale: 0.25, t1Ms: 100 }],
    });
    assert.deepEqual(checkIpc(CHANNELS.rpc, ['flowDiff', [{ a: { source: 'suite-1-1' }, b: { callKey: 'c4' }, all: false }]]), {
      channel: CHANNELS.rpc,
      method: 'flowDiff',
      params: [{ a: { source: 'suite-1-1' }, b: { callKey: 'c4' } }],
    });
    assert.deepEqual(checkIpc(CHANNELS.rpc, ['openView', [{ source: 'suite-1-1', hideOptions: true }]]), {
      channel: CHANNELS.rpc,
      method: 'openView',
      params: [{ source: 'suite-1-1', hideOptions: true }],
    });
  });

  it('refuses unknown methods, wrong arity, bad arguments and extra properties', () => {
    const refused: [string, unknown[], RegExp][] = [
      [CHANNELS.rpc, ['subscribe', []], /known method/],
      [CHANNELS.rpc, ['__proto__', []], /known method/],
      [CHANNELS.rpc, ['status'], /known method/],
      [CHANNELS.rpc, ['status', [], 'extra'], /known method/],
      [CHANNELS.rpc, ['status', 'not an array'], /params must be an array/],
      [CHANNELS.rpc, ['status', [1]], /takes 0 arguments/],
      [CHANNELS.rpc, ['messages', [5, 1]], /messages: expected/],
      [CHANNELS.rpc, ['messages', [0, 1_000_000]], /at most/],
      [CHANNELS.rpc, ['messageDetail', [-1]], /message index/],
      [CHANNELS.rpc, ['messageDetail', [1.5]], /message index/],
      [CHANNELS.rpc, ['placeCall', [{ from: 'alice', to: '2160', admin: true }]], /unknown property/],
      [CHANNELS.rpc, ['placeCall', [{ from: '', to: '2160' }]], /non-empty/],
      [CHANNELS.rpc, ['callAction', ['c1', { action: 'reboot' }]], /action must be one of/],
      [CHANNELS.rpc, ['openView', [{ method: 'INVITE', sql: 'x' }]], /unknown property/],
      [CHANNELS.rpc, ['openView', [{ text: 'x'.repeat(5000) }]], /at most 1024/],
      [CHANNELS.rpc, ['openView', [{}, 0]], /view id/],
      [CHANNELS.rpc, ['viewRows', [1, 0, 50_000]], /at most/],
      [CHANNELS.rpc, ['exportTrace', [{ format: 'exe' }]], /format must be one of/],
      [CHANNELS.rpc, ['exportTrace', [{ format: 'pcap', selection: { indexes: [-3] } }]], /message indexes/],
      [CHANNELS.rpc, ['uploadChunk', ['id', 'not base64!']], /base64/],
      [CHANNELS.rpc, ['uploadStart', [{ name: 'a.pcap', size: 3 * 2 ** 30 }]], /2 GiB/],
      [CHANNELS.rpc, ['qualifyRun', [{ cases: 'basic-*', admin: true }]], /unknown property/],
      [CHANNELS.rpc, ['qualifyRun', [{ external: ['gw-a 127.0.0.1:5060'] }]], /PEER=HOST:PORT/],
      [CHANNELS.rpc, ['qualifyRun', [{ external: Array(17).fill('gw-a=127.0.0.1:5060') }]], /at most 16/],
      [CHANNELS.rpc, ['qualifyRun', [{ timeScale: 0 }]], /timeScale/],
      [CHANNELS.rpc, ['qualifyRun', [{ t1Ms: 5 }]], /t1Ms/],
      [CHANNELS.rpc, ['qualifyRun', [{ ids: ['x'.repeat(200)] }]], /case ids/],
      [CHANNELS.rpc, ['qualifyReport', ['pdf']], /junit or html/],
      [CHANNELS.rpc, ['qualifyStop', [1]], /takes 0 arguments/],
      [CHANNELS.rpc, ['flowDiff', [{ a: { callKey: 'c1' } }]], /flowDiff b: expected/],
      [CHANNELS.rpc, ['flowDiff', [{ a: { callKey: 'c1', source: 'live' }, b: { source: 'live' } }]], /either callKey or source/],
      [CHANNELS.rpc, ['flowDiff', [{ a: { source: 'live' }, b: { source: 'live' }, all: 'yes' }]], /all must be/],
      [CHANNELS.rpc, ['openView', [{ source: 5 }]], /source must be a string/],
      [CHANNELS.version, ['x'], /no arguments/],
      [CHANNELS.log, ['debug', 'hello'], /expected/],
      [CHANNELS.log, ['info', 'x'.repeat(MAX_LOG_MESSAGE_LENGTH + 1)], /expected/],
      [CHANNELS.log, ['info'], /expected/],
      [CHANNELS.events, [[]], /unknown IPC channel/],
      ['trunklab:shell', ['rm -rf /'], /unknown IPC channel/],
    ];
    for (const [channel, args, error] of refused) assert.throws(() => checkIpc(channel, args), error, `${channel} ${JSON.stringify(args).slice(0, 80)}`);
  });

  it('passes the version and log channels', () => {
    assert.deepEqual(checkIpc(CHANNELS.version, []), { channel: CHANNELS.version });
    assert.deepEqual(checkIpc(CHANNELS.log, ['warn', 'slow frame']), { channel: CHANNELS.log, level: 'warn', message: 'slow frame' });
  });

  it('takes IPC only from the app page', () => {
    const packaged = { indexPathname: '/opt/Trunklab/resources/app.asar/.vite/renderer/main_window/index.html' };
    assert.ok(isAppUrl('file:///opt/Trunklab/resources/app.asar/.vite/renderer/main_window/index.html', packaged));
    assert.ok(isAppUrl('file:///opt/Trunklab/resources/app.asar/.vite/renderer/main_window/index.html#x', packaged));
    assert.ok(!isAppUrl('file:///tmp/evil.html', packaged));
    assert.ok(!isAppUrl('file://host/opt/Trunklab/resources/app.asar/.vite/renderer/main_window/index.html', packaged));
    assert.ok(!isAppUrl('https://example.com/', packaged));
    assert.ok(!isAppUrl('not a url', packaged));
    const dev = { devServerUrl: 'http://localhost:5173/', indexPathname: '/x/index.html' };
    assert.ok(isAppUrl('http://localhost:5173/src/main.tsx', dev));
    assert.ok(!isAppUrl('http://localhost:5174/', dev));
    assert.ok(!isAppUrl('file:///x/index.html', dev));
  });
});

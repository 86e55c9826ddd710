/**
 * SIPp runs the scenarios we export: the UAC of a recorded SIPp uac↔uas
 * call against `sipp -sn uas` and against `trunklab uas`, the UAS against
 * `sipp -sn uac`, over UDP and TCP (and IPv6); and both sides of a Mediation Server →
 * gateway call (hold, callee hang-up) against each other. No failed call.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TraceStore } from '../trace/store.ts';
import { dialogMessages, GW, MED_GW_SIDE, observedRecords } from '../trace/test-support/b2bua-call.ts';
import { readCapture } from './capture-reader.ts';
import { ScenarioError, sippScenario } from './sipp-scenario.ts';
import { freePorts, missingTool } from './test-support/peers.ts';
import { captureSippCalls } from './test-support/sipp-capture.ts';
import { runSippPair } from './test-support/sipp-run.ts';
import { importTraceFile } from './trace-io.ts';

const dir = mkdtempSync(join(tmpdir(), 'trunklab-sipp-scenario-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const noSipp = missingTool('sipp');
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = process.execPath;
const TRUNKLAB = join(root, 'src/cli/trunklab.js');

function fixtureStore(transport: 'udp' | 'tcp'): TraceStore {
  const store = new TraceStore();
  store.appendRecords(readCapture(readFileSync(join(root, `fixtures/captures/sipp-${transport}-call.pcap`))).records);
  store.endInput();
  return store;
}

function save(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text, 'latin1');
  return f;
}

test('the exported UAC: sends, optional provisionals, rrs, keywords, no recorded address left', () => {
  const store = fixtureStore('udp');
  const xml = sippScenario(store, { side: 'caller' });
  assert.match(xml, /^<\?xml version="1\.0" encoding="ISO-8859-1" \?>/);
  assert.match(xml, /INVITE sip:service@\[remote_ip\]:\[remote_port\] SIP\/2\.0/);
  assert.match(xml, /Via: SIP\/2\.0\/\[transport\] \[local_ip\]:\[local_port\];branch=\[branch\]/);
  assert.match(xml, /Call-ID: \[call_id\]/);
  assert.match(xml, /Content-Length: \[len\]/);
  assert.match(xml, /c=IN IP\[media_ip_type\] \[media_ip\]/);
  assert.match(xml, /m=audio \[media_port\] RTP\/AVP 0/);
  assert.match(xml, /<recv response="180" optional="true" rrs="true"\/>/);
  assert.match(xml, /<recv response="200" rtd="true" rrs="true"\/>/);
  assert.match(xml, /ACK \[next_url\] SIP\/2\.0/);
  assert.match(xml, /\[peer_tag_param\]/);
  const port = store.src(0).port;
  const messages = [...xml.matchAll(/<!\[CDATA\[([\s\S]*?)\]\]>/g)].map((m) => m[1]).join('\n');
  assert.ok(!messages.includes(`:${port}`), 'the recorded port is gone');
  const uas = sippScenario(store, { side: 'callee' });
  assert.match(uas, /<recv request="INVITE" rrs="true" crlf="true"\/>/);
  assert.match(uas, /\[last_To:\];tag=\[pid\]SIPpTag01\[call_number\]/);
  assert.match(uas, /<timewait/);
  assert.doesNotMatch(sippScenario(fixtureStore('tcp'), { side: 'callee' }), /<timewait/, 'no timewait over TCP');
  assert.throws(() => sippScenario(store, { side: '192.0.2.99:5060' }), ScenarioError);
  assert.throws(() => sippScenario(store, { side: 'caller', call: 7 }), ScenarioError);
});

for (const transport of ['udp', 'tcp'] as const) {
  test(`SIPp over ${transport.toUpperCase()}: exported UAC against sipp -sn uas, exported UAS against sipp -sn uac, UAC against trunklab uas`, async (t) => {
    if (noSipp) return t.skip(noSipp);
    const store = fixtureStore(transport);
    const uac = save(`uac-${transport}.xml`, sippScenario(store, { side: 'caller' }));
    const uas = save(`uas-${transport}.xml`, sippScenario(store, { side: store.summary(0).dst }));
    const host = '127.0.0.1';

    let [sp, cp] = await freePorts(2, host);
    const r1 = await runSippPair({ dir, host, transport, serverPort: sp, clientPort: cp, server: ['sipp', '-sn', 'uas'], client: ['-sf', uac] });
    assert.deepEqual(r1.client, { successful: 1, failed: 0, tcpClosed: 0 }, r1.clientOutput.slice(-2000));
    // SIPp's uas waits 4 s after its last message; over TCP our client has closed the connection by
    // then and SIPp counts that call "failed (TCP closed)", exactly as with its own -sn uac.
    assert.deepEqual(r1.server, transport === 'udp' ? { successful: 1, failed: 0, tcpClosed: 0 } : { successful: 0, failed: 1, tcpClosed: 1 });

    [sp, cp] = await freePorts(2, host);
    const r2 = await runSippPair({ dir, host, transport, serverPort: sp, clientPort: cp, server: ['sipp', '-sf', uas], client: ['-sn', 'uac'] });
    assert.deepEqual(r2.client, { successful: 1, failed: 0, tcpClosed: 0 }, r2.clientOutput.slice(-2000));
    assert.deepEqual(r2.server, { successful: 1, failed: 0, tcpClosed: 0 });

    [sp, cp] = await freePorts(2, host);
    const r3 = await runSippPair({
      dir,
      host,
      transport,
      serverPort: sp,
      clientPort: cp,
      server: [NODE, TRUNKLAB, 'uas', '--listen', `${host}:${sp}`, '--transport', transport],
      client: ['-sf', uac],
    });
    assert.deepEqual(r3.client, { successful: 1, failed: 0, tcpClosed: 0 }, r3.clientOutput.slice(-2000));
  });
}

test('both sides of a Mediation Server → gateway call (hold re-INVITE, then the gateway hangs up) run against each other', async (t) => {
  if (noSipp) return t.skip(noSipp);
  for (const transport of ['udp', 'tcp'] as const) {
    const msgs = dialogMessages({
      transport,
      caller: MED_GW_SIDE,
      callee: GW,
      callId: `pair-${transport}-call`,
      fromUri: 'sip:+14255550101@lab.trunklab.test;user=phone',
      toUri: `sip:+14255550150@${GW.host};user=phone`,
      ruri: `sip:+14255550150@${GW.host}:${GW.port};user=phone`,
      extra: ['Supported: 100rel', 'P-Asserted-Identity: <sip:+14255550101@lab.trunklab.test;user=phone>'],
      userAgent: 'RTCC/5.0.0.0 MediationServer',
      holdAnswer: 'inactive',
      byeFromCallee: true,
    });
    const names: Record<string, string> = { [GW.host]: 'gw-a', [MED_GW_SIDE.host]: 'med-1' };
    const store = new TraceStore({ resolveElement: (a) => names[a.host] ?? null });
    store.appendRecords(observedRecords(msgs, transport));
    const lync = save(`med-${transport}.xml`, sippScenario(store, { side: 'med-1' }));
    const dut = save(`gw-${transport}.xml`, sippScenario(store, { side: 'gw-a' }));
    const gwXml = readFileSync(dut, 'latin1');
    assert.match(gwXml, /BYE \[next_url\] SIP\/2\.0/);
    assert.match(gwXml, /To: <sip:\+14255550101@lab\.trunklab\.test;user=phone>\[\$remote_tag\]/);
    assert.match(gwXml, /<ereg regexp=/);
    const host = '127.0.0.1';
    const [sp, cp] = await freePorts(2, host);
    const r = await runSippPair({ dir, host, transport, serverPort: sp, clientPort: cp, server: ['sipp', '-sf', dut], client: ['-sf', lync] });
    assert.deepEqual(r.client, { successful: 1, failed: 0, tcpClosed: 0 }, `${transport}: ${r.clientOutput.slice(-3000)}`);
    assert.deepEqual(r.server, { successful: 1, failed: 0, tcpClosed: 0 }, transport);
  }
});

test('IPv6: scenarios exported from a SIPp capture on ::1 run both ways', async (t) => {
  const missing = missingTool('sipp', 'dumpcap', 'editcap', 'capinfos');
  if (missing) return t.skip(missing);
  const cap = await captureSippCalls({ transport: 'udp', host: '::1', calls: 1, dir, captures: [{ file: 'v6.pcap' }] });
  const { store } = await importTraceFile(cap.files[0]);
  const uac = save('uac-v6.xml', sippScenario(store, { side: 'caller' }));
  const uas = save('uas-v6.xml', sippScenario(store, { side: 'callee' }));
  let [sp, cp] = await freePorts(2, '::1');
  const r1 = await runSippPair({ dir, host: '::1', transport: 'udp', serverPort: sp, clientPort: cp, server: ['sipp', '-sn', 'uas'], client: ['-sf', uac] });
  assert.deepEqual([r1.client, r1.server], [{ successful: 1, failed: 0, tcpClosed: 0 }, { successful: 1, failed: 0, tcpClosed: 0 }], r1.clientOutput.slice(-2000));
  [sp, cp] = await freePorts(2, '::1');
  const r2 = await runSippPair({ dir, host: '::1', transport: 'udp', serverPort: sp, clientPort: cp, server: ['sipp', '-sf', uas], client: ['-sn', 'uac'] });
  assert.deepEqual([r2.client, r2.server], [{ successful: 1, failed: 0, tcpClosed: 0 }, { successful: 1, failed: 0, tcpClosed: 0 }], r2.clientOutput.slice(-2000));
});

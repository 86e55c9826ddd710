/**
 * `trunklab suite --target` as an engineer runs it (`node src/cli/trunklab.js
 * suite ...` in a child process), against a device played by SIPp: the case
 * lines and the summary, the JUnit XML, the HTML report (opened in Chromium),
 * the per-case captures (read by tshark), exit codes 0/1/2, and calls the
 * device places itself (`--originate-cmd` starts a SIPp uac).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { missingTool, type RunResult, run } from '../formats/test-support/peers.ts';
import { callerAnswered, callerCancels, callerRefused, gatewayScenario } from '../qualify/test-support/sipp-devices.ts';
import { NO_SIPP, type SippServer, scenarioFile, startSippServer } from '../qualify/test-support/sipp-process.ts';
import { freePort } from '../sip/transport-testing.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'src/cli/trunklab.js');
const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-suite-target-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TSHARK = missingTool('tshark') === null;
const CHROMIUM = existsSync('/usr/bin/chromium');

/** A command run from the repository root to its end (killed after two minutes). */
const inRoot = (command: string, args: string[]): Promise<RunResult> => run(command, args, { cwd: ROOT, timeoutMs: 120_000 });
const trunklab = (args: string[]): Promise<RunResult> => inRoot(process.execPath, [BIN, ...args]);

/** SIPp as the device under test: a uas on 127.0.0.1 over TCP, listening, stopped when the test ends. */
async function sippDevice(t: TestContext, name: string, xml: string): Promise<SippServer> {
  const device = await startSippServer(['-sf', scenarioFile(dir, name, xml), '-timeout', '300s']);
  t.after(() => device.stop());
  return device;
}

/** `basic-outbound-answer  PASS  382 ms  64 messages  reason` → its parts. */
function caseLines(stdout: string): Map<string, { verdict: string; messages: number; reason: string }> {
  const out = new Map<string, { verdict: string; messages: number; reason: string }>();
  for (const line of stdout.split('\n')) {
    const m = /^([a-z0-9-]+) +(PASS|FAIL|SKIP|ERROR) +\d+ ms +(\d+) messages?(?: {2}(.*))?$/.exec(line);
    if (m) out.set(m[1], { verdict: m[2], messages: Number(m[3]), reason: m[4] ?? '' });
  }
  return out;
}

const COMMON = ['--free-ports', '--time-scale', '0.25', '--t1-ms', '100'];

test('usage errors: exit 2 and a message that names --target', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--target', '127.0.0.1'], /--target 127\.0\.0\.1: missing port in "127\.0\.0\.1"; expected HOST:PORT/],
    [['--target', '127.0.0.1:70000'], /--target 127\.0\.0\.1:70000: port "70000" is not a number from 1 to 65535; expected HOST:PORT\[\/udp\|tcp\|tls\] or PEER=HOST:PORT/],
    [['--target', '127.0.0.1:5060/sctp'], /unknown transport "sctp"; expected udp, tcp or tls/],
    [['--target', 'gw-z=127.0.0.1:5060'], /--target gw-z=127\.0\.0\.1:5060: no peer named "gw-z"; the peers are gw-a, gw-b/],
    [['--target', '127.0.0.1:5060', '--target', '127.0.0.1:5061'], /--target names one device under test/],
    [['--target', '127.0.0.1:5060', '--external', 'gw-a=127.0.0.1:5070'], /--target 127\.0\.0\.1:5060 and --external gw-a=127\.0\.0\.1:5070 both replace gw-a/],
    [['--target', '127.0.0.1:5060/udp'], /--target 127\.0\.0\.1:5060\/udp: med-1 has no gateway-side UDP port/],
    [['--target', '127.0.0.1:5060', '--originate-wait', 'soon', '--cases', 'basic-outbound-answer'], /--originate-wait must be a number of seconds from 0 to 3600/],
    [['--target'], /--target needs a value/],
    // A device off loopback cannot reach Mediation Servers that listen on 127.0.0.x: the topology says so.
    [['--target', '192.0.2.10:5060'], /--target 192\.0\.2\.10:5060: gw-a is a real device at 192\.0\.2\.10, but med-1 listens on loopback/],
  ];
  const results = await Promise.all(cases.map(([args]) => trunklab(['suite', ...args])));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i][0].join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, cases[i][1]);
    assert.doesNotMatch(r.stdout, /passed, \d+ failed/, 'no case ran');
  });
  const help = await trunklab(['help']);
  assert.match(help.stdout, /--target HOST:PORT\[\/transport\] +the device under test, in place of the topology's first gateway \(lab\.json: gw-a, Gateway-A,/);
});

test('--list with --target: the cases that involve the device (gw-a by default, or the peer named)', async () => {
  const gwa = await trunklab(['suite', '--target', '127.0.0.1:5060', '--list']);
  assert.equal(gwa.code, 0, gwa.stderr);
  const [head, ...rows] = gwa.stdout.trimEnd().split('\n');
  assert.match(head, /^device under test: gw-a \(Gateway-A\) = 127\.0\.0\.1:5060: (\d+) cases of (\d+) involve it$/);
  const ids = rows.map((r) => r.split(' ')[0]);
  for (const id of ['basic-outbound-answer', 'basic-outbound-100-trying', 'basic-inbound-answer', 'hold-resume-outbound', 'options-keepalive']) assert.ok(ids.includes(id), id);
  for (const id of ['failover-trunk-503', 'caller-id-outbound-pai', 'tls-srtp-required-sbc']) assert.ok(!ids.includes(id), id);
  const pbx = await trunklab(['suite', '--target', 'pbx=127.0.0.1:5061/tcp', '--list']);
  assert.equal(pbx.code, 0, pbx.stderr);
  assert.match(pbx.stdout, /^device under test: pbx \(IP-PBX\) = 127\.0\.0\.1:5061\/tcp: \d+ cases/);
  assert.match(pbx.stdout, /^caller-id-outbound-pai /m);
  assert.doesNotMatch(pbx.stdout, /^basic-outbound-answer /m);
});

test(
  'SIPp as the device (--target): a line per case, the summary, JUnit, HTML (in Chromium) and one pcap per case that tshark reads; exit 1, then 0',
  { skip: NO_SIPP, timeout: 240_000 },
  async (t) => {
    // Answers calls, 100 at once, but answers a hold (a=inactive) with a=sendrecv.
    const device = await sippDevice(t, 'gateway-sendrecv', gatewayScenario({ holdAnswer: 'sendrecv' }));
    const out = path.join(dir, 'reports');
    const junit = path.join(out, 'suite.xml');
    const report = path.join(out, 'suite.html');
    const pcaps = path.join(out, 'pcap');
    // In the suite's order (the order of --cases does not matter).
    const ids = ['basic-outbound-answer', 'basic-outbound-100-trying', 'ringback-180-post-dial-delay', 'hold-resume-outbound', 'options-keepalive'];
    const r = await trunklab(['suite', '--target', `127.0.0.1:${device.port}/tcp`, '--cases', [...ids].reverse().join(','), '--junit', junit, '--report', report, '--pcap', pcaps, ...COMMON]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^device under test: gw-a \\(Gateway-A\\) = 127\\.0\\.0\\.1:${device.port}/tcp: 5 cases \\(--cases\\)$`, 'm'));
    const lines = caseLines(r.stdout);
    assert.deepEqual([...lines.keys()], ids);
    const verdicts = Object.fromEntries([...lines].map(([id, l]) => [id, l.verdict]));
    assert.deepEqual(verdicts, { 'basic-outbound-answer': 'PASS', 'basic-outbound-100-trying': 'PASS', 'hold-resume-outbound': 'FAIL', 'ringback-180-post-dial-delay': 'PASS', 'options-keepalive': 'PASS' }, r.stdout);
    const hold = lines.get('hold-resume-outbound');
    assert.match(hold?.reason ?? '', /^step 5 \(the gateway answers the hold with a=inactive\): expected a=inactive, observed a=sendrecv in 200 OK \(INVITE\) gw-a → med-1 \(message #(\d+)\)$/);
    const cited = Number(/message #(\d+)/.exec(hold?.reason ?? '')?.[1]);
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(r.stdout);
    assert.ok(summary, r.stdout);
    assert.deepEqual([Number(summary[1]), Number(summary[2])], [4, 1]);

    // JUnit: the counts of the summary line; the failing case has a <failure> with the reason.
    const xml = readFileSync(junit, 'utf8');
    const suites = /<testsuites [^>]*tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/.exec(xml);
    assert.ok(suites, xml.slice(0, 400));
    assert.deepEqual(suites.slice(1).map(Number), [5, 1, 0, 0]);
    assert.match(xml, new RegExp(`<testsuite name="trunklab qualification \\(lab\\.json; external gw-a=127\\.0\\.0\\.1:${device.port}/tcp\\)" tests="5" failures="1"`));
    const testcases = [...xml.matchAll(/<testcase classname="([^"]+)" name="([^"]+)" time="[\d.]+">([\s\S]*?)<\/testcase>/g)];
    assert.deepEqual(testcases.map((m) => m[2]), ids);
    for (const [, classname, name, body] of testcases) {
      assert.equal(classname, `trunklab.${name.startsWith('hold-resume') ? 'hold-resume' : name.startsWith('basic-outbound') ? 'basic-outbound' : name.split('-')[0]}`);
      const failure = /<failure message="([^"]*)" type="step (\d+)">([^<]*)<\/failure>/.exec(body);
      if (name !== 'hold-resume-outbound') {
        assert.equal(failure, null, name);
        continue;
      }
      assert.ok(failure, body);
      assert.equal(failure[2], '5');
      assert.equal(failure[1].replace(/&amp;/g, '&').replace(/&gt;/g, '>'), hold?.reason);
      assert.match(failure[3], /expected: a=inactive\n +observed: a=sendrecv in 200 OK \(INVITE\) gw-a → med-1/);
    }

    // HTML: self-contained (nothing fetched from anywhere), every case with its verdict, a ladder per case that ran.
    const html = readFileSync(report, 'utf8');
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i);
    assert.doesNotMatch(html.replace(/xmlns(:\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, ''), /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, 'no external URL');
    for (const id of ids) assert.match(html, new RegExp(`<details class="case ${lines.get(id)?.verdict.toLowerCase()}" id="${id}"`));
    assert.equal((html.match(/<svg /g) ?? []).length, 5, 'one ladder per case');
    assert.match(html, new RegExp(`id="hold-resume-outbound-m${cited}"`));
    assert.match(html, /<title>Trunklab qualification: 4 passed, 1 failed<\/title>/);

    if (CHROMIUM) {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
      t.after(() => browser.close());
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const requested: string[] = [];
      page.on('request', (req) => requested.push(req.url()));
      await page.goto(`file://${report}`);
      assert.deepEqual(requested, [`file://${report}`], 'the report loads nothing else');
      assert.deepEqual(await page.locator('.summary .tile b').allTextContents(), ['4', '1', '0', '5']);
      // The failed case is open with its ladder drawn and the cited message marked; the passed ones are folded.
      const failed = page.locator('details.case.fail');
      assert.equal(await failed.getAttribute('open'), '');
      const ladder = failed.locator('.ladder svg');
      const box = await ladder.boundingBox();
      assert.ok(box !== null && box.width > 300 && box.height > 300, JSON.stringify(box));
      assert.ok((await failed.locator('.ladder svg text').allTextContents()).includes(`#${cited}`));
      assert.equal(await page.locator('details.case.pass[open]').count(), 0);
      const shot = path.join(out, 'report.png');
      await page.screenshot({ path: shot });
      await ladder.screenshot({ path: path.join(out, 'ladder.png') });
      const png = readFileSync(shot);
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
      assert.ok(png.length > 20_000, `${png.length} bytes`);
      if (process.env.TRUNKLAB_KEEP_SCREENSHOTS) for (const f of ['report.png', 'ladder.png']) writeFileSync(path.join(process.env.TRUNKLAB_KEEP_SCREENSHOTS, f), readFileSync(path.join(out, f)));
    } else t.diagnostic('chromium missing: the report was not opened in a browser');

    // pcap: one file per case; tshark finds the case's message count, no malformed packet, and message #N as the N+1th.
    assert.deepEqual(readdirSync(pcaps).sort(), ids.map((id) => `${id}.pcap`).sort());
    if (TSHARK) {
      for (const id of ids) {
        const file = path.join(pcaps, `${id}.pcap`);
        // Free ports can be ones Wireshark gives another dissector: let SIP's heuristic look first.
        const heuristics = ['-o', 'tcp.try_heuristic_first:TRUE', '-o', 'udp.try_heuristic_first:TRUE'];
        const sip = await inRoot('tshark', ['-r', file, ...heuristics, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Request-Line', '-e', 'sip.Status-Line', '-e', 'sip.CSeq']);
        assert.equal(sip.code, 0, sip.stderr);
        const messages = sip.stdout.trimEnd().split('\n');
        assert.equal(messages.length, lines.get(id)?.messages, `${id}: tshark's SIP messages vs the case line`);
        const malformed = await inRoot('tshark', ['-r', file, ...heuristics, '-Y', '_ws.malformed || _ws.expert.severity == "error"']);
        assert.equal(malformed.stdout.trim(), '', `${id}: malformed packets`);
        if (id === 'hold-resume-outbound') assert.match(messages[cited], /^\tSIP\/2\.0 200 OK\t\d+ INVITE$/, 'the cited message is the 200 to the hold');
      }
    } else t.diagnostic('tshark missing: captures not checked');

    // The same device, cases it handles: exit 0. A fresh SIPp plays it: the first run's lab may have reset its
    // connection on stopping (SIPp's answer to its last OPTIONS unread), and SIPp ends on a reset (sipp-process.ts).
    const again = await sippDevice(t, 'gateway-sendrecv-again', gatewayScenario({ holdAnswer: 'sendrecv' }));
    const ok = await trunklab(['suite', '--target', `127.0.0.1:${again.port}/tcp`, '--cases', 'basic-outbound-answer,basic-outbound-100-trying', ...COMMON]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^2 passed, 0 failed$/m);
  },
);

test('a device that is not there: the cases fail naming it (calls that fail over to an emulated gateway do not count)', { timeout: 120_000 }, async () => {
  const port = await freePort('tcp');
  const r = await trunklab(['suite', '--target', `127.0.0.1:${port}/tcp`, '--cases', 'basic-outbound-100-trying,ringback-180-post-dial-delay', ...COMMON]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const lines = caseLines(r.stdout);
  assert.equal(lines.get('basic-outbound-100-trying')?.verdict, 'FAIL');
  assert.match(lines.get('basic-outbound-100-trying')?.reason ?? '', /expected 100 response to INVITE from gw-a on the trunk within 2000 ms, observed none; last seen: .*gw-b → med-1/);
  assert.equal(lines.get('ringback-180-post-dial-delay')?.verdict, 'FAIL');
  // A scenario that only looks at the Mediation Server's side would pass on the failover: the device took no part.
  const scenario = path.join(dir, 'mediation-only.json');
  writeFileSync(scenario, JSON.stringify({ id: 'basic-outbound-any-trunk', title: 'an INVITE leaves the Mediation Server', steps: [{ action: 'call', from: 'alice', to: '+14255550110' }, { action: 'expect', from: 'mediation', request: 'INVITE' }, { action: 'hangup' }] }));
  const run2 = await trunklab(['run', scenario, '--target', `127.0.0.1:${port}/tcp`, ...COMMON]);
  assert.equal(run2.code, 1, run2.stdout + run2.stderr);
  assert.match(run2.stdout, new RegExp(`^basic-outbound-any-trunk +FAIL .*gw-a \\(the device under test\\) exchanged no message in this case: the calls went elsewhere \\(is it reachable at 127\\.0\\.0\\.1:${port}/tcp\\?\\)$`, 'm'));
});

test(
  'calls from the device: --originate-cmd starts a SIPp uac per case with the number in its environment; one that does not call is skipped with the reason',
  { skip: NO_SIPP, timeout: 240_000 },
  async (t) => {
    const device = await sippDevice(t, 'gateway-inactive', gatewayScenario({ holdAnswer: 'inactive' }));
    const work = path.join(dir, 'originate');
    mkdirSync(work, { recursive: true });
    writeFileSync(path.join(work, 'uac-answered.xml'), callerAnswered(1000));
    writeFileSync(path.join(work, 'uac-cancels.xml'), callerCancels(300));
    writeFileSync(path.join(work, 'uac-refused-486.xml'), callerRefused(486));
    const hook = path.join(work, 'originate.sh');
    writeFileSync(
      hook,
      `#!/bin/sh
# The device's part of the inbound cases: SIPp places the call the case asks for.
echo "$TRUNKLAB_ACTION|$TRUNKLAB_CASE|$TRUNKLAB_CALL|$TRUNKLAB_PEER|$TRUNKLAB_FROM|$TRUNKLAB_DIAL|$TRUNKLAB_CALLEE|$TRUNKLAB_TARGET|$TRUNKLAB_MEDIATION|$TRUNKLAB_WAIT_MS" >> "${work}/requests.log"
[ "$TRUNKLAB_ACTION" = call ] || exit 0
case "$TRUNKLAB_CASE" in
  basic-inbound-answer|dtmf-rfc4733-inbound) scenario=uac-answered.xml ;;
  cancel-inbound) scenario=uac-cancels.xml ;;
  busy-inbound-486) scenario=uac-refused-486.xml ;;
  no-answer-inbound-unregistered) echo "no free line on the test device" >&2; exit 3 ;;
  *) exit 0 ;;
esac
exec sipp -sf "${work}/$scenario" -t t1 -i 127.0.0.1 -s "$TRUNKLAB_DIAL" -key calling "\${TRUNKLAB_FROM#+}" "$TRUNKLAB_TARGET_HOST:$TRUNKLAB_TARGET_PORT" \\
  -m 1 -nostdin -timeout 30s -timeout_error -trace_stat -stf "${work}/$TRUNKLAB_CASE.csv" > "${work}/$TRUNKLAB_CASE.log" 2>&1
`,
    );
    chmodSync(hook, 0o755);
    const ids = ['basic-inbound-answer', 'cancel-inbound', 'busy-inbound-486', 'no-answer-inbound-unregistered', 'hold-resume-inbound', 'dtmf-rfc4733-inbound'];
    const junit = path.join(work, 'suite.xml');
    const r = await trunklab(['suite', '--target', `127.0.0.1:${device.port}/tcp`, '--cases', ids.join(','), '--originate-cmd', hook, '--originate-wait', '5', '--junit', junit, ...COMMON]);
    const why = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, why);
    const lines = caseLines(r.stdout);
    assert.deepEqual(
      Object.fromEntries([...lines].map(([id, l]) => [id, l.verdict])),
      { 'basic-inbound-answer': 'PASS', 'cancel-inbound': 'PASS', 'busy-inbound-486': 'PASS', 'no-answer-inbound-unregistered': 'SKIP', 'hold-resume-inbound': 'SKIP', 'dtmf-rfc4733-inbound': 'PASS' },
      why,
    );
    assert.equal(lines.get('no-answer-inbound-unregistered')?.reason, 'gw-a (the device under test) was not made to call: --originate-cmd exited with code 3: no free line on the test device');
    assert.equal(lines.get('hold-resume-inbound')?.reason, 'no call from gw-a (the device under test) within 5 s: it was asked to dial +14255550101 from +14255550110');
    assert.match(r.stdout, /^4 passed, 0 failed, 2 skipped$/m);
    assert.match(readFileSync(junit, 'utf8'), /<testsuites [^>]*tests="6" failures="0" errors="0" skipped="2"/);

    // The instruction for an engineer at the device, on stderr.
    assert.match(r.stderr, /^trunklab: basic-inbound-answer: place a call from gw-a \(the device under test\): dial \+14255550101 \(alice\) as \+14255550110, INVITE to med-1 at 127\.0\.0\.20:\d+\/tcp; waiting up to 5 s$/m);
    assert.match(r.stderr, /^trunklab: basic-inbound-answer: hang up the call at gw-a \(BYE\); waiting up to 5 s$/m);
    assert.match(r.stderr, /^trunklab: cancel-inbound: give up the call at gw-a while it rings \(CANCEL\); waiting up to 5 s$/m);
    assert.match(r.stderr, /^trunklab: \[--originate-cmd no-answer-inbound-unregistered call\] no free line on the test device$/m);

    // What the hook was told, and the device's own view of each call (SIPp's statistics).
    const requests = readFileSync(path.join(work, 'requests.log'), 'utf8').trimEnd().split('\n').map((l) => l.split('|'));
    const port = /med-1 at 127\.0\.0\.20:(\d+)\/tcp/.exec(r.stderr)?.[1];
    assert.deepEqual(requests[0], ['call', 'basic-inbound-answer', 'main', 'gw-a', '+14255550110', '+14255550101', 'alice', `127.0.0.20:${port}/tcp`, 'med-1', '5000']);
    assert.deepEqual(
      requests.map((q) => `${q[0]} ${q[1]}`),
      ['call basic-inbound-answer', 'hangup basic-inbound-answer', 'call cancel-inbound', 'cancel cancel-inbound', 'call busy-inbound-486', 'call no-answer-inbound-unregistered', 'call hold-resume-inbound', 'call dtmf-rfc4733-inbound', 'hangup dtmf-rfc4733-inbound'],
    );
    assert.equal(requests.find((q) => q[1] === 'busy-inbound-486')?.[5], '+14255550150;ext=112');
    for (const id of ['basic-inbound-answer', 'cancel-inbound', 'busy-inbound-486', 'dtmf-rfc4733-inbound']) {
      const csv = readFileSync(path.join(work, `${id}.csv`), 'latin1').trim().split('\n');
      const head = csv[0].split(';');
      const last = csv.at(-1)?.split(';') ?? [];
      const stat = (name: string): string => last[head.indexOf(name)];
      assert.deepEqual([stat('SuccessfulCall(C)'), stat('FailedCall(C)')], ['1', '0'], `${id}: ${readFileSync(path.join(work, `${id}.log`), 'latin1').slice(-1500)}`);
    }
  },
);

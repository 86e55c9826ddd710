/**
 * PRACK against a real device: SIPp plays gateway gw-a on an external trunk
 * and sends a reliable 183 (Require: 100rel, RSeq: 1, SDP). SIPp itself
 * requires the PRACK (its scenario waits for it before the 200 and checks
 * its RAck, logging what it got; a wrong RAck or anything unexpected lands
 * in SIPp's error file); the suite case `prack-outbound-183-reliable` must
 * pass. A second SIPp gateway sends a 183 with Require: 100rel but no RSeq
 * (so not a reliable provisional, RFC 3262 §7.1): no PRACK may follow, and
 * the case fails naming the missing RSeq.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTopologyInput } from '../lync/free-ports.ts';
import { builtInCases, selectCases } from './cases.ts';
import { runSuite, type SuiteResult } from './suite.ts';
import { gatewaySdp, sippResponse } from './test-support/sipp-devices.ts';
import { NO_SIPP, scenarioFile, startSippServer } from './test-support/sipp-process.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'trunklab-sipp-prack-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SDP = gatewaySdp(1, 'sendrecv');

const OK = sippResponse('200 OK', '[last_To:]', null, false);

/** A response to the INVITE, from the Via and CSeq kept when it arrived (SIPp's [last_*] is the last message received). */
const toInvite = (status: string, extra: string, body: string | null): string => `<![CDATA[

SIP/2.0 ${status}
Via: [$via]
[last_From:]
To: [$to];tag=[pid]gw[call_number]
[last_Call-ID:]
CSeq: [$cseq]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
${extra}${body === null ? 'Content-Length: 0\n' : `Content-Type: application/sdp\nContent-Length: [len]\n\n${body}`}
]]>`;

/** A POSIX regex for a header name in any letter case (SIPp's `header=` search is case-sensitive; the Mediation Server writes `VIA:`). */
const anyCase = (name: string): string => [...name].map((c) => (/[a-z]/i.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : c)).join('');
/** Keeps a header field of the INVITE in `$name` (the whole match in `$nameline`, logged so SIPp sees both used). */
const keep = (header: string, name: string): string =>
  `<ereg regexp="[[:cntrl:]]${anyCase(header)}: *([^[:cntrl:]]*)" search_in="msg" check_it="true" assign_to="${name}line,${name}"/>`;

const KEEP_INVITE = `<action>
      ${keep('Via', 'via')}
      ${keep('CSeq', 'cseq')}
      ${keep('To', 'to')}
      <ereg regexp="[[:cntrl:]]${anyCase('Supported')}: *[^[:cntrl:]]*100rel" search_in="msg" check_it="true" assign_to="supported"/>
      <log message="INVITE kept: [$vialine] [$cseqline] [$toline] ([$supported])"/>
    </action>`;

/** The PRACK must name RSeq 1 and the INVITE's CSeq (RFC 3262 §7.2): check_it fails SIPp's call otherwise. */
const RECV_PRACK = `<recv request="PRACK">
    <action>
      <ereg regexp="[[:cntrl:]]${anyCase('RAck')}: *1 ([0-9]+) INVITE *[[:cntrl:]]" search_in="msg" check_it="true" assign_to="rackline,rackcseq"/>
      <ereg regexp="[0-9]+" search_in="var" variable="cseq" assign_to="invitecseq"/>
    </action>
  </recv>
  <nop>
    <action>
      <strcmp assign_to="same" variable="rackcseq" variable2="invitecseq"/>
      <test assign_to="rackok" variable="same" compare="equal" value="0"/>
    </action>
  </nop>
  <nop condexec="rackok" condexec_inverse="true"><action><log message="RAck CSeq [$rackcseq] does not name the INVITE [$invitecseq]"/><error message="RAck CSeq does not name the INVITE"/></action></nop>
  <nop><action><log message="PRACK received: RAck 1 [$rackcseq] INVITE (the INVITE had [$supported]; [$rackline])"/></action></nop>
  <send>${OK}</send>`;

/** The call ends with the Mediation Server's BYE; label 9 answers an OPTIONS keep-alive (a "call" of its own). */
const BYE = `<recv request="BYE"/>
  <send next="10">${OK}</send>
  <label id="9"/>
  <send>${OK}</send>
  <label id="10"/>`;

const END = `<recv request="ACK"/>
  ${BYE}`;

const FIRST = `<recv request="OPTIONS" optional="true" next="9"/>`;

/** Reliable 183 with SDP, PRACK required, then 200. */
const RELIABLE_GATEWAY = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="gateway with a reliable 183">
  ${FIRST}
  <recv request="INVITE">
    ${KEEP_INVITE}
  </recv>
  <send>${toInvite('183 Session Progress', 'Require: 100rel\nRSeq: 1\n', SDP)}</send>
  ${RECV_PRACK}
  <send>${toInvite('200 OK', '', SDP)}</send>
  ${END}
</scenario>
`;

/**
 * A 183 that asks for reliability (Require: 100rel) without the RSeq that makes it reliable (RFC 3262 §7.1):
 * not a reliable provisional, so no PRACK may follow (one would reach SIPp as an unexpected message).
 */
const NO_RSEQ_GATEWAY = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="gateway with a 183 that requires 100rel but has no RSeq">
  ${FIRST}
  <recv request="INVITE">
    ${KEEP_INVITE}
  </recv>
  <send>${toInvite('183 Session Progress', 'Require: 100rel\n', SDP)}</send>
  <pause milliseconds="300"/>
  <send>${toInvite('200 OK', '', SDP)}</send>
  ${END}
</scenario>
`;

interface SippRun {
  suite: SuiteResult;
  /** SIPp's own log (`-trace_logs`: the PRACK it received) and errors (`-trace_err`: failed checks, unexpected messages). */
  log: string;
  errors: string;
  output: string;
}

async function againstSipp(name: string, xml: string): Promise<SippRun> {
  const logFile = path.join(dir, `${name}-log.txt`);
  const errorFile = path.join(dir, `${name}-errors.txt`);
  const sipp = await startSippServer(['-sf', scenarioFile(dir, name, xml), '-timeout', '60s', '-trace_logs', '-log_file', logFile, '-trace_err', '-error_file', errorFile]);
  try {
    const input = readTopologyInput(path.join(root, 'fixtures/topologies/lab.json'));
    const suite = await runSuite(selectCases(builtInCases(), 'prack-outbound-183-reliable'), input, { external: [`gw-a=127.0.0.1:${sipp.port}/tcp`], freePorts: true, timeScale: 0.25, timers: { t1: 100 }, drainMs: 200 });
    const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'latin1') : '');
    return { suite, log: read(logFile), errors: read(errorFile), output: sipp.output() };
  } finally {
    await sipp.stop();
  }
}

test('SIPp gateway sends a reliable 183 (Require: 100rel, RSeq) and requires the PRACK: SIPp gets it with the right RAck, the case passes', { skip: NO_SIPP, timeout: 90_000 }, async () => {
  const run = await againstSipp('reliable-183', RELIABLE_GATEWAY);
  const [c] = run.suite.cases;
  assert.equal(c.verdict, 'pass', `${c.reason}\n${run.output}`);
  // SIPp's side: it received the PRACK, its RAck passed SIPp's checks, nothing unexpected reached it.
  assert.match(run.log, /PRACK received: RAck 1 \d+ INVITE/, run.log);
  assert.doesNotMatch(run.log, /does not name the INVITE/);
  assert.equal(run.errors.trim(), '', run.errors);
  const prack = c.messages.find((m) => m.label === 'PRACK' && m.to === 'gw-a');
  assert.ok(prack, 'the PRACK is in the case trace');
  assert.match(prack.text, /^RACK: 1 \d+ INVITE\r?$/im);
  const order = c.messages.filter((m) => m.side === 'trunk' && !/OPTIONS/.test(m.label)).map((m) => m.label);
  assert.deepEqual(order.slice(0, 6), ['INVITE', '183 Session Progress (INVITE)', 'PRACK', '200 OK (PRACK)', '200 OK (INVITE)', 'ACK'], order.join(', '));
});

test('SIPp gateway sends a 183 with Require: 100rel but no RSeq: no PRACK follows, and the case fails naming the missing RSeq', { skip: NO_SIPP, timeout: 90_000 }, async () => {
  const run = await againstSipp('no-rseq', NO_RSEQ_GATEWAY);
  const [c] = run.suite.cases;
  assert.equal(c.verdict, 'fail', run.output);
  assert.match(c.reason ?? '', /^step 3 \(reliable 183 with SDP: Require: 100rel, RSeq\): expected .*RSeq.*, observed .*RSeq.* in 183 Session Progress \(INVITE\) gw-a → med-1 \(message #\d+\)$/);
  assert.equal(c.messages.filter((m) => m.label === 'PRACK').length, 0, 'no PRACK for an unreliable 183');
  assert.doesNotMatch(run.errors, /PRACK/, 'SIPp got no PRACK');
  assert.match(run.log, /INVITE kept: /, 'SIPp did get the call');
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  applyExternalOverrides,
  ExternalOptionError,
  formatExternalTarget,
  parseExternalOption,
  parseExternalTarget,
} from './apply-external.ts';
import { elementSummaries } from './elements.ts';
import { defaultTopologyPath, loadTopology, parseTopology, TopologyError } from './topology.ts';

describe('--external PEER=HOST:PORT[/transport]', () => {
  const good: [string, { peer: string; host: string; port: number; transport: string | null }][] = [
    ['gw-a=192.0.2.10:5060', { peer: 'gw-a', host: '192.0.2.10', port: 5060, transport: null }],
    ['gw-a=192.0.2.10:5060/tcp', { peer: 'gw-a', host: '192.0.2.10', port: 5060, transport: 'tcp' }],
    ['gw-a=192.0.2.10:5061/TLS', { peer: 'gw-a', host: '192.0.2.10', port: 5061, transport: 'tls' }],
    ['pbx=[::1]:5066/udp', { peer: 'pbx', host: '::1', port: 5066, transport: 'udp' }],
    ['sbc=[2001:db8::5]:5061', { peer: 'sbc', host: '2001:db8::5', port: 5061, transport: null }],
    ['sbc=sbc.lab.example:5061/tls', { peer: 'sbc', host: 'sbc.lab.example', port: 5061, transport: 'tls' }],
  ];
  for (const [text, expected] of good) {
    test(`parses ${text}`, () => {
      const parsed = parseExternalOption(text);
      assert.deepEqual(
        { peer: parsed.peer, host: parsed.target.host, port: parsed.target.port, transport: parsed.target.transport },
        expected,
      );
      assert.equal(parsed.option, text);
    });
  }

  const bad: [string, RegExp][] = [
    ['gw-a', /^--external gw-a: expected PEER=HOST:PORT\[\/udp\|tcp\|tls\]/],
    ['=192.0.2.10:5060', /^--external =192\.0\.2\.10:5060: expected PEER=HOST:PORT/],
    ['gw-a=192.0.2.10', /^--external gw-a=192\.0\.2\.10: missing port in "192\.0\.2\.10"/],
    ['gw-a=::1:5060', /looks like an IPv6 address without brackets; write \[::1\]:5060/],
    ['gw-a=[::1:5060', /has "\[" without "\]"/],
    ['gw-a=[::1]', /missing port after \[::1\]/],
    ['gw-a=[192.0.2.1]:5060', /"192\.0\.2\.1" is not an IPv6 address/],
    ['gw-a=999.1.1.1:5060', /"999\.1\.1\.1" is neither an IPv4 address nor a host name/],
    ['gw-a=bad_host:5060', /neither an IPv4 address nor a host name/],
    ['gw-a=192.0.2.10:0', /port "0" is not a number from 1 to 65535/],
    ['gw-a=192.0.2.10:65536', /port "65536"/],
    ['gw-a=192.0.2.10:sip', /port "sip"/],
    ['gw-a=192.0.2.10:5060/sctp', /unknown transport "sctp"; expected udp, tcp or tls/],
    ['gw-a=:5060', /missing host/],
  ];
  for (const [text, message] of bad) {
    test(`rejects ${text}`, () => {
      assert.throws(
        () => parseExternalOption(text),
        (error: unknown) => {
          assert.ok(error instanceof ExternalOptionError);
          assert.match(error.message, message);
          assert.ok(error.message.startsWith(`--external ${text}:`), 'names the option');
          return true;
        },
      );
    });
  }

  test('format round-trips', () => {
    for (const text of ['192.0.2.10:5060', '[::1]:5066/udp', 'sbc.lab.example:5061/tls']) {
      assert.equal(formatExternalTarget(parseExternalTarget(text)), text);
    }
  });
});

describe('applying --external to a topology', () => {
  const lab = (): unknown => JSON.parse(readFileSync(defaultTopologyPath(), 'utf8'));

  test('replaces the emulation of the peer and points its trunks at the device', () => {
    const t = loadTopology(defaultTopologyPath(), { external: ['gw-b=127.0.0.1:5099/tcp'] });
    const gwb = t.peers.find((p) => p.name === 'gw-b');
    assert.deepEqual(gwb?.external, { host: '127.0.0.1', port: 5099, transport: 'tcp' });
    assert.deepEqual(gwb?.listeners, []);
    for (const trunk of t.trunks.filter((tr) => tr.peer === 'gw-b')) {
      assert.deepEqual(
        [trunk.peerAddress, trunk.peerPort, trunk.transport, trunk.mediationPort],
        ['127.0.0.1', 5099, 'tcp', 5068],
      );
    }
    const line = elementSummaries(t).find((l) => l.element === 'gw-b');
    assert.equal(line?.external, '127.0.0.1:5099/tcp');
    assert.deepEqual(line?.listen, []);
  });

  test("a transport change moves the trunks to the Mediation Server's port for it", () => {
    const t = loadTopology(defaultTopologyPath(), { external: ['gw-a=127.0.0.1:5061/tls'] });
    const trunk = t.trunks.find((tr) => tr.peer === 'gw-a');
    assert.deepEqual([trunk?.transport, trunk?.mediationPort, trunk?.peerPort], ['tls', 5067, 5061]);
  });

  test('problems caused by the option name the option', () => {
    const cases: [string, RegExp][] = [
      ['gw-x=127.0.0.1:5060', /no peer named "gw-x"; the peers are gw-a, gw-b, gw-c, gw-d, pbx, sbc/],
      [
        'gw-a=192.0.2.10:5060',
        /gw-a is a real device at 192\.0\.2\.10, but med-1 listens on loopback .*gatewayAddress/,
      ],
      ['gw-a=127.0.0.1:5060/udp', /med-1 has no gateway-side UDP port/],
      ['gw-a=127.0.0.1', /missing port/],
    ];
    for (const [option, message] of cases) {
      assert.throws(
        () => loadTopology(defaultTopologyPath(), { external: [option] }),
        (error: unknown) => {
          assert.ok(error instanceof TopologyError, String(error));
          const problem = error.problems.find((p) => p.path === `--external ${option}`);
          assert.ok(problem, `${option}: ${JSON.stringify(error.problems)}`);
          assert.match(problem.message, message);
          return true;
        },
      );
    }
  });

  test('the same peer twice is refused', () => {
    const applied = applyExternalOverrides(lab(), ['pbx=127.0.0.1:5060', 'pbx=127.0.0.1:5062']);
    assert.deepEqual(applied.problems, [
      { path: '--external pbx=127.0.0.1:5062', message: 'peer "pbx" is already set by --external pbx=127.0.0.1:5060' },
    ]);
  });

  test('a device on the LAN works once the Mediation Server has a gateway address there', () => {
    const doc = lab() as { mediationPools: { servers: { name: string; gatewayAddress?: string }[] }[] };
    doc.mediationPools[0].servers[0].gatewayAddress = '192.0.2.1';
    const t = parseTopology(doc, 'lab+lan', { external: ['gw-a=192.0.2.10:5060/tcp'] });
    const trunk = t.trunks.find((tr) => tr.peer === 'gw-a');
    assert.deepEqual([trunk?.mediationAddress, trunk?.peerAddress], ['192.0.2.1', '192.0.2.10']);
  });

  test('the input document is not changed', () => {
    const doc = lab();
    const before = JSON.stringify(doc);
    applyExternalOverrides(doc, ['pbx=127.0.0.1:5060']);
    assert.equal(JSON.stringify(doc), before);
  });
});

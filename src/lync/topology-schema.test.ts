/**
 * topology.schema.json and the validator describe the same shape: the same
 * properties per object kind, the fixtures pass both, and structural
 * mistakes are rejected by both.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { validateJsonSchema } from './json-schema-subset.ts';
import { defaultTopologyPath, parseTopology, TopologyError } from './topology.ts';
import { TOPOLOGY_KEYS } from './topology-keys.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(path.join(here, 'topology.schema.json'), 'utf8'));
const fixtures = path.dirname(defaultTopologyPath());
const SEEDS = ['single-gateway', 'ip-pbx', 'pool-mixed', 'pool-shared-gateway', 'lab'];

describe('topology.schema.json', () => {
  test('is draft 2020-12 and starts at $defs/topology', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.$ref, '#/$defs/topology');
  });

  test('has one $defs entry per object kind of the validator, with the same properties', () => {
    assert.deepEqual(Object.keys(schema.$defs).sort(), Object.keys(TOPOLOGY_KEYS).sort());
    for (const [kind, keys] of Object.entries(TOPOLOGY_KEYS)) {
      const def = schema.$defs[kind];
      assert.equal(def.additionalProperties, false, `${kind}: additionalProperties false`);
      assert.deepEqual(Object.keys(def.properties).sort(), [...keys].sort(), `${kind}: properties`);
      for (const [name, property] of Object.entries(
        def.properties as Record<string, { description?: string; $ref?: string }>,
      )) {
        assert.ok(
          property.description !== undefined || property.$ref !== undefined,
          `${kind}.${name} has a description`,
        );
      }
    }
  });

  for (const name of SEEDS) {
    test(`${name}.json is valid against the schema and the validator`, () => {
      const document = JSON.parse(readFileSync(path.join(fixtures, `${name}.json`), 'utf8'));
      assert.deepEqual(validateJsonSchema(schema, document), []);
      assert.doesNotThrow(() => parseTopology(document, name));
    });
  }

  const rejectedByBoth: { name: string; document: unknown; schemaPath: string; validatorPath: string }[] = [
    {
      name: 'unknown property',
      document: { frontEnd: { address: '127.0.0.10', adress: 'x' } },
      schemaPath: '/frontEnd/adress',
      validatorPath: '/frontEnd/adress',
    },
    { name: 'missing frontEnd', document: {}, schemaPath: '', validatorPath: '/frontEnd' },
    {
      name: 'FE outside loopback',
      document: { frontEnd: { address: '10.0.0.1' } },
      schemaPath: '/frontEnd/address',
      validatorPath: '/frontEnd/address',
    },
    {
      name: 'port out of range',
      document: { frontEnd: { address: '127.0.0.10', tlsPort: 65536 } },
      schemaPath: '/frontEnd/tlsPort',
      validatorPath: '/frontEnd/tlsPort',
    },
    {
      name: 'peer kind unknown',
      document: { frontEnd: { address: '127.0.0.10' }, peers: [{ name: 'p', kind: 'pbx', address: '127.0.0.40' }] },
      schemaPath: '/peers/0/kind',
      validatorPath: '/peers/0/kind',
    },
    {
      name: 'reject without a code',
      document: {
        frontEnd: { address: '127.0.0.10' },
        users: [{ name: 'a', address: '127.0.0.101', behaviour: { outcome: 'reject' } }],
      },
      schemaPath: '/users/0/behaviour',
      validatorPath: '/users/0/behaviour/rejectCode',
    },
    {
      name: 'bad Line URI',
      document: {
        frontEnd: { address: '127.0.0.10' },
        users: [{ name: 'a', address: '127.0.0.101', lineUri: '+14255550101' }],
      },
      schemaPath: '/users/0/lineUri',
      validatorPath: '/users/0/lineUri',
    },
    {
      name: 'too many pool members',
      document: {
        frontEnd: { address: '127.0.0.10' },
        mediationPools: [
          {
            name: 'p',
            servers: Array.from({ length: 13 }, (_, i) => ({ name: `m${i}`, address: `127.0.0.${20 + i}` })),
          },
        ],
      },
      schemaPath: '/mediationPools/0/servers',
      validatorPath: '/mediationPools/0/servers',
    },
  ];

  for (const c of rejectedByBoth) {
    test(`schema and validator both reject: ${c.name}`, () => {
      const schemaErrors = validateJsonSchema(schema, c.document);
      assert.ok(
        schemaErrors.some((e) => e.path === c.schemaPath),
        `schema: ${JSON.stringify(schemaErrors)}`,
      );
      assert.throws(
        () => parseTopology(c.document, c.name),
        (error: unknown) => error instanceof TopologyError && error.problems.some((p) => p.path === c.validatorPath),
      );
    });
  }
});

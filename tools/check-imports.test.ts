/**
 * Runs tools/check-imports.js as CI does, on temporary trees: one that keeps
 * every rule (with the lexer's traps: imports in comments and strings, regex
 * literals with quotes, templates) and one that breaks each rule once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { findDomGlobals, findImports } from './check-imports.js';

const checker = fileURLToPath(new URL('./check-imports.js', import.meta.url));
const scratch = mkdtempSync(path.join(tmpdir(), 'trunklab-check-imports-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function makeTree(name: string, files: Record<string, string>): string {
  const root = path.join(scratch, name);
  for (const [rel, text] of Object.entries(files)) {
    const full = path.join(root, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return root;
}

function runChecker(root: string) {
  const result = spawnSync(process.execPath, [checker, root], { encoding: 'utf8' });
  const violations = result.stdout
    .split('\n')
    .filter((line) => /^\S+:\d+: /.test(line))
    .map((line) => {
      const match = /^(\S+):(\d+): (.*)$/.exec(line);
      assert.ok(match, line);
      return { at: `${match[1]}:${match[2]}`, rule: match[3] };
    });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, violations };
}

const cleanTree = {
  'src/common/summary.ts': [
    "import type { Id } from './ids.ts';",
    '// import fs from "node:fs";  (a comment, not an import)',
    "const note = 'import x from \"react\"; document.title';",
    "const quoteRegex = /[\"'`]/g;",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture's source text holds a template
    "const half = 10 / 2; const alsoFine = `${note}/${'x'}`;",
    'export const summary = (id: Id) => [id, note, quoteRegex, half, alsoFine];',
    '',
  ].join('\n'),
  'src/common/ids.ts': 'export type Id = string;\n',
  'src/common/ids.test.ts': "import { test } from 'node:test';\nimport '../sip/message.ts';\ntest('x', () => {});\n",
  'src/sip/message.ts': "import { Buffer } from 'node:buffer';\nexport const m = Buffer.alloc(1);\n",
  'src/sip/message.test.ts': "import '../engine/api.ts';\nimport '../host/server.ts';\n",
  'src/sdp/offer.ts': "import { parse } from 'sdp-transform';\nexport { parse };\n",
  'src/lync/load.ts': [
    'export function load(json: string) {',
    '  let document: unknown = json;',
    '  document = JSON.parse(json);',
    '  return (document as { trunks: unknown }).trunks;',
    '}',
    '',
  ].join('\n'),
  'src/formats/tcp.ts': 'export const scale = (window: { scale: number }) => window.scale;\n',
  'src/lync/mediation.ts': "import '../sip/message.ts';\nimport '../sdp/offer.ts';\nimport type { Id } from '../common/ids.ts';\n",
  'src/trace/store.ts': "export * from '../sip/message.ts';\n",
  'src/formats/pcap.ts': "import '../trace/store.ts';\nimport net from 'node:net';\n",
  'src/qualify/suite.ts': "const lazy = () => import('../formats/pcap.ts');\nexport { lazy };\n",
  'src/engine/api.ts': "import '../qualify/suite.ts';\nimport '../lync/mediation.ts';\n",
  'src/host/server.ts': "import { WebSocketServer } from 'ws';\nimport '../engine/api.ts';\nimport '../formats/pcap.ts';\n",
  'src/cli/main.ts': "import '../host/server.ts';\nimport '../sdp/offer.ts';\n",
  'src/cli/trunklab.js': "const entry = './main.ts';\nawait import(entry);\n",
  'renderer/src/App.tsx': [
    "import { useState } from 'react';",
    "import { summary } from '../../src/common/summary.ts';",
    "export const App = () => <p>Don't panic, it's only text</p>;",
    "export const lazy = () => import('./view.tsx');",
    '',
  ].join('\n'),
  'renderer/vite.config.ts': "import path from 'node:path';\nimport react from '@vitejs/plugin-react';\n",
  'electron/main.ts': "import { app } from 'electron';\nimport path from 'node:path';\nimport '../src/engine/api.ts';\n",
  'electron/preload.ts': "import { contextBridge } from 'electron/renderer';\nimport type { Id } from '../src/common/ids.ts';\n",
  'tools/anything.js': "import 'react';\nimport '../renderer/src/App.tsx';\n",
};

const badTree = {
  'src/sip/transport.ts': [
    "import { app } from 'electron';", // 1
    "import type { Store } from '../trace/store.ts';", // 2
    'const el = document.createElement("div");', // 3
    "export { x } from '../common/ids.ts';", // 4
    'const w = window.innerWidth; const s = globalThis.localStorage;', // 5
    '',
  ].join('\n'),
  'src/sdp/offer.ts': "const sip = require('../sip/message.ts');\n", // 1
  'src/common/layout.ts': [
    "import { readFile } from 'node:fs/promises';", // 1
    "import os from 'os';", // 2
    "import '../sip/message.ts';", // 3
    "type T = typeof import('../trace/store.ts');", // 4
    '',
  ].join('\n'),
  'src/common/ok.test.ts': "import '../../renderer/src/App.tsx';\n", // 1
  'src/trace/store.ts': "import { create } from 'zustand';\nimport '../lync/mediation.ts';\n", // 1, 2
  'src/formats/pcap.ts': "const load = () => import(`../qualify/suite.ts`);\n", // 1
  'src/engine/api.ts': "import '../host/server.ts';\nimport '../../electron/main.ts';\n", // 1, 2
  'src/rtp/session.ts': "import '../sip/message.ts';\n", // 1 (unknown folder)
  'renderer/src/App.tsx': [
    "import { useState } from 'react';",
    "import { api } from '../../src/engine/api.ts';", // 2
    "import path from 'node:path';", // 3
    "import { ipcRenderer } from 'electron';", // 4
    "import type { X } from '../../electron/preload.ts';", // 5
    '',
  ].join('\n'),
  'electron/main.ts': [
    "import { app } from 'electron';",
    "import '../src/sip/transport.ts';", // 2
    "import WebSocket from 'ws';", // 3
    "import '../renderer/src/App.tsx';", // 4
    '',
  ].join('\n'),
};

describe('check-imports', () => {
  test('a tree that keeps the rules passes', () => {
    const result = runChecker(makeTree('clean', cleanTree));
    assert.deepEqual(result.violations, [], result.stdout);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /no violations/);
  });

  test('each broken rule is reported as file:line: rule and the exit code is 1', () => {
    const result = runChecker(makeTree('bad', badTree));
    assert.equal(result.status, 1, result.stderr);
    const at = result.violations.map((v) => v.at);
    assert.deepEqual(at, [
      'electron/main.ts:2',
      'electron/main.ts:3',
      'electron/main.ts:4',
      'renderer/src/App.tsx:2',
      'renderer/src/App.tsx:3',
      'renderer/src/App.tsx:4',
      'renderer/src/App.tsx:5',
      'src/common/layout.ts:1',
      'src/common/layout.ts:2',
      'src/common/layout.ts:3',
      'src/common/layout.ts:4',
      'src/common/ok.test.ts:1',
      'src/engine/api.ts:1',
      'src/engine/api.ts:2',
      'src/formats/pcap.ts:1',
      'src/rtp/session.ts:1',
      'src/sdp/offer.ts:1',
      'src/sip/transport.ts:1',
      'src/sip/transport.ts:2',
      'src/sip/transport.ts:3',
      'src/sip/transport.ts:4',
      'src/sip/transport.ts:5',
      'src/sip/transport.ts:5',
      'src/trace/store.ts:1',
      'src/trace/store.ts:2',
    ]);
    const rule = (where: string) =>
      result.violations
        .filter((v) => v.at === where)
        .map((v) => v.rule)
        .join(' | ');
    assert.match(rule('src/sip/transport.ts:1'), /src\/ must not import 'electron'/);
    assert.match(rule('src/sip/transport.ts:2'), /src\/sip\/ must not import src\/trace\/.*nothing of ours/);
    assert.match(rule('src/sip/transport.ts:3'), /DOM global document\./);
    assert.match(rule('src/sip/transport.ts:5'), /window\..*localStorage/);
    assert.match(rule('src/common/layout.ts:1'), /Node built-in 'node:fs\/promises'/);
    assert.match(rule('src/common/layout.ts:2'), /Node built-in 'os'/);
    assert.match(rule('src/common/ok.test.ts:1'), /src\/ must not import renderer\//);
    assert.match(rule('src/rtp/session.ts:1'), /src\/rtp\/ is not a folder of the layer table/);
    assert.match(rule('renderer/src/App.tsx:2'), /only src\/common\//);
    assert.match(rule('renderer/src/App.tsx:3'), /Node built-in 'node:path'/);
    assert.match(rule('electron/main.ts:2'), /only src\/engine\/ and src\/common\//);
    assert.match(rule('electron/main.ts:3'), /'ws'/);
    assert.match(result.stderr, /25 violation\(s\)/);
  });

  test('a root without src/, renderer/ or electron/ is a usage error', () => {
    const result = runChecker(makeTree('empty', { 'README.md': '' }));
    assert.equal(result.status, 2);
  });
});

describe('the lexer', () => {
  test('finds every import form with its line', () => {
    const text = [
      "import a from 'a';",
      'import type { B } from "b";',
      "export * from './c.ts';",
      "import 'd';",
      "const e = await import('e');",
      "const f = require('f');",
      "type G = import('g').G;",
      'import {',
      '  h,',
      "} from 'h';",
      'const notAnImport = Array.from("x");',
      '',
    ].join('\n');
    assert.deepEqual(
      findImports(text).map((i) => `${i.line}:${i.specifier}`),
      ['1:a', '2:b', '3:./c.ts', '4:d', '5:e', '6:f', '7:g', '10:h'],
    );
  });

  test('ignores comments, strings, regex literals and member names', () => {
    const text = [
      '/* import x from "comment"; document.body */',
      "const s = 'window.open()'; const t = `navigator.userAgent`;",
      "const re = /'(document\\.)/; const div = a / b / c;",
      'const o = { win: 1, doc: 2 }; this.window.x = o.document.y;',
      "import y from 'real';",
      '',
    ].join('\n');
    assert.deepEqual(findDomGlobals(text), []);
    assert.deepEqual(
      findImports(text).map((i) => `${i.line}:${i.specifier}`),
      ['5:real'],
    );
  });
});

#!/usr/bin/env node
/**
 * Import-direction checker, run in CI (`npm run check:imports`).
 *
 * Enforces the folder rules of the architecture (README "Layout"):
 * - `src/` never imports Electron or UI packages, `renderer/` or `electron/`,
 *   and never touches DOM globals (`document.`, `window.`, `navigator.`,
 *   `localStorage`; a file that binds one of these names itself, say a TCP
 *   `window` parameter, uses its own binding);
 * - inside `src/`, each folder imports only the folders its row of LAYERS
 *   allows (and itself); `src/common/` imports nothing Node;
 * - `renderer/` imports only `src/common/` from `src/`, and no Node built-in;
 * - `electron/` imports only `src/engine/`, `src/common/`, `electron` and
 *   Node built-ins.
 * Every form counts: `import`, `import type`, `export ... from`, `import('x')`
 * (also in type positions) and `require('x')`. Test files (`*.test.*`) may
 * import anything inside `src/` and Node built-ins, but never `renderer/` or
 * `electron/`. Build configs (`*.config.ts`) are Node-side tooling and are
 * not checked.
 *
 * Usage: node tools/check-imports.js [root]   (root defaults to the repo)
 * Prints `file:line: rule` per violation; exits 1 on any, 2 on bad usage.
 * Plain JavaScript with no dependencies: it must run before anything else.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which `src/` folders each `src/` folder may import, besides itself. */
export const LAYERS = {
  sip: [],
  sdp: [],
  common: [],
  media: ['sdp'],
  lync: ['media', 'sip', 'sdp', 'common'],
  trace: ['sip', 'sdp', 'common'],
  formats: ['trace', 'sip', 'common'],
  qualify: ['lync', 'media', 'trace', 'formats', 'sip', 'sdp', 'common'],
  engine: ['qualify', 'lync', 'media', 'trace', 'formats', 'sip', 'sdp', 'common'],
  host: ['engine', 'qualify', 'lync', 'media', 'trace', 'formats', 'sip', 'sdp', 'common'],
  cli: ['host', 'engine', 'qualify', 'lync', 'media', 'trace', 'formats', 'sip', 'sdp', 'common'],
};

/** Packages that belong to the desktop shell or the UI, never to `src/`. */
const UI_PACKAGES = new Set(['electron', 'react', 'react-dom', 'zustand', '@tanstack/react-virtual']);

const SOURCE_EXTENSIONS = /\.(?:ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const TEST_FILE = /\.test\.(?:ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const CONFIG_FILE = /(?:^|\.)config\.(?:ts|mts|cts|js|mjs|cjs)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'out']);
const CHECKED_AREAS = ['src', 'renderer', 'electron'];

const NODE_BUILTINS = new Set(builtinModules.filter((name) => !name.startsWith('_')));

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

/**
 * Blanks comments, string, template and regex literal contents (keeping
 * newlines, so offsets and line numbers survive) and records each string
 * literal's value by the offset of its opening quote. A small lexer, not a
 * parser: JSX text with a stray quote confuses it only up to the end of the
 * line, because plain strings cannot span lines.
 *
 * @param {string} text
 * @returns {{ code: string, strings: Map<number, string> }}
 */
export function maskSource(text) {
  const out = text.split('');
  /** @type {Map<number, string>} */
  const strings = new Map();
  const blank = (/** @type {number} */ from, /** @type {number} */ to) => {
    for (let k = from; k < to; k++) {
      if (out[k] !== '\n') out[k] = ' ';
    }
  };
  /** @type {number[]} brace depth of each open template substitution */
  const templateStack = [];
  let braceDepth = 0;
  let lastSignificant = '';
  let lastWord = '';
  let i = 0;
  const n = text.length;

  /** Reads a template literal body from i (after the backtick or a `}`). */
  const readTemplate = (/** @type {number} */ openAt) => {
    let value = '';
    while (i < n) {
      const c = text[i];
      if (c === '\\') {
        value += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '`') {
        blank(openAt + 1, i);
        i++;
        // Only a template without substitutions is a usable specifier; a
        // continuation after `}` starts at the brace, not at a backtick.
        if (text[openAt] === '`') strings.set(openAt, value);
        lastSignificant = '`';
        lastWord = '';
        return;
      }
      if (c === '$' && text[i + 1] === '{') {
        blank(openAt + 1, i);
        templateStack.push(braceDepth);
        braceDepth = 0;
        i += 2;
        lastSignificant = '{';
        lastWord = '';
        return;
      }
      value += c;
      i++;
    }
    blank(openAt + 1, n);
  };

  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = i;
      let value = '';
      i++;
      while (i < n && text[i] !== c && text[i] !== '\n') {
        if (text[i] === '\\') {
          value += text[i + 1] ?? '';
          i += 2;
        } else {
          value += text[i];
          i++;
        }
      }
      blank(start + 1, Math.min(i, n));
      if (text[i] === c) {
        strings.set(start, value);
        i++;
      }
      lastSignificant = c;
      lastWord = '';
      continue;
    }
    if (c === '`') {
      const start = i;
      i++;
      readTemplate(start);
      continue;
    }
    if (c === '}' && templateStack.length > 0 && braceDepth === 0) {
      braceDepth = templateStack.pop() ?? 0;
      const start = i;
      i++;
      readTemplate(start);
      continue;
    }
    if (c === '/') {
      const regexAllowed =
        lastSignificant === '' ||
        '(,=:[!&|?{};+-*%<>~^'.includes(lastSignificant) ||
        KEYWORDS_BEFORE_EXPRESSION.has(lastWord);
      if (regexAllowed) {
        const start = i;
        i++;
        let inClass = false;
        while (i < n && text[i] !== '\n') {
          const r = text[i];
          if (r === '\\') {
            i += 2;
            continue;
          }
          if (r === '[') inClass = true;
          else if (r === ']') inClass = false;
          else if (r === '/' && !inClass) break;
          i++;
        }
        blank(start + 1, Math.min(i, n));
        i++;
        while (i < n && /[a-z]/i.test(text[i])) i++;
        lastSignificant = '/';
        lastWord = '';
        continue;
      }
    }
    if (c === '{') braceDepth++;
    else if (c === '}') braceDepth--;
    if (/[A-Za-z_$]/.test(c)) {
      let j = i;
      while (j < n && /[\w$]/.test(text[j])) j++;
      lastWord = text.slice(i, j);
      lastSignificant = 'a';
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i;
      while (j < n && /[\w.]/.test(text[j])) j++;
      lastWord = '';
      lastSignificant = '0';
      i = j;
      continue;
    }
    if (!/\s/.test(c)) {
      lastSignificant = c;
      lastWord = '';
    }
    i++;
  }
  return { code: out.join(''), strings };
}

/**
 * Every module specifier a source file names, with its 1-based line.
 *
 * @param {string} text
 * @returns {{ specifier: string, line: number }[]}
 */
export function findImports(text) {
  const { code, strings } = maskSource(text);
  const lineOf = lineIndex(code);
  /** @type {{ specifier: string, line: number }[]} */
  const found = [];
  const seen = new Set();
  const patterns = [
    // import x from 'a'; import type {X} from 'a'; export * from 'a'; import 'a'
    /(?<![\w$.])(?:from|import)\s*(?=["'])/g,
    // import('a'), typeof import('a'), require('a'), import x = require('a')
    /(?<![\w$.])(?:import|require)\s*\(\s*(?=["'`])/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      const quoteAt = match.index + match[0].length;
      if (seen.has(quoteAt)) continue;
      const specifier = strings.get(quoteAt);
      if (specifier === undefined) continue;
      seen.add(quoteAt);
      found.push({ specifier, line: lineOf(quoteAt) });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

/**
 * Whether the file binds `name` itself (a variable, function, class, import
 * or parameter): then `name.x` is that binding, not the DOM global. A TCP
 * `window` or a JSON `document` is an ordinary name in a SIP engine.
 *
 * @param {string} code masked source
 * @param {string} name
 */
function bindsLocally(code, name) {
  return (
    new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b`).test(code) ||
    new RegExp(`[(,{]\\s*${name}\\s*(?:[:,)}=]|\\?\\s*:)`).test(code) ||
    new RegExp(`(?<![\\w$.])${name}\\s*=>`).test(code)
  );
}

/**
 * DOM globals used in code (not in comments or strings, and not when the
 * file binds the same name itself).
 *
 * @param {string} text
 * @returns {{ name: string, line: number }[]}
 */
export function findDomGlobals(text) {
  const { code } = maskSource(text);
  const lineOf = lineIndex(code);
  /** @type {{ name: string, line: number }[]} */
  const found = [];
  const patterns = [
    /(?<![\w$.])(document|window|navigator)\s*\??\.(?!\.)/g,
    /(?<![\w$.])(localStorage|sessionStorage)\b/g,
    /(?<![\w$.])globalThis\s*\??\.\s*(document|window|navigator|localStorage|sessionStorage)\b/g,
  ];
  for (const [index, pattern] of patterns.entries()) {
    for (const match of code.matchAll(pattern)) {
      const name = match[1];
      if (index < 2 && bindsLocally(code, name)) continue;
      found.push({ name: name.endsWith('Storage') ? name : `${name}.`, line: lineOf(match.index) });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

/** @param {string} code */
function lineIndex(code) {
  const starts = [0];
  for (let k = 0; k < code.length; k++) if (code[k] === '\n') starts.push(k + 1);
  return (/** @type {number} */ offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/**
 * Where a path (relative to the root, `/`-separated) lives.
 *
 * @param {string} rel
 * @returns {{ area: string, layer: string }}
 */
function placeOf(rel) {
  const parts = rel.split('/');
  if (parts[0] === 'src') return { area: 'src', layer: parts.length > 2 ? parts[1] : '' };
  if (parts[0] === 'renderer' || parts[0] === 'electron') return { area: parts[0], layer: '' };
  return { area: parts[0] === '..' ? 'outside' : 'other', layer: '' };
}

/**
 * @typedef {{ kind: 'builtin', name: string }
 *   | { kind: 'package', name: string }
 *   | { kind: 'local', rel: string, area: string, layer: string }
 *   | { kind: 'other' }} Target
 */

/**
 * @param {string} specifier
 * @param {string} fileAbs
 * @param {string} root
 * @returns {Target}
 */
function resolveTarget(specifier, fileAbs, root) {
  if (specifier.startsWith('node:')) return { kind: 'builtin', name: specifier.slice(5) };
  /** @type {string | undefined} */
  let abs;
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    abs = path.resolve(path.dirname(fileAbs), specifier);
  } else if (specifier.startsWith('file:')) {
    abs = fileURLToPath(specifier);
  }
  if (abs !== undefined) {
    const rel = path.relative(root, abs).split(path.sep).join('/');
    return { kind: 'local', rel, ...placeOf(rel) };
  }
  if (specifier.startsWith('#')) return { kind: 'other' };
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  if (NODE_BUILTINS.has(specifier) || NODE_BUILTINS.has(name)) return { kind: 'builtin', name: specifier };
  return { kind: 'package', name };
}

/**
 * The rule one import breaks, or null.
 *
 * @param {{ rel: string, area: string, layer: string, isTest: boolean }} file
 * @param {string} specifier
 * @param {Target} target
 * @returns {string | null}
 */
function judgeImport(file, specifier, target) {
  const { area, layer, isTest } = file;
  const quoted = `'${specifier}'`;
  if (area === 'src') {
    if (target.kind === 'package' && UI_PACKAGES.has(target.name)) {
      return `src/ must not import ${quoted} (Electron and UI packages stay in electron/ and renderer/)`;
    }
    if (target.kind === 'builtin') {
      if (layer === 'common' && !isTest) {
        return `src/common/ must not import Node built-in ${quoted} (it runs in the renderer too)`;
      }
      return null;
    }
    if (target.kind !== 'local') return null;
    if (target.area === 'renderer' || target.area === 'electron') {
      return `src/ must not import ${target.area}/ (${quoted})`;
    }
    if (target.area !== 'src' || isTest || layer === 'cli') return null;
    if (target.layer === layer) return null;
    const allowed = LAYERS[/** @type {keyof typeof LAYERS} */ (layer)];
    if (allowed === undefined) return null; // reported once per file
    if (target.layer === '' || !Object.hasOwn(LAYERS, target.layer)) {
      return `src/${layer}/ must not import ${quoted}: src/${target.layer || '(root)'} is not a folder of the layer table`;
    }
    if (/** @type {string[]} */ (allowed).includes(target.layer)) return null;
    const may = allowed.length === 0 ? 'nothing of ours' : allowed.map((l) => `${l}/`).join(', ');
    return `src/${layer}/ must not import src/${target.layer}/ (${quoted}); it may import ${may}`;
  }
  if (area === 'renderer') {
    if (target.kind === 'builtin') {
      return isTest ? null : `renderer/ must not import Node built-in ${quoted} (it runs in a browser)`;
    }
    if (target.kind === 'package' && target.name === 'electron') {
      return `renderer/ must not import 'electron' (use the preload bridge, window.trunklab)`;
    }
    if (target.kind !== 'local') return null;
    if (target.area === 'src' && target.layer !== 'common') {
      return `renderer/ may import only src/common/ from src/ (${quoted})`;
    }
    if (target.area === 'electron') return `renderer/ must not import electron/ (${quoted})`;
    return null;
  }
  if (area === 'electron') {
    if (target.kind === 'builtin') return null;
    if (target.kind === 'package') {
      if (target.name === 'electron') return null;
      return `electron/ may import only electron and Node built-ins among packages (${quoted}); go through src/engine/`;
    }
    if (target.kind !== 'local') return null;
    if (target.area === 'src' && target.layer !== 'engine' && target.layer !== 'common') {
      return `electron/ may import only src/engine/ and src/common/ from src/ (${quoted})`;
    }
    if (target.area === 'renderer') return `electron/ must not import renderer/ (${quoted})`;
    return null;
  }
  return null;
}

/**
 * @param {string} dir
 * @param {string[]} into
 */
function walk(dir, into) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, into);
    else if (entry.isFile() && SOURCE_EXTENSIONS.test(entry.name)) into.push(full);
  }
  return into;
}

/**
 * Checks a tree and returns its violations, sorted by file and line.
 *
 * @param {string} root
 * @returns {{ files: number, violations: { file: string, line: number, rule: string }[] }}
 */
export function checkTree(root) {
  const absRoot = path.resolve(root);
  /** @type {string[]} */
  const files = [];
  for (const area of CHECKED_AREAS) {
    const dir = path.join(absRoot, area);
    if (existsSync(dir) && statSync(dir).isDirectory()) walk(dir, files);
  }
  /** @type {{ file: string, line: number, rule: string }[]} */
  const violations = [];
  for (const fileAbs of files) {
    const rel = path.relative(absRoot, fileAbs).split(path.sep).join('/');
    const base = path.basename(rel);
    if (CONFIG_FILE.test(base)) continue;
    const file = { rel, ...placeOf(rel), isTest: TEST_FILE.test(base) };
    const text = readFileSync(fileAbs, 'utf8');
    if (file.area === 'src' && !Object.hasOwn(LAYERS, file.layer)) {
      const where = file.layer === '' ? 'src/ itself' : `src/${file.layer}/`;
      violations.push({
        file: rel,
        line: 1,
        rule: `${where} is not a folder of the layer table (add it to LAYERS in tools/check-imports.js and to the README)`,
      });
    }
    for (const { specifier, line } of findImports(text)) {
      const rule = judgeImport(file, specifier, resolveTarget(specifier, fileAbs, absRoot));
      if (rule !== null) violations.push({ file: rel, line, rule });
    }
    if (file.area === 'src') {
      for (const { name, line } of findDomGlobals(text)) {
        violations.push({ file: rel, line, rule: `src/ must not use the DOM global ${name}` });
      }
    }
  }
  violations.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return { files: files.length, violations };
}

function main() {
  const args = process.argv.slice(2);
  if (args.length > 1 || args[0] === '-h' || args[0] === '--help') {
    console.error('usage: node tools/check-imports.js [root]');
    return 2;
  }
  const root = args[0] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  if (!CHECKED_AREAS.some((area) => existsSync(path.join(root, area)))) {
    console.error(`check-imports: ${root} has none of ${CHECKED_AREAS.join(', ')}: nothing to check`);
    return 2;
  }
  const { files, violations } = checkTree(root);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.rule}`);
  if (violations.length > 0) {
    console.error(`check-imports: ${violations.length} violation(s) in ${files} files`);
    return 1;
  }
  console.log(`check-imports: ${files} files, no violations`);
  return 0;
}

/** True when this file is the entry point, not imported by a test. */
function isEntryPoint() {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = main();

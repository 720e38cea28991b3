// The SDK's shape, checked on the published build (spec/client.md §12): `tsc -p
// tsconfig.build.json` into a temporary directory, then a walk of the import graph from the
// SDK entry. The entry must not reach the relay; client modules outside the Node platform
// folder must import no Node built-in, `lmdb` or `ws`; and the client and ratchet modules
// must not import each other in a cycle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, tempDir } from './_helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PLATFORM_PACKAGES = new Set(['lmdb', 'ws']);
const isBuiltin = (spec: string): boolean => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!);

/** Static imports and re-exports, and dynamic imports of string literals. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  const patterns = [/(?:^|[;\n])\s*(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/g, /(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

interface Graph { readonly modules: Map<string, { locals: string[]; packages: string[] }> }

function walk(entry: string): Graph {
  const modules: Graph['modules'] = new Map();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (modules.has(file)) continue;
    const locals: string[] = [], packages: string[] = [];
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) { const p = resolve(dirname(file), spec); locals.push(p); todo.push(p); }
      else packages.push(spec);
    }
    modules.set(file, { locals, packages });
  }
  return { modules };
}

function cycles(g: Graph, inScope: (file: string) => boolean): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const next of g.modules.get(f)?.locals ?? []) {
      if (!inScope(next)) continue;
      if (state.get(next) === 'open') found.push(stack.slice(stack.indexOf(next)).concat(next));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of g.modules.keys()) if (inScope(f) && !state.has(f)) visit(f);
  return found;
}

const out = tempDir('sealpost-dist-');
execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'], { stdio: 'pipe' });
const graph = walk(join(out, 'client', 'index.js'));
const rel = (f: string): string => relative(out, f);

test('the walk sees the SDK (a test that cannot fail is a defect)', () => {
  const names = [...graph.modules.keys()].map(rel);
  for (const expected of ['client/client.js', 'client/node/platform.js', 'ratchet/ratchet.js', 'crypto/index.js']) assert.ok(names.includes(expected), expected);
  assert.ok(graph.modules.get(join(out, 'client', 'node', 'ws-socket.js'))!.packages.includes('ws'), 'the parser finds package imports');
});

test('the cycle finder finds a cycle', () => {
  const g: Graph = { modules: new Map([['a', { locals: ['b'], packages: [] }], ['b', { locals: ['c'], packages: [] }], ['c', { locals: ['a'], packages: [] }]]) };
  assert.equal(cycles(g, () => true), [['a', 'b', 'c', 'a']]);
});

test("import { Client } from 'sealpost' reaches no relay module", () => {
  const relay = [...graph.modules.keys()].map(rel).filter((f) => f.startsWith('relay/'));
  assert.equal(relay, []);
});

test('client modules outside client/node/ import no Node built-in, lmdb or ws', () => {
  const offending: string[] = [];
  for (const [file, { packages }] of graph.modules) {
    const r = rel(file);
    if (!r.startsWith('client/') || r.startsWith('client/node/')) continue;
    for (const p of packages) if (isBuiltin(p) || PLATFORM_PACKAGES.has(p)) offending.push(`${r} imports ${p}`);
  }
  assert.equal(offending, []);
});

test('no import cycles among the client and ratchet modules', () => {
  const found = cycles(graph, (f) => /^(client|ratchet)\//.test(rel(f)));
  assert.equal(found.map((c) => c.map(rel).join(' -> ')), []);
});

test.after(cleanup);
test.run();

#!/usr/bin/env node
// Bundles the browser builds with esbuild (spec/client.md §12.1), from compiled JavaScript:
//   <root>/browser/sealpost.js   the SDK's browser entry, for a plain <script type="module">
//   <root>/web/static/app.js     the web client that `sealpost web` serves
// The "browser" map of package.json (Node-only modules and their browser stand-ins) is applied
// to <root>, so the same table serves app builders' bundlers (on dist/) and this script (on
// dist/ or the tests' .build/src/). Prints each bundle's size, raw and gzipped.
// Usage: node scripts/build-browser.mjs [root]   (default: dist)
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const REPO = join(import.meta.dirname, '..');

/** package.json's "browser" map, its ./dist/ paths moved to `root`. */
function replacements(root) {
  const map = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).browser ?? {};
  return new Map(Object.entries(map).map(([from, to]) => [resolve(root, relative('dist', from)), resolve(root, relative('dist', to))]));
}

/** An esbuild plugin that swaps each mapped module for its browser stand-in. */
const browserMap = (table) => ({
  name: 'browser-map',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (args) => {
      const to = table.get(resolve(args.resolveDir, args.path));
      return to ? { path: to } : undefined;
    });
  },
});

/**
 * Builds both bundles, and any `extra` ({ name, entry, out }: tests and benches bundle their
 * page code the same way); resolves with their sizes and esbuild's metafiles.
 */
export async function buildBrowser(root = join(REPO, 'dist'), extra = []) {
  const table = replacements(root);
  const bundles = [
    { name: 'sdk', entry: join(root, 'client', 'browser', 'index.js'), out: join(root, 'browser', 'sealpost.js') },
    { name: 'web', entry: join(root, 'web', 'app.js'), out: join(root, 'web', 'static', 'app.js') },
    ...extra,
  ];
  const results = [];
  for (const x of bundles) {
    const r = await build({
      entryPoints: [x.entry], outfile: x.out, bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
      minify: true, sourcemap: true, metafile: true, logLevel: 'error', plugins: [browserMap(table)], write: false,
    });
    // Each file is written whole, then renamed into place: a page or server reading it meanwhile
    // (tests build in parallel) sees the old file or the new one, never half of one.
    for (const f of r.outputFiles) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(`${f.path}.${process.pid}.tmp`, f.contents);
      renameSync(`${f.path}.${process.pid}.tmp`, f.path);
    }
    const code = readFileSync(x.out);
    results.push({ ...x, bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length, metafile: r.metafile });
  }
  return results;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = resolve(process.argv[2] ?? join(REPO, 'dist'));
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const results = await buildBrowser(root);
  for (const r of results) console.log(`${relative(REPO, r.out)}: ${kib(r.bytes)}, ${kib(r.gzipBytes)} gzipped`);
  writeFileSync(join(root, 'browser', 'sizes.json'), JSON.stringify(Object.fromEntries(results.map((r) => [r.name, { bytes: r.bytes, gzipBytes: r.gzipBytes }])), null, 2) + '\n');
}

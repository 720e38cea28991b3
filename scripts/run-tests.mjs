#!/usr/bin/env node
// Runs every compiled uvu test file in its own process (two at a time, one per core),
// so that one crashing file cannot hide the others, then prints the closing line
// "N passed, N failed" that CI reads. Usage: node scripts/run-tests.mjs [substring ...]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = join(import.meta.dirname, '..');
const buildDir = join(root, '.build', 'test');
const filters = process.argv.slice(2);
const PER_FILE_TIMEOUT_MS = 8 * 60_000;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(buildDir).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => { out += `\n[runner] timed out after ${PER_FILE_TIMEOUT_MS} ms\n`; child.kill('SIGKILL'); }, PER_FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = strip(out);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
      let p = 0, f = 0;
      if (Number.isFinite(total) && Number.isFinite(passed)) {
        p = passed;
        f = Math.max(0, total - passed - skipped);
      }
      // A file that died, timed out or exited non-zero without a failing test still fails once.
      if ((code !== 0 || signal) && f === 0) f = 1;
      if (!Number.isFinite(total) && code === 0) f = 1; // ran no suite at all
      resolve({ file, passed: p, failed: f, ms: Date.now() - started, text });
    });
  });
}

const results = [];
const queue = [...files];
const width = Math.max(1, Math.min(2, availableParallelism()));
await Promise.all(Array.from({ length: width }, async () => {
  for (let f = queue.shift(); f; f = queue.shift()) {
    const r = await runFile(f);
    results.push(r);
    const name = relative(buildDir, r.file);
    console.log(`${r.failed ? 'FAIL' : 'ok  '} ${name}  (${r.passed} passed, ${r.failed} failed, ${r.ms} ms)`);
    if (r.failed) console.log(r.text.split('\n').map((l) => '    ' + l).join('\n'));
  }
}));

const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0) + (files.length === 0 ? 1 : 0);
if (files.length === 0) console.log('no test files found');
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;

// Runs `sealpost bench --quick` (as a child process, from the compiled .build/bench) into a
// temporary directory and checks the report: every suite present, no suite failed, every
// number finite, machine and commit recorded, Markdown and SVG written. Keeps the benchmarks
// from rotting; the numbers themselves are not judged here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumInstalled } from '../../bench/lib/chromium.js';

// The browser suite needs Debian's Chromium (CI installs it); without it that suite measures nothing.
const SUITES = ['primitives', 'envelopes', 'pool', 'fanout', 'relay', 'federation', 'scale', 'sdk', 'groups', 'ratchet', 'admission', ...(chromiumInstalled() ? ['browser'] : [])];

/** Paths of numbers that are not finite (NaN, Infinity) or of NaN-like nulls. */
function nonFinite(value: unknown, path = '$'): string[] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [path];
  if (value === null) return [path]; // JSON.stringify turns NaN and Infinity into null
  if (Array.isArray(value)) return value.flatMap((v, i) => nonFinite(v, `${path}[${i}]`));
  if (typeof value === 'object') return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => nonFinite(v, `${path}.${k}`));
  return [];
}
function countNumbers(value: unknown): number {
  if (typeof value === 'number') return 1;
  if (Array.isArray(value)) return value.reduce((a: number, v) => a + countNumbers(v), 0);
  if (value && typeof value === 'object') return Object.values(value).reduce((a: number, v) => a + countNumbers(v), 0);
  return 0;
}

test('bench --quick writes a complete report with finite numbers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-bench-test-'));
  try {
    const entry = fileURLToPath(new URL('../../bench/main.js', import.meta.url));
    const json = join(dir, 'report.json');
    const started = Date.now();
    const child = spawn(process.execPath, [entry, '--quick', '--silent', '--out', join(dir, 'out'), '--json', json], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | string>((resolve) => {
      // A bound against a hang, not a speed check (speed is the bench's own business).
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve('timeout'); }, 420_000);
      child.on('exit', (c) => { clearTimeout(t); resolve(c ?? -1); });
    });
    const seconds = (Date.now() - started) / 1000;
    assert.is(code, 0, `exit ${code} after ${seconds} s:\n${out.slice(-3000)}`);

    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      schema: number; quick: boolean; machine: Record<string, unknown>; git: Record<string, unknown>;
      targets: unknown[]; suites: Record<string, { result?: unknown; error?: string }>;
    };
    assert.is(report.schema, 1);
    assert.is(report.quick, true);
    for (const k of ['cpuModel', 'cores', 'node', 'os']) assert.ok(report.machine[k], `machine.${k}`);
    assert.match(String(report.git['commit']), /^([0-9a-f]{40}|unknown)$/);
    for (const id of SUITES) {
      const s = report.suites[id];
      assert.ok(s, `suite ${id} is in the report`);
      assert.is(s!.error, undefined, `suite ${id} failed: ${s!.error}`);
      assert.ok(countNumbers(s!.result) >= 5, `suite ${id} reports numbers`);
    }
    assert.equal(nonFinite(report.suites), [], 'every number is finite');
    assert.equal(nonFinite(report.targets), []);
    assert.ok(report.targets.length >= 4, 'the targets are evaluated');

    const files = readdirSync(join(dir, 'out'));
    for (const f of ['latest.json', 'latest.md', 'scaling.svg', 'latency.svg', 'primitives.svg']) assert.ok(files.includes(f), `${f} written`);
    const md = readFileSync(join(dir, 'out', 'latest.md'), 'utf8');
    assert.ok(md.includes(String(report.git['commit'])) && md.includes(String(report.machine['cpuModel'])), 'the report names the commit and the machine');
    for (const f of files.filter((x) => x.endsWith('.svg'))) {
      const svg = readFileSync(join(dir, 'out', f), 'utf8');
      assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'), `${f} is an SVG document`);
    }
    assert.not.ok(existsSync(join(dir, 'out', 'history')), 'quick runs keep no history');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

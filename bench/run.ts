// The benchmark runner: `sealpost bench [--quick] [--json FILE] [--out DIR] [--only a,b]`.
// Runs the suites one after the other, each within its time budget, prints progress on
// stderr and a table at the end on stdout, and writes the report (JSON, Markdown, SVG).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitInfo, loadMeter, machineInfo, type GitInfo, type LoadInfo, type MachineInfo } from './lib/machine.js';
import { now } from './lib/measure.js';
import { progress } from './lib/progress.js';
import { renderMarkdown, renderTerminal, targetsTable, type Table, type Target } from './lib/report.js';
import type { Suite, SuiteOutput } from './lib/suite.js';
import { primitivesSuite } from './suites/primitives.js';
import { envelopesSuite } from './suites/envelopes.js';
import { poolScalingSuite } from './suites/pool-scaling.js';
import { fanoutSuite } from './suites/fanout.js';
import { relaySuite } from './suites/relay.js';
import { sdkSuite } from './suites/sdk.js';
import { groupsSuite } from './suites/groups.js';
import { ratchetSuite } from './suites/ratchet.js';
import { browserSuite } from './suites/browser.js';
import { scaleOutSuite } from './suites/scale-out.js';
import { admissionSuite } from './suites/admission.js';
import { federationSuite } from './suites/federation.js';

export const SUITES: readonly Suite[] = [primitivesSuite, envelopesSuite, poolScalingSuite, fanoutSuite, relaySuite, federationSuite, scaleOutSuite, sdkSuite, groupsSuite, ratchetSuite, browserSuite, admissionSuite];

export interface BenchOptions {
  readonly quick: boolean;
  /** Also write the JSON report here. */
  readonly json?: string;
  /** Report directory; default bench/results (bench/results/quick with --quick). */
  readonly out?: string;
  readonly only?: readonly string[];
  /** No progress on stderr and no table on stdout. */
  readonly silent?: boolean;
  /** Re-render this saved JSON report instead of measuring. */
  readonly render?: string;
}

export interface SuiteReport {
  readonly title: string;
  readonly ms: number;
  readonly budgetMs: number;
  /** How busy the machine was meanwhile (a shared machine: other tenants show here). */
  readonly load: LoadInfo;
  readonly result?: unknown;
  readonly error?: string;
}

export interface BenchReport {
  readonly schema: 1;
  readonly tool: 'sealpost bench';
  readonly startedAt: string;
  readonly durationMs: number;
  readonly quick: boolean;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly git: GitInfo;
  readonly targets: readonly Target[];
  readonly suites: Readonly<Record<string, SuiteReport>>;
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  let quick = false;
  let json: string | undefined, out: string | undefined, only: string[] | undefined, render: string | undefined;
  let silent = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined || v === '') throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick' || a === '-q') quick = true;
    else if (a === '--json' || a.startsWith('--json=')) json = value();
    else if (a === '--out' || a.startsWith('--out=')) out = value();
    else if (a === '--only' || a.startsWith('--only=')) only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--render' || a.startsWith('--render=')) render = value();
    else if (a === '--silent') silent = true;
    else if (a === '--help' || a === '-h') return 'help';
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  return { quick, silent, ...(json ? { json } : {}), ...(out ? { out } : {}), ...(only ? { only } : {}), ...(render ? { render } : {}) };
}

export const USAGE = `usage: sealpost bench [--quick] [--json FILE] [--out DIR] [--only SUITE,...] [--silent]

  --quick       everything small, under a minute in all (reports go to bench/results/quick/)
  --json FILE   also write the JSON report to FILE
  --out DIR     report directory (default bench/results, or bench/results/quick with --quick)
  --only LIST   run only these suites: ${SUITES.map((s) => s.id).join(', ')}
  --silent      no progress and no table (the files are still written)
  --render FILE rebuild latest.md and the charts from a saved JSON report (no measuring)

Writes latest.json, latest.md and SVG charts; full runs also keep history/<date>-<commit>.json.`;

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const started = new Date();
  const t0 = now();
  const machine = machineInfo();
  const git = gitInfo(ROOT);
  const log = progress('bench', process.stderr, options.silent === true);
  const selected = SUITES.filter((s) => !options.only || options.only.includes(s.id));
  if (options.only) {
    const unknown = options.only.filter((id) => !SUITES.some((s) => s.id === id));
    if (unknown.length) throw new Error(`unknown suite(s): ${unknown.join(', ')}`);
  }
  log.step(`${options.quick ? 'quick' : 'full'} run on ${machine.cpuModel} (${machine.cores} cores), Node ${machine.node}, ${machine.os}, commit ${git.short}${git.dirty ? ' (dirty tree)' : ''}`);
  const suites: Record<string, SuiteReport> = {};
  const outputs: Output[] = [];
  const targets: Target[] = [];
  for (const suite of selected) {
    const budgetMs = options.quick ? suite.budget.quick : suite.budget.full;
    log.step(`${suite.title} (budget ${(budgetMs / 1000).toFixed(0)} s)`);
    const s0 = now();
    const meter = loadMeter();
    const p = progress(suite.id, process.stderr, options.silent === true);
    try {
      const result = await suite.measure({ quick: options.quick, budgetMs, progress: p, root: ROOT });
      p.done();
      const out: SuiteOutput = { result, ...suite.render(result) };
      const ms = now() - s0;
      suites[suite.id] = { title: suite.title, ms: Math.round(ms), budgetMs, load: meter(), result: out.result };
      outputs.push({ suite, out });
      targets.push(...out.targets);
      log.step(`${suite.id} done in ${(ms / 1000).toFixed(1)} s (${loadText(suites[suite.id]!.load)})`);
    } catch (e) {
      p.done();
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      suites[suite.id] = { title: suite.title, ms: Math.round(now() - s0), budgetMs, load: meter(), error };
      outputs.push({ suite, error });
      log.step(`${suite.id} FAILED: ${error.split('\n')[0]}`);
    }
  }
  const report: BenchReport = {
    schema: 1,
    tool: 'sealpost bench',
    startedAt: started.toISOString(),
    durationMs: Math.round(now() - t0),
    quick: options.quick,
    command: `node dist/cli/main.js bench${process.argv.slice(3).length ? ' ' + process.argv.slice(3).join(' ') : ''}`,
    machine,
    git,
    targets,
    suites,
  };

  const outDir = resolve(options.out ?? join(ROOT, 'bench', 'results', ...(options.quick ? ['quick'] : [])));
  const written = writeReport(report, outputs, outDir, {
    history: !options.quick && !options.out && !options.only,
    ...(options.json ? { json: options.json } : {}),
  });
  log.step(`wrote ${written.map((f) => relative(process.cwd(), f) || f).join(', ')}`);

  if (!options.silent) {
    const tables: Table[] = outputs.flatMap((o) => o.out?.tables ?? []);
    if (targets.length) tables.push(targetsTable(targets));
    process.stdout.write('\n' + tables.map(renderTerminal).join('\n\n') + '\n');
    const failed = outputs.filter((o) => o.error);
    if (failed.length) process.stdout.write(`\nFAILED suites: ${failed.map((o) => o.suite.id).join(', ')}\n`);
    process.stdout.write(`\n${options.quick ? 'quick' : 'full'} run: ${(report.durationMs / 1000).toFixed(1)} s, commit ${git.short}${git.dirty ? ' (dirty)' : ''}\n`);
  }
  return report;
}

type Output = { suite: Suite; out?: SuiteOutput; error?: string };

/** Writes latest.json, latest.md and the charts into `outDir` (and history/, --json); returns the paths. */
function writeReport(report: BenchReport, outputs: readonly Output[], outDir: string, opts: { history: boolean; json?: string }): string[] {
  mkdirSync(outDir, { recursive: true });
  const json = JSON.stringify(report, null, 2) + '\n';
  const files = [join(outDir, 'latest.json'), join(outDir, 'latest.md')];
  writeFileSync(files[0]!, json);
  if (opts.history) {
    mkdirSync(join(outDir, 'history'), { recursive: true });
    writeFileSync(join(outDir, 'history', `${report.startedAt.slice(0, 19).replace(/[:T]/g, '-')}-${report.git.short}.json`), json);
  }
  if (opts.json) {
    mkdirSync(dirname(resolve(opts.json)), { recursive: true });
    writeFileSync(resolve(opts.json), json);
    files.push(resolve(opts.json));
  }
  for (const o of outputs) {
    for (const [file, svg] of Object.entries(o.out?.charts ?? {})) {
      writeFileSync(join(outDir, file), svg);
      files.push(join(outDir, file));
    }
  }
  writeFileSync(files[1]!, markdown(report, outputs));
  return files;
}

/**
 * `--render FILE`: rebuilds the Markdown report and the charts of a saved JSON report (after a
 * change to the tables or charts) without measuring again; the numbers are the saved ones.
 */
export function renderSaved(file: string, out?: string): string[] {
  const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  const outputs: Output[] = [];
  for (const suite of SUITES) {
    const s = report.suites[suite.id];
    if (!s) continue;
    if (s.error !== undefined || s.result === undefined) { outputs.push({ suite, error: s.error ?? 'no result' }); continue; }
    outputs.push({ suite, out: { result: s.result, ...suite.render(s.result) } });
  }
  const targets = outputs.flatMap((o) => o.out?.targets ?? []);
  return writeReport({ ...report, targets }, outputs, resolve(out ?? dirname(file)), { history: false });
}

function loadText(l: LoadInfo): string {
  const parts = [];
  if (l.machineBusyPct !== undefined) parts.push(`machine ${l.machineBusyPct}% busy`);
  parts.push(`this process ${l.selfPct}%`);
  if (l.stealPct) parts.push(`steal ${l.stealPct}%`);
  return `${parts.join(', ')} of all cores; load average ${l.loadAvgStart} → ${l.loadAvgEnd}`;
}

function markdown(r: BenchReport, outputs: readonly Output[]): string {
  const m = r.machine;
  const lines = [
    `# Sealpost benchmark report (${r.quick ? 'quick' : 'full'} run)`,
    '',
    `- Date: ${r.startedAt}`,
    `- Command: \`${r.command}\``,
    `- Commit: \`${r.git.commit}\`${r.git.dirty ? ' (tree had uncommitted changes)' : ''} on ${r.git.branch}`,
    `- Machine: ${m.cpuModel}, ${m.cores} cores (availableParallelism ${m.availableParallelism}), ${m.totalMemGiB} GiB, ${m.os} ${m.arch}, load average ${m.loadAvg1m} at start`,
    `- Runtime: Node ${m.node} (V8 ${m.v8})`,
    `- Duration: ${(r.durationMs / 1000).toFixed(1)} s`,
    '',
    'Numbers come from one run on a shared machine: compare the ratios within this report rather than absolute values across reports.',
    '',
  ];
  if (r.targets.length) lines.push(renderMarkdown(targetsTable(r.targets), '##'), '');
  for (const o of outputs) {
    lines.push(`## ${o.suite.title}`, '');
    const s = r.suites[o.suite.id];
    lines.push(`Time: ${((s?.ms ?? 0) / 1000).toFixed(1)} s (budget ${((s?.budgetMs ?? 0) / 1000).toFixed(0)} s). Machine meanwhile: ${s ? loadText(s.load) : '–'}.`, '');
    if (o.error) { lines.push('```', o.error, '```', ''); continue; }
    for (const t of o.out?.tables ?? []) lines.push(renderMarkdown(t), '');
    for (const n of o.out?.notes ?? []) lines.push(n, '');
    for (const file of Object.keys(o.out?.charts ?? {})) lines.push(`![${file}](${file})`, '');
  }
  return lines.join('\n');
}

/** The command line: parses `argv`, runs, and returns the exit code (1 if a suite failed). */
export async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`sealpost bench: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (options === 'help') { process.stdout.write(USAGE + '\n'); return 0; }
  if (options.render) {
    const files = renderSaved(options.render, options.out);
    process.stderr.write(`wrote ${files.join(', ')}\n`);
    return 0;
  }
  const report = await runBench(options);
  return Object.values(report.suites).some((s) => s.error !== undefined) ? 1 : 0;
}

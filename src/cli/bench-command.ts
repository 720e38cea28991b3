// `sealpost bench`: the benchmark suites live in bench/ (TypeScript, outside the published
// dist/). This compiles them with the project's TypeScript into .build/ (incremental, about
// a second), then runs bench/run.ts from there. Needs a source checkout with dev dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule { main(argv: readonly string[]): Promise<number> }

export async function benchCommand(argv: readonly string[]): Promise<number> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const tsconfig = join(root, 'bench', 'tsconfig.json');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsconfig) || !existsSync(tsc)) {
    console.error('sealpost bench needs a source checkout with its dev dependencies (bench/ and node_modules/typescript).');
    return 2;
  }
  const built = spawnSync(process.execPath, [tsc, '-p', tsconfig], { cwd: root, encoding: 'utf8' });
  const runner = join(root, '.build', 'bench', 'run.js');
  if (built.status !== 0) {
    // tsc still emits on type errors (someone's work in progress elsewhere); say so and go on.
    const first = `${built.stdout ?? ''}${built.stderr ?? ''}`.split('\n').filter(Boolean).slice(0, 5).join('\n');
    console.error(`sealpost bench: TypeScript reported errors while compiling the benchmarks:\n${first}`);
    if (!existsSync(runner)) return 2;
  }
  const mod = (await import(pathToFileURL(runner).href)) as BenchModule;
  return mod.main(argv);
}

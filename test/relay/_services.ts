// Real PostgreSQL and nats-server for tests (spec/scale-out.md §6): each test file starts its
// own, in a temporary directory on a free port, and stops it. PostgreSQL refuses to run as
// root, so as root its files belong to `nobody` and it runs through runuser. Where the
// programs are missing, `available*()` says so in one line with how to install them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, sleep, tempDir } from './_helpers.js';

const PG_DIRS = ['/usr/local/bin', ...(() => {
  try { return readdirSync('/usr/lib/postgresql').sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin`); } catch { return []; }
})()];
const NATS_PATHS = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

function pgBin(name: string): string | null {
  for (const d of PG_DIRS) if (existsSync(join(d, name))) return join(d, name);
  return null;
}
const natsBin = (): string | null => NATS_PATHS.find((p) => existsSync(p)) ?? null;

/** null when PostgreSQL can run here; otherwise the line to print. */
export function postgresMissing(): string | null {
  return pgBin('initdb') && pgBin('pg_ctl') && pgBin('postgres') ? null : 'PostgreSQL not found: skipped (apt-get install postgresql)';
}
export function natsMissing(): string | null {
  return natsBin() ? null : 'nats-server not found: skipped (apt-get install nats-server)';
}

const asRoot = process.getuid?.() === 0;
/** Runs a PostgreSQL program as an unprivileged user when we are root. */
function pgArgs(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'nobody', '--', bin, ...args]] : [bin, args];
}

export interface Postgres {
  readonly url: string;
  readonly port: number;
  /** Stops the server at once, as a crash would (pg_ctl -m immediate); start() brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its files. */
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<Postgres> {
  const dir = tempDir('sealpost-pg-');
  const data = join(dir.path, 'data');
  if (asRoot) chownSync(dir.path, 65534, 65534);
  const [initdb, initArgs] = pgArgs(pgBin('initdb')!, ['-D', data, '-A', 'trust', '-U', 'sealpost', '--no-sync', '-E', 'UTF8']);
  const init = spawnSync(initdb, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const pgCtl = (args: string[]): Promise<void> => new Promise((resolve, reject) => {
    const [bin, a] = pgArgs(pgBin('pg_ctl')!, args);
    const child = spawn(bin, a, { stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args[0]} exited ${code}`))));
  });
  const start = (): Promise<void> => pgCtl(['start', '-w', '-D', data, '-l', join(dir.path, 'log'), '-o', `-p ${port} -k ${dir.path} -c listen_addresses=127.0.0.1 -c fsync=on`]);
  await start();
  return {
    url: `postgres://sealpost@127.0.0.1:${port}/postgres`,
    port,
    kill: () => pgCtl(['stop', '-w', '-D', data, '-m', 'immediate']),
    start,
    async stop() {
      await pgCtl(['stop', '-w', '-D', data, '-m', 'fast']).catch(() => {});
      dir.rm();
    },
  };
}

export interface Nats { readonly url: string; stop(): Promise<void> }

export async function startNats(): Promise<Nats> {
  const port = await freePort();
  const child: ChildProcess = spawn(natsBin()!, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  // Ready when the port answers.
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    await sleep(50);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

// `sealpost relay`: runs a relay until SIGTERM/SIGINT, then drains and exits 0.
// `sealpost relay backup --data DIR --to OUT`: copies a (running) relay's store and identity.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, helpText, resolveConfig } from '../relay/config.js';
import { IDENTITY_FILE } from '../relay/identity.js';
import { availableParallelism } from 'node:os';
import { startRelay } from '../relay/index.js';
import { runPrimary } from '../relay/cluster-primary.js';
import { isClusterWorker, runWorker } from '../relay/cluster-worker.js';

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

const defaultIo: CommandIo = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
  env: process.env,
};

/** Runs the command; resolves with the exit code once the relay has stopped. */
export async function relayCommand(argv: readonly string[], io: CommandIo = defaultIo): Promise<number> {
  if (argv[0] === 'backup') return backupCommand(argv.slice(1), io);
  let resolved;
  try {
    resolved = resolveConfig({ argv, env: io.env, readFile: (p) => readFileSync(p, 'utf8') });
  } catch (e) {
    if (e instanceof ConfigError) { io.err(`sealpost relay: ${e.message}`); return 2; }
    throw e;
  }
  if (resolved.help) { io.out(helpText()); return 0; }
  if (resolved.rest.length > 0) { io.err(`sealpost relay: unexpected argument ${resolved.rest[0]} (see --help)`); return 2; }
  const config = resolved.config;
  // Several processes on one port and one store (spec/scale-out.md).
  if (isClusterWorker(io.env)) return runWorker(config, io.env, io.err);
  const processes = config.processes === 'auto' ? availableParallelism() : config.processes;
  if (processes > 1) return runPrimary(config, processes, io);

  let relay;
  try {
    relay = await startRelay(config);
  } catch (e) {
    io.err(`sealpost relay: could not start: ${(e as Error).message}`);
    return 1;
  }
  const metrics = relay.metricsPort === null ? 'off' : `http://${config.metricsHost}:${relay.metricsPort}/metrics`;
  io.out([
    `Sealpost relay running.`,
    `  address: ${relay.address}`,
    `  metrics: ${metrics}`,
    `  data:    ${resolve(config.dataDir)}`,
    ``,
    `The address carries the relay's fingerprint; give it to your users as is.`,
    `Try it:`,
    `  npx sealpost demo            (its own embedded relay, end to end)`,
    `  npx sealpost chat --profile alice --relay ${relay.address}`,
    ``,
    `Stop with Ctrl-C (drains, then exits).`,
  ].join('\n'));

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) { io.err(`sealpost relay: ${signal} again, exiting now`); process.exit(1); }
      stopping = true;
      io.err(`sealpost relay: ${signal}, draining`);
      relay.close().then(() => done(0), (e: unknown) => { io.err(`sealpost relay: close failed: ${(e as Error).message}`); done(1); });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // A closed relay reads its policy and epoch secrets again (spec/protocol.md §5.12).
    process.on('SIGHUP', () => { relay.reloadAdmission(); });
  });
}

/** Copies the LMDB store (a consistent snapshot, safe while the relay runs) and the identity file. */
async function backupCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let data = io.env['SEALPOST_DATA'] ?? './sealpost-data';
  let to: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = inline ?? argv[++i];
    if (name === '--data' && value) data = value;
    else if (name === '--to' && value) to = value;
    else { io.err(`sealpost relay backup: unknown or incomplete option ${a}`); return 2; }
  }
  if (!to) { io.err('usage: sealpost relay backup --data DIR --to BACKUP_DIR'); return 2; }
  const { open } = await import('lmdb');
  mkdirSync(join(to, 'store'), { recursive: true, mode: 0o700 });
  // LMDB allows other processes to read the environment while the relay writes it.
  const db = open({ path: join(data, 'store'), maxDbs: 12, readOnly: true });
  try {
    await db.backup(join(to, 'store'), false);
  } finally {
    await db.close();
  }
  copyFileSync(join(data, IDENTITY_FILE), join(to, IDENTITY_FILE));
  io.out(`backed up ${resolve(data)} to ${resolve(to)}`);
  return 0;
}

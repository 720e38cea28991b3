// The Node RecordBackend (spec/client.md §7): one LMDB environment in <dataDir>/store, and
// the profile's lock file <dataDir>/LOCK (§7.3).
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ClientError } from '../errors.js';
import type { RecordBackend, RecordChange } from '../profile-store.js';

const openDirs = new Set<string>();

/** Takes the data directory's lock file, or throws PROFILE_LOCKED if a live process holds it. */
function takeLock(dir: string): string {
  const path = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new ClientError('PROFILE_LOCKED', `the data directory is in use by process ${pid}`);
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new ClientError('PROFILE_LOCKED', 'could not take the data directory lock');
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

class LmdbRecords implements RecordBackend {
  constructor(
    private readonly storeDir: string,
    private readonly lockPath: string,
    private readonly root: RootDatabase,
    private readonly db: Database<Uint8Array, Uint8Array>,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    const v = this.db.getBinary(Buffer.from(key));
    return v === undefined ? undefined : new Uint8Array(v);
  }

  *entries(): Iterable<readonly [Uint8Array, Uint8Array]> {
    for (const { key, value } of this.db.getRange({})) yield [new Uint8Array(key as Uint8Array), new Uint8Array(value)];
  }

  commit(changes: readonly RecordChange[]): Promise<void> {
    // Writes issued in one event-loop turn are one LMDB transaction (lmdb's batching).
    const pending: Array<PromiseLike<unknown>> = [];
    for (const c of changes) {
      const key = Buffer.from(c.key);
      pending.push(c.value === null ? this.db.remove(key) : this.db.put(key, c.value));
    }
    return Promise.all(pending).then(() => undefined);
  }

  async close(): Promise<void> {
    try {
      await this.root.close();
    } finally {
      openDirs.delete(this.storeDir);
      rmSync(this.lockPath, { force: true });
    }
  }
}

/** Opens `<dir>/store` (made 0700), after taking `<dir>/LOCK`. */
export async function openLmdbRecords(dir: string): Promise<RecordBackend> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const storeDir = join(dir, 'store');
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  if (openDirs.has(storeDir)) throw new ClientError('PROFILE_LOCKED', 'the data directory is already open in this process');
  const lockPath = takeLock(dir);
  openDirs.add(storeDir);
  try {
    const root = open({ path: storeDir, maxDbs: 2, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
    const db = root.openDB<Uint8Array, Uint8Array>({ name: 'records', encoding: 'binary', keyEncoding: 'binary' });
    return new LmdbRecords(storeDir, lockPath, root, db);
  } catch (e) {
    openDirs.delete(storeDir);
    rmSync(lockPath, { force: true });
    throw e;
  }
}

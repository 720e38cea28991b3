// The encrypted local store (spec/client.md §7): one LMDB environment under the data
// directory. A clear header holds the scrypt parameters, the salt and a check value; every
// other entry is keyed by HMAC(indexKey, kind || 0x00 || id), so the keys reveal neither
// record kinds nor contact ids, and its value is XChaCha20-Poly1305 under storeKey with
// the LMDB key as associated data (a value moved to another key does not open).
// Everything is read into memory at open; writes go through `write`, one atomic LMDB
// transaction per call, and resolve once committed.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import {
  checkScryptParams, concat, DEFAULT_SCRYPT_PARAMS, derivePassphraseKey, equalBytes, fromUtf8, hkdf, hmacSha256, isCryptoError,
  PASSPHRASE_SALT_LENGTH, randomBytes, utf8, wipe, xchacha20poly1305Open, xchacha20poly1305Seal, type AeadKey, type ScryptParams,
} from '../crypto/index.js';
import { Reader, Writer } from './codec.js';
import { ClientError } from './errors.js';
import { CLIENT_LABELS } from './labels.js';

const HEADER_KEY = utf8('sealpost-store-header');
const HEADER_VERSION = 1;
const openDirs = new Set<string>();

export interface StoreOp {
  readonly kind: string;
  readonly id: string;
  /** null deletes the record. */
  readonly value: Uint8Array | null;
}

export interface StoreOpenOptions {
  readonly dir: string;
  readonly passphrase: string;
  /** scrypt cost for a new store (an existing store keeps its own). */
  readonly kdf?: ScryptParams;
}

interface Header { params: ScryptParams; salt: Uint8Array; check: Uint8Array }

export function encodeHeader(h: Header): Uint8Array {
  return new Writer().u8(HEADER_VERSION).u32(h.params.N).u8(h.params.r).u8(h.params.p).bytes(h.salt, PASSPHRASE_SALT_LENGTH).bytes(h.check, 32).finish();
}

export function decodeHeader(b: Uint8Array): Header {
  const r = new Reader(b);
  if (r.u8() !== HEADER_VERSION) throw new ClientError('STORE_CORRUPT', 'unknown store header version');
  const params = { N: r.u32(), r: r.u8(), p: r.u8() };
  const h = { params, salt: r.bytes(PASSPHRASE_SALT_LENGTH), check: r.bytes(32) };
  r.end();
  return h;
}

interface Keys { storeKey: AeadKey; indexKey: Uint8Array; check: Uint8Array }

async function deriveKeys(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Keys> {
  const master = await derivePassphraseKey(passphrase, salt, params);
  try {
    return {
      storeKey: hkdf(master, salt, CLIENT_LABELS.storeKey, 32) as AeadKey,
      indexKey: hkdf(master, salt, CLIENT_LABELS.storeIndex, 32),
      check: hkdf(master, salt, CLIENT_LABELS.storeCheck, 32),
    };
  } finally {
    wipe(master);
  }
}

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

export class LocalStore {
  /** True when this open created the store (a new identity follows). */
  readonly created: boolean;
  private readonly records = new Map<string, Map<string, Uint8Array>>();
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly lockPath: string,
    private readonly root: RootDatabase,
    private readonly db: Database<Uint8Array, Uint8Array>,
    private readonly keys: Keys,
    created: boolean,
  ) {
    this.created = created;
  }

  static async open(opts: StoreOpenOptions): Promise<LocalStore> {
    if (typeof opts.passphrase !== 'string' || opts.passphrase.length === 0) {
      throw new ClientError('INVALID_ARGUMENT', 'a non-empty passphrase is required');
    }
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const storeDir = join(opts.dir, 'store');
    mkdirSync(storeDir, { recursive: true, mode: 0o700 });
    if (openDirs.has(storeDir)) throw new ClientError('PROFILE_LOCKED', 'the data directory is already open in this process');
    const lockPath = takeLock(opts.dir);
    openDirs.add(storeDir);
    let root: RootDatabase | undefined;
    try {
      root = open({ path: storeDir, maxDbs: 2, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
      const db = root.openDB<Uint8Array, Uint8Array>({ name: 'records', encoding: 'binary', keyEncoding: 'binary' });
      const rawHeader = db.getBinary(Buffer.from(HEADER_KEY));
      let keys: Keys;
      let created = false;
      if (rawHeader === undefined) {
        const params = checkScryptParams(opts.kdf ?? DEFAULT_SCRYPT_PARAMS);
        const salt = randomBytes(PASSPHRASE_SALT_LENGTH);
        keys = await deriveKeys(opts.passphrase, salt, params);
        await db.put(Buffer.from(HEADER_KEY), encodeHeader({ params, salt, check: keys.check }));
        created = true;
      } else {
        const header = decodeHeader(new Uint8Array(rawHeader));
        keys = await deriveKeys(opts.passphrase, header.salt, checkScryptParams(header.params));
        if (!equalBytes(keys.check, header.check)) throw new ClientError('WRONG_PASSPHRASE', 'the passphrase does not open this store');
      }
      const store = new LocalStore(storeDir, lockPath, root, db, keys, created);
      store.load();
      return store;
    } catch (e) {
      openDirs.delete(storeDir);
      rmSync(lockPath, { force: true });
      await root?.close();
      throw e;
    }
  }

  get(kind: string, id: string): Uint8Array | undefined {
    return this.records.get(kind)?.get(id);
  }

  /** All records of one kind, as [id, value]. */
  entries(kind: string): Array<[string, Uint8Array]> {
    return [...(this.records.get(kind) ?? new Map<string, Uint8Array>()).entries()];
  }

  /** Applies all ops in one LMDB transaction; memory is updated at once, the promise resolves when committed. */
  write(ops: readonly StoreOp[]): Promise<void> {
    if (this.closed) return Promise.reject(new ClientError('CLOSED', 'the store is closed'));
    const pending: Array<PromiseLike<unknown>> = [];
    for (const op of ops) {
      const name = this.nameOf(op.kind, op.id);
      const key = Buffer.from(hmacSha256(this.keys.indexKey, name));
      let byKind = this.records.get(op.kind);
      if (!byKind) this.records.set(op.kind, (byKind = new Map()));
      if (op.value === null) {
        byKind.delete(op.id);
        pending.push(this.db.remove(key));
      } else {
        byKind.set(op.id, op.value);
        pending.push(this.db.put(key, this.seal(key, name, op.value)));
      }
    }
    // Everything issued in this turn commits in one transaction (lmdb's batching).
    return Promise.all(pending).then(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.root.close();
    } finally {
      openDirs.delete(this.dir);
      rmSync(this.lockPath, { force: true });
      wipe(this.keys.storeKey, this.keys.indexKey);
      this.records.clear();
    }
  }

  private nameOf(kind: string, id: string): Uint8Array {
    if (kind.includes('\0')) throw new ClientError('INVALID_ARGUMENT', 'record kind must not contain NUL');
    return utf8(`${kind}\0${id}`);
  }

  private seal(key: Uint8Array, name: Uint8Array, value: Uint8Array): Uint8Array {
    const nonce = randomBytes(24);
    const pt = new Writer().var16(name).bytes(value).finish();
    return concat(nonce, xchacha20poly1305Seal(this.keys.storeKey, nonce, pt, concat(CLIENT_LABELS.storeRecord, key)));
  }

  private load(): void {
    for (const { key, value } of this.db.getRange({})) {
      const k = new Uint8Array(key as Uint8Array);
      if (equalBytes(k, HEADER_KEY) || k.length !== 32) continue;
      const v = new Uint8Array(value);
      let pt: Uint8Array;
      try {
        pt = xchacha20poly1305Open(this.keys.storeKey, v.subarray(0, 24), v.subarray(24), concat(CLIENT_LABELS.storeRecord, k));
      } catch (e) {
        if (isCryptoError(e)) throw new ClientError('STORE_CORRUPT', 'a store record does not decrypt', { cause: e });
        throw e;
      }
      const r = new Reader(pt);
      const name = r.var16();
      if (!equalBytes(hmacSha256(this.keys.indexKey, name), k)) throw new ClientError('STORE_CORRUPT', 'a store record sits under another key');
      const text = fromUtf8(name);
      const sep = text.indexOf('\0');
      const kind = text.slice(0, sep), id = text.slice(sep + 1);
      let byKind = this.records.get(kind);
      if (!byKind) this.records.set(kind, (byKind = new Map()));
      byKind.set(id, r.rest());
    }
  }
}

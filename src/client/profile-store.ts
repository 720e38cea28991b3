// The encrypted profile store (spec/client.md §7), platform-free. The platform supplies a
// RecordBackend (raw keys and values, atomic commits: LMDB on Node, IndexedDB in browsers);
// this module owns the format, identical on every backend: a clear header with the scrypt
// parameters, salt and check value, and records keyed by HMAC(indexKey, kind || 0x00 || id),
// sealed with XChaCha20-Poly1305 under storeKey with the key as associated data.
//
// Everything is read into memory at open. Writes are group-committed (§7.4): `write` queues
// its ops and returns at once; the queue is committed as ONE backend transaction as soon as
// no other commit is running, so callers that write while a commit runs share the next one.
// An op whose value is a function is encoded when its commit is built, so a record changed
// many times between two commits (a ratchet session) is encoded and sealed once, with its
// newest value. Promises resolve in the order the writes were made.
import {
  checkScryptParams, concat, DEFAULT_SCRYPT_PARAMS, derivePassphraseKey, equalBytes, fromUtf8, hkdf, hmacSha256, isCryptoError,
  PASSPHRASE_SALT_LENGTH, randomBytes, utf8, wipe, xchacha20poly1305Open, xchacha20poly1305Seal, type AeadKey, type ScryptParams,
} from '../crypto/index.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { ClientError } from './errors.js';
import { CLIENT_LABELS } from './labels.js';

export const HEADER_KEY = utf8('sealpost-store-header');
const HEADER_VERSION = 1;
const RECORD_KEY_LENGTH = 32;
/** Longest a deferred change waits for a commit to ride with. */
const DEFERRED_MS = 1_000;

/** One change of the raw storage: `value` null deletes `key`. */
export interface RecordChange {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/** What a platform stores: opaque keys and values, read at open, changed by atomic commits. */
export interface RecordBackend {
  get(key: Uint8Array): Uint8Array | undefined;
  /** Every stored entry, the header included. */
  entries(): Iterable<readonly [Uint8Array, Uint8Array]>;
  /** Applies every change in one atomic, durable transaction. */
  commit(changes: readonly RecordChange[]): Promise<void>;
  /** Releases the storage and the profile's lock. */
  close(): Promise<void>;
}

/** A value, or a function that makes it when the commit is built (the newest state then). */
export type RecordValue = Uint8Array | (() => Uint8Array);

export interface StoreOp {
  readonly kind: string;
  readonly id: string;
  /** null deletes the record. */
  readonly value: RecordValue | null;
}

export interface StoreOpenOptions {
  readonly passphrase: string;
  /** scrypt cost for a new store (an existing store keeps its own). */
  readonly kdf?: ScryptParams;
}

interface Header { params: ScryptParams; salt: Uint8Array; check: Uint8Array }

export function encodeHeader(h: Header): Uint8Array {
  return new Writer().u8(HEADER_VERSION).u32(h.params.N).u8(h.params.r).u8(h.params.p).bytes(h.salt, PASSPHRASE_SALT_LENGTH).bytes(h.check, 32).finish();
}

export function decodeHeader(b: Uint8Array): Header {
  try {
    const r = new Reader(b);
    if (r.u8() !== HEADER_VERSION) throw new ClientError('STORE_CORRUPT', 'unknown store header version');
    const params = { N: r.u32(), r: r.u8(), p: r.u8() };
    const h = { params, salt: r.bytes(PASSPHRASE_SALT_LENGTH), check: r.bytes(32) };
    r.end();
    return h;
  } catch (e) {
    if (e instanceof MalformedError) throw new ClientError('STORE_CORRUPT', 'the store header does not decode', { cause: e });
    throw e;
  }
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

function recordName(kind: string, id: string): Uint8Array {
  if (kind.includes('\0')) throw new ClientError('INVALID_ARGUMENT', 'record kind must not contain NUL');
  return utf8(`${kind}\0${id}`);
}

/** A record in memory: its storage key (computed once) and its value. */
interface Held { readonly key: Uint8Array; value: RecordValue }
interface Queued { readonly key: Uint8Array; readonly name: Uint8Array; readonly value: RecordValue | null }
interface Waiter { resolve(): void; reject(e: Error): void }

const valueOf = (v: RecordValue): Uint8Array => (typeof v === 'function' ? v() : v);

export class ProfileStore {
  private readonly records = new Map<string, Map<string, Held>>();
  /** Ops not yet in a commit, by record (a later op replaces an earlier one). */
  private queue = new Map<string, Queued>();
  private waiters: Waiter[] = [];
  private committing = false;
  private scheduled = false;
  private closed = false;
  private failed: ClientError | null = null;
  private deferTimer: ReturnType<typeof setTimeout> | null = null;
  /** Commits issued and finished (tests and stats). */
  commits = 0;
  /** Called once if a commit fails (the owner then closes: memory is ahead of the disk). */
  onFailure: ((e: ClientError) => void) | null = null;

  private constructor(private readonly backend: RecordBackend, private readonly keys: Keys, readonly created: boolean) {}

  /**
   * Opens (or creates) the store on `backend`, which it then owns (closed on failure too);
   * WRONG_PASSPHRASE if the passphrase does not open it, STORE_CORRUPT for a bad record.
   */
  static async open(backend: RecordBackend, opts: StoreOpenOptions): Promise<ProfileStore> {
    try {
      const store = await ProfileStore.unlock(backend, opts);
      store.load();
      return store;
    } catch (e) {
      await backend.close();
      throw e;
    }
  }

  private static async unlock(backend: RecordBackend, opts: StoreOpenOptions): Promise<ProfileStore> {
    if (typeof opts.passphrase !== 'string' || opts.passphrase.length === 0) {
      throw new ClientError('INVALID_ARGUMENT', 'a non-empty passphrase is required');
    }
    const rawHeader = backend.get(HEADER_KEY);
    if (rawHeader === undefined) {
      const params = checkScryptParams(opts.kdf ?? DEFAULT_SCRYPT_PARAMS);
      const salt = randomBytes(PASSPHRASE_SALT_LENGTH);
      const keys = await deriveKeys(opts.passphrase, salt, params);
      await backend.commit([{ key: HEADER_KEY, value: encodeHeader({ params, salt, check: keys.check }) }]);
      return new ProfileStore(backend, keys, true);
    }
    const header = decodeHeader(rawHeader);
    const keys = await deriveKeys(opts.passphrase, header.salt, checkScryptParams(header.params));
    if (!equalBytes(keys.check, header.check)) throw new ClientError('WRONG_PASSPHRASE', 'the passphrase does not open this store');
    return new ProfileStore(backend, keys, false);
  }

  get(kind: string, id: string): Uint8Array | undefined {
    const h = this.records.get(kind)?.get(id);
    return h && valueOf(h.value);
  }

  has(kind: string, id: string): boolean {
    return this.records.get(kind)?.has(id) === true;
  }

  /** The ids of one kind's records. */
  ids(kind: string): string[] {
    return [...(this.records.get(kind)?.keys() ?? [])];
  }

  /** All records of one kind, as [id, value]. */
  entries(kind: string): Array<[string, Uint8Array]> {
    return [...(this.records.get(kind) ?? new Map<string, Held>())].map(([id, h]) => [id, valueOf(h.value)]);
  }

  /**
   * Queues `ops` (memory changes at once) and resolves once they are durably committed,
   * all in one transaction with whatever else was queued meanwhile. STORE_FAILED if the
   * backend could not commit (the store is then closed: memory is ahead of the disk).
   */
  write(ops: readonly StoreOp[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new ClientError('CLOSED', 'the store is closed'));
    this.queueOps(ops);
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.schedule();
    return p;
  }

  /**
   * Queues `ops` without asking for a commit of their own: they ride with the next commit,
   * or go within DEFERRED_MS (§7.4). For changes whose loss in a crash costs only repeated
   * work (an outbox entry already accepted by the relay is sent again, and dropped by the
   * recipient's ratchet as a replay).
   */
  defer(ops: readonly StoreOp[]): void {
    if (this.failed || this.closed) return;
    this.queueOps(ops);
    if (!this.deferTimer) {
      this.deferTimer = setTimeout(() => { this.deferTimer = null; void this.write([]).catch(() => undefined); }, DEFERRED_MS);
      (this.deferTimer as { unref?: () => void }).unref?.();
    }
  }

  private queueOps(ops: readonly StoreOp[]): void {
    for (const op of ops) {
      let byKind = this.records.get(op.kind);
      if (!byKind) this.records.set(op.kind, (byKind = new Map()));
      const held = byKind.get(op.id);
      const name = recordName(op.kind, op.id);
      const key = held?.key ?? hmacSha256(this.keys.indexKey, name);
      if (op.value === null) byKind.delete(op.id);
      else if (held) held.value = op.value;
      else byKind.set(op.id, { key, value: op.value });
      this.queue.set(`${op.kind}\0${op.id}`, { key, name, value: op.value });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.deferTimer) { clearTimeout(this.deferTimer); this.deferTimer = null; }
    while (!this.failed && (this.committing || this.queue.size > 0)) await this.flushed();
    this.closed = true;
    try {
      await this.backend.close();
    } finally {
      wipe(this.keys.storeKey, this.keys.indexKey);
      this.records.clear();
    }
  }

  private flushed(): Promise<void> {
    return new Promise((resolve) => { this.waiters.push({ resolve, reject: () => resolve() }); this.schedule(); });
  }

  private schedule(): void {
    if (this.scheduled || this.committing) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.committing || this.waiters.length === 0) return;
    const queue = this.queue, waiters = this.waiters;
    this.queue = new Map();
    this.waiters = [];
    if (queue.size === 0) {
      for (const w of waiters) w.resolve();
      return;
    }
    this.committing = true;
    let changes: RecordChange[];
    try {
      changes = [...queue.values()].map((q) => ({ key: q.key, value: q.value === null ? null : this.seal(q.key, q.name, valueOf(q.value)) }));
    } catch (e) {
      this.committing = false;
      return this.fail(waiters, e);
    }
    this.backend.commit(changes).then(
      () => {
        this.commits++;
        this.committing = false;
        for (const w of waiters) w.resolve();
        this.schedule();
      },
      (e: unknown) => {
        this.committing = false;
        this.fail(waiters, e);
      },
    );
  }

  /** A failed commit: memory no longer matches the disk, so nothing more is written. */
  private fail(waiters: readonly Waiter[], cause: unknown): void {
    const err = (this.failed = new ClientError('STORE_FAILED', 'the profile store could not commit', { cause }));
    for (const w of [...waiters, ...this.waiters]) w.reject(err);
    this.waiters = [];
    this.queue.clear();
    this.onFailure?.(err);
  }

  private seal(key: Uint8Array, name: Uint8Array, value: Uint8Array): Uint8Array {
    const nonce = randomBytes(24);
    const pt = new Writer().var16(name).bytes(value).finish();
    return concat(nonce, xchacha20poly1305Seal(this.keys.storeKey, nonce, pt, concat(CLIENT_LABELS.storeRecord, key)));
  }

  private load(): void {
    for (const [key, v] of this.backend.entries()) {
      if (key.length !== RECORD_KEY_LENGTH) continue; // the header
      let name: Uint8Array, value: Uint8Array;
      try {
        const r = new Reader(xchacha20poly1305Open(this.keys.storeKey, v.subarray(0, 24), v.subarray(24), concat(CLIENT_LABELS.storeRecord, key)));
        name = r.var16();
        value = r.rest();
      } catch (e) {
        if (isCryptoError(e) || e instanceof MalformedError) throw new ClientError('STORE_CORRUPT', 'a store record does not decrypt', { cause: e });
        throw e;
      }
      if (!equalBytes(hmacSha256(this.keys.indexKey, name), key)) throw new ClientError('STORE_CORRUPT', 'a store record sits under another key');
      const text = fromUtf8(name);
      const sep = text.indexOf('\0');
      const kind = text.slice(0, sep), id = text.slice(sep + 1);
      let byKind = this.records.get(kind);
      if (!byKind) this.records.set(kind, (byKind = new Map()));
      byKind.set(id, { key: key.slice(), value });
    }
  }
}

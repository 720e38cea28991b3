// The browser RecordBackend (spec/client.md §7, §12.1): one IndexedDB database per profile,
// "sealpost:<location>", with one object store of binary keys and values, holding exactly
// the bytes the Node store keeps in LMDB. The profile's lock is a Web Lock of the same name,
// so a second tab (or a second open in this one) is refused with PROFILE_LOCKED (§7.3).
import { toHex } from '../../crypto/index.js';
import { ClientError } from '../errors.js';
import type { RecordBackend, RecordChange } from '../profile-store.js';

const DB_VERSION = 1;
const STORE = 'records';

/** The IndexedDB database (and Web Lock) name of the profile at `location`. */
export const databaseName = (location: string): string => `sealpost:${location}`;

const done = <T>(req: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
});

function openDatabase(name: string): Promise<IDBDatabase> {
  const req = indexedDB.open(name, DB_VERSION);
  // Version 1 is the only one: the upgrade runs once, when the profile's database is made.
  req.onupgradeneeded = () => { if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE); };
  return done(req);
}

/**
 * Takes the Web Lock `name` if no one holds it; resolves with its release function, or null
 * if it is held (by another tab, a worker, or this tab).
 */
function tryLock(name: string): Promise<(() => void) | null> {
  return new Promise((resolve, reject) => {
    navigator.locks.request(name, { ifAvailable: true }, (lock) => {
      if (!lock) { resolve(null); return undefined; }
      return new Promise<void>((release) => resolve(release));
    }).catch(reject);
  });
}

class IdbRecords implements RecordBackend {
  private closed = false;
  constructor(
    private readonly db: IDBDatabase,
    private readonly data: Map<string, readonly [Uint8Array, Uint8Array]>,
    private readonly release: () => void,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    return this.data.get(toHex(key))?.[1];
  }

  entries(): Iterable<readonly [Uint8Array, Uint8Array]> {
    return [...this.data.values()];
  }

  /** One readwrite transaction, 'strict' durability: resolves once IndexedDB says it is on disk. */
  commit(changes: readonly RecordChange[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
      const store = tx.objectStore(STORE);
      for (const c of changes) {
        if (c.value === null) store.delete(c.key as Uint8Array<ArrayBuffer>);
        else store.put(c.value, c.key as Uint8Array<ArrayBuffer>);
      }
      tx.oncomplete = () => {
        for (const c of changes) {
          if (c.value === null) this.data.delete(toHex(c.key));
          else this.data.set(toHex(c.key), [c.key.slice(), c.value.slice()]);
        }
        resolve();
      };
      tx.onabort = tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
    this.release();
  }
}

async function readAll(db: IDBDatabase): Promise<Map<string, readonly [Uint8Array, Uint8Array]>> {
  const tx = db.transaction(STORE, 'readonly');
  const store = tx.objectStore(STORE);
  const [keys, values] = await Promise.all([done(store.getAllKeys()), done(store.getAll())]);
  const data = new Map<string, readonly [Uint8Array, Uint8Array]>();
  keys.forEach((k, i) => {
    const key = new Uint8Array(k as ArrayBuffer);
    data.set(toHex(key), [key, new Uint8Array(values[i] as Uint8Array)]);
  });
  return data;
}

/** Opens the profile `location`'s database after taking its lock; PROFILE_LOCKED if it is held. */
export async function openIdbRecords(location: string): Promise<RecordBackend> {
  if (typeof indexedDB === 'undefined' || typeof navigator === 'undefined' || !navigator.locks) {
    throw new ClientError('STORE_FAILED', 'this browser has no IndexedDB or Web Locks (a secure context is needed: https:// or http://127.0.0.1)');
  }
  const name = databaseName(location);
  const release = await tryLock(name);
  if (!release) throw new ClientError('PROFILE_LOCKED', 'the profile is open in another tab or window');
  try {
    const db = await openDatabase(name);
    return new IdbRecords(db, await readAll(db), release);
  } catch (e) {
    release();
    throw e;
  }
}

// The store conformance suite (store-conformance.ts) on LMDB: alone (one relay process) and
// shared (several relay processes on one environment, spec/scale-out.md §2), the second with
// the counters rebuilt first as the primary does.
import { test } from 'uvu';
import { LmdbStore } from '../../src/relay/lmdb-store.js';
import { tempDir } from './_helpers.js';
import { batchConformance, storeConformance, type StoreUnderTest } from './store-conformance.js';

for (const shared of [false, true]) {
  const impl: StoreUnderTest = {
    shared,
    async open() {
      const dir = tempDir('sealpost-store-');
      const stores: LmdbStore[] = [];
      const make = async (): Promise<LmdbStore> => {
        const s = new LmdbStore({ path: dir.path, shared });
        if (shared) await s.rebuildSharedCounters();
        stores.push(s);
        return s;
      };
      const store = await make();
      return {
        store,
        async reopen() {
          for (const s of stores) await s.close();
          return make();
        },
        another: shared ? make : undefined,
        async dispose() {
          for (const s of stores) await s.close();
          dir.rm();
        },
      };
    },
  };
  storeConformance(shared ? 'lmdb shared' : 'lmdb', impl);
  if (shared) batchConformance('lmdb shared', impl);
}

test.run();

// The store conformance suite (store-conformance.ts) on PostgreSQL (pg-store.ts), a shared
// store, against a server this file starts (_services.ts). Each test gets a fresh database.
import { test } from 'uvu';
import pg from 'pg';
import { PgStore } from '../../src/relay/pg-store.js';
import { postgresMissing, startPostgres, type Postgres } from './_services.js';
import { batchConformance, storeConformance, type StoreUnderTest } from './store-conformance.js';

const missing = postgresMissing();
if (missing) {
  console.log(missing);
} else {
  let server: Postgres | null = null;
  let n = 0;
  test.before(async () => { server = await startPostgres(); });
  test.after(async () => { await server?.stop(); });
  const impl: StoreUnderTest = {
    shared: true,
    async open() {
      const db = `conformance_${++n}`;
      const admin = new pg.Client({ connectionString: server!.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${db}`);
      await admin.end();
      const url = server!.url.replace(/\/postgres$/, `/${db}`);
      const stores: PgStore[] = [];
      const make = async (): Promise<PgStore> => { const s = await PgStore.open({ connectionString: url }); stores.push(s); return s; };
      const store = await make();
      return {
        store,
        async reopen() { for (const s of stores) await s.close(); return make(); },
        another: make,
        async dispose() { for (const s of stores) await s.close(); },
      };
    },
  };
  storeConformance('postgres', impl);
  batchConformance('postgres', impl);
}

test.run();

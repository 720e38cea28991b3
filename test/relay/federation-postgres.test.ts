// A relay on PostgreSQL + NATS as the destination of forwarded SENDs (spec/federation.md §6):
// relays A1 and A2 on LMDB forward to B1 and B2, two relay processes with one identity on one
// database. A retry keeps one copy; the same idempotency key arriving at B1 and B2 at once is
// committed once, and both answer OK; a refused SEND leaves no key behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { equalBytes, randomBytes } from '../../src/crypto/index.js';
import { openDelivered } from '../../src/client/mailbox.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination } from '../../src/client/forwarding.js';
import { parseRelayAddress } from '../../src/wire/index.js';
import { clientPool, collectMessages, envelope, errorOf, makeMailbox, sleep, startTestRelay, tempDir, type TestRelay } from './_helpers.js';
import { natsMissing, postgresMissing, startNats, startPostgres, type Nats, type Postgres } from './_services.js';

const missing = postgresMissing() ?? natsMissing();

if (missing) {
  console.log(missing);
} else {
  let db: Postgres | null = null;
  let nats: Nats | null = null;
  const relays: TestRelay[] = [];
  const shared = tempDir('sealpost-pgdest-');
  let A1: TestRelay, A2: TestRelay, B1: TestRelay, B2: TestRelay;
  let url = '';

  test.before(async () => {
    db = await startPostgres();
    nats = await startNats();
    url = db.url;
    // B1 first: it makes the identity B2 shares (same data directory, same database).
    B1 = await startTestRelay({ postgresUrl: url, natsUrl: nats.url, dataDir: shared.path });
    relays.push(B1);
    B2 = await startTestRelay({ postgresUrl: url, natsUrl: nats.url, dataDir: shared.path });
    relays.push(B2);
    [A1, A2] = await Promise.all([startTestRelay(), startTestRelay()]);
    relays.push(A1, A2);
    assert.is(B1.relay.fingerprint, B2.relay.fingerprint, 'one identity');
    A1.relay.partners.setAddresses('test', [parseRelayAddress(B1.relay.address)]);
    A2.relay.partners.setAddresses('test', [parseRelayAddress(B2.relay.address)]);
    for (const b of [B1, B2]) b.relay.partners.setFingerprints('policy', [A1.relay.fingerprint, A2.relay.fingerprint]);
  });

  test.after(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    shared.rm();
    await nats?.stop();
    await db?.stop();
  });

  const countRows = async (sql: string): Promise<number> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return Number((await c.query(sql)).rows[0].n);
    } finally {
      await c.end();
    }
  };
  const dedupedOn = (r: TestRelay): number => Number(/sealpost_forwards_in_total\{code="DEDUPED"\} (\d+)/.exec(r.relay.metricsText())?.[1] ?? 0);

  test('a client of A1 sends to a mailbox on B1 (PostgreSQL); a retry through either process keeps one copy', async () => {
    const onA1 = clientPool(A1.relay.address);
    const onA2 = clientPool(A2.relay.address);
    const onB = clientPool(B1.relay.address);
    try {
      const owner = await onB.connect();
      const { keys, cap } = await makeMailbox(owner, B1.relay.address, { subscribe: true });
      const inbox = collectMessages(owner);
      const routes = await Promise.all(([[onA1, B1], [onA2, B2]] as const).map(async ([pool, b]) => {
        const sender = await pool.connect();
        return { sender, dest: await queryDestination(sender, b.relay.address) };
      }));
      const env = envelope(1024);
      const key = newIdempotencyKey();
      const keysBefore = await countRows('SELECT count(*) AS n FROM forwarded');
      const dedupedBefore = dedupedOn(B1) + dedupedOn(B2);
      await forwardEnvelope(routes[0]!.sender, routes[0]!.dest, cap, env, key);
      assert.ok(equalBytes(openDelivered(owner, keys, await inbox.next()).envelope, env));
      // Retries after a lost answer reach the same process or the other one: OK, nothing stored.
      for (const { sender, dest } of [...routes, ...routes]) await forwardEnvelope(sender, dest, cap, env, key);
      await sleep(200);
      assert.is(inbox.messages.length, 1, 'one copy');
      assert.is(dedupedOn(B1) + dedupedOn(B2) - dedupedBefore, 4);
      assert.is(await countRows('SELECT count(*) AS n FROM forwarded') - keysBefore, 1, 'one key');
      // A refused SEND (wrong access key): AUTH, and its key is not kept, so a correct retry is not lost.
      const other = newIdempotencyKey();
      const { sender, dest } = routes[1]!;
      assert.is(await errorOf(forwardEnvelope(sender, dest, { ...cap, accessKey: randomBytes(32) as never }, env, other)), 'AUTH');
      await forwardEnvelope(sender, dest, cap, env, other);
      await inbox.waitCount(2);
    } finally {
      await Promise.all([onA1, onA2, onB].map((p) => p.closeAll()));
    }
  });

  test('the same key at B1 and B2 at once: one envelope, and both answer OK', async () => {
    const on1 = clientPool(A1.relay.address);
    const on2 = clientPool(A2.relay.address);
    const onB = clientPool(B1.relay.address);
    try {
      const owner = await onB.connect();
      const { cap } = await makeMailbox(owner, B1.relay.address);
      const [s1, s2] = [await on1.connect(), await on2.connect()];
      const [d1, d2] = [await queryDestination(s1, B1.relay.address), await queryDestination(s2, B2.relay.address)];
      const envelopesBefore = await countRows('SELECT count(*) AS n FROM queue');
      const dedupedBefore = dedupedOn(B1) + dedupedOn(B2);
      const rounds = 16;
      // Each key goes to both processes in the same moment, every key at once.
      await Promise.all(Array.from({ length: rounds }, async () => {
        const key = newIdempotencyKey();
        const env = envelope(256);
        await Promise.all([forwardEnvelope(s1, d1, cap, env, key), forwardEnvelope(s2, d2, cap, env, key)]);
      }));
      assert.is(await countRows('SELECT count(*) AS n FROM queue') - envelopesBefore, rounds, 'one envelope per key');
      assert.is(dedupedOn(B1) + dedupedOn(B2) - dedupedBefore, rounds, 'the other copy of each answered as a duplicate');
    } finally {
      await on1.closeAll();
      await on2.closeAll();
      await onB.closeAll();
    }
  });
}

test.run();

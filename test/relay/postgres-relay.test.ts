// Relay processes on PostgreSQL and NATS (spec/scale-out.md §6), against a PostgreSQL and a
// nats-server this file starts: two relay processes serve one mailbox (push across them,
// takeover both ways, msgIds in order); a lost database answers ERR INTERNAL, loses nothing
// acknowledged, and the relay recovers when it comes back; and a privacy scan of the database
// after a session with a forwarded SEND.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { RelayConnection } from '../../src/client/node/connection.js';
import {
  ack, authenticate, createMailbox, fetchNext, newMailboxKeys, openDelivered, sendCapability, sendEnvelope, subscribe,
} from '../../src/client/mailbox.js';
import { randomBytes } from '../../src/crypto/index.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination } from '../../src/client/forwarding.js';
import { errorOf, spawnRelay, startTestRelay, tempDir, waitFor, withTimeout, type RelayProcess } from './_helpers.js';
import { natsMissing, postgresMissing, startNats, startPostgres, type Nats, type Postgres } from './_services.js';

const missing = postgresMissing() ?? natsMissing();

function tagged(seq: number): Uint8Array {
  const e = randomBytes(256);
  new DataView(e.buffer).setUint32(0, seq);
  return e;
}
const tagOf = (e: Uint8Array): number => new DataView(e.buffer, e.byteOffset, 4).getUint32(0);

let db: Postgres | null = null;
let nats: Nats | null = null;
let dbCount = 0;

/** A fresh database on the test server. */
async function freshDatabase(): Promise<string> {
  const name = `relay_${++dbCount}`;
  const admin = new pg.Client({ connectionString: db!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return db!.url.replace(/\/postgres$/, `/${name}`);
}

if (missing) {
  console.log(missing);
} else {
  test.before(async () => { db = await startPostgres(); nats = await startNats(); });
  test.after(async () => { await nats?.stop(); await db?.stop(); });

  test('two relay processes on PostgreSQL + NATS serve one mailbox: push across them, takeover both ways, msgIds in order', async () => {
    const dir = tempDir('sealpost-pgrelay-');
    const url = await freshDatabase();
    const args = ['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', dir.path, '--log-level', 'warn', '--pow-difficulty', '6',
      '--postgres-url', url, '--nats-url', nats!.url];
    const relays: RelayProcess[] = [];
    const conns: RelayConnection[] = [];
    try {
      relays.push(await spawnRelay(args)); // first: it makes the identity both share
      relays.push(await spawnRelay(args));
      const [a, b] = relays.map((r) => r.address) as [string, string];
      assert.is(a.split('@')[0], b.split('@')[0], 'one identity');
      const onA = await RelayConnection.connect(a), onB = await RelayConnection.connect(b);
      const senderA = await RelayConnection.connect(a), senderB = await RelayConnection.connect(b);
      conns.push(onA, onB, senderA, senderB);
      const keys = newMailboxKeys();
      await createMailbox(onA, keys);
      const gotA: Array<[number, number]> = [], gotB: Array<[number, number]> = [];
      let endsA = 0, endsB = 0;
      onA.onEnd(() => endsA++);
      onB.onEnd(() => endsB++);
      onA.onMessage((m) => { gotA.push([m.msgId, tagOf(openDelivered(onA, keys, m).envelope)]); ack(onA, keys, m.msgId).catch(() => {}); });
      onB.onMessage((m) => { gotB.push([m.msgId, tagOf(openDelivered(onB, keys, m).envelope)]); ack(onB, keys, m.msgId).catch(() => {}); });
      await subscribe(onA, keys);
      // Both processes send at once; the subscriber on A gets all, msgIds increasing.
      const cap = (addr: string) => sendCapability(addr, keys);
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => sendEnvelope(senderA, cap(a), tagged(i))),
        ...Array.from({ length: 20 }, (_, i) => sendEnvelope(senderB, cap(b), tagged(100 + i))),
      ]);
      await waitFor(() => gotA.length >= 40, 10_000, 'every envelope pushed on A');
      const ids = gotA.map(([id]) => id);
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, 'increasing msgIds');
      assert.is(new Set(gotA.map(([, t]) => t)).size, 40);
      // A SUB on B takes the mailbox from A, and back.
      await authenticate(onB, keys);
      await subscribe(onB, keys);
      await waitFor(() => endsA === 1, 5_000, 'END on A');
      await sendEnvelope(senderA, cap(a), tagged(500));
      await waitFor(() => gotB.some(([, t]) => t === 500), 5_000, 'pushed on B');
      await subscribe(onA, keys);
      await waitFor(() => endsB === 1, 5_000, 'END on B');
      await sendEnvelope(senderB, cap(b), tagged(501));
      await waitFor(() => gotA.some(([, t]) => t === 501), 5_000, 'pushed on A');
      assert.not.ok(gotB.some(([, t]) => t === 501));
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
      for (const r of relays) { r.child.kill('SIGTERM'); await withTimeout(r.exited, 15_000, 'relay exit').catch(() => r.child.kill('SIGKILL')); }
      dir.rm();
    }
  });

  test('a lost database: ERR INTERNAL, nothing acknowledged lost, and the relay recovers when it is back', async () => {
    const url = await freshDatabase();
    const t = await startTestRelay({ postgresUrl: url, natsUrl: nats!.url });
    const conns: RelayConnection[] = [];
    try {
      const owner = await RelayConnection.connect(t.relay.address);
      const sender = await RelayConnection.connect(t.relay.address);
      conns.push(owner, sender);
      const keys = newMailboxKeys();
      await createMailbox(owner, keys);
      const cap = sendCapability(t.relay.address, keys);
      const oked: number[] = [];
      for (let i = 1; i <= 5; i++) { await sendEnvelope(sender, cap, tagged(i)); oked.push(i); }
      await db!.kill();
      assert.is(await errorOf(sendEnvelope(sender, cap, tagged(6))), 'INTERNAL');
      assert.ok(sender.isOpen, 'the connection stays open');
      await db!.start();
      // The pool reconnects: within a few tries SEND works again.
      let back = false;
      for (let i = 0; i < 50 && !back; i++) {
        back = await sendEnvelope(sender, cap, tagged(7)).then(() => true, () => false);
        if (!back) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(back, 'recovered');
      oked.push(7);
      const got: number[] = [];
      for (;;) {
        const m = await fetchNext(owner, keys);
        if (!m) break;
        got.push(tagOf(m.envelope));
        await ack(owner, keys, m.msgId);
      }
      assert.equal(oked.filter((x) => !got.includes(x)), [], 'every OKed envelope is there');
      assert.not.ok(got.includes(6), 'the refused one is not');
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
      await t.stop();
    }
  });

  test('privacy: after a session the database holds only what spec/scale-out.md §6 lists, and nothing identifying', async () => {
    const url = await freshDatabase();
    const t = await startTestRelay({ postgresUrl: url, natsUrl: nats!.url });
    const keys = newMailboxKeys();
    const envelope = tagged(1);
    const idem = newIdempotencyKey();
    try {
      const owner = await RelayConnection.connect(t.relay.address);
      const sender = await RelayConnection.connect(t.relay.address);
      await createMailbox(owner, keys);
      await sendEnvelope(sender, sendCapability(t.relay.address, keys), envelope);
      await sendEnvelope(sender, sendCapability(t.relay.address, keys), tagged(2));
      // A forwarded SEND too (same-relay private routing, spec/federation.md §6): its key is stored.
      await forwardEnvelope(sender, await queryDestination(sender, t.relay.address), sendCapability(t.relay.address, keys), tagged(3), idem);
      const m = await fetchNext(owner, keys);
      await ack(owner, keys, m!.msgId);
      await Promise.all([owner.close(), sender.close()]);
    } finally {
      await t.stop();
    }
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const tables = (await c.query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position")).rows
        .map((r) => `${r.table_name}.${r.column_name}`);
      assert.equal(tables, [
        'forwarded.idem', 'forwarded.expiry_minute',
        'mailbox.iid', 'mailbox.record', 'mailbox.expiry_day', 'mailbox.ceiling', 'mailbox.envelopes', 'mailbox.bytes',
        'queue.iid', 'queue.msg_id', 'queue.expiry_minute', 'queue.delivered',
        'read_ids.read_id', 'read_ids.iid', 'send_ids.send_id', 'send_ids.iid', 'spent.epoch', 'spent.spent_id',
      ], 'the tables and columns of spec/scale-out.md §6, nothing else');
      // Every byte of every row, as hex.
      const dump = (await c.query(`SELECT string_agg(x, '') AS all FROM (
        SELECT encode(record, 'hex') || iid || expiry_day AS x FROM mailbox UNION ALL
        SELECT encode(delivered, 'hex') FROM queue UNION ALL SELECT encode(read_id, 'hex') FROM read_ids UNION ALL SELECT encode(send_id, 'hex') FROM send_ids UNION ALL
        SELECT encode(idem, 'hex') || expiry_minute FROM forwarded) t`)).rows[0].all as string;
      const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
      assert.not.ok(dump.includes(hex(envelope.subarray(8, 40))), 'no envelope in the clear (delivered bytes are sealed)');
      assert.not.ok(dump.includes(Buffer.from('127.0.0.1').toString('hex')) || dump.includes('127.0.0.1'), 'no network address');
      if (keys.accessKey) assert.not.ok(dump.includes(hex(keys.accessKey)), 'no access key (only its verifier)');
      // readId and sendId meet only in the record: each index row holds one of them.
      const rows = (await c.query('SELECT encode(read_id, \'hex\') AS r FROM read_ids')).rows.map((r) => r.r as string);
      const sends = (await c.query('SELECT encode(send_id, \'hex\') AS s FROM send_ids')).rows.map((r) => r.s as string);
      assert.is(rows.length, 1);
      assert.is(sends.length, 1);
      assert.equal((await c.query('SELECT count(*)::int AS n FROM queue')).rows[0].n, 2, 'the acknowledged envelope is gone');
      // The forwarded SEND left its 16-byte key and a minute, nothing that names the mailbox or the sender.
      const fwd = (await c.query('SELECT encode(idem, \'hex\') AS k, expiry_minute AS m FROM forwarded')).rows;
      assert.equal(fwd.map((r) => r.k as string), [hex(idem)]);
      assert.ok(Number.isInteger(fwd[0].m) && fwd[0].m > Date.now() / 60_000, 'a minute in the future');
      // The relay's own log names no id, key or address.
      const logText = JSON.stringify(t.logs);
      for (const secret of [rows[0]!, sends[0]!, hex(idem), '127.0.0.1']) assert.not.ok(logText.includes(secret), 'nothing identifying in the log');
    } finally {
      await c.end();
    }
  });
}

test.run();

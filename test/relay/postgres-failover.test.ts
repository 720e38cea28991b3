// Failover on PostgreSQL + NATS (spec/scale-out.md §6): three separate relay processes serve
// one address, with owners subscribed on each and senders on each; one process is SIGKILLed
// mid-stream; its clients reconnect to a survivor and go on. Every envelope that got OK is
// delivered, under one msgId (never stored twice), and every queue empties once acknowledged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { RelayConnection } from '../../src/client/node/connection.js';
import { ack, authenticate, createMailbox, newMailboxKeys, openDelivered, sendCapability, sendEnvelope, subscribe, type MailboxKeys } from '../../src/client/mailbox.js';
import { randomBytes } from '../../src/crypto/index.js';
import { spawnRelay, tempDir, waitFor, withTimeout, type RelayProcess } from './_helpers.js';
import { natsMissing, postgresMissing, startNats, startPostgres } from './_services.js';

const missing = postgresMissing() ?? natsMissing();
const RELAYS = 3;
const TOTAL = 1_500;
const KILL_AFTER = 400;

function tagged(seq: number): Uint8Array {
  const e = randomBytes(256);
  new DataView(e.buffer).setUint32(0, seq);
  return e;
}
const tagOf = (e: Uint8Array): number => new DataView(e.buffer, e.byteOffset, 4).getUint32(0);

/** An owner subscribed to its mailbox; it moves to another relay when its own goes. */
class Owner {
  conn: RelayConnection | null = null;
  /** tag -> msgIds it arrived under (a redelivery after the kill repeats a msgId, never adds one). */
  readonly got = new Map<number, Set<number>>();
  constructor(readonly keys: MailboxKeys) {}

  async attach(address: string, create: boolean): Promise<void> {
    const conn = await RelayConnection.connect(address);
    this.conn = conn;
    if (create) await createMailbox(conn, this.keys);
    else await authenticate(conn, this.keys);
    conn.onMessage((m) => {
      const tag = tagOf(openDelivered(conn, this.keys, m).envelope);
      const ids = this.got.get(tag) ?? new Set<number>();
      ids.add(m.msgId);
      this.got.set(tag, ids);
      ack(conn, this.keys, m.msgId).catch(() => { /* its relay went: the envelope comes again */ });
    });
    await subscribe(conn, this.keys);
  }
}

if (missing) {
  console.log(missing);
} else {
  test('three relay processes on PostgreSQL + NATS, one SIGKILLed mid-stream: every OKed envelope delivered, under one msgId', async () => {
    const db = await startPostgres();
    const nats = await startNats();
    const dir = tempDir('sealpost-pgfailover-');
    const relays: RelayProcess[] = [];
    const conns: RelayConnection[] = [];
    const owners: Owner[] = [];
    try {
      const args = ['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', dir.path, '--log-level', 'warn',
        '--send-rate-per-second', '100000', '--send-burst', '100000', '--postgres-url', db.url, '--nats-url', nats.url];
      for (let i = 0; i < RELAYS; i++) relays.push(await spawnRelay(args)); // the first makes the identity the others load
      const addresses = relays.map((r) => r.address);
      // One owner subscribed on each relay; one sender on each relay, sending to every mailbox.
      for (let i = 0; i < RELAYS; i++) {
        const o = new Owner(newMailboxKeys());
        await o.attach(addresses[i]!, true);
        owners.push(o);
      }
      const caps = owners.map((o) => sendCapability(addresses[0]!, o.keys));
      const oked = new Map<number, number>(); // tag -> owner index
      const victim = RELAYS - 1;
      let killed = false;
      let next = 0;
      const sender = async (home: number): Promise<void> => {
        let conn = await RelayConnection.connect(addresses[home]!);
        conns.push(conn);
        const inflight = new Set<Promise<void>>();
        while (next < TOTAL) {
          if (!conn.isOpen) {
            // Its relay was killed: on to a survivor, like any client would.
            conn = await RelayConnection.connect(addresses[(home + 1) % (RELAYS - 1)]!);
            conns.push(conn);
          }
          const tag = ++next;
          const to = tag % RELAYS;
          const p = sendEnvelope(conn, caps[to]!, tagged(tag)).then(() => {
            oked.set(tag, to);
            if (oked.size >= KILL_AFTER && !killed) { killed = true; relays[victim]!.child.kill('SIGKILL'); }
          }, () => { /* in flight on the killed relay: no OK, so no promise */ });
          inflight.add(p);
          void p.then(() => inflight.delete(p));
          if (inflight.size >= 16) await Promise.race(inflight);
        }
        await Promise.all(inflight);
      };
      // The owner on the killed relay moves to a survivor when its connection drops.
      const moved = new Promise<void>((resolve) => owners[victim]!.conn!.onClose(() => {
        setTimeout(() => { owners[victim]!.attach(addresses[0]!, false).then(resolve, resolve); }, 50);
      }));
      await withTimeout(Promise.all(addresses.map((_, i) => sender(i))), 60_000, 'streaming through the kill');
      assert.ok(killed, 'a relay was killed mid-stream');
      assert.is(await withTimeout(relays[victim]!.exited, 5_000, 'victim exit'), 'SIGKILL');
      await withTimeout(moved, 10_000, 'owner moved to a survivor');
      assert.ok(oked.size > KILL_AFTER + 200, `envelopes went on after the kill (${oked.size} OKed)`);

      const delivered = (): number => [...oked.keys()].filter((tag) => owners[oked.get(tag)!]!.got.has(tag)).length;
      await waitFor(() => delivered() === oked.size, 30_000, 'every OKed envelope delivered');
      for (const [i, o] of owners.entries()) {
        for (const [tag, ids] of o.got) {
          assert.is(tag % RELAYS, i, 'to the mailbox it was sent to');
          assert.is(ids.size, 1, `envelope ${tag} stored once (one msgId)`);
        }
      }
      // Every acknowledged envelope left the queue: nothing stays behind, nothing twice.
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      try {
        const queued = async (): Promise<number> => Number((await admin.query('SELECT count(*) AS n FROM queue')).rows[0].n);
        for (let i = 0; i < 150 && (await queued()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
        assert.is(await queued(), 0, 'queues empty after the ACKs');
        const counters = await admin.query('SELECT envelopes, bytes FROM mailbox');
        for (const row of counters.rows) assert.equal([Number(row.envelopes), Number(row.bytes)], [0, 0], 'quota counters back to zero');
      } finally {
        await admin.end();
      }
    } finally {
      await Promise.all([...conns, ...owners.map((o) => o.conn).filter((c): c is RelayConnection => c !== null)].map((c) => c.close().catch(() => {})));
      for (const r of relays) { r.child.kill('SIGTERM'); await withTimeout(r.exited, 15_000, 'relay exit').catch(() => r.child.kill('SIGKILL')); }
      dir.rm();
      await nats.stop();
      await db.stop();
    }
  });
}

test.run();

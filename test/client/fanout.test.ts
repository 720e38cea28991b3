// Fan-out (spec/client.md §9.4): sealToMany through pools of every size, the per-contact
// serial sections, and sendToMany through a real relay: exactly once to each contact, in order
// with interleaved sends, a failing recipient that fails alone, the client's pool with 0, 1 and
// 2 workers or a shared one, and no worker thread left after close().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { CryptoPool, openEnvelope, randomBytes, x25519KeyPair, type X25519PublicKey } from '../../src/crypto/index.js';
import { authenticate, deleteMailbox } from '../../src/client/mailbox.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { INLINE_BELOW, planFanout, sealToMany } from '../../src/client/fanout.js';
import { KeyedSerial } from '../../src/client/serial.js';
import { isClientError, type Client, type ClientOptions, type Message } from '../../src/client/index.js';
import { cleanup, connect, openClient, startRelay, tempDir, until } from './_helpers.js';

const threads = (): number => readdirSync('/proc/self/task').length;

test('sealToMany: one result per target, in order, inline and through pools of 0, 1 and 2 workers', async () => {
  const sender = x25519KeyPair();
  const boxes = Array.from({ length: 40 }, () => x25519KeyPair());
  const targets = boxes.map((b, i) => ({ mailboxKey: b.publicKey, body: randomBytes(50 + i) }));
  // An all-zero key is a low-order point (refused by the crypto core): its slot fails, the others do not.
  targets[7] = { mailboxKey: new Uint8Array(32) as X25519PublicKey, body: randomBytes(10) };
  for (const size of [null, 0, 1, 2]) {
    const pool = size === null ? null : await CryptoPool.create({ size });
    try {
      const before = pool?.stats().batches ?? 0;
      const res = await sealToMany(sender, targets, pool);
      assert.is(pool?.stats().batches ?? 0, before + (pool ? 1 : 0), 'one batch');
      assert.is(res.length, targets.length);
      res.forEach((r, i) => {
        if (i === 7) { assert.equal(r, { ok: false, error: 'LOW_ORDER_POINT' }); return; }
        assert.ok(r.ok, `slot ${i}`);
        if (!r.ok) return;
        assert.is(r.value.byteOffset, 0, 'a copy, not a view into the chunk');
        const o = openEnvelope({ mailboxSecret: boxes[i]!.secretKey, mailboxKey: boxes[i]!.publicKey, envelope: r.value });
        assert.equal(o.body, targets[i]!.body, `slot ${i} holds its own target's envelope`);
        assert.equal(o.senderKey, sender.publicKey);
      });
      // Small batches stay on the calling thread.
      await sealToMany(sender, targets.slice(0, INLINE_BELOW - 1), pool);
      assert.is(pool?.stats().batches ?? 0, before + (pool ? 1 : 0), 'no pool round trip under INLINE_BELOW');
    } finally {
      await pool?.close();
    }
  }
  // A pool closed meanwhile costs time, not the batch: it is sealed inline.
  const closed = await CryptoPool.create({ size: 1 });
  await closed.close();
  const res = await sealToMany(sender, targets.slice(0, 20), closed);
  assert.ok(res.every((r, i) => r.ok === (i !== 7)));
});

test('KeyedSerial: sections sharing a key run in call order, others do not wait', async () => {
  const s = new KeyedSerial();
  const log: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  const a = s.run(['x', 'y'], async () => { log.push('a+'); await gate; log.push('a-'); });
  const b = s.run(['x'], async () => { log.push('b'); });
  const c = s.run(['z'], async () => { log.push('c'); });
  const d = s.run(['y', 'z'], async () => { log.push('d'); throw new Error('d fails'); });
  const e = s.run(['z'], async () => { log.push('e'); return 5; });
  await c;
  assert.equal(log, ['a+', 'c'], 'z alone does not wait for x and y');
  open();
  await a; await b;
  await d.catch(() => undefined);
  assert.is(await e, 5, 'a failed section releases its keys');
  assert.equal(log, ['a+', 'c', 'a-', 'b', 'd', 'e']);
  assert.is(s.size, 0);
});

test('planFanout: unknown arguments fail alone, a contact named twice is planned once', () => {
  const contacts = [{ id: 'i1', name: 'ann' }, { id: 'i2', name: 'bo' }];
  const find = (x: string) => contacts.find((c) => c.id === x || c.name === x);
  const { targets, slots } = planFanout(['i2', 'nobody', 'ann', 'bo', 42], find);
  assert.equal(targets.map((t) => t.id), ['i2', 'i1']);
  assert.equal(slots.slice(0, 1), [0]);
  assert.ok(isClientError(slots[1], 'UNKNOWN_CONTACT'));
  assert.equal([slots[2], slots[3]], [1, 0]);
  assert.ok(isClientError(slots[4], 'UNKNOWN_CONTACT'));
});

test('sendToMany through a relay: exactly once, in order with sends, failures alone, pools of 0, 1, 2 workers and a shared one', async () => {
  const relay = await startRelay();
  const aliceDir = tempDir();
  let alice: Client = await openClient(relay.address, { dataDir: aliceDir });
  const others = await Promise.all([openClient(relay.address), openClient(relay.address), openClient(relay.address)]);
  const shared = await CryptoPool.create({ size: 1 });
  try {
    // 18 contacts of Alice's among three clients (two invitations with one person are two
    // contacts): enough that a fan-out goes through the pool (INLINE_BELOW = 16).
    const links: Array<{ aliceId: string; peer: Client; peerId: string }> = [];
    for (let k = 0; k < 6; k++) {
      for (const o of others) {
        const { ab, ba } = await connect(alice, o);
        links.push({ aliceId: ab.id, peer: o, peerId: ba.id });
      }
    }
    assert.ok(links.length >= INLINE_BELOW);
    const got = new Map<string, string[]>(); // peer's contact id -> texts, in arrival order
    for (const o of others) o.on('message', (m: Message) => { got.set(m.contactId, [...(got.get(m.contactId) ?? []), m.text]); });

    // One recipient's mailbox disappears from the relay: its sends are refused for good.
    const gone = links[4]!;
    const keys = gone.peer._internals().inboxKeys(gone.peerId)!;
    const conn = await RelayConnection.connect(relay.address);
    await authenticate(conn, keys);
    await deleteMailbox(conn, keys);
    await conn.close();

    const expected = new Map<string, string[]>(links.map((l) => [l.peerId, []]));
    const interleaved = [links[0]!, links[1]!, links[9]!];
    const rounds: Array<{ name: string; opts: Partial<ClientOptions>; workers: number }> = [
      { name: 'inline', opts: { cryptoWorkers: 0 }, workers: 0 },
      { name: 'one worker', opts: { cryptoWorkers: 1 }, workers: 1 },
      { name: 'two workers', opts: { cryptoWorkers: 2 }, workers: 2 },
      { name: 'shared pool', opts: { cryptoPool: shared }, workers: 0 },
    ];
    for (const round of rounds) {
      // Each round reopens Alice: sessions and outbox come back from her store.
      await alice.close();
      alice = await openClient(relay.address, { dataDir: aliceDir, ...round.opts });
      await alice.send(links[2]!.aliceId, `warm ${round.name}`);
      expected.get(links[2]!.peerId)!.push(`warm ${round.name}`);
      const threadsBefore = threads();
      const sharedBatches = shared.stats().batches;

      const ids = links.map((l) => l.aliceId);
      const sends: Array<Promise<unknown>> = [];
      for (const l of interleaved) sends.push(alice.send(l.aliceId, `before ${round.name}`));
      const fan = alice.sendToMany([...ids, 'nobody', ids[3]!], `fan ${round.name}`);
      for (const l of interleaved) sends.push(alice.send(l.aliceId, `after ${round.name}`));
      const res = await fan;
      const refused = sends.map((p) => p.catch((e: unknown) => e));
      for (const r of await Promise.all(refused)) assert.not.ok(r instanceof Error, String(r));

      assert.is(res.results.length, ids.length + 2);
      res.results.forEach((r, i) => {
        if (i === 4) assert.ok(!r.ok && isClientError(r.error, 'SEND_REJECTED'), `the deleted mailbox: ${JSON.stringify(r)}`);
        else if (i === ids.length) assert.ok(!r.ok && isClientError(r.error, 'UNKNOWN_CONTACT') && r.contactId === 'nobody');
        else assert.ok(r.ok, `recipient ${i}: ${r.ok ? '' : r.error.message}`);
      });
      for (const l of links) {
        if (l === gone) continue;
        const e = expected.get(l.peerId)!;
        if (interleaved.includes(l)) e.push(`before ${round.name}`, `fan ${round.name}`, `after ${round.name}`);
        else e.push(`fan ${round.name}`);
      }
      await until(() => links.every((l) => (got.get(l.peerId) ?? []).length >= expected.get(l.peerId)!.length), 15_000, `round ${round.name} delivered`);
      await new Promise((r) => setTimeout(r, 200)); // a duplicate would arrive now
      for (const l of links) assert.equal(got.get(l.peerId) ?? [], expected.get(l.peerId), `${round.name}: what contact ${links.indexOf(l)} received`);

      assert.is(threads() - threadsBefore, round.workers, `${round.name}: worker threads while open`);
      if (round.opts.cryptoPool) assert.is(shared.stats().batches, sharedBatches + 1, 'the shared pool sealed the fan-out in one batch');
      const hist = alice.history(links[0]!.aliceId).map((h) => h.text).filter((t) => t.endsWith(round.name));
      assert.equal(hist, [`before ${round.name}`, `fan ${round.name}`, `after ${round.name}`]);
      assert.is(alice.stats().outboxPending, 0);
      const open = threads();
      await alice.close();
      assert.is(open - threads(), round.workers, `${round.name}: close() stops the client's own workers`);
    }
    assert.not.ok(shared.isClosed, 'a shared pool stays open');
    assert.ok(others.every((o) => o.stats().dropped.total === 0));

    // Arguments out of range fail the call; the client stays usable.
    alice = await openClient(relay.address, { dataDir: aliceDir });
    for (const bad of [null, 'x', Array.from({ length: 10_001 }, () => 'x')]) {
      try { await alice.sendToMany(bad as never, 'x'); assert.unreachable(); } catch (e) { assert.ok(isClientError(e, 'INVALID_ARGUMENT'), String(e)); }
    }
    try { await alice.sendToMany([links[0]!.aliceId], 'x'.repeat(60_001)); assert.unreachable(); } catch (e) { assert.ok(isClientError(e, 'MESSAGE_TOO_LARGE')); }
    assert.equal((await alice.sendToMany([], 'nobody')).results, []);
  } finally {
    await Promise.all([alice.close(), ...others.map((o) => o.close()), shared.close()]);
    await relay.close();
  }
});

test('Client.open refuses bad pool options', async () => {
  const relay = await startRelay();
  try {
    for (const opts of [{ cryptoWorkers: -1 }, { cryptoWorkers: 1.5 }, { cryptoPool: {} }, { cryptoWorkers: 1, cryptoPool: await CryptoPool.create({ size: 0 }) }]) {
      try {
        const c = await openClient(relay.address, opts as never);
        await c.close();
        assert.unreachable('must refuse');
      } catch (e) {
        assert.ok(isClientError(e, 'INVALID_ARGUMENT'), String(e));
      }
    }
  } finally {
    await relay.close();
  }
});

test.after(cleanup);
test.run();

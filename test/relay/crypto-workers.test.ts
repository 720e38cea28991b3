// The relay's crypto on worker threads (spec/protocol.md §12): with 0, 1 and 2 workers the
// answers and their order are the same. SENDs pipelined from one connection arrive in the
// order sent, a wrong key among them fails alone, a command sent behind AUTH or CREATE sees
// its effect, and ROTATE and DEL racing with SENDs leave no envelope under a retired key.
// (roundtrip-workers and fuzz-workers run the other relay suites with workers, public
// mailboxes and proof-of-work included.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ed25519Sign, equalBytes, randomBytes, readAuthMessage } from '../../src/crypto/index.js';
import {
  ack, createMailbox, fetchNext, newMailboxKeys, openDelivered, rotateMailbox, sendCapability, sendEnvelope, subscribe,
} from '../../src/client/mailbox.js';
import { isProtocolError } from '../../src/wire/index.js';
import { clientPool, collectMessages, envelope, errorOf, makeMailbox, withMailbox, withRelay } from './_helpers.js';

const SIZES = [0, 1, 2] as const;

/** The answer's type, or the error's name. */
const answer = (p: Promise<{ type: string }>): Promise<string> =>
  p.then((f) => f.type, (e: unknown) => (isProtocolError(e) ? e.errorName : String(e)));

for (const workers of SIZES) {
  test(`${workers} workers: 300 pipelined SENDs of mixed sizes arrive in order; wrong keys fail alone`, () => withMailbox({ cryptoWorkers: workers, privateMaxEnvelopes: 1_000, privateMaxBytes: 64 * 1024 * 1024, deliveryWindow: 1_024 }, async ({ relay, owner, keys, cap, sender }) => {
    assert.is(relay.cryptoStats().workers, workers);
    const inbox = collectMessages(owner);
    await subscribe(owner, keys);
    const bad = { ...cap, accessKey: randomBytes(32) as typeof cap.accessKey };
    const sent: Uint8Array[] = [];
    const requests: Array<Promise<string>> = [];
    for (let i = 0; i < 300; i++) {
      const env = envelope(([256, 1024, 4096, 16384] as const)[i % 4]);
      env.set([i >> 8, i & 0xff]);
      const wrong = i % 7 === 3;
      if (!wrong) sent.push(env);
      // Not awaited: all 300 are in flight at once.
      requests.push(sendEnvelope(sender, wrong ? bad : cap, env).then(() => 'OK', (e: unknown) => (isProtocolError(e) ? e.errorName : String(e))));
    }
    const answers = await Promise.all(requests);
    answers.forEach((a, i) => assert.is(a, i % 7 === 3 ? 'AUTH' : 'OK', `SEND ${i}`));
    const got = await inbox.waitCount(sent.length, 10_000);
    let last = 0;
    got.forEach((m, i) => {
      assert.ok(m.msgId > last, 'msgIds increase');
      last = m.msgId;
      assert.ok(equalBytes(openDelivered(owner, keys, m).envelope, sent[i]!), `envelope ${i} in the order sent`);
    });
    if (workers > 0) assert.ok(relay.cryptoStats().items >= 300 + sent.length, 'proofs and seals ran on the workers');
    else assert.is(relay.cryptoStats().items, 0);
  }));

  test(`${workers} workers: SUB sent right behind AUTH, and right behind CREATE, sees it; a bad AUTH fails alone`, () => withMailbox({ cryptoWorkers: workers }, async ({ pool, keys, cap, sender }) => {
    await sendEnvelope(sender, cap, envelope());
    const reader = await pool.connect();
    const inbox = collectMessages(reader);
    const signature = ed25519Sign(keys.readSeed, readAuthMessage(reader.serverNonce, reader.clientNonce, keys.readId));
    const forged = signature.slice();
    forged[5]! ^= 1;
    // Neither waits for the answer before the next: the relay holds SUB until AUTH is done.
    const answers = await Promise.all([
      answer(reader.request({ type: 'AUTH', readId: keys.readId, signature: forged })),
      answer(reader.request({ type: 'AUTH', readId: keys.readId, signature })),
      answer(reader.request({ type: 'SUB', readId: keys.readId })),
    ]);
    assert.equal(answers, ['AUTH', 'OK', 'OK']);
    const m = await inbox.next(5_000);
    await ack(reader, keys, m.msgId);

    const fresh = newMailboxKeys();
    const [created, fetched] = await Promise.all([
      createMailbox(reader, fresh).then(() => 'CREATED', (e: unknown) => String(e)),
      answer(reader.request({ type: 'FETCH', readId: fresh.readId })),
    ]);
    assert.equal([created, fetched], ['CREATED', 'EMPTY'], 'FETCH behind CREATE reads the new mailbox');
  }));

  test(`${workers} workers: ROTATE and DEL racing with SENDs leave nothing under a retired key`, () => withMailbox({ cryptoWorkers: workers }, async ({ relay, owner, keys, cap, sender }) => {
    const sends: Array<Promise<string>> = [];
    const outcome = (p: Promise<void>): Promise<string> => p.then(() => 'OK', (e: unknown) => (isProtocolError(e) ? e.errorName : String(e)));
    for (let i = 0; i < 100; i++) sends.push(outcome(sendEnvelope(sender, cap, envelope(1024))));
    const rotating = rotateMailbox(owner, keys);
    for (let i = 0; i < 100; i++) sends.push(outcome(sendEnvelope(sender, cap, envelope(1024))));
    const next = await rotating;
    const answers = await Promise.all(sends);
    assert.ok(answers.every((a) => a === 'OK' || a === 'BUSY' || a === 'AUTH'), answers.join(','));
    // Every envelope the relay took is in the queue and opens under the new delivery key.
    const queued = relay.stats().envelopes;
    assert.ok(queued >= answers.filter((a) => a === 'OK').length && queued > 0, `queued ${queued}`);
    for (let i = 0; i < queued; i++) {
      const d = await fetchNext(owner, next);
      assert.ok(d, `envelope ${i} of ${queued} opens under the new key`);
      await ack(owner, next, d.msgId);
    }
    assert.is(await fetchNext(owner, next), null);

    const newCap = sendCapability(relay.address, next);
    const more: Array<Promise<string>> = [];
    for (let i = 0; i < 100; i++) more.push(outcome(sendEnvelope(sender, newCap, envelope(4096))));
    const del = owner.request({ type: 'DEL', readId: next.readId });
    for (let i = 0; i < 100; i++) more.push(outcome(sendEnvelope(sender, newCap, envelope(4096))));
    assert.is((await del).type, 'OK');
    const after = await Promise.all(more);
    assert.ok(after.every((a) => a === 'OK' || a === 'BUSY' || a === 'AUTH'), after.join(','));
    assert.equal(relay.stats(), { connections: 2, mailboxes: 0, envelopes: 0 }, 'DEL took every envelope with it');
    assert.is(await errorOf(sendEnvelope(sender, newCap, envelope())), 'AUTH');
  }));
}

test('2 workers: closing the relay with SENDs in flight answers or closes every one, and stops the workers', async () => {
  let stats: { workers: number } | undefined;
  await withRelay({ cryptoWorkers: 2 }, async ({ relay, stop }) => {
    const pool = clientPool(relay.address);
    const owner = await pool.connect();
    const { cap } = await makeMailbox(owner, relay.address);
    const sender = await pool.connect();
    const sends = Array.from({ length: 200 }, () => sendEnvelope(sender, cap, envelope()).then(() => 'OK', () => 'failed'));
    await new Promise((r) => setImmediate(r));
    await stop();
    const outcomes = await Promise.all(sends);
    assert.is(outcomes.length, 200);
    stats = relay.cryptoStats();
    await pool.closeAll();
  });
  assert.ok(stats && stats.workers === 2);
});

test.run();

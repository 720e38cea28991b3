// Restarts (spec/client.md §9): the relay goes down mid-conversation and comes back on the
// same port and data directory; clients close and reopen on their data directories; an
// outbox entry outlives the client that wrote it. Nothing is lost, nothing is duplicated.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isClientError } from '../../src/client/index.js';
import { cleanup, connect, inbox, openClient, startRelay, tempDir, until } from './_helpers.js';

test('relay restart and client restarts mid-conversation: nothing lost, nothing duplicated', async () => {
  let relay = await startRelay();
  const { dataDir: relayDir, port } = relay;
  const aliceDir = tempDir(), bobDir = tempDir();
  let alice = await openClient(relay.address, { dataDir: aliceDir });
  let bob = await openClient(relay.address, { dataDir: bobDir });
  try {
    const { ab, ba } = await connect(alice, bob);
    let aIn = inbox(alice);
    await bob.send(ba.id, 'm1');
    await aIn.until(1);

    // Sent just before the relay stops, and while it is down.
    const justBefore = bob.send(ba.id, 'm2');
    await justBefore;
    await relay.close();
    const whileDown = bob.send(ba.id, 'm3');
    const aliceWhileDown = alice.send(ab.id, 'r1');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(bob.stats().outboxPending >= 1, 'queued while the relay is down');
    relay = Object.assign(await (await import('../../src/relay/index.js')).Relay.start({ dataDir: relayDir, port, powDifficulty: 1 }), { dataDir: relayDir });
    await whileDown;
    await aliceWhileDown;
    await aIn.until(3, 15_000);
    assert.equal(aIn.messages.map((m) => m.text), ['m1', 'm2', 'm3']);

    // Alice closes; Bob writes meanwhile; Alice reopens and gets exactly the new ones.
    await alice.close();
    await bob.send(ba.id, 'm4');
    await bob.send(ba.id, 'm5');
    alice = await openClient(relay.address, { dataDir: aliceDir });
    aIn = inbox(alice);
    await aIn.until(2, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(aIn.messages.map((m) => m.text), ['m4', 'm5']);
    assert.equal(alice.history(ab.id).filter((h) => h.direction === 'in').map((h) => h.text), ['m1', 'm2', 'm3', 'm4', 'm5']);

    // An outbox entry outlives its client: written while the relay is down, sent by the next open.
    await relay.close();
    const orphan = bob.send(ba.id, 'm6').then(() => null, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await bob.close();
    assert.ok(isClientError(await orphan, 'CLOSED'), 'send() rejects with CLOSED; the entry stays queued');
    relay = Object.assign(await (await import('../../src/relay/index.js')).Relay.start({ dataDir: relayDir, port, powDifficulty: 1 }), { dataDir: relayDir });
    bob = await openClient(relay.address, { dataDir: bobDir });
    const bIn = inbox(bob);
    await aIn.until(3, 15_000);
    assert.is(aIn.messages[2]!.text, 'm6');
    // Bob, reopened, still has the session: r1 (sent to him while the relay was down) was
    // delivered before he closed or is delivered now, exactly once.
    await alice.send(ab.id, 'r2');
    await until(() => bIn.messages.some((m) => m.text === 'r2'), 10_000, 'r2');
    const all = bob.history(ba.id).filter((h) => h.direction === 'in').map((h) => h.text);
    assert.equal(all, ['r1', 'r2']);
    assert.is(alice.stats().dropped.total, 0);
    assert.is(bob.stats().dropped.total, 0);
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test.after(cleanup);
test.run();

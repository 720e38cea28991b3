// What a relay may demand of a client, and what the client does about it (issue 11, finding 9;
// spec/client.md §4.2, §8.3, §9.5): proof-of-work above the client's cap is refused at the
// send instead of spinning; an END (subscription taken over) is answered by a bounded number
// of re-subscriptions; a HELLO that reaches the inviter after the invitation's expiry is
// refused to the second, not to the relay's minute.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '../../src/crypto/index.js';
import { isClientError, type ClientError } from '../../src/client/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { authenticate, createMailbox, MAX_POW_DIFFICULTY, newMailboxKeys, sendCapability, sendEnvelope, subscribe } from '../../src/client/mailbox.js';
import { SendPool } from '../../src/client/send-pool.js';
import { wsConnector } from '../../src/client/node/ws-socket.js';
import { Relay } from '../../src/relay/index.js';
import { cleanup, connect, inbox, nextEvent, openClient, startRelay, tempDir, until } from './_helpers.js';

test('proof-of-work above the cap: POW_TOO_HARD at once, nothing spun; at or under it, the send goes', async () => {
  const greedy = await Relay.start({ dataDir: tempDir(), port: 0, powDifficulty: MAX_POW_DIFFICULTY + 1 });
  const fair = await Relay.start({ dataDir: tempDir(), port: 0, powDifficulty: 8 });
  try {
    for (const [relay, ok] of [[greedy, false], [fair, true]] as const) {
      const owner = await RelayConnection.connect(relay.address);
      const keys = newMailboxKeys({ public: true });
      await createMailbox(owner, keys);
      const sender = await RelayConnection.connect(relay.address);
      const t0 = performance.now();
      const outcome = await sendEnvelope(sender, sendCapability(relay.address, keys), randomBytes(256)).then(() => null, (e: unknown) => e);
      const ms = performance.now() - t0;
      if (ok) {
        assert.is(outcome, null, String(outcome));
      } else {
        assert.ok(isClientError(outcome, 'POW_TOO_HARD'), String(outcome));
        assert.ok(ms < 200, `refused after ${ms.toFixed(0)} ms`);
        // Through the send pool (the outbox's path) it is final, not retried.
        const pool = new SendPool(wsConnector);
        const viaPool = await pool.send(sendCapability(relay.address, keys), randomBytes(256)).then(() => null, (e: unknown) => e);
        assert.ok(isClientError(viaPool, 'POW_TOO_HARD'), String(viaPool));
        await pool.close();
      }
      await Promise.all([owner.close(), sender.close()]);
    }
  } finally {
    await Promise.all([greedy.close(), fair.close()]);
  }
});

test('END: the client subscribes again after a backoff, at most 3 times per connection; no endless tug of war', async () => {
  const relay = await startRelay();
  const carol = await openClient(relay.address);
  const bob = await openClient(relay.address);
  try {
    const { ab, ba } = await connect(carol, bob);
    const keys = carol._internals().inboxKeys(ab.id)!;
    const cIn = inbox(carol);
    // A second reader takes the subscription over once, then goes away.
    const thief = await RelayConnection.connect(relay.address);
    await authenticate(thief, keys);
    await subscribe(thief, keys);
    await until(() => carol.stats().takeovers === 1, 5_000, 'the END counted');
    await thief.close();
    await bob.send(ba.id, 'after the takeover');
    await cIn.until(1, 5_000); // carol subscribed again
    // A reader that takes it back at every END: carol gives up after 3 re-SUBs on this
    // connection (the one above counts), so the twin sees 2 ENDs and carol 4 in all.
    const twin = await RelayConnection.connect(relay.address);
    let ends = 0;
    twin.onEnd(() => { ends++; void subscribe(twin, keys).catch(() => undefined); });
    await authenticate(twin, keys);
    await subscribe(twin, keys);
    await until(() => ends >= 2, 12_000, 'two re-subscriptions');
    await until(() => carol.stats().takeovers === 4, 5_000, 'the last END');
    await new Promise((r) => setTimeout(r, 3_000));
    assert.is(ends, 2, 'carol stopped taking it back');
    assert.is(carol.stats().takeovers, 4);
    await twin.close();
  } finally {
    await Promise.all([carol.close(), bob.close()]);
    await relay.close();
  }
});

test('a HELLO after the expiry is refused to the second, though the relay dates it to the minute', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  try {
    // Expiry and arrival must fall in one relay minute: the minute alone would let it through.
    while (Math.floor(Date.now() / 1000) % 60 > 50) await new Promise((r) => setTimeout(r, 500));
    const link = await alice.createInvitation({ ttlSeconds: 2 });
    await new Promise((r) => setTimeout(r, 3_500));
    const refused = nextEvent<{ reason: string }>(alice, 'dropped', 8_000);
    let contact = false;
    alice.on('contact', () => { contact = true; });
    // Bob's clock is 10 s behind: his own expiry check passes.
    const realNow = Date.now;
    Date.now = () => realNow() - 10_000;
    const accepting = bob.acceptInvitation(link, { timeoutMs: 2_000 }).then(() => null, (e: unknown) => e as ClientError);
    Date.now = realNow;
    assert.is((await refused).reason, 'expired');
    assert.ok(isClientError(await accepting, 'HANDSHAKE_TIMEOUT'));
    assert.is(contact, false, 'no contact made from a late HELLO');
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test.after(cleanup);
test.run();

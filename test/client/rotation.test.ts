// Mailbox rotation (spec/client.md §8.2): a new mailbox, announced in the ratchet; the
// contact switches; the old mailbox is drained and deleted at the contact's first message
// to the new one, after which the old capability no longer works.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RelayConnection } from '../../src/client/node/connection.js';
import { sendEnvelope } from '../../src/client/mailbox.js';
import { isProtocolError } from '../../src/wire/index.js';
import { randomBytes } from '../../src/crypto/index.js';
import { cleanup, connect, inbox, openClient, startRelay, until } from './_helpers.js';

test('rotateMailbox: the contact follows, the old mailbox goes', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const raw = await RelayConnection.connect(relay.address);
  try {
    const { ab, ba } = await connect(alice, bob);
    const aIn = inbox(alice), bIn = inbox(bob);
    const oldCap = bob._internals().peerCapability(ba.id)!;
    const oldInbox = alice._internals().inboxKeys(ab.id)!;
    await bob.send(ba.id, 'before');
    await aIn.until(1);
    const mailboxesBefore = relay.stats().mailboxes;

    await alice.rotateMailbox(ab.id);
    assert.is(relay.stats().mailboxes, mailboxesBefore + 1, 'the new mailbox exists next to the old one');
    // Bob learns the new capability from the ratchet; his next message goes there.
    await until(() => bob._internals().peerCapability(ba.id)!.sendId !== oldCap.sendId, 5_000, 'Bob switching');
    await bob.send(ba.id, 'after');
    await aIn.until(2);
    await until(() => relay.stats().mailboxes === mailboxesBefore, 5_000, 'old mailbox deleted');
    assert.is.not(alice._internals().inboxKeys(ab.id)!.readId, oldInbox.readId);
    try {
      await sendEnvelope(raw, oldCap, randomBytes(256));
      assert.unreachable('the old capability must be dead');
    } catch (e) {
      assert.ok(isProtocolError(e, 'AUTH'), String(e));
    }
    // Both directions still work, and Bob can rotate too.
    await bob.rotateMailbox(ba.id);
    await alice.send(ab.id, 'to the new one');
    await bIn.until(1);
    await bob.send(ba.id, 'last');
    await aIn.until(3);
    assert.equal(aIn.messages.map((m) => m.text), ['before', 'after', 'last']);
    assert.is(alice.stats().dropped.total + bob.stats().dropped.total, 0);
  } finally {
    await raw.close();
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test.after(cleanup);
test.run();

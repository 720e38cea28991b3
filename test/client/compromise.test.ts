// Post-compromise security at the SDK level (spec/client.md §4, ratchet.md): Eve copies
// Bob's session state and his mailbox secret. She can read what Alice sends next; after one
// round trip (Bob answers, which moves the DH ratchet), she can no longer read Alice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromUtf8 } from '../../src/crypto/index.js';
import { decodeSession, sessionDecrypt } from '../../src/client/session.js';
import { openEnvelope } from '../../src/crypto/index.js';
import { decodePayload } from '../../src/client/payload.js';
import type { OutboxEntry } from '../../src/client/outbox.js';
import type { MailboxKeys } from '../../src/client/mailbox.js';
import { cleanup, connect, inbox, openClient, startRelay } from './_helpers.js';

function eveReads(session: ReturnType<typeof decodeSession>, mailbox: MailboxKeys, envelope: Uint8Array): string | null {
  const { body } = openEnvelope({ mailboxSecret: mailbox.mailboxSecret, mailboxKey: mailbox.mailboxKey, envelope });
  try {
    const p = decodePayload(sessionDecrypt(session, body.subarray(1)));
    return p.type === 'text' ? p.text : `(${p.type})`;
  } catch {
    return null;
  }
}

test('a stolen session reads the next message, and heals after a round trip', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  try {
    const { ab, ba } = await connect(alice, bob);
    const aIn = inbox(alice), bIn = inbox(bob);
    await alice.send(ab.id, 'warm-up');
    await bIn.until(1);
    await bob.send(ba.id, 'warm-up reply');
    await aIn.until(1);

    // Compromise: Eve copies Bob's ratchet state and his mailbox keys.
    const stolen = decodeSession(bob._internals().exportSession(ba.id));
    const mailbox = bob._internals().inboxKeys(ba.id)!;
    const captured: OutboxEntry[] = [];
    alice._internals().onSent((e) => captured.push(e));

    await alice.send(ab.id, 'secret one');
    await bIn.until(2);
    assert.is(eveReads(stolen, mailbox, captured.at(-1)!.envelope), 'secret one', 'the compromise is real');

    // Bob answers: a new DH ratchet step that Eve, passive, cannot follow.
    await bob.send(ba.id, 'answer');
    await aIn.until(2);
    await alice.send(ab.id, 'secret two');
    await bIn.until(3);
    assert.is(bIn.messages[2]!.text, 'secret two', 'Bob reads it');
    assert.is(eveReads(stolen, mailbox, captured.at(-1)!.envelope), null, 'Eve no longer can');
    void fromUtf8;
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test.after(cleanup);
test.run();

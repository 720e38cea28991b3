// Profiles made before devices (spec/devices.md §11): two people who talked with the first
// format, one contact record each holding the channel, open with this version: each contact
// becomes a person and a channel, each side makes its account, asks for the other's list, and
// they talk on with the same session, the verification kept and one safety code on both sides.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Client } from '../../src/client/index.js';
import { del, KIND, put } from '../../src/client/state.js';
import { cleanup, connect, inbox, openClient, startRelay, tempDir, until } from './_helpers.js';
import { ctxOf } from './_link.js';

/** Rewrites a one-contact profile into the first format: a contact record holding its channel, no account. */
async function toFirstFormat(c: Client): Promise<void> {
  const ctx = ctxOf(c);
  const [p] = [...ctx.contacts.values()];
  const ch = ctx.channelsOf(p!.id)[0]!;
  const v1 = {
    id: ch.id, name: p!.name, identity: ch.identity, transcriptHash: ch.transcriptHash, safetyCode: 'of the first format',
    verified: p!.verified, established: ch.established, role: ch.role, inboxId: ch.inboxId, nextInboxId: ch.nextInboxId,
    rotatedAt: ch.rotatedAt, peer: ch.peer, createdAt: ch.createdAt,
  };
  await ctx.store.write([del(KIND.contact, p!.id), del(KIND.channel, ch.id), del(KIND.account, 'self'), put(KIND.contact, ch.id, v1)]);
}

test('two profiles of the first format open, learn each other\'s accounts, and talk on', async () => {
  const relay = await startRelay();
  const dirs = { alice: tempDir(), bob: tempDir() };
  let alice = await openClient(relay.address, { dataDir: dirs.alice });
  let bob = await openClient(relay.address, { dataDir: dirs.bob });
  try {
    const { ab, ba } = await connect(alice, bob);
    await alice.verifyContact(ab.id, ab.safetyCode);
    await bob.send(ba.id, 'before');
    await inbox(alice).until(1).catch(() => undefined);
    await Promise.all([toFirstFormat(alice), toFirstFormat(bob)]);
    await Promise.all([alice.close(), bob.close()]);

    alice = await openClient(relay.address, { dataDir: dirs.alice });
    bob = await openClient(relay.address, { dataDir: dirs.bob });
    await until(() => alice.contacts()[0]?.established === true && bob.contacts()[0]?.established === true, 20_000, 'both learn the other account');
    const [a, b] = [alice.contacts()[0]!, bob.contacts()[0]!];
    assert.is(a.safetyCode, b.safetyCode, 'one safety code, over the two accounts');
    assert.ok(a.verified, "Alice's verification of Bob's device is kept");
    assert.not.ok(b.verified);
    assert.is(alice.devices.list().length, 1);
    const toBob = inbox(bob), toAlice = inbox(alice);
    await alice.send(a.id, 'after, from alice');
    await bob.send(b.id, 'after, from bob');
    assert.is((await toBob.until(1))[0]!.text, 'after, from alice');
    assert.is((await toAlice.until(1))[0]!.text, 'after, from bob');
  } finally {
    await Promise.all([alice.close(), bob.close()].map((p) => p.catch(() => undefined)));
    await relay.close();
    cleanup();
  }
});

test.run();

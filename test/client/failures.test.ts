// Everything that must fail, fail cleanly (spec/client.md §3, §6.3, §11): tampered, replayed,
// truncated, misaddressed and foreign envelopes are dropped and counted, never shown and
// never fatal; expired, reused, own and malformed invitations are refused with typed errors;
// a wrong passphrase is WRONG_PASSPHRASE; a substituted invitation shows different codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Client, isClientError, type Contact } from '../../src/client/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { sendEnvelope, type SendCapability } from '../../src/client/mailbox.js';
import { decodeInvitation, encodeInvitation, formatInvitationLink, invitationPayloadOf } from '../../src/client/invitation.js';
import { sealEnvelope } from '../../src/crypto/index.js';
import { newIdentity } from '../../src/client/identity.js';
import { randomBytes, x25519KeyPair } from '../../src/crypto/index.js';
import type { OutboxEntry } from '../../src/client/outbox.js';
import { cleanup, connect, inbox, nextEvent, openClient, startRelay, TEST_KDF, tempDir, until } from './_helpers.js';

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(isClientError(e), `expected a ClientError, got ${String(e)}`);
    assert.is((e as { code: string }).code, code);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('tampered, replayed, truncated, misaddressed and foreign envelopes are dropped and counted', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const raw = await RelayConnection.connect(relay.address);
  try {
    const { ab, ba } = await connect(alice, bob);
    const aIn = inbox(alice);
    const captured: OutboxEntry[] = [];
    bob._internals().onSent((e) => captured.push(e));
    await bob.send(ba.id, 'genuine one ' + 'x'.repeat(400)); // a 1024-byte envelope
    await aIn.until(1);
    const genuine = captured.at(-1)!;
    const cap: SendCapability = bob._internals().peerCapability(ba.id)!;
    const drops: string[] = [];
    alice.on('dropped', (d) => drops.push(d.reason));

    // 1. a flipped bit inside the HPKE ciphertext
    const tampered = genuine.envelope.slice();
    tampered[100]! ^= 0x01;
    await sendEnvelope(raw, cap, tampered);
    // 2. the same genuine envelope again (a relay or observer replaying it)
    await sendEnvelope(raw, cap, genuine.envelope);
    // 3. truncated to a smaller bucket
    assert.is(genuine.envelope.length, 1024);
    await sendEnvelope(raw, cap, genuine.envelope.slice(0, 256));
    // 4. sealed by Bob for another mailbox, delivered to Alice's
    const other = x25519KeyPair();
    await sendEnvelope(raw, cap, sealEnvelope({ mailboxKey: other.publicKey, sender: bob._internals().identityDh, body: new Uint8Array([2, 1, 2, 3]) }));
    // 5. sealed correctly to Alice's mailbox, but by a stranger
    await sendEnvelope(raw, cap, sealEnvelope({ mailboxKey: cap.mailboxKey, sender: newIdentity().dh, body: new Uint8Array([2, 9, 9]) }));
    // 6. random bytes of a bucket size
    await sendEnvelope(raw, cap, randomBytes(1024));
    // 7. Bob's identity, right mailbox, but a body that is no ratchet message
    await sendEnvelope(raw, cap, sealEnvelope({ mailboxKey: cap.mailboxKey, sender: bob._internals().identityDh, body: new Uint8Array([7, 7, 7]) }));

    await until(() => alice.stats().dropped.total >= 7 && drops.length >= 7, 10_000, '7 drops');
    const s = alice.stats();
    assert.is(s.dropped.total, 7, JSON.stringify(s.dropped));
    assert.is(s.dropped.undecryptable, 4, 'tampered, truncated, misaddressed, random');
    assert.is(s.dropped.replay, 1);
    assert.is(s.dropped['unknown-sender'], 1);
    assert.is(s.dropped.malformed, 1);
    assert.is(drops.length, 7);
    assert.is(aIn.messages.length, 1, 'nothing dropped reaches the app');

    // The session is intact: both directions still work.
    await bob.send(ba.id, 'still here');
    await alice.send(ab.id, 'me too');
    const got = await aIn.until(2);
    assert.is(got[1]!.text, 'still here');
    await nextEvent(bob, 'message');
  } finally {
    await raw.close();
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test('expired, reused, own and malformed invitations are refused', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const carol = await openClient(relay.address);
  try {
    const short = await alice.createInvitation({ ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1_100));
    await expectCode(bob.acceptInvitation(short), 'INVITATION_EXPIRED');

    const link = await alice.createInvitation();
    await expectCode(alice.acceptInvitation(link), 'OWN_INVITATION');
    const before = alice._internals().mailboxCount();
    const onA = nextEvent<Contact>(alice, 'contact');
    await bob.acceptInvitation(link);
    await onA;
    await expectCode(bob.acceptInvitation(link), 'INVITATION_USED');
    // The one-time mailbox is deleted at the relay: anyone else gets INVITATION_USED too.
    await until(() => alice._internals().mailboxCount() === before, 5_000, 'invitation mailbox deletion');
    await expectCode(carol.acceptInvitation(link), 'INVITATION_USED');
    assert.is(carol.contacts().length, 0, 'a refused accept leaves no contact behind');
    assert.is(alice.contacts().length, 1);

    await expectCode(bob.acceptInvitation('sealpost:invite/AAAA'), 'BAD_INVITATION');
    await expectCode(bob.acceptInvitation('https://example.org/'), 'BAD_INVITATION');
    const payload = invitationPayloadOf(await alice.createInvitation());
    payload[70]! ^= 1; // inside the inviter's identity: the signature no longer verifies
    await expectCode(bob.acceptInvitation(formatInvitationLink(payload)), 'INVITATION_TAMPERED');
  } finally {
    await Promise.all([alice.close(), bob.close(), carol.close()]);
    await relay.close();
  }
});

test('a substituted invitation (person in the middle) yields different safety codes', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const mallory = await openClient(relay.address);
  try {
    // Mallory relays: she accepts Alice's invitation and hands Bob one of her own.
    const fromAlice = await alice.createInvitation();
    const aSees = nextEvent<Contact>(alice, 'contact');
    const mToAlice = await mallory.acceptInvitation(fromAlice);
    const aliceView = await aSees;
    const fromMallory = await mallory.createInvitation();
    const bobView = await bob.acceptInvitation(fromMallory);
    assert.is.not(aliceView.safetyCode, bobView.safetyCode, 'Alice and Bob compare and see the difference');
    assert.is(mToAlice.safetyCode, aliceView.safetyCode);

    // Substituting the identity inside Alice's link and signing it anew with Mallory's key (the
    // one edit the signature cannot catch, spec/client.md §3.1): Bob's HELLO still reaches Alice's
    // mailbox, the handshake cannot complete, Alice's contact stays pending (no event, never
    // established), and the codes differ.
    const link = await alice.createInvitation();
    const inv = decodeInvitation(invitationPayloadOf(link));
    const m = newIdentity();
    const forged = formatInvitationLink(encodeInvitation({ ...inv, inviter: m.publicKey }, m.sign.seed));
    const aliceEvents: Contact[] = [];
    alice.on('contact', (c) => aliceEvents.push(c));
    await expectCode(bob.acceptInvitation(forged, { timeoutMs: 1_500 }), 'HANDSHAKE_TIMEOUT');
    await until(() => alice.contacts().length === 2, 5_000, "Alice handling Bob's HELLO");
    const alicePending = alice.contacts().find((c) => !c.established)!;
    assert.ok(alicePending, "Alice's contact for the failed handshake is pending, not established");
    const bobPending = bob.contacts().find((c) => !c.established)!;
    assert.ok(bobPending, 'Bob keeps a pending contact');
    // Neither knows the other's account, so neither has a safety code to compare or verify (spec/devices.md §2).
    assert.is(alicePending.safetyCode, '');
    assert.is(bobPending.safetyCode, '');
    await expectCode(bob.verifyContact(bobPending.id, '00000 00000 00000 00000'), 'CONTACT_PENDING');
    await until(() => bob.stats().dropped.total >= 1, 5_000, 'the confirm dropped at Bob');
    assert.equal(aliceEvents, [], 'no contact event at Alice for a handshake that did not complete');
  } finally {
    await Promise.all([alice.close(), bob.close(), mallory.close()]);
    await relay.close();
  }
});

test('wrong passphrase is WRONG_PASSPHRASE; the right one reopens the same identity', async () => {
  const relay = await startRelay();
  const dataDir = tempDir();
  try {
    const c1 = await openClient(relay.address, { dataDir });
    const id = c1.identityKey;
    await expectCode(Client.open({ dataDir, passphrase: 'other', kdf: TEST_KDF }), 'PROFILE_LOCKED');
    await c1.close();
    await expectCode(Client.open({ dataDir, passphrase: 'not the passphrase', kdf: TEST_KDF }), 'WRONG_PASSPHRASE');
    await expectCode(Client.open({ dataDir, passphrase: '', kdf: TEST_KDF }), 'INVALID_ARGUMENT');
    const c2 = await Client.open({ dataDir, passphrase: 'correct horse battery staple' });
    assert.is(c2.identityKey, id);
    assert.is(c2.relay, relay.address);
    await c2.close();
  } finally {
    await relay.close();
  }
});

test.after(cleanup);
test.run();

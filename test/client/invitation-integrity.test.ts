// A tampered invitation (spec/client.md §3.1, §4; issue 11 finding 8): one character edited in
// any field of the link is refused by acceptInvitation at once, with INVITATION_TAMPERED,
// before anything is created, stored or sent; the genuine link then still works for the
// genuine acceptor, and the inviter never holds an established contact for a handshake that
// did not complete (it marks the contact established only once the acceptor has proven, in the
// ratchet, that it derived the same keys).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isClientError, type Client, type Contact } from '../../src/client/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { encodeHello } from '../../src/client/handshake.js';
import { newIdentity } from '../../src/client/identity.js';
import { decodeInvitation, formatInvitationLink, invitationCapability, invitationPayloadOf } from '../../src/client/invitation.js';
import { newMailboxKeys, sendCapability, sendEnvelope } from '../../src/client/mailbox.js';
import { sealEnvelope, utf8, x25519KeyPair } from '../../src/crypto/index.js';
import { Writer } from '../../src/wire/bytes-codec.js';
import { cleanup, nextEvent, openClient, startRelay, until } from './_helpers.js';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The byte ranges of an invitation's fields (spec/client.md §3). Version 2 replaced the
 * binding by a signature over every field; the "binding" row is that signature there.
 */
function fieldsOf(payload: Uint8Array): Record<string, [number, number]> {
  const relayEnd = (at: number): number => at + 2 + ((payload[at]! << 8) | payload[at + 1]!);
  if (payload[0] === 1) {
    return {
      'inviter (Ed25519 half)': [1, 33], 'inviter (X25519 half)': [33, 65], binding: [65, 129], invitationKey: [129, 161],
      expiresAt: [161, 165], mailboxKey: [165, 197], accessKey: [197, 229], relay: [231, relayEnd(229)],
    };
  }
  return {
    'inviter (Ed25519 half)': [1, 33], 'inviter (X25519 half)': [33, 65], invitationKey: [65, 97], expiresAt: [97, 101],
    mailboxKey: [101, 133], accessKey: [133, 165], relay: [167, relayEnd(165)], binding: [payload.length - 64, payload.length],
  };
}

/**
 * The link with one base64url character changed, a character whose bits lie inside the
 * field [start, end); its 6-bit value goes up by one (down at 63), so an expiry only moves later.
 */
function flipOneCharacter(link: string, [start, end]: [number, number]): string {
  const prefix = 'sealpost:invite/';
  const mid = start + Math.floor((end - start) / 2);
  const c = Math.ceil((mid * 8) / 6); // first character starting at or after byte `mid`
  assert.ok(Math.floor((c * 6) / 8) >= start && Math.floor((c * 6 + 5) / 8) < end, 'the character lies inside the field');
  const text = link.slice(prefix.length);
  const v = B64URL.indexOf(text[c]!);
  const flipped = text.slice(0, c) + B64URL[v === 63 ? 62 : v + 1] + text.slice(c + 1);
  assert.is.not(flipped, text);
  return prefix + flipped;
}

const codeOf = (e: unknown): string => (isClientError(e) ? e.code : `not a ClientError: ${String(e)}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the acceptor's side looks like: its contacts, its store commits, the relay's mailboxes. */
function footprint(bob: Client, relay: { stats(): { mailboxes: number } }): string {
  return JSON.stringify({ contacts: bob.contacts().length, commits: bob._internals().storeCommits(), relayMailboxes: relay.stats().mailboxes });
}

/**
 * The footprint once the previous round's traffic has settled: its confirms, mailbox
 * deletions and deferred store changes (spec/client.md §7.4) land within about a second.
 */
async function settledFootprint(bob: Client, relay: { stats(): { mailboxes: number } }): Promise<string> {
  let last = footprint(bob, relay);
  for (let stable = 0, i = 0; stable < 3 && i < 60; i++) {
    await sleep(150);
    const now = footprint(bob, relay);
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}

type TestRelay = Awaited<ReturnType<typeof startRelay>>;

/** A relay, an inviter and an acceptor on it, closed after `fn`. */
async function withInviterAndAcceptor(fn: (relay: TestRelay, alice: Client, bob: Client) => Promise<void>): Promise<void> {
  const relay = await startRelay();
  const [alice, bob] = await Promise.all([openClient(relay.address), openClient(relay.address)]);
  try {
    await fn(relay, alice, bob);
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
}

test('one character edited in any field: INVITATION_TAMPERED at once, nothing sent or stored, the genuine link still works', async () => {
  await withInviterAndAcceptor(async (relay, alice, bob) => {
    const aliceEvents: Contact[] = [];
    alice.on('contact', (c) => aliceEvents.push(c));
    const outcomes: string[] = [];
    const fieldNames = Object.keys(fieldsOf(invitationPayloadOf(await alice.createInvitation())));
    for (const field of fieldNames) {
      const link = await alice.createInvitation({ name: field });
      const tampered = flipOneCharacter(link, fieldsOf(invitationPayloadOf(link))[field]!);
      const before = await settledFootprint(bob, relay);
      const aliceBefore = alice.contacts().length;
      const started = Date.now();
      const outcome = await bob.acceptInvitation(tampered, { timeoutMs: 1_500 }).then(() => 'accepted', codeOf);
      const took = Date.now() - started;
      await sleep(200); // anything sent would reach Alice meanwhile
      const after = footprint(bob, relay);
      const aliceAfter = alice.contacts().filter((c) => c.name.startsWith(field));
      // The genuine acceptor then uses the genuine link.
      const onA = nextEvent<Contact>(alice, 'contact', 10_000, (c) => c.name.startsWith(field) && c.established);
      onA.catch(() => undefined);
      const genuine = await bob.acceptInvitation(link).then((c) => (c.established ? 'ok' : 'pending'), codeOf);
      const aliceContact = genuine === 'ok' ? await onA.then((c) => c.established, () => false) : false;
      outcomes.push(JSON.stringify({
        field, outcome, fast: took < 1_000, nothingStored: before === after, inviterContactsFromTamper: aliceAfter.length,
        genuine, inviterEstablished: aliceContact, inviterTotal: alice.contacts().length - aliceBefore,
      }));
    }
    const expected = fieldNames.map((field) => JSON.stringify({
      field, outcome: 'INVITATION_TAMPERED', fast: true, nothingStored: true, inviterContactsFromTamper: 0,
      genuine: 'ok', inviterEstablished: true, inviterTotal: 1,
    }));
    assert.equal(outcomes, expected);
    assert.ok(aliceEvents.every((c) => c.established), 'every contact event of the inviter is for an established contact');
  });
});

test('an old-version (unsigned) link is refused with INVITATION_VERSION, nothing sent or stored', async () => {
  await withInviterAndAcceptor(async (relay, alice, bob) => {
    const inv = decodeInvitation(invitationPayloadOf(await alice.createInvitation()));
    const m = newIdentity(); // a v1 link as the old client made it: its identity and binding, no signature
    const v1 = new Writer().u8(1).bytes(m.publicKey, 64).bytes(m.binding, 64).bytes(inv.invitationKey, 32).u32(inv.expiresAt)
      .bytes(inv.mailboxKey, 32).bytes(inv.accessKey, 32).var16(utf8(inv.relay)).finish();
    const before = footprint(bob, relay);
    const outcome = await bob.acceptInvitation(formatInvitationLink(v1), { timeoutMs: 1_500 }).then(() => 'accepted', codeOf);
    assert.is(outcome, 'INVITATION_VERSION');
    assert.is(footprint(bob, relay), before, 'nothing created, stored or sent');
    // A newer version than this client knows: the same code.
    const v9 = v1.slice(); v9[0] = 9;
    assert.is(await bob.acceptInvitation(formatInvitationLink(v9)).then(() => 'accepted', codeOf), 'INVITATION_VERSION');
  });
});

test('the inviter keeps a contact pending (no event, CONTACT_PENDING) until the acceptor proves its keys', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const raw = await RelayConnection.connect(relay.address);
  const events: Contact[] = [];
  alice.on('contact', (c) => events.push(c));
  try {
    // An acceptor that sends a well-formed HELLO and then never answers the confirm: a
    // handshake that fails after the HELLO (the acceptor derived other keys, or went away).
    const link = await alice.createInvitation({ name: 'silent' });
    const inv = decodeInvitation(invitationPayloadOf(link));
    const stranger = newIdentity();
    const hello = encodeHello({
      identity: stranger.publicKey, binding: stranger.binding, ephemeralKey: x25519KeyPair().publicKey,
      capability: sendCapability(relay.address, newMailboxKeys()),
    });
    await sendEnvelope(raw, invitationCapability(inv), sealEnvelope({ mailboxKey: inv.mailboxKey, sender: stranger.dh, body: hello }));
    await until(() => alice.contacts().length === 1, 5_000, 'the inviter processing the HELLO');
    await sleep(500);
    const c = alice.contacts()[0]!;
    assert.is(c.established, false, 'no established contact before key confirmation');
    assert.equal(events, [], 'no contact event for a handshake that has not completed');
    const sent = await alice.send(c.id, 'hello?').then(() => 'sent', codeOf);
    assert.is(sent, 'CONTACT_PENDING');
  } finally {
    await raw.close();
    await alice.close();
    await relay.close();
  }
});

test.after(cleanup);
test.run();

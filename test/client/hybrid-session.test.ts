// The client's sessions are hybrid (spec/client.md §4, §5.1; spec/ratchet.md §12): the hello
// carries the acceptor's ML-KEM-768 key, the inviter's first chain mixes the handshake's KEM
// secret, and a conversation of ordinary texts carries the ML-KEM exchanges in its padding
// room until they are mixed into the root key, without moving any message to a larger bucket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Client } from '../../src/client/index.js';
import { pqRoomFor } from '../../src/client/session.js';
import { bucketFor, randomBytes, x25519KeyPair } from '../../src/crypto/index.js';
import { encrypt, initSender } from '../../src/ratchet/index.js';
import { connect, inbox, openClient, startRelay } from './_helpers.js';
import { ctxOf } from './_link.js';

const sessionOf = (c: Client) => [...ctxOf(c).sessions.values()][0]!;

test('two clients make a hybrid session and mix ML-KEM exchanges in an ordinary conversation', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  try {
    const { ab, ba } = await connect(alice, bob);
    const a = sessionOf(alice), b = sessionOf(bob);
    assert.ok(a.pq && b.pq, 'both sessions are hybrid');
    assert.is(b.pq!.handshakeSeed, null, 'the acceptor used its handshake KEM seed on the first message');
    assert.is(a.pq!.handshakeCiphertext, null, 'the inviter has left its first chain');
    const aIn = inbox(alice), bIn = inbox(bob);
    for (let i = 0; i < 40; i++) {
      await alice.send(ab.id, `a text of some length from alice, number ${i}`);
      await bIn.until(i + 1);
      await bob.send(ba.id, `a text of some length from bob, number ${i}`);
      await aIn.until(i + 1);
    }
    assert.ok(a.pq!.mixed >= 1 && b.pq!.mixed >= 1, `exchanges mixed: alice ${a.pq!.mixed}, bob ${b.pq!.mixed}`);
    assert.is(alice.stats().dropped.total, 0);
    assert.is(bob.stats().dropped.total, 0);
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test('pqRoomFor: a chunk never moves a message to a larger bucket; a short text in the smallest bucket gets none', () => {
  const key = x25519KeyPair();
  const s = initSender(randomBytes(32), randomBytes(32), key.publicKey, { hybrid: true });
  for (const length of [0, 10, 14, 40, 150, 700, 900, 3000]) {
    const room = pqRoomFor(s, length);
    const message = encrypt(s, new Uint8Array(length), { pqRoom: room });
    const withoutChunk = encrypt(s, new Uint8Array(length), { pqRoom: 0 });
    // The envelope content: senderKey, auth, kind byte, the ratchet message (spec/crypto.md §9, client.md §5).
    assert.is(bucketFor(65 + message.length), bucketFor(65 + withoutChunk.length), `length ${length}`);
  }
  assert.ok(pqRoomFor(s, 10) < 13 + 128, 'a 10-byte plaintext in the 256-byte bucket has no room for a chunk');
});

test.run();

// Retired ratchet secrets are overwritten (spec/ratchet.md §5.4): when a contact's session is
// replaced, when a contact is forgotten, and when the client closes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, x25519KeyPair } from '../../src/crypto/index.js';
import { ClientContext, type ContextParts } from '../../src/client/context.js';
import { startInitiator, type Session } from '../../src/client/session.js';

const zero = (b: Uint8Array | null): boolean => b !== null && b.every((x) => x === 0);
const newSession = (): Session => startInitiator(randomBytes(32), randomBytes(32), x25519KeyPair().publicKey);
const secretsOf = (s: Session): Uint8Array[] => [s.rk, s.cks!, s.dhs.secretKey];

test('a replaced session and a dropped one are wiped; the live one is not', () => {
  const ctx = new ClientContext({} as ContextParts);
  const first = newSession(), second = newSession();
  const firstSecrets = secretsOf(first), secondSecrets = secretsOf(second);
  ctx.setSession('c', first);
  ctx.setSession('c', second);
  assert.ok(firstSecrets.every(zero), 'the replaced session is wiped');
  assert.not.ok(secondSecrets.some(zero), 'the live session is intact');
  ctx.setSession('c', second); // setting the same state again wipes nothing
  assert.not.ok(secondSecrets.some(zero));
  ctx.dropSession('c');
  assert.ok(secondSecrets.every(zero), 'a dropped session is wiped');
  assert.is(ctx.sessions.size, 0);
});

test.run();

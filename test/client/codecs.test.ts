// Pure codecs of the client (spec/client.md §3–§5): round trips, and refusals for every
// malformed input class; the handshake agrees on both sides and disagrees under substitution.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sendIdOf, x25519KeyPair, type AccessKey } from '../../src/crypto/index.js';
import { MalformedError, Reader, Writer } from '../../src/wire/bytes-codec.js';
import { acceptorSecret, decodeHello, encodeHello, inviterSecret, transcriptHash } from '../../src/client/handshake.js';
import { newIdentity, verifyIdentity } from '../../src/client/identity.js';
import {
  checkNotExpired, decodeInvitation, encodeInvitation, formatInvitationLink, parseInvitationLink, type Invitation,
} from '../../src/client/invitation.js';
import { decodePayload, encodePayload, newPayload } from '../../src/client/payload.js';
import { decodeRecord, encodeRecord } from '../../src/client/records.js';
import { isClientError } from '../../src/client/errors.js';
import type { SendCapability } from '../../src/client/mailbox.js';

const RELAY = 'sealpost+ws://AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:8787';
const cap = (): SendCapability => {
  const k = x25519KeyPair().publicKey;
  return { address: RELAY, sendId: sendIdOf(k), mailboxKey: k, accessKey: new Uint8Array(32).fill(7) as AccessKey };
};
function invitation(): { inv: Invitation; invSecret: Uint8Array; alice: ReturnType<typeof newIdentity> } {
  const alice = newIdentity();
  const invKey = x25519KeyPair();
  const c = cap();
  return {
    alice, invSecret: invKey.secretKey,
    inv: { inviter: alice.publicKey, binding: alice.binding, invitationKey: invKey.publicKey, expiresAt: 2_000_000_000, relay: RELAY, mailboxKey: c.mailboxKey, accessKey: c.accessKey! },
  };
}
const refuses = (fn: () => unknown, code: string): void => {
  try { fn(); } catch (e) { assert.ok(isClientError(e, code as never), String(e)); return; }
  assert.unreachable(`expected ${code}`);
};
const malformed = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => e instanceof MalformedError);

test('Writer/Reader: integers, var16, strict end', () => {
  const b = new Writer().u8(1).u16(513).u32(0xdeadbeef).u64(2 ** 53 - 1).var16(new Uint8Array([9, 9])).finish();
  const r = new Reader(b);
  assert.equal([r.u8(), r.u16(), r.u32(), r.u64()], [1, 513, 0xdeadbeef, 2 ** 53 - 1]);
  assert.equal([...r.var16()], [9, 9]);
  r.end();
  malformed(() => new Reader(b.subarray(0, 3)).u32());
  malformed(() => { const x = new Reader(b); x.u8(); x.end(); });
  assert.throws(() => new Writer().u8(256));
});

test('invitation: round trip through the link; every corruption is BAD_INVITATION', () => {
  const { inv } = invitation();
  const payload = encodeInvitation(inv);
  const link = formatInvitationLink(payload);
  assert.ok(link.startsWith('sealpost:invite/'));
  const back = parseInvitationLink(`  ${link}\n`);
  assert.equal(back.invitation, { ...inv, inviter: back.invitation.inviter });
  assert.equal([...back.payload], [...payload]);
  for (const cut of [0, 1, 100, payload.length - 1]) refuses(() => decodeInvitation(payload.subarray(0, cut)), 'BAD_INVITATION');
  refuses(() => decodeInvitation(new Uint8Array([...payload, 0])), 'BAD_INVITATION');
  const v2 = payload.slice(); v2[0] = 2;
  refuses(() => decodeInvitation(v2), 'BAD_INVITATION');
  const badSig = payload.slice(); badSig[1 + 64 + 5]! ^= 1;
  refuses(() => decodeInvitation(badSig), 'BAD_INVITATION');
  refuses(() => decodeInvitation(encodeInvitation({ ...inv, relay: 'http://nope' })), 'BAD_INVITATION');
  refuses(() => parseInvitationLink('sealpost:invite/***'), 'BAD_INVITATION');
  refuses(() => parseInvitationLink('sealpost:link/AAAA'), 'BAD_INVITATION');
  refuses(() => checkNotExpired(inv, 2_000_000_000_000), 'INVITATION_EXPIRED');
  checkNotExpired(inv, 1_999_999_999_000);
});

test('payload: every type round-trips; unknown versions, types and trailing bytes are malformed', () => {
  const c = cap();
  for (const content of [
    { type: 'text', text: 'héllo ✓' },
    { type: 'text', text: '' },
    { type: 'receipt', ids: [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)] },
    { type: 'rotate-mailbox', capability: c },
    { type: 'confirm', capability: c },
  ] as const) {
    const p = newPayload(content as never, 1_700_000_000_123);
    const back = decodePayload(encodePayload(p));
    assert.equal(back, p);
  }
  const b = encodePayload(newPayload({ type: 'text', text: 'x' }));
  malformed(() => decodePayload(Uint8Array.of(2, ...b.subarray(1))));
  malformed(() => decodePayload(Uint8Array.of(1, 99, ...b.subarray(2))));
  malformed(() => decodePayload(b.subarray(0, 10)));
  const r = encodePayload(newPayload({ type: 'receipt', ids: [] }));
  malformed(() => decodePayload(Uint8Array.of(...r, 0)));
  const invalidUtf8 = Uint8Array.of(...b.subarray(0, b.length - 1), 0xff);
  malformed(() => decodePayload(invalidUtf8));
});

test('handshake: both sides derive the same key and transcript; a substituted key does not', () => {
  const { inv, invSecret, alice } = invitation();
  const payload = encodeInvitation(inv);
  const bob = newIdentity();
  const e = x25519KeyPair();
  const hello = encodeHello({ identity: bob.publicKey, binding: bob.binding, ephemeralKey: e.publicKey, capability: cap() });
  const h = decodeHello(hello);
  assert.ok(verifyIdentity(h.identity, h.binding));
  const th = transcriptHash(payload, hello);
  const skB = acceptorSecret(bob, e, inv.inviter, inv.invitationKey, th);
  const skA = inviterSecret(alice, invSecret as never, h, th);
  assert.equal([...skA], [...skB]);
  // Mallory's identity in place of Alice's: Bob derives something else.
  const mallory = newIdentity();
  const thM = transcriptHash(encodeInvitation({ ...inv, inviter: mallory.publicKey, binding: mallory.binding }), hello);
  assert.is.not(Buffer.from(thM).toString('hex'), Buffer.from(th).toString('hex'));
  const skM = acceptorSecret(bob, e, mallory.publicKey, inv.invitationKey, th);
  assert.is.not(Buffer.from(skM).toString('hex'), Buffer.from(skA).toString('hex'));
  // A hello whose binding does not verify is malformed.
  const forged = hello.slice(); forged[2 + 64 + 3]! ^= 1;
  malformed(() => decodeHello(forged));
  malformed(() => decodeHello(hello.subarray(0, hello.length - 1)));
});

test('records: bytes survive the JSON form', () => {
  const v = { a: new Uint8Array([1, 2, 3]), n: 5, s: 'x', nested: [{ b: new Uint8Array(0) }], nul: null };
  assert.equal(decodeRecord(encodeRecord(v)), v);
});

test.run();

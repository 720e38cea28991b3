// Pure codecs of the client (spec/client.md §3–§5): round trips, and refusals for every
// malformed input class; the handshake agrees on both sides and disagrees under substitution.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sendIdOf, x25519KeyPair, type AccessKey } from '../../src/crypto/index.js';
import { MalformedError, Reader, Writer } from '../../src/wire/bytes-codec.js';
import { acceptorSecret, decodeHello, encodeHello, inviterSecret, transcriptHash } from '../../src/client/handshake.js';
import { newIdentity, verifyIdentity } from '../../src/client/identity.js';
import {
  checkNotExpired, decodeInvitation, encodeInvitation, formatInvitationLink, INVITATION_VERSION, parseInvitationLink, type InvitationFields,
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
function invitation(): { inv: InvitationFields; invSecret: Uint8Array; alice: ReturnType<typeof newIdentity> } {
  const alice = newIdentity();
  const invKey = x25519KeyPair();
  const c = cap();
  return {
    alice, invSecret: invKey.secretKey,
    inv: { inviter: alice.publicKey, invitationKey: invKey.publicKey, expiresAt: 2_000_000_000, relay: RELAY, mailboxKey: c.mailboxKey, accessKey: c.accessKey! },
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

test('invitation: round trip through the link; the version, then the signature, then the layout are checked', () => {
  const { inv, alice } = invitation();
  const payload = encodeInvitation(inv, alice.sign.seed);
  assert.is(payload[0], INVITATION_VERSION);
  assert.is(payload.length, 1 + 64 + 32 + 4 + 32 + 32 + 2 + RELAY.length + 64, 'spec/client.md §3: 231 bytes + the relay address');
  const link = formatInvitationLink(payload);
  assert.ok(link.startsWith('sealpost:invite/'));
  const back = parseInvitationLink(`  ${link}\n`);
  assert.equal({ ...back.invitation, signature: undefined }, { ...inv, signature: undefined });
  assert.equal([...back.payload], [...payload]);
  // Too short to be any invitation, or not a link at all: BAD_INVITATION.
  for (const cut of [0, 1, 100]) refuses(() => decodeInvitation(payload.subarray(0, cut)), 'BAD_INVITATION');
  refuses(() => parseInvitationLink('sealpost:invite/***'), 'BAD_INVITATION');
  refuses(() => parseInvitationLink('sealpost:link/AAAA'), 'BAD_INVITATION');
  // Another version: INVITATION_VERSION, before the signature is looked at.
  for (const v of [1, 3, 255]) { const other = payload.slice(); other[0] = v; refuses(() => decodeInvitation(other), 'INVITATION_VERSION'); }
  // Any other change of the signed bytes, the signature, the length: INVITATION_TAMPERED.
  for (let i = 1; i < payload.length; i += 7) { const t = payload.slice(); t[i]! ^= 0x10; refuses(() => decodeInvitation(t), 'INVITATION_TAMPERED'); }
  refuses(() => decodeInvitation(payload.subarray(0, payload.length - 1)), 'INVITATION_TAMPERED');
  refuses(() => decodeInvitation(new Uint8Array([...payload, 0])), 'INVITATION_TAMPERED');
  // Signed by another identity than the one it names: INVITATION_TAMPERED.
  refuses(() => decodeInvitation(encodeInvitation(inv, newIdentity().sign.seed)), 'INVITATION_TAMPERED');
  // Signed, but wrong in itself (the inviter's own mistake): BAD_INVITATION.
  refuses(() => decodeInvitation(encodeInvitation({ ...inv, relay: 'http://nope' }, alice.sign.seed)), 'BAD_INVITATION');
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
    { type: 'confirm', capability: c, deviceList: new Uint8Array([1, 2, 3]) },
    { type: 'device-list', deviceList: new Uint8Array([9, 8, 7]) },
    { type: 'list-request' },
    { type: 'intro', invitation: new Uint8Array([5, 5]) },
    { type: 'intro-forward', device: new Uint8Array(64).fill(3), invitation: new Uint8Array([6]) },
    { type: 'sent', accounts: [new Uint8Array(32).fill(4), new Uint8Array(32).fill(5)], text: 'à tous' },
    { type: 'contact-sync', verified: true, name: 'Zoë', deviceList: new Uint8Array([1]) },
  ] as const) {
    const p = { ...newPayload(content as never, 1_700_000_000_123), senderSerial: 7, recipientSerial: 3 };
    const back = decodePayload(encodePayload(p));
    assert.equal(back, p);
  }
  const b = encodePayload(newPayload({ type: 'text', text: 'x' }));
  // Version 1 (no serials) is still read, the serials as 0 (spec/client.md §5).
  const v1 = Uint8Array.of(1, ...b.subarray(1, 26), ...b.subarray(34));
  assert.equal({ ...decodePayload(v1) }, { type: 'text', text: 'x', id: b.subarray(2, 18), sentAt: decodePayload(b).sentAt, senderSerial: 0, recipientSerial: 0 });
  malformed(() => decodePayload(Uint8Array.of(3, ...b.subarray(1))));
  malformed(() => decodePayload(Uint8Array.of(2, 0, ...b.subarray(2))));
  malformed(() => decodePayload(Uint8Array.of(2, 16, ...b.subarray(2))));
  const sent = encodePayload(newPayload({ type: 'sent', accounts: [new Uint8Array(32)], text: 'x' }));
  malformed(() => decodePayload(Uint8Array.of(...sent.subarray(0, 34), 0, 0, ...sent.subarray(36)))); // a copy naming no account
  malformed(() => decodePayload(Uint8Array.of(1, 99, ...b.subarray(2))));
  malformed(() => decodePayload(b.subarray(0, 10)));
  const r = encodePayload(newPayload({ type: 'receipt', ids: [] }));
  malformed(() => decodePayload(Uint8Array.of(...r, 0)));
  const invalidUtf8 = Uint8Array.of(...b.subarray(0, b.length - 1), 0xff);
  malformed(() => decodePayload(invalidUtf8));
});

test('handshake: both sides derive the same key and transcript; a substituted key does not', () => {
  const { inv, invSecret, alice } = invitation();
  const payload = encodeInvitation(inv, alice.sign.seed);
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
  const thM = transcriptHash(encodeInvitation({ ...inv, inviter: mallory.publicKey }, mallory.sign.seed), hello);
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

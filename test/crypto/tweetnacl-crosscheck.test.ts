// Both backends against an independent implementation, tweetnacl (a port of TweetNaCl, which
// shares no code with OpenSSL or @noble/*), on random inputs. tweetnacl's results are computed
// once per input (its Ed25519 is ~10 ms per operation) and compared with each backend's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nacl from 'tweetnacl';
import {
  ed25519KeyPair, ed25519PublicFromSeed, ed25519Sign, ed25519Verify, randomBytes, withBackend, x25519,
  x25519KeyPair, x25519PublicFromSecret,
  type BackendName, type Ed25519PublicKey, type Ed25519Seed, type X25519PublicKey, type X25519SecretKey,
} from '../../src/crypto/index.js';
import { toHexString } from '../_support/files.js';

const BACKENDS: readonly BackendName[] = ['node', 'noble'];
const X25519_INPUTS = 300;
const ED25519_INPUTS = 200;

const randomLength = (max: number): number => randomBytes(2).reduce((a, b) => a * 256 + b, 0) % (max + 1);
/** The same bytes with one random bit flipped. */
function flipBit(b: Uint8Array): Uint8Array {
  const out = b.slice();
  const bit = randomLength(b.length * 8 - 1);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

test(`X25519: public keys and shared secrets equal nacl.scalarMult on ${X25519_INPUTS} random inputs`, () => {
  for (let i = 0; i < X25519_INPUTS; i++) {
    // Unclamped random scalars (both sides clamp). Half the peers are real public keys; the
    // other half arbitrary u < 2^255, about half of which lie on the twist.
    const sk = randomBytes(32) as X25519SecretKey;
    let peer: Uint8Array;
    if (i % 2 === 0) peer = nacl.scalarMult.base(randomBytes(32));
    else { peer = randomBytes(32); peer[31]! &= 0x7f; }
    const wantPublic = toHexString(nacl.scalarMult.base(sk));
    const wantShared = toHexString(nacl.scalarMult(sk, peer));
    for (const backend of BACKENDS) {
      withBackend(backend, () => {
        const ctx = `${backend}, sk ${toHexString(sk)}, peer ${toHexString(peer)}`;
        assert.is(toHexString(x25519PublicFromSecret(sk)), wantPublic, `public key (${ctx})`);
        assert.is(toHexString(x25519KeyPair(sk).publicKey), wantPublic, `key pair (${ctx})`);
        assert.is(toHexString(x25519(sk, peer as X25519PublicKey)), wantShared, `shared secret (${ctx})`);
      });
    }
  }
});

test('X25519: a key pair made here agrees with tweetnacl in both directions', () => {
  for (const backend of BACKENDS) {
    withBackend(backend, () => {
      const ours = x25519KeyPair();
      const theirs = nacl.box.keyPair();
      assert.is(toHexString(x25519(ours.secretKey, theirs.publicKey as X25519PublicKey)),
        toHexString(nacl.scalarMult(theirs.secretKey, ours.publicKey)), backend);
    });
  }
});

test(`Ed25519: keys and signatures equal tweetnacl's and verify both ways on ${ED25519_INPUTS} random inputs`, () => {
  for (let i = 0; i < ED25519_INPUTS; i++) {
    const seed = randomBytes(32) as Ed25519Seed;
    const msg = randomBytes(i === 0 ? 0 : randomLength(300));
    const kp = nacl.sign.keyPair.fromSeed(seed);
    const theirSig = nacl.sign.detached(msg, kp.secretKey);
    const pk = kp.publicKey as Ed25519PublicKey;
    const bad = flipBit(theirSig);
    // Signatures are deterministic, so ours are byte-equal to theirs (checked below) and
    // tweetnacl's verdict on them is computed once.
    assert.not.ok(nacl.sign.detached.verify(msg, bad, pk), 'tweetnacl refuses a flipped bit');
    let ourSig: Uint8Array | undefined;
    for (const backend of BACKENDS) {
      withBackend(backend, () => {
        const ctx = `${backend}, seed ${toHexString(seed)}, msg ${toHexString(msg)}`;
        assert.is(toHexString(ed25519PublicFromSeed(seed)), toHexString(kp.publicKey), `public key (${ctx})`);
        assert.is(toHexString(ed25519KeyPair(seed).publicKey), toHexString(kp.publicKey), `key pair (${ctx})`);
        const sig = ed25519Sign(seed, msg);
        assert.is(toHexString(sig), toHexString(theirSig), `signature (${ctx})`);
        ourSig ??= sig;
        assert.ok(ed25519Verify(theirSig, msg, pk), `verifies tweetnacl's signature (${ctx})`);
        assert.not.ok(ed25519Verify(bad, msg, pk), `refuses a flipped bit (${ctx})`);
      });
    }
    assert.ok(nacl.sign.detached.verify(msg, ourSig!, pk), 'tweetnacl verifies our signature');
  }
});

test('Ed25519: a signature on another message or under another key fails on all three', () => {
  const a = nacl.sign.keyPair();
  const b = nacl.sign.keyPair();
  const msg = randomBytes(64);
  const sig = nacl.sign.detached(msg, a.secretKey);
  const other = flipBit(msg);
  assert.not.ok(nacl.sign.detached.verify(other, sig, a.publicKey));
  assert.not.ok(nacl.sign.detached.verify(msg, sig, b.publicKey));
  for (const backend of BACKENDS) {
    withBackend(backend, () => {
      assert.ok(ed25519Verify(sig, msg, a.publicKey as Ed25519PublicKey), backend);
      assert.not.ok(ed25519Verify(sig, other, a.publicKey as Ed25519PublicKey), backend);
      assert.not.ok(ed25519Verify(sig, msg, b.publicKey as Ed25519PublicKey), backend);
    });
  }
});

test.run();

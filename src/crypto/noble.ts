// The portable backend: audited pure-JS @noble/* code. It is the reference, and the
// only backend in browsers.
import { x25519, ed25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { gcm } from '@noble/ciphers/aes.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { bytesToNumberLE, concatBytes } from '@noble/curves/utils.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import type { Backend } from './backend.js';

const { Point } = ed25519;

export const nobleBackend: Backend = {
  name: 'noble',
  x25519: (secretKey, publicKey) => x25519.getSharedSecret(secretKey, publicKey),
  x25519PublicKey: (secretKey) => x25519.getPublicKey(secretKey),
  ed25519PublicKey: (seed) => ed25519.getPublicKey(seed),
  ed25519Sign: (seed, message) => ed25519.sign(message, seed),
  // RFC 8032 §5.1.7 with strict decoding (canonical A and R, S < L) and the cofactorless
  // equation [S]B = R + [k]A, which is what OpenSSL checks. ed25519.verify checks the
  // cofactored one, so the backends disagreed on signatures crafted with a torsion
  // component in R or A (test/crypto/backends-agree.test.ts).
  ed25519Verify: (signature, message, publicKey) => {
    try {
      const r = signature.subarray(0, 32);
      const s = bytesToNumberLE(signature.subarray(32, 64));
      if (s >= Point.Fn.ORDER) return false;
      const A = Point.fromBytes(publicKey, false);
      const R = Point.fromBytes(r, false);
      const k = Point.Fn.create(bytesToNumberLE(sha512(concatBytes(r, publicKey, message))));
      return Point.BASE.multiplyUnsafe(s).equals(R.add(A.multiplyUnsafe(k)));
    } catch {
      return false;
    }
  },
  chachaSeal: (key, nonce, plaintext, aad) => chacha20poly1305(key, nonce, aad).encrypt(plaintext),
  chachaOpen: (key, nonce, sealed, aad) => {
    try {
      return chacha20poly1305(key, nonce, aad).decrypt(sealed);
    } catch {
      return null;
    }
  },
  aesGcmSeal: (key, nonce, plaintext, aad) => gcm(key, nonce, aad).encrypt(plaintext),
  aesGcmOpen: (key, nonce, sealed, aad) => {
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      return null;
    }
  },
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  mlKem768: {
    keygen: (seed) => ml_kem768.keygen(seed),
    encapsulate: (publicKey, m) => {
      // sharedSecret is a view of G's 64-byte output; copy it out of the buffer.
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, m);
      return { cipherText, sharedSecret: sharedSecret.slice() };
    },
    decapsulate: (cipherText, secretKey) => ml_kem768.decapsulate(cipherText, secretKey),
  },
};

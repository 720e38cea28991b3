// The portable backend: audited pure-JS @noble/* code. It is the reference, and the
// only backend in browsers.
import { x25519, ed25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import type { Backend } from './backend.js';

export const nobleBackend: Backend = {
  name: 'noble',
  x25519: (secretKey, publicKey) => x25519.getSharedSecret(secretKey, publicKey),
  x25519PublicKey: (secretKey) => x25519.getPublicKey(secretKey),
  ed25519PublicKey: (seed) => ed25519.getPublicKey(seed),
  ed25519Sign: (seed, message) => ed25519.sign(message, seed),
  // zip215: false gives RFC 8032 strict decoding (canonical A and R, S < L), as OpenSSL does.
  ed25519Verify: (signature, message, publicKey) => {
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
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
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
};

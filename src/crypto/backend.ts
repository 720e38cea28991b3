// The primitives a backend provides. Backends receive arguments already validated by
// primitives.ts and may assume correct lengths; they must agree byte for byte.
export type BackendName = 'noble' | 'node';

export interface Backend {
  readonly name: BackendName;
  /** X25519(k, u) per RFC 7748 §5, raw result (the caller rejects all-zero). */
  x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  x25519PublicKey(secretKey: Uint8Array): Uint8Array;
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /** RFC 8032 §5.1.7 verification with canonical S and A, R as encoded. */
  ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** RFC 8439 §2.8 AEAD; returns ciphertext || 16-byte tag. */
  chachaSeal(key: Uint8Array, nonce12: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Returns the plaintext, or null when the tag does not verify. */
  chachaOpen(key: Uint8Array, nonce12: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
  /** AES-128-GCM (NIST SP 800-38D, RFC 5116 AEAD_AES_128_GCM): 16-byte key, 12-byte nonce; returns ciphertext || 16-byte tag. */
  aesGcmSeal(key: Uint8Array, nonce12: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Returns the plaintext, or null when the tag does not verify. */
  aesGcmOpen(key: Uint8Array, nonce12: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * A fresh key pair whose secret never leaves the backend, and its X25519 with `peer` (raw
   * result): the ephemeral side of an HPKE Encap in one step. Optional: without it the facade
   * makes a key pair from random bytes.
   */
  x25519Ephemeral?(peer: Uint8Array): { readonly publicKey: Uint8Array; readonly shared: Uint8Array };
  /**
   * ML-KEM-768 (FIPS 203), given inputs the facade (ml-kem.ts) has checked: `keygen` from the
   * 64-byte seed `d || z` (Algorithm 16), `encapsulate` with the 32-byte message `m`
   * (Algorithm 17), `decapsulate` with the 2,400-byte expanded key (Algorithm 18, implicit
   * rejection). Optional: Node 20's OpenSSL 3.0 has no ML-KEM, so the facade uses noble's.
   */
  mlKem768?: {
    keygen(seed: Uint8Array): { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array };
    encapsulate(publicKey: Uint8Array, m: Uint8Array): { readonly cipherText: Uint8Array; readonly sharedSecret: Uint8Array };
    decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
  };
  /** Drops anything the backend keeps that was built from this secret (key objects). */
  forgetKey?(secretKey: Uint8Array): void;
}

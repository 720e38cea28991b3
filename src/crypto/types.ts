// Distinct types for bytes that must not be mixed up. A brand costs nothing at run time;
// values get one only from a constructor that checked them (keys.ts) or from a function
// that produced them.
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type X25519SecretKey = Brand<Uint8Array, 'X25519SecretKey'>;
export type X25519PublicKey = Brand<Uint8Array, 'X25519PublicKey'>;
export type Ed25519Seed = Brand<Uint8Array, 'Ed25519Seed'>;
export type Ed25519PublicKey = Brand<Uint8Array, 'Ed25519PublicKey'>;
export type Ed25519Signature = Brand<Uint8Array, 'Ed25519Signature'>;
/** A 32-byte symmetric key for ChaCha20-Poly1305 / XChaCha20-Poly1305. */
export type AeadKey = Brand<Uint8Array, 'AeadKey'>;
/** A shared secret out of X25519, before any key derivation. */
export type SharedSecret = Brand<Uint8Array, 'SharedSecret'>;

export interface X25519KeyPair { readonly secretKey: X25519SecretKey; readonly publicKey: X25519PublicKey }
export interface Ed25519KeyPair { readonly seed: Ed25519Seed; readonly publicKey: Ed25519PublicKey }

export const X25519_KEY_LENGTH = 32;
export const ED25519_SEED_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;
export const AEAD_KEY_LENGTH = 32;
export const AEAD_TAG_LENGTH = 16;
export const CHACHA_NONCE_LENGTH = 12;
export const XCHACHA_NONCE_LENGTH = 24;
/** AES-128-GCM (primitives.ts aes128GcmSeal/Open): key and nonce; the tag is AEAD_TAG_LENGTH. */
export const AES128_KEY_LENGTH = 16;
export const AES_GCM_NONCE_LENGTH = 12;

// ML-KEM-768 (FIPS 203) behind the crypto core's checks (spec/crypto.md §1.4). The backend
// computes; this module checks every input first (lengths, the encapsulation key's modulus
// check of FIPS 203 §7.2) and gives each value its own type. Decapsulation keys are kept as
// their 64-byte seed `d || z` (FIPS 203 §7.1, Algorithm 16's input) and expanded per use.
import type { Backend } from './backend.js';
import { nobleBackend } from './noble.js';
import { abytes, wipe } from './bytes.js';
import { CryptoError } from './errors.js';
import { _backend, randomBytes } from './primitives.js';
import type { Brand } from './types.js';

/** The decapsulation key in seed form, `d || z` (FIPS 203 Algorithm 16). Secret. */
export type MlKem768Seed = Brand<Uint8Array, 'MlKem768Seed'>;
/** `ek`, checked (FIPS 203 §7.2): 1,184 bytes whose 768 coefficients are all below q. */
export type MlKem768EncapsulationKey = Brand<Uint8Array, 'MlKem768EncapsulationKey'>;
export type MlKem768Ciphertext = Brand<Uint8Array, 'MlKem768Ciphertext'>;
/** The 32-byte shared secret `K` out of encapsulation or decapsulation. */
export type MlKemSharedSecret = Brand<Uint8Array, 'MlKemSharedSecret'>;

export interface MlKem768KeyPair { readonly seed: MlKem768Seed; readonly encapsulationKey: MlKem768EncapsulationKey }

export const MLKEM768_SEED_LENGTH = 64;
export const MLKEM768_ENCAPSULATION_KEY_LENGTH = 1184;
export const MLKEM768_CIPHERTEXT_LENGTH = 1088;
export const MLKEM_SHARED_SECRET_LENGTH = 32;
/** The encapsulation randomness `m` (FIPS 203 Algorithm 17). */
export const MLKEM_MESSAGE_LENGTH = 32;

const Q = 3329;
/** k · 384: the encoded vector t̂ that precedes ρ in ek (FIPS 203 Algorithm 13). */
const T_HAT_BYTES = 3 * 384;

function kem(): NonNullable<Backend['mlKem768']> {
  return _backend().mlKem768 ?? nobleBackend.mlKem768!;
}

/**
 * Checks a peer's encapsulation key: `INVALID_LENGTH` unless 1,184 bytes, `NON_CANONICAL`
 * unless ByteEncode12(ByteDecode12(t̂)) = t̂, i.e. every 12-bit coefficient is below q = 3329
 * (FIPS 203 §7.2, the modulus check).
 */
export function mlKem768EncapsulationKey(bytes: unknown, name = 'encapsulationKey'): MlKem768EncapsulationKey {
  const b = abytes(bytes, name, MLKEM768_ENCAPSULATION_KEY_LENGTH);
  for (let i = 0; i < T_HAT_BYTES; i += 3) {
    const c0 = b[i]! | ((b[i + 1]! & 0x0f) << 8);
    const c1 = (b[i + 1]! >> 4) | (b[i + 2]! << 4);
    if (c0 >= Q || c1 >= Q) throw new CryptoError('NON_CANONICAL', `${name} has a coefficient not below q = ${Q} (FIPS 203 §7.2)`);
  }
  return b as MlKem768EncapsulationKey;
}

/** `INVALID_LENGTH` unless 1,088 bytes (FIPS 203 §7.3, the ciphertext type check). */
export function mlKem768Ciphertext(bytes: unknown, name = 'ciphertext'): MlKem768Ciphertext {
  return abytes(bytes, name, MLKEM768_CIPHERTEXT_LENGTH) as MlKem768Ciphertext;
}

export function mlKem768Seed(bytes: unknown, name = 'seed'): MlKem768Seed {
  return abytes(bytes, name, MLKEM768_SEED_LENGTH) as MlKem768Seed;
}

/** ML-KEM.KeyGen (FIPS 203 Algorithm 19), or Algorithm 16 from a given seed `d || z`. */
export function mlKem768KeyPair(seed: Uint8Array = randomBytes(MLKEM768_SEED_LENGTH)): MlKem768KeyPair {
  const s = mlKem768Seed(seed);
  const { publicKey, secretKey } = kem().keygen(s);
  wipe(secretKey);
  return { seed: s, encapsulationKey: publicKey as MlKem768EncapsulationKey };
}

/**
 * ML-KEM.Encaps (FIPS 203 Algorithm 20; Algorithm 17 with a given `m`, for vectors). The key
 * is checked here even when it already carries its type: a key is public input.
 */
export function mlKem768Encapsulate(
  encapsulationKey: MlKem768EncapsulationKey, m: Uint8Array = randomBytes(MLKEM_MESSAGE_LENGTH),
): { ciphertext: MlKem768Ciphertext; sharedSecret: MlKemSharedSecret } {
  const ek = mlKem768EncapsulationKey(encapsulationKey);
  abytes(m, 'm', MLKEM_MESSAGE_LENGTH);
  const { cipherText, sharedSecret } = kem().encapsulate(ek, m);
  return { ciphertext: cipherText as MlKem768Ciphertext, sharedSecret: sharedSecret as MlKemSharedSecret };
}

/**
 * ML-KEM.Decaps (FIPS 203 Algorithm 21) with the key expanded from its seed. A ciphertext of
 * the right length never fails: one that does not re-encrypt gives the implicit-rejection
 * secret J(z || c), which the sender cannot know, so the two sides simply disagree.
 */
export function mlKem768Decapsulate(seed: MlKem768Seed, ciphertext: MlKem768Ciphertext): MlKemSharedSecret {
  const s = mlKem768Seed(seed);
  const c = mlKem768Ciphertext(ciphertext);
  const { secretKey } = kem().keygen(s);
  try {
    return kem().decapsulate(c, secretKey) as MlKemSharedSecret;
  } finally {
    wipe(secretKey);
  }
}

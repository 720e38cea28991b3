// psk_secret (RFC 9420 §8.4): the PSKs a Commit's PreSharedKey proposals (or a Welcome's
// GroupSecrets) name, chained into one secret for the key schedule (key-schedule.ts):
//
//   psk_extracted_[i] = KDF.Extract(0, psk_[i])
//   psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
//                       PSKLabel { PreSharedKeyID id; uint16 index; uint16 count; }
//   psk_secret_[0]    = 0
//   psk_secret_[i]    = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
//   psk_secret        = psk_secret_[n]
//
// With no PSKs psk_secret is Nh zero bytes. Pure.
import { MlsError } from './errors.js';
import { pskLabel, type PreSharedKeyId } from './psk-id.js';
import type { CipherSuite } from './suite.js';

/** One PSK and its identity, in the order of the proposals (or the GroupSecrets' list). */
export interface PskInput { readonly id: PreSharedKeyId; readonly psk: Uint8Array }

/** psk_secret over `psks` in order (§8.4); Nh zero bytes for an empty list. */
export function derivePskSecret(suite: CipherSuite, psks: readonly PskInput[]): Uint8Array {
  if (psks.length > 0xffff) throw new MlsError('INVALID_PROPOSAL', 'more than 65535 PSKs');
  const zero = new Uint8Array(suite.hashLength);
  let secret: Uint8Array = zero;
  psks.forEach(({ id, psk }, index) => {
    if (id.pskNonce.length !== suite.hashLength) {
      throw new MlsError('INVALID_PROPOSAL', `psk_nonce must be ${suite.hashLength} bytes, got ${id.pskNonce.length}`);
    }
    const extracted = suite.extract(zero, psk);
    const input = suite.expandWithLabel(extracted, 'derived psk', pskLabel(id, index, psks.length), suite.hashLength);
    const nextSecret = suite.extract(input, secret);
    extracted.fill(0);
    input.fill(0);
    if (secret !== zero) secret.fill(0);
    secret = nextSecret;
  });
  return secret === zero ? new Uint8Array(suite.hashLength) : secret;
}

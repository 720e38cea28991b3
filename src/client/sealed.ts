// The sealed envelope the client uses (spec/crypto.md §9). INTERIM: built here on the crypto
// core's HPKE until src/crypto/envelope.ts lands; then this file becomes a re-export of
// sealEnvelope/openEnvelope from the crypto core (same bytes: both follow §9).
import {
  bucketFor, concat, CryptoError, equalBytes, hkdf, hmacSha256, hpkeSetupRecipient, hpkeSetupSender, LABELS, pad, sha256, unpad,
  x25519, x25519PublicFromSecret, x25519PublicKey, type X25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';

const kAuth = (dh: Uint8Array, enc: Uint8Array, senderKey: Uint8Array, mailboxKey: Uint8Array): Uint8Array =>
  hkdf(dh, enc, concat(LABELS.senderAuth, senderKey, mailboxKey), 32);

export function sealEnvelope(o: { mailboxKey: X25519PublicKey; sender: X25519KeyPair; body: Uint8Array; bucket?: number }): Uint8Array {
  const { enc, context } = hpkeSetupSender(o.mailboxKey, { mode: 'base', info: LABELS.envelope } as never);
  const auth = hmacSha256(kAuth(x25519(o.sender.secretKey, o.mailboxKey), enc, o.sender.publicKey, o.mailboxKey), concat(enc, sha256(o.body)));
  const content = concat(o.sender.publicKey, auth, o.body);
  return concat(new Uint8Array([1]), enc, context.seal(pad(content, o.bucket ?? bucketFor(content.length))));
}
export function openEnvelope(o: { mailboxSecret: X25519SecretKey; mailboxKey: X25519PublicKey; envelope: Uint8Array }): { senderKey: X25519PublicKey; body: Uint8Array } {
  if (o.envelope.length < 49 || o.envelope[0] !== 1) throw new CryptoError('DECRYPT_FAILED', 'bad envelope');
  const enc = o.envelope.subarray(1, 33);
  const ctx = hpkeSetupRecipient(enc, { secretKey: o.mailboxSecret, publicKey: x25519PublicFromSecret(o.mailboxSecret) }, { mode: 'base', info: LABELS.envelope } as never);
  const content = unpad(ctx.open(o.envelope.subarray(33)));
  if (content.length < 64) throw new CryptoError('DECRYPT_FAILED', 'short');
  const senderKey = x25519PublicKey(content.slice(0, 32));
  const body = content.slice(64);
  const want = hmacSha256(kAuth(x25519(o.mailboxSecret, senderKey), enc, senderKey, o.mailboxKey), concat(enc, sha256(body)));
  if (!equalBytes(want, content.subarray(32, 64))) throw new CryptoError('DECRYPT_FAILED', 'auth');
  return { senderKey, body };
}

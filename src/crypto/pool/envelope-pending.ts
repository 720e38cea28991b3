// TEMPORARY: a stand-in for src/crypto/envelope.ts (spec/crypto.md §9) until the lead's lands.
import { abytes, concat, equalBytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { hpkeSetupRecipient, hpkeSetupSender } from '../hpke.js';
import { LABELS } from '../labels.js';
import { pad, unpad } from '../padding.js';
import { hkdf, hmacSha256, sha256, x25519, x25519PublicKey } from '../primitives.js';
import type { X25519KeyPair, X25519PublicKey, X25519SecretKey } from '../types.js';

const EMPTY = new Uint8Array(0);
function kAuth(secret: X25519SecretKey, peer: X25519PublicKey, enc: Uint8Array, senderKey: Uint8Array, mailboxKey: Uint8Array): Uint8Array {
  return hkdf(x25519(secret, peer), enc, concat(LABELS.senderAuth, senderKey, mailboxKey), 32);
}
export function sealEnvelope(o: { mailboxKey: X25519PublicKey; sender: X25519KeyPair; body: Uint8Array; bucket?: number; ephemeral?: X25519KeyPair }): Uint8Array {
  abytes(o.body, 'body');
  const { enc, context } = hpkeSetupSender(o.mailboxKey, { mode: 'base', info: LABELS.envelope, ...(o.ephemeral ? { ephemeral: o.ephemeral } : {}) });
  const auth = hmacSha256(kAuth(o.sender.secretKey, o.mailboxKey, enc, o.sender.publicKey, o.mailboxKey), concat(enc, sha256(o.body)));
  const content = concat(o.sender.publicKey, auth, o.body);
  const ct = context.seal(o.bucket === undefined ? pad(content) : pad(content, o.bucket), EMPTY);
  context.destroy();
  return concat(new Uint8Array([1]), enc, ct);
}
export function openEnvelope(o: { mailboxSecret: X25519SecretKey; mailboxKey: X25519PublicKey; envelope: Uint8Array }): { senderKey: X25519PublicKey; body: Uint8Array } {
  const env = abytes(o.envelope, 'envelope');
  if (env.length < 49 + 4 || env[0] !== 1) throw new CryptoError('DECRYPT_FAILED', 'not a version 1 envelope');
  const enc = env.subarray(1, 33);
  const ctx = hpkeSetupRecipient(enc, { secretKey: o.mailboxSecret, publicKey: o.mailboxKey }, { mode: 'base', info: LABELS.envelope });
  const content = unpad(ctx.open(env.subarray(33), EMPTY));
  ctx.destroy();
  if (content.length < 64) throw new CryptoError('BAD_PADDING', 'content too short');
  const senderKey = x25519PublicKey(content.subarray(0, 32), 'senderKey');
  const body = content.subarray(64);
  const auth = hmacSha256(kAuth(o.mailboxSecret, senderKey, enc, senderKey, o.mailboxKey), concat(enc, sha256(body)));
  if (!equalBytes(auth, content.subarray(32, 64))) throw new CryptoError('DECRYPT_FAILED', 'sender authenticator did not verify');
  return { senderKey, body };
}

// The sealed envelope: sealed sender over HPKE (spec/crypto.md §9). The sender's identity
// travels only inside the HPKE layer, authenticated by a deniable static-static DH MAC.
import { abytes, concat, equalBytes, wipe } from './bytes.js';
import { CryptoError } from './errors.js';
import { hpkeSetupRecipient, hpkeSetupSender } from './hpke.js';
import { LABELS } from './labels.js';
import { ENVELOPE_OVERHEAD, pad, unpad } from './padding.js';
import { hkdf, hmacSha256, sha256, x25519PublicKey, x25519Static } from './primitives.js';
import type { X25519KeyPair, X25519PublicKey, X25519SecretKey } from './types.js';

export const ENVELOPE_VERSION = 1;
const EMPTY = new Uint8Array(0);
const SENDER_KEY = 32;
const AUTH = 32;

/** auth = HMAC(kAuth, enc || H(body)), kAuth from X25519(senderSecret, mailboxKey) (§9). */
function authenticator(dh: Uint8Array, enc: Uint8Array, senderKey: Uint8Array, mailboxKey: Uint8Array, body: Uint8Array): Uint8Array {
  const k = hkdf(dh, enc, concat(LABELS.senderAuth, senderKey, mailboxKey), 32);
  try {
    return hmacSha256(k, concat(enc, sha256(body)));
  } finally {
    wipe(k, dh);
  }
}

export interface SealEnvelopeInput {
  readonly mailboxKey: X25519PublicKey;
  readonly sender: X25519KeyPair;
  readonly body: Uint8Array;
  /** A bucket size (spec/protocol.md §6); the smallest that fits by default. */
  readonly bucket?: number;
  /** Injected HPKE ephemeral key, for deterministic vectors only. */
  readonly ephemeral?: X25519KeyPair;
}

export function sealEnvelope(input: SealEnvelopeInput): Uint8Array {
  const { mailboxKey, sender, body } = input;
  x25519PublicKey(mailboxKey, 'mailboxKey');
  abytes(body, 'body');
  const { enc, context } = hpkeSetupSender(mailboxKey, {
    mode: 'base', info: LABELS.envelope, ...(input.ephemeral ? { ephemeral: input.ephemeral } : {}),
  });
  try {
    const auth = authenticator(x25519Static(sender.secretKey, mailboxKey), enc, sender.publicKey, mailboxKey, body);
    const content = concat(sender.publicKey, auth, body);
    const padded = input.bucket === undefined ? pad(content) : pad(content, input.bucket);
    return concat(new Uint8Array([ENVELOPE_VERSION]), enc, context.seal(padded, EMPTY));
  } finally {
    context.destroy();
  }
}

export interface OpenEnvelopeInput {
  readonly mailboxSecret: X25519SecretKey;
  /** The mailbox's public key, passed in so that opening costs no key derivation. */
  readonly mailboxKey: X25519PublicKey;
  readonly envelope: Uint8Array;
}

/** Opens an envelope; DECRYPT_FAILED or BAD_PADDING for anything not sealed to this mailbox by `senderKey`. */
export function openEnvelope(input: OpenEnvelopeInput): { senderKey: X25519PublicKey; body: Uint8Array } {
  const env = abytes(input.envelope, 'envelope');
  if (env.length < ENVELOPE_OVERHEAD + 4 || env[0] !== ENVELOPE_VERSION) {
    throw new CryptoError('DECRYPT_FAILED', 'not a version 1 envelope');
  }
  const enc = env.subarray(1, 33);
  const ctx = hpkeSetupRecipient(enc, { secretKey: input.mailboxSecret, publicKey: input.mailboxKey }, { mode: 'base', info: LABELS.envelope });
  let content: Uint8Array;
  try {
    content = unpad(ctx.open(env.subarray(33), EMPTY));
  } finally {
    ctx.destroy();
  }
  if (content.length < SENDER_KEY + AUTH) throw new CryptoError('BAD_PADDING', 'content shorter than sender key and authenticator');
  let senderKey: X25519PublicKey;
  try {
    senderKey = x25519PublicKey(content.slice(0, SENDER_KEY), 'senderKey');
  } catch {
    throw new CryptoError('DECRYPT_FAILED', 'invalid sender key');
  }
  const body = content.slice(SENDER_KEY + AUTH);
  const want = authenticator(x25519Static(input.mailboxSecret, senderKey), enc, senderKey, input.mailboxKey, body);
  if (!equalBytes(want, content.subarray(SENDER_KEY, SENDER_KEY + AUTH))) {
    throw new CryptoError('DECRYPT_FAILED', 'sender authenticator did not verify');
  }
  return { senderKey, body };
}

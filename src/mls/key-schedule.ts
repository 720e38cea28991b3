// The MLS key schedule (RFC 9420 §8): from the previous epoch's init_secret, the Commit's
// commit_secret, the PSKs' psk_secret (§8.4, psk.ts) and the new GroupContext, the
// joiner_secret, welcome_secret and epoch_secret of the new epoch, and from epoch_secret
// every secret of Table 4 (§8): sender_data, encryption, exporter, external, confirm,
// membership, resumption, authentication, and the init_secret of the next epoch. Also
// MLS-Exporter (§8.5), the external key pair and external init (§8.3), and the Welcome's
// key and nonce (§12.4.3.1). Pure: no I/O, no clock, no randomness except in
// externalInitSender's HPKE encapsulation.
//
//                init_secret_[n-1]
//                       |
//  commit_secret --> KDF.Extract            (salt = init_secret, ikm = commit_secret)
//                       |
//            ExpandWithLabel(., "joiner", GroupContext_[n], Nh)  = joiner_secret
//                       |
//  psk_secret    --> KDF.Extract            (salt = joiner_secret, ikm = psk_secret)
//                       +--> DeriveSecret(., "welcome")          = welcome_secret
//            ExpandWithLabel(., "epoch", GroupContext_[n], Nh)   = epoch_secret
//                       +--> DeriveSecret(., <label>)            = <secret>
//                       DeriveSecret(., "init")                  = init_secret_[n]
//
// A group state machine holds one EpochSecrets per epoch and calls `next` on it with the
// Commit's inputs; a joiner starts from the Welcome's joiner_secret with `fromJoinerSecret`.
// epoch_secret itself is not kept once the epoch's secrets are derived.
import { hpkeSetupRecipient, hpkeSetupSender } from '../crypto/hpke.js';
import { isCryptoError } from '../crypto/errors.js';
import { utf8 } from '../crypto/bytes.js';
import type { X25519PublicKey } from '../crypto/types.js';
import { MlsError } from './errors.js';
import { encodeGroupContext, type GroupContext } from './group-context.js';
import type { CipherSuite, HpkeKeyPair } from './suite.js';
import { TlsReader, TlsWriter } from './tls.js';

const EMPTY = new Uint8Array(0);
const LABEL_PREFIX = 'MLS 1.0 ';

/** The GroupContext of the new epoch, as a structure or already encoded (§8.1). */
export type GroupContextInput = GroupContext | Uint8Array;
const contextBytes = (g: GroupContextInput): Uint8Array => (g instanceof Uint8Array ? g : encodeGroupContext(g));

/** Nh zero bytes: the "0" of §8 (commit_secret without a path, psk_secret without PSKs). */
export const zeroSecret = (suite: CipherSuite): Uint8Array => new Uint8Array(suite.hashLength);

/**
 * ExpandWithLabel with a label given as bytes (§8): MLS-Exporter's label is application
 * data and need not be UTF-8 (the test vectors use random bytes).
 */
function expandWithByteLabel(suite: CipherSuite, secret: Uint8Array, label: Uint8Array, context: Uint8Array, length: number): Uint8Array {
  const prefix = utf8(LABEL_PREFIX);
  const full = new Uint8Array(prefix.length + label.length);
  full.set(prefix, 0);
  full.set(label, prefix.length);
  const info = new TlsWriter(16 + full.length + context.length).u16(length).opaque(full).opaque(context).finish();
  return suite.expand(secret, info, length);
}

function checkSecret(suite: CipherSuite, s: Uint8Array, what: string): void {
  if (!(s instanceof Uint8Array) || s.length !== suite.hashLength) {
    throw new MlsError('STATE', `${what} must be ${suite.hashLength} bytes`);
  }
}

/** joiner_secret = ExpandWithLabel(Extract(init_secret, commit_secret), "joiner", GroupContext, Nh) (§8). */
export function deriveJoinerSecret(suite: CipherSuite, initSecret: Uint8Array, commitSecret: Uint8Array, groupContext: GroupContextInput): Uint8Array {
  checkSecret(suite, initSecret, 'init_secret');
  checkSecret(suite, commitSecret, 'commit_secret');
  const prk = suite.extract(initSecret, commitSecret);
  try { return suite.expandWithLabel(prk, 'joiner', contextBytes(groupContext), suite.hashLength); } finally { prk.fill(0); }
}

/** MLS-Exporter(Label, Context, Length) = ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length) (§8.5). */
export function mlsExporter(suite: CipherSuite, exporterSecret: Uint8Array, label: string | Uint8Array, context: Uint8Array, length: number): Uint8Array {
  const labelBytes = typeof label === 'string' ? utf8(label) : label;
  const derived = expandWithByteLabel(suite, exporterSecret, labelBytes, EMPTY, suite.hashLength);
  try { return suite.expandWithLabel(derived, 'exported', suite.hash(context), length); } finally { derived.fill(0); }
}

/** The Welcome's AEAD key and nonce from welcome_secret (§12.4.3.1). */
export function welcomeKeyNonce(suite: CipherSuite, welcomeSecret: Uint8Array): { readonly key: Uint8Array; readonly nonce: Uint8Array } {
  return {
    key: suite.expandWithLabel(welcomeSecret, 'key', EMPTY, suite.keyLength),
    nonce: suite.expandWithLabel(welcomeSecret, 'nonce', EMPTY, suite.nonceLength),
  };
}

/** external_priv, external_pub = KEM.DeriveKeyPair(external_secret) (§8.3). */
export function externalKeyPair(suite: CipherSuite, externalSecret: Uint8Array): HpkeKeyPair {
  return suite.deriveKeyPair(externalSecret);
}

const EXTERNAL_INIT_LABEL = utf8('MLS 1.0 external init secret');
const hpkeAead = (suite: CipherSuite): 'aes128gcm' | 'chacha20poly1305' => (suite.id === 1 ? 'aes128gcm' : 'chacha20poly1305');

/**
 * The joiner's side of external init (§8.3): kem_output, context = SetupBaseS(external_pub, "");
 * init_secret = context.export("MLS 1.0 external init secret", Nh). kem_output goes into the
 * ExternalInit proposal; init_secret replaces the previous epoch's in `deriveJoinerSecret`.
 */
export function externalInitSender(suite: CipherSuite, externalPub: Uint8Array): { readonly kemOutput: Uint8Array; readonly initSecret: Uint8Array } {
  const pk = suite.hpkePublicKey(externalPub) as X25519PublicKey;
  const { enc, context } = hpkeSetupSender(pk, { mode: 'base', info: EMPTY, aead: hpkeAead(suite) });
  try { return { kemOutput: enc, initSecret: context.export(EXTERNAL_INIT_LABEL, suite.hashLength) }; } finally { context.destroy(); }
}

/** The members' side of external init (§8.3): context = SetupBaseR(kem_output, external_priv, ""). */
export function externalInitReceiver(suite: CipherSuite, externalSecret: Uint8Array, kemOutput: Uint8Array): Uint8Array {
  const kp = externalKeyPair(suite, externalSecret);
  let context;
  try {
    context = hpkeSetupRecipient(kemOutput, kp, { mode: 'base', info: EMPTY, aead: hpkeAead(suite) });
  } catch (e) {
    if (isCryptoError(e)) throw new MlsError('MALFORMED', `external init kem_output does not decapsulate (${e.code})`, { cause: e });
    throw e;
  }
  try { return context.export(EXTERNAL_INIT_LABEL, suite.hashLength); } finally { context.destroy(); }
}

/** The inputs of one epoch transition (§8). commitSecret and pskSecret default to zero. */
export interface EpochInputs {
  readonly commitSecret?: Uint8Array;
  readonly pskSecret?: Uint8Array;
  readonly groupContext: GroupContextInput;
}

/** What an epoch transition yields: the new epoch and the secrets a Welcome for it needs. */
export interface EpochTransition {
  readonly joinerSecret: Uint8Array;
  readonly welcomeSecret: Uint8Array;
  readonly epoch: EpochSecrets;
}

/** The secrets of one epoch (§8, Table 4). Immutable; `next` derives the following epoch's. */
export class EpochSecrets {
  private constructor(
    readonly suite: CipherSuite,
    /** The encoded GroupContext these secrets are bound to. */
    readonly groupContext: Uint8Array,
    readonly senderDataSecret: Uint8Array,
    readonly encryptionSecret: Uint8Array,
    readonly exporterSecret: Uint8Array,
    readonly externalSecret: Uint8Array,
    readonly confirmationKey: Uint8Array,
    readonly membershipKey: Uint8Array,
    readonly resumptionPsk: Uint8Array,
    readonly epochAuthenticator: Uint8Array,
    /** init_secret for the next epoch. */
    readonly initSecret: Uint8Array,
  ) {}

  /** The secrets in their order of Table 4, for a member's store (spec/groups.md §13.1). */
  writeState(w: TlsWriter): void {
    w.opaque(this.groupContext);
    for (const s of [this.senderDataSecret, this.encryptionSecret, this.exporterSecret, this.externalSecret, this.confirmationKey,
      this.membershipKey, this.resumptionPsk, this.epochAuthenticator, this.initSecret]) w.opaque(s);
  }
  static readState(suite: CipherSuite, r: TlsReader): EpochSecrets {
    const ctx = r.opaque();
    const f = (): Uint8Array => r.opaqueOf(suite.hashLength, 'epoch secret');
    return new EpochSecrets(suite, ctx, f(), f(), f(), f(), f(), f(), f(), f(), f());
  }

  /** Every secret of the epoch from epoch_secret (§8, Table 4). */
  static fromEpochSecret(suite: CipherSuite, epochSecret: Uint8Array, groupContext: GroupContextInput): EpochSecrets {
    checkSecret(suite, epochSecret, 'epoch_secret');
    const d = (label: string): Uint8Array => suite.deriveSecret(epochSecret, label);
    return new EpochSecrets(
      suite, contextBytes(groupContext),
      d('sender data'), d('encryption'), d('exporter'), d('external'), d('confirm'), d('membership'),
      d('resumption'), d('authentication'), d('init'),
    );
  }

  /**
   * From joiner_secret (a Welcome's GroupSecrets, or `deriveJoinerSecret`): welcome_secret and
   * the epoch's secrets (§8). pskSecret defaults to zero (no PSKs).
   */
  static fromJoinerSecret(suite: CipherSuite, joinerSecret: Uint8Array, pskSecret: Uint8Array | undefined, groupContext: GroupContextInput): EpochTransition {
    checkSecret(suite, joinerSecret, 'joiner_secret');
    const psk = pskSecret ?? zeroSecret(suite);
    checkSecret(suite, psk, 'psk_secret');
    const ctx = contextBytes(groupContext);
    const member = suite.extract(joinerSecret, psk);
    try {
      const welcomeSecret = suite.deriveSecret(member, 'welcome');
      const epochSecret = suite.expandWithLabel(member, 'epoch', ctx, suite.hashLength);
      try {
        return { joinerSecret, welcomeSecret, epoch: EpochSecrets.fromEpochSecret(suite, epochSecret, ctx) };
      } finally { epochSecret.fill(0); }
    } finally { member.fill(0); }
  }

  /**
   * A full transition from an init_secret: the previous epoch's (`next` does this), a new
   * group's random one (§11), or external init's (§8.3).
   */
  static fromInitSecret(suite: CipherSuite, initSecret: Uint8Array, inputs: EpochInputs): EpochTransition {
    const ctx = contextBytes(inputs.groupContext);
    const joiner = deriveJoinerSecret(suite, initSecret, inputs.commitSecret ?? zeroSecret(suite), ctx);
    return EpochSecrets.fromJoinerSecret(suite, joiner, inputs.pskSecret, ctx);
  }

  /** The next epoch's secrets from this epoch's init_secret and the Commit's inputs. */
  next(inputs: EpochInputs): EpochTransition {
    return EpochSecrets.fromInitSecret(this.suite, this.initSecret, inputs);
  }

  /** MLS-Exporter(label, context, length) of this epoch (§8.5). */
  exporter(label: string | Uint8Array, context: Uint8Array, length: number): Uint8Array {
    return mlsExporter(this.suite, this.exporterSecret, label, context, length);
  }

  /** external_pub and external_priv of this epoch (§8.3). */
  externalKeyPair(): HpkeKeyPair { return externalKeyPair(this.suite, this.externalSecret); }
}

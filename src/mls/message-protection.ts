// Message protection (RFC 9420 §6): an AuthenticatedContent in and out of a PublicMessage
// (§6.2: signature over FramedContentTBS, membership tag over AuthenticatedContentTBM) or a
// PrivateMessage (§6.3: content encrypted under the sender's secret-tree ratchet with the
// reuse guard, sender data encrypted under sender_data_secret, zero padding chosen by a
// policy). The structures are framing.ts's; keys come from the epoch (key-schedule.ts) and
// its secret tree (secret-tree.ts). Pure apart from the reuse guard's randomness.
//
// Receiving checks, in order: group (WRONG_GROUP), epoch (WRONG_EPOCH), then for a
// PublicMessage the membership tag (BAD_MEMBERSHIP_TAG) and for a PrivateMessage the sender
// data (DECRYPT_FAILED, MALFORMED), the sender (UNKNOWN_SENDER), the generation
// (KEY_REUSED, GENERATION_TOO_FAR) and the content (DECRYPT_FAILED, MALFORMED); last the
// signature (UNKNOWN_SENDER without a key, BAD_SIGNATURE). A PrivateMessage's ratchet key is
// consumed only once its content decrypts.
import { equalBytes } from '../crypto/bytes.js';
import { randomBytes } from '../crypto/primitives.js';
import type { Ed25519Seed } from '../crypto/types.js';
import { MlsError } from './errors.js';
import {
  decodePrivateMessageContent, decodeSenderData, encodePrivateContentAad, encodePrivateMessageContent, encodeSenderData,
  encodeSenderDataAad, membershipTag, signFramedContent, verifyFramedContentSignature,
  type AuthenticatedContent, type FramedContent, type FramedContentBody, type PrivateMessage, type PublicMessage, type Sender,
} from './framing.js';
import { encodeGroupContext, type GroupContext } from './group-context.js';
import { applyReuseGuard, senderDataKeyNonce, type SecretTree } from './secret-tree.js';
import type { CipherSuite } from './suite.js';

/** What protecting and unprotecting in one epoch needs. */
export interface ProtectionKeys {
  readonly suite: CipherSuite;
  /** The epoch's GroupContext (group_id and epoch are checked against it, and it is signed over). */
  readonly groupContext: GroupContext;
  /** membership_key (§8), for PublicMessage. */
  readonly membershipKey: Uint8Array;
  /** sender_data_secret (§8), for PrivateMessage. */
  readonly senderDataSecret: Uint8Array;
  /** The epoch's secret tree (from encryption_secret), for PrivateMessage. */
  readonly secretTree: SecretTree;
}

/**
 * The signature public key of a message's sender: for a member (`sender.type === 1`) the
 * signature_key of the leaf at `sender.leafIndex`; undefined when there is none (a blank leaf,
 * an unknown external sender), which is UNKNOWN_SENDER. For a PublicMessage from a new member
 * the caller takes the key from the message it holds (the Commit's path leaf, the Add's
 * KeyPackage).
 */
export type SignatureKeyOf = (sender: Sender) => Uint8Array | undefined;

/** How many zero bytes to append to a PrivateMessageContent of `length` bytes (§6.3.1). */
export type PaddingPolicy = (length: number) => number;
export const noPadding: PaddingPolicy = () => 0;
/**
 * Pads a PrivateMessageContent up to the smallest of `buckets` that holds it, and past the
 * largest to a multiple of the largest: every ciphertext then has one of a few lengths.
 */
export function bucketPadding(buckets: readonly number[]): PaddingPolicy {
  const sorted = [...buckets].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.some((b) => !Number.isSafeInteger(b) || b <= 0)) throw new RangeError('buckets must be positive integers');
  const largest = sorted[sorted.length - 1]!;
  return (length) => {
    const bucket = sorted.find((b) => b >= length) ?? Math.ceil(length / largest) * largest;
    return bucket - length;
  };
}

export interface PrivateProtectOptions {
  /** The padding policy (default: none). */
  readonly padding?: PaddingPolicy;
  /** The reuse guard, for deterministic tests only; four fresh random bytes otherwise (§6.3.1). */
  readonly reuseGuard?: Uint8Array;
}

const contextOf = (keys: ProtectionKeys): Uint8Array => encodeGroupContext(keys.groupContext);

function checkGroupAndEpoch(keys: ProtectionKeys, groupId: Uint8Array, epoch: bigint): void {
  if (!equalBytes(groupId, keys.groupContext.groupId)) throw new MlsError('WRONG_GROUP', 'message for another group');
  if (epoch !== keys.groupContext.epoch) throw new MlsError('WRONG_EPOCH', `message for epoch ${epoch}, group is at ${keys.groupContext.epoch}`);
}

/**
 * Signs `content` for `wireFormat` (§6.1): the AuthenticatedContent, without a confirmation
 * tag; a commit's tag (key-schedule.ts, transcript.ts) is added before it is protected.
 */
export function signContent(keys: ProtectionKeys, signer: Ed25519Seed, wireFormat: 1 | 2, content: FramedContent): AuthenticatedContent {
  checkGroupAndEpoch(keys, content.groupId, content.epoch);
  const signature = signFramedContent(keys.suite, signer, wireFormat, content, contextOf(keys));
  return { wireFormat, content, auth: { signature } };
}

/** Adds a commit's confirmation tag to its signed content. */
export function withConfirmationTag(a: AuthenticatedContent, confirmationTag: Uint8Array): AuthenticatedContent {
  if (a.content.contentType !== 3) throw new MlsError('STATE', 'only a commit carries a confirmation tag');
  return { ...a, auth: { signature: a.auth.signature, confirmationTag } };
}

// ---- PublicMessage (§6.2) ------------------------------------------------------------------

/** Wraps signed content in a PublicMessage, with the membership tag when the sender is a member. */
export function protectPublicMessage(keys: ProtectionKeys, a: AuthenticatedContent): PublicMessage {
  if (a.wireFormat !== 1) throw new MlsError('STATE', 'content signed for a PrivateMessage');
  if (a.content.contentType === 1) throw new MlsError('STATE', 'application data is never sent as a PublicMessage');
  checkGroupAndEpoch(keys, a.content.groupId, a.content.epoch);
  if (a.content.sender.type !== 1) return { content: a.content, auth: a.auth };
  return { content: a.content, auth: a.auth, membershipTag: membershipTag(keys.suite, keys.membershipKey, a.content, a.auth, contextOf(keys)) };
}

/** Verifies a PublicMessage (§6.2) and returns its AuthenticatedContent. */
export function unprotectPublicMessage(keys: ProtectionKeys, m: PublicMessage, signatureKeyOf: SignatureKeyOf): AuthenticatedContent {
  const { content, auth } = m;
  checkGroupAndEpoch(keys, content.groupId, content.epoch);
  if (content.contentType === 1) throw new MlsError('MALFORMED', 'application data in a PublicMessage');
  const ctx = contextOf(keys);
  if (content.sender.type === 1) {
    if (!m.membershipTag) throw new MlsError('MALFORMED', 'a member\'s PublicMessage without a membership tag');
    const want = membershipTag(keys.suite, keys.membershipKey, content, auth, ctx);
    if (!equalBytes(want, m.membershipTag)) throw new MlsError('BAD_MEMBERSHIP_TAG', 'membership tag does not verify');
  } else if (m.membershipTag) {
    throw new MlsError('MALFORMED', 'a membership tag from a sender that is not a member');
  }
  const a: AuthenticatedContent = { wireFormat: 1, content, auth };
  verifySignature(keys, a, ctx, signatureKey(content.sender, signatureKeyOf));
  return a;
}

function signatureKey(sender: Sender, signatureKeyOf: SignatureKeyOf): Uint8Array {
  const key = signatureKeyOf(sender);
  if (!key) throw new MlsError('UNKNOWN_SENDER', sender.type === 1 ? `no member at leaf ${sender.leafIndex}` : `no signature key for sender type ${sender.type}`);
  return key;
}
function verifySignature(keys: ProtectionKeys, a: AuthenticatedContent, ctx: Uint8Array, key: Uint8Array): void {
  if (!verifyFramedContentSignature(keys.suite, key, a, ctx)) throw new MlsError('BAD_SIGNATURE', 'FramedContentTBS signature does not verify');
}

// ---- PrivateMessage (§6.3) -----------------------------------------------------------------

/**
 * Encrypts signed content from a member (§6.3): takes the sender's next key on the ratchet
 * of the content type, pads by the policy, encrypts the content and then the sender data.
 */
export function protectPrivateMessage(keys: ProtectionKeys, a: AuthenticatedContent, options: PrivateProtectOptions = {}): PrivateMessage {
  const { content, auth } = a;
  if (a.wireFormat !== 2) throw new MlsError('STATE', 'content signed for a PublicMessage');
  if (content.sender.type !== 1) throw new MlsError('STATE', 'only a member sends a PrivateMessage');
  checkGroupAndEpoch(keys, content.groupId, content.epoch);
  const { suite } = keys;
  const reuseGuard = options.reuseGuard ?? randomBytes(4);
  if (reuseGuard.length !== 4) throw new MlsError('STATE', 'reuse_guard is 4 bytes');
  const leafIndex = content.sender.leafIndex;
  const body = bodyOf(content);
  const unpadded = encodePrivateMessageContent({ ...body, auth, paddingLength: 0 }).length;
  const paddingLength = (options.padding ?? noPadding)(unpadded);
  if (!Number.isSafeInteger(paddingLength) || paddingLength < 0) throw new MlsError('STATE', `padding policy returned ${paddingLength}`);
  const plaintext = encodePrivateMessageContent({ ...body, auth, paddingLength });
  const header = { groupId: content.groupId, epoch: content.epoch, contentType: content.contentType };
  const aad = encodePrivateContentAad({ ...header, authenticatedData: content.authenticatedData });
  const k = keys.secretTree.nextKey(leafIndex, content.contentType);
  const ciphertext = suite.seal(k.key, applyReuseGuard(k.nonce, reuseGuard), aad, plaintext);
  k.key.fill(0);
  const sd = senderDataKeyNonce(suite, keys.senderDataSecret, ciphertext);
  const encryptedSenderData = suite.seal(sd.key, sd.nonce, encodeSenderDataAad(header), encodeSenderData({ leafIndex, generation: k.generation, reuseGuard }));
  return { ...header, authenticatedData: content.authenticatedData, encryptedSenderData, ciphertext };
}

/** The result of unprotecting a PrivateMessage: the content and the generation it used. */
export interface UnprotectedPrivate { readonly content: AuthenticatedContent; readonly generation: number }

/** Decrypts and verifies a PrivateMessage (§6.3.2, §6.3.1). */
export function unprotectPrivateMessage(keys: ProtectionKeys, m: PrivateMessage, signatureKeyOf: SignatureKeyOf): UnprotectedPrivate {
  checkGroupAndEpoch(keys, m.groupId, m.epoch);
  const { suite } = keys;
  const header = { groupId: m.groupId, epoch: m.epoch, contentType: m.contentType };
  const sd = senderDataKeyNonce(suite, keys.senderDataSecret, m.ciphertext);
  const senderData = decodeSenderData(suite.open(sd.key, sd.nonce, encodeSenderDataAad(header), m.encryptedSenderData));
  const { leafIndex, generation, reuseGuard } = senderData;
  const sender: Sender = { type: 1, leafIndex };
  if (leafIndex >= keys.secretTree.leafCount) throw new MlsError('UNKNOWN_SENDER', `leaf ${leafIndex} is outside the tree`);
  // Before any key is consumed: a blank leaf sends nothing.
  const key = signatureKey(sender, signatureKeyOf);
  const aad = encodePrivateContentAad({ ...header, authenticatedData: m.authenticatedData });
  const plaintext = keys.secretTree.withKey(leafIndex, m.contentType, generation,
    (k) => suite.open(k.key, applyReuseGuard(k.nonce, reuseGuard), aad, m.ciphertext));
  const pmc = decodePrivateMessageContent(plaintext, m.contentType);
  const { auth, paddingLength: _padding, ...body } = pmc;
  const content = { groupId: m.groupId, epoch: m.epoch, sender, authenticatedData: m.authenticatedData, ...body } as FramedContent;
  const a: AuthenticatedContent = { wireFormat: 2, content, auth };
  verifySignature(keys, a, contextOf(keys), key);
  return { content: a, generation };
}

function bodyOf(c: FramedContent): FramedContentBody {
  if (c.contentType === 1) return { contentType: 1, applicationData: c.applicationData };
  if (c.contentType === 2) return { contentType: 2, proposal: c.proposal };
  return { contentType: 3, commit: c.commit };
}

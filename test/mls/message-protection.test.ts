// Message protection (src/mls/message-protection.ts, RFC 9420 §6) against the
// message-protection vectors, every case on both crypto backends: the given PublicMessages
// and PrivateMessages (proposal, commit, application) unprotect to the given content; our own
// protect in both wire formats and unprotect again; a corrupted case fails; and tampering
// with a ciphertext, the sender data, a signature or a membership tag is refused with the
// right code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bucketPadding, noPadding, protectPrivateMessage, protectPublicMessage, signContent, unprotectPrivateMessage, unprotectPublicMessage,
  withConfirmationTag, type ProtectionKeys, type SignatureKeyOf,
} from '../../src/mls/message-protection.js';
import {
  decodeMlsMessage, encodeMlsMessage, membershipTag, type AuthenticatedContent, type FramedContent, type FramedContentBody,
  type PrivateMessage, type PublicMessage,
} from '../../src/mls/framing.js';
import { decodeProposal, encodeProposal } from '../../src/mls/proposals.js';
import { decodeCommit, encodeCommit } from '../../src/mls/commit.js';
import { SecretTree } from '../../src/mls/secret-tree.js';
import { encodeGroupContext } from '../../src/mls/group-context.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError, type MlsErrorCode } from '../../src/mls/errors.js';
import { withBackend, type BackendName, type Ed25519Seed } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface Case {
  cipher_suite: number; group_id: H; epoch: number; tree_hash: H; confirmed_transcript_hash: H;
  signature_priv: H; signature_pub: H; encryption_secret: H; sender_data_secret: H; membership_key: H;
  proposal: H; proposal_pub: H; proposal_priv: H;
  commit: H; commit_pub: H; commit_priv: H;
  application: H; application_priv: H;
}
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'message-protection.json');
const code = (c: MlsErrorCode) => (e: unknown): boolean => e instanceof MlsError && e.code === c;
const LEAVES = 2; // the vectors' group: two members, the sender at leaf 1

/** Fresh keys of the case's epoch (each party, each message its own secret tree). */
function keysOf(c: Case, over: { epoch?: bigint; groupId?: Uint8Array } = {}): ProtectionKeys {
  const suite = cipherSuite(c.cipher_suite);
  return {
    suite,
    groupContext: {
      version: 1, cipherSuite: c.cipher_suite, groupId: over.groupId ?? hex(c.group_id), epoch: over.epoch ?? BigInt(c.epoch),
      treeHash: hex(c.tree_hash), confirmedTranscriptHash: hex(c.confirmed_transcript_hash), extensions: [],
    },
    membershipKey: hex(c.membership_key),
    senderDataSecret: hex(c.sender_data_secret),
    secretTree: new SecretTree(suite, hex(c.encryption_secret), LEAVES),
  };
}
const keyOf = (c: Case): SignatureKeyOf => (s) => (s.type === 1 && s.leafIndex < LEAVES ? hex(c.signature_pub) : undefined);

const publicOf = (b: Uint8Array): PublicMessage => {
  const m = decodeMlsMessage(b);
  if (m.wireFormat !== 1) throw new Error('not a PublicMessage');
  return m.publicMessage;
};
const privateOf = (b: Uint8Array): PrivateMessage => {
  const m = decodeMlsMessage(b);
  if (m.wireFormat !== 2) throw new Error('not a PrivateMessage');
  return m.privateMessage;
};
/** The content's bytes as the vectors give them: the Proposal, the Commit, or the application data. */
function bodyBytes(c: FramedContent): Uint8Array {
  if (c.contentType === 1) return c.applicationData;
  if (c.contentType === 2) return encodeProposal(c.proposal);
  return encodeCommit(c.commit);
}

type Kind = 'proposal' | 'commit' | 'application';
function bodyOf(c: Case, kind: Kind): FramedContentBody {
  if (kind === 'proposal') return { contentType: 2, proposal: decodeProposal(hex(c.proposal)) };
  if (kind === 'commit') return { contentType: 3, commit: decodeCommit(hex(c.commit)) };
  return { contentType: 1, applicationData: hex(c.application) };
}
function contentOf(c: Case, kind: Kind, leafIndex = 1): FramedContent {
  return { groupId: hex(c.group_id), epoch: BigInt(c.epoch), sender: { type: 1, leafIndex }, authenticatedData: new Uint8Array([7, 7]), ...bodyOf(c, kind) };
}
function signed(c: Case, kind: Kind, wireFormat: 1 | 2, keys = keysOf(c)): AuthenticatedContent {
  const a = signContent(keys, hex(c.signature_priv) as Ed25519Seed, wireFormat, contentOf(c, kind));
  return kind === 'commit' ? withConfirmationTag(a, new Uint8Array(32).fill(0x5c)) : a;
}

/** Checks one case; returns the names of the checks that failed. */
function check(c: Case): string[] {
  const bad: string[] = [];
  const attempt = (name: string, f: () => boolean): void => {
    try { if (!f()) bad.push(name); } catch (e) { bad.push(`${name} threw ${(e as Error).message}`); }
  };
  const kinds: [Kind, H][] = [['proposal', c.proposal], ['commit', c.commit], ['application', c.application]];
  for (const [kind, want] of kinds) {
    if (kind !== 'application') {
      attempt(`${kind}_pub`, () => {
        const a = unprotectPublicMessage(keysOf(c), publicOf(hex(c[`${kind}_pub` as keyof Case] as H)), keyOf(c));
        return toHexString(bodyBytes(a.content)) === want && a.content.sender.type === 1;
      });
    }
    attempt(`${kind}_priv`, () => {
      const r = unprotectPrivateMessage(keysOf(c), privateOf(hex(c[`${kind}_priv` as keyof Case] as H)), keyOf(c));
      return toHexString(bodyBytes(r.content.content)) === want;
    });
    // Our own: protect, encode as MLSMessage, decode, unprotect with another party's keys.
    if (kind !== 'application') {
      attempt(`${kind} public round trip`, () => {
        const a = signed(c, kind, 1);
        const wire = encodeMlsMessage({ wireFormat: 1, publicMessage: protectPublicMessage(keysOf(c), a) });
        const back = unprotectPublicMessage(keysOf(c), publicOf(wire), keyOf(c));
        return toHexString(bodyBytes(back.content)) === want && toHexString(back.auth.signature) === toHexString(a.auth.signature);
      });
    }
    attempt(`${kind} private round trip`, () => {
      const sender = keysOf(c);
      const receiver = keysOf(c);
      const a = signed(c, kind, 2, sender);
      let ok = true;
      for (let i = 0; i < 3; i++) {
        const wire = encodeMlsMessage({ wireFormat: 2, privateMessage: protectPrivateMessage(sender, a, { padding: bucketPadding([64, 256]) }) });
        const back = unprotectPrivateMessage(receiver, privateOf(wire), keyOf(c));
        ok &&= back.generation === i && toHexString(bodyBytes(back.content.content)) === want
          && toHexString(back.content.content.authenticatedData) === '0707'
          && toHexString(back.content.auth.confirmationTag ?? new Uint8Array(0)) === (kind === 'commit' ? '5c'.repeat(32) : '');
      }
      return ok;
    });
  }
  return bad;
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every message-protection case on the ${backend} backend`, () => {
    let checked = 0;
    withBackend(backend, () => {
      for (const c of cases) { assert.equal(check(c), [], `suite ${c.cipher_suite}`); checked++; }
    });
    assert.is(checked, 2);
  });
}

test('a corrupted case fails: another membership key, another sender-data secret', () => {
  const c = structuredClone(cases[0]!);
  const flip = (h: H): H => (h.slice(0, -2) + ((parseInt(h.slice(-2), 16) ^ 1).toString(16).padStart(2, '0')));
  c.membership_key = flip(c.membership_key);
  c.sender_data_secret = flip(c.sender_data_secret);
  const bad = check(c);
  assert.ok(bad.some((b) => b.startsWith('proposal_pub threw BAD_MEMBERSHIP_TAG')), bad.join('\n'));
  assert.ok(bad.some((b) => b.startsWith('commit_priv threw DECRYPT_FAILED')), bad.join('\n'));
  assert.ok(bad.some((b) => b.startsWith('application_priv threw DECRYPT_FAILED')), bad.join('\n'));
});

for (const c of cases) {
  test(`suite ${c.cipher_suite}: tampered PrivateMessages are refused, and the genuine one still opens`, () => {
    const sender = keysOf(c);
    const receiver = keysOf(c);
    const m = protectPrivateMessage(sender, signed(c, 'application', 2, sender));
    const ct = m.ciphertext.slice();
    ct[ct.length - 1]! ^= 1;
    assert.throws(() => unprotectPrivateMessage(receiver, { ...m, ciphertext: ct }, keyOf(c)), code('DECRYPT_FAILED'));
    const esd = m.encryptedSenderData.slice();
    esd[0]! ^= 1;
    assert.throws(() => unprotectPrivateMessage(receiver, { ...m, encryptedSenderData: esd }, keyOf(c)), code('DECRYPT_FAILED'));
    // The authenticated data is in the content's AAD.
    assert.throws(() => unprotectPrivateMessage(receiver, { ...m, authenticatedData: new Uint8Array([7, 8]) }, keyOf(c)), code('DECRYPT_FAILED'));
    // The content type is in both AADs.
    assert.throws(() => unprotectPrivateMessage(receiver, { ...m, contentType: 2 }, keyOf(c)), code('DECRYPT_FAILED'));
    assert.throws(() => unprotectPrivateMessage(receiver, m, () => undefined), code('UNKNOWN_SENDER'));
    assert.throws(() => unprotectPrivateMessage(keysOf(c, { epoch: BigInt(c.epoch) + 1n }), m, keyOf(c)), code('WRONG_EPOCH'));
    assert.throws(() => unprotectPrivateMessage(keysOf(c, { groupId: new Uint8Array(4) }), m, keyOf(c)), code('WRONG_GROUP'));
    // None of these consumed the key: the genuine message opens once, then is KEY_REUSED.
    assert.is(toHexString(unprotectPrivateMessage(receiver, m, keyOf(c)).content.content.contentType === 1 ? hex(c.application) : new Uint8Array(0)), c.application);
    assert.throws(() => unprotectPrivateMessage(receiver, m, keyOf(c)), code('KEY_REUSED'));
    // A signature by another key: BAD_SIGNATURE.
    const forger = keysOf(c);
    const forged = protectPrivateMessage(forger, signContent(forger, new Uint8Array(32).fill(1) as Ed25519Seed, 2, contentOf(c, 'proposal')));
    assert.throws(() => unprotectPrivateMessage(keysOf(c), forged, keyOf(c)), code('BAD_SIGNATURE'));
    // A sender outside the tree.
    const outside = keysOf(c);
    const far = { ...sender, secretTree: new SecretTree(sender.suite, hex(c.encryption_secret), 4) };
    const fromLeaf3 = protectPrivateMessage(far, signContent(far, hex(c.signature_priv) as Ed25519Seed, 2, contentOf(c, 'proposal', 3)));
    assert.throws(() => unprotectPrivateMessage(outside, fromLeaf3, keyOf(c)), code('UNKNOWN_SENDER'));
  });

  test(`suite ${c.cipher_suite}: tampered PublicMessages are refused`, () => {
    const keys = keysOf(c);
    const m = protectPublicMessage(keys, signed(c, 'commit', 1));
    const tag = m.membershipTag!.slice();
    tag[0]! ^= 1;
    assert.throws(() => unprotectPublicMessage(keys, { ...m, membershipTag: tag }, keyOf(c)), code('BAD_MEMBERSHIP_TAG'));
    // A changed signature with a membership tag recomputed over it: BAD_SIGNATURE.
    const sig = m.auth.signature.slice();
    sig[5]! ^= 1;
    const auth = { signature: sig, confirmationTag: m.auth.confirmationTag };
    const retagged = { content: m.content, auth, membershipTag: membershipTag(keys.suite, keys.membershipKey, m.content, auth, encodeCtx(keys)) };
    assert.throws(() => unprotectPublicMessage(keys, retagged, keyOf(c)), code('BAD_SIGNATURE'));
    // Changed content under the old tag: BAD_MEMBERSHIP_TAG.
    assert.throws(() => unprotectPublicMessage(keys, { ...m, content: { ...m.content, authenticatedData: new Uint8Array(1) } }, keyOf(c)), code('BAD_MEMBERSHIP_TAG'));
    assert.throws(() => unprotectPublicMessage(keysOf(c, { epoch: 0n }), m, keyOf(c)), code('WRONG_EPOCH'));
    assert.throws(() => unprotectPublicMessage(keys, m, () => undefined), code('UNKNOWN_SENDER'));
    assert.throws(() => protectPublicMessage(keys, signed(c, 'application', 1)), code('STATE'));
    assert.throws(() => protectPrivateMessage(keys, signed(c, 'proposal', 1)), code('STATE'));
    assert.is(toHexString(unprotectPublicMessage(keys, m, keyOf(c)).auth.signature), toHexString(m.auth.signature));
  });
}

test('padding: buckets fix the ciphertext length; no padding is the default', () => {
  const c = cases[0]!;
  const lengths = (padding: Parameters<typeof protectPrivateMessage>[2]): number[] => [1, 40, 100].map((n) => {
    const keys = keysOf(c);
    const a = signContent(keys, hex(c.signature_priv) as Ed25519Seed, 2, { groupId: hex(c.group_id), epoch: BigInt(c.epoch), sender: { type: 1, leafIndex: 1 }, authenticatedData: new Uint8Array(0), contentType: 1, applicationData: new Uint8Array(n) });
    return protectPrivateMessage(keys, a, padding).ciphertext.length;
  });
  const [a, b, d] = lengths({ padding: bucketPadding([256, 1024]) });
  assert.is(a, 256 + 16);
  assert.is(b, 256 + 16);
  assert.is(d, 256 + 16);
  assert.is(bucketPadding([256])(600), 168);
  const plain = lengths({ padding: noPadding });
  assert.ok(plain[0]! < plain[1]! && plain[1]! < plain[2]!);
});

function encodeCtx(k: ProtectionKeys): Uint8Array { return encodeGroupContext(k.groupContext); }

test.run();

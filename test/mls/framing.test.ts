// What the framing, key-package and group-info codecs sign, MAC and hash, against the MLS
// working group's message-protection (PublicMessage only), transcript-hashes and welcome
// vectors, on both crypto backends; and the codecs' refusals, one per rule.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeCommit } from '../../src/mls/commit.js';
import { MlsError, type MlsErrorCode } from '../../src/mls/errors.js';
import {
  authenticatedContentTbm, confirmedTranscriptHashInput, decodeAuthenticatedContent, decodeMlsMessage, decodePrivateMessageContent,
  decodeSenderData, encodeAuthenticatedContent, encodeMlsMessage, encodePrivateMessageContent, encodeSenderData, framedContentTbs,
  interimTranscriptHashInput, membershipTag, proposalRef, publicMessageContent, signFramedContent, verifyFramedContentSignature,
  type FramedContent, type MlsMessage, type PrivateMessageContent,
} from '../../src/mls/framing.js';
import { encodeGroupContext, type GroupContext } from '../../src/mls/group-context.js';
import { decodeGroupInfo, verifyGroupInfoSignature } from '../../src/mls/group-info.js';
import { keyPackageRef, verifyKeyPackageSignature } from '../../src/mls/key-package.js';
import { decodeProposal, encodeProposal } from '../../src/mls/proposals.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { decodeGroupSecrets } from '../../src/mls/welcome.js';
import { withBackend, type BackendName, type Ed25519Seed } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
const throwsCode = (f: () => unknown, code: MlsErrorCode, msg?: string): void =>
  assert.throws(f, (e: unknown) => e instanceof MlsError && e.code === code, msg);
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

interface ProtectionCase {
  cipher_suite: number; group_id: H; epoch: number; tree_hash: H; confirmed_transcript_hash: H;
  signature_priv: H; signature_pub: H; membership_key: H;
  proposal: H; proposal_pub: H; commit: H; commit_pub: H;
}
interface TranscriptCase {
  cipher_suite: number; confirmation_key: H; authenticated_content: H;
  interim_transcript_hash_before: H; confirmed_transcript_hash_after: H; interim_transcript_hash_after: H;
}
interface WelcomeCase { cipher_suite: number; init_priv: H; key_package: H; signer_pub: H; welcome: H }
const protection = readJson<ProtectionCase[]>('test', 'vectors', 'mls', 'message-protection.json');
const transcripts = readJson<TranscriptCase[]>('test', 'vectors', 'mls', 'transcript-hashes.json');
const welcomes = readJson<WelcomeCase[]>('test', 'vectors', 'mls', 'welcome.json');
const messages = readJson<Record<string, H>[]>('test', 'vectors', 'mls', 'messages.json');

function publicOf(m: MlsMessage): NonNullable<Extract<MlsMessage, { wireFormat: 1 }>['publicMessage']> {
  if (m.wireFormat !== 1) throw new Error(`wire format ${m.wireFormat}`);
  return m.publicMessage;
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`message-protection PublicMessages: signature, membership tag, content (${backend})`, () => withBackend(backend, () => {
    let checked = 0;
    for (const c of protection) {
      const s = cipherSuite(c.cipher_suite);
      const gc: GroupContext = {
        version: 1, cipherSuite: c.cipher_suite, groupId: hex(c.group_id), epoch: BigInt(c.epoch), treeHash: hex(c.tree_hash),
        confirmedTranscriptHash: hex(c.confirmed_transcript_hash), extensions: [],
      };
      const ctx = encodeGroupContext(gc);
      for (const [field, inner] of [['proposal_pub', c.proposal], ['commit_pub', c.commit]] as const) {
        const pm = publicOf(decodeMlsMessage(hex(c[field])));
        const ac = publicMessageContent(pm);
        const body = pm.content.contentType === 2 ? encodeProposal(pm.content.proposal) : pm.content.contentType === 3 ? encodeCommit(pm.content.commit) : undefined;
        assert.is(toHexString(body!), inner, `${field} content`);
        assert.ok(verifyFramedContentSignature(s, hex(c.signature_pub), ac, ctx), `${field} signature`);
        // Ed25519 is deterministic: our signature over the same TBS is the vector's.
        assert.is(toHexString(signFramedContent(s, hex(c.signature_priv) as Ed25519Seed, 1, pm.content, ctx)), toHexString(pm.auth.signature));
        assert.is(toHexString(membershipTag(s, hex(c.membership_key), pm.content, pm.auth, ctx)), toHexString(pm.membershipTag!), `${field} tag`);
        // Another context or another key does not verify.
        const other = encodeGroupContext({ ...gc, epoch: gc.epoch + 1n });
        assert.not.ok(verifyFramedContentSignature(s, hex(c.signature_pub), ac, other));
        assert.is.not(toHexString(s.mac(hex(c.membership_key), authenticatedContentTbm(pm.content, pm.auth, other))), toHexString(pm.membershipTag!));
        checked++;
      }
      assert.equal(decodeProposal(hex(c.proposal)).type > 0, true);
    }
    assert.is(checked, protection.length * 2);
    assert.equal(protection.map((c) => c.cipher_suite).sort(), [1, 3]);
  }));

  test(`transcript-hashes: ConfirmedTranscriptHashInput, InterimTranscriptHashInput, confirmation tag (${backend})`, () => withBackend(backend, () => {
    for (const c of transcripts) {
      const s = cipherSuite(c.cipher_suite);
      const ac = decodeAuthenticatedContent(hex(c.authenticated_content));
      assert.is(toHexString(encodeAuthenticatedContent(ac)), c.authenticated_content);
      assert.is(ac.content.contentType, 3);
      const confirmed = s.hash(cat(hex(c.interim_transcript_hash_before), confirmedTranscriptHashInput(ac)));
      assert.is(toHexString(confirmed), c.confirmed_transcript_hash_after);
      const tag = s.mac(hex(c.confirmation_key), confirmed);
      assert.is(toHexString(tag), toHexString(ac.auth.confirmationTag!));
      assert.is(toHexString(s.hash(cat(confirmed, interimTranscriptHashInput(tag)))), c.interim_transcript_hash_after);
    }
    assert.equal(transcripts.map((c) => c.cipher_suite).sort(), [1, 3]);
  }));

  test(`welcome: KeyPackage signature and ref, GroupSecrets, GroupInfo signature (${backend})`, () => withBackend(backend, () => {
    for (const c of welcomes) {
      const s = cipherSuite(c.cipher_suite);
      const kpm = decodeMlsMessage(hex(c.key_package));
      const wm = decodeMlsMessage(hex(c.welcome));
      if (kpm.wireFormat !== 5 || wm.wireFormat !== 3) throw new Error('wire formats');
      const kp = kpm.keyPackage;
      assert.ok(verifyKeyPackageSignature(s, kp));
      assert.not.ok(verifyKeyPackageSignature(s, { ...kp, cipherSuite: kp.cipherSuite ^ 2 }));
      const ref = toHexString(keyPackageRef(s, kp));
      const mine = wm.welcome.secrets.find((e) => toHexString(e.newMember) === ref);
      assert.ok(mine, 'the Welcome names our KeyPackageRef');
      const keyPair = s.keyPairFromSecret(hex(c.init_priv));
      assert.is(toHexString(keyPair.publicKey), toHexString(kp.initKey));
      const gs = decodeGroupSecrets(s.decryptWithLabel(keyPair, 'Welcome', wm.welcome.encryptedGroupInfo, mine!.encryptedGroupSecrets));
      assert.is(gs.psks.length, 0);
      // RFC 9420 §8: welcome_secret = DeriveSecret(Extract(joiner_secret, psk_secret = 0), "welcome").
      const welcomeSecret = s.deriveSecret(s.extract(gs.joinerSecret, new Uint8Array(s.hashLength)), 'welcome');
      const key = s.expandWithLabel(welcomeSecret, 'key', new Uint8Array(0), s.keyLength);
      const nonce = s.expandWithLabel(welcomeSecret, 'nonce', new Uint8Array(0), s.nonceLength);
      const gi = decodeGroupInfo(s.open(key, nonce, new Uint8Array(0), wm.welcome.encryptedGroupInfo));
      assert.is(gi.groupContext.cipherSuite, c.cipher_suite);
      assert.ok(verifyGroupInfoSignature(s, gi, hex(c.signer_pub)));
      assert.not.ok(verifyGroupInfoSignature(s, { ...gi, signer: gi.signer + 1 }, hex(c.signer_pub)));
    }
    assert.equal(welcomes.map((c) => c.cipher_suite).sort(), [1, 3]);
  }));
}

test('ProposalRef hashes the encoded AuthenticatedContent', () => {
  const s = cipherSuite(1);
  const pm = publicOf(decodeMlsMessage(hex(messages[0]!['public_message_proposal']!)));
  const ac = publicMessageContent(pm);
  assert.is(toHexString(proposalRef(s, ac)), toHexString(s.refHash('MLS 1.0 Proposal Reference', encodeAuthenticatedContent(ac))));
  assert.is(proposalRef(s, ac).length, 32);
});

test('PrivateMessageContent: zero padding is accepted and kept, non-zero padding is MALFORMED', () => {
  const pm = publicOf(decodeMlsMessage(hex(messages[0]!['public_message_application']!)));
  if (pm.content.contentType !== 1) throw new Error('content type');
  const pmc: PrivateMessageContent = { contentType: 1, applicationData: pm.content.applicationData, auth: pm.auth, paddingLength: 0 };
  const bare = encodePrivateMessageContent(pmc);
  for (const n of [0, 1, 7, 300]) {
    const padded = encodePrivateMessageContent({ ...pmc, paddingLength: n });
    assert.is(padded.length, bare.length + n);
    const back = decodePrivateMessageContent(padded, 1);
    assert.equal(back, { ...pmc, paddingLength: n });
    if (n > 0) {
      const dirty = padded.slice();
      dirty[dirty.length - 1 - (n >> 1)] = 1;
      throwsCode(() => decodePrivateMessageContent(dirty, 1), 'MALFORMED', `padding ${n}`);
    }
  }
  throwsCode(() => decodePrivateMessageContent(bare.subarray(0, bare.length - 1), 1), 'MALFORMED');
  // A commit's content needs its confirmation tag, others must not carry one.
  throwsCode(() => encodePrivateMessageContent({ ...pmc, auth: { signature: pm.auth.signature, confirmationTag: new Uint8Array(32) } }), 'STATE');
  const commit = publicOf(decodeMlsMessage(hex(messages[0]!['public_message_commit']!)));
  const cc = commit.content;
  if (cc.contentType !== 3) throw new Error('content type');
  throwsCode(() => encodePrivateMessageContent({ contentType: 3, commit: cc.commit, auth: { signature: commit.auth.signature }, paddingLength: 0 }), 'STATE');
});

test('SenderData is 12 bytes exactly', () => {
  const sd = { leafIndex: 7, generation: 0xfffffffe, reuseGuard: Uint8Array.of(1, 2, 3, 4) };
  const b = encodeSenderData(sd);
  assert.is(toHexString(b), '00000007fffffffe01020304');
  assert.equal(decodeSenderData(b), sd);
  throwsCode(() => decodeSenderData(b.subarray(0, 11)), 'MALFORMED');
  throwsCode(() => decodeSenderData(Uint8Array.of(...b, 0)), 'MALFORMED');
});

test('FramedContentTBS binds the group context for members and new-member commits only', () => {
  const pm = publicOf(decodeMlsMessage(hex(messages[0]!['public_message_proposal']!)));
  const ctx = Uint8Array.of(9, 9, 9);
  const member = framedContentTbs(1, pm.content, ctx);
  assert.is(toHexString(member.subarray(member.length - 3)), '090909');
  throwsCode(() => framedContentTbs(1, pm.content), 'STATE');
  const external: FramedContent = { ...pm.content, sender: { type: 2, senderIndex: 0 } };
  assert.is(framedContentTbs(1, external, ctx).length, framedContentTbs(1, external).length);
  const newMember: FramedContent = { ...pm.content, sender: { type: 4 } };
  throwsCode(() => framedContentTbs(1, newMember), 'STATE');
  // A PublicMessage carries a membership tag exactly when its sender is a member.
  throwsCode(() => encodeMlsMessage({ wireFormat: 1, publicMessage: { content: pm.content, auth: pm.auth } }), 'STATE');
  throwsCode(() => encodeMlsMessage({ wireFormat: 1, publicMessage: { content: external, auth: pm.auth, membershipTag: new Uint8Array(32) } }), 'STATE');
  const ext = encodeMlsMessage({ wireFormat: 1, publicMessage: { content: external, auth: pm.auth } });
  assert.equal(decodeMlsMessage(ext), { wireFormat: 1, publicMessage: { content: external, auth: pm.auth } });
});

test('each refusal: versions and proposal types UNSUPPORTED, other unknown code points MALFORMED', () => {
  const c = messages[0]!;
  const at = (h: H, offset: number, ...bytes: number[]): Uint8Array => { const b = hex(h); b.set(bytes, offset); return b; };
  const pub = c['public_message_proposal']!;
  throwsCode(() => decodeMlsMessage(at(pub, 0, 0, 2)), 'UNSUPPORTED', 'version 2');
  throwsCode(() => decodeMlsMessage(at(pub, 2, 0, 6)), 'MALFORMED', 'wire format 6');
  throwsCode(() => decodeMlsMessage(at(pub, 2, 0, 0)), 'MALFORMED', 'wire format 0');
  throwsCode(() => decodeMlsMessage(at(c['mls_key_package']!, 4, 0, 2)), 'UNSUPPORTED', 'key package version 2');
  // Sender type and content type of the PublicMessage: after version, wire format, group_id<V>, epoch.
  const gidLen = hex(pub)[4]!;
  const senderAt = 4 + 1 + gidLen + 8;
  assert.is(hex(pub)[senderAt], 1);
  throwsCode(() => decodeMlsMessage(at(pub, senderAt, 0)), 'MALFORMED', 'sender type 0');
  throwsCode(() => decodeMlsMessage(at(pub, senderAt, 5)), 'MALFORMED', 'sender type 5');
  const aadLen = hex(pub)[senderAt + 5]!;
  const contentTypeAt = senderAt + 5 + 1 + aadLen;
  assert.is(hex(pub)[contentTypeAt], 2);
  throwsCode(() => decodeMlsMessage(at(pub, contentTypeAt, 4)), 'MALFORMED', 'content type 4');
  throwsCode(() => decodeMlsMessage(at(pub, contentTypeAt + 1, 0, 8)), 'UNSUPPORTED', 'proposal type 8');
  throwsCode(() => decodeMlsMessage(at(pub, contentTypeAt + 1, 0, 0)), 'UNSUPPORTED', 'proposal type 0');
  throwsCode(() => decodeProposal(Uint8Array.of(0xff, 0xff)), 'UNSUPPORTED');
  // Commit: ProposalOrRef type 3; Commit's optional<UpdatePath> presence 2.
  throwsCode(() => decodeMlsMessage(Uint8Array.of(...hex(pub).subarray(0, contentTypeAt), 3, 0x01, 0x03, 0)), 'MALFORMED', 'ProposalOrRef 3');
  throwsCode(() => decodeMlsMessage(Uint8Array.of(...hex(pub).subarray(0, contentTypeAt), 3, 0x00, 0x02)), 'MALFORMED', 'presence 2');
  // PreSharedKeyID: psktype 3; resumption usage 4.
  throwsCode(() => decodeProposal(Uint8Array.of(0, 4, 3, 0, 0)), 'MALFORMED', 'psktype 3');
  throwsCode(() => decodeProposal(Uint8Array.of(0, 4, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), 'MALFORMED', 'usage 4');
  const resumption = Uint8Array.of(0, 4, 2, 3, 1, 0xaa, 0, 0, 0, 0, 0, 0, 0, 9, 1, 0xbb);
  assert.equal(decodeProposal(resumption), { type: 4, psk: { psktype: 2, usage: 3, pskGroupId: Uint8Array.of(0xaa), pskEpoch: 9n, pskNonce: Uint8Array.of(0xbb) } });
  assert.is(toHexString(encodeProposal(decodeProposal(resumption))), toHexString(resumption));
  // GroupSecrets' optional path secret with presence byte 2.
  const gs = hex(c['group_secrets']!);
  const presenceAt = 1 + gs[0]!;
  throwsCode(() => decodeGroupSecrets(at(c['group_secrets']!, presenceAt, 2)), 'MALFORMED', 'optional presence 2');
  // AuthenticatedContent only exists for the two message wire formats.
  throwsCode(() => decodeAuthenticatedContent(Uint8Array.of(0, 3, ...hex(pub).subarray(4))), 'MALFORMED', 'AuthenticatedContent wire format 3');
});

test.run();

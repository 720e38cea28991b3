// Welcome processing (RFC 9420 §12.4.3.1) against the MLS working group's welcome vectors, on
// both crypto backends: find our EncryptedGroupSecrets by KeyPackageRef, open the GroupSecrets
// with init_priv (EncryptWithLabel "Welcome", context = encrypted_group_info), derive
// welcome_secret (psk_secret = 0), open the GroupInfo, verify its signature with signer_pub and
// its confirmation tag against the key schedule. Negative controls: a wrong init key, a wrong
// signer key, a flipped confirmation tag, and corrupted Welcomes fed to Group.join, which must
// fail with a typed MlsError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeMlsMessage } from '../../src/mls/framing.js';
import { decodeGroupInfo, verifyGroupInfoSignature, type GroupInfo } from '../../src/mls/group-info.js';
import { decodeGroupSecrets, type Welcome } from '../../src/mls/welcome.js';
import { keyPackageRef, type KeyPackage } from '../../src/mls/key-package.js';
import { EpochSecrets, welcomeKeyNonce, zeroSecret } from '../../src/mls/key-schedule.js';
import { cipherSuite, type CipherSuite, type HpkeKeyPair } from '../../src/mls/suite.js';
import { confirmationTag } from '../../src/mls/transcript.js';
import { Group } from '../../src/mls/group.js';
import { MlsError } from '../../src/mls/errors.js';
import { equalBytes, withBackend, type BackendName, type Ed25519Seed } from '../../src/crypto/index.js';
import { hex, readJson } from '../_support/files.js';

interface Case { cipher_suite: number; init_priv: string; key_package: string; signer_pub: string; welcome: string }

const cases = readJson<Case[]>('test', 'vectors', 'mls', 'welcome.json');
const EMPTY = new Uint8Array(0);

function parse(c: Case): { suite: CipherSuite; kp: KeyPackage; welcome: Welcome; initKey: HpkeKeyPair; signerPub: Uint8Array } {
  const suite = cipherSuite(c.cipher_suite);
  const k = decodeMlsMessage(hex(c.key_package));
  if (k.wireFormat !== 5) throw new Error('key_package is not a KeyPackage');
  const w = decodeMlsMessage(hex(c.welcome));
  if (w.wireFormat !== 3) throw new Error('welcome is not a Welcome');
  return { suite, kp: k.keyPackage, welcome: w.welcome, initKey: suite.keyPairFromSecret(hex(c.init_priv)), signerPub: hex(c.signer_pub) };
}

interface Opened { gi: GroupInfo; joinerSecret: Uint8Array }

/** §12.4.3.1 step by step; throws on any failure. */
function open(suite: CipherSuite, kp: KeyPackage, welcome: Welcome, initKey: HpkeKeyPair): Opened {
  assert.is(welcome.cipherSuite, suite.id, 'the Welcome names the vector cipher suite');
  const ref = keyPackageRef(suite, kp);
  const mine = welcome.secrets.filter((s) => equalBytes(s.newMember, ref));
  assert.is(mine.length, 1, 'exactly one EncryptedGroupSecrets for our KeyPackageRef');
  const gs = decodeGroupSecrets(suite.decryptWithLabel(initKey, 'Welcome', welcome.encryptedGroupInfo, mine[0]!.encryptedGroupSecrets));
  assert.is(gs.joinerSecret.length, suite.hashLength);
  assert.is(gs.psks.length, 0, 'the vectors use no PSKs');
  const { welcomeSecret } = EpochSecrets.fromJoinerSecret(suite, gs.joinerSecret, zeroSecret(suite), new Uint8Array(0));
  const { key, nonce } = welcomeKeyNonce(suite, welcomeSecret);
  const gi = decodeGroupInfo(suite.open(key, nonce, EMPTY, welcome.encryptedGroupInfo));
  return { gi, joinerSecret: gs.joinerSecret };
}

function checkCase(c: Case): void {
  const { suite, kp, welcome, initKey, signerPub } = parse(c);
  const { gi, joinerSecret } = open(suite, kp, welcome, initKey);
  assert.is(gi.groupContext.cipherSuite, suite.id);
  assert.ok(verifyGroupInfoSignature(suite, gi, signerPub), 'GroupInfo signature verifies with signer_pub');
  const { epoch } = EpochSecrets.fromJoinerSecret(suite, joinerSecret, zeroSecret(suite), gi.groupContext);
  const want = confirmationTag(suite, epoch.confirmationKey, gi.groupContext.confirmedTranscriptHash);
  assert.ok(equalBytes(want, gi.confirmationTag), 'confirmation tag matches the key schedule');

  // Negative controls: each check above can fail.
  const otherSigner = suite.signaturePublicKey(new Uint8Array(32).fill(7) as Ed25519Seed);
  assert.not.ok(verifyGroupInfoSignature(suite, gi, otherSigner), 'another key does not verify the GroupInfo');
  const flipped = Uint8Array.from(gi.signature); flipped[0]! ^= 1;
  assert.not.ok(verifyGroupInfoSignature(suite, { ...gi, signature: flipped }, signerPub), 'a flipped signature does not verify');
  const otherCtx = { ...gi.groupContext, epoch: gi.groupContext.epoch + 1n };
  const wrong = EpochSecrets.fromJoinerSecret(suite, joinerSecret, zeroSecret(suite), otherCtx).epoch;
  assert.not.ok(equalBytes(confirmationTag(suite, wrong.confirmationKey, gi.groupContext.confirmedTranscriptHash), gi.confirmationTag),
    'a different GroupContext gives another confirmation tag');
  const wrongInit = suite.keyPairFromSecret(new Uint8Array(32).fill(9));
  assert.throws(() => open(suite, kp, welcome, wrongInit), (e: unknown) => e instanceof MlsError && e.code === 'DECRYPT_FAILED', 'a wrong init key');
  const badGi = Uint8Array.from(welcome.encryptedGroupInfo); badGi[badGi.length - 1]! ^= 1;
  // The GroupSecrets are bound to encrypted_group_info (the HPKE context): flipping it fails there.
  assert.throws(() => open(suite, kp, { ...welcome, encryptedGroupInfo: badGi }, initKey),
    (e: unknown) => e instanceof MlsError && e.code === 'DECRYPT_FAILED', 'a corrupted encrypted_group_info');
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every welcome case on the ${backend} backend`, () => {
    let n = 0;
    withBackend(backend, () => {
      cases.forEach((c, i) => {
        try { checkCase(c); n++; } catch (e) { throw new Error(`welcome case ${i} (suite ${c.cipher_suite}): ${(e as Error).message}`, { cause: e }); }
      });
    });
    assert.is(n, cases.length);
    assert.ok(n >= 2);
    assert.equal([...new Set(cases.map((c) => c.cipher_suite))].sort(), [1, 3]);
  });
}

// Group.join on the vectors' Welcomes: they carry no ratchet tree (the vectors do not give one),
// so a genuine Welcome gets as far as the tree (INVALID_TREE); every corruption is an MlsError
// with the code of the step that catches it, never a crash.
for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`a corrupted Welcome is a typed MlsError in Group.join (${backend})`, () => {
    withBackend(backend, () => {
      for (const c of cases) {
        const { suite, kp, initKey } = parse(c);
        const secrets = { keyPackage: kp, initKey, encryptionKey: suite.deriveKeyPair(new Uint8Array(32).fill(3)), signer: new Uint8Array(32).fill(4) as Ed25519Seed };
        const codeOf = (bytes: Uint8Array, k = secrets): string => {
          try { Group.join(bytes, k); } catch (e) {
            if (!(e instanceof MlsError)) throw new Error(`not an MlsError: ${String(e)}`, { cause: e });
            return e.code;
          }
          return 'joined';
        };
        const good = hex(c.welcome);
        assert.is(codeOf(good), 'INVALID_TREE', 'the genuine Welcome opens and verifies up to the missing tree');
        assert.throws(() => Group.join(good, secrets), /no ratchet tree in the GroupInfo/);
        const tail = Uint8Array.from(good); tail[tail.length - 1]! ^= 1; // inside encrypted_group_info
        assert.is(codeOf(tail), 'DECRYPT_FAILED');
        assert.is(codeOf(good.subarray(0, good.length - 3)), 'MALFORMED');
        const ver = Uint8Array.from(good); ver[1] = 9; // protocol version 9
        assert.is(codeOf(ver), 'UNSUPPORTED');
        const wrongInit = { ...secrets, initKey: suite.keyPairFromSecret(new Uint8Array(32).fill(9)) };
        assert.is(codeOf(good, wrongInit), 'DECRYPT_FAILED');
        const otherKp = { ...secrets, keyPackage: { ...kp, signature: new Uint8Array(kp.signature.length) } };
        assert.is(codeOf(good, otherKp), 'NO_WELCOME_FOR_US');
        // Every single-byte flip: never anything but an MlsError.
        for (let i = 0; i < good.length; i += Math.max(1, Math.floor(good.length / 200))) {
          const b = Uint8Array.from(good); b[i]! ^= 0x80;
          codeOf(b);
        }
      }
    });
  });
}

test.run();

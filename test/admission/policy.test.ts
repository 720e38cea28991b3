// The signed organisation policy (spec/admission.md §5): round trips, the rules, signature
// checks, every single-byte change refused, and the key-consistency check of §2.4.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkShownKey, encodePolicyBody, epochKeyOf, epochKeyPair, issuingEpoch, policyHash, signPolicy, verifyPolicy,
  type OrgPolicy,
} from '../../src/admission/index.js';
import { ed25519KeyPair, ed25519Sign, randomBytes, utf8 } from '../../src/crypto/index.js';
import { compareBytes, concat } from '../../src/crypto/bytes.js';
import { throws } from './_helpers.js';


const DAY = 86_400_000;
const T0 = 1_800_000_000_000;
const org = ed25519KeyPair();
const k1 = epochKeyPair(1), k2 = epochKeyPair(2);
const policy: OrgPolicy = {
  serial: 3, issuedAt: T0, retentionSeconds: 14 * 86_400, minTimerSeconds: 3_600, defaultTimerSeconds: 7 * 86_400, maxDevicesPerMember: 4,
  partnerRelays: [randomBytes(32), randomBytes(32), randomBytes(32)].sort(compareBytes),
  epochKeys: [
    { epoch: 1, publicKey: k1.publicKey, issueFrom: T0, issueUntil: T0 + DAY, redeemUntil: T0 + 2 * DAY },
    { epoch: 2, publicKey: k2.publicKey, issueFrom: T0 + DAY, issueUntil: T0 + 2 * DAY, redeemUntil: T0 + 3 * DAY },
  ],
};

test('sign, verify, round trip; the encoding is canonical', () => {
  const signed = signPolicy(policy, org.seed);
  const back = verifyPolicy(signed, org.publicKey);
  assert.equal(back, policy);
  assert.equal(encodePolicyBody(back), encodePolicyBody(policy));
  assert.is(policyHash(signed).length, 32);
  const empty = { ...policy, partnerRelays: [], epochKeys: [], minTimerSeconds: 0, defaultTimerSeconds: 0 };
  assert.equal(verifyPolicy(signPolicy(empty, org.seed), org.publicKey), empty);
});

test('POLICY_SIGNATURE for another key and for every single-byte change', () => {
  const signed = signPolicy(policy, org.seed);
  throws('another organisation', () => verifyPolicy(signed, ed25519KeyPair().publicKey), 'POLICY_SIGNATURE');
  for (let i = 0; i < signed.length; i++) {
    const c = signed.slice(); c[i]! ^= 1 << (i % 8);
    throws(`byte ${i}`, () => verifyPolicy(c, org.publicKey), 'POLICY_SIGNATURE');
  }
  throws('truncated', () => verifyPolicy(signed.subarray(0, 64), org.publicKey), 'POLICY_INVALID');
  throws('not bytes', () => verifyPolicy('x' as never, org.publicKey), 'POLICY_INVALID');
});

test('POLICY_INVALID: each rule, when signing and when a signed body breaks it', () => {
  const broken: [string, Partial<OrgPolicy>][] = [
    ['retention 0', { retentionSeconds: 0 }],
    ['default below the minimum', { defaultTimerSeconds: 60 }],
    ['default off with a minimum', { defaultTimerSeconds: 0 }],
    ['no devices', { maxDevicesPerMember: 0 }],
    ['256 devices', { maxDevicesPerMember: 256 }],
    ['partners out of order', { partnerRelays: [...policy.partnerRelays].reverse() }],
    ['partner repeated', { partnerRelays: [policy.partnerRelays[0]!, policy.partnerRelays[0]!] }],
    ['partner of 31 bytes', { partnerRelays: [new Uint8Array(31)] }],
    ['epochs out of order', { epochKeys: [...policy.epochKeys].reverse() }],
    ['identity key', { epochKeys: [{ ...policy.epochKeys[0]!, publicKey: new Uint8Array(32) as never }] }],
    ['window backwards', { epochKeys: [{ ...policy.epochKeys[0]!, issueUntil: T0 }] }],
    ['redeem before issue ends', { epochKeys: [{ ...policy.epochKeys[0]!, redeemUntil: T0 + 1 }] }],
    ['serial negative', { serial: -1 }],
  ];
  for (const [name, change] of broken) throws(name, () => signPolicy({ ...policy, ...change }, org.seed), 'POLICY_INVALID');
  // A body that breaks a rule, signed by hand: the signature verifies, the rule still refuses it.
  const body = encodePolicyBody(policy);
  const devicesAt = 1 + 4 + 8 + 12;
  const bad = body.slice(); bad[devicesAt] = 0;
  const signed = concat(bad, ed25519Sign(org.seed, concat(utf8('sealpost/v1/org-policy'), bad)));
  throws('signed, but 0 devices', () => verifyPolicy(signed, org.publicKey), 'POLICY_INVALID');
  const trailing = concat(body, new Uint8Array(1));
  throws('signed, trailing byte', () => verifyPolicy(concat(trailing, ed25519Sign(org.seed, concat(utf8('sealpost/v1/org-policy'), trailing))), org.publicKey), 'POLICY_INVALID');
});

test('epoch keys: lookup, the issuing epoch, and the key a party shows', () => {
  assert.is(epochKeyOf(policy, 2).epoch, 2);
  throws('no epoch 3', () => epochKeyOf(policy, 3), 'TOKEN_EPOCH');
  assert.is(issuingEpoch(policy, T0 + 1).epoch, 1);
  assert.is(issuingEpoch(policy, T0 + DAY).epoch, 2);
  throws('nothing issuing yet', () => issuingEpoch(policy, T0 - 1), 'TOKEN_EPOCH');
  throws('nothing issuing any more', () => issuingEpoch(policy, T0 + 2 * DAY), 'TOKEN_EPOCH');
  assert.equal(checkShownKey(policy, 1, k1.publicKey.slice()), k1.publicKey);
  throws('a key of its own', () => checkShownKey(policy, 1, epochKeyPair(1).publicKey), 'ISSUER_INVALID');
  throws('the other epoch\'s key', () => checkShownKey(policy, 1, k2.publicKey), 'ISSUER_INVALID');
});

test.run();

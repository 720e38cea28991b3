// The epoch secrets file (spec/admission.md §7.4): round trip, every malformed shape refused,
// and only secrets matching the signed policy's keys are used, with the policy's windows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeEpochSecrets, encodeEpochSecrets, epochKeyPair, redeemKeys, secretsInPolicy, type OrgPolicy,
} from '../../src/admission/index.js';
import { toBase64url } from '../../src/crypto/index.js';
import { throws } from './_helpers.js';

const DAY = 86_400_000;
const T0 = 1_800_000_000_000;
const k1 = epochKeyPair(1), k2 = epochKeyPair(2), k3 = epochKeyPair(3);
const policy: OrgPolicy = {
  serial: 1, issuedAt: T0, retentionSeconds: 86_400, minTimerSeconds: 0, defaultTimerSeconds: 0, maxDevicesPerMember: 4, partnerRelays: [],
  epochKeys: [
    { epoch: 1, publicKey: k1.publicKey, issueFrom: T0, issueUntil: T0 + DAY, redeemUntil: T0 + 2 * DAY },
    { epoch: 2, publicKey: k2.publicKey, issueFrom: T0 + DAY, issueUntil: T0 + 2 * DAY, redeemUntil: T0 + 3 * DAY },
  ],
};

test('round trip, sorted by epoch', () => {
  const back = decodeEpochSecrets(encodeEpochSecrets([k2, k1]));
  assert.equal(back.map((s) => s.epoch), [1, 2]);
  assert.equal(back[0]!.secretKey, k1.secretKey);
  assert.equal(back[1]!.publicKey, k2.publicKey);
});

test('malformed files are INVALID_ARGUMENT', () => {
  const good = JSON.parse(encodeEpochSecrets([k1, k2])) as { epochs: { epoch: number; secretKey: string }[] };
  const variants: [string, string][] = [
    ['not JSON', '{'],
    ['null', 'null'],
    ['wrong version', JSON.stringify({ ...good, version: 2 })],
    ['wrong kind', JSON.stringify({ ...good, kind: 'other' })],
    ['epochs not an array', JSON.stringify({ ...good, epochs: {} })],
    ['an entry without a key', JSON.stringify({ ...good, epochs: [{ epoch: 1 }] })],
    ['a key of the wrong length', JSON.stringify({ ...good, epochs: [{ epoch: 1, secretKey: toBase64url(new Uint8Array(31)) }] })],
    ['the zero scalar', JSON.stringify({ ...good, epochs: [{ epoch: 1, secretKey: toBase64url(new Uint8Array(32)) }] })],
    ['a negative epoch', JSON.stringify({ ...good, epochs: [{ epoch: -1, secretKey: good.epochs[0]!.secretKey }] })],
    ['epochs out of order', JSON.stringify({ ...good, epochs: [good.epochs[1], good.epochs[0]] })],
    ['an epoch twice', JSON.stringify({ ...good, epochs: [good.epochs[0], good.epochs[0]] })],
  ];
  for (const [label, text] of variants) throws(label, () => decodeEpochSecrets(text), 'INVALID_ARGUMENT');
  throws('encoding an epoch twice', () => encodeEpochSecrets([k1, k1]), 'INVALID_ARGUMENT');
});

test('only the policy\'s epochs are used, with its windows; a mismatched secret is refused', () => {
  assert.equal(secretsInPolicy(policy, [k1, k2, k3]).map((s) => s.epoch), [1, 2]);
  const lookup = redeemKeys(policy, [k1, k2, k3]);
  assert.equal(lookup(1), { secretKey: k1.secretKey, redeemFrom: T0, redeemUntil: T0 + 2 * DAY });
  assert.equal(lookup(2)?.redeemUntil, T0 + 3 * DAY);
  assert.is(lookup(3), undefined);
  const other = epochKeyPair(2);
  throws('a secret that is not the policy key', () => redeemKeys(policy, [k1, other]), 'INVALID_ARGUMENT');
});

test.run();

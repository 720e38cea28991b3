// The SDK's token wallet (spec/client.md §10.1, spec/admission.md §3.6, §5.3) against the
// issuer stand-in, with its clock and randomness injected: policy serials, spending and
// returning tokens, dropping closed epochs' tokens, refills at a random time after a CREATE.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signPolicy } from '../../src/admission/index.js';
import { TokenWallet, type WalletRecord } from '../../src/client/admission.js';
import { isClientError, type ClientErrorCode } from '../../src/client/errors.js';
import { makeOrganisation, startIssuerStandIn } from '../_support/organisation.js';
import { cleanup, tempDir, until } from './_helpers.js';

const HOUR = 3_600_000;

async function throwsCode(fn: () => unknown, code: ClientErrorCode): Promise<void> {
  try { await fn(); } catch (e) {
    assert.ok(isClientError(e, code), `expected ${code}, got ${String(e)}`);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('spend, return, drop closed epochs; policies only move forward; a refill waits its random time', async () => {
  let clock = Date.now();
  const org = makeOrganisation(tempDir('sealpost-org-'), { now: clock });
  const issuer = await startIssuerStandIn(org);
  const saved: WalletRecord[] = [];
  const wallet = new TokenWallet(
    { issuerUrl: issuer.url, orgPublicKey: org.key.publicKey, session: 'member-session', batchSize: 8, lowWater: 8, refillDelayMs: { min: 300, max: 300 } },
    async (rec) => { saved.push(rec); }, () => clock, () => 0.5,
  );
  try {
    await throwsCode(() => wallet.take(), 'ADMISSION_REQUIRED');
    assert.is(issuer.requests.length, 0, 'no fetch at the moment of a CREATE');
    await wallet.refreshPolicy();
    assert.is(await wallet.fetchBatch(), 8);
    assert.is(wallet.stock(), 8);

    const a = wallet.take();
    assert.is(wallet.stock(), 7, 'lent out');
    a.unused();
    assert.is(wallet.stock(), 8, 'back: the relay did not spend it');
    const b = wallet.take();
    b.used();
    assert.is(wallet.stock(), 7);
    assert.is(saved.at(-1)!.tokens.length, 7, 'the spend is persisted');
    assert.is(issuer.requests.length, 1, 'a refill is scheduled, not made, at a take');
    await until(() => issuer.requests.length === 2, 3_000, 'the refill');
    await until(() => wallet.stock() === 15, 3_000, 'the refilled stock');

    // The same serial with other bytes, and an older serial, are refused.
    const forked = signPolicy({ ...org.policy, retentionSeconds: org.policy.retentionSeconds + 1 }, org.key.seed);
    const kept = org.signed;
    org.signed = forked;
    await throwsCode(() => wallet.refreshPolicy(), 'POLICY_INVALID');
    org.update({});
    await wallet.refreshPolicy();
    org.signed = kept;
    await throwsCode(() => wallet.refreshPolicy(), 'POLICY_INVALID');
    assert.is(wallet.policy!.serial, 2);

    // Past epoch 2's redeemUntil its tokens are dropped.
    clock += 2 * HOUR + 1;
    assert.is(wallet.stock(), 0);
    await throwsCode(() => wallet.take(), 'ADMISSION_REQUIRED');
    assert.is(saved.at(-1)!.tokens.length, 0);
  } finally {
    wallet.close();
    await issuer.close();
    cleanup();
  }
});

test('a wallet restored under another organisation key keeps nothing', async () => {
  const org = makeOrganisation(tempDir('sealpost-org-'));
  const other = makeOrganisation(tempDir('sealpost-org-'));
  const wallet = new TokenWallet({ issuerUrl: 'http://127.0.0.1:1', orgPublicKey: other.orgPublicKey }, async () => undefined);
  wallet.restore({ policy: org.signed, tokens: org.tokens(3), session: 's' });
  assert.is(wallet.policy, null);
  assert.is(wallet.stock(), 0);
  await throwsCode(() => new TokenWallet({ issuerUrl: 'ftp://x', orgPublicKey: org.orgPublicKey }, async () => undefined), 'INVALID_ARGUMENT');
  await throwsCode(() => new TokenWallet({ issuerUrl: 'http://x', orgPublicKey: 'short' }, async () => undefined), 'INVALID_ARGUMENT');
  cleanup();
});

test.run();

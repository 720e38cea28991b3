// The issuer against a real OpenID Connect directory (spec/admission.md §3.5): a member logs
// in and fetches tokens that verify; a non-member is refused at login; a member disabled after
// login is refused at the next batch; the status codes of /tokens; logout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkShownKey, epochKeyOf, finishTokens, issuingEpoch, prepareTokens, redeemKeys, redeemToken, MemorySpentSet, verifyPolicy,
} from '../../src/admission/index.js';
import { readSecrets } from '../../src/admin/org-files.js';
import { fromBase64url } from '../../src/crypto/index.js';
import { memberRequest, startIssuerFixture, type Answer, type IssuerFixture } from '../_support/directory.js';

let fx: IssuerFixture;
test.before(async () => { fx = await startIssuerFixture({ users: ['alice', 'bob', 'carol'], quota: 40 }); });
test.after(async () => { await fx.stop(); });

const errorOf = (a: Answer): { error: string; message: string } => JSON.parse(Buffer.from(a.body).toString('utf8')) as { error: string; message: string };
const epochNow = (): number => issuingEpoch(fx.org.policy(), Date.now()).epoch;

test('GET /policy serves the signed policy, which verifies under the organisation key', async () => {
  const a = await memberRequest(`${fx.issuer.url}/policy`);
  assert.is(a.status, 200);
  const p = verifyPolicy(a.body, fx.org.orgPublicKey);
  assert.is(p.serial, fx.org.policy().serial);
});

test('a member logs in, fetches a batch, and the tokens verify and redeem', async () => {
  const s = await fx.login('alice');
  assert.type(s.session, 'string');
  assert.ok(s.expires! > Date.now());
  const policyBytes = (await memberRequest(`${fx.issuer.url}/policy`)).body;
  const policy = verifyPolicy(policyBytes, fx.org.orgPublicKey);
  const epoch = issuingEpoch(policy, Date.now()).epoch;
  const { pending, request } = prepareTokens(epoch, 32);
  const a = await fx.tokens(s.session, request);
  assert.is(a.status, 200, Buffer.from(a.body).toString());
  const shown = fromBase64url(String(a.headers['sealpost-epoch-key']));
  const pk = checkShownKey(policy, epoch, shown);
  const tokens = finishTokens(pending, a.body, pk);
  assert.is(tokens.length, 32);
  const keyFor = redeemKeys(policy, readSecrets(fx.org.dir));
  const spent = new MemorySpentSet();
  for (const t of tokens) assert.is(redeemToken(t, keyFor, spent, Date.now()), epoch);
  assert.equal(epochKeyOf(policy, epoch).publicKey, pk);
});

test('a non-member (unknown to the directory) is refused at login', async () => {
  const s = await fx.login('mallory');
  assert.is(s.error, 'ADMISSION_REFUSED');
  assert.is(s.session, undefined);
});

test('a member disabled after login gets 403 ADMISSION_REFUSED at the next batch, and the session ends', async () => {
  const s = await fx.login('bob');
  const ok = await fx.tokens(s.session, prepareTokens(epochNow(), 1).request);
  assert.is(ok.status, 200);
  fx.directory.users.get('bob')!.enabled = false;
  const refused = await fx.tokens(s.session, prepareTokens(epochNow(), 1).request);
  assert.is(refused.status, 403);
  assert.is(errorOf(refused).error, 'ADMISSION_REFUSED');
  const after = await fx.tokens(s.session, prepareTokens(epochNow(), 1).request);
  assert.is(after.status, 401);
  fx.directory.users.get('bob')!.enabled = true;
});

test('quota: 429 QUOTA_EXCEEDED once the epoch\'s tokens are used up, and nothing is counted for it', async () => {
  const s = await fx.login('carol');
  const first = await fx.tokens(s.session, prepareTokens(epochNow(), 32).request);
  assert.is(first.status, 200);
  const over = await fx.tokens(s.session, prepareTokens(epochNow(), 9).request);
  assert.is(over.status, 429);
  assert.is(errorOf(over).error, 'QUOTA_EXCEEDED');
  const fits = await fx.tokens(s.session, prepareTokens(epochNow(), 8).request);
  assert.is(fits.status, 200, 'the refused batch did not count');
  assert.is((await fx.tokens(s.session, prepareTokens(epochNow(), 1).request)).status, 429);
});

test('status codes: 409 TOKEN_EPOCH, 400 ADMISSION_REFUSED, 401 ADMISSION_REQUIRED', async () => {
  const s = await fx.login('alice');
  const policy = fx.org.policy();
  const next = policy.epochKeys[policy.epochKeys.length - 1]!.epoch;
  assert.ok(next !== epochNow());
  const wrong = await fx.tokens(s.session, prepareTokens(next, 1).request);
  assert.is(wrong.status, 409);
  assert.is(errorOf(wrong).error, 'TOKEN_EPOCH');
  const bad = await fx.tokens(s.session, new Uint8Array([1, 0, 0, 0, 1, 1, ...new Uint8Array(31)]));
  assert.is(bad.status, 400);
  assert.is(errorOf(bad).error, 'ADMISSION_REFUSED');
  const big = await fx.tokens(s.session, new Uint8Array(100_000));
  assert.is(big.status, 400);
  for (const auth of [undefined, 'A'.repeat(43), 'not base64url!']) {
    const a = await fx.tokens(auth, prepareTokens(epochNow(), 1).request);
    assert.is(a.status, 401, String(auth));
    assert.is(errorOf(a).error, 'ADMISSION_REQUIRED');
  }
});

test('login refuses a redirect URI that is neither loopback nor configured', async () => {
  for (const u of ['https://evil.example/cb', 'http://localhost:5/cb', 'http://127.0.0.1:5/cb#x', 'javascript:alert(1)']) {
    const a = await memberRequest(`${fx.issuer.url}/login?redirect_uri=${encodeURIComponent(u)}`);
    assert.is(a.status, 400, u);
    assert.is(errorOf(a).error, 'INVALID_ARGUMENT');
  }
  const stale = await memberRequest(`${fx.issuer.url}/callback?code=x&state=unknown`);
  assert.is(stale.status, 400);
});

test('logout forgets the session', async () => {
  const s = await fx.login('alice');
  const out = await memberRequest(`${fx.issuer.url}/logout`, { method: 'POST', headers: { authorization: `Bearer ${s.session}` } });
  assert.is(out.status, 204);
  assert.is((await fx.tokens(s.session, prepareTokens(epochNow(), 1).request)).status, 401);
});

test.run();

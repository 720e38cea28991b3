// The issuer's relying party (src/issuer/directory.ts) against a real directory: which OAuth
// answers are the member's refusal (ADMISSION_REFUSED, the session ends) and which are the
// issuer's or the directory's trouble (ISSUER_UNAVAILABLE, the session is kept).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isAdmissionError } from '../../src/admission/index.js';
import { Directory } from '../../src/issuer/directory.js';
import { startDirectory, type TestDirectory } from '../_support/directory.js';

let dir: TestDirectory;
const callbackUrl = 'http://127.0.0.1:9/callback';
test.before(async () => { dir = await startDirectory([callbackUrl]); });
test.after(async () => { await dir.stop(); });

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; return 'resolved'; } catch (e) { return isAdmissionError(e) ? e.code : `other: ${String(e)}`; }
}

test('an unknown refresh token is the member\'s refusal; a wrong client secret is not', async () => {
  const good = await Directory.discover({ issuer: dir.issuerUrl, clientId: dir.clientId, clientSecret: dir.clientSecret, callbackUrl, allowHttp: true });
  assert.is(await code(good.recheck('alice', 'not-a-refresh-token')), 'ADMISSION_REFUSED');
  const wrong = await Directory.discover({ issuer: dir.issuerUrl, clientId: dir.clientId, clientSecret: 'wrong', callbackUrl, allowHttp: true });
  assert.is(await code(wrong.recheck('alice', 'not-a-refresh-token')), 'ISSUER_UNAVAILABLE');
});

test('discovery of a directory that is not there is ISSUER_UNAVAILABLE; plain http is refused unless allowed', async () => {
  assert.is(await code(Directory.discover({ issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y', callbackUrl, allowHttp: true })), 'ISSUER_UNAVAILABLE');
  assert.is(await code(Directory.discover({ issuer: dir.issuerUrl, clientId: dir.clientId, clientSecret: dir.clientSecret, callbackUrl })), 'ISSUER_UNAVAILABLE');
});

test('the authorization URL carries state, nonce and an S256 PKCE challenge, fresh each time', async () => {
  const d = await Directory.discover({ issuer: dir.issuerUrl, clientId: dir.clientId, clientSecret: dir.clientSecret, callbackUrl, allowHttp: true });
  const a = await d.begin(), b = await d.begin();
  const q = a.url.searchParams;
  assert.is(q.get('code_challenge_method'), 'S256');
  assert.is(q.get('redirect_uri'), callbackUrl);
  assert.is(q.get('state'), a.pending.state);
  assert.is(q.get('nonce'), a.pending.nonce);
  assert.match(q.get('scope')!, /openid/);
  assert.ok(a.pending.state !== b.pending.state && a.pending.nonce !== b.pending.nonce && a.pending.codeVerifier !== b.pending.codeVerifier);
  assert.not.ok(a.url.href.includes(a.pending.codeVerifier), 'the verifier stays with the issuer');
});

test.run();

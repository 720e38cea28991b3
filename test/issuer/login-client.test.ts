// A native app's login (src/issuer/login-client.ts, RFC 8252 §7.3): the loopback receiver
// gets the issuer's redirect, its page posts the fragment back, and the session works; a
// refused member's login rejects with ADMISSION_REFUSED; a login that never comes back times out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isAdmissionError, issuingEpoch, prepareTokens } from '../../src/admission/index.js';
import { loginWithLoopback } from '../../src/issuer/login-client.js';
import { Browser, memberRequest, startIssuerFixture, type IssuerFixture } from '../_support/directory.js';

let fx: IssuerFixture;
test.before(async () => { fx = await startIssuerFixture({ users: ['alice'] }); });
test.after(async () => { await fx.stop(); });

/** What the member's browser does: the directory's login, then the loopback page and its script's POST. */
async function browse(loginUrl: string, user: string): Promise<number> {
  const b = new Browser();
  const redirect = new URL(loginUrl).searchParams.get('redirect_uri')!;
  const first = await b.go(loginUrl, {}, (u) => u.includes('/interaction/'));
  const back = await b.go(`${first.url}/login`, { method: 'POST', form: { login: user } }, (u) => u.startsWith(redirect));
  const [page, fragment] = back.url.split('#');
  const html = Buffer.from((await memberRequest(page!)).body).toString();
  assert.match(html, /location\.hash/);
  return (await memberRequest(page!, { method: 'POST', body: fragment! })).status;
}

test('a member logs in through the loopback receiver and the session fetches tokens', async () => {
  let posted: Promise<number> | undefined;
  const login = await loginWithLoopback({ issuerUrl: fx.issuer.url, onLoginUrl: (u) => { posted = browse(u, 'alice'); } });
  assert.is(await posted, 204);
  assert.match(login.session, /^[A-Za-z0-9_-]{43}$/);
  const epoch = issuingEpoch(fx.org.policy(), Date.now()).epoch;
  assert.is((await fx.tokens(login.session, prepareTokens(epoch, 2).request)).status, 200);
});

test('a refused login rejects with ADMISSION_REFUSED', async () => {
  let posted: Promise<number> | undefined;
  try {
    await loginWithLoopback({ issuerUrl: fx.issuer.url, onLoginUrl: (u) => { posted = browse(u, 'mallory'); } });
    assert.unreachable('should reject');
  } catch (e) { assert.ok(isAdmissionError(e, 'ADMISSION_REFUSED'), String(e)); }
  assert.is(await posted, 403);
});

test('a login that never comes back times out with ADMISSION_REQUIRED, and wrong paths are 404', async () => {
  let probe: Promise<number> | undefined;
  try {
    await loginWithLoopback({
      issuerUrl: fx.issuer.url, timeoutMs: 300,
      onLoginUrl: (u) => { const r = new URL(new URL(u).searchParams.get('redirect_uri')!); probe = memberRequest(`${r.origin}/other`, { method: 'POST', body: 'session=x' }).then((a) => a.status); },
    });
    assert.unreachable('should time out');
  } catch (e) { assert.ok(isAdmissionError(e, 'ADMISSION_REQUIRED'), String(e)); }
  assert.is(await probe, 404);
});

test('sealpost login as a subprocess writes the session to a file of mode 0600', async () => {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { repoPath } = await import('../_support/files.js');
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-login-'));
  const file = join(dir, 'alice.session');
  try {
    const child = spawn(process.execPath, [repoPath('.build', 'src', 'cli', 'main.js'), 'login', '--issuer', fx.issuer.url, '--out', file, '--json', '--timeout', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '', out = '';
    let posted: Promise<number> | undefined;
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      const m = /(http:\/\/\S+\/login\?\S+)/.exec(err);
      if (m !== null && posted === undefined) posted = browse(m[1]!, 'alice');
    });
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.is(code, 0, err);
    assert.is(await posted, 204);
    assert.is(statSync(file).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { issuer: string; session: string; expiresAt: number };
    assert.is(saved.issuer, fx.issuer.url);
    assert.is((JSON.parse(out) as { file: string }).file, file);
    const epoch = issuingEpoch(fx.org.policy(), Date.now()).epoch;
    assert.is((await fx.tokens(saved.session, prepareTokens(epoch, 1).request)).status, 200);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();

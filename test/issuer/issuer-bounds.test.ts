// The issuer's global bound on requests in progress, and session expiry (spec/admission.md §3.5).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { issuingEpoch, prepareTokens } from '../../src/admission/index.js';
import { startIssuerFixture, type Answer, type IssuerFixture } from '../_support/directory.js';

let fx: IssuerFixture;
test.before(async () => {
  fx = await startIssuerFixture({ users: ['a', 'b', 'c'], quota: 10_000, issuer: { limits: { maxConcurrentRequests: 3, maxConcurrentPerSession: 8, sessionMs: 1500 } } });
});
test.after(async () => { await fx.stop(); });

const epochNow = (): number => issuingEpoch(fx.org.policy(), Date.now()).epoch;
const codeOf = (a: Answer): string => (JSON.parse(Buffer.from(a.body).toString('utf8')) as { error: string }).error;

test('requests in progress are capped across all sessions (503 ISSUER_UNAVAILABLE)', async () => {
  const sessions = [(await fx.login('a')).session, (await fx.login('b')).session, (await fx.login('c')).session];
  const answers = await Promise.all(sessions.flatMap((s) => Array.from({ length: 4 }, () => fx.tokens(s, prepareTokens(epochNow(), 1).request))));
  const busy = answers.filter((a) => a.status === 503);
  assert.ok(busy.length >= 1, 'some refused');
  assert.ok(answers.some((a) => a.status === 200), 'some served');
  for (const a of busy) assert.match(JSON.parse(Buffer.from(a.body).toString()).message as string, /concurrent requests/);
  for (const a of busy) assert.is(codeOf(a), 'ISSUER_UNAVAILABLE');
});

test('an expired session is 401 ADMISSION_REQUIRED', async () => {
  const { session, expires } = await fx.login('a');
  assert.ok(expires! <= Date.now() + 1500);
  assert.is((await fx.tokens(session, prepareTokens(epochNow(), 1).request)).status, 200);
  await new Promise((r) => setTimeout(r, Math.max(0, expires! - Date.now()) + 50));
  const a = await fx.tokens(session, prepareTokens(epochNow(), 1).request);
  assert.is(a.status, 401);
  assert.is(codeOf(a), 'ADMISSION_REQUIRED');
});

test.run();

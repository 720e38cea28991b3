// The issuer under hostile or careless input (spec/admission.md §3.5): a fuzz of POST /tokens
// bodies gets only typed answers and the issuer stays up; the bounds on requests per session,
// sessions per member and logins in progress answer 503 ISSUER_UNAVAILABLE or drop the oldest
// session; and a privacy scan of everything the issuer stored and logged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ADMISSION_ERROR_CODES, issuingEpoch, prepareTokens } from '../../src/admission/index.js';
import { fromBase64url, utf8 } from '../../src/crypto/index.js';
import { drbg } from '../_support/drbg.js';
import { memberRequest, MEMBER_ADDRESS, startIssuerFixture, type Answer, type IssuerFixture } from '../_support/directory.js';
import { describeHits, readTree, scanNeedles, type Needle } from '../_support/scan.js';

let fx: IssuerFixture;
test.before(async () => {
  fx = await startIssuerFixture({
    users: ['alice', 'bob', 'dave'], quota: 100_000,
    issuer: { limits: { maxConcurrentPerSession: 2, maxSessionsPerMember: 2, maxPendingLogins: 4 } },
  });
});
test.after(async () => { await fx.stop(); });

const epochNow = (): number => issuingEpoch(fx.org.policy(), Date.now()).epoch;
const codeOf = (a: Answer): string => (JSON.parse(Buffer.from(a.body).toString('utf8')) as { error: string }).error;

test('fuzz: random and mutated /tokens bodies get only typed answers, and the issuer stays up', async () => {
  const { session } = await fx.login('alice');
  const random = drbg(utf8('issuer-fuzz'));
  const rng = {
    bytes: (n: number) => random(n),
    int: (lo: number, hi: number) => lo + (new DataView(random(4).buffer).getUint32(0) % (hi - lo + 1)),
  };
  const valid = prepareTokens(epochNow(), 4).request;
  const seen = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    let body: Uint8Array;
    switch (i % 4) {
      case 0: body = rng.bytes(rng.int(0, 2200)); break;
      case 1: { body = valid.slice(); for (let k = 0; k < 1 + rng.int(0, 3); k++) { const at = rng.int(0, body.length - 1); body[at] = body[at]! ^ (1 << rng.int(0, 7)); } break; }
      case 2: body = valid.slice(0, rng.int(0, valid.length - 1)); break;
      default: { body = new Uint8Array([...valid, ...rng.bytes(rng.int(1, 40))]); break; }
    }
    const a = await fx.tokens(session, body);
    const key = a.status === 200 ? '200' : `${a.status} ${codeOf(a)}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    assert.ok([200, 400, 409].includes(a.status), `body ${i}: status ${a.status}`);
    if (a.status !== 200) assert.ok((ADMISSION_ERROR_CODES as readonly string[]).includes(codeOf(a)), `body ${i}: ${codeOf(a)}`);
  }
  assert.ok((seen.get('400 ADMISSION_REFUSED') ?? 0) > 100, JSON.stringify([...seen]));
  const after = await fx.tokens(session, prepareTokens(epochNow(), 1).request);
  assert.is(after.status, 200, 'still serving');
});

test('fuzz: random /callback and /login queries and unknown paths get only typed answers', async () => {
  const random = drbg(utf8('issuer-query-fuzz'));
  const pick = (xs: string[]): string => xs[random(1)[0]! % xs.length]!;
  const text = (): string => Buffer.from(random(random(1)[0]! % 40)).toString('latin1');
  for (let i = 0; i < 120; i++) {
    const q = new URLSearchParams();
    for (const k of ['code', 'state', 'error', 'redirect_uri', 'iss', text()]) if (random(1)[0]! & 1) q.set(k, text());
    const path = pick(['/callback', '/login', '/tokens', '/policy/x', '/', '/logout']);
    const a = await memberRequest(`${fx.issuer.url}${path}?${q.toString()}`, { method: pick(['GET', 'POST', 'PUT']) });
    assert.ok([200, 302, 400, 401, 404, 405, 503].includes(a.status), `${path}: ${a.status}`);
    if (a.status >= 400) assert.ok((ADMISSION_ERROR_CODES as readonly string[]).includes(codeOf(a)), `${path}: ${codeOf(a)}`);
  }
  assert.is((await memberRequest(`${fx.issuer.url}/policy`)).status, 200);
});

test('bounds: requests in progress per session are capped (503 ISSUER_UNAVAILABLE), the others served', async () => {
  const { session } = await fx.login('bob');
  const answers = await Promise.all(Array.from({ length: 8 }, () => fx.tokens(session, prepareTokens(epochNow(), 1).request)));
  const ok = answers.filter((a) => a.status === 200).length;
  const busy = answers.filter((a) => a.status === 503);
  assert.ok(ok >= 1 && ok <= 7, `served ${ok}`);
  assert.ok(busy.length >= 1, 'some were refused');
  for (const a of busy) { assert.is(codeOf(a), 'ISSUER_UNAVAILABLE'); assert.is(a.headers['retry-after'], '1'); }
});

test('bounds: a member keeps at most maxSessionsPerMember sessions, the oldest is dropped', async () => {
  const s1 = await fx.login('dave'), s2 = await fx.login('dave'), s3 = await fx.login('dave');
  assert.is((await fx.tokens(s1.session, prepareTokens(epochNow(), 1).request)).status, 401);
  assert.is((await fx.tokens(s2.session, prepareTokens(epochNow(), 1).request)).status, 200);
  assert.is((await fx.tokens(s3.session, prepareTokens(epochNow(), 1).request)).status, 200);
});

test('privacy: the issuer\'s store and log hold no member address, session, nonce or blinded element', async () => {
  const { session } = await fx.login('alice');
  const { pending, request } = prepareTokens(epochNow(), 8);
  assert.is((await fx.tokens(session, request)).status, 200);
  await fx.restartIssuer(); // flushes, and logs its stop line too
  const needles: Needle[] = [
    { label: 'member address', bytes: utf8(MEMBER_ADDRESS) },
    { label: 'session', bytes: fromBase64url(session!) },
    { label: 'session text', bytes: utf8(session!) },
    ...pending.nonces.map((n, i) => ({ label: `nonce ${i}`, bytes: n })),
    ...pending.blinded.map((b, i) => ({ label: `blinded element ${i}`, bytes: b.blindedElement })),
    { label: 'request', bytes: request.subarray(6, 38) },
  ];
  const hay = [...readTree(fx.dataDir), { name: 'log', bytes: utf8(fx.logs.join('\n')) }, ...readTree(fx.org.dir)];
  const hits = scanNeedles(hay, needles);
  assert.is(hits.length, 0, describeHits(hits));
  // The scan can fail: the member's name is stored (the quota is per member), and is found.
  assert.ok(scanNeedles(hay, [{ label: 'member', bytes: utf8('alice') }], { rawOnly: true }).length > 0);
  assert.ok(fx.logs.some((l) => /batches=\d+/.test(l)), 'the log counts');
  const inLog = scanNeedles([{ name: 'log', bytes: utf8(fx.logs.join('\n')) }], [{ label: 'member', bytes: utf8('alice') }]);
  assert.is(inLog.length, 0, `the log names no member: ${describeHits(inLog)}`);
});

test('a directory that cannot be reached is 503 ISSUER_UNAVAILABLE, and the session survives', async () => {
  const { session } = await fx.login('bob');
  await fx.directory.stop();
  const a = await fx.tokens(session, prepareTokens(epochNow(), 1).request);
  assert.is(a.status, 503);
  assert.is(codeOf(a), 'ISSUER_UNAVAILABLE');
  // Not a refusal: the session is kept for when the directory is back.
  assert.is((await fx.tokens(session, new Uint8Array([9]))).status, 400);
});

test('bounds: logins in progress are capped', async () => {
  const starts = await Promise.all(Array.from({ length: 6 }, () => memberRequest(`${fx.issuer.url}/login?redirect_uri=${encodeURIComponent('http://127.0.0.1:9/x')}`)));
  const refused = starts.filter((a) => a.status === 503);
  assert.ok(refused.length >= 2, `refused ${refused.length}`);
  for (const a of refused) assert.is(codeOf(a), 'ISSUER_UNAVAILABLE');
});

test.run();

// A closed deployment end to end (spec/admission.md §3–§4, spec/client.md §10.1), every part
// real: an OpenID Connect directory (oidc-provider), the organisation made by `sealpost
// admin`'s functions, the issuer (src/issuer) as members reach it, a closed relay process, and
// SDK clients. Members log in through the directory, fetch tokens ahead of need, create
// mailboxes and talk; a non-member is refused at login; a member disabled in the directory gets
// no more tokens; tokens spent twice, forged or of a closed epoch are refused with the spec's
// codes; and nothing the issuer saw appears in what the relay received or stored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ORG_FILES } from '../../src/admin/org-files.js';
import { decodeToken, finishTokens, issuingEpoch, prepareTokens } from '../../src/admission/index.js';
import { isClientError, type ClientErrorCode, type OrganisationOptions } from '../../src/client/index.js';
import { createMailbox, newMailboxKeys } from '../../src/client/mailbox.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { toBase64url } from '../../src/crypto/index.js';
import { startIssuerFixture, type IssuerFixture } from '../_support/directory.js';
import { readTree } from '../_support/scan.js';
import { assertNothingShared, recordingFetch as recordingFetchOf } from '../_support/linkability.js';
import { errorOf, spawnRelay, type RelayProcess } from '../relay/_helpers.js';
import { cleanup, connect, inbox, openClient, tempDir } from './_helpers.js';

let fx: IssuerFixture;
let relay: RelayProcess;
let relayData: string;
/** Every token request the SDK sent to the issuer, and every answer, as its HTTP layer saw them. */
const issuerSaw: Uint8Array[] = [];

const recordingFetch = recordingFetchOf(issuerSaw);

async function rejects(p: Promise<unknown>, code: ClientErrorCode): Promise<void> {
  try { await p; } catch (e) {
    assert.ok(isClientError(e, code), `expected ${code}, got ${String(e)}`);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

async function startClosedRelay(f: IssuerFixture, data: string): Promise<RelayProcess> {
  return spawnRelay(['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', data, '--pow-difficulty', '1', '--log-level', 'warn',
    '--policy-file', join(f.org.dir, ORG_FILES.policy), '--epoch-secrets-file', join(f.org.dir, ORG_FILES.secrets),
    '--org-public-key', toBase64url(f.org.orgPublicKey)]);
}

async function loginAs(user: string): Promise<string> {
  const r = await fx.login(user);
  assert.ok(r.session, `${user} logged in: ${r.error ?? ''}`);
  return r.session!;
}

const member = (session: string): OrganisationOptions => ({
  issuerUrl: fx.issuer.url, orgPublicKey: fx.org.orgPublicKey, session, batchSize: 8, lowWater: 2,
  refillDelayMs: { min: 500, max: 1_000 }, fetch: recordingFetch,
});

/** Tokens fetched through the real issuer by hand (prepare, POST /tokens, finish), as a member's SDK would. */
async function fetchTokens(f: IssuerFixture, session: string, count: number): Promise<Uint8Array[]> {
  for (let attempt = 0; ; attempt++) {
    const key = issuingEpoch(f.org.policy(), Date.now());
    const { pending, request } = prepareTokens(key.epoch, count);
    const answer = await f.tokens(session, request);
    if (answer.status === 409 && attempt === 0) continue; // the epoch turned between our clock and the issuer's (short epochs)
    assert.is(answer.status, 200, Buffer.from(answer.body).toString());
    return finishTokens(pending, answer.body, key.publicKey);
  }
}

test.before(async () => {
  fx = await startIssuerFixture({ users: ['alice', 'bob', 'carol'], quota: 64 });
  relayData = tempDir('sealpost-closed-e2e-');
  relay = await startClosedRelay(fx, relayData);
});

test.after(async () => {
  relay.child.kill('SIGTERM');
  await relay.exited;
  await fx.stop();
  cleanup();
});

test('members log in through the directory, fetch tokens from the issuer, create mailboxes on the closed relay and talk; a non-member is refused at login', async () => {
  const refused = await fx.login('mallory');
  assert.is(refused.session, undefined, 'no session for a non-member');
  assert.is(refused.error, 'ADMISSION_REFUSED');

  const alice = await openClient(relay.address, { organisation: member(await loginAs('alice')) });
  const bob = await openClient(relay.address, { organisation: member(await loginAs('bob')) });
  try {
    await alice.admission!.refresh();
    await bob.admission!.refresh();
    assert.is(alice.admission!.policy!.serial, fx.org.policy().serial, 'the policy the issuer serves, verified under the organisation key');
    assert.ok(alice.admission!.tokens() >= 8, 'a batch from the real issuer');

    const { ab: { id: ab }, ba: { id: ba } } = await connect(alice, bob);
    const bobInbox = inbox(bob);
    const aliceInbox = inbox(alice);
    await alice.send(ab, 'on the organisation relay');
    await bob.send(ba, 'through anonymous tokens');
    assert.is((await bobInbox.until(1))[0]!.text, 'on the organisation relay');
    assert.is((await aliceInbox.until(1))[0]!.text, 'through anonymous tokens');

    // Bob leaves the organisation: the directory disables him, the issuer refuses his next batch,
    // and the mailboxes he already has go on working (admission.md §10.2, "disabling a member").
    fx.directory.users.get('bob')!.enabled = false;
    while (bob.admission!.tokens() >= 2) await bob.createInvitation(); // below the low-water mark: refresh() asks for a batch
    await rejects(bob.admission!.refresh(), 'ADMISSION_REFUSED');
    await bob.send(ba, 'still here until my mailboxes expire');
    assert.is((await aliceInbox.until(2))[1]!.text, 'still here until my mailboxes expire');
  } finally {
    await alice.close();
    await bob.close();
  }
});

test('tokens from the real issuer: one CREATE each; spent twice, forged or absent are the spec\'s codes', async () => {
  const session = await loginAs('carol');
  const tokens = await fetchTokens(fx, session, 3);
  const conn = await RelayConnection.connect(relay.address);
  try {
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys())), 'ADMISSION_REQUIRED');
    await createMailbox(conn, newMailboxKeys(), { token: tokens[0]! });
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: tokens[0]! })), 'TOKEN_SPENT', 'a token works once');
    const forged = tokens[1]!.slice();
    forged[forged.length - 1]! ^= 1;
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: forged })), 'ADMISSION_REFUSED', 'an output that is not the PRF');
    await createMailbox(conn, newMailboxKeys(), { token: tokens[1]! }); // the real one still works
    await createMailbox(conn, newMailboxKeys(), { token: tokens[2]! });
  } finally {
    await conn.close();
  }
});

test('a token of an epoch whose redemption has closed is TOKEN_EPOCH', async () => {
  // An organisation of 2-second epochs and 1 second of grace, with its own issuer and relay.
  const short = await startIssuerFixture({ users: ['dave'], quota: 16, epochMs: 2_000, epochs: 30 });
  const data = tempDir('sealpost-closed-e2e-short-');
  const r = await startClosedRelay(short, data);
  const conn = await RelayConnection.connect(r.address);
  try {
    const login = await short.login('dave');
    const [token, spare] = await fetchTokens(short, login.session!, 2);
    await createMailbox(conn, newMailboxKeys(), { token: token! });
    const { epoch } = decodeToken(token!);
    const until = short.org.policy().epochKeys.find((k) => k.epoch === epoch)!.redeemUntil;
    await new Promise((res) => setTimeout(res, Math.max(0, until - Date.now()) + 300));
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: spare! })), 'TOKEN_EPOCH');
  } finally {
    await conn.close();
    r.child.kill('SIGTERM');
    await r.exited;
    await short.stop();
  }
});

test('nothing the issuer saw appears in what the relay received or stored', async () => {
  const c = await openClient(relay.address, { organisation: member(await loginAs('alice')) });
  let spent: Uint8Array[];
  try {
    await c.admission!.refresh();
    const held = c._internals().walletTokens();
    for (let i = 0; i < 3; i++) await c.createInvitation();
    const left = new Set(c._internals().walletTokens().map((t) => toBase64url(t)));
    spent = held.filter((t) => !left.has(toBase64url(t)));
    assert.ok(spent.length >= 3, 'the CREATEs spent tokens from the wallet');
  } finally {
    await c.close();
  }
  const relaySide = [...spent, ...readTree(relayData).map((h) => h.bytes)];
  assertNothingShared(issuerSaw, relaySide);
});

test.run();

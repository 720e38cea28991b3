// Members of an organisation on its closed relay (spec/client.md §10.1, spec/admission.md):
// real SDK clients, a real closed relay process and a stand-in for the issuer's HTTP endpoints
// (test/_support/organisation.ts). The wallet fetches ahead of need and spends one token per
// CREATE; the issuer's and the relay's bytes share nothing; errors are the spec's ClientErrors.
import { test } from 'uvu';
import { cpSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { Client, isClientError, type ClientErrorCode, type OrganisationOptions } from '../../src/client/index.js';
import { randomBytes } from '../../src/crypto/index.js';
import { makeOrganisation, startIssuerStandIn, type IssuerStandIn, type Organisation } from '../_support/organisation.js';
import { readTree } from '../_support/scan.js';
import { assertNothingShared, recordingFetch as recordingFetchOf } from '../_support/linkability.js';
import { spawnRelay, type RelayProcess } from '../relay/_helpers.js';
import { cleanup, connect, inbox, linkDevice, openClient, tempDir, until } from './_helpers.js';

let org: Organisation;
let issuer: IssuerStandIn;
let relay: RelayProcess;
let relayData: string;
/**
 * Every token request the clients sent to the issuer and its answer, as its HTTP layer saw
 * them (the policy, the same signed document for every member, is left out).
 */
const issuerSaw: Uint8Array[] = [];

const recordingFetch = recordingFetchOf(issuerSaw);

const orgOptions = (over: Partial<OrganisationOptions> = {}): OrganisationOptions => ({
  issuerUrl: issuer.url, orgPublicKey: org.orgPublicKey, session: 'member-session', batchSize: 8, lowWater: 4,
  refillDelayMs: { min: 1_000, max: 1_500 }, fetch: recordingFetch, ...over,
});

async function rejects(p: Promise<unknown>, code: ClientErrorCode): Promise<void> {
  try { await p; } catch (e) {
    assert.ok(isClientError(e, code), `expected ${code}, got ${String(e)}`);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test.before(async () => {
  const dir = tempDir('sealpost-org-');
  org = makeOrganisation(dir, { maxDevicesPerMember: 2 });
  issuer = await startIssuerStandIn(org);
  relayData = tempDir('sealpost-closed-relay-');
  const o = org.relayOptions;
  relay = await spawnRelay(['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', relayData, '--pow-difficulty', '1',
    '--policy-file', o.policyFile, '--org-public-key', o.orgPublicKey, '--epoch-secrets-file', o.epochSecretsFile, '--log-level', 'warn']);
});

test.after(async () => {
  relay.child.kill('SIGTERM');
  await relay.exited;
  await issuer.close();
  cleanup();
});

test('members create mailboxes with tokens fetched ahead of need, talk, and the wallet survives a restart', async () => {
  const outsider = await openClient(relay.address);
  await rejects(outsider.createInvitation(), 'ADMISSION_REQUIRED'); // no organisation: the relay's answer
  await outsider.close();

  const aliceDir = tempDir();
  const alice = await openClient(relay.address, { dataDir: aliceDir, organisation: orgOptions() });
  const bob = await openClient(relay.address, { organisation: orgOptions() });
  await rejects(alice.createInvitation(), 'ADMISSION_REQUIRED'); // no token yet, and none fetched at a CREATE
  const requestsBefore = issuer.requests.length;
  const got = await alice.admission!.refresh();
  assert.is(got.serial, 1);
  assert.is(issuer.requests.length, requestsBefore + 1, 'one batch at refresh');
  await bob.admission!.refresh();
  assert.is(alice.admission!.policy!.maxDevicesPerMember, 2);

  const { ab: { id: ab }, ba: { id: ba } } = await connect(alice, bob);
  const bobInbox = inbox(bob);
  const aliceInbox = inbox(alice);
  await alice.send(ab, 'hello from a member');
  await bob.send(ba, 'and back');
  assert.is((await bobInbox.until(1))[0]!.text, 'hello from a member');
  assert.is((await aliceInbox.until(1))[0]!.text, 'and back');

  // Spending takes the stock below the low-water mark; the refill comes later, on its own.
  const before = issuer.requests.length;
  while (alice.admission!.tokens() >= 4) await alice.createInvitation();
  assert.is(issuer.requests.length, before, 'no fetch at the moment of a CREATE');
  await until(() => issuer.requests.length > before, 5_000, 'a refill at a random time');
  await until(() => alice.admission!.tokens() >= 8, 5_000, 'the refilled stock');

  const hex = (t: Uint8Array): string => Buffer.from(t).toString('hex');
  const held = new Set(alice._internals().walletTokens().map(hex));
  await alice.close();
  const again = await openClient(relay.address, { dataDir: aliceDir, organisation: orgOptions({ session: undefined as never }) });
  const kept = again._internals().walletTokens().map(hex);
  // Maintenance may have spent one since (a KeyPackage's mailbox): the rest are the same tokens.
  assert.ok(kept.length >= held.size - 2 && kept.every((t) => held.has(t)), `${kept.length} of ${held.size} kept`);
  const n = again.admission!.tokens();
  await again.createInvitation();
  assert.ok(again.admission!.tokens() < n);
  await again.close();
  await bob.close();
});

test('the bytes the issuer saw and the bytes the relay received and stored share nothing that links them', async () => {
  const a = await openClient(relay.address, { organisation: orgOptions() });
  await a.admission!.refresh();
  const tokens = a._internals().walletTokens();
  for (let i = 0; i < 3; i++) await a.createInvitation();
  const spent = tokens.filter((t) => !a._internals().walletTokens().includes(t));
  assert.is(spent.length, 3);
  await a.close();
  const relaySide = [...spent, ...readTree(relayData).map((h) => h.bytes)];
  assertNothingShared(issuerSaw, relaySide);
});

test('issuer answers: a disabled member, a key that is not the policy\'s, a quota, an issuer that is down', async () => {
  const c = await openClient(relay.address, { organisation: orgOptions({ session: 'someone-disabled' }) });
  await rejects(c.admission!.refresh(), 'ADMISSION_REFUSED');
  await c.admission!.setSession('member-session');
  issuer.showKey = randomBytes(32);
  await rejects(c.admission!.refresh(), 'ISSUER_INVALID');
  issuer.showKey = null;
  await c.admission!.refresh();
  await c.close();
  const other = makeOrganisation(tempDir('sealpost-org-'));
  const wrongOrg = await openClient(relay.address, { organisation: orgOptions({ orgPublicKey: other.orgPublicKey }) });
  await rejects(wrongOrg.admission!.refresh(), 'POLICY_INVALID');
  await wrongOrg.close();
  const down = await openClient(relay.address, { organisation: orgOptions({ issuerUrl: 'http://127.0.0.1:1' }) });
  await rejects(down.admission!.refresh(), 'ISSUER_UNAVAILABLE');
  await down.close();
});

test('a token spent elsewhere (a profile restored from a copy) is dropped at TOKEN_SPENT and the CREATE goes on with another', async () => {
  const dir = tempDir();
  const first = await openClient(relay.address, { dataDir: dir, organisation: orgOptions({ refillDelayMs: { min: 60_000, max: 60_000 } }) });
  await first.admission!.refresh();
  const n = first.admission!.tokens();
  await first.close();
  const copy = tempDir();
  cpSync(dir, copy, { recursive: true });
  const a = await openClient(relay.address, { dataDir: dir, organisation: orgOptions({ refillDelayMs: { min: 60_000, max: 60_000 } }) });
  await a.createInvitation();
  await a.close();
  const b = await openClient(relay.address, { dataDir: copy, organisation: orgOptions({ refillDelayMs: { min: 60_000, max: 60_000 } }) });
  assert.is(b.admission!.tokens(), n);
  await b.createInvitation(); // its first token was spent by `a`: TOKEN_SPENT, dropped, then the next one
  assert.is(b.admission!.tokens(), n - 2);
  await b.close();
});

test('a new device logs in and links with tokens of its own; the policy caps the devices at its maxDevicesPerMember', async () => {
  const phone = await openClient(relay.address, { organisation: orgOptions() });
  await phone.admission!.refresh();
  const laptop = await linkDevice(phone, relay.address, { organisation: orgOptions() });
  assert.is(phone.devices.list().length, 2);
  assert.ok(laptop.admission!.tokens() > 0, 'the new device fetched its own batch');
  await rejects(phone.devices.link(), 'DEVICE_LIMIT'); // the policy allows 2
  await laptop.close();
  await phone.close();
});

test.run();

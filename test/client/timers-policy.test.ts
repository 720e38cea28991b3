// The organisation policy's timers in 1:1 conversations (spec/client.md §10.1, §10.2;
// spec/admission.md §5.4): members of a closed relay start conversations at the default, may
// not set a timer below the minimum or off, and a contact outside the organisation (on an
// open relay) who sets a lower timer is not refused: the member applies its minimum to what
// it stores and sends, and the app sees both. Likewise for a group whose creator is outside.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Client, OrganisationOptions, TimerChange } from '../../src/client/index.js';
import { makeOrganisation, startIssuerStandIn, type IssuerStandIn, type Organisation } from '../_support/organisation.js';
import { spawnRelay, type RelayProcess } from '../relay/_helpers.js';
import { befriend, collect, joined, type GroupMessage } from '../groups/_group-helpers.js';
import { rejects } from './_link.js';
import { cleanup, connect, inbox, openClient, startRelay, tempDir, until } from './_helpers.js';

const MIN = 60;
const DEFAULT = 3600;
let org: Organisation;
let issuer: IssuerStandIn;
let closed: RelayProcess;
let open: Awaited<ReturnType<typeof startRelay>>;

const orgOptions = (): OrganisationOptions => ({
  issuerUrl: issuer.url, orgPublicKey: org.orgPublicKey, session: 'member-session', batchSize: 8, lowWater: 4, refillDelayMs: { min: 1_000, max: 1_500 },
});

async function member(): Promise<Client> {
  const c = await openClient(closed.address, { organisation: orgOptions() });
  await c.admission!.refresh();
  return c;
}

/** A member on the closed relay and someone outside the organisation on an open relay, closed after `fn`. */
async function withOutsider(fn: (alice: Client, outsider: Client) => Promise<void>): Promise<void> {
  const alice = await member();
  const outsider = await openClient(open.address);
  try {
    await fn(alice, outsider);
  } finally {
    await alice.close();
    await outsider.close();
  }
}

test.before(async () => {
  org = makeOrganisation(tempDir('sealpost-org-'));
  org.update({ minTimerSeconds: MIN, defaultTimerSeconds: DEFAULT });
  issuer = await startIssuerStandIn(org);
  const o = org.relayOptions;
  closed = await spawnRelay(['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', tempDir('sealpost-closed-relay-'), '--pow-difficulty', '1',
    '--policy-file', o.policyFile, '--org-public-key', o.orgPublicKey, '--epoch-secrets-file', o.epochSecretsFile, '--log-level', 'warn']);
  open = await startRelay();
});

test.after(async () => {
  closed.child.kill('SIGTERM');
  await closed.exited;
  await open.close();
  await issuer.close();
  cleanup();
});

test("members start at the policy's default, and cannot go below the minimum or off", async () => {
  const alice = await member();
  const bob = await member();
  try {
    assert.is(alice.admission!.policy!.minTimerSeconds, MIN);
    const { ab, ba } = await connect(alice, bob);
    assert.equal([alice.contact(ab.id)!.disappearingSeconds, bob.contact(ba.id)!.disappearingSeconds], [DEFAULT, DEFAULT]);
    const bobIn = inbox(bob);
    const sent = await alice.send(ab.id, 'under the default');
    const [m] = await bobIn.until(1);
    assert.is(m!.expiresAt, sent.sentAt + DEFAULT * 1000);
    assert.is(alice.history(ab.id)[0]!.expiresAt, sent.sentAt + DEFAULT * 1000);

    for (const bad of [0, 1, MIN - 1]) await rejects(alice.setTimer(ab.id, bad), 'INVALID_ARGUMENT', `a timer of ${bad} under a minimum of ${MIN}`);
    assert.is(alice.contact(ab.id)!.disappearingSeconds, DEFAULT, 'a refused setting changes nothing');
    const heard = new Promise<TimerChange>((r) => bob.once('timer', r));
    await alice.setTimer(ab.id, MIN);
    const t = await heard;
    assert.equal([t.seconds, t.appliedSeconds, t.by], [MIN, MIN, 'contact']);
  } finally {
    await alice.close();
    await bob.close();
  }
});

test('a contact outside the organisation sets a lower timer, or off: not refused, the minimum applies here', () => withOutsider(async (alice, outsider) => {
  const { ab: aliceOut, ba: outAlice } = await connect(alice, outsider);
  assert.is(outsider.contact(outAlice.id)!.disappearingSeconds, 0, 'no policy: off');
  const heard: TimerChange[] = [];
  alice.on('timer', (t) => heard.push(t));
  const aliceIn = inbox(alice);
  const outIn = inbox(outsider);

  await outsider.setTimer(outAlice.id, 5);
  await until(() => heard.length === 1, 10_000, 'the lower setting reaches Alice');
  assert.equal([heard[0]!.seconds, heard[0]!.appliedSeconds, heard[0]!.by], [5, MIN, 'contact']);
  assert.equal([alice.contact(aliceOut.id)!.disappearingSeconds, alice.contact(aliceOut.id)!.appliedDisappearingSeconds], [5, MIN]);
  const theirs = await outsider.send(outAlice.id, 'five seconds, they say');
  const [got] = await aliceIn.until(1);
  assert.is(got!.expiresAt, theirs.sentAt + MIN * 1000, 'stored under our minimum, not the 5 s it came under');
  const ours = await alice.send(aliceOut.id, 'under the minimum');
  const [back] = await outIn.until(1);
  assert.is(back!.expiresAt, ours.sentAt + MIN * 1000, 'what we send carries the timer we apply');

  await outsider.setTimer(outAlice.id, 0);
  await until(() => heard.length === 2, 10_000, 'off reaches Alice');
  assert.equal([heard[1]!.seconds, heard[1]!.appliedSeconds], [0, DEFAULT], "off becomes the policy's default here");
  const again = await outsider.send(outAlice.id, 'kept for ever, they say');
  const [, got2] = await aliceIn.until(2);
  assert.is(got2!.expiresAt, again.sentAt + DEFAULT * 1000);
  assert.is(alice.contact(aliceOut.id)!.disappearingSeconds, 0, "the setting is kept as the contact made it, and Alice's client does not answer it");
}));

test("a group made outside the organisation with a lower timer: the member stores its texts under the minimum", () => withOutsider(async (alice, outsider) => {
  const contacts = await befriend([{ client: alice, name: 'alice' }, { client: outsider, name: 'out' }]);
  const aliceJoined = joined(alice);
  const g = await outsider.groups.create('mixed', [contacts.get('out>alice')!.id], { disappearingSeconds: 5 });
  const view = await aliceJoined;
  assert.equal([view.disappearingSeconds, view.appliedDisappearingSeconds], [5, MIN], 'the commit is the group\'s: taken, and the minimum shown');
  await rejects(alice.groups.setPolicy(view.id, { disappearingSeconds: 5 }), 'INVALID_ARGUMENT', "our own change keeps to the minimum");
  const got = collect<GroupMessage>(alice, 'groupMessage');
  const sent = await outsider.groups.send(g.id, 'five seconds, the group says');
  await got.until(1);
  await until(() => Date.now() > sent.sentAt + 5_000 + 100, 10_000, "the group's own timer runs out");
  assert.equal(alice.groups.messages(view.id).map((m) => m.text), ['five seconds, the group says'], 'kept here until the minimum runs out');
  assert.equal(outsider.groups.messages(g.id).map((m) => m.text), [], 'gone where no minimum applies');
}));

test.run();

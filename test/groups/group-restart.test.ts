// Restarting in the middle of a group conversation, through a real relay (spec/groups.md §13.1):
// a member closes its client and opens it again on the same profile (dataDir); what was sent
// and changed while it was away comes in (in order: a commit before the texts of its epoch),
// each once; it sends; it sees later membership changes. An admin that restarts can still add
// and remove members, and everyone follows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Client } from '../../src/client/index.js';
import { cleanup, openClient, startRelay, tempDir, until } from '../client/_helpers.js';
import { befriend, converged, joined, sleep, snapshot } from './_group-helpers.js';

const texts = (c: Client, id: string): string[] => c.groups.messages(id).map((m) => m.text);

test('a member restarts mid-conversation: gets what it missed once, sends, follows later changes; a restarted admin adds and removes', async () => {
  const relay = await startRelay();
  const dirs = { alice: tempDir(), bob: tempDir(), carol: tempDir(), dave: tempDir() };
  let alice = await openClient(relay.address, { dataDir: dirs.alice });
  let bob = await openClient(relay.address, { dataDir: dirs.bob });
  const carol = await openClient(relay.address, { dataDir: dirs.carol });
  const dave = await openClient(relay.address, { dataDir: dirs.dave });
  try {
    const contacts = await befriend([{ client: alice, name: 'alice' }, { client: bob, name: 'bob' }, { client: carol, name: 'carol' }, { client: dave, name: 'dave' }]);
    const joins = [joined(bob), joined(carol)];
    const g = await alice.groups.create('restart', [contacts.get('alice>bob')!.id, contacts.get('alice>carol')!.id]);
    await Promise.all(joins);
    await alice.groups.send(g.id, 'one');
    await bob.groups.send(g.id, 'two');
    await until(() => texts(carol, g.id).length === 2 && texts(bob, g.id).length === 2, 10_000, 'the first texts');
    const epoch0 = snapshot(bob, g.id)!.epoch;

    // bob goes away; the group talks and changes without him.
    await bob.close();
    await alice.groups.send(g.id, 'while away 1');
    await carol.groups.send(g.id, 'while away 2');
    await alice.groups.setPolicy(g.id, { name: 'restart 2' });
    await alice.groups.send(g.id, 'while away 3, new epoch');

    bob = await openClient(relay.address, { dataDir: dirs.bob });
    assert.is(bob.groups.list().length, 1, 'the group is loaded from the profile');
    assert.is(snapshot(bob, g.id)!.epoch, epoch0, 'at the epoch it closed in');
    await until(() => texts(bob, g.id).length === 5, 15_000, `bob's missed texts (has ${JSON.stringify(texts(bob, g.id))})`);
    assert.equal(texts(bob, g.id), ['one', 'two', 'while away 1', 'while away 2', 'while away 3, new epoch'], 'each once, in order');
    const s = await converged([alice, bob, carol], g.id, 10_000, (x) => x.name === 'restart 2');
    assert.is(s.epoch, epoch0 + 1);
    await sleep(300);
    assert.is(texts(bob, g.id).length, 5, 'nothing shown twice after the backlog');

    await bob.groups.send(g.id, 'bob is back');
    await until(() => texts(alice, g.id).includes('bob is back') && texts(carol, g.id).includes('bob is back'), 10_000, "bob's text after the restart");

    // A later change: bob sees it.
    await alice.groups.remove(g.id, [contacts.get('alice>carol')!.id]);
    await converged([alice, bob], g.id, 10_000, (x) => x.members.length === 2);
    assert.equal(snapshot(bob, g.id)!.members, [alice.identityKey, bob.identityKey].sort());

    // The admin restarts, then adds and removes.
    await alice.close();
    alice = await openClient(relay.address, { dataDir: dirs.alice });
    assert.ok(alice.groups.list()[0]!.admin, 'still admin after the restart');
    const daveJoins = joined(dave);
    await alice.groups.add(g.id, [contacts.get('alice>dave')!.id]);
    await daveJoins;
    const s2 = await converged([alice, bob, dave], g.id, 15_000, (x) => x.members.length === 3);
    assert.equal(s2.members, [alice.identityKey, bob.identityKey, dave.identityKey].sort());
    await dave.groups.send(g.id, 'hi from dave');
    await until(() => texts(alice, g.id).includes('hi from dave') && texts(bob, g.id).includes('hi from dave'), 10_000, "dave's text");
    await alice.groups.remove(g.id, [contacts.get('alice>bob')!.id]);
    await until(() => snapshot(bob, g.id)?.status === 'removed', 10_000, 'bob removed');
    const s3 = await converged([alice, dave], g.id, 10_000, (x) => x.members.length === 2);
    assert.is(s3.epoch, s2.epoch + 1);
    for (const c of [alice, dave]) assert.ok(c.groups.history(g.id).every((h) => h.signatureValid));

    // And a restarted member's profile keeps the state it ended in: bob, removed, stays removed.
    await bob.close();
    bob = await openClient(relay.address, { dataDir: dirs.bob });
    assert.is(snapshot(bob, g.id)!.status, 'removed');
  } finally {
    await Promise.all([alice, bob, carol, dave].map((c) => c.close()));
    await relay.close();
    cleanup();
  }
});

test.run();

// What the relay learns from a group (spec/groups.md §12; DESIGN.md "What the relay may learn").
//
// Findings: after a group session through a real relay (four verified contacts; a group made,
// texts from three members, a member added, one removed, the group renamed, texts after), the
// relay's data directory (LMDB data and lock files byte for byte, its identity file, its log at
// debug level) and its metrics hold none of: the group id (raw, hex, base64/base64url at every
// alignment, JSON arrays), any member's identity key or either half of it, the group's names,
// the texts. Its store holds the spec's databases only, fixed-size mailbox records and queue
// entries, and nothing keyed by group or member: no member count anywhere (no log field, metric
// or database about groups, members or recipients). What it does see: one mailbox per member per
// group (made for that group alone, the member's leaf carries its capability), and at each send
// a burst of N-1 envelopes from the sender's connection to N-1 of those mailboxes, all of one
// size bucket (a text and a commit each fill one bucket for every recipient; a short group text
// fills the same 1024-byte bucket as the same text sent 1:1, so size alone does not single out
// group traffic: the burst does). So a relay that
// watches timing and connections can guess which mailboxes form a group and its size, and who
// sent; it cannot read or name the group, its members or what they say.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { open } from 'lmdb';
import { BUCKETS, fromBase64url, utf8 } from '../../src/crypto/index.js';
import type { Client } from '../../src/client/index.js';
import type { OutboxEntry } from '../../src/client/outbox.js';
import { startRelay, type RunningRelay } from '../../src/relay/index.js';
import { describeHits, readTree, scanNeedles, type Haystack, type Needle } from '../_support/scan.js';
import { cleanup, openClient, tempDir, until } from '../client/_helpers.js';
import { befriend, converged, ctxOf, joined, snapshot } from './_group-helpers.js';

const NAME_1 = 'Quarterly Skunkworks Cabal';
const NAME_2 = 'Renamed Lighthouse Committee';

test('the relay keeps no group id, member key, group name, text or member count; it sees member mailboxes and same-size bursts', async () => {
  const dataDir = tempDir('sealpost-group-privacy-');
  let relay: RunningRelay | null = await startRelay({
    host: '127.0.0.1', port: 0, dataDir, metricsHost: '127.0.0.1', metricsPort: 0, powDifficulty: 1, logLevel: 'debug', logFile: join(dataDir, 'relay.log'),
  });
  const clients = await Promise.all([0, 1, 2, 3].map(() => openClient(relay!.address)));
  const [alice, bob, carol, dave] = clients as [Client, Client, Client, Client];
  const texts: string[] = [];
  const sentByAlice: OutboxEntry[] = [];
  alice._internals().onSent((e) => sentByAlice.push(e));
  try {
    const contacts = await befriend([{ client: alice, name: 'alice' }, { client: bob, name: 'bob' }, { client: carol, name: 'carol' }, { client: dave, name: 'dave' }]);
    const joins = [joined(bob), joined(carol)];
    const g = await alice.groups.create(NAME_1, [contacts.get('alice>bob')!.id, contacts.get('alice>carol')!.id]);
    await Promise.all(joins);
    const groupId = ctxOf(alice).groupsState.records.get(g.id)!.groupId;
    const say = async (c: Client, who: string, n: number): Promise<void> => {
      const text = `secret ${who} text number ${n}: the eagle lands at ${1000 + n} hours`;
      texts.push(text);
      await c.groups.send(g.id, text);
    };

    /** alice's envelopes for one group operation: one per other member, of one size. */
    const burst = async (op: () => Promise<unknown>, recipients: number): Promise<number> => {
      const from = sentByAlice.length;
      await op();
      await until(() => sentByAlice.slice(from).filter((e) => e.contactId === `group:${g.id}`).length >= recipients, 10_000, 'the burst');
      const mine = sentByAlice.slice(from).filter((e) => e.contactId === `group:${g.id}`);
      assert.is(mine.length, recipients, 'one envelope per other member');
      assert.is(new Set(mine.map((e) => e.capability.sendId.join())).size, recipients, 'each to another mailbox');
      const sizes = new Set(mine.map((e) => e.envelope.length));
      assert.is(sizes.size, 1, `one size for the whole burst: ${[...sizes].join(', ')}`);
      const size = [...sizes][0]!;
      assert.ok((BUCKETS as readonly number[]).includes(size), `a bucket size: ${size}`);
      return size;
    };

    const textBucket = await burst(() => say(alice, 'alice', 1), 2);
    await say(bob, 'bob', 2);
    await say(carol, 'carol', 3);
    const daveJoins = joined(dave);
    const commitBucket = await burst(() => alice.groups.add(g.id, [contacts.get('alice>dave')!.id]), 2);
    await daveJoins;
    await burst(() => say(alice, 'alice', 4), 3);
    await say(dave, 'dave', 5);
    await burst(() => alice.groups.remove(g.id, [contacts.get('alice>carol')!.id]), 3);
    await burst(() => alice.groups.setPolicy(g.id, { name: NAME_2 }), 2);
    await say(bob, 'bob', 6);
    await converged([alice, bob, dave], g.id, 10_000, (x) => x.name === NAME_2);
    await until(() => snapshot(carol, g.id)?.status === 'removed', 10_000, 'carol removed');
    await until(() => alice.groups.messages(g.id).length === 6 && bob.groups.messages(g.id).length === 6 && dave.groups.messages(g.id).length === 3, 10_000, 'every text in');
    // For comparison, the same kind of text to one contact (reported, not asserted).
    const before1to1 = sentByAlice.length;
    texts.push('secret alice text number 7: the eagle lands at 1007 hours');
    await alice.send(contacts.get('alice>bob')!.id, texts[texts.length - 1]!);
    await until(() => sentByAlice.length > before1to1, 10_000, 'the 1:1 text');
    const oneToOne = sentByAlice.slice(before1to1).find((e) => !e.contactId.startsWith('group:'))!.envelope.length;
    console.log(`group privacy: a group text fills the ${textBucket}-byte bucket, the add commit the ${commitBucket}-byte bucket, for every recipient; the same text 1:1 ${oneToOne} bytes`);

    // What the relay does see: a mailbox per member for this group, live while they are members.
    const groupMailbox = (c: Client): Uint8Array => {
      const ctx = ctxOf(c);
      return ctx.mailboxes.get(ctx.groupsState.records.get(g.id)!.mailboxId)!.keys.readId;
    };
    const memberMailboxes = [alice, bob, dave].map(groupMailbox);
    await until(() => { const ctx = ctxOf(carol); return !ctx.mailboxes.has(ctx.groupsState.records.get(g.id)!.mailboxId); }, 10_000, "carol's group mailbox deleted");

    const metricsText = relay.metricsText();
    await Promise.all(clients.map((c) => c.close()));
    await relay.close();
    relay = null;

    const files = readTree(dataDir);
    assert.equal(files.map((f) => f.name).sort(), ['identity.json', 'relay.log', 'store/data.mdb', 'store/lock.mdb']);
    const logFile = files.find((f) => f.name === 'relay.log')!;
    const metrics: Haystack = { name: 'metrics', bytes: utf8(metricsText) };
    const everything = [...files, metrics];
    const dataFile = files.find((f) => f.name === 'store/data.mdb')!;
    // Positive controls: the scanner finds what is there (the members' group mailboxes).
    for (const [i, r] of memberMailboxes.entries()) assert.ok(scanNeedles([dataFile], [{ label: 'readId', bytes: r }], { rawOnly: true }).length > 0, `member ${i}'s group mailbox is in the store`);

    const needles: Needle[] = [{ label: 'group id', bytes: groupId }, { label: 'group id (base64url text)', bytes: utf8(g.id) }];
    for (const [name, c] of Object.entries({ alice, bob, carol, dave })) {
      const key = fromBase64url(c.identityKey);
      needles.push(
        { label: `${name} identity key`, bytes: key }, { label: `${name} identity Ed25519 half`, bytes: key.subarray(0, 32) },
        { label: `${name} identity X25519 half`, bytes: key.subarray(32) }, { label: `${name} identity key (base64url text)`, bytes: utf8(c.identityKey) },
      );
    }
    for (const n of [NAME_1, NAME_2]) needles.push({ label: `group name ${n}`, bytes: utf8(n) });
    for (const [i, t] of texts.entries()) needles.push({ label: `text ${i}`, bytes: utf8(t) }, { label: `text ${i} (part)`, bytes: utf8(t.slice(8, 40)) });
    const hits = scanNeedles(everything, needles);
    assert.is(hits.length, 0, `found what the relay must not keep:\n${describeHits(hits)}`);

    // No member count as a field: nothing in the logs or metrics is about groups, members or
    // recipients, and the store holds the spec's databases only, with fixed-size records.
    const logLines = Buffer.from(logFile.bytes).toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    const about = /group|member|recipient|fan.?out|burst/i;
    for (const l of logLines) for (const k of Object.keys(l)) assert.not.ok(about.test(k) || about.test(String(l[k])), `a log field about groups: ${JSON.stringify(l)}`);
    // (HELP texts are prose: "one group commit" there is the store's batching.)
    for (const line of metricsText.split('\n').filter((x) => !x.startsWith('# HELP'))) assert.not.ok(about.test(line), `a metric about groups: ${line}`);
    const env = open({ path: join(dataDir, 'store'), readOnly: true, maxDbs: 12, encoding: 'binary', keyEncoding: 'binary' } as Parameters<typeof open>[0]);
    try {
      const dbNames = [...env.getKeys()].map((k) => Buffer.from(k as Uint8Array).toString('latin1').replace(/[^a-z]/g, '')).sort();
      assert.equal(dbNames, ['expiry', 'forwarded', 'mailbox', 'mexpiry', 'queue', 'read', 'send', 'seq', 'spent'], 'the databases of spec/protocol.md §11.2 only');
      const records = [...env.openDB({ name: 'mailbox', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ value }) => new Uint8Array(value as Uint8Array));
      assert.ok(records.every((r) => r.length === 170), 'mailbox records of one fixed size');
      const queued = [...env.openDB({ name: 'queue', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ value }) => new Uint8Array(value as Uint8Array));
      assert.ok(queued.every((q) => (BUCKETS as readonly number[]).includes(q.length - 4 - 44)), 'queued entries: expiry minute and a bucket-sized delivered envelope, nothing else');
      console.log(`group privacy: ${records.length} mailboxes, ${queued.length} queued envelopes, ${logLines.length} log lines, ${files.map((f) => `${f.name} ${f.bytes.length} B`).join(', ')}`);
    } finally {
      await env.close();
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    if (relay) await relay.close();
    cleanup();
  }
});

test.run();

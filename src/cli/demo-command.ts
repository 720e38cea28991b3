// `sealpost demo` (spec/client.md §13): an embedded relay on 127.0.0.1 and two clients in
// temporary directories. They exchange an invitation, compare and verify safety codes,
// talk both ways, live through a relay restart, and the demo then opens the relay's store
// read-only to show what it holds: mailboxes and padded envelopes, nobody's name or keys.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { Client, isClientError, type Contact, type Message } from '../client/index.js';
import { Relay } from '../relay/index.js';

const DELIVERY_OVERHEAD = 44; // spec/crypto.md §6

const say = (who: string, text: string): void => { console.log(`${who.padEnd(7)} ${text}`); };

function waitFor<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); })]).finally(() => clearTimeout(t));
}

function collector(c: Client, who: string): { until(n: number): Promise<Message[]> } {
  const got: Message[] = [];
  let wake: (() => void) | null = null;
  c.on('message', (m) => {
    got.push(m);
    say(who, `<- "${m.text}"${m.verified ? '  (verified contact)' : ''}`);
    wake?.();
  });
  return {
    async until(n) {
      const deadline = Date.now() + 10_000;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`${who} expected ${n} messages, has ${got.length}`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
      }
      return got;
    },
  };
}

interface RelayView { mailboxes: number; envelopes: number; buckets: Map<number, number>; leaks: string[] }

/** Reads the relay's LMDB store read-only: mailbox count, queued envelopes by size bucket. */
async function inspectRelayStore(dataDir: string, needles: Array<{ name: string; bytes: Uint8Array }>): Promise<RelayView> {
  const root = open({ path: join(dataDir, 'store'), readOnly: true, maxDbs: 12 } as Parameters<typeof open>[0]);
  try {
    const mailbox = root.openDB({ name: 'mailbox', encoding: 'binary' });
    const queue = root.openDB({ name: 'queue', encoding: 'binary' });
    let mailboxes = 0, envelopes = 0;
    const buckets = new Map<number, number>();
    for (const _ of mailbox.getKeys({})) mailboxes++;
    for (const { value } of queue.getRange({})) {
      envelopes++;
      const bucket = (value as Uint8Array).length - 4 - DELIVERY_OVERHEAD;
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
    }
    // Search every file of the relay for the plaintexts and the identity keys.
    const files = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
    const blobs = files.map((f) => readFileSync(f));
    const leaks = needles.filter((n) => blobs.some((b) => b.indexOf(Buffer.from(n.bytes)) >= 0)).map((n) => n.name);
    return { mailboxes, envelopes, buckets, leaks };
  } finally {
    await root.close();
  }
}

/** Connects two clients and verifies both ways; returns each one's contact for the other. */
async function befriend(a: Client, b: Client, aName: string, bName: string): Promise<[Contact, Contact]> {
  const link = await a.createInvitation({ name: bName });
  const aSees = new Promise<Contact>((r) => a.once('contact', r));
  const ba = await b.acceptInvitation(link, { name: aName });
  const ab = await waitFor(aSees, 10_000, `${aName} sees ${bName}`);
  await a.verifyContact(ab.id, ba.safetyCode);
  await b.verifyContact(ba.id, ab.safetyCode);
  return [ab, ba];
}

/** Retries while a contact's KeyPackage has not arrived yet (it follows the handshake). */
async function whenKeyPackages<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try { return await f(); } catch (e) {
      if (!isClientError(e, 'NO_KEY_PACKAGE') || i > 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function groupScene(alice: Client, bob: Client, carol: Client, aliceBobId: string): Promise<string> {
  console.log('');
  say('carol', 'opened a new identity; she and Bob and Alice connect and compare safety codes');
  const [aliceCarol] = await befriend(alice, carol, 'Alice', 'Carol');
  await befriend(bob, carol, 'Bob', 'Carol');
  for (const c of [alice, bob, carol]) await c.groups.prepare(); // KeyPackages for each contact, now rather than at the next maintenance
  const joined = (c: Client): Promise<unknown> => new Promise((r) => c.once('group', r));
  const bobJoins = joined(bob), carolJoins = joined(carol);
  const g = await whenKeyPackages(() => alice.groups.create('field-team', [aliceBobId, aliceCarol.id]));
  say('alice', `created group "${g.name}" (MLS, RFC 9420) with Bob and Carol; she is its admin`);
  await waitFor(Promise.all([bobJoins, carolJoins]), 10_000, 'Bob and Carol join');
  const heard = (c: Client, who: string, n: number): Promise<void> => new Promise((resolve) => {
    let k = 0;
    c.on('groupMessage', (m) => { say(who, `<- [${g.name}] ${m.sender.name ?? '?'}: "${m.text}"`); if (++k === n) resolve(); });
  });
  const bobHears = heard(bob, 'bob', 2), carolHears = heard(carol, 'carol', 1);
  await alice.groups.send(g.id, 'Checkpoint at 0900.');
  say('alice', `-> [${g.name}] "Checkpoint at 0900."  (one MLS message, one sealed envelope per member)`);
  await waitFor(carolHears, 10_000, 'Carol hears Alice');
  say('bob', `members as Bob sees them: ${bob.groups.members(g.id).map((m) => `${m.me ? 'Bob' : m.name}${m.verified ? ' (verified)' : ''}${m.admin ? ' (admin)' : ''}`).join(', ')}`);
  const carolOut = new Promise<void>((r) => carol.on('group', (v) => { if (v.status === 'removed') r(); }));
  await alice.groups.remove(g.id, [aliceCarol.id]);
  say('alice', 'removed Carol (a Commit signed by Alice; new group keys for everyone else)');
  await waitFor(carolOut, 10_000, 'Carol sees her removal');
  say('carol', 'her client saw the removal: it deleted her group mailbox and can read nothing sent afterwards');
  await alice.groups.send(g.id, 'Carol is off the team from now on.');
  await waitFor(bobHears, 10_000, 'Bob hears Alice');
  say('bob', 'the signed history of the group, each signature checked again:');
  for (const h of bob.groups.history(g.id)) {
    const who = (m: { me: boolean; name: string | null }): string => (m.me ? 'Bob' : m.name ?? '?');
    const what = [h.added.length ? `added ${h.added.map(who).join(', ')}` : '', h.removed.length ? `removed ${h.removed.map(who).join(', ')}` : ''].filter(Boolean).join('; ') || 'updated keys';
    console.log(`          epoch ${h.epoch}: ${who(h.by)} ${what}  (signature ${h.signatureValid ? 'valid' : 'INVALID'})`);
  }
  return g.id;
}

export async function demoCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: sealpost demo\n\nRuns a relay and two clients in temporary directories and shows a whole conversation.');
    return 0;
  }
  const started = Date.now();
  const root = mkdtempSync(join(tmpdir(), 'sealpost-demo-'));
  const relayDir = join(root, 'relay');
  let relay = await Relay.start({ dataDir: relayDir, port: 0, powDifficulty: 8 });
  const port = relay.port;
  let alice: Client | null = null, bob: Client | null = null;
  try {
    say('relay', `listening at ${relay.address}`);
    alice = await Client.open({ dataDir: join(root, 'alice'), relay: relay.address, passphrase: 'alice demo passphrase' });
    bob = await Client.open({ dataDir: join(root, 'bob'), relay: relay.address, passphrase: 'bob demo passphrase' });
    say('alice', 'opened a new identity (Ed25519 + X25519 keys made here; no phone number, no e-mail, no user name)');
    say('bob', 'opened a new identity');
    const aIn = collector(alice, 'alice'), bIn = collector(bob, 'bob');

    // 1. Invitation, handshake, safety codes.
    const link = await alice.createInvitation({ name: 'Bob' });
    say('alice', `invitation (one-time, expires in 24 h): ${link.slice(0, 48)}… (${link.length} chars)`);
    const aliceGetsContact = new Promise<Contact>((r) => alice!.once('contact', r));
    const bobsView = await bob.acceptInvitation(link, { name: 'Alice' });
    const alicesView = await waitFor(aliceGetsContact, 10_000, 'Alice sees Bob');
    say('alice', `safety code for Bob:   ${alicesView.safetyCode}`);
    say('bob', `safety code for Alice: ${bobsView.safetyCode}`);
    if (alicesView.safetyCode !== bobsView.safetyCode) throw new Error('safety codes differ');
    say('both', 'the codes match: each types the code the other reads out');
    await alice.verifyContact(alicesView.id, bobsView.safetyCode);
    await bob.verifyContact(bobsView.id, alicesView.safetyCode);

    // 2. Messages both ways.
    await bob.send(bobsView.id, 'Hello Alice, it is Bob.');
    say('bob', '-> "Hello Alice, it is Bob."  (accepted by the relay)');
    await aIn.until(1);
    await alice.send(alicesView.id, 'Hi Bob! Codes checked.');
    say('alice', '-> "Hi Bob! Codes checked."');
    await bIn.until(1);

    // 3. The relay restarts mid-conversation.
    await bob.send(bobsView.id, 'Sent just before the relay restarts.');
    say('bob', '-> "Sent just before the relay restarts."');
    await relay.close();
    say('relay', 'stopped');
    const whileDown = bob.send(bobsView.id, 'Sent while the relay is down.');
    say('bob', '-> "Sent while the relay is down."  (queued in Bob\'s encrypted outbox)');
    await new Promise((r) => setTimeout(r, 700));
    relay = await Relay.start({ dataDir: relayDir, port, powDifficulty: 8 });
    say('relay', `restarted on the same port and data directory`);
    await waitFor(whileDown, 15_000, 'the queued message');
    await aIn.until(3);
    await alice.send(alicesView.id, 'Got both. Nothing lost.');
    say('alice', '-> "Got both. Nothing lost."');
    await bIn.until(2);

    // 4. A group on MLS: Alice, Bob and Carol; Carol is removed; the signed history.
    const carol = await Client.open({ dataDir: join(root, 'carol'), relay: relay.address, passphrase: 'carol demo passphrase' });
    let groupId = '';
    try {
      groupId = await groupScene(alice, bob, carol, alicesView.id);
    } finally {
      await carol.close();
    }

    const ids = { alice: alice.identityKey, bob: bob.identityKey };
    // 4. What the relay holds: leave two envelopes queued for Alice, then look.
    await alice.close();
    alice = null;
    await bob.send(bobsView.id, 'Short note while Alice is away.');
    await bob.send(bobsView.id, `A longer letter while Alice is away. ${'Lorem ipsum dolor sit amet. '.repeat(12)}`);
    await bob.close();
    bob = null;
    const stats = relay.stats();
    await relay.close();
    const needles = [
      { name: 'a plaintext', bytes: new TextEncoder().encode('Short note while Alice is away') },
      { name: 'a plaintext', bytes: new TextEncoder().encode('Hello Alice') },
      { name: "Alice's identity key", bytes: Buffer.from(ids.alice, 'base64url') },
      { name: "Bob's identity key", bytes: Buffer.from(ids.bob, 'base64url') },
      { name: 'a contact name', bytes: new TextEncoder().encode('Alice') },
      { name: 'the group name', bytes: new TextEncoder().encode('field-team') },
      { name: 'the group id', bytes: Buffer.from(groupId, 'base64url') },
      { name: 'a group text', bytes: new TextEncoder().encode('Checkpoint at 0900') },
    ];
    const view = await inspectRelayStore(relayDir, needles);
    console.log('');
    say('relay', 'what its store holds (opened read-only):');
    console.log(`          mailboxes: ${view.mailboxes} (anonymous: ids are hashes of per-mailbox keys)`);
    console.log(`          queued envelopes: ${view.envelopes}, by size bucket: ${[...view.buckets].sort((a, b) => a[0] - b[0]).map(([b, n]) => `${n} × ${b} B`).join(', ') || 'none'}`);
    console.log(`          live counts before shutdown: ${JSON.stringify(stats)}`);
    console.log(`          no names, phone numbers, identity keys, senders or plaintext: ${view.leaks.length === 0 ? 'none found in its files' : `FOUND ${view.leaks.join(', ')}`}`);
    if (view.leaks.length > 0) throw new Error('the relay store holds something it must not');
    // Exactly the two notes for Alice: everything else, across the restart, was acknowledged.
    if (view.envelopes !== 2) throw new Error(`expected the 2 notes queued for Alice, found ${view.envelopes} envelopes`);
    console.log('');
    console.log(`demo: OK — invitation, matching safety codes, verified contacts, messages both ways, a relay restart with nothing lost, a three-member group with a removal and its signed history (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return 0;
  } catch (e) {
    console.error(`demo: FAILED — ${(e as Error).message}`);
    return 1;
  } finally {
    await alice?.close().catch(() => undefined);
    await bob?.close().catch(() => undefined);
    await relay.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

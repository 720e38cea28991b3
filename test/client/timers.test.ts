// Disappearing timers of 1:1 conversations (spec/client.md §10.2) with real relays and SDK
// clients: a timer set on one device reaches the contact and our other device, each text
// expires by the timer it was sent under on every side, a restart keeps the timer and
// maintenance deletes what expired, a device linked later learns the timer, and off again keeps texts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Client, Message, SentElsewhere, TimerChange } from '../../src/client/index.js';
import { ctxOf, rejects } from './_link.js';
import { cleanup, connect, inbox, linkDevice, openClient, startRelay, tempDir, until } from './_helpers.js';

function timers(c: Client): TimerChange[] {
  const out: TimerChange[] = [];
  c.on('timer', (t) => out.push(t));
  return out;
}
const texts = (c: Client, id: string): string[] => c.history(id).map((m) => m.text);

test('a timer set on one device reaches the contact and our other device; texts expire everywhere; restart keeps it', async () => {
  const relay = await startRelay();
  const a1 = await openClient(relay.address);
  const bobDir = tempDir();
  let bob = await openClient(relay.address, { dataDir: bobDir });
  const clients: Client[] = [a1, bob];
  try {
    const { ab, ba } = await connect(a1, bob);
    const a2 = await linkDevice(a1, relay.address);
    clients.push(a2);
    await until(() => a2.contacts().length === 1 && a2.contacts()[0]!.devices === 1, 20_000, 'a2 has a channel with Bob');
    await until(() => bob.contact(ba.id)!.devices === 2, 20_000, "Bob reaches both of Alice's devices");
    const a2Bob = a2.contacts()[0]!.id;
    const [t1, t2, tBob] = [timers(a1), timers(a2), timers(bob)];
    const bobIn = inbox(bob);
    const a1In = inbox(a1);
    const a2In = inbox(a2);
    const copies: SentElsewhere[] = [];
    a2.on('sent', (s) => copies.push(s));
    assert.is(a1.contact(ab.id)!.disappearingSeconds, 0, 'off until someone sets it');

    await a1.send(ab.id, 'before');
    const [before] = await bobIn.until(1);
    assert.is(before!.expiresAt, 0, 'a text sent with the timer off is kept');

    const set = await a1.setTimer(ab.id, 2);
    assert.is(set.disappearingSeconds, 2);
    await until(() => tBob.length === 1 && t2.length === 1, 10_000, 'the setting reaches Bob and a2');
    assert.equal([t1[0]!.by, t2[0]!.by, tBob[0]!.by], ['me', 'device', 'contact']);
    assert.equal([tBob[0]!.seconds, tBob[0]!.appliedSeconds, t2[0]!.contactId, tBob[0]!.contactId], [2, 2, a2Bob, ba.id]);
    assert.is(bob.contact(ba.id)!.disappearingSeconds, 2);
    assert.is(a2.contact(a2Bob)!.disappearingSeconds, 2);
    // A device linked now learns the timer with the contact (spec/client.md §10.2).
    const a3 = await linkDevice(a2, relay.address);
    clients.push(a3);
    await until(() => a3.contacts()[0]?.disappearingSeconds === 2, 20_000, 'a3 learns the timer');

    const sent = await a1.send(ab.id, 'gone soon');
    const got = (await bobIn.until(2))[1]!;
    assert.is(got.expiresAt, sent.sentAt + 2000, "Bob's copy expires by the timer it was sent under");
    await until(() => copies.some((x) => x.text === 'gone soon'), 10_000, "a2's copy");
    assert.is(copies.find((x) => x.text === 'gone soon')!.expiresAt, sent.sentAt + 2000);
    assert.is(copies.find((x) => x.text === 'before')?.expiresAt ?? 0, 0);
    await bob.send(ba.id, 'reply');
    const [replyA1] = await a1In.until(1);
    const [replyA2] = await a2In.until(1);
    assert.ok(replyA1!.expiresAt > 0 && replyA1!.expiresAt === replyA2!.expiresAt, "Bob's reply goes under the conversation's timer");
    assert.equal(texts(bob, ba.id), ['before', 'gone soon', 'reply']);
    const out = a1.history(ab.id).find((m) => m.text === 'gone soon')!;
    assert.is(out.expiresAt, sent.sentAt + 2000, 'our own history record has the expiry too');

    await until(() => Date.now() > Math.max(got.expiresAt, replyA1!.expiresAt) + 50, 5_000, 'the timer runs out');
    assert.equal(texts(bob, ba.id), ['before']);
    assert.equal(texts(a1, ab.id), ['before']);
    assert.equal(texts(a2, a2Bob), ['before']);

    // Restart: the setting is kept, and the maintenance at open deletes the expired records.
    await bob.close();
    bob = await openClient(relay.address, { dataDir: bobDir });
    clients[1] = bob;
    assert.is(bob.contact(ba.id)!.disappearingSeconds, 2, 'a restart keeps the timer');
    await until(() => ctxOf(bob).store.entries('message').length === 1, 10_000, 'the expired records deleted at maintenance');

    // Bob turns it off from his side: Alice's devices hear it from the contact, and texts are kept again.
    const tBob2 = timers(bob);
    await bob.setTimer(ba.id, 0);
    await until(() => t1.length === 2 && t2.length === 2, 10_000, "Bob's setting reaches both of Alice's devices");
    assert.equal([t1[1]!.by, t1[1]!.seconds, t2[1]!.by], ['contact', 0, 'contact']);
    assert.is(tBob2[0]!.by, 'me');
    const bobIn2 = inbox(bob);
    await a1.send(ab.id, 'lasting');
    const [lasting] = await bobIn2.until(1);
    assert.is(lasting!.expiresAt, 0);
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    await relay.close();
  }
});

test('concurrent settings end the same on both sides; the relay sees no size of its own; a later one takes over, even after one dated ahead; bad arguments', async () => {
  const relay = await startRelay();
  const a = await openClient(relay.address);
  const b = await openClient(relay.address);
  try {
    const { ab, ba } = await connect(a, b);
    // Both set at nearly the same time; each side ends on the later setting, whatever the order of arrival.
    await Promise.all([a.setTimer(ab.id, 600), b.setTimer(ba.id, 300)]);
    await until(() => a.contact(ab.id)!.disappearingSeconds === b.contact(ba.id)!.disappearingSeconds, 10_000, 'both sides agree');
    const agreed = a.contact(ab.id)!.disappearingSeconds;
    assert.ok(agreed === 600 || agreed === 300);
    await a.setTimer(ab.id, 42);
    await until(() => b.contact(ba.id)!.disappearingSeconds === 42, 10_000, 'a later setting takes over');
    // The relay cannot tell a timer setting or a timed text from a plain one: the same padded size.
    const sizes: number[] = [];
    ctxOf(a).sentTaps.push((e) => sizes.push(e.envelope.length));
    await a.send(ab.id, 'short');
    await a.setTimer(ab.id, 120);
    await a.send(ab.id, 'short');
    await until(() => sizes.length === 3, 10_000, 'three envelopes accepted');
    assert.equal(new Set(sizes).size, 1, `envelope sizes ${sizes.join(', ')}`);
    // Both hold a setting dated far ahead (a contact whose clock runs fast made it): ours is dated after it, so it still takes over.
    const ahead = Date.now() + 86_400_000;
    ctxOf(a).contacts.get(ab.id)!.timerAt = ahead;
    ctxOf(b).contacts.get(ba.id)!.timerAt = ahead;
    await a.setTimer(ab.id, 77);
    await until(() => b.contact(ba.id)!.disappearingSeconds === 77, 10_000, 'a setting after one dated ahead takes over');
    for (const bad of [-1, 1.5, 2 ** 32]) await rejects(a.setTimer(ab.id, bad), 'INVALID_ARGUMENT', `a timer of ${bad}`);
    await rejects(a.setTimer('nobody', 60), 'UNKNOWN_CONTACT', 'no such contact');
  } finally {
    await a.close();
    await b.close();
    await relay.close();
  }
});

test.after(() => cleanup());
test.run();

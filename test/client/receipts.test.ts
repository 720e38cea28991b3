// Receipts (spec/client.md §9.3): off by default; when on, batched per contact and sent
// after a random delay, never one per message at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Receipt } from '../../src/client/index.js';
import { ReceiptBatcher } from '../../src/client/receipts.js';
import { cleanup, connect, inbox, openClient, startRelay } from './_helpers.js';

test('receipts: batched and delayed when on, absent when off', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address, { receipts: true, receiptDelayMs: { min: 300, max: 600 } });
  const bob = await openClient(relay.address);
  try {
    const { ab, ba } = await connect(alice, bob);
    const receiptsAtBob: Receipt[] = [];
    const receiptsAtAlice: Receipt[] = [];
    bob.on('receipt', (r) => receiptsAtBob.push(r));
    alice.on('receipt', (r) => receiptsAtAlice.push(r));
    const aIn = inbox(alice), bIn = inbox(bob);
    const sent = [await bob.send(ba.id, 'one'), await bob.send(ba.id, 'two'), await bob.send(ba.id, 'three')];
    const t0 = Date.now();
    await aIn.until(3);
    await new Promise((r) => setTimeout(r, 150));
    assert.is(receiptsAtBob.length, 0, 'not at once');
    for (let i = 0; i < 100 && receiptsAtBob.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(Date.now() - t0 >= 250, 'after the random delay');
    assert.is(receiptsAtBob.length, 1, 'one batch');
    assert.equal([...receiptsAtBob[0]!.ids].sort(), sent.map((s) => s.id).sort());
    assert.is(receiptsAtBob[0]!.contactId, ba.id);

    // Bob has receipts off (the default): Alice never gets one.
    await alice.send(ab.id, 'hello');
    await bIn.until(1);
    await new Promise((r) => setTimeout(r, 800));
    assert.is(receiptsAtAlice.length, 0);
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test('ReceiptBatcher: one flush per contact with every id, delay within bounds', async () => {
  const flushed: Array<{ contactId: string; n: number; at: number }> = [];
  const t0 = Date.now();
  const b = new ReceiptBatcher({ min: 50, max: 100 }, (contactId, ids) => flushed.push({ contactId, n: ids.length, at: Date.now() - t0 }));
  for (let i = 0; i < 5; i++) b.add('x', new Uint8Array(16));
  b.add('y', new Uint8Array(16));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(flushed.map((f) => [f.contactId, f.n]).sort(), [['x', 5], ['y', 1]]);
  assert.ok(flushed.every((f) => f.at >= 45 && f.at < 190), JSON.stringify(flushed));
  b.close();
});

test.after(cleanup);
test.run();

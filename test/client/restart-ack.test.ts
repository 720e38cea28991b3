// A relay restart mid-conversation must not leave processed envelopes at the relay
// (spec/client.md §6.1, §6.3, §9.2). An envelope processed just before the relay goes down
// loses its ACK with the connection; the relay pushes it again after the restart, on the
// new connection while it is still subscribing, and the seen set must ACK it there. Once
// both sides have everything, the relay holds nothing for either conversation mailbox.
import { join } from 'node:path';
import { open } from 'lmdb';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectionClosedError, RelayConnection, type Command } from '../../src/client/connection.js';
import { cleanup, connect, inbox, openClient, startRelay, tempDir } from './_helpers.js';

/** Envelopes queued per readId in a stopped relay's store (opened read-only, as `sealpost demo` does). */
async function queuedFor(relayDir: string, readIds: Uint8Array[]): Promise<number[]> {
  const root = open({ path: join(relayDir, 'store'), readOnly: true, maxDbs: 12 } as Parameters<typeof open>[0]);
  try {
    const read = root.openDB({ name: 'read', keyEncoding: 'binary' });
    const queue = root.openDB({ name: 'queue', encoding: 'binary' });
    return readIds.map((readId) => {
      const iid = read.get(Buffer.from(readId)) as number | undefined;
      if (iid === undefined) throw new Error('mailbox unknown to the relay');
      let n = 0;
      for (const _ of queue.getKeys({ start: [iid, 0], end: [iid, Number.MAX_SAFE_INTEGER] })) n++;
      return n;
    });
  } finally {
    await root.close();
  }
}

// While set, ACKs fail as they do when the relay closes the connection (1001) before
// committing them: deterministic where the real race depends on timing.
let loseAcks = false;
const request = RelayConnection.prototype.request;
RelayConnection.prototype.request = function (this: RelayConnection, command: Command, opts?: { timeoutMs?: number }) {
  if (loseAcks && command.type === 'ACK') return Promise.reject(new ConnectionClosedError(1001, 'relay shutting down'));
  return request.call(this, command, opts);
};

test('relay restart mid-conversation: every processed envelope is acknowledged', async () => {
  let relay = await startRelay();
  const { dataDir: relayDir, port } = relay;
  const alice = await openClient(relay.address, { dataDir: tempDir() });
  const bob = await openClient(relay.address, { dataDir: tempDir() });
  try {
    const { ab, ba } = await connect(alice, bob);
    const aIn = inbox(alice), bIn = inbox(bob);
    await bob.send(ba.id, 'm1');
    await aIn.until(1);
    await alice.send(ab.id, 'r1');
    await bIn.until(1);

    // Alice processes m2 durably, then the relay goes down before her ACK commits.
    loseAcks = true;
    await bob.send(ba.id, 'm2');
    await aIn.until(2);
    await relay.close();
    loseAcks = false;
    const whileDown = bob.send(ba.id, 'm3');
    await new Promise((r) => setTimeout(r, 500));
    relay = await startRelay(relayDir, port);
    await whileDown;
    await aIn.until(3, 15_000);
    await alice.send(ab.id, 'r2');
    await bIn.until(2, 15_000);
    await new Promise((r) => setTimeout(r, 300)); // a redelivery would show up (and its ACK commit) by now

    assert.equal(aIn.messages.map((m) => m.text), ['m1', 'm2', 'm3']);
    assert.equal(bIn.messages.map((m) => m.text), ['r1', 'r2']);
    assert.is(alice.stats().dropped.total + bob.stats().dropped.total, 0);
    const readIds = [alice._internals().inboxKeys(ab.id)!.readId, bob._internals().inboxKeys(ba.id)!.readId];
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
    assert.equal(await queuedFor(relayDir, readIds), [0, 0], 'envelopes left at the relay for [alice, bob]');
  } finally {
    loseAcks = false;
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test.after(() => {
  RelayConnection.prototype.request = request;
  cleanup();
});
test.run();

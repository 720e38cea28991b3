// How the SDK's outbox scales with its queue (spec/client.md §9.1: submit and pick are O(1)):
// N envelopes prepared and submitted against a relay connection that answers every SEND at
// once, over an in-memory profile store; the time to submit them all, and from the first
// submit until the last is accepted, per entry. Equal per-entry times at 1,024 and 16,384
// entries mean constant cost per entry (the outbox before issue 10 took 860 ms to submit
// 16,384, quadratic).
import { randomBytes, sendIdOf, x25519KeyPair, type AccessKey } from '../../src/crypto/index.js';
import type { SendCapability } from '../../src/client/mailbox.js';
import { MemoryRecords } from '../../src/client/memory-records.js';
import { Outbox } from '../../src/client/outbox.js';
import { ProfileStore } from '../../src/client/profile-store.js';
import type { SendPool } from '../../src/client/send-pool.js';
import { now } from './measure.js';

export interface OutboxScaling { readonly entries: number; readonly submitUsPerEntry: number; readonly drainUsPerEntry: number }

const ADDRESS = 'sealpost+ws://AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:1';

export async function measureOutboxScaling(entries: number): Promise<OutboxScaling> {
  const store = await ProfileStore.open(new MemoryRecords(), { passphrase: 'bench', kdf: { N: 1 << 10, r: 8, p: 1 } });
  const mailboxKey = x25519KeyPair().publicKey;
  const cap: SendCapability = { address: ADDRESS, sendId: sendIdOf(mailboxKey), mailboxKey, accessKey: randomBytes(32) as AccessKey };
  const pool = { send: () => Promise.resolve() } as unknown as SendPool;
  const outbox = new Outbox(store, pool);
  const envelope = randomBytes(1024);
  const written = Promise.resolve();
  const t0 = now();
  const accepted: Promise<void>[] = [];
  for (let i = 0; i < entries; i++) accepted.push(outbox.submit(outbox.prepare('c', cap, envelope).entry, written));
  const t1 = now();
  await Promise.all(accepted);
  const t2 = now();
  await outbox.close();
  await store.close();
  return { entries, submitUsPerEntry: ((t1 - t0) * 1000) / entries, drainUsPerEntry: ((t2 - t0) * 1000) / entries };
}

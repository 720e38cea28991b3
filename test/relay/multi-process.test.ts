// `sealpost relay --processes 2` (spec/scale-out.md): two relay processes behind one port on one
// LMDB environment keep every promise of spec/protocol.md across processes — one subscriber
// per mailbox, msgIds in commit order, quotas, ROTATE and DEL — and lose nothing acknowledged
// when a process is SIGKILLed or when the whole relay drains on SIGTERM.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RelayConnection } from '../../src/client/node/connection.js';
import {
  ack, authenticate, createMailbox, fetchNext, newMailboxKeys, openDelivered, rotateMailbox, sendCapability, sendEnvelope, subscribe,
  type MailboxKeys,
} from '../../src/client/mailbox.js';
import { randomBytes } from '../../src/crypto/index.js';
import { errorOf, fetchMetrics, spawnRelay, tempDir, waitFor, withTimeout } from './_helpers.js';
import { startCluster, type ClusterProcess } from './_cluster.js';

function tagged(seq: number): Uint8Array {
  const e = randomBytes(256);
  new DataView(e.buffer).setUint32(0, seq);
  return e;
}
const tagOf = (e: Uint8Array): number => new DataView(e.buffer, e.byteOffset, 4).getUint32(0);

async function withCluster(args: string[], fn: (c: ClusterProcess) => Promise<void>): Promise<void> {
  const dir = tempDir('sealpost-cluster-');
  const c = await startCluster(dir.path, 2, args);
  try {
    await fn(c);
  } finally {
    await c.closeAll();
    await c.stop('SIGTERM').catch(() => c.stop('SIGKILL'));
    dir.rm();
  }
}

/** Every END a connection receives, counted. */
function ends(conn: RelayConnection): { count: number } {
  const e = { count: 0 };
  conn.onEnd(() => { e.count++; });
  return e;
}

/** Reads and ACKs the whole queue: [msgId, tag] in order. */
async function drain(conn: RelayConnection, keys: MailboxKeys): Promise<Array<[number, number]>> {
  const got: Array<[number, number]> = [];
  for (;;) {
    const m = await fetchNext(conn, keys);
    if (!m) return got;
    got.push([m.msgId, tagOf(m.envelope)]);
    await ack(conn, keys, m.msgId);
  }
}

test('a SUB on another process takes the mailbox over; the old subscriber gets END', async () => {
  await withCluster([], async (c) => {
    const a = await c.connectOn(0);
    const b = await c.connectOn(1);
    const keys = newMailboxKeys();
    await createMailbox(a, keys);
    const endsA = ends(a), endsB = ends(b);
    const gotA: number[] = [], gotB: number[] = [];
    a.onMessage((m) => { gotA.push(tagOf(openDelivered(a, keys, m).envelope)); ack(a, keys, m.msgId).catch(() => {}); });
    b.onMessage((m) => { gotB.push(tagOf(openDelivered(b, keys, m).envelope)); ack(b, keys, m.msgId).catch(() => {}); });
    await subscribe(a, keys);
    await authenticate(b, keys);
    await subscribe(b, keys);
    await waitFor(() => endsA.count === 1, 5_000, 'END on process 0');
    const sender = await c.connectOn(0);
    await sendEnvelope(sender, sendCapability(c.address, keys), tagged(1));
    await waitFor(() => gotB.length === 1, 5_000, 'push on process 1');
    assert.equal(gotA, []);
    // And back: process 1's subscriber gets END, process 0's gets what follows.
    await subscribe(a, keys);
    await waitFor(() => endsB.count === 1, 5_000, 'END on process 1');
    await sendEnvelope(sender, sendCapability(c.address, keys), tagged(2));
    // Envelope 1 may come again if process 1's ACK had not committed at the SUB: at least once.
    await waitFor(() => gotA.includes(2), 5_000, 'push on process 0');
    assert.equal(gotB, [1]);
    assert.equal(gotA.filter((t) => t !== 1), [2]);
    assert.is(endsA.count, 1);
  });
});

test('msgIds follow arrival order across processes, and a subscriber on one process gets all', async () => {
  await withCluster([], async (c) => {
    const owner = await c.connectOn(0);
    const s0 = await c.connectOn(0);
    const s1 = await c.connectOn(1);
    const keys = newMailboxKeys();
    await createMailbox(owner, keys);
    const pushed: Array<[number, number]> = [];
    owner.onMessage((m) => { pushed.push([m.msgId, tagOf(openDelivered(owner, keys, m).envelope)]); ack(owner, keys, m.msgId).catch(() => {}); });
    await subscribe(owner, keys);
    const cap = sendCapability(c.address, keys);
    const N = 150;
    // Two senders, one per process, each with 16 SENDs in flight.
    const stream = async (conn: RelayConnection, base: number): Promise<void> => {
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < N) await sendEnvelope(conn, cap, tagged(base + next++));
      }));
    };
    await Promise.all([stream(s0, 0), stream(s1, 100_000)]);
    await waitFor(() => pushed.length >= 2 * N, 10_000, 'every envelope pushed');
    const ids = pushed.map(([id]) => id);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, 'pushed in increasing msgId order');
    assert.is(new Set(pushed.map(([, t]) => t)).size, 2 * N, 'each envelope once');
    for (const base of [0, 100_000]) assert.is(pushed.filter(([, t]) => t >= base && t < base + N).length, N, 'every envelope of each sender');
  });
});

test('one /metrics for the relay: the primary merges its processes (sums of what each holds and did, the store once)', async () => {
  await withCluster([], async (c) => {
    const owner = await c.connectOn(0);
    const sender = await c.connectOn(1);
    const keys = newMailboxKeys();
    await createMailbox(owner, keys);
    const cap = sendCapability(c.address, keys);
    for (let i = 0; i < 3; i++) await sendEnvelope(sender, cap, tagged(i));
    const value = (text: string, series: string): number => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const [merged, p0, p1] = await Promise.all([c.metricsPort, c.metricsPort + 1, c.metricsPort + 2].map((port) => fetchMetrics(port)));
    assert.is(value(p0!, 'sealpost_connections') + value(p1!, 'sealpost_connections'), value(merged!, 'sealpost_connections'), 'connections add up');
    assert.ok(value(merged!, 'sealpost_connections') >= 2);
    assert.is(value(merged!, 'sealpost_envelopes_in_total'), 3, 'envelopes accepted on process 1 only, counted once');
    assert.is(value(p0!, 'sealpost_envelopes_in_total'), 0);
    assert.is(value(merged!, 'sealpost_mailboxes'), value(p0!, 'sealpost_mailboxes'), 'the shared store is counted once, not once per process');
    assert.is(value(merged!, 'sealpost_mailboxes'), 1);
    assert.is(value(merged!, 'sealpost_store_writable'), 1);
    assert.ok(/^# TYPE sealpost_commit_latency_seconds histogram$/m.test(merged!), 'help and type lines kept');
    assert.is(value(merged!, 'sealpost_commit_latency_seconds_count'), value(p0!, 'sealpost_commit_latency_seconds_count') + value(p1!, 'sealpost_commit_latency_seconds_count'));
  });
});

test('the mailbox quota holds across processes', async () => {
  await withCluster(['--private-max-envelopes', '6'], async (c) => {
    const owner = await c.connectOn(0);
    const s0 = await c.connectOn(0);
    const s1 = await c.connectOn(1);
    const keys = newMailboxKeys();
    await createMailbox(owner, keys);
    const cap = sendCapability(c.address, keys);
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      sendEnvelope(i % 2 ? s1 : s0, cap, tagged(i)).then(() => 'OK', (e: unknown) => errorOf(Promise.reject(e)))));
    assert.is(outcomes.filter((o) => o === 'OK').length, 6);
    assert.is(outcomes.filter((o) => o === 'QUOTA').length, 6);
    // An ACK on one process makes room for a SEND on the other.
    const m = await fetchNext(owner, keys);
    await ack(owner, keys, m!.msgId);
    await sendEnvelope(s1, cap, tagged(100));
    assert.is(await errorOf(sendEnvelope(s1, cap, tagged(101))), 'QUOTA');
  });
});

test('ROTATE on one process ends the subscription on the other; the queue is re-sealed; DEL likewise', async () => {
  await withCluster([], async (c) => {
    const sub = await c.connectOn(0);
    const rot = await c.connectOn(1);
    const sender = await c.connectOn(0);
    const keys = newMailboxKeys();
    await createMailbox(sub, keys);
    await authenticate(rot, keys);
    const endsSub = ends(sub);
    await subscribe(sub, keys);
    sub.onMessage(() => { /* left unacknowledged: re-sealed by ROTATE */ });
    for (let i = 1; i <= 5; i++) await sendEnvelope(sender, sendCapability(c.address, keys), tagged(i));
    const next = await rotateMailbox(rot, keys);
    await waitFor(() => endsSub.count === 1, 5_000, 'END after ROTATE elsewhere');
    // The old access key no longer sends, on either process.
    assert.is(await errorOf(sendEnvelope(sender, sendCapability(c.address, keys), tagged(6))), 'AUTH');
    await sendEnvelope(sender, sendCapability(c.address, next), tagged(6));
    // The new keys read everything, from the process that did not rotate.
    assert.is(await errorOf(fetchNext(sub, keys)), 'AUTH');
    await authenticate(sub, next);
    assert.equal((await drain(sub, next)).map(([, t]) => t), [1, 2, 3, 4, 5, 6]);
    // DEL on process 1 while process 0 subscribes.
    await subscribe(sub, next);
    await authenticate(rot, next);
    await (await import('../../src/client/mailbox.js')).deleteMailbox(rot, next);
    await waitFor(() => endsSub.count === 2, 5_000, 'END after DEL elsewhere');
    assert.is(await errorOf(sendEnvelope(sender, sendCapability(c.address, next), tagged(7))), 'AUTH');
  });
});

test('SIGKILL of one relay process mid-stream: every OKed envelope is delivered exactly once', async () => {
  await withCluster([], async (c) => {
    const owner = await c.connectOn(0);
    const keys = newMailboxKeys();
    await createMailbox(owner, keys);
    const cap = sendCapability(c.address, keys);
    const s0 = await c.connectOn(0);
    const s1 = await c.connectOn(1);
    const oked = new Set<number>();
    let seq = 0;
    let killed = false;
    const victim = c.pidOf(1);
    const streaming = [s0, s1].map((conn) => new Promise<void>((resolve) => {
      let inFlight = 0;
      const pump = (): void => {
        if (!conn.isOpen || (killed && conn === s0 && oked.size > 900)) { if (inFlight === 0) resolve(); return; }
        const s = ++seq;
        inFlight++;
        sendEnvelope(conn, cap, tagged(s)).then(() => {
          inFlight--;
          oked.add(s);
          if (oked.size >= 400 && !killed) { killed = true; process.kill(victim, 'SIGKILL'); }
          pump();
        }, () => { inFlight--; if (inFlight === 0) resolve(); });
      };
      for (let i = 0; i < 32; i++) pump();
    }));
    await withTimeout(Promise.all(streaming), 20_000, 'streaming through the kill');
    assert.ok(killed);
    await waitFor(() => /process 1 restarted/.test(c.output()), 10_000, 'process 1 replaced');
    assert.ok(c.pidOf(1) !== victim);
    const reader = await c.connectOn(1);
    await authenticate(reader, keys);
    const got = await drain(reader, keys);
    const tags = got.map(([, t]) => t);
    assert.is(new Set(tags).size, tags.length, 'nothing twice');
    assert.equal([...oked].filter((t) => !tags.includes(t)), [], 'every OKed envelope delivered');
    const ids = got.map(([id]) => id);
    assert.equal(ids, [...ids].sort((x, y) => x - y));
    await owner.close().catch(() => {});
  });
});

test('SIGTERM drains every process: exit 0, and every OKed envelope is in the store', async () => {
  const dir = tempDir('sealpost-cluster-drain-');
  let c: ClusterProcess | null = null;
  try {
    c = await startCluster(dir.path, 2);
    const owner = await c.connectOn(0);
    const keys = newMailboxKeys();
    await createMailbox(owner, keys);
    const cap = sendCapability(c.address, keys);
    const senders = [await c.connectOn(0), await c.connectOn(1)];
    const oked = new Set<number>();
    let seq = 0;
    let stopping: Promise<number | string | null> | null = null;
    await Promise.all(senders.map((conn) => new Promise<void>((resolve) => {
      let inFlight = 0;
      const pump = (): void => {
        if (!conn.isOpen || stopping) { if (inFlight === 0) resolve(); return; }
        const s = ++seq;
        inFlight++;
        sendEnvelope(conn, cap, tagged(s)).then(() => {
          inFlight--;
          oked.add(s);
          if (oked.size >= 300 && !stopping) stopping = c!.stop('SIGTERM');
          pump();
        }, () => { inFlight--; if (inFlight === 0 && (stopping || !conn.isOpen)) resolve(); });
      };
      for (let i = 0; i < 16; i++) pump();
    })));
    assert.is(await withTimeout(stopping!, 40_000, 'drain'), 0);
    await c.closeAll();
    c = null;
    // One process on the same store reads it all.
    const single = await spawnRelay(['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', dir.path, '--log-level', 'warn']);
    try {
      const { RelayConnection } = await import('../../src/client/node/connection.js');
      const reader = await RelayConnection.connect(single.address);
      await authenticate(reader, keys);
      const tags = (await drain(reader, keys)).map(([, t]) => t);
      assert.equal([...oked].filter((t) => !tags.includes(t)), [], 'every OKed envelope kept');
      await reader.close();
    } finally {
      single.child.kill('SIGTERM');
      await single.exited;
    }
  } finally {
    if (c) { await c.closeAll(); await c.stop('SIGKILL'); }
    dir.rm();
  }
});

test.run();

// Three relays, each in its own network namespace with its own address (spec/federation.md;
// test/_support/netns.ts): A and B partners, C not on B's allow-list. A sender in a fourth
// namespace (the client host) forwards through A to a mailbox on B. While it runs, B's connection
// table shows A's address and never the client's (A's shows the client's: the check can fail);
// B's log file, metrics and store never hold the client's address (the store: no address at
// all, and one random idempotency key per envelope); every envelope arrives once; C,
// which lists B, is refused by B at the handshake and counted. Needs root; skipped otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open } from 'lmdb';
import { join } from 'node:path';
import { toHex } from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { ack, authenticate, fetchNext } from '../../src/client/mailbox.js';
import { loadOrCreateIdentity } from '../../src/relay/identity.js';
import { repoPath } from '../_support/files.js';
import { makeLab, netnsUnavailable, type Lab } from '../_support/netns.js';
import type { SenderJob, SenderResult } from './_fed-sender.js';
import { fetchMetrics, makeMailbox, sleep, spawnRelay, tempDir, type RelayProcess } from './_helpers.js';

const skip = netnsUnavailable();
const PORT = 7443;
const METRICS = 9443;
const COUNT = 200;

if (skip) {
  console.log(`skipped: ${skip}`);
  test.skip('three relays in network namespaces', () => {});
} else {
  let lab: Lab;
  const dirs: Array<ReturnType<typeof tempDir>> = [];
  const procs: RelayProcess[] = [];
  const addresses = new Map<string, string>();

  const sender = (job: SenderJob): Promise<SenderResult> => new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', lab.ns('client'), process.execPath, repoPath('.build', 'test', 'relay', '_fed-sender.js'), JSON.stringify(job)],
      { timeout: 60_000 }, (err, stdout) => {
        if (err && !stdout) { reject(err); return; }
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as SenderResult);
      });
  });

  test.before(async () => {
    lab = makeLab(['a', 'b', 'c', 'client']);
    // Relays outlive a test process that dies: kill them on the way out, whatever the way.
    process.once('exit', () => { for (const p of procs) p.child.kill('SIGKILL'); });
    for (const h of ['a', 'b', 'c']) {
      const dir = tempDir('sealpost-netns-');
      dirs.push(dir);
      addresses.set(h, `sealpost+ws://${loadOrCreateIdentity(dir.path).fingerprint}@${lab.addr(h)}:${PORT}`);
    }
    const peers: Record<string, string[]> = { a: ['b'], b: ['a'], c: ['b'] };
    for (const [i, h] of ['a', 'b', 'c'].entries()) {
      procs.push(await spawnRelay([
        '--data', dirs[i]!.path, '--host', lab.addr(h), '--port', String(PORT), '--metrics-host', lab.addr(h), '--metrics-port', String(METRICS),
        '--pow-difficulty', '6', '--log-file', join(dirs[i]!.path, 'relay.log'), '--log-level', 'debug', '--forward-timeout-seconds', '3',
        ...peers[h]!.flatMap((p) => ['--peer', addresses.get(p)!]),
      ], {}, 20_000, undefined, lab.ns(h)));
    }
  });

  test.after(async () => {
    for (const p of procs) { p.child.kill('SIGTERM'); await Promise.race([p.exited, sleep(5_000)]); p.child.kill('SIGKILL'); }
    lab?.cleanup();
    for (const d of dirs) d.rm();
  });

  test('a client of A reaches a mailbox on B; B sees only A', async () => {
    const b = addresses.get('b')!;
    const owner = await RelayConnection.connect(b, { timeoutMs: 5_000 });
    const { keys, cap } = await makeMailbox(owner, b);
    // Sample both connection tables while the sender runs.
    const seenByA = new Set<string>();
    const seenByB = new Set<string>();
    let running = true;
    const sampler = (async () => {
      while (running) {
        for (const x of lab.peersOf('a')) seenByA.add(x);
        for (const x of lab.peersOf('b')) seenByB.add(x);
        await sleep(20);
      }
    })();
    const result = await sender({ relay: addresses.get('a')!, destination: b, sendId: toHex(cap.sendId), accessKey: toHex(cap.accessKey!), count: COUNT, deadlineMs: 40_000, window: 4 });
    running = false;
    await sampler;
    assert.is(result.oked.length, COUNT, JSON.stringify(result));
    const client = lab.addr('client');
    assert.ok(seenByA.has(client), `A's table shows the client (${[...seenByA].join(' ')})`);
    assert.ok(seenByB.has(lab.addr('a')), `B's table shows A (${[...seenByB].join(' ')})`);
    assert.not.ok(seenByB.has(client), `B's table shows the client's address: ${[...seenByB].join(' ')}`);
    // Every envelope once.
    await authenticate(owner, keys);
    const got = new Map<number, number>();
    for (;;) {
      const d = await fetchNext(owner, keys);
      if (!d) break;
      const i = new DataView(d.envelope.buffer, d.envelope.byteOffset, 4).getUint32(0);
      got.set(i, (got.get(i) ?? 0) + 1);
      await ack(owner, keys, d.msgId);
    }
    await owner.close();
    assert.is(got.size, COUNT);
    assert.ok([...got.values()].every((n) => n === 1), 'each envelope once');
    // What B keeps: its log file and its metrics, never the client's address (nor A's, nor the mailbox's sendId).
    const bLog = readFileSync(join(dirs[1]!.path, 'relay.log'), 'utf8');
    assert.ok(bLog.includes('peer_link_up'), 'B logged the link');
    for (const secret of [client, lab.addr('a'), lab.self, toHex(cap.sendId)]) assert.not.ok(bLog.includes(secret), `B's log holds ${secret}`);
    const bMetrics = await fetchMetrics(METRICS, lab.addr('b'));
    assert.match(bMetrics, /sealpost_forwards_in_total\{code="OK"\} /);
    for (const secret of [client, lab.addr('a')]) assert.not.ok(bMetrics.includes(secret), `B's metrics hold ${secret}`);
    // B's store, read beside the running relay: one idempotency key (16 random bytes) per envelope
    // in `forwarded` (spec/federation.md §6), and no address anywhere, as text or as bytes.
    const env = open({ path: join(dirs[1]!.path, 'store'), readOnly: true, maxDbs: 12, encoding: 'binary', keyEncoding: 'binary' } as Parameters<typeof open>[0]);
    try {
      const forwarded = [...env.openDB({ name: 'forwarded', keyEncoding: 'binary' }).getRange()];
      assert.is(forwarded.length, COUNT, 'one idempotency key per forwarded envelope');
      assert.ok(forwarded.every(({ key }) => (key as Uint8Array).length === 16));
      const needles = [client, lab.addr('a'), lab.self].flatMap((a) => [Buffer.from(a), Buffer.from(a.split('.').map(Number))]);
      for (const name of ['expiry', 'forwarded', 'mailbox', 'mexpiry', 'queue', 'read', 'send', 'seq']) {
        for (const { key, value } of env.openDB({ name, encoding: 'binary', keyEncoding: 'binary' }).getRange()) {
          const bytes = Buffer.concat([Buffer.from(key as Uint8Array), Buffer.from(value as Uint8Array)]);
          for (const n of needles) assert.not.ok(bytes.includes(n), `B's ${name} database holds an address`);
        }
      }
    } finally {
      await env.close();
    }
    // A logged nothing of the client either, and never the mailbox.
    const aLog = readFileSync(join(dirs[0]!.path, 'relay.log'), 'utf8');
    for (const secret of [client, toHex(cap.sendId)]) assert.not.ok(aLog.includes(secret), `A's log holds ${secret}`);
  });

  test('relay C, not on B\'s allow-list, is refused at the handshake and counted by reason', async () => {
    const b = addresses.get('b')!;
    const result = await sender({ relay: addresses.get('c')!, destination: b, sendId: '00'.repeat(32), accessKey: '00'.repeat(32), count: 1, deadlineMs: 4_000 });
    assert.not.ok(result.reached, 'C got B\'s keys');
    assert.ok(result.retried['PEER_DOWN']! > 0, JSON.stringify(result));
    assert.match(await fetchMetrics(METRICS, lab.addr('b')), /sealpost_peer_refused_total\{reason="not_partner"\} [1-9]/);
    assert.match(await fetchMetrics(METRICS, lab.addr('c')), /sealpost_peer_refused_total\{reason="not_partner"\} [1-9]/);
    assert.not.ok(lab.peersOf('b').includes(lab.addr('c')), 'C holds no link to B');
  });
}

test.run();

// Faults under private routing (spec/federation.md §3, §6), with both relays as real processes on
// loopback: a sender forwards 1 KiB envelopes through A to a mailbox on B and retries each with
// its idempotency key until OK. Mid-stream the destination B, then the forwarding relay A, is
// SIGKILLed and restarted on its data. Every envelope the sender was told OK for is in B's
// mailbox exactly once (and, since the sender goes on until all are OK, every envelope is).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toHex } from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { ack, authenticate, fetchNext, type MailboxKeys } from '../../src/client/mailbox.js';
import { loadOrCreateIdentity } from '../../src/relay/identity.js';
import { sendUntilAllOk } from './_fed-sender.js';
import { freePort, makeMailbox, sleep, spawnRelay, tempDir, type RelayProcess } from './_helpers.js';

const COUNT = 1000;
const KILL_AFTER_OKS = 60;

interface Node { dir: ReturnType<typeof tempDir>; port: number; address: string; proc: RelayProcess | null }

async function node(): Promise<Node> {
  const dir = tempDir('sealpost-fed-');
  const port = await freePort();
  const { fingerprint } = loadOrCreateIdentity(dir.path);
  return { dir, port, address: `sealpost+ws://${fingerprint}@127.0.0.1:${port}`, proc: null };
}

async function start(n: Node, peer: Node): Promise<void> {
  n.proc = await spawnRelay([
    '--data', n.dir.path, '--host', '127.0.0.1', '--port', String(n.port), '--metrics-port', 'off', '--pow-difficulty', '6',
    '--forward-timeout-seconds', '1', '--peer', peer.address, '--log-level', 'warn',
  ]);
}

async function kill(n: Node): Promise<void> {
  n.proc!.child.kill('SIGKILL');
  await n.proc!.exited;
  n.proc = null;
}

/** Reads the mailbox to the end (FETCH, ACK) and returns the envelope indexes in arrival order. */
async function drainIndexes(address: string, keys: MailboxKeys): Promise<number[]> {
  const owner = await RelayConnection.connect(address, { timeoutMs: 5_000 });
  try {
    await authenticate(owner, keys);
    const out: number[] = [];
    for (;;) {
      const d = await fetchNext(owner, keys);
      if (!d) return out;
      out.push(new DataView(d.envelope.buffer, d.envelope.byteOffset, 4).getUint32(0));
      await ack(owner, keys, d.msgId);
    }
  } finally {
    await owner.close();
  }
}

async function scenario(victim: 'destination' | 'forwarder'): Promise<void> {
  const A = await node();
  const B = await node();
  try {
    await start(B, A);
    await start(A, B);
    const owner = await RelayConnection.connect(B.address, { timeoutMs: 5_000 });
    const { keys, cap } = await makeMailbox(owner, B.address);
    await owner.close();
    const target = victim === 'destination' ? B : A;
    let restarted: Promise<void> | null = null;
    let oks = 0;
    const result = await sendUntilAllOk(
      { relay: A.address, destination: B.address, sendId: toHex(cap.sendId), accessKey: toHex(cap.accessKey!), count: COUNT, deadlineMs: 90_000 },
      () => {
        if (restarted !== null || ++oks < KILL_AFTER_OKS) return;
        // Killed while FORWARDs are in flight: their answers are lost, and the sender retries them; down
        // for longer than forwardTimeoutSeconds, so that FORWARDs waiting for the link fail too.
        restarted = kill(target).then(() => sleep(1_500)).then(() => start(target, target === A ? B : A));
      },
    );
    await restarted;
    assert.ok(restarted !== null, 'the relay was killed mid-stream');
    assert.is(result.oked.length, COUNT, `every envelope OK in the end (retried: ${JSON.stringify(result.retried)})`);
    const got = await drainIndexes(B.address, keys);
    const seen = new Map<number, number>();
    for (const i of got) seen.set(i, (seen.get(i) ?? 0) + 1);
    const twice = [...seen].filter(([, n]) => n > 1).map(([i]) => i);
    assert.equal(twice, [], 'no envelope delivered twice');
    for (const i of result.oked) assert.ok(seen.has(i), `envelope ${i} was OK but is missing`);
    assert.is(got.length, COUNT);
    assert.ok(Object.values(result.retried).reduce((a, b) => a + b, 0) > 0, 'the fault made the sender retry');
    console.log(`  ${victim} killed: ${COUNT} OK, retried ${JSON.stringify(result.retried)}`);
  } finally {
    for (const n of [A, B]) {
      if (n.proc) await kill(n).catch(() => {});
      n.dir.rm();
    }
  }
}

test('the destination relay is SIGKILLed mid-stream and comes back: each OK envelope once', async () => {
  await scenario('destination');
});

test('the forwarding relay is SIGKILLed mid-stream and comes back: each OK envelope once', async () => {
  await scenario('forwarder');
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import {
  accessVerifierOf, checkSendProof, ed25519KeyPair, ed25519Sign, equalBytes, openDelivery, openEnvelope, openForward, randomBytes, sealDelivery,
  sealEnvelope, sealForward, sha256, solvePow, x25519, x25519KeyPair, type DeliveryKey, type X25519PublicKey,
} from '../../src/crypto/index.js';
import {
  CryptoPool, isCryptoPoolError, packBatch, unpackResults, type PoolResult, type SealEnvelopeItem,
} from '../../src/crypto/pool/index.js';

const SIZES = [0, 1, 2] as const;

function bytesOf(r: PoolResult<Uint8Array>): Uint8Array {
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
  return (r as { value: Uint8Array }).value;
}

const edKey = ed25519KeyPair();
function verifyItems(n: number): { signature: Uint8Array; message: Uint8Array; publicKey: Uint8Array }[] {
  return Array.from({ length: n }, (_, i) => {
    const message = randomBytes(1 + (i % 97));
    const signature = ed25519Sign(edKey.seed, message);
    if (i % 5 === 3) signature[7]! ^= 1; // every fifth one does not verify
    return { signature, message, publicKey: edKey.publicKey };
  });
}

test('verifyEd25519, x25519, signEd25519 and sha256 give the inline results on pools of size 0, 1, 2', async () => {
  const verify = verifyItems(40);
  const a = x25519KeyPair();
  const dh = Array.from({ length: 33 }, () => ({ secretKey: a.secretKey, publicKey: x25519KeyPair().publicKey }));
  const sign = Array.from({ length: 17 }, (_, i) => ({ seed: edKey.seed, message: new Uint8Array([i, i + 1]) }));
  const data = Array.from({ length: 50 }, (_, i) => randomBytes(i * 31));
  const expectedVerify = verify.map((_, i) => i % 5 !== 3);
  for (const size of SIZES) {
    const pool = await CryptoPool.create({ size, maxChunk: 7 });
    try {
      const v = await pool.verifyEd25519(verify);
      assert.equal(v.map((r) => r.ok && r.value), expectedVerify, `verify, size ${size}`);
      const d = await pool.run('x25519', dh);
      d.forEach((r, i) => assert.ok(equalBytes(bytesOf(r), x25519(a.secretKey, dh[i]!.publicKey)), `x25519 ${i}, size ${size}`));
      const s = await pool.run('signEd25519', sign);
      s.forEach((r, i) => assert.ok(equalBytes(bytesOf(r), ed25519Sign(edKey.seed, sign[i]!.message)), `sign ${i}, size ${size}`));
      const h = await pool.run('sha256', data);
      h.forEach((r, i) => assert.ok(equalBytes(bytesOf(r), sha256(data[i]!)), `sha256 ${i}, size ${size}`));
    } finally { await pool.close(); }
  }
});

test("the relay's operations (SEND proof check, delivery seal and re-seal) give the inline results; bad items fail alone", async () => {
  const dk = randomBytes(32) as DeliveryKey;
  const newDk = randomBytes(32) as DeliveryKey;
  const serverNonce = randomBytes(32);
  const sendId = randomBytes(32);
  const accessKey = randomBytes(32);
  const verifier = accessVerifierOf(accessKey);
  const envelopes = Array.from({ length: 40 }, (_, i) => randomBytes([256, 1024, 4096][i % 3]!));
  const checks = envelopes.map((envelope, i) => ({
    serverNonce, sendId, envelope, difficulty: 6, verifier,
    proof: i % 3 === 0 ? accessKey : i % 3 === 1 ? solvePow(serverNonce, sendId, envelope, 6) : randomBytes(32),
  }));
  const seals = envelopes.map((envelope, i) => ({ dk, msgId: 2 ** 40 + i, receivedAtMinutes: 29_000_000 + i, envelope, nonce: randomBytes(24) }));
  for (const size of SIZES) {
    const pool = await CryptoPool.create({ size });
    try {
      const checked = await pool.run('checkSendProof', checks);
      checked.forEach((r, i) => assert.equal(r, { ok: true, value: checkSendProof(checks[i]!) }, `check ${i}, size ${size}`));
      assert.ok(checked.some((r) => r.ok && r.value.keyValid) && checked.some((r) => r.ok && r.value.powValid) && checked.some((r) => r.ok && !r.value.powValid && !r.value.keyValid));
      const sealed = await pool.run('sealDelivery', seals);
      sealed.forEach((r, i) => {
        const s = seals[i]!;
        assert.ok(equalBytes(bytesOf(r), sealDelivery(s.dk, s.msgId, s.receivedAtMinutes, s.envelope, s.nonce)), `seal ${i}, size ${size}`);
      });
      const resealItems = seals.map((s, i) => ({ oldDk: dk, newDk, msgId: s.msgId, delivered: bytesOf(sealed[i]!), nonce: randomBytes(24) }));
      resealItems[4] = { ...resealItems[4]!, msgId: resealItems[4]!.msgId + 1 }; // sealed for another msgId
      const resealed = await pool.run('resealDelivery', resealItems);
      resealed.forEach((r, i) => {
        if (i === 4) { assert.equal(r, { ok: false, error: 'DECRYPT_FAILED' }); return; }
        const opened = openDelivery(newDk, seals[i]!.msgId, bytesOf(r));
        assert.ok(equalBytes(opened.envelope, envelopes[i]!) && opened.receivedAtMinutes === seals[i]!.receivedAtMinutes, `reseal ${i}, size ${size}`);
      });
      const bad = await pool.run('sealDelivery', [{ ...seals[0]!, msgId: -1 }, { ...seals[0]!, nonce: randomBytes(12) }, seals[1]!]);
      assert.equal(bad.map((r) => r.ok ? 'ok' : r.error), ['INVALID_ARGUMENT', 'INVALID_LENGTH', 'ok']);
    } finally {
      await pool.close();
    }
  }
});

test("openForward gives the inline request and response key; a request that does not open fails alone with DECRYPT_FAILED", async () => {
  const relay = x25519KeyPair();
  const requests = Array.from({ length: 24 }, (_, i) => ({
    idempotencyKey: randomBytes(16), sendId: randomBytes(32), proof: randomBytes(32), envelope: randomBytes([256, 1024][i % 2]!),
  }));
  const sealed = requests.map((r) => sealForward(relay.publicKey, r));
  const items = sealed.map((s) => ({ secretKey: relay.secretKey, publicKey: relay.publicKey, sealed: s.sealed }));
  const flipped = items[5]!.sealed.slice();
  flipped[40]! ^= 1;
  items[5] = { ...items[5]!, sealed: flipped };
  items[9] = { ...items[9]!, sealed: sealForward(x25519KeyPair().publicKey, requests[9]!).sealed }; // sealed to another relay
  for (const size of SIZES) {
    const pool = await CryptoPool.create({ size });
    try {
      const opened = await pool.run('openForward', items);
      opened.forEach((r, i) => {
        if (i === 5 || i === 9) { assert.equal(r, { ok: false, error: 'DECRYPT_FAILED' }, `item ${i}, size ${size}`); return; }
        assert.ok(r.ok, `item ${i}, size ${size}`);
        const { request, responseKey } = (r as { value: ReturnType<typeof openForward> }).value;
        const want = openForward(relay, items[i]!.sealed);
        for (const k of ['idempotencyKey', 'sendId', 'proof', 'envelope'] as const) assert.ok(equalBytes(request[k], requests[i]![k]), `${k} of item ${i}, size ${size}`);
        assert.ok(equalBytes(responseKey, sealed[i]!.responseKey) && equalBytes(responseKey, want.responseKey), `response key of item ${i}, size ${size}`);
      });
    } finally {
      await pool.close();
    }
  }
});

test('a pool on the noble backend agrees with one on the node backend', async () => {
  const sign = Array.from({ length: 9 }, (_, i) => ({ seed: edKey.seed, message: new Uint8Array([i]) }));
  const native = await CryptoPool.create({ size: 1, backend: 'node' });
  const noble = await CryptoPool.create({ size: 1, backend: 'noble' });
  try {
    const [x, y] = await Promise.all([native.run('signEd25519', sign), noble.run('signEd25519', sign)]);
    x.forEach((r, i) => assert.ok(equalBytes(bytesOf(r), bytesOf(y[i]!))));
    assert.is(noble.backend, 'noble');
  } finally { await Promise.all([native.close(), noble.close()]); }
});

test('results keep the order of the items across many chunks and concurrent batches', async () => {
  const pool = await CryptoPool.create({ size: 2, maxChunk: 3 });
  try {
    const batches = Array.from({ length: 12 }, (_, b) => Array.from({ length: 1 + b * 5 }, (_, i) => new Uint8Array([b, i, i >> 8])));
    const all = await Promise.all(batches.map((items) => pool.run('sha256', items)));
    all.forEach((res, b) => {
      assert.is(res.length, batches[b]!.length);
      res.forEach((r, i) => assert.ok(equalBytes(bytesOf(r), sha256(batches[b]![i]!)), `batch ${b} item ${i}`));
    });
    assert.ok(pool.stats().chunks > 24, 'the batches were split into chunks');
  } finally { await pool.close(); }
});

test('a bad item fails in its slot and the rest of the batch succeeds', async () => {
  const a = x25519KeyPair();
  const lowOrder = new Uint8Array(32) as X25519PublicKey; // u = 0
  const nonCanonical = new Uint8Array(32).fill(0xff) as X25519PublicKey; // bit 255 set
  for (const size of SIZES) {
    const pool = await CryptoPool.create({ size });
    try {
      const items = Array.from({ length: 9 }, () => ({ secretKey: a.secretKey, publicKey: x25519KeyPair().publicKey }));
      items[3] = { secretKey: a.secretKey, publicKey: lowOrder };
      items[4] = { secretKey: a.secretKey, publicKey: nonCanonical };
      items[6] = { secretKey: a.secretKey.subarray(1) as typeof a.secretKey, publicKey: items[6]!.publicKey };
      items[7] = { secretKey: 'nope', publicKey: items[7]!.publicKey } as unknown as (typeof items)[number];
      const res = await pool.run('x25519', items);
      assert.equal(res[3], { ok: false, error: 'LOW_ORDER_POINT' });
      assert.equal(res[4], { ok: false, error: 'NON_CANONICAL' });
      assert.equal(res[6], { ok: false, error: 'INVALID_LENGTH' });
      assert.equal(res[7], { ok: false, error: 'INVALID_TYPE' });
      for (const i of [0, 1, 2, 5, 8]) assert.ok(equalBytes(bytesOf(res[i]!), x25519(a.secretKey, items[i]!.publicKey)), `slot ${i}`);
    } finally { await pool.close(); }
  }
});

// ---- envelopes (spec/crypto.md §9) ------------------------------------------------------------

const mailbox = x25519KeyPair();
const sender = x25519KeyPair();
function sealItems(n: number, deterministic: boolean): SealEnvelopeItem[] {
  return Array.from({ length: n }, (_, i) => ({
    mailboxKey: mailbox.publicKey, sender, body: randomBytes(10 + i * 37),
    ...(i % 3 === 0 ? { bucket: 4096 } : {}),
    ...(deterministic ? { ephemeral: x25519KeyPair() } : {}),
  }));
}

test('sealEnvelopes and openEnvelopes give the inline results on pools of size 0, 1, 2', async () => {
  const items = sealItems(21, true);
  const inline = items.map((it) => sealEnvelope(it));
  for (const size of SIZES) {
    const pool = await CryptoPool.create({ size, maxChunk: 4 });
    try {
      const sealed = await pool.sealEnvelopes(items);
      sealed.forEach((r, i) => assert.ok(equalBytes(bytesOf(r), inline[i]!), `seal ${i}, size ${size}`));
      const opened = await pool.openEnvelopes(inline.map((envelope) => ({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope })));
      opened.forEach((r, i) => {
        assert.ok(r.ok, `open ${i}, size ${size}`);
        if (!r.ok) return;
        assert.ok(equalBytes(r.value.body, items[i]!.body));
        assert.ok(equalBytes(r.value.senderKey, sender.publicKey));
      });
    } finally { await pool.close(); }
  }
});

test('a corrupted envelope in the middle of a batch fails in its slot; the others open', async () => {
  const items = sealItems(11, false);
  const envelopes = items.map((it) => sealEnvelope(it));
  envelopes[5]![envelopes[5]!.length - 3]! ^= 0x40; // flip a bit of the AEAD tag
  envelopes[7] = envelopes[7]!.subarray(0, 20); // truncated
  for (const size of SIZES) {
    const pool = await CryptoPool.create({ size });
    try {
      const opened = await pool.openEnvelopes(envelopes.map((envelope) => ({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope })));
      assert.equal(opened[5], { ok: false, error: 'DECRYPT_FAILED' });
      assert.is(opened[7]!.ok, false);
      opened.forEach((r, i) => {
        if (i === 5 || i === 7) return;
        assert.ok(r.ok && equalBytes(r.value.body, items[i]!.body), `slot ${i}, size ${size}`);
        assert.ok(equalBytes(openEnvelope({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope: envelopes[i]! }).body, items[i]!.body));
      });
    } finally { await pool.close(); }
  }
});

// ---- back-pressure, transfer, close ------------------------------------------------------------

test('back-pressure: never more than maxQueue batches in flight; every batch completes', async () => {
  for (const size of SIZES) {
    const maxQueue = 3;
    const pool = await CryptoPool.create({ size, maxQueue });
    try {
      const items = verifyItems(8);
      let sawWaiting = 0;
      let maxSeen = 0;
      const calls = Array.from({ length: 40 }, async () => {
        const s = pool.stats();
        sawWaiting = Math.max(sawWaiting, s.waiting);
        const r = await pool.verifyEd25519(items);
        maxSeen = Math.max(maxSeen, pool.stats().inFlight);
        return r;
      });
      // Called while every slot is taken: resolves once one frees.
      const room = pool.room().then(() => pool.stats().inFlight);
      const all = await Promise.all(calls);
      assert.is(all.length, 40);
      for (const r of all) assert.equal(r.map((x) => x.ok && x.value), items.map((_, i) => i % 5 !== 3));
      const s = pool.stats();
      assert.ok(s.peakInFlight <= maxQueue, `peak ${s.peakInFlight}`);
      assert.ok(maxSeen <= maxQueue);
      assert.is(s.inFlight, 0);
      assert.is(s.waiting, 0);
      assert.is(s.batches, 40);
      if (size > 0) {
        assert.is(s.peakInFlight, maxQueue, 'the queue filled up');
        assert.ok(sawWaiting > 0 || s.peakInFlight === maxQueue, 'callers waited');
      }
      assert.ok((await room) <= maxQueue);
    } finally { await pool.close(); }
  }
});

test('runPacked transfers its buffer (detached after the call) and run() leaves the items intact', async () => {
  const pool = await CryptoPool.create({ size: 1 });
  try {
    const items = verifyItems(16);
    const buf = packBatch('verifyEd25519', items);
    assert.ok(buf.byteLength > 16 * 96);
    const pending = pool.runPacked('verifyEd25519', buf);
    const out = await pending;
    assert.is(buf.byteLength, 0, 'the request buffer was transferred, not copied');
    assert.ok(out instanceof ArrayBuffer && out.byteLength > 0);
    assert.equal(unpackResults('verifyEd25519', out).map((r) => r.ok && r.value), items.map((_, i) => i % 5 !== 3));
    // run() packs its own copy: the caller's arrays stay usable.
    await pool.verifyEd25519(items);
    for (const it of items) assert.is(it.signature.byteLength, 64);
    // Results of one chunk share that chunk's (transferred) result buffer.
    const h = await pool.run('sha256', [new Uint8Array(1), new Uint8Array(2)]);
    const a = bytesOf(h[0]!), b = bytesOf(h[1]!);
    assert.ok(a.buffer === b.buffer && a.buffer.byteLength < 4096, 'one fresh result buffer, not a Buffer pool slab');
  } finally { await pool.close(); }
});

test('close() rejects pending and waiting batches with POOL_CLOSED, and later calls too', async () => {
  const pool = await CryptoPool.create({ size: 2, maxQueue: 2 });
  const items = verifyItems(64);
  const calls = Array.from({ length: 6 }, () => pool.verifyEd25519(items).then(() => 'done', (e: unknown) => e));
  await new Promise((r) => setImmediate(r));
  await pool.close();
  const outcomes = await Promise.all(calls);
  assert.ok(outcomes.every((o) => isCryptoPoolError(o, 'POOL_CLOSED')), JSON.stringify(outcomes.map(String)));
  try {
    await pool.verifyEd25519(items);
    assert.unreachable('should reject');
  } catch (e) { assert.ok(isCryptoPoolError(e, 'POOL_CLOSED')); }
  await pool.close(); // idempotent
});

test('after close() the process exits by itself (no worker handle leaks)', async () => {
  const poolUrl = new URL('../../src/crypto/pool/index.js', import.meta.url).href;
  const script = `
    import { CryptoPool } from ${JSON.stringify(poolUrl)};
    const pool = await CryptoPool.create({ size: 2 });
    const items = Array.from({ length: 200 }, (_, i) => new Uint8Array([i]));
    await pool.run('sha256', items);
    const pending = pool.run('sha256', items).catch((e) => e.code);
    await pool.close();
    const left = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout');
    console.log(JSON.stringify({ pending: await pending, left }));
  `;
  // Process-wide flags that Node refuses in a worker's explicit execArgv, and --input-type,
  // which a worker must not inherit: the pool starts under both.
  const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=512', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | string>((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve('timeout'); }, 15_000);
    child.on('exit', (c) => { clearTimeout(t); resolve(c ?? -1); });
  });
  assert.is(code, 0, out);
  const line = JSON.parse(out.trim().split('\n').pop()!) as { pending: unknown; left: string[] };
  assert.ok(line.pending === 'POOL_CLOSED' || line.pending === undefined || Array.isArray(line.pending), out);
  assert.not.ok(line.left.includes('Worker'), `handles left: ${line.left.join(', ')}`);
});

test('a worker that dies fails its batches with WORKER_FAILED; a replacement takes over', async () => {
  const pool = await CryptoPool.create({ size: 1 });
  try {
    const items = verifyItems(400);
    const pending = pool.verifyEd25519(items).then(() => 'done', (e: unknown) => e);
    // Kill the worker from outside while it holds the batch (a crash, as far as the pool knows).
    const slots = (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
    await slots[0]!.worker.terminate();
    const outcome = await pending;
    assert.ok(isCryptoPoolError(outcome, 'WORKER_FAILED'), String(outcome));
    const again = await pool.verifyEd25519(items.slice(0, 10));
    assert.equal(again.map((r) => r.ok && r.value), items.slice(0, 10).map((_, i) => i % 5 !== 3));
    assert.is(pool.stats().inFlight, 0);
  } finally { await pool.close(); }
});

test('options are validated', async () => {
  for (const bad of [{ size: -1 }, { size: 1.5 }, { maxQueue: 0 }, { maxChunk: 0 }]) {
    try {
      await CryptoPool.create(bad);
      assert.unreachable(JSON.stringify(bad));
    } catch (e) { assert.ok(isCryptoPoolError(e, 'INVALID_ARGUMENT'), String(e)); }
  }
  const pool = await CryptoPool.create({ size: 0 });
  assert.equal(await pool.run('sha256', []), []);
  await pool.close();
});

test.run();

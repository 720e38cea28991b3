// A closed relay (spec/protocol.md §5.12, spec/admission.md §4): CREATE needs an unspent token
// of an open epoch, checked after every other check and spent in the mailbox's transaction;
// retention clamps TTLs; the policy and secrets reload; closed epochs' spent sets are dropped;
// and the store and log keep nothing of a token but its spent id.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeToken, spentId } from '../../src/admission/index.js';
import { randomBytes } from '../../src/crypto/index.js';
import { createMailbox, newMailboxKeys } from '../../src/client/mailbox.js';
import { LmdbStore } from '../../src/relay/lmdb-store.js';
import { makeOrganisation, type Organisation } from '../_support/organisation.js';
import { describeHits, readTree, scanNeedles } from '../_support/scan.js';
import { clientPool, errorOf, startTestRelay, tempDir, withRelay, type TestRelay } from './_helpers.js';

const HOUR = 3_600_000;

async function closedRelay(org: Organisation, extra: Parameters<typeof startTestRelay>[0] = {}): Promise<TestRelay> {
  return startTestRelay({ ...org.relayOptions, mailboxCreateBurst: 1_000, ...extra });
}

async function withClosed(fn: (t: TestRelay, org: Organisation, connect: () => ReturnType<ReturnType<typeof clientPool>['connect']>) => Promise<void>, extra = {}): Promise<void> {
  const dir = tempDir('sealpost-org-');
  const org = makeOrganisation(dir.path);
  const t = await closedRelay(org, extra);
  const pool = clientPool(t.relay.address);
  try {
    await fn(t, org, () => pool.connect());
  } finally {
    await pool.closeAll();
    await t.stop();
    dir.rm();
  }
}

const spentCount = async (dataDir: string, epoch: number): Promise<number> => {
  const store = new LmdbStore({ path: join(dataDir, 'store') });
  try { return await store.spentCount(epoch); } finally { await store.close(); }
};

test('members create mailboxes with tokens; no token, forged, malformed, spent and closed-epoch tokens get their codes', async () => {
  await withClosed(async (t, org, connect) => {
    const conn = await connect();
    const [good, second] = org.tokens(2);
    await createMailbox(conn, newMailboxKeys(), { token: good! });
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys())), 'ADMISSION_REQUIRED');
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: good! })), 'TOKEN_SPENT', 'a token works once');
    const forged = second!.slice();
    forged[100]! ^= 1; // the output's last byte
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: forged })), 'ADMISSION_REFUSED');
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: second!.subarray(0, 100) })), 'ADMISSION_REFUSED', 'malformed');
    const other = makeOrganisation(tempDir('sealpost-org-').path).tokens(1)[0]!; // same epoch number, another key
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: other })), 'ADMISSION_REFUSED', 'another organisation');
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: org.tokens(1, 1)[0]! })), 'TOKEN_EPOCH', 'an expired epoch');
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: org.tokens(1, 3)[0]! })), 'TOKEN_EPOCH', 'an epoch not open yet');
    const unknown = second!.slice();
    unknown[4] = 9; // epoch 9: not in the policy
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: unknown })), 'TOKEN_EPOCH');
    await createMailbox(conn, newMailboxKeys(), { token: second! }); // refused attempts spent nothing
    const m = t.relay.metricsText();
    assert.match(m, /sealpost_admission_tokens_spent_total\{epoch="2"\} 2/);
    assert.match(m, /sealpost_admission_refusals_total\{code="TOKEN_SPENT"\} 1/);
    assert.match(m, /sealpost_admission_refusals_total\{code="ADMISSION_REFUSED"\} 3/);
    assert.match(m, /sealpost_admission_refusals_total\{code="TOKEN_EPOCH"\} 3/);
  });
});

test('a CREATE that fails for another reason (DUPLICATE, INVALID, AUTH) does not spend its token', async () => {
  await withClosed(async (_t, org, connect) => {
    const conn = await connect();
    const keys = newMailboxKeys();
    await createMailbox(conn, keys, { token: org.tokens(1)[0]! });
    const [token] = org.tokens(1);
    assert.is(await errorOf(createMailbox(conn, keys, { token: token! })), 'DUPLICATE');
    const badKey = newMailboxKeys();
    (badKey as { deliveryKey: Uint8Array }).deliveryKey = new Uint8Array(32); // the all-zero X25519 point
    assert.is(await errorOf(createMailbox(conn, badKey, { token: token! })), 'INVALID');
    await createMailbox(conn, newMailboxKeys(), { token: token! });
  });
});

test('two CREATEs in flight with one token: one mailbox, one TOKEN_SPENT', async () => {
  await withClosed(async (_t, org, connect) => {
    const [a, b] = [await connect(), await connect()];
    const [token] = org.tokens(1);
    const results = await Promise.allSettled([createMailbox(a, newMailboxKeys(), { token: token! }), createMailbox(b, newMailboxKeys(), { token: token! })]);
    assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.is(await errorOf(Promise.reject(failed.reason)), 'TOKEN_SPENT');
  });
});

test('a restart keeps the spent set; an open relay refuses any token with INVALID', async () => {
  const dir = tempDir('sealpost-org-');
  const org = makeOrganisation(dir.path);
  const [token] = org.tokens(1);
  const first = await closedRelay(org);
  const pool1 = clientPool(first.relay.address);
  await createMailbox(await pool1.connect(), newMailboxKeys(), { token: token! });
  await pool1.closeAll();
  await first.stop({ keepData: true });
  const again = await closedRelay(org, { dataDir: first.dataDir });
  const pool2 = clientPool(again.relay.address);
  try {
    assert.is(await errorOf(createMailbox(await pool2.connect(), newMailboxKeys(), { token: token! })), 'TOKEN_SPENT');
  } finally {
    await pool2.closeAll();
    await again.stop();
  }
  await withRelay({}, async (open) => {
    const pool = clientPool(open.relay.address);
    try {
      assert.is(await errorOf(createMailbox(await pool.connect(), newMailboxKeys(), { token: org.tokens(1)[0]! })), 'INVALID');
    } finally {
      await pool.closeAll();
    }
  });
  dir.rm();
});

test('retention clamps the mailbox TTL; a reload takes a newer policy and refuses an older one', async () => {
  const dir = tempDir('sealpost-org-');
  const org = makeOrganisation(dir.path, { retentionSeconds: 3_600 });
  const t = await closedRelay(org, { maxTtlSeconds: 30 * 86_400 });
  const pool = clientPool(t.relay.address);
  try {
    const conn = await pool.connect();
    const keys = newMailboxKeys();
    await createMailbox(conn, keys, { token: org.tokens(1)[0]!, ttlSeconds: 20 * 86_400 });
    // Epoch 3 opens now in a new policy; its tokens were TOKEN_EPOCH before the reload.
    const now = Date.now();
    const w = org.policy.epochKeys.map((k) => ({ epoch: k.epoch, issueFrom: k.issueFrom, issueUntil: k.issueUntil, redeemUntil: k.redeemUntil }));
    const [early] = org.tokens(1, 3);
    assert.is(await errorOf(createMailbox(conn, newMailboxKeys(), { token: early! })), 'TOKEN_EPOCH');
    const oldSigned = org.signed;
    org.update({ windows: [w[0]!, w[1]!, { epoch: 3, issueFrom: now - 1_000, issueUntil: now + HOUR, redeemUntil: now + 2 * HOUR }] });
    assert.is(t.relay.reloadAdmission(), true);
    await createMailbox(conn, newMailboxKeys(), { token: early! });
    // An older policy (a lower serial) is refused: the relay keeps the newer one.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(org.relayOptions.policyFile, oldSigned);
    assert.is(t.relay.reloadAdmission(), false);
    assert.ok(t.logs.some((l) => l['event'] === 'admission_reload_failed'));
    await createMailbox(conn, newMailboxKeys(), { token: org.tokens(1, 3)[0]! });
    await pool.closeAll();
    await t.stop({ keepData: true });
    const store = new LmdbStore({ path: join(t.dataDir, 'store') });
    const iid = await store.findByReadId(keys.readId);
    assert.is((await store.getMailbox(iid!))!.ttlSeconds, 3_600, 'clamped to the retention');
    await store.close();
  } finally {
    await pool.closeAll();
    await t.stop();
    dir.rm();
  }
});

test('the sweeper drops the spent set of an epoch once its redemption window has closed', async () => {
  const dir = tempDir('sealpost-org-');
  let clock = Date.now();
  const org = makeOrganisation(dir.path, { now: clock });
  const t = await closedRelay(org, { now: () => clock });
  const pool = clientPool(t.relay.address);
  try {
    const conn = await pool.connect();
    for (const token of org.tokens(3, 2)) await createMailbox(conn, newMailboxKeys(), { token });
    await t.relay.sweepNow();
    await pool.closeAll();
    await t.stop({ keepData: true });
    assert.is(await spentCount(t.dataDir, 2), 3, 'kept while the epoch is open');
    clock += 2 * HOUR + 1; // past epoch 2's redeemUntil
    const again = await closedRelay(org, { now: () => clock, dataDir: t.dataDir });
    await again.relay.sweepNow();
    await again.stop({ keepData: true });
    assert.is(await spentCount(t.dataDir, 2), 0);
  } finally {
    await pool.closeAll();
    await t.stop();
    dir.rm();
  }
});

test('a relay with a policy that does not verify, or a secret that is not the policy key, does not start', async () => {
  const dir = tempDir('sealpost-org-');
  const org = makeOrganisation(dir.path);
  const other = makeOrganisation(tempDir('sealpost-org-').path);
  for (const [opts, what] of [
    [{ ...org.relayOptions, orgPublicKey: other.orgPublicKey }, /POLICY_SIGNATURE/],
    [{ ...org.relayOptions, epochSecretsFile: other.relayOptions.epochSecretsFile }, /not the policy's key/],
    [{ ...org.relayOptions, policyFile: join(dir.path, 'missing') }, /cannot read the policy file/],
    [{ policyFile: org.relayOptions.policyFile }, /together/],
  ] as const) {
    let err: Error | null = null;
    await startTestRelay(opts).then((r) => r.stop(), (e: Error) => { err = e; });
    assert.ok(err, `started with ${JSON.stringify(opts)}`);
    assert.match(String(err), what);
  }
  dir.rm();
});

test('fuzz: CREATE tokens of any length and bytes get typed errors only, and spend nothing', async () => {
  await withClosed(async (_t, org, connect) => {
    const conn = await connect();
    const [good] = org.tokens(1);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      let token: Uint8Array;
      if (i % 3 === 0) token = randomBytes(Math.floor(Math.random() * 300));
      else {
        token = good!.slice();
        for (let k = 0; k < 1 + (i % 4); k++) { const at = Math.floor(Math.random() * token.length); token[at] = token[at]! ^ (1 << (i % 8)); }
        if (i % 5 === 0) token = token.subarray(0, Math.floor(Math.random() * token.length));
        if (Buffer.compare(token, good!) === 0) token[0] = token[0]! ^ 0x80; // two flips that cancel: flip the version instead
      }
      const name = await errorOf(createMailbox(conn, newMailboxKeys(), { token }));
      seen.add(name);
      assert.ok(['ADMISSION_REQUIRED', 'ADMISSION_REFUSED', 'TOKEN_EPOCH'].includes(name), name);
    }
    assert.ok(seen.has('ADMISSION_REFUSED') && seen.has('TOKEN_EPOCH'), [...seen].join());
    await createMailbox(conn, newMailboxKeys(), { token: good! }); // the connection still works
  }, { keyOpsPerSecond: 1_000_000, keyOpsBurst: 1_000_000 }); // 300 CREATEs at once: this measures the token check, not the key-operation rate
});

test('privacy: the closed relay stores and logs nothing of a token but its spent id, and no address', async () => {
  const dir = tempDir('sealpost-org-');
  const org = makeOrganisation(dir.path);
  const logFile = join(dir.path, 'relay.log');
  const t = await startTestRelay({ ...org.relayOptions, logFile, log: undefined as never, logLevel: 'debug' });
  const pool = clientPool(t.relay.address);
  const tokens = org.tokens(4);
  try {
    const conn = await pool.connect();
    for (const token of tokens) await createMailbox(conn, newMailboxKeys(), { token });
    await errorOf(createMailbox(conn, newMailboxKeys(), { token: tokens[0]! }));
    await pool.closeAll();
    await t.stop({ keepData: true });
    const log = readFileSync(logFile);
    assert.match(log.toString(), /"closed":\{"policySerial":1/, 'the log was written');
    const haystacks = [...readTree(t.dataDir), { name: 'log', bytes: new Uint8Array(log) }];
    const needles = tokens.flatMap((tok, i) => {
      const d = decodeToken(tok);
      return [{ label: `token ${i}`, bytes: tok }, { label: `nonce ${i}`, bytes: d.nonce }, { label: `output ${i}`, bytes: d.output.subarray(0, 32) }, { label: `output tail ${i}`, bytes: d.output.subarray(32) }];
    });
    needles.push({ label: 'address', bytes: new Uint8Array(Buffer.from('127.0.0.1')) });
    const hits = scanNeedles(haystacks, needles);
    assert.equal(hits, [], describeHits(hits));
    // The spent ids are there: the scan can see the store.
    const ids = tokens.map((tok) => ({ label: 'spent', bytes: spentId(2, decodeToken(tok).nonce) }));
    assert.is(scanNeedles(haystacks, ids, { rawOnly: true }).length >= 4, true);
  } finally {
    await pool.closeAll();
    await t.stop();
    dir.rm();
  }
});

test.run();

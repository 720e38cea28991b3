// A closed relay as a process (spec/protocol.md §5.12, §11.4, §11.7): killed during CREATEs it
// keeps mailboxes and spent tokens together (one transaction); with `--processes 2` a token
// spent on one process is spent for the other (the spent set is in the shared LMDB store), and
// a newer policy reaches every process (SIGHUP, or the files' watch).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMailbox, newMailboxKeys } from '../../src/client/mailbox.js';
import { makeOrganisation } from '../_support/organisation.js';
import { startCluster } from './_cluster.js';
import { errorOf, sleep, spawnRelay, tempDir } from './_helpers.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { LmdbStore } from '../../src/relay/lmdb-store.js';

const HOUR = 3_600_000;

test('killed (SIGKILL) during CREATEs, the store has exactly as many spent tokens as mailboxes', async () => {
  const dir = tempDir('sealpost-closed-crash-');
  const org = makeOrganisation(dir.path);
  const o = org.relayOptions;
  const data = dir.path + '/data';
  const relay = await spawnRelay(['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', data, '--log-level', 'warn',
    '--mailbox-create-burst', '100000', '--policy-file', o.policyFile, '--org-public-key', o.orgPublicKey, '--epoch-secrets-file', o.epochSecretsFile]);
  const tokens = org.tokens(2_000);
  let created = 0;
  const conns = await Promise.all(Array.from({ length: 4 }, () => RelayConnection.connect(relay.address)));
  const loops = conns.map(async (conn) => {
    for (;;) {
      const token = tokens.pop();
      if (!token) return;
      try { await createMailbox(conn, newMailboxKeys(), { token }); created++; } catch { return; } // the kill ends it
    }
  });
  while (created < 150) await sleep(5);
  relay.child.kill('SIGKILL');
  await Promise.all(loops);
  await relay.exited;
  await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  const store = new LmdbStore({ path: data + '/store' });
  try {
    const { mailboxes } = await store.counts();
    assert.ok(mailboxes >= created, `every CREATED mailbox is there (${mailboxes} of ${created})`);
    assert.is(await store.spentCount(2), mailboxes, 'one spent token per mailbox: none without the other');
  } finally {
    await store.close();
    dir.rm();
  }
});

test('--processes 2: one token, one mailbox across processes; a newer policy (SIGHUP, or the file watch) reaches every process', async () => {
  const dir = tempDir('sealpost-closed-cluster-');
  const org = makeOrganisation(dir.path);
  const o = org.relayOptions;
  const c = await startCluster(dir.path + '/data', 2, ['--policy-file', o.policyFile, '--org-public-key', o.orgPublicKey, '--epoch-secrets-file', o.epochSecretsFile]);
  try {
    const a = await c.connectOn(0);
    const b = await c.connectOn(1);
    const [token, second] = org.tokens(2);
    await createMailbox(a, newMailboxKeys(), { token: token! });
    assert.is(await errorOf(createMailbox(b, newMailboxKeys(), { token: token! })), 'TOKEN_SPENT', 'spent on the other process');
    // Both at once on the two processes: the store's transaction decides.
    const both = await Promise.allSettled([createMailbox(a, newMailboxKeys(), { token: second! }), createMailbox(b, newMailboxKeys(), { token: second! })]);
    assert.is(both.filter((r) => r.status === 'fulfilled').length, 1);
    // Epoch 3 opens in a newer policy, read by both processes on SIGHUP.
    const now = Date.now();
    const w = org.policy.epochKeys.map((k) => ({ epoch: k.epoch, issueFrom: k.issueFrom, issueUntil: k.issueUntil, redeemUntil: k.redeemUntil }));
    org.update({ windows: [w[0]!, w[1]!, { epoch: 3, issueFrom: now - 1_000, issueUntil: now + HOUR, redeemUntil: now + 2 * HOUR }] });
    c.child.kill('SIGHUP');
    const [t0, t1] = org.tokens(2, 3);
    for (let i = 0; i < 50; i++) {
      const r = await createMailbox(a, newMailboxKeys(), { token: t0! }).then(() => 'ok', (e: unknown) => String(e));
      if (r === 'ok') break;
      assert.match(r, /TOKEN_EPOCH/);
      await sleep(100);
    }
    await createMailbox(b, newMailboxKeys(), { token: t1! });
  } finally {
    await c.closeAll();
    await c.stop('SIGTERM').catch(() => c.stop('SIGKILL'));
    dir.rm();
  }
});

test.run();

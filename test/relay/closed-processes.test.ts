// A closed relay with `--processes 2` (spec/protocol.md §5.12, §11.7): a token spent on one
// process is spent for the other (the spent set is in the shared LMDB store, written in the
// CREATE's transaction), and a newer policy reaches every process (SIGHUP, or the files' watch).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMailbox, newMailboxKeys } from '../../src/client/mailbox.js';
import { makeOrganisation } from '../_support/organisation.js';
import { startCluster } from './_cluster.js';
import { errorOf, sleep, tempDir } from './_helpers.js';

const HOUR = 3_600_000;

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

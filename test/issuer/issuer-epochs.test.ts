// Epochs at the issuer (spec/admission.md §3.5, §6.2, §7): when an epoch's issuing ends its
// per-member counts go into the audit log as token-count entries, and the log verifies; a
// restart logs what closed while the issuer was down, once; new keys, a new quota and a new
// policy are picked up without a restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isAdmissionError, issuingEpoch, prepareTokens, verifyAuditLog, verifyPolicy, type AuditAction } from '../../src/admission/index.js';
import { createEpochKeys, setQuota } from '../../src/admin/org-admin.js';
import { readAuditLog } from '../../src/admin/org-files.js';
import { writeFileSync } from 'node:fs';
import { memberRequest, startIssuerFixture, type IssuerFixture } from '../_support/directory.js';

const EPOCH_MS = 2000;
let fx: IssuerFixture;
test.before(async () => { fx = await startIssuerFixture({ users: ['alice', 'bob'], quota: 100, epochs: 8, epochMs: EPOCH_MS }); });
test.after(async () => { await fx.stop(); });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tokenCounts = (): Extract<AuditAction, { kind: 'token-count' }>[] =>
  verifyAuditLog(readAuditLog(fx.org.auditPath), fx.org.adminPublicKey).entries
    .map((e) => e.action).filter((a): a is Extract<AuditAction, { kind: 'token-count' }> => a.kind === 'token-count');

/** Fetches `n` tokens in the epoch issuing now, retrying once if the epoch turned meanwhile. */
async function fetchNow(session: string, n: number): Promise<number> {
  for (let i = 0; i < 2; i++) {
    const epoch = issuingEpoch(fx.org.policy(), Date.now()).epoch;
    const a = await fx.tokens(session, prepareTokens(epoch, n).request);
    if (a.status === 200) return epoch;
    assert.is(a.status, 409, Buffer.from(a.body).toString());
  }
  throw new Error('no epoch');
}

async function until(what: string, cond: () => boolean, ms = 6000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await sleep(50); }
}

test('when an epoch\'s issuing ends, its counts are appended as token-count entries and the log verifies', async () => {
  const a = await fx.login('alice'), b = await fx.login('bob');
  const ea = await fetchNow(a.session!, 3);
  const eb = await fetchNow(b.session!, 5);
  await until('token-count entries', () => tokenCounts().some((t) => t.epoch === ea) && tokenCounts().some((t) => t.epoch === eb));
  const counts = tokenCounts();
  const forA = counts.filter((t) => t.member === 'alice' && t.epoch === ea);
  assert.is(forA.length, 1);
  assert.is(forA[0]!.count, 3);
  assert.is(counts.find((t) => t.member === 'bob' && t.epoch === eb)!.count, 5);
  // Each (epoch, member) once, even after a restart.
  await fx.restartIssuer();
  const again = tokenCounts();
  assert.is(again.length, new Set(again.map((t) => `${t.epoch}/${t.member}`)).size);
});

test('a restart logs epochs that closed while the issuer was down', async () => {
  const a = await fx.login('alice');
  const e = await fetchNow(a.session!, 2);
  await fx.issuer.close();
  const closedAt = fx.org.policy().epochKeys.find((k) => k.epoch === e)!.issueUntil;
  await sleep(Math.max(0, closedAt - Date.now()) + 50);
  // close() itself logged nothing for e if e was still open; the restart does.
  await fx.restartIssuer();
  await until('the closed epoch\'s entry', () => tokenCounts().some((t) => t.epoch === e && t.member === 'alice'));
});

test('the issuer reloads a new quota and new epoch keys without a restart', async () => {
  const a = await fx.login('bob');
  setQuota(fx.org.dir, 1);
  await until('the new quota', () => fx.logs.some((l) => l.endsWith('quota 1')));
  const epoch = issuingEpoch(fx.org.policy(), Date.now()).epoch;
  const two = await fx.tokens(a.session, prepareTokens(epoch, 2).request);
  assert.ok([429, 409].includes(two.status), String(two.status));
  const serial = fx.org.policy().serial;
  createEpochKeys(fx.org.dir, 2);
  await until('the new policy', () => fx.logs.some((l) => l.includes(`policy serial ${serial + 1}`)));
  const served = verifyPolicy((await memberRequest(`${fx.issuer.url}/policy`)).body, fx.org.orgPublicKey);
  assert.is(served.serial, serial + 1);
});

test('the issuer refuses to start on an audit log that does not verify', async () => {
  const good = readAuditLog(fx.org.auditPath);
  const bad = good.slice();
  bad[40] = bad[40]! ^ 1; // inside entry 0
  await fx.issuer.close();
  writeFileSync(fx.org.auditPath, bad);
  try {
    await fx.restartIssuer();
    assert.unreachable('started on a broken log');
  } catch (e) { assert.ok(isAdmissionError(e, 'AUDIT_SIGNATURE'), String(e)); }
  writeFileSync(fx.org.auditPath, good);
  await fx.restartIssuer();
});

test.run();

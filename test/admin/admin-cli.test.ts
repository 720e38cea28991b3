// `sealpost admin` end to end as a subprocess (spec/admission.md §7.3): init, keys create,
// policy set/sign/show, quota set, keys rotate, counts, audit verify; --json output parses;
// key files are 0600; audit verify detects a changed, a removed and a reordered entry and a
// cut log (with --head), exiting non-zero with the AUDIT_* code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAuditLog, encodeAuditLog } from '../../src/admission/index.js';
import { repoPath } from '../_support/files.js';

const root = mkdtempSync(join(tmpdir(), 'sealpost-admin-'));
const org = join(root, 'org');
const main = repoPath('.build', 'src', 'cli', 'main.js');

function admin(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [main, 'admin', ...args], { encoding: 'utf8', env: { ...process.env, SEALPOST_ORG: org }, timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function json<T = Record<string, unknown>>(...args: string[]): T {
  const r = admin(...args, '--json');
  assert.is(r.code, 0, `${args.join(' ')}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

test.after(() => rmSync(root, { recursive: true, force: true }));

test('--help for the command and each subcommand', () => {
  for (const args of [['--help'], ['init', '--help'], ['keys', '--help'], ['policy', 'set', '--help'], ['quota', '--help'], ['counts', '--help'], ['audit', 'verify', '--help']]) {
    const r = admin(...args);
    assert.is(r.code, 0, args.join(' '));
    assert.match(r.out, /usage: sealpost admin/);
  }
  const bad = admin('frobnicate');
  assert.is(bad.code, 2);
  assert.match(bad.err, /unknown command/);
});

test('init, keys create, policy set/sign/show, quota set, rotation: files, modes and --json', () => {
  const init = json<{ orgPublicKey: string; adminPublicKey: string }>('init', '--epoch-length', '1h', '--grace', '2h', '--quota', '50');
  assert.match(init.orgPublicKey, /^[A-Za-z0-9_-]{43}$/);
  for (const f of ['org-key.json', 'admin-key.json', 'audit.log']) assert.is(statSync(join(org, f)).mode & 0o777, 0o600, f);
  assert.is(admin('init').code, 1, 'a second init is refused');
  const keys = json<{ serial: number; created: { epoch: number }[] }>('keys', 'create', '--count', '3');
  assert.is(keys.created.length, 3);
  assert.is(statSync(join(org, 'epoch-secrets.json')).mode & 0o777, 0o600);
  // A partner as hex, as a base64url fingerprint and as a relay address: one fingerprint each, in hex.
  const ab = Buffer.alloc(32, 0xab).toString('base64url');
  const set = json<{ draft: { retentionSeconds: number; partnerRelays: string[] } }>('policy', 'set', '--retention', '3d', '--min-timer', '1h', '--default-timer', '1d', '--max-devices', '3',
    '--partner', 'cd'.repeat(32), '--partner', ab, '--partner', `sealpost+wss://${Buffer.alloc(32, 0xef).toString('base64url')}@relay.partner.example:443`);
  assert.equal([...set.draft.partnerRelays].sort(), ['ab'.repeat(32), 'cd'.repeat(32), 'ef'.repeat(32)]);
  assert.is(admin('policy', 'set', '--partner', 'not-a-relay').code, 2, 'a partner that is no fingerprint is a usage error');
  json('policy', 'set', '--clear-partners', '--partner', 'cd'.repeat(32));
  assert.is(set.draft.retentionSeconds, 259_200);
  const badDraft = admin('policy', 'set', '--min-timer', '2d', '--json');
  assert.is(badDraft.code, 1);
  assert.is((JSON.parse(badDraft.out) as { error: string }).error, 'POLICY_INVALID');
  const signed = json<{ serial: number }>('policy', 'sign');
  assert.is(signed.serial, keys.serial + 1);
  const shown = json<{ serial: number; maxDevicesPerMember: number; partnerRelays: string[]; epochKeys: unknown[] }>('policy', 'show');
  assert.equal([shown.serial, shown.maxDevicesPerMember, shown.partnerRelays, shown.epochKeys.length], [signed.serial, 3, ['cd'.repeat(32)], 3]);
  assert.equal(json('quota', 'set', '20'), { tokensPerEpoch: 20 });
  assert.is(admin('quota', 'set', 'many').code, 2);
  json('keys', 'rotate', 'admin');
  const rot = json<{ serial: number; orgPublicKey: string }>('keys', 'rotate', 'org');
  assert.ok(rot.orgPublicKey !== init.orgPublicKey);
  assert.is(json<{ serial: number }>('policy', 'show').serial, rot.serial, 'the re-signed policy verifies under the new key');
  const v = json<{ ok: boolean; entries: number; kinds: Record<string, number> }>('audit', 'verify');
  assert.equal(v.kinds, { 'log-start': 1, 'epoch-key': 3, 'policy-change': 3, 'quota-change': 1, 'admin-key-rotation': 1 });
});

test('a key file readable by others is refused, naming the fix', () => {
  chmodSync(join(org, 'admin-key.json'), 0o644);
  const r = admin('quota', 'set', '21', '--json');
  chmodSync(join(org, 'admin-key.json'), 0o600);
  assert.is(r.code, 1);
  assert.match(r.err, /chmod 600/);
  assert.is((JSON.parse(r.out) as { error: string }).error, 'INVALID_ARGUMENT');
});

test('counts reads the issuer store and a relay\'s metrics', async () => {
  const { IssuerStore } = await import('../../src/issuer/issuer-store.js');
  const data = join(root, 'issuer');
  const s = new IssuerStore(data);
  s.addIssued(7, 'alice', 32, 100); s.addIssued(7, 'bob', 8, 100); s.addIssued(8, 'alice', 1, 100);
  await s.close();
  const { createServer } = await import('node:http');
  const metrics = createServer((_q, r) => r.end('# TYPE x counter\nsealpost_mailboxes 12\nsealpost_queue_envelopes 3\nsealpost_envelopes_in_total 40\nsealpost_admission_tokens_spent_total{epoch="7"} 25\n'));
  await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(metrics.address() as { port: number }).port}/metrics`;
  try {
    const r = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
      // Asynchronously: the metrics server runs in this process.
      void import('node:child_process').then(({ execFile }) => execFile(process.execPath, [main, 'admin', 'counts', '--issuer-data', data, '--relay-metrics', url, '--json', '--org', org],
        (e, out, err) => resolve({ code: e ? (e as { code?: number }).code ?? 1 : 0, out, err })));
    });
    assert.is(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out), {
      epochs: [{ epoch: 7, members: 2, tokensIssued: 40, tokensSpent: 25 }, { epoch: 8, members: 1, tokensIssued: 1, tokensSpent: 0 }],
      relay: { mailboxes: 12, envelopesQueued: 3, envelopesAccepted: 40 },
    });
  } finally { metrics.close(); }
});

test('audit verify detects a changed, a removed and a reordered entry, and a cut log with --head', () => {
  const logPath = join(org, 'audit.log');
  const good = new Uint8Array(readFileSync(logPath));
  const head = json<{ head: string }>('audit', 'verify').head;
  const { encoded } = decodeAuditLog(good);
  const tampered = join(root, 'tampered.log');
  const expect = (bytes: Uint8Array, code: string, extra: string[] = []): void => {
    writeFileSync(tampered, bytes);
    const r = admin('audit', 'verify', '--log', tampered, ...extra);
    assert.is(r.code, 1, `${code}: ${r.out}`);
    assert.match(r.err, new RegExp(code));
    const j = admin('audit', 'verify', '--log', tampered, '--json', ...extra);
    assert.is((JSON.parse(j.out) as { error: string }).error, code);
  };
  const changed = encoded.map((e) => e.slice());
  changed[2]![20] = changed[2]![20]! ^ 1; // inside entry 2's time or prev
  expect(encodeAuditLog(changed), 'AUDIT_SIGNATURE');
  expect(encodeAuditLog(encoded.filter((_, i) => i !== 3)), 'AUDIT_CHAIN');
  expect(encodeAuditLog([encoded[0]!, encoded[2]!, encoded[1]!, ...encoded.slice(3)]), 'AUDIT_CHAIN');
  expect(encodeAuditLog(encoded.slice(0, -1)), 'AUDIT_HEAD', ['--head', head]);
  expect(good.subarray(0, good.length - 5), 'AUDIT_MALFORMED');
  // The untouched log still verifies against the same head.
  writeFileSync(tampered, good);
  assert.is(admin('audit', 'verify', '--log', tampered, '--head', head).code, 0);
});

test.run();

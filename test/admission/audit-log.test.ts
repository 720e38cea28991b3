// The audit log (spec/admission.md §6): a verified chain, then each way of tampering with it:
// a changed, removed, inserted or reordered entry, a bad signature, a truncated or forked log;
// and a fuzz of every single-byte change of an encoded log, which must give only AUDIT_* errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AUDIT_KINDS, AdmissionError, adminPublicKey, appendAuditEntry, decodeAuditLog, encodeAuditLog, epochKeyPair, verifyAuditLog,
  type AuditAction, type AuditHead,
} from '../../src/admission/index.js';
import { ed25519KeyPair, randomBytes, type Ed25519Seed } from '../../src/crypto/index.js';
import { throws } from './_helpers.js';


const T0 = 1_800_000_000_000;
const admin = ed25519KeyPair();
const admin2 = ed25519KeyPair();
const k = epochKeyPair(1);

function build(actions: [AuditAction, Ed25519Seed][]): { entries: Uint8Array[]; heads: AuditHead[] } {
  let head: AuditHead | undefined;
  const entries: Uint8Array[] = [], heads: AuditHead[] = [];
  actions.forEach(([a, seed], i) => {
    const r = appendAuditEntry(head, T0 + i * 1000, a, seed);
    entries.push(r.entry); heads.push(r.head); head = r.head;
  });
  return { entries, heads };
}

const ACTIONS: [AuditAction, Ed25519Seed][] = [
  [{ kind: 'log-start', adminKey: admin.publicKey }, admin.seed],
  [{ kind: 'epoch-key', epoch: 1, publicKey: k.publicKey, issueFrom: T0, issueUntil: T0 + 1, redeemUntil: T0 + 2 }, admin.seed],
  [{ kind: 'policy-change', serial: 1, policyHash: randomBytes(32) }, admin.seed],
  [{ kind: 'quota-change', tokensPerEpoch: 200 }, admin.seed],
  [{ kind: 'token-count', epoch: 1, member: 'f3a9c2e0-5b1d-4c7e-9a10-2d4b6e8f0a1c', count: 32 }, admin.seed],
  [{ kind: 'admin-key-rotation', adminKey: admin2.publicKey }, admin.seed],
  [{ kind: 'token-count', epoch: 1, member: 'alice@directory', count: 64 }, admin2.seed],
];
const { entries, heads } = build(ACTIONS);
const log = encodeAuditLog(entries);
const ROTATION = ACTIONS.findIndex(([a]) => a.kind === 'admin-key-rotation');

test('a log of every kind verifies, and a key rotation hands over signing', () => {
  const v = verifyAuditLog(log, admin.publicKey);
  assert.equal(v.entries.map((e) => e.action.kind), ACTIONS.map(([a]) => a.kind));
  assert.equal(new Set(v.entries.map((e) => e.action.kind)), new Set(AUDIT_KINDS));
  assert.equal(v.head, heads.at(-1));
  assert.equal(v.adminKey, admin2.publicKey);
  assert.equal(verifyAuditLog(log, admin.publicKey, { head: heads[3]! }).head, heads.at(-1));
  assert.is(decodeAuditLog(log).entries.length, ACTIONS.length);
});

test('a changed entry: AUDIT_SIGNATURE', () => {
  // Re-encoded with one field changed and the old signature kept.
  const forged = build([...ACTIONS.slice(0, 4), [{ kind: 'token-count', epoch: 1, member: 'f3a9c2e0-5b1d-4c7e-9a10-2d4b6e8f0a1c', count: 33 }, admin.seed], ...ACTIONS.slice(5)]);
  const changed = [...entries];
  changed[4] = new Uint8Array([...forged.entries[4]!.subarray(0, forged.entries[4]!.length - 64), ...entries[4]!.subarray(entries[4]!.length - 64)]);
  throws('count changed', () => verifyAuditLog(encodeAuditLog(changed), admin.publicKey), 'AUDIT_SIGNATURE');
  throws('another admin key', () => verifyAuditLog(log, ed25519KeyPair().publicKey), 'AUDIT_SIGNATURE');
  // An entry after the rotation signed by the old key.
  const stale = build([...ACTIONS.slice(0, 6), [ACTIONS[6]![0], admin.seed]]);
  throws('old key after rotation', () => verifyAuditLog(encodeAuditLog(stale.entries), admin.publicKey), 'AUDIT_SIGNATURE');
  // A whole log re-signed by someone else, starting with their key.
  const other = ed25519KeyPair();
  const resigned = build(ACTIONS.map(([a], i) => [i === 0 ? { kind: 'log-start', adminKey: other.publicKey } : a, other.seed] as [AuditAction, Ed25519Seed]));
  throws('re-signed log', () => verifyAuditLog(encodeAuditLog(resigned.entries), admin.publicKey), 'AUDIT_SIGNATURE');
});

test('a removed, inserted or reordered entry: AUDIT_CHAIN', () => {
  for (let i = 0; i < entries.length - 1; i++) {
    const removed = entries.filter((_, j) => j !== i);
    // Removing the rotation leaves the next entry signed by a key not yet in force.
    throws(`entry ${i} removed`, () => verifyAuditLog(encodeAuditLog(removed), admin.publicKey), i === ROTATION ? 'AUDIT_SIGNATURE' : 'AUDIT_CHAIN');
  }
  for (let i = 0; i + 1 < entries.length; i++) {
    const swapped = [...entries];
    [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    throws(`entries ${i} and ${i + 1} swapped`, () => verifyAuditLog(encodeAuditLog(swapped), admin.publicKey), i === ROTATION ? 'AUDIT_SIGNATURE' : 'AUDIT_CHAIN');
  }
  // An entry properly signed by the admin key, but for another place in the log.
  const elsewhere = appendAuditEntry(heads[1], T0 + 1500, { kind: 'quota-change', tokensPerEpoch: 1 }, admin.seed).entry;
  throws('inserted', () => verifyAuditLog(encodeAuditLog([...entries.slice(0, 3), elsewhere, ...entries.slice(3)]), admin.publicKey), 'AUDIT_CHAIN');
  throws('duplicated', () => verifyAuditLog(encodeAuditLog([...entries.slice(0, 3), entries[2]!, ...entries.slice(3)]), admin.publicKey), 'AUDIT_CHAIN');
  throws('empty log', () => verifyAuditLog(new Uint8Array(0), admin.publicKey), 'AUDIT_CHAIN');
  // A second log-start, signed and chained, is still refused.
  const restart = appendAuditEntry(undefined, T0, ACTIONS[0]![0], admin.seed).entry;
  throws('log-start twice', () => verifyAuditLog(encodeAuditLog([entries[0]!, restart]), admin.publicKey), 'AUDIT_CHAIN');
});

test('a log cut before the remembered head, or forked from it: AUDIT_HEAD', () => {
  throws('last entry cut', () => verifyAuditLog(encodeAuditLog(entries.slice(0, -1)), admin.publicKey, { head: heads.at(-1)! }), 'AUDIT_HEAD');
  const fork = build([...ACTIONS.slice(0, 3), [{ kind: 'quota-change', tokensPerEpoch: 999 }, admin.seed]]);
  throws('forked', () => verifyAuditLog(encodeAuditLog(fork.entries), admin.publicKey, { head: heads[3]! }), 'AUDIT_HEAD');
});

test('appending refuses a second start, a missing start and time going back', () => {
  throws('no start', () => appendAuditEntry(undefined, T0, ACTIONS[1]![0], admin.seed), 'INVALID_ARGUMENT');
  throws('second start', () => appendAuditEntry(heads[0], T0, ACTIONS[0]![0], admin.seed), 'INVALID_ARGUMENT');
  throws('time back', () => appendAuditEntry(heads[3], T0, ACTIONS[3]![0], admin.seed), 'INVALID_ARGUMENT');
  // Members are directory subjects: no spaces, no control or non-ASCII characters, 1-255 bytes.
  for (const member of ['', 'a b', 'x'.repeat(256), 'é', 'a\nb']) {
    throws(`member ${JSON.stringify(member).slice(0, 20)}`, () => appendAuditEntry(heads[0], T0, { kind: 'token-count', epoch: 1, member, count: 1 }, admin.seed), 'AUDIT_MALFORMED');
  }
  throws('unknown kind', () => appendAuditEntry(heads[0], T0, { kind: 'mailbox-created' } as never, admin.seed), 'AUDIT_MALFORMED');
  assert.equal(adminPublicKey(admin.seed), admin.publicKey);
});

test('fuzz: every single-byte change of the encoded log fails with an AUDIT_* code', () => {
  const codes = new Map<string, number>();
  for (let i = 0; i < log.length; i++) {
    for (const x of [1, 0x80 >> (i % 8), 0xff]) {
      const c = log.slice(); c[i]! ^= x;
      try {
        verifyAuditLog(c, admin.publicKey);
        assert.unreachable(`byte ${i} ^ ${x} was accepted`);
      } catch (e) {
        if (!(e instanceof AdmissionError) || !e.code.startsWith('AUDIT_')) throw new Error(`byte ${i} ^ ${x}: ${String(e)}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
  }
  assert.ok((codes.get('AUDIT_SIGNATURE') ?? 0) > 0 && (codes.get('AUDIT_MALFORMED') ?? 0) > 0, JSON.stringify([...codes]));
});

test('fuzz: random byte strings and truncations give only AUDIT_* codes', () => {
  // A log cut at an entry boundary is a valid shorter log: the remembered head catches it.
  const head = heads.at(-1)!;
  for (let n = 0; n < 300; n++) {
    const b = n % 2 === 0 ? randomBytes(n) : log.subarray(0, (n * 7) % log.length);
    try { verifyAuditLog(b, admin.publicKey, { head }); assert.unreachable('accepted'); } catch (e) {
      if (!(e instanceof AdmissionError) || !e.code.startsWith('AUDIT_')) throw new Error(`input ${n}: ${String(e)}`);
    }
  }
});

test.run();

// The organisation's directory of files (spec/admission.md §7.3, §7.4): the organisation and
// admin keys, the settings that `sealpost admin` keeps (policy draft, quota, epoch lengths),
// the signed policy, the epoch secrets and the audit log. Node file I/O only: every write is
// atomic (a temporary file, fsync, rename), secrets are mode 0600, the audit log is appended
// under a lock file with fsync so that the issuer and `sealpost admin` never fork it.
import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  appendAuditEntry, decodeEpochSecrets, verifyAuditLog, verifyPolicy, AdmissionError,
  type AuditAction, type AuditHead, type EpochSecret, type OrgPolicy,
} from '../admission/index.js';
import { equalBytes, ed25519PublicFromSeed, ed25519Seed, fromBase64url, randomBytes, toBase64url, type Ed25519PublicKey, type Ed25519Seed } from '../crypto/index.js';

/** File names inside the organisation directory. */
export const ORG_FILES = {
  orgKey: 'org-key.json', // the organisation's Ed25519 seed: signs policies (keep offline when you can)
  adminKey: 'admin-key.json', // the admin's Ed25519 seed: signs audit entries (on the issuer's host)
  settings: 'org.json', // public: keys, first admin key, quota, epoch lengths, policy draft
  policy: 'policy.bin', // the latest signed policy (§5.1)
  secrets: 'epoch-secrets.json', // §7.4
  audit: 'audit.log', // §6.3
} as const;

/** What `policy set` edits; `policy sign` turns it into a signed policy with the epoch keys. */
export interface PolicyDraft {
  retentionSeconds: number;
  minTimerSeconds: number;
  defaultTimerSeconds: number;
  maxDevicesPerMember: number;
  partnerRelays: string[]; // fingerprints, hex
}

/** org.json: nothing secret. `firstAdminKey` is what `audit verify` starts from (§6.4). */
export interface OrgSettings {
  version: 1;
  orgPublicKey: string; // base64url
  firstAdminKey: string; // base64url
  tokensPerEpoch: number; // the issuer's per-member quota (§3.3)
  epochSeconds: number; // §7.1 E
  graceSeconds: number; // §7.1 G
  draft: PolicyDraft;
}

const bad = (message: string): never => { throw new AdmissionError('INVALID_ARGUMENT', message); };

/** Writes a file atomically: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${toBase64url(randomBytes(6))}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

interface KeyFileV1 { version: 1; kind: string; seed: string; publicKey: string }

export function writeKeyFile(path: string, kind: 'sealpost-org-key' | 'sealpost-admin-key', seed: Ed25519Seed): void {
  const file: KeyFileV1 = { version: 1, kind, seed: toBase64url(seed), publicKey: toBase64url(ed25519PublicFromSeed(seed)) };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
}

export function readKeyFile(path: string, kind: 'sealpost-org-key' | 'sealpost-admin-key'): { seed: Ed25519Seed; publicKey: Ed25519PublicKey } {
  let file: Partial<KeyFileV1>;
  try { file = JSON.parse(readFileSync(path, 'utf8')) as Partial<KeyFileV1>; } catch (e) {
    return bad(`${path}: cannot read the key file (${(e as NodeJS.ErrnoException).code ?? 'not JSON'})`);
  }
  if (file.version !== 1 || file.kind !== kind || typeof file.seed !== 'string') bad(`${path}: not a ${kind} file`);
  // A key file readable by others is refused, as ssh does: the secret may have leaked.
  if ((statSync(path).mode & 0o077) !== 0) bad(`${path}: key file must not be readable by group or others (chmod 600)`);
  const seed = ed25519Seed(fromBase64url(file.seed!), 'seed');
  return { seed, publicKey: ed25519PublicFromSeed(seed) };
}

export function readSettings(dir: string): OrgSettings {
  const path = join(dir, ORG_FILES.settings);
  if (!existsSync(path)) bad(`${path} not found: run \`sealpost admin init --org ${dir}\` first`);
  let s: OrgSettings;
  try { s = JSON.parse(readFileSync(path, 'utf8')) as OrgSettings; } catch { return bad(`${path}: not JSON`); }
  if (s.version !== 1 || typeof s.orgPublicKey !== 'string' || typeof s.firstAdminKey !== 'string' || typeof s.draft !== 'object') bad(`${path}: not an organisation settings file`);
  if (!Number.isInteger(s.tokensPerEpoch) || s.tokensPerEpoch < 0) bad(`${path}: tokensPerEpoch must be a non-negative integer`);
  return s;
}

export function writeSettings(dir: string, s: OrgSettings): void {
  writeFileAtomic(join(dir, ORG_FILES.settings), `${JSON.stringify(s, null, 2)}\n`, 0o644);
}

export const orgPublicKeyOf = (s: OrgSettings): Ed25519PublicKey => fromBase64url(s.orgPublicKey) as Ed25519PublicKey;

/** The signed policy and its decoding, or undefined before the first `policy sign`. */
export function readPolicy(dir: string, s: OrgSettings = readSettings(dir)): { signed: Uint8Array; policy: OrgPolicy } | undefined {
  const path = join(dir, ORG_FILES.policy);
  if (!existsSync(path)) return undefined;
  const signed = new Uint8Array(readFileSync(path));
  return { signed, policy: verifyPolicy(signed, orgPublicKeyOf(s)) };
}

export function readSecrets(dir: string): EpochSecret[] {
  const path = join(dir, ORG_FILES.secrets);
  if (!existsSync(path)) return [];
  if ((statSync(path).mode & 0o077) !== 0) bad(`${path}: must not be readable by group or others (chmod 600)`);
  return decodeEpochSecrets(readFileSync(path, 'utf8'));
}

// ---- §6.3 the audit log file -------------------------------------------------------------------

export function readAuditLog(path: string): Uint8Array {
  return existsSync(path) ? new Uint8Array(readFileSync(path)) : new Uint8Array(0);
}

const LOCK_STALE_MS = 30_000;

/** Runs `fn` holding `path.lock` (O_EXCL); a lock older than 30 s is taken as left by a crash. */
function withLock<T>(path: string, fn: () => T): T {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try { closeSync(openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)); break; } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try { if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) { unlinkSync(lock); continue; } } catch { continue; }
      if (Date.now() > deadline) bad(`${lock} is held by another process`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try { return fn(); } finally { try { unlinkSync(lock); } catch { /* already gone */ } }
}

/**
 * Appends entries to the log (§6.3) after verifying what is there from `firstAdminKey`, each
 * signed by `adminSeed` (the key in force), under the lock, with one fsync. Returns the new head.
 */
export function appendAudit(
  path: string, firstAdminKey: Ed25519PublicKey, adminSeed: Ed25519Seed, actions: readonly AuditAction[], now: number = Date.now(),
): AuditHead | undefined {
  return withLock(path, () => {
    const log = readAuditLog(path);
    const verified = log.length === 0 ? undefined : verifyAuditLog(log, firstAdminKey);
    let head: AuditHead | undefined = verified?.head;
    if (verified !== undefined && !equalBytes(verified.adminKey, ed25519PublicFromSeed(adminSeed))) {
      bad(`${path}: the admin key given is not the one in force in the log`);
    }
    if (actions.length === 0) return head;
    const chunks: Uint8Array[] = [];
    for (const a of actions) {
      const r = appendAuditEntry(head, Math.max(now, head?.time ?? 0), a, adminSeed);
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, r.entry.length);
      chunks.push(len, r.entry);
      head = r.head;
    }
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      const bytes = Buffer.concat(chunks);
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally { closeSync(fd); }
    return head;
  });
}

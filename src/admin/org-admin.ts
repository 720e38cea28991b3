// `sealpost admin`'s operations (spec/admission.md §7.3) as functions over the organisation's
// directory (org-files.ts): each one changes files atomically and appends what it did to the
// audit log (§6.2), so the CLI is only parsing and printing.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  AdmissionError, encodeEpochSecrets, epochKeyPair, policyHash, signPolicy, verifyAuditLog,
  type AuditAction, type AuditHead, type EpochKey, type EpochSecret, type OrgPolicy,
} from '../admission/index.js';
import { ed25519KeyPair, fromBase64url, fromHex, toBase64url, toHex, type Ed25519PublicKey } from '../crypto/index.js';
import {
  appendAudit, ORG_FILES, orgPublicKeyOf, readAuditLog, readKeyFile, readPolicy, readSecrets, readSettings,
  writeFileAtomic, writeKeyFile, writeSettings, type OrgSettings, type PolicyDraft,
} from './org-files.js';

const bad = (message: string): never => { throw new AdmissionError('INVALID_ARGUMENT', message); };

export const DEFAULT_DRAFT: PolicyDraft = { retentionSeconds: 7 * 86_400, minTimerSeconds: 0, defaultTimerSeconds: 0, maxDevicesPerMember: 5, partnerRelays: [] };

function audit(dir: string, s: OrgSettings, actions: AuditAction[], now: number): AuditHead | undefined {
  const admin = readKeyFile(join(dir, ORG_FILES.adminKey), 'sealpost-admin-key');
  return appendAudit(join(dir, ORG_FILES.audit), fromBase64url(s.firstAdminKey) as Ed25519PublicKey, admin.seed, actions, now);
}

/** `init`: the organisation and admin keys, settings with a default policy draft, the log's log-start. */
export function initOrganisation(dir: string, opts: { epochSeconds?: number; graceSeconds?: number; tokensPerEpoch?: number; now?: number } = {}): OrgSettings {
  if (existsSync(join(dir, ORG_FILES.settings))) bad(`${dir} already holds an organisation`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const org = ed25519KeyPair(), admin = ed25519KeyPair();
  const epochSeconds = opts.epochSeconds ?? 86_400, graceSeconds = opts.graceSeconds ?? 86_400;
  if (!Number.isInteger(epochSeconds) || epochSeconds < 1) bad('the epoch length must be a whole number of seconds, at least 1');
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0) bad('the grace must be a whole number of seconds');
  writeKeyFile(join(dir, ORG_FILES.orgKey), 'sealpost-org-key', org.seed);
  writeKeyFile(join(dir, ORG_FILES.adminKey), 'sealpost-admin-key', admin.seed);
  const s: OrgSettings = {
    version: 1, orgPublicKey: toBase64url(org.publicKey), firstAdminKey: toBase64url(admin.publicKey),
    tokensPerEpoch: opts.tokensPerEpoch ?? 128, epochSeconds, graceSeconds, draft: { ...DEFAULT_DRAFT },
  };
  writeSettings(dir, s);
  audit(dir, s, [{ kind: 'log-start', adminKey: admin.publicKey }], opts.now ?? Date.now());
  return s;
}

/** The epoch whose issuing window holds `t`: epochs are numbered from the Unix epoch (§7.1). */
export const epochAt = (s: OrgSettings, t: number): number => Math.floor(t / (s.epochSeconds * 1000));

function epochWindow(s: OrgSettings, epoch: number): Omit<EpochKey, 'publicKey'> {
  const e = s.epochSeconds * 1000;
  return { epoch, issueFrom: epoch * e, issueUntil: (epoch + 1) * e, redeemUntil: (epoch + 1) * e + s.graceSeconds * 1000 };
}

/** Signs and writes a new policy (serial + 1) with these epoch keys and the draft; logs policy-change. */
function publishPolicy(
  dir: string, s: OrgSettings, epochKeys: readonly EpochKey[], now: number, extra: AuditAction[] = [], prevSerial = readPolicy(dir, s)?.policy.serial ?? 0,
): { policy: OrgPolicy; signed: Uint8Array } {
  const org = readKeyFile(join(dir, ORG_FILES.orgKey), 'sealpost-org-key');
  if (toBase64url(org.publicKey) !== s.orgPublicKey) bad(`${ORG_FILES.orgKey} is not the organisation key of ${ORG_FILES.settings}`);
  const d = s.draft;
  const policy: OrgPolicy = {
    serial: prevSerial + 1, issuedAt: now,
    retentionSeconds: d.retentionSeconds, minTimerSeconds: d.minTimerSeconds, defaultTimerSeconds: d.defaultTimerSeconds,
    maxDevicesPerMember: d.maxDevicesPerMember, partnerRelays: [...d.partnerRelays].sort().map((h) => fromHex(h)), epochKeys,
  };
  const signed = signPolicy(policy, org.seed);
  writeFileAtomic(join(dir, ORG_FILES.policy), signed, 0o644);
  audit(dir, s, [...extra, { kind: 'policy-change', serial: policy.serial, policyHash: policyHash(signed) }], now);
  return { policy, signed };
}

/**
 * `keys create`: keys for the next `count` epochs (from the one open now, or after the last
 * keyed), into the secrets file, with epoch-key entries and a new signed policy. Secrets and
 * listed keys whose redemption window has passed are dropped: that is how a key dies (§7.2).
 */
export function createEpochKeys(dir: string, count: number, now: number = Date.now()): { created: EpochKey[]; dropped: number[]; serial: number } {
  if (!Number.isInteger(count) || count < 1 || count > 64) bad('count must be 1 to 64');
  const s = readSettings(dir);
  const prev = readPolicy(dir, s)?.policy.epochKeys ?? [];
  const live = prev.filter((k) => k.redeemUntil > now);
  const liveEpochs = new Set(live.map((k) => k.epoch));
  const secrets = readSecrets(dir);
  const keptSecrets = secrets.filter((x) => liveEpochs.has(x.epoch));
  const first = Math.max(epochAt(s, now), (live[live.length - 1]?.epoch ?? -1) + 1);
  const made: EpochSecret[] = Array.from({ length: count }, (_, i) => epochKeyPair(first + i));
  const created: EpochKey[] = made.map((m) => ({ ...epochWindow(s, m.epoch), publicKey: m.publicKey }));
  writeFileAtomic(join(dir, ORG_FILES.secrets), encodeEpochSecrets([...keptSecrets, ...made]), 0o600);
  const { policy } = publishPolicy(dir, s, [...live, ...created], now, created.map((k) => ({ kind: 'epoch-key' as const, ...k })));
  const dropped = [...new Set([...prev.map((k) => k.epoch), ...secrets.map((x) => x.epoch)])].filter((e) => !liveEpochs.has(e));
  return { created, dropped, serial: policy.serial };
}

/** `keys rotate admin`: a new admin key, announced by an entry signed with the old one. */
export function rotateAdminKey(dir: string, now: number = Date.now()): Ed25519PublicKey {
  const s = readSettings(dir);
  const next = ed25519KeyPair();
  audit(dir, s, [{ kind: 'admin-key-rotation', adminKey: next.publicKey }], now);
  writeKeyFile(join(dir, ORG_FILES.adminKey), 'sealpost-admin-key', next.seed);
  return next.publicKey;
}

/**
 * `keys rotate org`: a new organisation key and the policy re-signed with it. Clients and
 * relays pin the organisation key: they must be given the new one (printed by the command).
 */
export function rotateOrgKey(dir: string, now: number = Date.now()): { orgPublicKey: Ed25519PublicKey; serial: number } {
  const s = readSettings(dir);
  const prev = readPolicy(dir, s)?.policy; // verified under the old key, before it changes
  const next = ed25519KeyPair();
  writeKeyFile(join(dir, ORG_FILES.orgKey), 'sealpost-org-key', next.seed);
  const s2 = { ...s, orgPublicKey: toBase64url(next.publicKey) };
  writeSettings(dir, s2);
  const { policy } = publishPolicy(dir, s2, prev?.epochKeys ?? [], now, [], prev?.serial ?? 0);
  return { orgPublicKey: next.publicKey, serial: policy.serial };
}

/** `policy set`: changes the draft (checked now by a trial signature) without signing it. */
export function setPolicyDraft(dir: string, change: Partial<PolicyDraft>): PolicyDraft {
  const s = readSettings(dir);
  const draft: PolicyDraft = { ...s.draft, ...change };
  for (const f of draft.partnerRelays) if (!/^[0-9a-f]{64}$/.test(f)) bad(`partner relay fingerprint ${f} is not 64 hex digits`);
  draft.partnerRelays = [...new Set(draft.partnerRelays)].sort();
  // The policy codec's rules (§5.2), checked on a throwaway signature.
  signPolicy({ serial: 0, issuedAt: 0, ...draft, partnerRelays: draft.partnerRelays.map((h) => fromHex(h)), epochKeys: [] }, ed25519KeyPair().seed);
  writeSettings(dir, { ...s, draft });
  return draft;
}

/** `policy sign`: the draft and the current epoch keys as a new signed policy. */
export function signPolicyNow(dir: string, now: number = Date.now()): { policy: OrgPolicy; signed: Uint8Array } {
  const s = readSettings(dir);
  return publishPolicy(dir, s, readPolicy(dir, s)?.policy.epochKeys ?? [], now);
}

/** `quota set`: the issuer's per-member tokens per epoch; logs quota-change. */
export function setQuota(dir: string, tokensPerEpoch: number, now: number = Date.now()): void {
  if (!Number.isInteger(tokensPerEpoch) || tokensPerEpoch < 0 || tokensPerEpoch > 0xffffffff) bad('the quota must be a whole number of tokens');
  const s = readSettings(dir);
  writeSettings(dir, { ...s, tokensPerEpoch });
  audit(dir, s, [{ kind: 'quota-change', tokensPerEpoch }], now);
}

/** `audit verify`: §6.4 from the first admin key of the settings (or `firstAdminKey`). */
export function verifyAuditFile(path: string, firstAdminKey: Ed25519PublicKey, head?: { seq: number; hash: Uint8Array }) {
  return verifyAuditLog(readAuditLog(path), firstAdminKey, head ? { head: { ...head, time: 0 } } : {});
}

/** A policy as JSON-friendly values, for `policy show`. */
export function policyJson(p: OrgPolicy, signed: Uint8Array): Record<string, unknown> {
  return {
    serial: p.serial, issuedAt: new Date(p.issuedAt).toISOString(), policyHash: toHex(policyHash(signed)),
    retentionSeconds: p.retentionSeconds, minTimerSeconds: p.minTimerSeconds, defaultTimerSeconds: p.defaultTimerSeconds,
    maxDevicesPerMember: p.maxDevicesPerMember, partnerRelays: p.partnerRelays.map((f) => toHex(f)),
    epochKeys: p.epochKeys.map((k) => ({
      epoch: k.epoch, publicKey: toBase64url(k.publicKey), issueFrom: new Date(k.issueFrom).toISOString(),
      issueUntil: new Date(k.issueUntil).toISOString(), redeemUntil: new Date(k.redeemUntil).toISOString(),
    })),
  };
}

export { orgPublicKeyOf };

// An organisation directory made with `sealpost admin`'s own functions: keys, a quota, epoch
// keys from the epoch open now, a signed policy and an audit log.
import { join } from 'node:path';
import { createEpochKeys, initOrganisation } from '../../src/admin/org-admin.js';
import { ORG_FILES, orgPublicKeyOf, readKeyFile, readPolicy, readSettings } from '../../src/admin/org-files.js';
import type { OrgPolicy } from '../../src/admission/index.js';
import type { Ed25519PublicKey, Ed25519Seed } from '../../src/crypto/index.js';

export interface OrgSetup {
  readonly dir: string;
  readonly orgPublicKey: Ed25519PublicKey;
  readonly adminPublicKey: Ed25519PublicKey;
  readonly adminSeed: Ed25519Seed;
  policy(): OrgPolicy;
  readonly auditPath: string;
}

export function createOrganisation(dir: string, opts: { quota: number; epochs: number; epochMs: number; graceMs?: number; now?: number }): OrgSetup {
  const now = opts.now ?? Date.now();
  initOrganisation(dir, { epochSeconds: Math.max(1, Math.round(opts.epochMs / 1000)), graceSeconds: Math.round((opts.graceMs ?? opts.epochMs) / 1000), tokensPerEpoch: opts.quota, now });
  createEpochKeys(dir, opts.epochs, now);
  const admin = readKeyFile(join(dir, ORG_FILES.adminKey), 'sealpost-admin-key');
  return {
    dir, orgPublicKey: orgPublicKeyOf(readSettings(dir)), adminPublicKey: admin.publicKey, adminSeed: admin.seed,
    policy: () => readPolicy(dir)!.policy,
    auditPath: join(dir, ORG_FILES.audit),
  };
}

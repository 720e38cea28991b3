// An organisation for closed-relay benchmarks and tests (spec/admission.md): its key, epoch
// keys, a signed policy and the files a closed relay reads (§7.4), and tokens issued directly
// with the pure token functions (no issuer service).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  encodeEpochSecrets, epochKeyPair, evaluateIssueRequest, finishTokens, issuingEpoch, prepareTokens, signPolicy,
  type EpochSecret, type OrgPolicy,
} from '../../src/admission/index.js';
import { ed25519KeyPair, toBase64url, type Ed25519KeyPair } from '../../src/crypto/index.js';

const HOUR = 3_600_000;

export interface EpochWindow { epoch: number; issueFrom: number; issueUntil: number; redeemUntil: number }

export interface Organisation {
  readonly key: Ed25519KeyPair;
  readonly orgPublicKey: string;
  secrets: EpochSecret[];
  policy: OrgPolicy;
  signed: Uint8Array;
  /** Re-signs with these changes, serial + 1, and rewrites the files. */
  update(change: Partial<OrgPolicy> & { windows?: EpochWindow[] }): void;
  /** The relay's settings for this organisation's files. */
  readonly relayOptions: { policyFile: string; orgPublicKey: string; epochSecretsFile: string };
  /** `n` tokens of `epoch`, issued directly (no HTTP). */
  tokens(n: number, epoch?: number): Uint8Array[];
}

/**
 * Epoch 1 closed an hour ago, epoch 2 is issuing now, epoch 3 opens in an hour (default
 * windows). Files are written under `dir`.
 */
export function makeOrganisation(dir: string, opts: { windows?: EpochWindow[]; retentionSeconds?: number; maxDevicesPerMember?: number; now?: number } = {}): Organisation {
  const now = opts.now ?? Date.now();
  const windows = opts.windows ?? [
    { epoch: 1, issueFrom: now - 3 * HOUR, issueUntil: now - 2 * HOUR, redeemUntil: now - HOUR },
    { epoch: 2, issueFrom: now - HOUR, issueUntil: now + HOUR, redeemUntil: now + 2 * HOUR },
    { epoch: 3, issueFrom: now + HOUR, issueUntil: now + 3 * HOUR, redeemUntil: now + 4 * HOUR },
  ];
  const key = ed25519KeyPair();
  const policyFile = join(dir, 'policy.bin');
  const epochSecretsFile = join(dir, 'epoch-secrets.json');
  const org: Organisation = {
    key, orgPublicKey: toBase64url(key.publicKey), secrets: [],
    policy: null as unknown as OrgPolicy, signed: new Uint8Array(0),
    relayOptions: { policyFile, orgPublicKey: toBase64url(key.publicKey), epochSecretsFile },
    update(change) {
      const { windows: w, ...rest } = change;
      if (w) {
        const known = new Map(org.secrets.map((s) => [s.epoch, s]));
        org.secrets = w.map((x) => known.get(x.epoch) ?? epochKeyPair(x.epoch));
      }
      const keys = w ?? org.policy.epochKeys;
      org.policy = {
        ...org.policy, ...rest, serial: (org.policy?.serial ?? 0) + 1, issuedAt: Date.now(),
        epochKeys: keys.map((x) => ({ epoch: x.epoch, publicKey: org.secrets.find((s) => s.epoch === x.epoch)!.publicKey, issueFrom: x.issueFrom, issueUntil: x.issueUntil, redeemUntil: x.redeemUntil })),
      };
      org.signed = signPolicy(org.policy, key.seed);
      writeFileSync(policyFile, org.signed);
      writeFileSync(epochSecretsFile, encodeEpochSecrets(org.secrets), { mode: 0o600 });
    },
    tokens(n, epoch = issuingEpoch(org.policy, Date.now()).epoch) {
      const secret = org.secrets.find((s) => s.epoch === epoch)!;
      const out: Uint8Array[] = [];
      while (out.length < n) {
        const { pending, request } = prepareTokens(epoch, Math.min(64, n - out.length));
        out.push(...finishTokens(pending, evaluateIssueRequest(secret, request), secret.publicKey));
      }
      return out;
    },
  };
  org.policy = {
    serial: 0, issuedAt: now, retentionSeconds: opts.retentionSeconds ?? 7 * 86_400, minTimerSeconds: 0, defaultTimerSeconds: 0,
    maxDevicesPerMember: opts.maxDevicesPerMember ?? 4, partnerRelays: [], epochKeys: [],
  };
  org.update({ windows });
  return org;
}


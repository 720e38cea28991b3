// The epoch secrets file (spec/admission.md §7.4): the token secret keys that the issuer and
// a closed relay share, kept by `sealpost admin` and read by both. The windows of each epoch
// are not here: they come from the signed policy (§5), so a secret whose epoch the policy does
// not list is never used. A pure codec over JSON text; the caller writes it with mode 0600.
import { equalBytes, fromBase64url, toBase64url } from '../crypto/index.js';
import { AdmissionError } from './errors.js';
import { epochKeyOf, type OrgPolicy } from './policy.js';
import { epochSecret, type EpochSecret, type RedeemKey } from './token.js';

export const EPOCH_SECRETS_VERSION = 1;
const KIND = 'sealpost-epoch-secrets';

interface FileV1 { version: 1; kind: typeof KIND; epochs: { epoch: number; secretKey: string }[] }

const bad = (message: string): never => { throw new AdmissionError('INVALID_ARGUMENT', `epoch secrets file: ${message}`); };

/** The file's text for these secrets, by ascending epoch. */
export function encodeEpochSecrets(secrets: readonly EpochSecret[]): string {
  const sorted = [...secrets].sort((a, b) => a.epoch - b.epoch);
  sorted.forEach((s, i) => { if (i > 0 && sorted[i - 1]!.epoch === s.epoch) bad(`epoch ${s.epoch} appears twice`); });
  const file: FileV1 = { version: EPOCH_SECRETS_VERSION, kind: KIND, epochs: sorted.map((s) => ({ epoch: s.epoch, secretKey: toBase64url(s.secretKey) })) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Parses and checks the file: INVALID_ARGUMENT naming what is wrong. */
export function decodeEpochSecrets(text: string): EpochSecret[] {
  let file: Partial<FileV1>;
  try { file = JSON.parse(text) as Partial<FileV1>; } catch { return bad('not JSON'); }
  if (typeof file !== 'object' || file === null || file.version !== EPOCH_SECRETS_VERSION || file.kind !== KIND) bad('unknown version or kind');
  if (!Array.isArray(file.epochs)) bad('epochs must be an array');
  const out: EpochSecret[] = [];
  for (const e of file.epochs!) {
    if (typeof e !== 'object' || e === null || typeof e.secretKey !== 'string') bad('each epoch needs an epoch and a secretKey');
    let s: EpochSecret;
    try { s = epochSecret(e.epoch, fromBase64url(e.secretKey)); } catch (cause) {
      throw new AdmissionError('INVALID_ARGUMENT', `epoch secrets file: epoch ${String(e.epoch)} has an invalid key`, { cause });
    }
    if (out.length > 0 && out[out.length - 1]!.epoch >= s.epoch) bad('epochs must be strictly ascending');
    out.push(s);
  }
  return out;
}

/**
 * The secrets that the policy lists, each checked against the policy's public key for its
 * epoch (a secret that does not match is a misconfiguration: INVALID_ARGUMENT, §2.4).
 */
export function secretsInPolicy(policy: OrgPolicy, secrets: readonly EpochSecret[]): EpochSecret[] {
  const listed = new Set(policy.epochKeys.map((k) => k.epoch));
  return secrets.filter((s) => listed.has(s.epoch)).map((s) => {
    if (!equalBytes(epochKeyOf(policy, s.epoch).publicKey, s.publicKey)) bad(`the secret of epoch ${s.epoch} is not the policy's key`);
    return s;
  });
}

/** The relay's lookup (§4.1): the redemption window of each epoch from the policy, with its secret. */
export function redeemKeys(policy: OrgPolicy, secrets: readonly EpochSecret[]): (epoch: number) => RedeemKey | undefined {
  const keys = new Map<number, RedeemKey>();
  for (const s of secretsInPolicy(policy, secrets)) {
    const k = epochKeyOf(policy, s.epoch);
    keys.set(s.epoch, { secretKey: s.secretKey, redeemFrom: k.issueFrom, redeemUntil: k.redeemUntil });
  }
  return (epoch) => keys.get(epoch);
}

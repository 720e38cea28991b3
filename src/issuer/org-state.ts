// What the issuer reads from the organisation's directory (spec/admission.md §5, §7.4): the
// signed policy, the epoch secrets that it lists, the per-member quota and the admin key that
// signs token-count entries. Reloaded when the files change or on SIGHUP, so admins rotate keys
// without a restart; a reload that fails keeps what was loaded before.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { AdmissionError, issuingEpoch, secretsInPolicy, type EpochKey, type EpochSecret, type OrgPolicy } from '../admission/index.js';
import { fromBase64url, type Ed25519PublicKey, type Ed25519Seed } from '../crypto/index.js';
import { ORG_FILES, readKeyFile, readPolicy, readSecrets, readSettings } from '../admin/org-files.js';

export interface OrgState {
  readonly signedPolicy: Uint8Array;
  readonly policy: OrgPolicy;
  readonly secrets: ReadonlyMap<number, EpochSecret>;
  readonly tokensPerEpoch: number;
  readonly firstAdminKey: Ed25519PublicKey;
  readonly adminSeed: Ed25519Seed;
  readonly auditPath: string;
}

/** Loads and checks everything; INVALID_ARGUMENT (or a policy code) naming what is wrong. */
export function loadOrgState(orgDir: string): OrgState {
  const settings = readSettings(orgDir);
  const p = readPolicy(orgDir, settings);
  if (p === undefined) throw new AdmissionError('INVALID_ARGUMENT', `${join(orgDir, ORG_FILES.policy)} not found: run \`sealpost admin keys create\` first`);
  const secrets = secretsInPolicy(p.policy, readSecrets(orgDir));
  return {
    signedPolicy: p.signed, policy: p.policy,
    secrets: new Map(secrets.map((s) => [s.epoch, s])),
    tokensPerEpoch: settings.tokensPerEpoch,
    firstAdminKey: fromBase64url(settings.firstAdminKey) as Ed25519PublicKey,
    adminSeed: readKeyFile(join(orgDir, ORG_FILES.adminKey), 'sealpost-admin-key').seed,
    auditPath: join(orgDir, ORG_FILES.audit),
  };
}

/** The epoch issuing at `now` and its secret; TOKEN_EPOCH if none, or if its secret is missing. */
export function issuingKey(state: OrgState, now: number): { key: EpochKey; secret: EpochSecret } {
  const key = issuingEpoch(state.policy, now);
  const secret = state.secrets.get(key.epoch);
  if (secret === undefined) throw new AdmissionError('TOKEN_EPOCH', `no secret for the issuing epoch ${key.epoch}`);
  return { key, secret };
}

/** Holds the current state; reloads on file changes (debounced) and on demand. */
export class OrgStateHolder {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly orgDir: string,
    public current: OrgState,
    private readonly onReload: (ok: boolean, detail: string) => void,
  ) {}

  reload(): boolean {
    try {
      const next = loadOrgState(this.orgDir);
      const changed = next.policy.serial !== this.current.policy.serial || next.secrets.size !== this.current.secrets.size
        || next.tokensPerEpoch !== this.current.tokensPerEpoch;
      this.current = next;
      if (changed) this.onReload(true, `policy serial ${next.policy.serial}, ${next.secrets.size} epoch secrets, quota ${next.tokensPerEpoch}`);
      return true;
    } catch (e) {
      this.onReload(false, (e as Error).message);
      return false;
    }
  }

  watch(): void {
    // Writes are atomic renames into the directory: watch the directory, not the files.
    this.watcher = watch(this.orgDir, { persistent: false }, (_event, name) => {
      if (name === null || !(Object.values(ORG_FILES) as string[]).includes(String(name)) || name === ORG_FILES.audit) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), 100);
    });
  }

  close(): void { this.watcher?.close(); clearTimeout(this.timer); }
}

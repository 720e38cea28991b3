// A closed relay's admission (spec/admission.md §4.3): the organisation's signed policy and the
// epoch secrets file, read at start and again when either file changes or on SIGHUP, and the
// check of a CREATE's token (§4.1 steps 1–3; step 4, the spend, is in the mailbox's commit).
// The token check runs on the event loop: one RFC 9497 Evaluate per CREATE that passed every
// other check (and spent its address's CREATE budget), so its rate is bounded by that budget.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import {
  AdmissionError, decodeEpochSecrets, redeemKeys, verifyPolicy, verifyToken,
  type OrgPolicy, type RedeemKey,
} from '../admission/index.js';
import { ed25519PublicKey, fromBase64url } from '../crypto/index.js';
import { ProtocolError } from '../wire/index.js';
import { ConfigError, type RelayConfig } from './config.js';
import type { Logger } from './log.js';
import type { Store, TokenSpend } from './store.js';

/** How often the files are looked at for a change (fs.watchFile polls: it works on every file system). */
const WATCH_INTERVAL_MS = 1_000;

interface Loaded { readonly policy: OrgPolicy; readonly keyFor: (epoch: number) => RedeemKey | undefined }

export interface AdmissionFiles { readonly policyFile: string; readonly orgPublicKey: string; readonly epochSecretsFile: string }

/** The closed-relay settings of a config, or null for an open relay. */
export function admissionFiles(c: RelayConfig): AdmissionFiles | null {
  if (c.policyFile === undefined || c.orgPublicKey === undefined || c.epochSecretsFile === undefined) return null;
  return { policyFile: c.policyFile, orgPublicKey: c.orgPublicKey, epochSecretsFile: c.epochSecretsFile };
}

function load(files: AdmissionFiles): Loaded {
  const read = (path: string, what: string): Buffer => {
    try { return readFileSync(path); } catch (e) {
      throw new ConfigError(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  try {
    const policy = verifyPolicy(new Uint8Array(read(files.policyFile, 'policy file')), ed25519PublicKey(fromBase64url(files.orgPublicKey), 'orgPublicKey'));
    const secrets = decodeEpochSecrets(read(files.epochSecretsFile, 'epoch secrets file').toString('utf8'));
    return { policy, keyFor: redeemKeys(policy, secrets) };
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = e instanceof AdmissionError ? e.code : 'INVALID_ARGUMENT';
    throw new ConfigError(`closed relay: ${code}: ${(e as Error).message}`);
  }
}

/** The wire error for a token refused by §4.1 (spec/protocol.md §7). */
function refusal(e: unknown): never {
  if (e instanceof AdmissionError && (e.code === 'TOKEN_EPOCH' || e.code === 'ADMISSION_REFUSED')) throw new ProtocolError(e.code);
  throw e;
}

export interface AdmissionEvents {
  reloaded(policy: OrgPolicy): void;
  /** A reload failed: the relay keeps what it had. */
  reloadFailed(e: unknown): void;
}

export class AdmissionGate {
  private current: Loaded;
  private watching = false;
  /** This gate's own listener: unwatchFile removes it alone (other relays in the process may watch the same files). */
  private readonly onChange = (): void => { this.reload(); };

  constructor(private readonly files: AdmissionFiles, private readonly events: AdmissionEvents) {
    this.current = load(files);
  }

  get policy(): OrgPolicy { return this.current.policy; }

  /**
   * Reads both files again. A policy of a lower serial than the one in force is refused
   * (spec/admission.md §5.3), as is anything that does not verify; the relay then keeps the old.
   */
  reload(): boolean {
    try {
      const next = load(this.files);
      if (next.policy.serial < this.current.policy.serial) {
        throw new ConfigError(`closed relay: policy serial ${next.policy.serial} is older than ${this.current.policy.serial} in force`);
      }
      this.current = next;
      this.events.reloaded(next.policy);
      return true;
    } catch (e) {
      this.events.reloadFailed(e);
      return false;
    }
  }

  /** Reloads when either file changes (a rename over it, as editors and `sealpost admin` do, included). */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    for (const f of [this.files.policyFile, this.files.epochSecretsFile]) watchFile(f, { interval: WATCH_INTERVAL_MS, persistent: false }, this.onChange);
  }

  close(): void {
    if (!this.watching) return;
    this.watching = false;
    for (const f of [this.files.policyFile, this.files.epochSecretsFile]) unwatchFile(f, this.onChange);
  }

  /**
   * §4.1 steps 1–3 for a CREATE's token: ADMISSION_REQUIRED without one, ADMISSION_REFUSED for
   * a malformed or forged one, TOKEN_EPOCH outside its epoch's window. What to spend with the
   * mailbox's commit (step 4).
   */
  check(token: Uint8Array, now: number): TokenSpend {
    if (token.length === 0) throw new ProtocolError('ADMISSION_REQUIRED');
    try {
      return verifyToken(token, this.current.keyFor, now);
    } catch (e) {
      return refusal(e);
    }
  }

  /** The longest an envelope or unused mailbox may stay (the policy's retention, §5.4). */
  get retentionSeconds(): number { return this.current.policy.retentionSeconds; }

  /** Whether tokens of `epoch` can no longer be redeemed: its set may be dropped (§4.2, §7.2). */
  closedEpoch(epoch: number, now: number): boolean {
    const keys = this.current.policy.epochKeys;
    const k = keys.find((e) => e.epoch === epoch);
    // An epoch the policy no longer lists is over if it is before those it lists (§7.2).
    return k === undefined ? keys.length === 0 || epoch < keys[0]!.epoch : now >= k.redeemUntil;
  }
}

/**
 * The sweeper's part for a closed relay (spec/admission.md §4.2, §7.2): drops the spent sets of
 * epochs whose redemption window has closed, whose tokens are refused before the set is asked.
 * Resolves with the number of spent ids dropped.
 */
export async function dropClosedEpochs(ctx: { readonly admission: AdmissionGate | null; readonly store: Store; readonly now: () => number; readonly log: Logger }): Promise<number> {
  const gate = ctx.admission;
  if (gate === null) return 0;
  let dropped = 0;
  for (const epoch of await ctx.store.spentEpochs()) {
    if (!gate.closedEpoch(epoch, ctx.now())) continue;
    const n = await ctx.store.dropSpentEpoch(epoch);
    ctx.log.info('admission_epoch_dropped', { epoch, spentIds: n });
    dropped += n;
  }
  return dropped;
}

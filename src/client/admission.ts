// The SDK's side of a closed deployment (spec/admission.md §3.5, §3.6, §5.3; spec/client.md
// §10.1): the organisation's signed policy, fetched from its issuer and verified under the
// organisation key the app configured (the trust anchor), and a wallet of admission tokens,
// fetched in fixed batches ahead of need at a random time, never at the moment of a CREATE,
// and spent one per CREATE. Platform-free: `fetch` and timers only, so it runs in browsers.
import {
  checkShownKey, decodeToken, epochKeyOf, finishTokens, isAdmissionError, issuingEpoch, prepareTokens, verifyPolicy,
  type AdmissionErrorCode, type OrgPolicy,
} from '../admission/index.js';
import { ed25519PublicKey, equalBytes, fromBase64url, type Ed25519PublicKey } from '../crypto/index.js';
import { ClientError, type ClientErrorCode } from './errors.js';

/** Tokens asked for in one request (§3.6): fixed, so the issuer's counts blur to multiples of it. */
export const TOKEN_BATCH = 32;
/** A refill is scheduled when the issuing epoch's stock falls below this. */
export const TOKEN_LOW_WATER = 8;
/** The random wait before a refill (ms): long enough that the issuer's clock does not line up with CREATEs. */
export const REFILL_DELAY_MS = { min: 30_000, max: 15 * 60_000 } as const;
/** Most tokens the wallet keeps (a few batches of the open epochs). */
const MAX_TOKENS = 4 * TOKEN_BATCH;

export interface OrganisationOptions {
  /** The issuer's base URL (https://issuer.example.org), serving GET /policy and POST /tokens (spec/admission.md §3.5). */
  readonly issuerUrl: string;
  /** The organisation's Ed25519 public key (32 bytes, or base64url): the policy must verify under it. */
  readonly orgPublicKey: Uint8Array | string;
  /** The session from the issuer's login (`#session=` of /callback); setSession() gives a later one. */
  readonly session?: string;
  /** Tokens per request (default 32, at most 64). */
  readonly batchSize?: number;
  /** Refill below this many tokens of the issuing epoch (default 8). */
  readonly lowWater?: number;
  /** The random wait before a refill, in ms (default 30 s to 15 min). */
  readonly refillDelayMs?: { readonly min: number; readonly max: number };
  /** The fetch to use (default: the global one). */
  readonly fetch?: typeof fetch;
}

/** What the wallet keeps in the profile store (record `admission`, spec/client.md §7.2). */
export interface WalletRecord { policy: Uint8Array | null; tokens: Uint8Array[]; session: string | null }

/** One token lent to one CREATE: settle it with what the relay answered. */
export interface TokenTicket {
  readonly token: Uint8Array;
  /** The relay spent it (CREATED), or it can never be spent (TOKEN_SPENT, ADMISSION_REFUSED, TOKEN_EPOCH): forget it. */
  used(): void;
  /** The relay did not spend it (any other answer, or none): it goes back to the wallet. */
  unused(): void;
}

/** The §3.5 error codes of /tokens, which become ClientErrors of the same names. */
const ISSUER_CODES: ReadonlySet<string> = new Set(['ADMISSION_REQUIRED', 'ADMISSION_REFUSED', 'TOKEN_EPOCH', 'QUOTA_EXCEEDED']);

/** The admission layer's codes the wallet can meet, as ClientErrors (spec/client.md §11). */
const CLIENT_CODE: Partial<Record<AdmissionErrorCode, ClientErrorCode>> = {
  ADMISSION_REQUIRED: 'ADMISSION_REQUIRED', ADMISSION_REFUSED: 'ADMISSION_REFUSED', TOKEN_EPOCH: 'TOKEN_EPOCH', QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  ISSUER_INVALID: 'ISSUER_INVALID', POLICY_INVALID: 'POLICY_INVALID', POLICY_SIGNATURE: 'POLICY_INVALID',
};

const fail = (code: ClientErrorCode, message: string, cause?: unknown): never => {
  throw new ClientError(code, message, cause === undefined ? undefined : { cause });
};

const asClientError = (e: unknown, what: string): ClientError => {
  if (e instanceof ClientError) return e;
  const code = isAdmissionError(e) ? CLIENT_CODE[e.code] ?? 'INTERNAL' : 'INTERNAL';
  return new ClientError(code, `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
};

function orgKeyOf(k: Uint8Array | string): Ed25519PublicKey {
  try {
    return ed25519PublicKey(typeof k === 'string' ? fromBase64url(k) : k, 'orgPublicKey');
  } catch (e) {
    return fail('INVALID_ARGUMENT', 'organisation.orgPublicKey must be a 32-byte Ed25519 public key', e);
  }
}

export class TokenWallet {
  private readonly orgKey: Ed25519PublicKey;
  private readonly base: string;
  private readonly batch: number;
  private readonly lowWater: number;
  private readonly delay: { readonly min: number; readonly max: number };
  private signed: Uint8Array | null = null;
  private current: OrgPolicy | null = null;
  private session: string | null;
  /** Unspent tokens, oldest first; `lent` holds those out with a CREATE. */
  private tokens: Uint8Array[] = [];
  private readonly lent = new Set<Uint8Array>();
  private refill: ReturnType<typeof setTimeout> | null = null;
  private fetching: Promise<number> | null = null;
  private closed = false;

  constructor(
    private readonly opts: OrganisationOptions,
    /** Persists the wallet (called with the newest state after every change). */
    private readonly persist: (rec: WalletRecord) => Promise<void>,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    if (typeof opts.issuerUrl !== 'string' || !/^https?:\/\/[^\s/]+/.test(opts.issuerUrl)) fail('INVALID_ARGUMENT', 'organisation.issuerUrl must be an http(s) URL');
    this.orgKey = orgKeyOf(opts.orgPublicKey);
    this.base = opts.issuerUrl.replace(/\/+$/, '');
    this.batch = opts.batchSize ?? TOKEN_BATCH;
    if (!Number.isInteger(this.batch) || this.batch < 1 || this.batch > 64) fail('INVALID_ARGUMENT', 'organisation.batchSize must be in 1 .. 64');
    this.lowWater = opts.lowWater ?? TOKEN_LOW_WATER;
    this.delay = opts.refillDelayMs ?? REFILL_DELAY_MS;
    if (!(this.delay.min >= 0 && this.delay.max >= this.delay.min)) fail('INVALID_ARGUMENT', 'organisation.refillDelayMs needs 0 <= min <= max');
    this.session = opts.session ?? null;
  }

  /** What the profile store held (a policy is checked again: the organisation key may have changed). */
  restore(rec: WalletRecord | null): void {
    if (!rec) return;
    if (rec.policy) {
      try {
        this.current = verifyPolicy(rec.policy, this.orgKey);
        this.signed = rec.policy;
        this.tokens = rec.tokens.filter((t) => t instanceof Uint8Array);
      } catch {
        // Not this organisation's: neither the policy nor its tokens are kept.
      }
    }
    if (this.opts.session === undefined) this.session = rec.session;
  }

  get policy(): OrgPolicy | null { return this.current; }

  /** Unspent tokens that a CREATE could use now. */
  stock(): number {
    const now = this.now();
    return this.tokens.filter((t) => !this.lent.has(t) && this.redeemable(t, now)).length;
  }

  /** The unspent tokens held (tests). */
  held(): Uint8Array[] { return [...this.tokens]; }

  /** A new session from the issuer's login (§3.5). */
  async setSession(session: string | null): Promise<void> {
    this.session = session;
    await this.save();
  }

  /** GET /policy: verified under the organisation key; a lower serial, or other bytes under the same serial, is POLICY_INVALID (§5.3). */
  async refreshPolicy(): Promise<OrgPolicy> {
    const res = await this.request('/policy', { method: 'GET' });
    const bytes = new Uint8Array(await res.arrayBuffer());
    let p: OrgPolicy;
    try {
      p = verifyPolicy(bytes, this.orgKey);
    } catch (e) {
      throw asClientError(e, 'the organisation policy');
    }
    const held = this.current;
    if (held && p.serial < held.serial) fail('POLICY_INVALID', `the issuer served policy ${p.serial}, older than ${held.serial} held`);
    if (held && p.serial === held.serial && !equalBytes(bytes, this.signed!)) {
      fail('POLICY_INVALID', `the issuer served another policy under serial ${p.serial}: the organisation signed two (spec/admission.md §2.4)`);
    }
    this.current = p;
    this.signed = bytes;
    this.dropClosed();
    await this.save();
    return p;
  }

  /**
   * One batch for the issuing epoch (POST /tokens, §3.5), checked against the policy's key
   * (§3.4, §2.4). Resolves with the number of tokens added. Concurrent calls share one request.
   */
  fetchBatch(): Promise<number> {
    this.fetching ??= this.fetchOnce().finally(() => { this.fetching = null; });
    return this.fetching;
  }

  private async fetchOnce(): Promise<number> {
    const issuing = (p: OrgPolicy): number | null => { try { return issuingEpoch(p, this.now()).epoch; } catch { return null; } };
    // The policy held may predate the epoch issuing now: a newer one lists it.
    let epoch = this.current ? issuing(this.current) : null;
    if (epoch === null) epoch = issuing(await this.refreshPolicy());
    if (epoch === null) return fail('TOKEN_EPOCH', 'the organisation policy has no epoch issuing now');
    if (this.session === null) fail('ADMISSION_REQUIRED', 'no issuer session: log in to the organisation first');
    const { pending, request } = prepareTokens(epoch, this.batch);
    const res = await this.request('/tokens', {
      method: 'POST', body: request as unknown as BodyInit,
      headers: { authorization: `Bearer ${this.session}`, 'content-type': 'application/octet-stream' },
    });
    const shown = res.headers.get('sealpost-epoch-key');
    const answer = new Uint8Array(await res.arrayBuffer());
    let tokens: Uint8Array[];
    try {
      if (shown === null) fail('ISSUER_INVALID', 'the issuer showed no Sealpost-Epoch-Key');
      const key = checkShownKey(this.current!, epoch, fromBase64url(shown!));
      tokens = finishTokens(pending, answer, key);
    } catch (e) {
      throw isAdmissionError(e) || e instanceof ClientError ? asClientError(e, 'the issuer\'s answer') : new ClientError('ISSUER_INVALID', 'the issuer\'s answer: a bad Sealpost-Epoch-Key', { cause: e });
    }
    this.tokens.push(...tokens);
    // Bounded: the oldest go first (they are of the epoch that closes first).
    if (this.tokens.length > MAX_TOKENS) this.tokens.splice(0, this.tokens.length - MAX_TOKENS);
    await this.save();
    return tokens.length;
  }

  /** An HTTP exchange with the issuer; the §3.5 error codes become ClientErrors of the same names. */
  private async request(path: string, init: RequestInit): Promise<Response> {
    const f = this.opts.fetch ?? globalThis.fetch;
    let res: Response;
    try {
      res = await f(`${this.base}${path}`, { ...init, redirect: 'error', credentials: 'omit' });
    } catch (e) {
      return fail('ISSUER_UNAVAILABLE', `the issuer could not be reached (${path})`, e);
    }
    if (res.ok) return res;
    let code = '';
    try { code = String(((await res.json()) as { error?: unknown }).error ?? ''); } catch { /* not JSON */ }
    if (ISSUER_CODES.has(code)) fail(code as ClientErrorCode, `the issuer answered ${res.status} ${code}`);
    return fail(res.status >= 500 ? 'ISSUER_UNAVAILABLE' : 'ISSUER_INVALID', `the issuer answered ${res.status} to ${path}`);
  }

  /**
   * A token for one CREATE: of an epoch open for redemption now, the one closing first.
   * ADMISSION_REQUIRED if there is none (a refill is then scheduled, not made now, §3.6).
   */
  take(): TokenTicket {
    if (this.closed) fail('CLOSED', 'the client is closed');
    this.dropClosed();
    const now = this.now();
    const usable = this.tokens.filter((t) => !this.lent.has(t) && this.redeemable(t, now));
    usable.sort((a, b) => this.closesAt(a) - this.closesAt(b));
    const token = usable[0];
    if (token === undefined) {
      this.maybeScheduleRefill();
      return fail('ADMISSION_REQUIRED', 'no admission token for an open epoch: the wallet refills ahead of need (call admission.refresh() after logging in)');
    }
    this.lent.add(token);
    this.maybeScheduleRefill();
    let settled = false;
    return {
      token,
      used: () => {
        if (settled) return;
        settled = true;
        this.lent.delete(token);
        this.tokens = this.tokens.filter((t) => t !== token);
        void this.save().catch(() => undefined);
      },
      unused: () => {
        if (settled) return;
        settled = true;
        this.lent.delete(token);
      },
    };
  }

  /** Schedules a refill at a random time if the issuing epoch's stock is low (§3.6). */
  maybeScheduleRefill(): void {
    if (this.closed || this.refill !== null || this.current === null || this.session === null) return;
    if (!this.low()) return;
    const wait = this.delay.min + Math.floor(this.random() * (this.delay.max - this.delay.min + 1));
    this.refill = setTimeout(() => {
      this.refill = null;
      // Still low? (a refresh() may have filled the wallet meanwhile.)
      if (!this.low()) return;
      this.fetchBatch().then(() => this.maybeScheduleRefill(), () => this.maybeScheduleRefill());
    }, wait);
    (this.refill as { unref?: () => void }).unref?.();
  }

  /** Whether the stock of the issuing epoch is below the low-water mark. */
  private low(): boolean {
    if (this.current === null) return false;
    let epoch: number;
    try { epoch = issuingEpoch(this.current, this.now()).epoch; } catch { return false; }
    return this.tokens.filter((t) => decodeToken(t).epoch === epoch && !this.lent.has(t)).length < this.lowWater;
  }

  close(): void {
    this.closed = true;
    if (this.refill !== null) clearTimeout(this.refill);
    this.refill = null;
  }

  private redeemable(token: Uint8Array, now: number): boolean {
    if (!this.current) return false;
    try {
      const k = epochKeyOf(this.current, decodeToken(token).epoch);
      return k.issueFrom <= now && now < k.redeemUntil;
    } catch {
      return false;
    }
  }

  private closesAt(token: Uint8Array): number {
    return epochKeyOf(this.current!, decodeToken(token).epoch).redeemUntil;
  }

  /** Tokens whose epoch closed, or that the policy no longer lists, are dropped (§3.6, §7.2). */
  private dropClosed(): void {
    if (!this.current) return;
    const now = this.now();
    const keep = this.tokens.filter((t) => {
      try {
        return now < epochKeyOf(this.current!, decodeToken(t).epoch).redeemUntil;
      } catch {
        return false;
      }
    });
    if (keep.length !== this.tokens.length) {
      this.tokens = keep;
      void this.save().catch(() => undefined);
    }
  }

  /** Also after close(): a token spent just before is still recorded, while the store is open. */
  private save(): Promise<void> {
    return this.persist({ policy: this.signed, tokens: [...this.tokens], session: this.session });
  }
}

// The issuer's LMDB store (spec/admission.md §3.5): sessions by the hash of their secret,
// tokens issued per (epoch, member), and which epochs' counts are already in the audit log.
// Nothing else: no address, no time of a request, no nonce or blinded element.
import { open, type Database, type RootDatabase } from 'lmdb';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { AdmissionError, checkQuota } from '../admission/index.js';
import { toHex } from '../crypto/index.js';
import type { SessionHash } from './session.js';

/** A login (§3.5): the directory subject, when it ends, and the directory's refresh token. */
export interface SessionRecord { readonly member: string; readonly createdAt: number; readonly expiresAt: number; readonly refreshToken: string | null }

type CountKey = [number, string];

export class IssuerStore {
  private readonly root: RootDatabase;
  private readonly sessions: Database<SessionRecord, Buffer>;
  private readonly byMember: Database<true, [string, number, string]>;
  private readonly counts: Database<number, CountKey>;
  private readonly logged: Database<true, number>;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.root = open({ path: join(dataDir, 'issuer-store'), maxDbs: 6, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
    this.sessions = this.root.openDB({ name: 'sessions', keyEncoding: 'binary' });
    this.byMember = this.root.openDB({ name: 'sessions-by-member' });
    this.counts = this.root.openDB({ name: 'counts' });
    this.logged = this.root.openDB({ name: 'logged-epochs' });
  }

  // ---- sessions -----------------------------------------------------------------------------

  getSession(hash: SessionHash, now: number): SessionRecord | undefined {
    const s = this.sessions.get(Buffer.from(hash));
    if (s === undefined) return undefined;
    if (s.expiresAt <= now) { this.deleteSession(hash); return undefined; }
    return s;
  }

  /** Stores a session; the member's oldest sessions beyond `maxPerMember` are dropped. */
  putSession(hash: SessionHash, s: SessionRecord, maxPerMember: number): void {
    this.root.transactionSync(() => {
      const mine = [...this.byMember.getKeys({ start: [s.member], end: [s.member, Number.MAX_SAFE_INTEGER] })];
      for (const k of mine.slice(0, Math.max(0, mine.length - maxPerMember + 1))) {
        this.sessions.remove(Buffer.from(k[2], 'hex'));
        this.byMember.remove(k);
      }
      this.sessions.put(Buffer.from(hash), s);
      this.byMember.put([s.member, s.createdAt, toHex(hash)], true);
    });
  }

  updateRefreshToken(hash: SessionHash, refreshToken: string): void {
    this.root.transactionSync(() => {
      const s = this.sessions.get(Buffer.from(hash));
      if (s !== undefined && s.refreshToken !== refreshToken) this.sessions.put(Buffer.from(hash), { ...s, refreshToken });
    });
  }

  deleteSession(hash: SessionHash): void {
    this.root.transactionSync(() => {
      const s = this.sessions.get(Buffer.from(hash));
      if (s === undefined) return;
      this.sessions.remove(Buffer.from(hash));
      this.byMember.remove([s.member, s.createdAt, toHex(hash)]);
    });
  }

  /** Drops expired sessions; returns how many. */
  sweepSessions(now: number): number {
    let n = 0;
    this.root.transactionSync(() => {
      for (const { key, value } of this.sessions.getRange({})) {
        if (value.expiresAt > now) continue;
        this.sessions.remove(key);
        this.byMember.remove([value.member, value.createdAt, toHex(key)]);
        n++;
      }
    });
    return n;
  }

  sessionCount(): number { return this.sessions.getCount(); }

  // ---- quota (§3.3) -------------------------------------------------------------------------

  /** Atomic check-and-add: QUOTA_EXCEEDED (nothing recorded) unless `count` more fit. */
  addIssued(epoch: number, member: string, count: number, quota: number): number {
    return this.root.transactionSync(() => {
      if (this.logged.get(epoch) === true) throw new AdmissionError('TOKEN_EPOCH', `epoch ${epoch} has closed its issuing`);
      const issued = this.counts.get([epoch, member]) ?? 0;
      checkQuota(issued, count, quota);
      this.counts.put([epoch, member], issued + count);
      return issued + count;
    });
  }

  issued(epoch: number, member: string): number { return this.counts.get([epoch, member]) ?? 0; }

  /** Epochs with counts whose totals are not yet in the audit log. */
  unloggedEpochs(): number[] {
    const out: number[] = [];
    for (const [epoch] of this.counts.getKeys({})) {
      if (out[out.length - 1] !== epoch && this.logged.get(epoch) !== true) out.push(epoch);
    }
    return out;
  }

  /** Per member, the tokens issued in `epoch`, by member name. */
  countsOf(epoch: number): { member: string; count: number }[] {
    return [...this.counts.getRange({ start: [epoch], end: [epoch + 1] })].map(({ key, value }) => ({ member: key[1], count: value }));
  }

  /** Aggregates per epoch (for `sealpost admin counts`): members served and tokens issued. */
  totals(): { epoch: number; members: number; tokens: number }[] {
    const out: { epoch: number; members: number; tokens: number }[] = [];
    for (const { key, value } of this.counts.getRange({})) {
      let last = out[out.length - 1];
      if (last?.epoch !== key[0]) out.push((last = { epoch: key[0], members: 0, tokens: 0 }));
      last.members++;
      last.tokens += value;
    }
    return out;
  }

  markLogged(epoch: number): void { this.logged.putSync(epoch, true); }
  isLogged(epoch: number): boolean { return this.logged.get(epoch) === true; }

  async close(): Promise<void> { await this.root.close(); }
}

/** Opens a store read-only view for `sealpost admin counts` (the issuer may be running). */
export function readIssuerTotals(dataDir: string): { epoch: number; members: number; tokens: number }[] {
  const s = new IssuerStore(dataDir);
  try { return s.totals(); } finally { void s.close(); }
}

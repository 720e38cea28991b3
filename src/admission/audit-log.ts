// The organisation's audit log (spec/admission.md §6): append-only entries, each naming the
// hash of the one before and signed by the admin key in force. The entry kinds are a closed
// set of administrative actions and per-member token counts; no kind has a field for a
// mailbox id, a network address, free text or anything about conversations.
import { ed25519Sign, ed25519Verify, equalBytes, ed25519PublicFromSeed, sha256, utf8, type Ed25519PublicKey, type Ed25519Seed } from '../crypto/index.js';
import { concat } from '../crypto/bytes.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { AdmissionError } from './errors.js';

export const AUDIT_VERSION = 1;
export const MAX_AUDIT_ENTRY = 1024;
const LABEL_ENTRY = utf8('sealpost/v1/audit-entry');
const LABEL_HASH = utf8('sealpost/v1/audit-hash');
const ZERO_HASH = new Uint8Array(32);
const MEMBER_RE = /^[\x21-\x7e]{1,255}$/;

/** The closed set of entry kinds (§6.2), tagged by their wire byte. */
export type AuditAction =
  | { readonly kind: 'log-start'; readonly adminKey: Ed25519PublicKey }
  | { readonly kind: 'admin-key-rotation'; readonly adminKey: Ed25519PublicKey }
  | { readonly kind: 'epoch-key'; readonly epoch: number; readonly publicKey: Uint8Array; readonly issueFrom: number; readonly issueUntil: number; readonly redeemUntil: number }
  | { readonly kind: 'policy-change'; readonly serial: number; readonly policyHash: Uint8Array }
  | { readonly kind: 'quota-change'; readonly tokensPerEpoch: number }
  | { readonly kind: 'token-count'; readonly epoch: number; readonly member: string; readonly count: number };

export const AUDIT_KINDS = ['log-start', 'admin-key-rotation', 'epoch-key', 'policy-change', 'quota-change', 'token-count'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export interface AuditEntry { readonly seq: number; readonly time: number; readonly prev: Uint8Array; readonly action: AuditAction; readonly signature: Uint8Array }
/** The last entry of a log: what a verifier remembers to detect a truncated or forked log later. */
export interface AuditHead { readonly seq: number; readonly hash: Uint8Array; readonly time: number }

const bad = (message: string): never => { throw new AdmissionError('AUDIT_MALFORMED', message); };
const u32ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
const timeOk = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function checkAction(a: AuditAction): void {
  if (typeof a !== 'object' || a === null || !AUDIT_KINDS.includes(a.kind)) bad('unknown entry kind');
  const key32 = (b: unknown, name: string) => { if (!(b instanceof Uint8Array) || b.length !== 32) bad(`${name} must be 32 bytes`); };
  switch (a.kind) {
    case 'log-start': case 'admin-key-rotation': key32(a.adminKey, 'adminKey'); break;
    case 'epoch-key':
      if (!u32ok(a.epoch)) bad('epoch must be a u32');
      key32(a.publicKey, 'publicKey');
      if (![a.issueFrom, a.issueUntil, a.redeemUntil].every(timeOk)) bad('epoch times must be times in ms');
      break;
    case 'policy-change': if (!u32ok(a.serial)) bad('serial must be a u32'); key32(a.policyHash, 'policyHash'); break;
    case 'quota-change': if (!u32ok(a.tokensPerEpoch)) bad('tokensPerEpoch must be a u32'); break;
    case 'token-count':
      if (!u32ok(a.epoch) || !u32ok(a.count)) bad('epoch and count must be u32');
      // A directory subject (OIDC `sub`): printable ASCII without spaces, 1–255 bytes.
      if (typeof a.member !== 'string' || !MEMBER_RE.test(a.member)) bad('member must be 1-255 printable ASCII characters');
      break;
  }
}

function writeAction(w: Writer, a: AuditAction): void {
  checkAction(a);
  w.u8(AUDIT_KINDS.indexOf(a.kind) + 1);
  switch (a.kind) {
    case 'log-start': case 'admin-key-rotation': w.bytes(a.adminKey, 32); break;
    case 'epoch-key': w.u32(a.epoch).bytes(a.publicKey, 32).u64(a.issueFrom).u64(a.issueUntil).u64(a.redeemUntil); break;
    case 'policy-change': w.u32(a.serial).bytes(a.policyHash, 32); break;
    case 'quota-change': w.u32(a.tokensPerEpoch); break;
    case 'token-count': { const m = utf8(a.member); w.u32(a.epoch).u8(m.length).bytes(m).u32(a.count); break; }
  }
}

function readAction(r: Reader): AuditAction {
  const kind = AUDIT_KINDS[r.u8() - 1];
  let a: AuditAction;
  switch (kind) {
    case 'log-start': case 'admin-key-rotation': a = { kind, adminKey: r.bytes(32) as Ed25519PublicKey }; break;
    case 'epoch-key': a = { kind, epoch: r.u32(), publicKey: r.bytes(32), issueFrom: r.u64(), issueUntil: r.u64(), redeemUntil: r.u64() }; break;
    case 'policy-change': a = { kind, serial: r.u32(), policyHash: r.bytes(32) }; break;
    case 'quota-change': a = { kind, tokensPerEpoch: r.u32() }; break;
    case 'token-count': {
      const epoch = r.u32();
      const m = r.bytes(r.u8());
      a = { kind, epoch, member: String.fromCharCode(...m), count: r.u32() };
      break;
    }
    default: return bad('unknown entry kind');
  }
  checkAction(a);
  return a;
}

/** §6.1: the signed part of an entry, without the signature. */
function entryBody(seq: number, time: number, prev: Uint8Array, action: AuditAction): Uint8Array {
  if (!u32ok(seq)) throw new AdmissionError('INVALID_ARGUMENT', 'seq must be a u32');
  if (!timeOk(time)) throw new AdmissionError('INVALID_ARGUMENT', 'time must be a time in ms');
  const w = new Writer().u8(AUDIT_VERSION).u32(seq).u64(time).bytes(prev, 32);
  writeAction(w, action);
  return w.finish();
}

/** §6.1: H(label || entry), the entry's signature included. */
export function auditEntryHash(encodedEntry: Uint8Array): Uint8Array {
  return sha256(concat(LABEL_HASH, encodedEntry));
}

/**
 * Signs the next entry after `head` (none for the first, which must be log-start). Returns the
 * encoded entry and the new head. Appending is the caller's write of `u32 length || entry`
 * (encodeAuditLog); the module never rewrites what is written.
 */
export function appendAuditEntry(
  head: AuditHead | undefined, time: number, action: AuditAction, adminSeed: Ed25519Seed,
): { entry: Uint8Array; head: AuditHead } {
  if ((head === undefined) !== (action.kind === 'log-start')) {
    throw new AdmissionError('INVALID_ARGUMENT', 'a log starts with log-start, and only there');
  }
  if (head !== undefined && time < head.time) throw new AdmissionError('INVALID_ARGUMENT', 'time must not go back');
  const seq = head === undefined ? 0 : head.seq + 1;
  const body = entryBody(seq, time, head?.hash ?? ZERO_HASH, action);
  const entry = concat(body, ed25519Sign(adminSeed, concat(LABEL_ENTRY, body)));
  return { entry, head: { seq, hash: auditEntryHash(entry), time } };
}

/** §6.3: each entry as u32 length || entry. */
export function encodeAuditLog(entries: readonly Uint8Array[]): Uint8Array {
  const w = new Writer();
  for (const e of entries) w.u32(e.length).bytes(e);
  return w.finish();
}

function decodeEntry(bytes: Uint8Array): AuditEntry {
  const r = new Reader(bytes);
  if (r.u8() !== AUDIT_VERSION) bad('unknown entry version');
  const seq = r.u32(), time = r.u64(), prev = r.bytes(32);
  const action = readAction(r);
  const signature = r.bytes(64);
  r.end();
  return { seq, time, prev, action, signature };
}

/** Splits and decodes a log; AUDIT_MALFORMED for anything that is not a sequence of well-formed entries. */
export function decodeAuditLog(log: Uint8Array): { entries: AuditEntry[]; encoded: Uint8Array[] } {
  if (!(log instanceof Uint8Array)) bad('log must be a Uint8Array');
  try {
    const r = new Reader(log);
    const encoded: Uint8Array[] = [];
    while (r.remaining > 0) {
      const n = r.u32();
      if (n > MAX_AUDIT_ENTRY) bad(`entry ${encoded.length} is longer than ${MAX_AUDIT_ENTRY} bytes`);
      encoded.push(r.bytes(n));
    }
    return { entries: encoded.map(decodeEntry), encoded };
  } catch (e) {
    if (e instanceof MalformedError) bad(`log does not decode: ${e.message}`);
    throw e;
  }
}

/**
 * §6.4: decodes the log and checks, entry by entry, the signature under the admin key in force
 * (the expected key at the start, then each rotation's), the sequence number, the previous
 * hash and the time. With `head`, the log must also contain that entry, unchanged.
 * Detects a changed entry (AUDIT_SIGNATURE), a removed, inserted or reordered one
 * (AUDIT_CHAIN), a log cut before the remembered head or forked from it (AUDIT_HEAD).
 */
export function verifyAuditLog(
  log: Uint8Array, adminKey: Ed25519PublicKey, options: { head?: AuditHead } = {},
): { entries: AuditEntry[]; head: AuditHead; adminKey: Ed25519PublicKey } {
  const { entries, encoded } = decodeAuditLog(log);
  if (entries.length === 0) throw new AdmissionError('AUDIT_CHAIN', 'the log is empty: it must start with log-start');
  let key = adminKey;
  let head: AuditHead | undefined;
  entries.forEach((e, i) => {
    const body = encoded[i]!.subarray(0, encoded[i]!.length - 64);
    if (!ed25519Verify(e.signature, concat(LABEL_ENTRY, body), key)) {
      throw new AdmissionError('AUDIT_SIGNATURE', `entry ${i} is not signed by the admin key in force`);
    }
    if (e.seq !== i) throw new AdmissionError('AUDIT_CHAIN', `entry ${i} has sequence number ${e.seq}`);
    if (!equalBytes(e.prev, head?.hash ?? ZERO_HASH)) throw new AdmissionError('AUDIT_CHAIN', `entry ${i} does not name the hash of entry ${i - 1}`);
    if ((i === 0) !== (e.action.kind === 'log-start')) throw new AdmissionError('AUDIT_CHAIN', `entry ${i}: log-start must be the first entry and only it`);
    if (i === 0 && e.action.kind === 'log-start' && !equalBytes(e.action.adminKey, adminKey)) {
      throw new AdmissionError('AUDIT_SIGNATURE', 'the log starts with another admin key');
    }
    if (head !== undefined && e.time < head.time) throw new AdmissionError('AUDIT_CHAIN', `entry ${i} is older than entry ${i - 1}`);
    if (e.action.kind === 'admin-key-rotation') key = e.action.adminKey;
    head = { seq: e.seq, hash: auditEntryHash(encoded[i]!), time: e.time };
  });
  const want = options.head;
  if (want !== undefined) {
    const at = encoded[want.seq];
    if (at === undefined) throw new AdmissionError('AUDIT_HEAD', `the log ends before entry ${want.seq}`);
    if (!equalBytes(auditEntryHash(at), want.hash)) throw new AdmissionError('AUDIT_HEAD', `entry ${want.seq} is not the one remembered`);
  }
  return { entries, head: head!, adminKey: key };
}

/** The admin public key of a seed, for log-start and rotations. */
export const adminPublicKey = (seed: Ed25519Seed): Ed25519PublicKey => ed25519PublicFromSeed(seed);

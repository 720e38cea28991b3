// The organisation policy (spec/admission.md §5): retention, disappearing-message timers,
// devices per member, partner relays and the epochs' token keys, signed by the organisation's
// Ed25519 key. A pure codec: one canonical encoding per policy, refused otherwise.
import { ed25519Sign, ed25519Verify, equalBytes, isCryptoError, oprfPublicKey, sha256, utf8, type Ed25519PublicKey, type Ed25519Seed, type OprfPublicKey } from '../crypto/index.js';
import { compareBytes, concat } from '../crypto/bytes.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { AdmissionError } from './errors.js';

export const POLICY_VERSION = 1;
export const MAX_PARTNER_RELAYS = 1024;
export const MAX_EPOCH_KEYS = 256;
const LABEL_POLICY = utf8('sealpost/v1/org-policy');
const LABEL_POLICY_HASH = utf8('sealpost/v1/org-policy-hash');
const SIGNATURE_LENGTH = 64;

/** One epoch's token key (§2.2): issued from issueFrom to issueUntil, redeemable until redeemUntil (ms). */
export interface EpochKey {
  readonly epoch: number;
  readonly publicKey: OprfPublicKey;
  readonly issueFrom: number;
  readonly issueUntil: number;
  readonly redeemUntil: number;
}

/** §5.1; times in ms since the Unix epoch, durations in seconds. */
export interface OrgPolicy {
  readonly serial: number; // grows with each policy the organisation signs; clients keep the highest seen
  readonly issuedAt: number; // when it was signed
  readonly retentionSeconds: number; // the longest an undelivered envelope may stay on the organisation's relays (> 0)
  readonly minTimerSeconds: number; // the shortest disappearing-message timer allowed (0: none required)
  readonly defaultTimerSeconds: number; // the timer new conversations and groups start with (0: off, only if the minimum is 0)
  readonly maxDevicesPerMember: number; // 1–255
  readonly partnerRelays: readonly Uint8Array[]; // relay fingerprints (spec/crypto.md §4) allowed to federate, ascending
  readonly epochKeys: readonly EpochKey[]; // the token keys, by ascending epoch
}

const fail = (message: string): never => { throw new AdmissionError('POLICY_INVALID', message); };
const u32ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
const timeOk = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** The rules of §5.2; POLICY_INVALID naming the first one broken. */
export function checkPolicy(p: OrgPolicy): OrgPolicy {
  if (typeof p !== 'object' || p === null) fail('policy must be an object');
  if (!u32ok(p.serial)) fail('serial must be a u32');
  if (!timeOk(p.issuedAt)) fail('issuedAt must be a time in ms');
  if (!u32ok(p.retentionSeconds) || p.retentionSeconds === 0) fail('retentionSeconds must be a u32 above 0');
  if (!u32ok(p.minTimerSeconds)) fail('minTimerSeconds must be a u32');
  if (!u32ok(p.defaultTimerSeconds)) fail('defaultTimerSeconds must be a u32');
  if (p.defaultTimerSeconds === 0 ? p.minTimerSeconds !== 0 : p.defaultTimerSeconds < p.minTimerSeconds) {
    fail('defaultTimerSeconds must be at least minTimerSeconds (and not off when a minimum is set)');
  }
  if (!Number.isInteger(p.maxDevicesPerMember) || p.maxDevicesPerMember < 1 || p.maxDevicesPerMember > 255) fail('maxDevicesPerMember must be in [1, 255]');
  if (!Array.isArray(p.partnerRelays) || p.partnerRelays.length > MAX_PARTNER_RELAYS) fail(`partnerRelays must be an array of at most ${MAX_PARTNER_RELAYS}`);
  p.partnerRelays.forEach((f, i) => {
    if (!(f instanceof Uint8Array) || f.length !== 32) fail(`partnerRelays[${i}] must be 32 bytes`);
    if (i > 0 && compareBytes(p.partnerRelays[i - 1]!, f) >= 0) fail('partnerRelays must be in strictly ascending order');
  });
  if (!Array.isArray(p.epochKeys) || p.epochKeys.length > MAX_EPOCH_KEYS) fail(`epochKeys must be an array of at most ${MAX_EPOCH_KEYS}`);
  p.epochKeys.forEach((k, i) => {
    if (!u32ok(k.epoch)) fail(`epochKeys[${i}].epoch must be a u32`);
    if (i > 0 && p.epochKeys[i - 1]!.epoch >= k.epoch) fail('epochKeys must be in strictly ascending epoch order');
    try { oprfPublicKey(k.publicKey, `epochKeys[${i}].publicKey`); } catch (e) {
      if (isCryptoError(e)) fail(e.message);
      throw e;
    }
    if (!timeOk(k.issueFrom) || !timeOk(k.issueUntil) || !timeOk(k.redeemUntil)) fail(`epochKeys[${i}] times must be times in ms`);
    if (!(k.issueFrom < k.issueUntil && k.issueUntil <= k.redeemUntil)) fail(`epochKeys[${i}] must have issueFrom < issueUntil <= redeemUntil`);
  });
  return p;
}

/** The canonical body (§5.1), without its signature. */
export function encodePolicyBody(p: OrgPolicy): Uint8Array {
  checkPolicy(p);
  const w = new Writer().u8(POLICY_VERSION).u32(p.serial).u64(p.issuedAt)
    .u32(p.retentionSeconds).u32(p.minTimerSeconds).u32(p.defaultTimerSeconds).u8(p.maxDevicesPerMember)
    .u16(p.partnerRelays.length);
  for (const f of p.partnerRelays) w.bytes(f, 32);
  w.u16(p.epochKeys.length);
  for (const k of p.epochKeys) w.u32(k.epoch).bytes(k.publicKey, 32).u64(k.issueFrom).u64(k.issueUntil).u64(k.redeemUntil);
  return w.finish();
}

function decodePolicyBody(body: Uint8Array): OrgPolicy {
  try {
    const r = new Reader(body);
    if (r.u8() !== POLICY_VERSION) fail('unknown policy version');
    const serial = r.u32(), issuedAt = r.u64();
    const retentionSeconds = r.u32(), minTimerSeconds = r.u32(), defaultTimerSeconds = r.u32(), maxDevicesPerMember = r.u8();
    const nPartners = r.u16();
    if (nPartners > MAX_PARTNER_RELAYS) fail('too many partner relays');
    const partnerRelays = Array.from({ length: nPartners }, () => r.bytes(32));
    const nKeys = r.u16();
    if (nKeys > MAX_EPOCH_KEYS) fail('too many epoch keys');
    const epochKeys = Array.from({ length: nKeys }, () => ({
      epoch: r.u32(), publicKey: r.bytes(32) as OprfPublicKey, issueFrom: r.u64(), issueUntil: r.u64(), redeemUntil: r.u64(),
    }));
    r.end();
    return checkPolicy({ serial, issuedAt, retentionSeconds, minTimerSeconds, defaultTimerSeconds, maxDevicesPerMember, partnerRelays, epochKeys });
  } catch (e) {
    if (e instanceof MalformedError) fail(`policy does not decode: ${e.message}`);
    throw e;
  }
}

const signedPart = (body: Uint8Array): Uint8Array => concat(LABEL_POLICY, body);

/** §5.1: body || Ed25519 signature by the organisation key over label || body. */
export function signPolicy(p: OrgPolicy, orgSeed: Ed25519Seed): Uint8Array {
  const body = encodePolicyBody(p);
  return concat(body, ed25519Sign(orgSeed, signedPart(body)));
}

/**
 * Checks the signature first (POLICY_SIGNATURE), then decodes and checks the rules
 * (POLICY_INVALID): nothing of an unsigned policy is parsed.
 */
export function verifyPolicy(signed: Uint8Array, orgPublicKey: Ed25519PublicKey): OrgPolicy {
  if (!(signed instanceof Uint8Array)) throw new AdmissionError('POLICY_INVALID', 'policy must be a Uint8Array');
  if (signed.length <= SIGNATURE_LENGTH) throw new AdmissionError('POLICY_INVALID', 'policy is too short');
  const body = signed.subarray(0, signed.length - SIGNATURE_LENGTH);
  const sig = signed.subarray(signed.length - SIGNATURE_LENGTH);
  if (!ed25519Verify(sig, signedPart(body), orgPublicKey)) throw new AdmissionError('POLICY_SIGNATURE', 'policy signature does not verify under the organisation key');
  return decodePolicyBody(body.slice());
}

/** §5.1: what the audit log records of a policy: H(label || signed policy). */
export function policyHash(signed: Uint8Array): Uint8Array {
  return sha256(concat(LABEL_POLICY_HASH, signed));
}

/** The key of `epoch`, or TOKEN_EPOCH. */
export function epochKeyOf(p: OrgPolicy, epoch: number): EpochKey {
  const k = p.epochKeys.find((e) => e.epoch === epoch);
  if (k === undefined) throw new AdmissionError('TOKEN_EPOCH', `the policy has no key for epoch ${epoch}`);
  return k;
}

/** The epoch whose issuing window holds `now` (the latest if windows overlap), or TOKEN_EPOCH. */
export function issuingEpoch(p: OrgPolicy, now: number): EpochKey {
  for (let i = p.epochKeys.length - 1; i >= 0; i--) {
    const k = p.epochKeys[i]!;
    if (k.issueFrom <= now && now < k.issueUntil) return k;
  }
  throw new AdmissionError('TOKEN_EPOCH', 'no epoch is issuing now');
}

/**
 * §2.4 key consistency: ISSUER_INVALID unless the key the issuer (or the relay) shows for
 * `epoch` is the one the signed policy lists, so no member can be given a key of its own.
 */
export function checkShownKey(p: OrgPolicy, epoch: number, shown: Uint8Array): OprfPublicKey {
  const k = epochKeyOf(p, epoch);
  if (!(shown instanceof Uint8Array) || !equalBytes(k.publicKey, shown)) {
    throw new AdmissionError('ISSUER_INVALID', `the key shown for epoch ${epoch} is not the policy's`);
  }
  return k.publicKey;
}

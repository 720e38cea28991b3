// Short authentication string, the "safety code" people compare (spec/crypto.md §10).
import { abytes, concat } from './bytes.js';
import { LABELS } from './labels.js';
import { sha256 } from './primitives.js';

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Four groups of five digits, the same on both sides: "01234 56789 01234 56789". */
export function safetyCode(identityA: Uint8Array, identityB: Uint8Array, transcriptHash: Uint8Array): string {
  abytes(identityA, 'identityA', 64);
  abytes(identityB, 'identityB', 64);
  abytes(transcriptHash, 'transcriptHash', 32);
  const [lo, hi] = compareBytes(identityA, identityB) <= 0 ? [identityA, identityB] : [identityB, identityA];
  return formatDigest(sha256(concat(LABELS.sas, lo, hi, transcriptHash)));
}

/**
 * The safety code of two accounts (spec/crypto.md §10.1): it covers the account keys only, so
 * that it stays the same when either person adds or removes a device (spec/devices.md §2).
 */
export function accountSafetyCode(accountA: Uint8Array, accountB: Uint8Array): string {
  abytes(accountA, 'accountA', 32);
  abytes(accountB, 'accountB', 32);
  const [lo, hi] = compareBytes(accountA, accountB) <= 0 ? [accountA, accountB] : [accountB, accountA];
  return formatDigest(sha256(concat(LABELS.accountSas, lo, hi)));
}

function formatDigest(d: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 4; i++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + d[5 * i + j]!; // uint40 fits a double exactly
    groups.push(String(v % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}

/** Compares a code a person typed, ignoring spaces and dashes. */
export function safetyCodesMatch(expected: string, typed: string): boolean {
  const norm = (s: string): string => s.replace(/[\s-]/g, '');
  const a = norm(expected), b = norm(typed);
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

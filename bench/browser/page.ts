// What the browser suite runs inside Chromium (bench/suites/browser.ts): the crypto core's
// browser build (@noble) against WebCrypto's X25519 and Ed25519 for the same operations,
// sealed envelopes per second, and one passphrase derivation at the store's default cost.
// Bundled by scripts/build-browser.mjs; no Node module may be imported here.
import {
  DEFAULT_SCRYPT_PARAMS, derivePassphraseKey, ed25519KeyPair, ed25519Sign, ed25519Verify, getBackend, openEnvelope, randomBytes,
  sealEnvelope, x25519, x25519KeyPair,
} from '../../src/crypto/index.js';

export interface PageRate { readonly name: string; readonly opsPerSec: number; readonly samples: number }
export interface PageResult {
  readonly backend: string;
  readonly userAgent: string;
  readonly rates: readonly PageRate[];
  /** One scrypt derivation at DEFAULT_SCRYPT_PARAMS, ms (what unlocking a profile costs); full runs only. */
  readonly scryptMs?: number;
}

type Op = () => unknown;

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

/**
 * Cases sampled round-robin for `budgetMs` in all, each sample about `sampleMs`; a case's rate
 * is its median sample. A case may return a promise (WebCrypto): it is awaited before the next
 * call, so the rate includes the round trip a caller of an async API pays.
 */
async function interleaved(cases: ReadonlyArray<readonly [string, Op]>, budgetMs: number, sampleMs: number): Promise<PageRate[]> {
  const rates = cases.map(() => [] as number[]);
  const deadline = performance.now() + budgetMs;
  for (const [, fn] of cases) for (let i = 0; i < 3; i++) await fn(); // warm-up
  let rounds = 0;
  while (rounds < 3 || performance.now() < deadline) {
    for (let c = 0; c < cases.length; c++) {
      const fn = cases[c]![1];
      let n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < sampleMs) { const r = fn(); if (r instanceof Promise) await r; n++; t = performance.now(); }
      rates[c]!.push((n * 1000) / (t - t0));
    }
    rounds++;
  }
  return cases.map(([name], c) => ({ name, opsPerSec: median(rates[c]!), samples: rates[c]!.length }));
}

const IN_FLIGHT = 32;
/** `IN_FLIGHT` calls at once, counted as that many operations: WebCrypto's throughput rather than its latency. */
const batch = (fn: () => Promise<unknown>): Op => () => Promise.all(Array.from({ length: IN_FLIGHT }, fn));

/** Measures for about `budgetMs`; `quick` takes shorter samples and leaves out the scrypt timing. */
export async function run(budgetMs: number, quick: boolean): Promise<PageResult> {
  const subtle = crypto.subtle;
  const msg = randomBytes(64) as Uint8Array<ArrayBuffer>;
  // noble (the crypto core as the SDK calls it)
  const a = x25519KeyPair(), b = x25519KeyPair();
  const signer = ed25519KeyPair();
  const sig = ed25519Sign(signer.seed, msg);
  // WebCrypto (the same operations on non-extractable keys)
  const wa = await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']) as CryptoKeyPair;
  const wb = await subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']) as CryptoKeyPair;
  const wbRaw = new Uint8Array(await subtle.exportKey('raw', wb.publicKey));
  const we = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']) as CryptoKeyPair;
  const wsig = await subtle.sign('Ed25519', we.privateKey, msg);
  const derive = (): Promise<ArrayBuffer> => subtle.deriveBits({ name: 'X25519', public: wb.publicKey }, wa.privateKey, 256);
  // The SDK holds raw public keys: a derive from raw bytes imports the peer's key first.
  const deriveRaw = async (): Promise<ArrayBuffer> => {
    const peer = await subtle.importKey('raw', wbRaw, { name: 'X25519' }, false, []);
    return subtle.deriveBits({ name: 'X25519', public: peer }, wa.privateKey, 256);
  };
  const sign = (): Promise<ArrayBuffer> => subtle.sign('Ed25519', we.privateKey, msg);
  const verify = (): Promise<boolean> => subtle.verify('Ed25519', we.publicKey, wsig, msg);

  const mailbox = x25519KeyPair(), sender = x25519KeyPair();
  const body = randomBytes(1024 - 49 - 4 - 32 - 32 - 16);
  const envelopes = Array.from({ length: 16 }, () => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket: 1024 }));
  let k = 0;

  const share = budgetMs / 3;
  const sampleMs = quick ? 10 : 40;
  const rates = [
    ...await interleaved([
      ['noble x25519', () => x25519(a.secretKey, b.publicKey)],
      ['webcrypto x25519', derive],
      [`webcrypto x25519 x${IN_FLIGHT}`, batch(derive)],
      ['webcrypto x25519 raw key', deriveRaw],
      [`webcrypto x25519 raw key x${IN_FLIGHT}`, batch(deriveRaw)],
    ], share, sampleMs),
    ...await interleaved([
      ['noble ed25519 sign', () => ed25519Sign(signer.seed, msg)],
      ['noble ed25519 verify', () => ed25519Verify(sig, msg, signer.publicKey)],
      ['webcrypto ed25519 sign', sign],
      ['webcrypto ed25519 verify', verify],
      [`webcrypto ed25519 sign x${IN_FLIGHT}`, batch(sign)],
      [`webcrypto ed25519 verify x${IN_FLIGHT}`, batch(verify)],
    ], share, sampleMs),
    ...await interleaved([
      ['noble envelope seal 1 KiB', () => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket: 1024 })],
      ['noble envelope open 1 KiB', () => openEnvelope({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope: envelopes[k++ & 15]! })],
    ], share, sampleMs),
  ].map((r) => (r.name.endsWith(`x${IN_FLIGHT}`) ? { ...r, opsPerSec: r.opsPerSec * IN_FLIGHT } : r));

  const result = { backend: getBackend(), userAgent: navigator.userAgent, rates };
  if (quick) return result;
  const t0 = performance.now();
  await derivePassphraseKey('a passphrase to time', randomBytes(16), DEFAULT_SCRYPT_PARAMS);
  return { ...result, scryptMs: performance.now() - t0 };
}

// Suite b: sealed envelopes (spec/crypto.md §9) per second on each backend, and the "sum
// of primitives" model for open: what its X25519s, HMAC-SHA256 steps (HKDF), SHA-256 and
// AEAD would cost on their own on the fastest backend, against the measured open.
import {
  chacha20poly1305Open, chacha20poly1305Seal, hmacSha256, openEnvelope, randomBytes, sealEnvelope, sha256, withBackend, x25519,
  x25519KeyPair, type AeadKey, type BackendName,
} from '../../src/crypto/index.js';
import { measureInterleaved, type Case } from '../lib/measure.js';
import { fmt, fmtRatio, fmtUs, type Table, type Target } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export const BACKENDS: readonly BackendName[] = ['node', 'noble'];
const BUCKETS = [1024, 16384] as const;
/** Envelope overhead (version, enc, tag) + length prefix + sender key + authenticator. */
const BODY_OVERHEAD = 49 + 4 + 32 + 32;

/**
 * What opening one envelope does (spec/crypto.md §9 over RFC 9180 base mode):
 * - X25519 × 2: the HPKE decapsulation, and X25519(mailboxSecret, senderKey) for kAuth;
 * - HMAC-SHA256 × 11: DHKEM ExtractAndExpand (2), the key schedule's psk_id_hash, info_hash,
 *   secret, key, base_nonce, exporter_secret (6), kAuth's HKDF (2), the authenticator (1);
 * - SHA-256 × 1 over the body (the authenticator's H(body));
 * - ChaCha20-Poly1305 open × 1 over bucket − 33 bytes (padded plaintext and tag).
 * Seal does the same plus one X25519 base-point multiplication (the ephemeral key).
 */
export const OPEN_MODEL = { x25519: 2, hmac: 11, sha256Body: 1, aeadOpen: 1 } as const;

export interface EnvelopeRow {
  readonly backend: BackendName;
  readonly bucket: number;
  readonly bodyBytes: number;
  readonly sealPerSec: number;
  readonly openPerSec: number;
  readonly sealUs: number;
  readonly openUs: number;
}
export interface ModelTerm { readonly name: string; readonly count: number; readonly usEach: number; readonly backend: BackendName; readonly us: number }
export interface OpenModel {
  readonly bucket: number;
  readonly terms: readonly ModelTerm[];
  readonly sumUs: number;
  /** Measured open on the fastest backend. */
  readonly measuredUs: number;
  readonly measuredBackend: BackendName;
  /** measured ÷ sum: 1 means no overhead beyond the primitives. */
  readonly ratio: number;
}
export interface EnvelopesResult { readonly rows: readonly EnvelopeRow[]; readonly models: readonly OpenModel[] }

export async function runEnvelopes(ctx: SuiteContext): Promise<EnvelopesResult> {
  const mailbox = x25519KeyPair();
  const sender = x25519KeyPair();
  const rows: EnvelopeRow[] = [];
  const models: OpenModel[] = [];
  const steps = BUCKETS.length * 2;
  let step = 0;
  for (const bucket of BUCKETS) {
    const body = randomBytes(bucket - BODY_OVERHEAD - 16);
    // Distinct envelopes (fresh ephemeral keys) to open in turn.
    const envelopes = Array.from({ length: 32 }, () => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket }));
    let k = 0;
    const open = (): unknown => openEnvelope({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope: envelopes[k++ & 31]! });
    const seal = (): unknown => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket });
    ctx.progress.bar(`envelopes: seal/open, bucket ${bucket}`, step++, steps);
    const cases: Case[] = BACKENDS.flatMap((b) => [
      { name: `${b} seal`, fn: () => withBackend(b, seal) },
      { name: `${b} open`, fn: () => withBackend(b, open) },
    ]);
    const m = measureInterleaved(cases, (ctx.budgetMs * 0.6) / BUCKETS.length);
    const get = (name: string): number => m.find((x) => x.name === name)!.opsPerSec;
    for (const b of BACKENDS) {
      const sealPerSec = get(`${b} seal`), openPerSec = get(`${b} open`);
      rows.push({ backend: b, bucket, bodyBytes: body.length, sealPerSec, openPerSec, sealUs: 1e6 / sealPerSec, openUs: 1e6 / openPerSec });
    }
    await new Promise((r) => setImmediate(r));

    // The model's terms, on both backends, interleaved with the open they explain.
    ctx.progress.bar(`envelopes: open model, bucket ${bucket}`, step++, steps);
    const peer = x25519KeyPair().publicKey;
    const key = randomBytes(32) as AeadKey;
    const nonce = randomBytes(12);
    const hmacMsg = randomBytes(80); // the labeled inputs are 50 to 110 bytes
    const ct = chacha20poly1305Seal(key, nonce, randomBytes(bucket - 49));
    const termFns: Record<keyof typeof OPEN_MODEL, () => unknown> = {
      x25519: () => x25519(mailbox.secretKey, peer),
      hmac: () => hmacSha256(key, hmacMsg),
      sha256Body: () => sha256(body),
      aeadOpen: () => chacha20poly1305Open(key, nonce, ct),
    };
    const termCases: Case[] = BACKENDS.flatMap((b) => [
      ...Object.entries(termFns).map(([t, fn]) => ({ name: `${b} ${t}`, fn: () => withBackend(b, fn) })),
      { name: `${b} open`, fn: () => withBackend(b, open) },
    ]);
    const tm = measureInterleaved(termCases, (ctx.budgetMs * 0.4) / BUCKETS.length);
    const us = (name: string): number => tm.find((x) => x.name === name)!.usPerOp;
    const terms: ModelTerm[] = (Object.keys(OPEN_MODEL) as (keyof typeof OPEN_MODEL)[]).map((t) => {
      const best = BACKENDS.map((b) => ({ b, u: us(`${b} ${t}`) })).sort((x, y) => x.u - y.u)[0]!;
      return { name: t, count: OPEN_MODEL[t], usEach: best.u, backend: best.b, us: best.u * OPEN_MODEL[t] };
    });
    const sumUs = terms.reduce((a, t) => a + t.us, 0);
    const fastest = BACKENDS.map((b) => ({ b, u: us(`${b} open`) })).sort((x, y) => x.u - y.u)[0]!;
    models.push({ bucket, terms, sumUs, measuredUs: fastest.u, measuredBackend: fastest.b, ratio: fastest.u / sumUs });
    await new Promise((r) => setImmediate(r));
  }
  ctx.progress.done();
  return { rows, models };
}

export function envelopeTables(r: EnvelopesResult): Table[] {
  const node = (bucket: number) => r.rows.find((x) => x.backend === 'node' && x.bucket === bucket);
  return [
    {
      title: 'Sealed envelopes per second (spec/crypto.md §9)',
      columns: ['backend', 'bucket', 'body', 'seal/s', 'open/s', 'seal', 'open', 'open vs node'],
      rows: r.rows.map((x) => [
        x.backend, `${x.bucket} B`, `${x.bodyBytes} B`, fmt(x.sealPerSec), fmt(x.openPerSec), fmtUs(x.sealUs), fmtUs(x.openUs),
        fmtRatio(x.openPerSec / (node(x.bucket)?.openPerSec ?? NaN)),
      ]),
    },
    {
      title: 'Open: measured vs the sum of its primitives (fastest backend per primitive)',
      columns: ['bucket', 'X25519 ×2', 'HMAC ×11', 'SHA-256(body)', 'AEAD open', 'sum', 'measured open', 'measured ÷ sum'],
      rows: r.models.map((m) => {
        const t = (n: string): string => { const x = m.terms.find((y) => y.name === n); return x ? `${fmtUs(x.us)} (${x.backend})` : '–'; };
        return [`${m.bucket} B`, t('x25519'), t('hmac'), t('sha256Body'), t('aeadOpen'), fmtUs(m.sumUs), `${fmtUs(m.measuredUs)} (${m.measuredBackend})`, fmtRatio(m.ratio)];
      }),
      notes: ['The remainder is validation (canonical-key checks), allocation and copying, and the facade.'],
    },
  ];
}

export function envelopeTargets(r: EnvelopesResult): Target[] {
  const m = r.models.find((x) => x.bucket === 1024);
  return m ? [{ name: 'envelope open vs sum of primitives (1 KiB bucket)', goal: '≤ 1.5×', value: m.ratio, unit: '×', met: m.ratio <= 1.5 }] : [];
}

export const envelopesSuite: Suite = {
  id: 'envelopes',
  title: 'b. Sealed envelopes: seal/open per backend, and open against the sum of its primitives',
  budget: { full: 40_000, quick: 5_000 },
  measure: (ctx) => runEnvelopes(ctx),
  render: (result) => {
    const r = result as EnvelopesResult;
    return { tables: envelopeTables(r), targets: envelopeTargets(r) };
  },
};

// Suite a: primitives side by side, in one run. `node` and `noble` go through the crypto
// core's facade (src/crypto/primitives.ts, with its input validation: what Sealpost pays);
// `tweetnacl` is called directly and has X25519, Ed25519 and XSalsa20-Poly1305 (secretbox),
// but no ChaCha20, HKDF or SHA-256. Each row's cases are sampled round-robin, so the
// ratios against node come from the same seconds of the same run.
import { createPrivateKey, createPublicKey, diffieHellman, sign as nodeSign } from 'node:crypto';
import nacl from 'tweetnacl';
import {
  chacha20poly1305Open, chacha20poly1305Seal, ed25519KeyPair, ed25519Sign, ed25519Verify, hkdf, hmacSha256,
  mlKem768Decapsulate, mlKem768Encapsulate, mlKem768KeyPair, randomBytes, sha256, withBackend, x25519, x25519KeyPair,
  xchacha20poly1305Seal, type AeadKey, type BackendName,
} from '../../src/crypto/index.js';
import { measureInterleaved, type Case } from '../lib/measure.js';
import { barChart } from '../lib/svg.js';
import { fmt, fmtRatio, type Table } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export type Impl = 'node' | 'noble' | 'tweetnacl';
export const IMPLS: readonly Impl[] = ['node', 'noble', 'tweetnacl'];

export interface PrimitiveRow {
  readonly id: string;
  readonly name: string;
  /** Message size for AEAD and hashes. */
  readonly bytes?: number;
  readonly opsPerSec: Partial<Record<Impl, number>>;
  /** ops/s of each implementation divided by node's (above 1: faster than node). */
  readonly vsNode: Partial<Record<Impl, number>>;
  /** For rows node lacks (secretbox): the node row the ratio is taken against. */
  readonly reference?: string;
  readonly mibPerSec?: Partial<Record<Impl, number>>;
}
/** Where node's time goes: raw node:crypto calls, key import separate from the operation. */
export interface NodeCostRow { readonly id: string; readonly name: string; readonly opsPerSec: number; readonly us: number }
export interface PrimitivesResult { readonly budgetMs: number; readonly rows: readonly PrimitiveRow[]; readonly nodeCosts: readonly NodeCostRow[] }

interface RowSpec {
  readonly id: string;
  readonly name: string;
  readonly bytes?: number;
  readonly reference?: string;
  readonly impls: Partial<Record<Impl, () => unknown>>;
}

const onBackend = (b: BackendName, fn: () => unknown) => (): unknown => withBackend(b, fn);

function specs(): RowSpec[] {
  const a = x25519KeyPair();
  const b = x25519KeyPair();
  // Key generation always meets a new secret: change it on every call, so that the native
  // backend's key cache cannot answer (a counter in its first bytes costs nothing measurable).
  const sk = randomBytes(32);
  let skCounter = 0;
  const freshSk = (): Uint8Array => { new DataView(sk.buffer, sk.byteOffset, 4).setUint32(0, ++skCounter); return sk; };
  const ed = ed25519KeyPair();
  const naclEd = nacl.sign.keyPair.fromSeed(ed.seed);
  const msg64 = randomBytes(64);
  const sig = ed25519Sign(ed.seed, msg64);
  const key = randomBytes(32) as AeadKey;
  const n12 = randomBytes(12);
  const n24 = randomBytes(24);
  const ikm = randomBytes(32), salt = randomBytes(32), info = randomBytes(32);
  const rows: RowSpec[] = [
    {
      id: 'x25519', name: 'X25519 shared secret',
      impls: {
        node: onBackend('node', () => x25519(a.secretKey, b.publicKey)),
        noble: onBackend('noble', () => x25519(a.secretKey, b.publicKey)),
        tweetnacl: () => nacl.scalarMult(a.secretKey, b.publicKey),
      },
    },
    {
      id: 'x25519-keygen', name: 'X25519 public key from a new secret',
      impls: {
        node: onBackend('node', () => x25519KeyPair(freshSk())),
        noble: onBackend('noble', () => x25519KeyPair(freshSk())),
        tweetnacl: () => nacl.scalarMult.base(freshSk()),
      },
    },
    {
      id: 'ed25519-sign', name: 'Ed25519 sign (64 B)',
      impls: {
        node: onBackend('node', () => ed25519Sign(ed.seed, msg64)),
        noble: onBackend('noble', () => ed25519Sign(ed.seed, msg64)),
        tweetnacl: () => nacl.sign.detached(msg64, naclEd.secretKey),
      },
    },
    {
      id: 'ed25519-verify', name: 'Ed25519 verify (64 B)',
      impls: {
        node: onBackend('node', () => ed25519Verify(sig, msg64, ed.publicKey)),
        noble: onBackend('noble', () => ed25519Verify(sig, msg64, ed.publicKey)),
        tweetnacl: () => nacl.sign.detached.verify(msg64, sig, naclEd.publicKey),
      },
    },
  ];
  for (const size of [1024, 16384]) {
    const pt = randomBytes(size);
    const sealed = chacha20poly1305Seal(key, n12, pt);
    const kib = `${size / 1024} KiB`;
    rows.push({
      id: `chacha-seal-${size}`, name: `ChaCha20-Poly1305 seal ${kib}`, bytes: size,
      impls: { node: onBackend('node', () => chacha20poly1305Seal(key, n12, pt)), noble: onBackend('noble', () => chacha20poly1305Seal(key, n12, pt)) },
    });
    rows.push({
      id: `chacha-open-${size}`, name: `ChaCha20-Poly1305 open ${kib}`, bytes: size,
      impls: { node: onBackend('node', () => chacha20poly1305Open(key, n12, sealed)), noble: onBackend('noble', () => chacha20poly1305Open(key, n12, sealed)) },
    });
    rows.push({
      id: `xchacha-seal-${size}`, name: `XChaCha20-Poly1305 seal ${kib}`, bytes: size,
      impls: { node: onBackend('node', () => xchacha20poly1305Seal(key, n24, pt)), noble: onBackend('noble', () => xchacha20poly1305Seal(key, n24, pt)) },
    });
    rows.push({
      id: `xsalsa-seal-${size}`, name: `XSalsa20-Poly1305 seal ${kib} (secretbox)`, bytes: size, reference: `xchacha-seal-${size}`,
      impls: { tweetnacl: () => nacl.secretbox(pt, n24, key) },
    });
  }
  rows.push({
    id: 'hkdf', name: 'HKDF-SHA256 (32 B ikm/salt/info → 32 B)',
    impls: { node: onBackend('node', () => hkdf(ikm, salt, info, 32)), noble: onBackend('noble', () => hkdf(ikm, salt, info, 32)) },
  });
  rows.push({
    id: 'hmac', name: 'HMAC-SHA256 (64 B)', bytes: 64,
    impls: { node: onBackend('node', () => hmacSha256(key, msg64)), noble: onBackend('noble', () => hmacSha256(key, msg64)) },
  });
  const kb = randomBytes(1024);
  rows.push({
    id: 'sha256-1024', name: 'SHA-256 1 KiB', bytes: 1024,
    impls: { node: onBackend('node', () => sha256(kb)), noble: onBackend('noble', () => sha256(kb)) },
  });
  // ML-KEM-768 (spec/crypto.md §1.4): noble only, since Node 20's OpenSSL 3.0 has none; the
  // ratio is taken against node's X25519 of the same run. Decapsulation expands the key from
  // its 64-byte seed first, as the core does.
  const kem = mlKem768KeyPair();
  const { ciphertext } = mlKem768Encapsulate(kem.encapsulationKey);
  rows.push(
    { id: 'mlkem768-keygen', name: 'ML-KEM-768 key pair', reference: 'x25519', impls: { noble: () => mlKem768KeyPair() } },
    { id: 'mlkem768-encaps', name: 'ML-KEM-768 encapsulate', reference: 'x25519', impls: { noble: () => mlKem768Encapsulate(kem.encapsulationKey) } },
    { id: 'mlkem768-decaps', name: 'ML-KEM-768 decapsulate (key from seed)', reference: 'x25519', impls: { noble: () => mlKem768Decapsulate(kem.seed, ciphertext) } },
  );
  return rows;
}

// RFC 8410 PKCS#8 prefixes, as src/crypto/native.ts builds them.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const b64url = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url');

/** node:crypto costs in isolation: importing raw keys (DER vs JWK) and the bare operations. */
function nodeCostCases(): (Case & { id: string })[] {
  const a = x25519KeyPair(), b = x25519KeyPair();
  const ed = ed25519KeyPair();
  const msg = randomBytes(64);
  const xPriv = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, a.secretKey]), format: 'der', type: 'pkcs8' });
  const xPub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(b.publicKey) }, format: 'jwk' });
  const edPriv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, ed.seed]), format: 'der', type: 'pkcs8' });
  return [
    { id: 'x25519-import-der', name: 'X25519 private key import, PKCS#8 DER (fallback)', fn: () => createPrivateKey({ key: Buffer.concat([PKCS8_X25519, a.secretKey]), format: 'der', type: 'pkcs8' }) },
    { id: 'x25519-import-jwk', name: 'X25519 private key import, JWK (native backend)', fn: () => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(a.secretKey), x: b64url(a.publicKey) }, format: 'jwk' }) },
    { id: 'x25519-public-jwk', name: 'X25519 public key import, JWK', fn: () => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(b.publicKey) }, format: 'jwk' }) },
    { id: 'x25519-dh-keyobjects', name: 'X25519 diffieHellman on imported KeyObjects', fn: () => diffieHellman({ privateKey: xPriv, publicKey: xPub }) },
    { id: 'ed25519-import-der', name: 'Ed25519 private key import, PKCS#8 DER (fallback)', fn: () => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, ed.seed]), format: 'der', type: 'pkcs8' }) },
    { id: 'ed25519-import-jwk', name: 'Ed25519 private key import, JWK (native backend)', fn: () => createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(ed.seed), x: b64url(ed.publicKey) }, format: 'jwk' }) },
    { id: 'ed25519-sign-keyobject', name: 'Ed25519 sign on an imported KeyObject', fn: () => nodeSign(null, msg, edPriv) },
  ];
}

export async function runPrimitives(ctx: SuiteContext): Promise<PrimitivesResult> {
  const list = specs();
  const per = ctx.budgetMs / (list.length + 2);
  const rows: PrimitiveRow[] = [];
  for (const [i, spec] of list.entries()) {
    ctx.progress.bar(`primitives: ${spec.name}`, i, list.length);
    const cases: Case[] = IMPLS.filter((impl) => spec.impls[impl]).map((impl) => ({ name: impl, fn: spec.impls[impl]! }));
    const measured = measureInterleaved(cases, per);
    const opsPerSec: Partial<Record<Impl, number>> = {};
    for (const m of measured) opsPerSec[m.name as Impl] = m.opsPerSec;
    rows.push({ id: spec.id, name: spec.name, ...(spec.bytes ? { bytes: spec.bytes } : {}), ...(spec.reference ? { reference: spec.reference } : {}), opsPerSec, vsNode: {} });
    // Yield between rows so that the progress line paints.
    await new Promise((r) => setImmediate(r));
  }
  // Ratios against node, taken against the reference row where node lacks the primitive.
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out = rows.map((r) => {
    const base = r.opsPerSec.node ?? (r.reference ? byId.get(r.reference)?.opsPerSec.node : undefined);
    const vsNode: Partial<Record<Impl, number>> = {};
    const mibPerSec: Partial<Record<Impl, number>> = {};
    for (const impl of IMPLS) {
      const v = r.opsPerSec[impl];
      if (v === undefined) continue;
      if (base) vsNode[impl] = v / base;
      if (r.bytes && r.bytes >= 1024) mibPerSec[impl] = (v * r.bytes) / 2 ** 20;
    }
    return { ...r, vsNode, ...(Object.keys(mibPerSec).length ? { mibPerSec } : {}) };
  });
  ctx.progress.status('primitives: node:crypto cost breakdown');
  const costCases = nodeCostCases();
  const costs = measureInterleaved(costCases, per * 2);
  const nodeCosts = costs.map((c, i) => ({ id: costCases[i]!.id, name: c.name, opsPerSec: c.opsPerSec, us: c.usPerOp }));
  ctx.progress.done();
  return { budgetMs: ctx.budgetMs, rows: out, nodeCosts };
}

export function primitivesTable(r: PrimitivesResult): Table {
  return {
    title: 'Primitives (ops/s; ratio = ops/s ÷ node ops/s, same run)',
    columns: ['primitive', 'node', 'noble', 'tweetnacl', 'noble/node', 'tweetnacl/node', 'node MiB/s'],
    rows: r.rows.map((row) => [
      row.reference ? `${row.name} †` : row.name,
      fmt(row.opsPerSec.node), fmt(row.opsPerSec.noble), fmt(row.opsPerSec.tweetnacl),
      fmtRatio(row.vsNode.noble), fmtRatio(row.vsNode.tweetnacl), fmt(row.mibPerSec?.node),
    ]),
    notes: [
      '† tweetnacl only (node:crypto has no XSalsa20); ratio against node XChaCha20-Poly1305 of the same size.',
      '† ML-KEM-768: noble only (Node 20\'s OpenSSL 3.0 has no ML-KEM: no crypto.encapsulate, no ml-kem-768 key type); ratio against node X25519.',
      'node and noble are measured through the crypto core facade (input validation included); tweetnacl directly.',
    ],
  };
}

export function nodeCostTable(r: PrimitivesResult): Table {
  return {
    title: 'Where the node backend spends its time (node:crypto called directly)',
    columns: ['step', 'ops/s', 'µs each'],
    rows: r.nodeCosts.map((c) => [c.name, fmt(c.opsPerSec), fmt(c.us)]),
    notes: [
      'src/crypto/native.ts imports raw keys as JWK (private keys as PKCS#8 DER if a Node version refuses JWK) and keeps the key objects of the last 8 private and 256 public keys.',
      'The X25519 and Ed25519 rows above reuse one key pair, so they measure cached keys; each key not seen recently adds its import from this table.',
    ],
  };
}

const SHORT: Record<string, string> = {
  'x25519': 'X25519', 'x25519-keygen': 'X25519 keygen', 'ed25519-sign': 'Ed25519 sign', 'ed25519-verify': 'Ed25519 verify',
  'chacha-seal-1024': 'ChaCha seal 1K', 'chacha-open-1024': 'ChaCha open 1K', 'xchacha-seal-1024': 'XChaCha seal 1K',
  'chacha-seal-16384': 'ChaCha seal 16K', 'chacha-open-16384': 'ChaCha open 16K', 'xchacha-seal-16384': 'XChaCha seal 16K',
  'hkdf': 'HKDF', 'hmac': 'HMAC 64 B', 'sha256-1024': 'SHA-256 1K',
};

export function primitivesChart(r: PrimitivesResult): string {
  const rows = r.rows.filter((x) => !x.reference);
  return barChart({
    title: 'Primitives: operations per second (log scale)',
    categories: rows.map((x) => SHORT[x.id] ?? x.id),
    series: IMPLS.map((impl) => ({ name: impl, values: rows.map((x) => x.opsPerSec[impl]) })),
    yLabel: 'ops/s',
    log: true,
    width: 980,
    slantLabels: true,
  });
}

export const primitivesSuite: Suite = {
  id: 'primitives',
  title: 'a. Primitives: node vs noble vs tweetnacl',
  budget: { full: 80_000, quick: 7_000 },
  measure: (ctx) => runPrimitives(ctx),
  render: (result) => {
    const r = result as PrimitivesResult;
    return { tables: [primitivesTable(r), nodeCostTable(r)], targets: [], charts: { 'primitives.svg': primitivesChart(r) } };
  },
};

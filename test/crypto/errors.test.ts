// Every public function of src/crypto/primitives.ts and src/crypto/bytes.ts, fed broken
// inputs: each must throw a CryptoError with the documented code (spec/crypto.md §1.3) and
// a message naming the argument; verification functions return false for wrong lengths.
// Then round trips of the encodings and the comparison helpers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInNewContext } from 'node:vm';
import * as bytes from '../../src/crypto/bytes.js';
import * as primitives from '../../src/crypto/primitives.js';
import { CryptoError, type CryptoErrorCode } from '../../src/crypto/errors.js';
import type { AeadKey, Ed25519Seed } from '../../src/crypto/types.js';

const {
  abytes, aint, compareBytes, concat, equalBytes, fromBase64url, fromHex, fromUtf8, isAllZero, isBytes, toBase64url, toHex, u16be,
  u32be, utf8, wipe,
} = bytes;
const {
  aeadKey, aes128GcmOpen, aes128GcmSeal, chacha20poly1305Open, chacha20poly1305Seal, ed25519KeyPair, ed25519PublicFromSeed, ed25519PublicKey, ed25519Seed,
  ed25519Sign, ed25519Verify, getBackend, hkdf, hkdfExpand, hkdfExtract, hmacSha256, hmacSha256Verify, portableSha256,
  randomBytes, setBackend, sha256, withBackend, x25519, x25519KeyPair, x25519Static, x25519Ephemeral, x25519PublicFromSecret, x25519PublicKey,
  x25519SecretKey, xchacha20poly1305Open, xchacha20poly1305Seal,
} = primitives;

type AnyFn = (...args: never[]) => unknown;
const call = (fn: AnyFn, args: unknown[]): unknown => (fn as (...a: unknown[]) => unknown)(...args);

/** Undefined when `fn` throws CryptoError `code` whose message names `name`; otherwise what happened. */
function failure(fn: () => unknown, code: CryptoErrorCode, name?: string): string | undefined {
  try {
    const r = fn();
    return `returned ${r instanceof Uint8Array ? `${r.length} bytes` : String(r)} instead of throwing ${code}`;
  } catch (e) {
    if (!(e instanceof CryptoError)) return `threw ${String(e)} instead of CryptoError ${code}`;
    if (e.code !== code) return `threw ${e.code} (${e.message}) instead of ${code}`;
    if (name !== undefined && !namesArgument(e.message, name)) return `message "${e.message}" does not name ${name}`;
    return undefined;
  }
}
/** `name` appears in `message` as a word of its own ("n must be", not "in"). */
function namesArgument(message: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`).test(message);
}
function throws(label: string, fn: () => unknown, code: CryptoErrorCode, name?: string): void {
  const why = failure(fn, code, name);
  assert.ok(why === undefined, `${label}: ${why}`);
}

// Values that are not a Uint8Array, including array-likes of the right length.
const NOT_BYTES: [string, unknown][] = [
  ['a string', 'x'.repeat(32)], ['an array', new Array<number>(32).fill(1)], ['null', null], ['a number', 32],
  ['an object', { length: 32 }], ['a Uint16Array', new Uint16Array(16)], ['an ArrayBuffer', new ArrayBuffer(32)],
  ['a DataView', new DataView(new ArrayBuffer(32))], ['an Int8Array', new Int8Array(32)], ['a bigint', 32n],
];
const NOT_INTEGERS: unknown[] = [1.5, '3', NaN, Infinity, -Infinity, 3n, null, undefined, [3], 2 ** 53];

// ---- byte-string arguments of every function, described once ------------------------------------------------

interface BytesParam {
  at: number;
  name: string;
  /** Accepted lengths; others must throw INVALID_LENGTH, or return false where wrongLength says so. */
  lengths?: number[];
  wrongLength?: 'false';
  /** undefined selects a default (random key, empty aad), so it is not a broken input here. */
  optional?: boolean;
}
interface FnSpec { name: string; fn: AnyFn; good: () => unknown[]; params: BytesParam[] }

const r = (n: number): Uint8Array => randomBytes(n);
const seed = r(32) as Ed25519Seed;
const edPk = ed25519PublicFromSeed(seed);
const msg = r(20);
const edSig = ed25519Sign(seed, msg);
const xSk = r(32);
const xPk = x25519KeyPair().publicKey;
const key32 = r(32) as AeadKey;
const sealed12 = chacha20poly1305Seal(key32, new Uint8Array(12), msg, new Uint8Array(0));
const sealed24 = xchacha20poly1305Seal(key32, new Uint8Array(24), msg, new Uint8Array(0));
const key16 = r(16);
const sealedGcm = aes128GcmSeal(key16, new Uint8Array(12), msg, new Uint8Array(0));

const SPECS: FnSpec[] = [
  { name: 'x25519PublicKey', fn: x25519PublicKey, good: () => [xPk], params: [{ at: 0, name: 'publicKey', lengths: [32] }] },
  { name: 'x25519SecretKey', fn: x25519SecretKey, good: () => [xSk], params: [{ at: 0, name: 'secretKey', lengths: [32] }] },
  { name: 'x25519KeyPair', fn: x25519KeyPair, good: () => [xSk], params: [{ at: 0, name: 'secretKey', lengths: [32], optional: true }] },
  { name: 'x25519PublicFromSecret', fn: x25519PublicFromSecret, good: () => [xSk], params: [{ at: 0, name: 'secretKey', lengths: [32] }] },
  {
    name: 'x25519', fn: x25519, good: () => [xSk, xPk],
    params: [{ at: 0, name: 'secretKey', lengths: [32] }, { at: 1, name: 'publicKey', lengths: [32] }],
  },
  { name: 'x25519Ephemeral', fn: x25519Ephemeral, good: () => [xPk], params: [{ at: 0, name: 'peer', lengths: [32] }] },
  {
    name: 'x25519Static', fn: x25519Static, good: () => [xSk, xPk],
    params: [{ at: 0, name: 'secretKey', lengths: [32] }, { at: 1, name: 'publicKey', lengths: [32] }],
  },
  { name: 'ed25519PublicKey', fn: ed25519PublicKey, good: () => [edPk], params: [{ at: 0, name: 'publicKey', lengths: [32] }] },
  { name: 'ed25519Seed', fn: ed25519Seed, good: () => [seed], params: [{ at: 0, name: 'seed', lengths: [32] }] },
  { name: 'ed25519KeyPair', fn: ed25519KeyPair, good: () => [seed], params: [{ at: 0, name: 'seed', lengths: [32], optional: true }] },
  { name: 'ed25519PublicFromSeed', fn: ed25519PublicFromSeed, good: () => [seed], params: [{ at: 0, name: 'seed', lengths: [32] }] },
  {
    name: 'ed25519Sign', fn: ed25519Sign, good: () => [seed, msg],
    params: [{ at: 0, name: 'seed', lengths: [32] }, { at: 1, name: 'message' }],
  },
  {
    name: 'ed25519Verify', fn: ed25519Verify, good: () => [edSig, msg, edPk],
    params: [
      { at: 0, name: 'signature', lengths: [64], wrongLength: 'false' }, { at: 1, name: 'message' },
      { at: 2, name: 'publicKey', lengths: [32], wrongLength: 'false' },
    ],
  },
  { name: 'sha256', fn: sha256, good: () => [msg], params: [{ at: 0, name: 'data' }] },
  { name: 'portableSha256', fn: portableSha256, good: () => [msg], params: [{ at: 0, name: 'data' }] },
  { name: 'hmacSha256', fn: hmacSha256, good: () => [key32, msg], params: [{ at: 0, name: 'key' }, { at: 1, name: 'data' }] },
  {
    name: 'hmacSha256Verify', fn: hmacSha256Verify, good: () => [key32, msg, hmacSha256(key32, msg)],
    params: [
      { at: 0, name: 'key' }, { at: 1, name: 'data' },
      { at: 2, name: 'tag', lengths: Array.from({ length: 17 }, (_, i) => 16 + i), wrongLength: 'false' },
    ],
  },
  { name: 'hkdfExtract', fn: hkdfExtract, good: () => [r(3), msg], params: [{ at: 0, name: 'salt' }, { at: 1, name: 'ikm' }] },
  { name: 'hkdfExpand', fn: hkdfExpand, good: () => [key32, msg, 42], params: [{ at: 0, name: 'prk' }, { at: 1, name: 'info' }] },
  {
    name: 'hkdf', fn: hkdf, good: () => [msg, r(3), msg, 42],
    params: [{ at: 0, name: 'ikm' }, { at: 1, name: 'salt' }, { at: 2, name: 'info' }],
  },
  { name: 'aeadKey', fn: aeadKey, good: () => [key32], params: [{ at: 0, name: 'key', lengths: [32] }] },
  ...([
    ['chacha20poly1305Seal', chacha20poly1305Seal, 12, 'plaintext', msg],
    ['chacha20poly1305Open', chacha20poly1305Open, 12, 'ciphertext', sealed12],
    ['xchacha20poly1305Seal', xchacha20poly1305Seal, 24, 'plaintext', msg],
    ['xchacha20poly1305Open', xchacha20poly1305Open, 24, 'ciphertext', sealed24],
  ] as const).map(([name, fn, n, third, input]): FnSpec => ({
    name, fn, good: () => [key32, new Uint8Array(n), input, new Uint8Array(0)],
    params: [
      { at: 0, name: 'key', lengths: [32] }, { at: 1, name: 'nonce', lengths: [n] }, { at: 2, name: third },
      { at: 3, name: 'aad', optional: true },
    ],
  })),
  // AES-128 only: 24- and 32-byte (AES-192/256) keys are among the refused lengths.
  ...([
    ['aes128GcmSeal', aes128GcmSeal, 'plaintext', msg],
    ['aes128GcmOpen', aes128GcmOpen, 'ciphertext', sealedGcm],
  ] as const).map(([name, fn, third, input]): FnSpec => ({
    name, fn, good: () => [key16, new Uint8Array(12), input, new Uint8Array(0)],
    params: [
      { at: 0, name: 'key', lengths: [16] }, { at: 1, name: 'nonce', lengths: [12] }, { at: 2, name: third },
      { at: 3, name: 'aad', optional: true },
    ],
  })),
  { name: 'equalBytes', fn: equalBytes, good: () => [msg, msg], params: [{ at: 0, name: 'a' }, { at: 1, name: 'b' }] },
  { name: 'compareBytes', fn: compareBytes, good: () => [msg, msg], params: [{ at: 0, name: 'a' }, { at: 1, name: 'b' }] },
  { name: 'isAllZero', fn: isAllZero, good: () => [msg], params: [{ at: 0, name: 'a' }] },
  { name: 'toHex', fn: toHex, good: () => [msg], params: [{ at: 0, name: 'b' }] },
  { name: 'toBase64url', fn: toBase64url, good: () => [msg], params: [{ at: 0, name: 'b' }] },
  { name: 'fromUtf8', fn: fromUtf8, good: () => [utf8('ok')], params: [{ at: 0, name: 'b' }] },
];

// Functions whose broken inputs are tested one by one below rather than through SPECS.
const BY_HAND = [
  'availableBackends', 'getBackend', 'setBackend', 'withBackend', 'randomBytes', 'isBytes', 'abytes', 'aint', 'concat',
  'wipe', 'wipeSecretKey', 'utf8', 'fromHex', 'fromBase64url', 'u32be', 'u16be',
];

test('every exported function of primitives.ts and bytes.ts is covered here', () => {
  const exported = [...Object.entries(primitives), ...Object.entries(bytes)]
    .filter(([k, v]) => typeof v === 'function' && !k.startsWith('_')).map(([k]) => k).sort(); // `_`: the core's internals
  const covered = new Set([...SPECS.map((s) => s.name), ...BY_HAND]);
  assert.equal(exported.filter((k) => !covered.has(k)), [], 'functions without error cases');
});

for (const backend of ['node', 'noble'] as const) {
  test(`byte-string arguments: INVALID_TYPE / INVALID_LENGTH naming the argument (${backend})`, () => {
    withBackend(backend, () => {
      for (const spec of SPECS) {
        const good = spec.good();
        call(spec.fn, good); // the good arguments are accepted, so each failure below is the broken one's
        for (const p of spec.params) {
          const at = (v: unknown): unknown[] => good.map((g, i) => (i === p.at ? v : g));
          const bad = p.optional ? NOT_BYTES : [...NOT_BYTES, ['undefined', undefined] as [string, unknown]];
          for (const [what, v] of bad) throws(`${spec.name}(${p.name} = ${what})`, () => call(spec.fn, at(v)), 'INVALID_TYPE', p.name);
          if (!p.lengths) continue;
          const want = p.lengths[0]!;
          for (const n of [0, 1, want - 1, want + 1, 2 * want, 100].filter((n) => n >= 0 && !p.lengths!.includes(n))) {
            const label = `${spec.name}(${p.name} of ${n} bytes)`;
            if (p.wrongLength === 'false') assert.is(call(spec.fn, at(new Uint8Array(n))), false, label);
            else throws(label, () => call(spec.fn, at(new Uint8Array(n))), 'INVALID_LENGTH', p.name);
          }
        }
      }
    });
  });
}

test('byte strings from Buffer, subarrays and another realm are accepted', () => {
  assert.is(toHex(sha256(Buffer.from('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const big = r(100);
  assert.equal(sha256(big.subarray(10, 60)), sha256(big.slice(10, 60)));
  const foreign = runInNewContext('new Uint8Array(32)') as unknown;
  assert.ok(isBytes(foreign));
  assert.is(abytes(foreign, 'x', 32), foreign);
  assert.is(x25519SecretKey(foreign), foreign);
});

test('X25519 peer keys: NON_CANONICAL and LOW_ORDER_POINT, naming the key', () => {
  const P = (1n << 255n) - 19n;
  const enc = (u: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((u >> BigInt(8 * i)) & 0xffn));
  const highBit = xPk.slice(); highBit[31]! |= 0x80;
  const nonCanonical: [string, Uint8Array][] = [['bit 255 set', highBit], ['u = p', enc(P)], ['u = p + 1', enc(P + 1n)], ['u = 2^255 - 1', enc((1n << 255n) - 1n)]];
  const lowOrder: [string, Uint8Array][] = [
    ['0', enc(0n)], ['1', enc(1n)], ['p - 1', enc(P - 1n)],
    ['order 8 (a)', enc(0x00b8495f16056286fdb1329ceb8d09da6ac49ff1fae35616aeb8413b7c7aebe0n)],
    ['order 8 (b)', enc(0x57119fd0dd4e22d8868e1c58c45c44045bef839c55b1d0b1248c50a3bc959c5fn)],
  ];
  for (const backend of ['node', 'noble'] as const) {
    withBackend(backend, () => {
      for (const [what, pk] of nonCanonical) {
        throws(`x25519PublicKey(${what})`, () => x25519PublicKey(pk), 'NON_CANONICAL', 'publicKey');
        throws(`x25519PublicKey(${what}, 'peerKey')`, () => x25519PublicKey(pk, 'peerKey'), 'NON_CANONICAL', 'peerKey');
        throws(`x25519(${what})`, () => x25519(xSk as never, pk as never), 'NON_CANONICAL', 'publicKey');
      }
      for (const [what, pk] of lowOrder) {
        throws(`x25519PublicKey(${what})`, () => x25519PublicKey(pk), 'LOW_ORDER_POINT', 'publicKey');
        throws(`x25519(${what})`, () => x25519(xSk as never, pk as never), 'LOW_ORDER_POINT', 'publicKey');
      }
    });
  }
  // The custom name reaches the other validators' messages too.
  throws('x25519SecretKey name', () => x25519SecretKey(new Uint8Array(3), 'mySecret'), 'INVALID_LENGTH', 'mySecret');
  throws('ed25519PublicKey name', () => ed25519PublicKey('x', 'readKey'), 'INVALID_TYPE', 'readKey');
  throws('ed25519Seed name', () => ed25519Seed(null, 'readSeed'), 'INVALID_TYPE', 'readSeed');
  throws('aeadKey name', () => aeadKey(new Uint8Array(16), 'dk'), 'INVALID_LENGTH', 'dk');
});

test('Ed25519 verification refuses, never throws, for keys and signatures that cannot verify', () => {
  const highS = edSig.slice(); highS[63]! |= 0xe0; // S >= L
  const p = 'ed' + 'ff'.repeat(30) + '7f';
  for (const backend of ['node', 'noble'] as const) {
    withBackend(backend, () => {
      assert.ok(ed25519Verify(edSig, msg, edPk), backend);
      assert.not.ok(ed25519Verify(highS, msg, edPk), `${backend}: S >= L`);
      assert.not.ok(ed25519Verify(edSig, msg, Uint8Array.from(Buffer.from(p, 'hex')) as never), `${backend}: y = p`);
      assert.not.ok(ed25519Verify(new Uint8Array(64), msg, new Uint8Array(32) as never), `${backend}: zeroes`);
    });
  }
});

test('AEAD: short or forged ciphertexts are DECRYPT_FAILED', () => {
  for (const backend of ['node', 'noble'] as const) {
    withBackend(backend, () => {
      for (const n of [0, 1, 15]) {
        throws(`chacha open ${n} bytes`, () => chacha20poly1305Open(key32, new Uint8Array(12), new Uint8Array(n)), 'DECRYPT_FAILED');
        throws(`xchacha open ${n} bytes`, () => xchacha20poly1305Open(key32, new Uint8Array(24), new Uint8Array(n)), 'DECRYPT_FAILED');
      }
      throws('chacha open 16 zero bytes', () => chacha20poly1305Open(key32, new Uint8Array(12), new Uint8Array(16)), 'DECRYPT_FAILED');
      throws('chacha wrong nonce', () => chacha20poly1305Open(key32, new Uint8Array(12).fill(1), sealed12), 'DECRYPT_FAILED');
      throws('xchacha wrong key', () => xchacha20poly1305Open(r(32) as AeadKey, new Uint8Array(24), sealed24), 'DECRYPT_FAILED');
    });
  }
});

test('integer arguments: INVALID_TYPE for non-integers, INVALID_ARGUMENT out of range', () => {
  const ints: [string, (n: unknown) => unknown, number, number][] = [
    ['randomBytes', (n) => randomBytes(n as number), 0, 2 ** 20],
    ['hkdfExpand', (n) => hkdfExpand(key32, msg, n as number), 0, 255 * 32],
    ['hkdf', (n) => hkdf(msg, msg, msg, n as number), 0, 255 * 32],
    ['u32be', (n) => u32be(n as number), 0, 2 ** 32 - 1],
    ['u16be', (n) => u16be(n as number), 0, 2 ** 16 - 1],
    ['aint', (n) => aint(n, 'n', 0, 10), 0, 10],
  ];
  const names: Record<string, string> = { randomBytes: 'n', hkdfExpand: 'length', hkdf: 'length', u32be: 'n', u16be: 'n', aint: 'n' };
  for (const [fn, f, min, max] of ints) {
    f(min); f(max); // the bounds themselves are accepted
    for (const v of NOT_INTEGERS) throws(`${fn}(${String(v)})`, () => f(v), 'INVALID_TYPE', names[fn]);
    for (const v of [min - 1, max + 1, -(2 ** 40)]) throws(`${fn}(${v})`, () => f(v), 'INVALID_ARGUMENT', names[fn]);
  }
  throws('hkdfExpand(prk of 31 bytes)', () => hkdfExpand(new Uint8Array(31), msg, 32), 'INVALID_LENGTH', 'prk');
  assert.is(hkdf(msg, msg, msg, 255 * 32).length, 255 * 32);
  assert.is(randomBytes(0).length, 0);
});

test('backend selection: BACKEND_UNAVAILABLE, and the previous backend survives', () => {
  const before = getBackend();
  for (const name of ['openssl', '', 'NODE', undefined, 42]) {
    throws(`setBackend(${String(name)})`, () => setBackend(name as never), 'BACKEND_UNAVAILABLE');
    let ran = false;
    throws(`withBackend(${String(name)})`, () => withBackend(name as never, () => { ran = true; }), 'BACKEND_UNAVAILABLE');
    assert.not.ok(ran, 'the function did not run');
    assert.is(getBackend(), before);
  }
  throws('message names it', () => setBackend('openssl' as never), 'BACKEND_UNAVAILABLE', "'openssl'");
  // A throwing function still restores the previous backend.
  assert.throws(() => withBackend(before === 'node' ? 'noble' : 'node', () => { throw new Error('boom'); }), /boom/);
  assert.is(getBackend(), before);
});

test('bytes.ts helpers refuse what they cannot handle', () => {
  for (const [what, v] of NOT_BYTES) {
    assert.not.ok(isBytes(v), `isBytes(${what})`);
    throws(`abytes(${what})`, () => abytes(v, 'thing'), 'INVALID_TYPE', 'thing');
    throws(`concat(ok, ${what})`, () => concat(msg, v as Uint8Array), 'INVALID_TYPE', 'parts[1]');
    throws(`wipe(${what})`, () => wipe(msg.slice(), v as Uint8Array), 'INVALID_TYPE', 'arrays[]');
    throws(`wipeSecretKey(${what})`, () => primitives.wipeSecretKey(v as Uint8Array), 'INVALID_TYPE', 'secretKeys[]');
  }
  throws('abytes length', () => abytes(new Uint8Array(5), 'thing', 4, 6), 'INVALID_LENGTH', 'thing');
  assert.ok(isBytes(Buffer.alloc(1)));
  wipe(undefined); // allowed: optional secrets
  for (const v of [1, null, new Uint8Array(1), ['a']]) throws(`utf8(${String(v)})`, () => utf8(v as never), 'INVALID_TYPE', 's');
  // Malformed UTF-8: a stray continuation byte, 0xff, an overlong '/', a surrogate, a truncated sequence.
  for (const b of [[0x80], [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    throws(`fromUtf8(${b})`, () => fromUtf8(Uint8Array.from(b)), 'INVALID_ARGUMENT', 'b');
  }
  for (const h of ['0', 'abc', 'zz', '0x00', ' 00', '00 ', 'g0', '-1', '０１']) throws(`fromHex(${JSON.stringify(h)})`, () => fromHex(h), 'INVALID_ARGUMENT', 'hex');
  for (const v of [null, 12, new Uint8Array(2)]) throws(`fromHex(${String(v)})`, () => fromHex(v as never), 'INVALID_ARGUMENT', 'hex');
  // Malformed base64url: impossible length, padding, the standard alphabet, whitespace, non-ASCII, non-strings.
  for (const s of ['A', 'AAAAA', 'AA==', 'Zg=', 'ab+/', 'ab/c', 'Zm 9v', 'Zm9v\n', 'Zé', '\u0000A']) {
    throws(`fromBase64url(${JSON.stringify(s)})`, () => fromBase64url(s), 'INVALID_ARGUMENT', 'base64url');
  }
  for (const v of [null, 12, new Uint8Array(2)]) throws(`fromBase64url(${String(v)})`, () => fromBase64url(v as never), 'INVALID_ARGUMENT', 'base64url');
  // Unused low bits must be zero, so that every byte string has exactly one encoding.
  for (const s of ['Zh', 'Zm9', 'AB', 'AAB', 'Zm9vYh']) throws(`fromBase64url(${s})`, () => fromBase64url(s), 'NON_CANONICAL', 'base64url');
});

// ---- round trips ----------------------------------------------------------------------------------------------

test('base64url: RFC 4648 vectors, Buffer agreement and round trips of every length 0..100', () => {
  const rfc: [string, string][] = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
  for (const [plain, enc] of rfc) {
    assert.is(toBase64url(utf8(plain)), enc);
    assert.is(fromUtf8(fromBase64url(enc)), plain);
  }
  assert.is(toBase64url(Uint8Array.from([0xfb, 0xff, 0xbf])), '-_-_'); // the two URL-safe characters
  for (let n = 0; n <= 100; n++) {
    const b = r(n);
    const s = toBase64url(b);
    assert.is(s, Buffer.from(b).toString('base64url'), `length ${n}`);
    assert.equal(fromBase64url(s), b, `length ${n}`);
    assert.is(s.length, Math.ceil((4 * n) / 3));
  }
});

test('hex: round trips, lowercase out, either case in', () => {
  for (let n = 0; n <= 64; n++) {
    const b = r(n);
    const h = toHex(b);
    assert.is(h, Buffer.from(b).toString('hex'));
    assert.equal(fromHex(h), b);
    assert.equal(fromHex(h.toUpperCase()), b);
  }
  assert.is(toHex(Uint8Array.from([0, 1, 0xab, 0xff])), '0001abff');
  assert.equal(fromHex('DEADbeef'), Uint8Array.from([0xde, 0xad, 0xbe, 0xef]));
});

test('compareBytes orders lexicographically, the shorter prefix first', () => {
  assert.is(compareBytes(utf8('abc'), utf8('abc')), 0);
  assert.ok(compareBytes(utf8('abc'), utf8('abd')) < 0);
  assert.ok(compareBytes(utf8('b'), utf8('abc')) > 0);
  assert.ok(compareBytes(utf8('ab'), utf8('abc')) < 0);
});

test('equalBytes, isAllZero, concat, wipe, u16be/u32be, utf8', () => {
  const a = r(40);
  assert.ok(equalBytes(a, a.slice()));
  assert.ok(equalBytes(new Uint8Array(0), new Uint8Array(0)));
  assert.not.ok(equalBytes(a, a.subarray(0, 39)));
  for (let i = 0; i < a.length; i++) {
    const b = a.slice(); b[i]! ^= 0x80;
    assert.not.ok(equalBytes(a, b), `differs at ${i}`);
  }
  const backing = new Uint8Array(50); backing.set(a, 5);
  assert.ok(equalBytes(a, backing.subarray(5, 45)), 'views with an offset');
  assert.not.ok(equalBytes(utf8('abc'), utf8('xyz')));
  assert.ok(isAllZero(new Uint8Array(7)));
  assert.ok(isAllZero(new Uint8Array(0)));
  assert.not.ok(isAllZero(Uint8Array.from([0, 0, 1])));
  assert.equal(concat(), new Uint8Array(0));
  assert.equal(concat(Uint8Array.from([1]), new Uint8Array(0), Uint8Array.from([2, 3])), Uint8Array.from([1, 2, 3]));
  const s1 = r(8); const s2 = r(8);
  wipe(s1, undefined, s2);
  assert.ok(isAllZero(s1) && isAllZero(s2));
  assert.equal(u32be(0x01020304), Uint8Array.from([1, 2, 3, 4]));
  assert.equal(u32be(0xffffffff), Uint8Array.from([255, 255, 255, 255]));
  assert.equal(u16be(0xabcd), Uint8Array.from([0xab, 0xcd]));
  for (const s of ['', 'sealpost/v1/', 'héllo wörld', '日本語', '👋🏽']) assert.is(fromUtf8(utf8(s)), s);
});

test.run();

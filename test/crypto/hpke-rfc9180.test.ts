// HPKE (src/crypto/hpke.ts) against the RFC 9180 Appendix A vectors for
// DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, all four modes (A.2), and
// AES-128-GCM, base mode (A.1.1), on both backends; then its failures, each by CryptoError
// code, and the AEAD choice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CryptoError, HPKE_AEAD_IDS, HPKE_MAX_EXPORT_LENGTH, HpkeSenderContext, _hpkeComputeNonce, _hpkeDecap,
  _hpkeKeySchedule, _hpkeSkipTo, equalBytes, hpkeDeriveKeyPair, hpkeOpen, hpkeOpenAuth, hpkeOpenAuthPsk,
  hpkeOpenBase, hpkeOpenBaseWith, hpkeOpenPsk, hpkeSeal, hpkeSealAuth, hpkeSealAuthPsk, hpkeSealBase, hpkeSealBaseWith,
  hpkeSealPsk, hpkeSetupRecipient, hpkeSetupSender, randomBytes, utf8, withBackend, x25519KeyPair,
  type BackendName, type HpkeAead, type HpkeMode, type HpkeOpenOptions, type HpkeRecipientMode, type HpkeSealOptions, type HpkeSenderMode,
  type X25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';
import { checkVector, MODES, pair, type Vector } from '../_support/hpke-vectors.js';

const EMPTY = new Uint8Array(0);

// ---- the vectors ----------------------------------------------------------------------------

const VECTORS = readJson<Vector[]>('test', 'vectors', 'hpke', 'rfc9180_x25519_sha256_chacha20poly1305.json');
const BACKENDS: BackendName[] = ['node', 'noble'];

test('the vector file holds all four modes of the one suite', () => {
  assert.equal(VECTORS.map((v) => v.mode).sort(), [0, 1, 2, 3]);
  for (const v of VECTORS) {
    assert.equal([v.kem_id, v.kdf_id, v.aead_id], [0x20, 1, 3]);
    assert.ok(v.encryptions.length > 0 && v.exports.length > 0);
  }
});

// A.1.1: the AES-128-GCM suite, base mode; setup values and encryptions, no exports (see test/vectors/README.md).
const VECTORS_AES = readJson<Vector[]>('test', 'vectors', 'hpke', 'rfc9180_x25519_sha256_aes128gcm.json');

test('the A.1.1 file holds the base mode of the AES-128-GCM suite', () => {
  assert.equal(VECTORS_AES.map((v) => [v.mode, v.kem_id, v.kdf_id, v.aead_id]), [[0, 0x20, 1, HPKE_AEAD_IDS.aes128gcm]]);
  assert.equal(VECTORS_AES[0]!.encryptions.map((e) => e.sequence_number), [0, 1, 2, 4, 255, 256]);
});

for (const backend of BACKENDS) {
  for (const v of [...VECTORS, ...VECTORS_AES]) {
    const suite = v.aead_id === 1 ? 'AES-128-GCM' : 'ChaCha20-Poly1305';
    test(`RFC 9180 vector, ${suite}, mode ${MODES[v.mode]}, ${backend} backend: every value matches`, () => {
      const { checked, failures } = withBackend(backend, () => checkVector(v));
      assert.equal(failures, []);
      // 2-3 key pairs, Encap+Decap, KeySchedule, setup enc, nonces, ct, pt, 2 per export, single-shot.
      const expected = (v.mode >= 2 ? 6 : 4) + 3 + 5 + 1 + 3 * v.encryptions.length + 2 * v.exports.length + 3;
      assert.is(checked, expected);
    });
  }
}

test('the A.1.1 vector fails as soon as a value, or the AEAD, is wrong', () => {
  const v = VECTORS_AES[0]!;
  assert.equal(checkVector(v).failures, []);
  const corrupted = structuredClone(v);
  const e255 = corrupted.encryptions.find((e) => e.sequence_number === 255)!;
  e255.ct = (e255.ct[0] === '0' ? '1' : '0') + e255.ct.slice(1);
  assert.ok(checkVector(corrupted).failures.some((f) => f.startsWith('encryptions[seq 255].ct')), 'corrupted ct went unnoticed');
  // Read as the ChaCha20-Poly1305 suite, aead_id in suite_id changes key_schedule_context and
  // everything after it (RFC 9180 §5.1), while the KEM's values (suite_id "KEM" || kem_id) hold.
  const { failures } = checkVector({ ...v, aead_id: 3 });
  assert.ok(failures.some((f) => f.startsWith('key_schedule_context')), failures.join('; '));
  assert.ok(failures.some((f) => f.startsWith('key:')), failures.join('; '));
  assert.not.ok(failures.some((f) => f.startsWith('shared_secret') || f.startsWith('enc (')), failures.join('; '));
});

test('the checker reports a corrupted copy of each vector field', () => {
  const flip = (h: string, at = 0): string => {
    const b = hex(h);
    const i = Math.min(at, b.length - 1);
    if (b.length === 0) return '00';
    b[i] = b[i]! ^ 0x01;
    return toHexString(b);
  };
  type Corruption = [string, (v: Vector) => void, string];
  const corruptions: Corruption[] = [
    ['skEm', (v) => { v.skEm = flip(v.skEm); }, 'skEm'],
    ['pkRm', (v) => { v.pkRm = flip(v.pkRm); }, 'pkRm'],
    ['skSm', (v) => { v.skSm = flip(v.skSm!); }, 'skSm'],
    ['enc', (v) => { v.enc = flip(v.enc); }, 'enc'],
    ['shared_secret', (v) => { v.shared_secret = flip(v.shared_secret, 31); }, 'shared_secret'],
    ['key_schedule_context', (v) => { v.key_schedule_context = flip(v.key_schedule_context, 5); }, 'key_schedule_context'],
    ['secret', (v) => { v.secret = flip(v.secret); }, 'secret'],
    ['key', (v) => { v.key = flip(v.key); }, 'key'],
    ['base_nonce', (v) => { v.base_nonce = flip(v.base_nonce, 11); }, 'base_nonce'],
    ['exporter_secret', (v) => { v.exporter_secret = flip(v.exporter_secret); }, 'exporter_secret'],
    ['info', (v) => { v.info = flip(v.info); }, 'key_schedule_context'],
    ['psk', (v) => { v.psk = flip(v.psk!); }, 'secret'],
    ['psk_id', (v) => { v.psk_id = flip(v.psk_id!); }, 'key_schedule_context'],
    ['encryptions[seq 255].ct', (v) => { const e = v.encryptions.find((x) => x.sequence_number === 255)!; e.ct = flip(e.ct, 3); }, 'encryptions[seq 255].ct'],
    ['encryptions[seq 4].nonce', (v) => { const e = v.encryptions.find((x) => x.sequence_number === 4)!; e.nonce = flip(e.nonce); }, 'encryptions[seq 4].nonce'],
    ['encryptions[seq 1].aad', (v) => { const e = v.encryptions.find((x) => x.sequence_number === 1)!; e.aad = flip(e.aad); }, 'encryptions[seq 1].ct'],
    ['encryptions[seq 256].sequence_number', (v) => { v.encryptions.find((x) => x.sequence_number === 256)!.sequence_number = 257; }, 'encryptions[seq 257].nonce'],
    ['exports[2].exported_value', (v) => { const x = v.exports[2]!; x.exported_value = flip(x.exported_value, 31); }, 'exports[2].exported_value'],
    ['exports[1].L', (v) => { v.exports[1]!.L = 31; }, 'exports[1].exported_value'],
  ];
  const authPsk = VECTORS.find((v) => v.mode === 3)!;
  assert.equal(checkVector(authPsk).failures, []);
  for (const [field, corrupt, reported] of corruptions) {
    const copy = structuredClone(authPsk);
    corrupt(copy);
    const { failures } = checkVector(copy);
    assert.ok(failures.length > 0, `corrupted ${field} went unnoticed`);
    assert.ok(failures.some((f) => f.startsWith(reported)), `corrupted ${field}: no failure names ${reported}: ${failures.join('; ')}`);
  }
  assert.equal(checkVector(authPsk).failures, [], 'the checker must not modify its input');
});

// ---- failures -------------------------------------------------------------------------------

const code = (fn: () => unknown): string | undefined => {
  try { fn(); } catch (e) { return e instanceof CryptoError ? e.code : `not a CryptoError: ${String(e)}`; }
  return undefined;
};
const le = (n: bigint): Uint8Array => {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) b[i] = Number(n & 0xffn);
  return b;
};
const P = (1n << 255n) - 19n;
const LOW_ORDER = [0n, 1n, P - 1n,
  0x00b8495f16056286fdb1329ceb8d09da6ac49ff1fae35616aeb8413b7c7aebe0n,
  0x57119fd0dd4e22d8868e1c58c45c44045bef839c55b1d0b1248c50a3bc959c5fn].map(le);
const flipped = (b: Uint8Array, i: number, bit = 0x01): Uint8Array => { const c = b.slice(); c[i] = c[i]! ^ bit; return c; };

interface Fixture {
  recipient: X25519KeyPair; sender: X25519KeyPair; psk: Uint8Array; pskId: Uint8Array; info: Uint8Array; aad: Uint8Array;
  sMode: (m: HpkeMode) => HpkeSenderMode; rMode: (m: HpkeMode) => HpkeRecipientMode;
}
function fixture(): Fixture {
  const sender = x25519KeyPair();
  const psk = randomBytes(32), pskId = utf8('psk-1');
  return {
    recipient: x25519KeyPair(), sender, psk, pskId, info: utf8('sealpost/v1/test'), aad: utf8('aad'),
    sMode: (m) => (m === 'base' ? { mode: m } : m === 'psk' ? { mode: m, psk, pskId } : m === 'auth' ? { mode: m, sender } : { mode: m, sender, psk, pskId }),
    rMode: (m) => (m === 'base' ? { mode: m } : m === 'psk' ? { mode: m, psk, pskId }
      : m === 'auth' ? { mode: m, senderPublicKey: sender.publicKey } : { mode: m, senderPublicKey: sender.publicKey, psk, pskId }),
  };
}

for (const backend of BACKENDS) {
  test(`${backend}: tampered ct, aad, enc, info and a wrong recipient are DECRYPT_FAILED in every mode`, () => {
    withBackend(backend, () => {
      const f = fixture();
      const pt = utf8('attack at dawn');
      for (const m of MODES) {
        const { enc, ct } = hpkeSeal(f.recipient.publicKey, pt, { ...f.sMode(m), info: f.info, aad: f.aad });
        const open = (e: Uint8Array, c: Uint8Array, o: Partial<{ aad: Uint8Array; info: Uint8Array; recipient: X25519KeyPair }> = {}): Uint8Array =>
          hpkeOpen(e, o.recipient ?? f.recipient, c, { ...f.rMode(m), info: o.info ?? f.info, aad: o.aad ?? f.aad });
        assert.equal(open(enc, ct), pt, m);
        for (const i of [0, pt.length - 1, pt.length, ct.length - 1]) assert.is(code(() => open(enc, flipped(ct, i))), 'DECRYPT_FAILED', `${m} ct[${i}]`);
        assert.is(code(() => open(enc, ct.subarray(0, ct.length - 1))), 'DECRYPT_FAILED', `${m} truncated`);
        assert.is(code(() => open(enc, ct.subarray(0, 15))), 'DECRYPT_FAILED', `${m} shorter than the tag`);
        assert.is(code(() => open(enc, EMPTY)), 'DECRYPT_FAILED', `${m} empty`);
        assert.is(code(() => open(enc, ct, { aad: utf8('aae') })), 'DECRYPT_FAILED', `${m} aad`);
        assert.is(code(() => open(enc, ct, { aad: EMPTY })), 'DECRYPT_FAILED', `${m} no aad`);
        assert.is(code(() => open(enc, ct, { info: utf8('sealpost/v1/other') })), 'DECRYPT_FAILED', `${m} info`);
        assert.is(code(() => open(flipped(enc, 0, 0x02), ct)), 'DECRYPT_FAILED', `${m} enc`);
        assert.is(code(() => open(flipped(enc, 17, 0x40), ct)), 'DECRYPT_FAILED', `${m} enc`);
        assert.is(code(() => open(enc, ct, { recipient: x25519KeyPair() })), 'DECRYPT_FAILED', `${m} wrong recipient`);
        // The right secret with a wrong public key changes kem_context (§4.1), so it fails too.
        assert.is(code(() => open(enc, ct, { recipient: { ...f.recipient, publicKey: x25519KeyPair().publicKey } })), 'DECRYPT_FAILED', `${m} pkRm`);
      }
    });
  });

  test(`${backend}: auth modes bind the sender, psk modes bind psk and psk_id, and modes do not mix`, () => {
    withBackend(backend, () => {
      const f = fixture();
      const pt = utf8('hello');
      const other = x25519KeyPair();
      for (const m of ['auth', 'auth_psk'] as const) {
        const { enc, ct } = hpkeSeal(f.recipient.publicKey, pt, { ...f.sMode(m), info: f.info });
        const rm = f.rMode(m);
        assert.is(code(() => hpkeOpen(enc, f.recipient, ct, { ...rm, info: f.info, senderPublicKey: other.publicKey } as HpkeOpenOptions)), 'DECRYPT_FAILED', `${m} wrong pkS`);
        // Someone claiming the sender's public key without its secret key.
        const forged = hpkeSeal(f.recipient.publicKey, pt, { ...f.sMode(m), info: f.info, sender: { secretKey: other.secretKey, publicKey: f.sender.publicKey } } as HpkeSealOptions);
        assert.is(code(() => hpkeOpen(forged.enc, f.recipient, forged.ct, { ...rm, info: f.info })), 'DECRYPT_FAILED', `${m} forged sender`);
      }
      for (const m of ['psk', 'auth_psk'] as const) {
        const { enc, ct } = hpkeSeal(f.recipient.publicKey, pt, { ...f.sMode(m), info: f.info });
        const rm = f.rMode(m);
        assert.is(code(() => hpkeOpen(enc, f.recipient, ct, { ...rm, info: f.info, psk: flipped(f.psk, 31) } as HpkeOpenOptions)), 'DECRYPT_FAILED', `${m} wrong psk`);
        assert.is(code(() => hpkeOpen(enc, f.recipient, ct, { ...rm, info: f.info, pskId: utf8('psk-2') } as HpkeOpenOptions)), 'DECRYPT_FAILED', `${m} wrong psk_id`);
      }
      // A ciphertext opens only in the mode it was sealed in (the mode is in key_schedule_context, §5.1).
      for (const sm of MODES) {
        const { enc, ct } = hpkeSeal(f.recipient.publicKey, pt, { ...f.sMode(sm), info: f.info });
        for (const rm of MODES) {
          const c = code(() => hpkeOpen(enc, f.recipient, ct, { ...f.rMode(rm), info: f.info }));
          assert.is(c, sm === rm ? undefined : 'DECRYPT_FAILED', `sealed ${sm}, opened ${rm}`);
        }
      }
    });
  });

  test(`${backend}: low-order and non-canonical keys are refused with the crypto core's codes`, () => {
    withBackend(backend, () => {
      const f = fixture();
      const { ct } = hpkeSealBase(f.recipient.publicKey, utf8('x'), { info: f.info });
      for (const bad of LOW_ORDER) {
        assert.is(code(() => hpkeOpenBase(bad, f.recipient, ct, { info: f.info })), 'LOW_ORDER_POINT', `enc ${toHexString(bad)}`);
        assert.is(code(() => hpkeSetupRecipient(bad, f.recipient, { mode: 'auth', senderPublicKey: f.sender.publicKey, info: f.info })), 'LOW_ORDER_POINT');
        assert.is(code(() => hpkeSealBase(bad as X25519PublicKey, utf8('x'), { info: f.info })), 'LOW_ORDER_POINT', 'pkR');
        assert.is(code(() => hpkeSealAuth(f.recipient.publicKey, utf8('x'), { info: f.info, sender: { ...f.sender, publicKey: bad as X25519PublicKey } })), 'LOW_ORDER_POINT', 'pkS (sender)');
        assert.is(code(() => hpkeOpenAuth(randomEnc(), f.recipient, ct, { info: f.info, senderPublicKey: bad as X25519PublicKey })), 'LOW_ORDER_POINT', 'pkS (recipient)');
        assert.is(code(() => _hpkeDecap(bad, f.recipient)), 'LOW_ORDER_POINT');
      }
      const highBit = flipped(f.recipient.publicKey, 31, 0x80);
      assert.is(code(() => hpkeOpenBase(highBit, f.recipient, ct, { info: f.info })), 'NON_CANONICAL');
      assert.is(code(() => hpkeOpenBase(le(P), f.recipient, ct, { info: f.info })), 'NON_CANONICAL');
      assert.is(code(() => hpkeOpenBase(le(P + 1n), f.recipient, ct, { info: f.info })), 'NON_CANONICAL');
      assert.is(code(() => hpkeSealBase(le(P + 5n) as X25519PublicKey, utf8('x'), { info: f.info })), 'NON_CANONICAL');
    });
  });
}
const randomEnc = (): Uint8Array => x25519KeyPair().publicKey;

test('PSK inputs follow RFC 9180 §5.1 VerifyPSKInputs and the 32-byte floor: INVALID_ARGUMENT', () => {
  const f = fixture();
  const pkR = f.recipient.publicKey;
  const pt = utf8('x');
  const info = f.info;
  const ss = randomBytes(32);
  const seal = (o: object): string | undefined => code(() => hpkeSeal(pkR, pt, { info, ...o } as HpkeSealOptions));
  const open = (o: object): string | undefined => code(() => hpkeSetupRecipient(randomEnc(), f.recipient, { info, ...o } as HpkeOpenOptions));
  for (const check of [seal, open]) {
    const who = check === seal ? 'sender' : 'recipient';
    const auth = check === seal ? { sender: f.sender } : { senderPublicKey: f.sender.publicKey };
    for (const [mode, extra] of [['psk', {}], ['auth_psk', auth]] as const) {
      assert.is(check({ mode, ...extra, psk: f.psk.subarray(0, 31), pskId: f.pskId }), 'INVALID_ARGUMENT', `${who} ${mode} 31-byte psk`);
      assert.is(check({ mode, ...extra, psk: f.psk, pskId: EMPTY }), 'INVALID_ARGUMENT', `${who} ${mode} empty psk_id`);
      assert.is(check({ mode, ...extra, psk: EMPTY, pskId: f.pskId }), 'INVALID_ARGUMENT', `${who} ${mode} empty psk`);
      assert.is(check({ mode, ...extra, psk: f.psk }), 'INVALID_ARGUMENT', `${who} ${mode} psk without psk_id`);
      assert.is(check({ mode, ...extra, pskId: f.pskId }), 'INVALID_ARGUMENT', `${who} ${mode} psk_id without psk`);
      assert.is(check({ mode, ...extra }), 'INVALID_ARGUMENT', `${who} ${mode} no psk`);
      assert.is(check({ mode, ...extra, psk: 'x'.repeat(32), pskId: f.pskId }), 'INVALID_TYPE', `${who} ${mode} psk as string`);
    }
    for (const [mode, extra] of [['base', {}], ['auth', auth]] as const) {
      assert.is(check({ mode, ...extra, psk: f.psk, pskId: f.pskId }), 'INVALID_ARGUMENT', `${who} ${mode} with psk`);
      assert.is(check({ mode, ...extra, psk: EMPTY, pskId: EMPTY }), 'INVALID_ARGUMENT', `${who} ${mode} with empty psk fields`);
    }
    assert.is(check({ mode: 'base', ...auth }), 'INVALID_ARGUMENT', `${who} base with a sender key`);
    assert.is(check({ mode: 'psk', ...auth, psk: f.psk, pskId: f.pskId }), 'INVALID_ARGUMENT', `${who} psk with a sender key`);
    assert.is(check({ mode: 'auth' }), 'INVALID_TYPE', `${who} auth without a sender key`);
    assert.is(check({ mode: 'bogus' }), 'INVALID_ARGUMENT', `${who} unknown mode`);
    assert.is(check({ mode: 0 }), 'INVALID_ARGUMENT', `${who} numeric mode`);
  }
  // The key schedule itself (§5.1), by mode id.
  assert.is(code(() => _hpkeKeySchedule(0, ss, info, f.psk, f.pskId)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeKeySchedule(2, ss, info, f.psk, f.pskId)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeKeySchedule(1, ss, info)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeKeySchedule(3, ss, info, f.psk)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeKeySchedule(1, ss, info, EMPTY, f.pskId)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeKeySchedule(1, ss, info, randomBytes(16), f.pskId)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeKeySchedule(4, ss, info)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeKeySchedule(1, ss, info, f.psk, f.pskId)), undefined);
  assert.is(code(() => _hpkeKeySchedule(3, ss, info, randomBytes(64), randomBytes(1))), undefined);
});

test('invalid lengths and types: INVALID_LENGTH, INVALID_TYPE, INVALID_ARGUMENT', () => {
  const f = fixture();
  const pkR = f.recipient.publicKey;
  const { enc, ct } = hpkeSealBase(pkR, utf8('x'), { info: f.info });
  for (const n of [0, 31, 33]) {
    assert.is(code(() => hpkeOpenBase(randomBytes(n), f.recipient, ct, { info: f.info })), 'INVALID_LENGTH', `enc ${n}`);
    assert.is(code(() => hpkeSealBase(randomBytes(n) as X25519PublicKey, utf8('x'), { info: f.info })), 'INVALID_LENGTH', `pkR ${n}`);
    assert.is(code(() => hpkeOpenBase(enc, { ...f.recipient, secretKey: randomBytes(n) as X25519SecretKey }, ct, { info: f.info })), 'INVALID_LENGTH', `skR ${n}`);
    assert.is(code(() => hpkeSealAuth(pkR, utf8('x'), { info: f.info, sender: { ...f.sender, secretKey: randomBytes(n) as X25519SecretKey } })), 'INVALID_LENGTH', `skS ${n}`);
    assert.is(code(() => hpkeOpenAuth(enc, f.recipient, ct, { info: f.info, senderPublicKey: randomBytes(n) as X25519PublicKey })), 'INVALID_LENGTH', `pkS ${n}`);
  }
  for (const n of [0, 16, 31]) assert.is(code(() => hpkeDeriveKeyPair(randomBytes(n))), 'INVALID_LENGTH', `ikm ${n}`);
  assert.is(code(() => hpkeDeriveKeyPair(randomBytes(64))), undefined);
  assert.is(code(() => _hpkeKeySchedule(0, randomBytes(31), f.info)), 'INVALID_LENGTH');
  assert.is(code(() => _hpkeComputeNonce(randomBytes(11), 0n)), 'INVALID_LENGTH');
  assert.is(code(() => hpkeSealBase(pkR, 'text' as unknown as Uint8Array, { info: f.info })), 'INVALID_TYPE');
  assert.is(code(() => hpkeSealBase(pkR, utf8('x'), {} as { info: Uint8Array })), 'INVALID_TYPE');
  assert.is(code(() => hpkeSealBase(pkR, utf8('x'), { info: f.info, aad: [1, 2] as unknown as Uint8Array })), 'INVALID_TYPE');
  assert.is(code(() => hpkeSeal(pkR, utf8('x'), null as unknown as HpkeSealOptions)), 'INVALID_TYPE');
  assert.is(code(() => hpkeOpenBase(enc, null as unknown as X25519KeyPair, ct, { info: f.info })), 'INVALID_TYPE');
  // Export length (§5.3): at most 255 * Nh.
  const { context } = hpkeSetupSender(pkR, { mode: 'base', info: f.info });
  assert.is(context.export(EMPTY, HPKE_MAX_EXPORT_LENGTH).length, 8160);
  assert.is(context.export(EMPTY, 0).length, 0);
  assert.is(code(() => context.export(EMPTY, HPKE_MAX_EXPORT_LENGTH + 1)), 'INVALID_ARGUMENT');
  assert.is(code(() => context.export(EMPTY, -1)), 'INVALID_ARGUMENT');
  assert.is(code(() => context.export(EMPTY, 1.5)), 'INVALID_TYPE');
  assert.is(code(() => context.export('ctx' as unknown as Uint8Array, 32)), 'INVALID_TYPE');
  // An injected ephemeral key pair must be consistent: its public key becomes enc.
  const e = x25519KeyPair();
  assert.is(code(() => hpkeSealBase(pkR, utf8('x'), { info: f.info, ephemeral: { ...e, publicKey: x25519KeyPair().publicKey } })), 'INVALID_ARGUMENT');
  assert.is(hpkeSealBase(pkR, utf8('x'), { info: f.info, ephemeral: e }).enc.length, 32);
});

test('contexts: sequence numbers, replay and reordering, exports, the message limit, destroy', () => {
  const f = fixture();
  const { enc, context: s } = hpkeSetupSender(f.recipient.publicKey, { mode: 'auth_psk', sender: f.sender, psk: f.psk, pskId: f.pskId, info: f.info });
  const r = hpkeSetupRecipient(enc, f.recipient, { mode: 'auth_psk', senderPublicKey: f.sender.publicKey, psk: f.psk, pskId: f.pskId, info: f.info });
  const cts = [0, 1, 2, 3].map((i) => s.seal(utf8(`m${i}`), utf8(`a${i}`)));
  assert.is(s.sequenceNumber, 4n);
  assert.equal(r.open(cts[0]!, utf8('a0')), utf8('m0'));
  assert.is(code(() => r.open(cts[0]!, utf8('a0'))), 'DECRYPT_FAILED', 'replay');
  assert.is(code(() => r.open(cts[2]!, utf8('a2'))), 'DECRYPT_FAILED', 'reordered');
  assert.is(r.sequenceNumber, 1n, 'a failed open leaves seq unchanged');
  assert.equal(r.open(cts[1]!, utf8('a1')), utf8('m1'));
  // Same plaintext twice: different ciphertexts (different nonces).
  assert.not.ok(equalBytes(s.seal(utf8('same')), s.seal(utf8('same'))));
  // Exports agree across the two sides and separate by context and length.
  assert.equal(s.export(utf8('ctx'), 32), r.export(utf8('ctx'), 32));
  assert.not.equal(s.export(utf8('ctx'), 32), s.export(utf8('ctx2'), 32));
  assert.not.equal(s.export(utf8('ctx'), 32), s.export(utf8('ctx'), 64).subarray(0, 32)); // L is in the label (§4)

  // §5.2: the last usable sequence number is 2^96 - 2; the next call is MESSAGE_LIMIT.
  const max = (1n << 96n) - 1n;
  const { enc: enc2, context: s2 } = hpkeSetupSender(f.recipient.publicKey, { mode: 'base', info: f.info });
  const r2 = hpkeSetupRecipient(enc2, f.recipient, { mode: 'base', info: f.info });
  _hpkeSkipTo(s2, max - 1n);
  _hpkeSkipTo(r2, max - 1n);
  const lastCt = s2.seal(utf8('last'));
  assert.is(s2.sequenceNumber, max);
  assert.is(code(() => s2.seal(utf8('one too many'))), 'MESSAGE_LIMIT');
  assert.equal(r2.open(lastCt), utf8('last'));
  assert.is(code(() => r2.open(lastCt)), 'MESSAGE_LIMIT');
  assert.is(code(() => _hpkeSkipTo(s, 0n)), 'INVALID_ARGUMENT', 'never backward');
  assert.is(code(() => _hpkeSkipTo(s, max + 1n)), 'INVALID_ARGUMENT');
  assert.is(code(() => _hpkeSkipTo({} as HpkeSenderContext, 5n)), 'INVALID_TYPE');
  // The nonce at the largest sequence numbers: base_nonce XOR I2OSP(seq, 12).
  const base = randomBytes(12);
  const n = _hpkeComputeNonce(base, max - 1n);
  assert.equal(n, base.map((b, i) => b ^ (i === 11 ? 0xfe : 0xff)));
  assert.equal(_hpkeComputeNonce(base, 0x0102n), base.map((b, i) => b ^ (i === 10 ? 1 : i === 11 ? 2 : 0)));

  // destroy() wipes and disables the context.
  s.destroy();
  r.destroy();
  assert.is(code(() => s.seal(utf8('x'))), 'INVALID_ARGUMENT');
  assert.is(code(() => s.export(EMPTY, 32)), 'INVALID_ARGUMENT');
  assert.is(code(() => r.open(cts[2]!, utf8('a2'))), 'INVALID_ARGUMENT');
});

test('both backends interoperate, every mode, through the named single-shot APIs', () => {
  const f = fixture();
  const pt = randomBytes(300);
  const o = { info: f.info, aad: f.aad };
  const psk = { psk: f.psk, pskId: f.pskId };
  for (const [a, b] of [['node', 'noble'], ['noble', 'node']] as const) {
    let x = withBackend(a, () => hpkeSealBase(f.recipient.publicKey, pt, o));
    assert.equal(withBackend(b, () => hpkeOpenBase(x.enc, f.recipient, x.ct, o)), pt);
    x = withBackend(a, () => hpkeSealPsk(f.recipient.publicKey, pt, { ...o, ...psk }));
    assert.equal(withBackend(b, () => hpkeOpenPsk(x.enc, f.recipient, x.ct, { ...o, ...psk })), pt);
    x = withBackend(a, () => hpkeSealAuth(f.recipient.publicKey, pt, { ...o, sender: f.sender }));
    assert.equal(withBackend(b, () => hpkeOpenAuth(x.enc, f.recipient, x.ct, { ...o, senderPublicKey: f.sender.publicKey })), pt);
    x = withBackend(a, () => hpkeSealAuthPsk(f.recipient.publicKey, pt, { ...o, ...psk, sender: f.sender }));
    assert.equal(withBackend(b, () => hpkeOpenAuthPsk(x.enc, f.recipient, x.ct, { ...o, ...psk, senderPublicKey: f.sender.publicKey })), pt);
  }
  // Fresh ephemeral keys: two seals of the same message share nothing.
  const one = hpkeSealBase(f.recipient.publicKey, pt, o), two = hpkeSealBase(f.recipient.publicKey, pt, o);
  assert.not.ok(equalBytes(one.enc, two.enc));
  assert.not.ok(equalBytes(one.ct, two.ct));
  assert.is(one.ct.length, pt.length + 16);
  // A key pair from DeriveKeyPair works as a recipient, and the derivation is deterministic.
  const ikm = randomBytes(32);
  const kp = hpkeDeriveKeyPair(ikm);
  assert.equal(hpkeDeriveKeyPair(ikm), kp);
  const y = hpkeSealBase(kp.publicKey, pt, o);
  assert.equal(hpkeOpenBase(y.enc, kp, y.ct, o), pt);
  // The caller's injected ephemeral secret is left alone (only self-made ones are wiped).
  const e = x25519KeyPair();
  const eCopy = e.secretKey.slice();
  hpkeSealBase(f.recipient.publicKey, pt, { ...o, ephemeral: e });
  assert.equal(e.secretKey, eCopy);
});

// ---- the AEAD choice (aead_id 0x0001 AES-128-GCM, 0x0003 ChaCha20-Poly1305) -----------------

const AEADS: readonly HpkeAead[] = ['aes128gcm', 'chacha20poly1305'];

for (const backend of BACKENDS) {
  test(`${backend}: hpkeSealBaseWith / hpkeOpenBaseWith round-trip with each AEAD, and tampering is DECRYPT_FAILED`, () => {
    withBackend(backend, () => {
      const f = fixture();
      for (const aead of AEADS) {
        for (const pt of [EMPTY, utf8('attack at dawn'), randomBytes(1000)]) {
          const { enc, ct } = hpkeSealBaseWith(aead, f.recipient.publicKey, f.info, f.aad, pt);
          assert.is(enc.length, 32);
          assert.is(ct.length, pt.length + 16, `${aead}: Nt = 16`);
          assert.equal(hpkeOpenBaseWith(aead, enc, f.recipient, f.info, f.aad, ct), pt, aead);
          const open = (e: Uint8Array, c: Uint8Array, info = f.info, aad = f.aad): string | undefined =>
            code(() => hpkeOpenBaseWith(aead, e, f.recipient, info, aad, c));
          for (const i of new Set([0, Math.max(0, pt.length - 1), ct.length - 16, ct.length - 1])) {
            assert.is(open(enc, flipped(ct, i)), 'DECRYPT_FAILED', `${aead} ct[${i}] of ${ct.length}`);
          }
          assert.is(open(enc, ct.subarray(0, ct.length - 1)), 'DECRYPT_FAILED', `${aead} truncated`);
          assert.is(open(enc, ct.subarray(0, 15)), 'DECRYPT_FAILED', `${aead} shorter than the tag`);
          assert.is(open(enc, ct, utf8('sealpost/v1/other')), 'DECRYPT_FAILED', `${aead} info`);
          assert.is(open(enc, ct, f.info, utf8('aae')), 'DECRYPT_FAILED', `${aead} aad`);
          assert.is(open(flipped(enc, 0, 0x02), ct), 'DECRYPT_FAILED', `${aead} enc`);
          assert.is(code(() => hpkeOpenBaseWith(aead, enc, x25519KeyPair(), f.info, f.aad, ct)), 'DECRYPT_FAILED', `${aead} wrong recipient`);
        }
      }
    });
  });
}

test('AES-128-GCM HPKE: both backends give the same bytes for the same ephemeral key, and open each other', () => {
  const f = fixture();
  const ephemeral = x25519KeyPair();
  const pt = randomBytes(300);
  const sealWith = (backend: BackendName) => withBackend(backend, () =>
    hpkeSeal(f.recipient.publicKey, pt, { mode: 'base', info: f.info, aad: f.aad, ephemeral, aead: 'aes128gcm' }));
  const [node, noble] = [sealWith('node'), sealWith('noble')];
  assert.equal(node.enc, ephemeral.publicKey);
  assert.equal(noble.enc, node.enc);
  assert.equal(toHexString(noble.ct), toHexString(node.ct));
  for (const [a, b] of [['node', 'noble'], ['noble', 'node']] as const) {
    const x = withBackend(a, () => hpkeSealBaseWith('aes128gcm', f.recipient.publicKey, f.info, f.aad, pt));
    assert.equal(withBackend(b, () => hpkeOpenBaseWith('aes128gcm', x.enc, f.recipient, f.info, f.aad, x.ct)), pt, `${a} to ${b}`);
  }
});

test('a message sealed with one AEAD does not open with the other; no aead is ChaCha20-Poly1305', () => {
  const f = fixture();
  const pt = utf8('hello');
  for (const backend of BACKENDS) {
    withBackend(backend, () => {
      const aes = hpkeSealBaseWith('aes128gcm', f.recipient.publicKey, f.info, f.aad, pt);
      const chacha = hpkeSealBaseWith('chacha20poly1305', f.recipient.publicKey, f.info, f.aad, pt);
      assert.is(code(() => hpkeOpenBaseWith('chacha20poly1305', aes.enc, f.recipient, f.info, f.aad, aes.ct)), 'DECRYPT_FAILED', `${backend}: aes as chacha`);
      assert.is(code(() => hpkeOpenBaseWith('aes128gcm', chacha.enc, f.recipient, f.info, f.aad, chacha.ct)), 'DECRYPT_FAILED', `${backend}: chacha as aes`);
      // The existing API, which names no AEAD, is the ChaCha20-Poly1305 suite.
      assert.is(code(() => hpkeOpenBase(aes.enc, f.recipient, aes.ct, { info: f.info, aad: f.aad })), 'DECRYPT_FAILED', `${backend}: aes as default`);
      assert.equal(hpkeOpenBase(chacha.enc, f.recipient, chacha.ct, { info: f.info, aad: f.aad }), pt);
      const viaDefault = hpkeSealBase(f.recipient.publicKey, pt, { info: f.info, aad: f.aad });
      assert.equal(hpkeOpenBaseWith('chacha20poly1305', viaDefault.enc, f.recipient, f.info, f.aad, viaDefault.ct), pt);
    });
  }
  // Same ephemeral key: naming ChaCha20-Poly1305 changes no byte; naming AES-128-GCM changes every one but enc.
  const ephemeral = x25519KeyPair();
  const o = { info: f.info, aad: f.aad, ephemeral };
  const dflt = hpkeSealBase(f.recipient.publicKey, pt, o);
  assert.equal(hpkeSealBase(f.recipient.publicKey, pt, { ...o, aead: 'chacha20poly1305' }), dflt);
  const aes = hpkeSealBase(f.recipient.publicKey, pt, { ...o, aead: 'aes128gcm' });
  assert.equal(aes.enc, dflt.enc);
  assert.not.equal(aes.ct, dflt.ct);
});

test('the AEAD sets Nk and suite_id: key schedule, memo and exports per AEAD', () => {
  const ss = randomBytes(32);
  const info = utf8('sealpost/v1/test-memo');
  const chacha1 = _hpkeKeySchedule(0, ss, info);
  const aes1 = _hpkeKeySchedule(0, ss, info, EMPTY, EMPTY, 'aes128gcm');
  const chacha2 = _hpkeKeySchedule(0, ss, info, EMPTY, EMPTY, 'chacha20poly1305');
  const aes2 = _hpkeKeySchedule(0, ss, info, EMPTY, EMPTY, 'aes128gcm');
  assert.is(chacha1.key.length, 32);
  assert.is(aes1.key.length, 16);
  // key_schedule_context is memoised; one AEAD's value must never be served for the other.
  assert.not.equal(aes1.keyScheduleContext, chacha1.keyScheduleContext);
  assert.equal(chacha2, chacha1);
  assert.equal(aes2, aes1);
  assert.not.equal(aes1.baseNonce, chacha1.baseNonce);
  assert.not.equal(aes1.exporterSecret, chacha1.exporterSecret);
  // Contexts: multi-message and exports with AES-128-GCM; exports differ from ChaCha20-Poly1305's.
  const f = fixture();
  const ephemeral = x25519KeyPair();
  const { enc, context: s } = hpkeSetupSender(f.recipient.publicKey, { mode: 'psk', psk: f.psk, pskId: f.pskId, info, ephemeral, aead: 'aes128gcm' });
  const r = hpkeSetupRecipient(enc, f.recipient, { mode: 'psk', psk: f.psk, pskId: f.pskId, info, aead: 'aes128gcm' });
  for (let i = 0; i < 3; i++) assert.equal(r.open(s.seal(utf8(`m${i}`), utf8(`a${i}`)), utf8(`a${i}`)), utf8(`m${i}`));
  assert.equal(s.export(utf8('ctx'), 32), r.export(utf8('ctx'), 32));
  const { context: sc } = hpkeSetupSender(f.recipient.publicKey, { mode: 'psk', psk: f.psk, pskId: f.pskId, info, ephemeral });
  assert.not.equal(sc.export(utf8('ctx'), 32), s.export(utf8('ctx'), 32));
});

test('an unknown AEAD is INVALID_ARGUMENT, before any key is used', () => {
  const f = fixture();
  const { enc, ct } = hpkeSealBaseWith('aes128gcm', f.recipient.publicKey, f.info, f.aad, utf8('x'));
  for (const bad of ['aes256gcm', 'AES128GCM', 'chacha20-poly1305', 'toString', '__proto__', '', 1, null]) {
    const aead = bad as HpkeAead;
    assert.is(code(() => hpkeSealBaseWith(aead, f.recipient.publicKey, f.info, f.aad, utf8('x'))), 'INVALID_ARGUMENT', `seal ${String(bad)}`);
    assert.is(code(() => hpkeOpenBaseWith(aead, enc, f.recipient, f.info, f.aad, ct)), 'INVALID_ARGUMENT', `open ${String(bad)}`);
    assert.is(code(() => hpkeSetupSender(f.recipient.publicKey, { mode: 'base', info: f.info, aead })), 'INVALID_ARGUMENT', `setup ${String(bad)}`);
    assert.is(code(() => _hpkeKeySchedule(0, randomBytes(32), f.info, EMPTY, EMPTY, aead)), 'INVALID_ARGUMENT', `key schedule ${String(bad)}`);
  }
  // The other arguments keep their codes.
  assert.is(code(() => hpkeSealBaseWith('aes128gcm', randomBytes(31) as X25519PublicKey, f.info, f.aad, utf8('x'))), 'INVALID_LENGTH');
  assert.is(code(() => hpkeOpenBaseWith('aes128gcm', randomBytes(33), f.recipient, f.info, f.aad, ct)), 'INVALID_LENGTH');
  assert.is(code(() => hpkeOpenBaseWith('aes128gcm', LOW_ORDER[1]!, f.recipient, f.info, f.aad, ct)), 'LOW_ORDER_POINT');
  assert.is(code(() => hpkeSealBaseWith('aes128gcm', f.recipient.publicKey, 'info' as unknown as Uint8Array, f.aad, utf8('x'))), 'INVALID_TYPE');
});

// Compile-time checks: misuse that the types refuse. Never called; tsc fails if a line compiles.
export function typeLevelMisuse(pkR: X25519PublicKey, kp: X25519KeyPair, b: Uint8Array): void {
  // @ts-expect-error a psk in base mode
  hpkeSeal(pkR, b, { mode: 'base', info: b, psk: b, pskId: b });
  // @ts-expect-error psk mode without a psk_id
  hpkeSeal(pkR, b, { mode: 'psk', info: b, psk: b });
  // @ts-expect-error auth mode without the sender's key pair
  hpkeSeal(pkR, b, { mode: 'auth', info: b });
  // @ts-expect-error the recipient names the sender by public key, not key pair
  hpkeOpen(b, kp, b, { mode: 'auth', info: b, sender: kp });
  // @ts-expect-error info is required
  hpkeSealBase(pkR, b, {});
  // @ts-expect-error unchecked bytes are not a public key
  hpkeSealBase(b, b, { info: b });
  // @ts-expect-error contexts come only from the setup functions
  new HpkeSenderContext();
  // @ts-expect-error an AEAD the core does not have
  hpkeSealBaseWith('aes256gcm', pkR, b, b, b);
  // @ts-expect-error the AEAD is a name, not an aead_id
  hpkeSeal(pkR, b, { mode: 'base', info: b, aead: 0x0001 });
}

test.run();

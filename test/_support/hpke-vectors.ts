// The RFC 9180 Appendix A vector checker for HPKE (src/crypto/hpke.ts): a pure function of one
// vector entry, run on the currently selected backend; it returns how many values it compared
// and one line per mismatch, and never throws. test/crypto/hpke-rfc9180.test.ts runs it on
// both Node backends, test/browser/vectors.test.ts inside Chromium. Hex goes through the
// crypto core rather than Buffer, so that it bundles for a browser page.
import {
  _hpkeAuthDecap, _hpkeAuthEncap, _hpkeComputeNonce, _hpkeDecap, _hpkeEncap, _hpkeKeySchedule, hpkeDeriveKeyPair, hpkeOpen, hpkeSeal,
  hpkeSetupRecipient, hpkeSetupSender,
  type HpkeAead, type HpkeMode, type HpkeOpenOptions, type HpkeRecipientMode, type HpkeSealOptions, type HpkeSenderMode,
  type X25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../../src/crypto/index.js';
import { fromHex as hex, toHex as toHexString } from '../../src/crypto/bytes.js';

export interface Encryption { sequence_number: number; pt: string; aad: string; nonce: string; ct: string }
export interface Export { exporter_context: string; L: string | number; exported_value: string }
export interface Vector {
  mode: number; kem_id: number; kdf_id: number; aead_id: number; info: string;
  ikmE: string; pkEm: string; skEm: string; ikmR: string; pkRm: string; skRm: string;
  ikmS?: string; pkSm?: string; skSm?: string; psk?: string; psk_id?: string;
  enc: string; shared_secret: string; key_schedule_context: string; secret: string; key: string;
  base_nonce: string; exporter_secret: string; encryptions: Encryption[]; exports: Export[];
}
export interface CheckResult { checked: number; failures: string[] }

export const MODES: readonly HpkeMode[] = ['base', 'psk', 'auth', 'auth_psk'];
const EMPTY = new Uint8Array(0);
export const pair = (sk: string, pk: string): X25519KeyPair =>
  ({ secretKey: hex(sk) as X25519SecretKey, publicKey: hex(pk) as X25519PublicKey });

export function checkVector(v: Vector): CheckResult {
  const failures: string[] = [];
  let checked = 0;
  const expect = (what: string, got: Uint8Array, want: string): boolean => {
    checked++;
    if (toHexString(got) === want.toLowerCase()) return true;
    failures.push(`${what}: got ${toHexString(got)}, want ${want}`);
    return false;
  };
  const step = (what: string, fn: () => void): boolean => {
    try { fn(); return true; } catch (e) { checked++; failures.push(`${what}: threw ${String(e)}`); return false; }
  };
  if (v.kem_id !== 0x20 || v.kdf_id !== 1 || (v.aead_id !== 1 && v.aead_id !== 3)) return { checked: 1, failures: ['suite is not X25519/SHA256/(AES-128-GCM or ChaCha20Poly1305)'] };
  // ChaCha20-Poly1305 vectors go through the default (no `aead` option), as existing callers do.
  const aead: HpkeAead | undefined = v.aead_id === 1 ? 'aes128gcm' : undefined;
  const withAead = aead ? { aead } : {};
  const mode = MODES[v.mode];
  if (mode === undefined) return { checked: 1, failures: [`unknown mode ${v.mode}`] };
  const isAuth = mode === 'auth' || mode === 'auth_psk';
  const isPsk = mode === 'psk' || mode === 'auth_psk';
  if (isAuth && (v.ikmS === undefined || v.skSm === undefined || v.pkSm === undefined)) return { checked: 1, failures: ['auth vector without sender key'] };
  if (isPsk && (v.psk === undefined || v.psk_id === undefined)) return { checked: 1, failures: ['psk vector without psk'] };

  // §7.1.3 DeriveKeyPair for the ephemeral, recipient and sender keys.
  const derived: [string, string, string, string | undefined][] = [['E', v.ikmE, v.skEm, v.pkEm], ['R', v.ikmR, v.skRm, v.pkRm]];
  if (isAuth) derived.push(['S', v.ikmS!, v.skSm!, v.pkSm]);
  for (const [who, ikm, sk, pk] of derived) {
    step(`DeriveKeyPair(ikm${who})`, () => {
      const kp = hpkeDeriveKeyPair(hex(ikm));
      expect(`sk${who}m`, kp.secretKey, sk);
      expect(`pk${who}m`, kp.publicKey, pk!);
    });
  }

  const ephemeral = pair(v.skEm, v.pkEm);
  const recipient = pair(v.skRm, v.pkRm);
  const sender = isAuth ? pair(v.skSm!, v.pkSm!) : undefined;
  const pkR = hex(v.pkRm) as X25519PublicKey;
  const info = hex(v.info);
  const psk = isPsk ? { psk: hex(v.psk!), pskId: hex(v.psk_id!) } : {};
  const sMode = { mode, ...psk, ...(sender ? { sender } : {}) } as HpkeSenderMode;
  const rMode = { mode, ...psk, ...(sender ? { senderPublicKey: sender.publicKey } : {}) } as HpkeRecipientMode;

  // §4.1 Encap/AuthEncap with the vector's ephemeral key, and Decap/AuthDecap.
  step('Encap', () => {
    const { sharedSecret, enc } = sender ? _hpkeAuthEncap(pkR, sender, ephemeral) : _hpkeEncap(pkR, ephemeral);
    expect('enc (Encap)', enc, v.enc);
    expect('shared_secret (Encap)', sharedSecret, v.shared_secret);
  });
  step('Decap', () => {
    const ss = sender ? _hpkeAuthDecap(hex(v.enc), recipient, sender.publicKey) : _hpkeDecap(hex(v.enc), recipient);
    expect('shared_secret (Decap)', ss, v.shared_secret);
  });

  // §5.1 KeySchedule from the vector's shared secret.
  step('KeySchedule', () => {
    const ks = _hpkeKeySchedule(v.mode, hex(v.shared_secret), info, 'psk' in psk ? psk.psk : EMPTY, 'pskId' in psk ? psk.pskId : EMPTY, aead);
    expect('key_schedule_context', ks.keyScheduleContext, v.key_schedule_context);
    expect('secret', ks.secret, v.secret);
    expect('key', ks.key, v.key);
    expect('base_nonce', ks.baseNonce, v.base_nonce);
    expect('exporter_secret', ks.exporterSecret, v.exporter_secret);
  });

  // §5.2 contexts: every listed encryption at its sequence number. The vectors skip numbers,
  // so the two contexts are advanced through the gaps by sealing and opening filler messages.
  step('Setup and contexts', () => {
    const { enc, context: s } = hpkeSetupSender(pkR, { ...sMode, info, ephemeral, ...withAead });
    expect('enc (Setup)', enc, v.enc);
    const r = hpkeSetupRecipient(hex(v.enc), recipient, { ...rMode, info, ...withAead });
    const bySeq = new Map(v.encryptions.map((e) => [e.sequence_number, e]));
    const last = Math.max(...v.encryptions.map((e) => e.sequence_number));
    for (let seq = 0; seq <= last; seq++) {
      if (s.sequenceNumber !== BigInt(seq) || r.sequenceNumber !== BigInt(seq)) {
        failures.push(`sequence number ${seq}: sender at ${s.sequenceNumber}, recipient at ${r.sequenceNumber}`);
        return;
      }
      const e = bySeq.get(seq);
      if (!e) { r.open(s.seal(EMPTY)); continue; }
      expect(`encryptions[seq ${seq}].nonce`, _hpkeComputeNonce(hex(v.base_nonce), BigInt(seq)), e.nonce);
      const ok = step(`seal seq ${seq}`, () => { expect(`encryptions[seq ${seq}].ct`, s.seal(hex(e.pt), hex(e.aad)), e.ct); });
      if (!ok) return;
      const opened = step(`open seq ${seq}`, () => { expect(`encryptions[seq ${seq}].pt`, r.open(hex(e.ct), hex(e.aad)), e.pt); });
      if (!opened) return;
    }
    // §5.3 Export, on both sides.
    for (const [i, x] of v.exports.entries()) {
      const L = Number(x.L);
      expect(`exports[${i}].exported_value (sender)`, s.export(hex(x.exporter_context), L), x.exported_value);
      expect(`exports[${i}].exported_value (recipient)`, r.export(hex(x.exporter_context), L), x.exported_value);
    }
  });

  // §6.1 single-shot APIs: the first encryption (sequence number 0).
  const first = v.encryptions.find((e) => e.sequence_number === 0);
  if (first) {
    step('single-shot Seal', () => {
      const out = hpkeSeal(pkR, hex(first.pt), { ...sMode, info, aad: hex(first.aad), ephemeral, ...withAead } as HpkeSealOptions);
      expect('enc (single-shot)', out.enc, v.enc);
      expect('encryptions[seq 0].ct (single-shot)', out.ct, first.ct);
    });
    step('single-shot Open', () => {
      const pt = hpkeOpen(hex(v.enc), recipient, hex(first.ct), { ...rMode, info, aad: hex(first.aad), ...withAead } as HpkeOpenOptions);
      expect('encryptions[seq 0].pt (single-shot)', pt, first.pt);
    });
  } else {
    failures.push('no encryption with sequence number 0');
  }
  return { checked, failures };
}

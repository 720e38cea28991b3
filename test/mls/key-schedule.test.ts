// The key schedule (src/mls/key-schedule.ts, RFC 9420 §8, §8.3, §8.5) against the
// key-schedule vectors: every epoch of every case, every field, on both crypto backends;
// a corrupted case fails. Plus external init's round trip (§8.3), which has no vector.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EpochSecrets, externalInitReceiver, externalInitSender, mlsExporter, welcomeKeyNonce, deriveJoinerSecret } from '../../src/mls/key-schedule.js';
import { encodeGroupContext } from '../../src/mls/group-context.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError } from '../../src/mls/errors.js';
import { withBackend, type BackendName } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface Epoch {
  tree_hash: H; commit_secret: H; psk_secret: H; confirmed_transcript_hash: H;
  group_context: H; joiner_secret: H; welcome_secret: H; init_secret: H;
  sender_data_secret: H; encryption_secret: H; exporter_secret: H; epoch_authenticator: H;
  external_secret: H; confirmation_key: H; membership_key: H; resumption_psk: H; external_pub: H;
  exporter: { label: H; context: H; length: number; secret: H };
}
interface Case { cipher_suite: number; group_id: H; initial_init_secret: H; epochs: Epoch[] }
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'key-schedule.json');

/** Runs one case through every epoch; returns the failed checks and the number of epochs. */
function check(c: Case): { bad: string[]; epochs: number } {
  const suite = cipherSuite(c.cipher_suite);
  const bad: string[] = [];
  let init = hex(c.initial_init_secret);
  let prev: EpochSecrets | undefined;
  c.epochs.forEach((e, i) => {
    const eq = (name: string, got: Uint8Array, want: H): void => { if (toHexString(got) !== want) bad.push(`epoch ${i} ${name}`); };
    const ctx = encodeGroupContext({
      version: 1, cipherSuite: c.cipher_suite, groupId: hex(c.group_id), epoch: BigInt(i),
      treeHash: hex(e.tree_hash), confirmedTranscriptHash: hex(e.confirmed_transcript_hash), extensions: [],
    });
    eq('group_context', ctx, e.group_context);
    const inputs = { commitSecret: hex(e.commit_secret), pskSecret: hex(e.psk_secret), groupContext: ctx };
    // The first epoch from the initial init_secret, later ones through `next`.
    const t = prev ? prev.next(inputs) : EpochSecrets.fromInitSecret(suite, init, inputs);
    eq('joiner_secret', t.joinerSecret, e.joiner_secret);
    eq('joiner_secret (direct)', deriveJoinerSecret(suite, init, hex(e.commit_secret), ctx), e.joiner_secret);
    eq('welcome_secret', t.welcomeSecret, e.welcome_secret);
    const s = t.epoch;
    eq('init_secret', s.initSecret, e.init_secret);
    eq('sender_data_secret', s.senderDataSecret, e.sender_data_secret);
    eq('encryption_secret', s.encryptionSecret, e.encryption_secret);
    eq('exporter_secret', s.exporterSecret, e.exporter_secret);
    eq('epoch_authenticator', s.epochAuthenticator, e.epoch_authenticator);
    eq('external_secret', s.externalSecret, e.external_secret);
    eq('confirmation_key', s.confirmationKey, e.confirmation_key);
    eq('membership_key', s.membershipKey, e.membership_key);
    eq('resumption_psk', s.resumptionPsk, e.resumption_psk);
    eq('external_pub', s.externalKeyPair().publicKey, e.external_pub);
    eq('group_context (held)', s.groupContext, e.group_context);
    // The vectors' exporter label is the hex text itself, used as the (ASCII) Label string.
    const x = e.exporter;
    eq('exporter', s.exporter(x.label, hex(x.context), x.length), x.secret);
    eq('exporter (function)', mlsExporter(suite, s.exporterSecret, new TextEncoder().encode(x.label), hex(x.context), x.length), x.secret);
    // A joiner who has only joiner_secret and psk_secret reaches the same epoch.
    const j = EpochSecrets.fromJoinerSecret(suite, hex(e.joiner_secret), hex(e.psk_secret), ctx);
    eq('welcome_secret (joiner)', j.welcomeSecret, e.welcome_secret);
    eq('init_secret (joiner)', j.epoch.initSecret, e.init_secret);
    eq('epoch_authenticator (joiner)', j.epoch.epochAuthenticator, e.epoch_authenticator);
    init = s.initSecret;
    prev = s;
  });
  return { bad, epochs: c.epochs.length };
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every key-schedule epoch of every case on the ${backend} backend`, () => {
    let epochs = 0;
    withBackend(backend, () => {
      for (const c of cases) {
        const r = check(c);
        assert.equal(r.bad, [], `suite ${c.cipher_suite}`);
        epochs += r.epochs;
      }
    });
    assert.is(cases.length, 2);
    assert.is(epochs, 10);
  });
}

test('a corrupted case fails from the corrupted epoch on', () => {
  const c = structuredClone(cases[0]!);
  const flip = (h: H): H => (h.slice(0, -2) + ((parseInt(h.slice(-2), 16) ^ 1).toString(16).padStart(2, '0')));
  c.epochs[2]!.commit_secret = flip(c.epochs[2]!.commit_secret);
  c.epochs[1]!.exporter.secret = flip(c.epochs[1]!.exporter.secret);
  const { bad } = check(c);
  assert.ok(bad.includes('epoch 1 exporter'), bad.join());
  assert.ok(bad.includes('epoch 2 joiner_secret') && bad.includes('epoch 2 init_secret') && bad.includes('epoch 4 epoch_authenticator'), bad.join());
  assert.not.ok(bad.some((b) => b.startsWith('epoch 0')), bad.join());
});

for (const id of [1, 3]) {
  for (const backend of ['node', 'noble'] as BackendName[]) {
    test(`external init (suite ${id}, ${backend}): the joiner's and the members' init_secret agree`, () => {
      withBackend(backend, () => {
        const suite = cipherSuite(id);
        const c = cases.find((k) => k.cipher_suite === id)!;
        const externalSecret = hex(c.epochs[0]!.external_secret);
        const { kemOutput, initSecret } = externalInitSender(suite, hex(c.epochs[0]!.external_pub));
        assert.is(kemOutput.length, 32);
        assert.is(toHexString(externalInitReceiver(suite, externalSecret, kemOutput)), toHexString(initSecret));
        // Another epoch's external secret reaches another init_secret.
        assert.is.not(toHexString(externalInitReceiver(suite, hex(c.epochs[1]!.external_secret), kemOutput)), toHexString(initSecret));
      });
    });
  }
}

test('welcome key and nonce have the suite\'s lengths; a wrong-length secret is STATE', () => {
  for (const id of [1, 3]) {
    const suite = cipherSuite(id);
    const { key, nonce } = welcomeKeyNonce(suite, new Uint8Array(32).fill(1));
    assert.is(key.length, id === 1 ? 16 : 32);
    assert.is(nonce.length, 12);
    assert.throws(() => EpochSecrets.fromJoinerSecret(suite, new Uint8Array(31), undefined, new Uint8Array(0)),
      (e: unknown) => e instanceof MlsError && e.code === 'STATE');
  }
});

test('no PSK and no commit secret are Nh zeros', () => {
  const suite = cipherSuite(1);
  const init = new Uint8Array(32).fill(9);
  const ctx = new Uint8Array([1, 2, 3]);
  const a = EpochSecrets.fromInitSecret(suite, init, { groupContext: ctx });
  const b = EpochSecrets.fromInitSecret(suite, init, { groupContext: ctx, commitSecret: new Uint8Array(32), pskSecret: new Uint8Array(32) });
  assert.is(toHexString(a.epoch.initSecret), toHexString(b.epoch.initSecret));
});

test.run();

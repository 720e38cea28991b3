// The group state machine (src/mls/group.ts) as a passive client (RFC 9420 §12.4.3.1, §12.4.2)
// against the MLS working group's passive-client vectors: join from the Welcome, then process
// every epoch's proposals and commit, checking the epoch authenticator after each. Every case of
// passive-client-welcome, passive-client-handling-commit and passive-client-random, on both
// crypto backends; a corrupted commit must fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Group } from '../../src/mls/group.js';
import { decodeMlsMessage } from '../../src/mls/framing.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError } from '../../src/mls/errors.js';
import { withBackend, type BackendName, type Ed25519Seed } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

interface Epoch { proposals: string[]; commit: string; epoch_authenticator: string }
interface Case {
  cipher_suite: number; external_psks: { psk_id: string; psk: string }[]; key_package: string; signature_priv: string;
  encryption_priv: string; init_priv: string; welcome: string; ratchet_tree: string | null; initial_epoch_authenticator: string; epochs: Epoch[];
}

function join(c: Case): Group {
  const suite = cipherSuite(c.cipher_suite);
  const m = decodeMlsMessage(hex(c.key_package));
  if (m.wireFormat !== 5) throw new Error('key_package is not a KeyPackage');
  const externalPsks = new Map(c.external_psks.map((p) => [p.psk_id, hex(p.psk)]));
  return Group.join(hex(c.welcome), {
    keyPackage: m.keyPackage, initKey: suite.keyPairFromSecret(hex(c.init_priv)),
    encryptionKey: suite.keyPairFromSecret(hex(c.encryption_priv)), signer: hex(c.signature_priv) as Ed25519Seed,
  }, c.ratchet_tree ? hex(c.ratchet_tree) : undefined, { externalPsks });
}

/** Runs one case; returns the number of epoch authenticators checked. */
function run(c: Case): number {
  const g = join(c);
  assert.is(toHexString(g.epochAuthenticator), c.initial_epoch_authenticator, 'initial epoch authenticator');
  let checked = 1;
  c.epochs.forEach((e, i) => {
    for (const p of e.proposals) assert.is(g.process(hex(p)).kind, 'proposal');
    const r = g.process(hex(e.commit));
    assert.is(r.kind, 'commit');
    assert.is(toHexString(g.epochAuthenticator), e.epoch_authenticator, `epoch ${i}`);
    checked++;
  });
  return checked;
}

const FILES = ['passive-client-welcome', 'passive-client-handling-commit', 'passive-client-random'];

for (const backend of ['node', 'noble'] as BackendName[]) {
  for (const f of FILES) {
    test(`every ${f} case on the ${backend} backend`, () => {
      const cases = readJson<Case[]>('test', 'vectors', 'mls', `${f}.json`);
      let checked = 0;
      withBackend(backend, () => {
        cases.forEach((c, i) => {
          try { checked += run(c); } catch (e) { throw new Error(`${f} case ${i} (suite ${c.cipher_suite}): ${(e as Error).message}`, { cause: e }); }
        });
      });
      assert.is(checked, cases.reduce((s, c) => s + 1 + c.epochs.length, 0));
    });
  }
}

test('a corrupted commit is refused and leaves the group as it was', () => {
  const cases = readJson<Case[]>('test', 'vectors', 'mls', 'passive-client-handling-commit.json');
  const c = cases.find((x) => x.epochs.length > 0 && x.epochs[0]!.proposals.length === 0)!;
  const g = join(c);
  const before = toHexString(g.epochAuthenticator);
  const bad = hex(c.epochs[0]!.commit);
  bad[bad.length - 5]! ^= 0x01;
  assert.throws(() => g.process(bad), (e: unknown) => e instanceof MlsError);
  assert.is(toHexString(g.epochAuthenticator), before);
  g.process(hex(c.epochs[0]!.commit));
  assert.is(toHexString(g.epochAuthenticator), c.epochs[0]!.epoch_authenticator);
});

test.run();

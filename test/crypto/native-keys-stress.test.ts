// The native backend builds an OpenSSL key object for every new key (recent ones are cached). On Node 20 a loop over
// X25519 key exports froze the process within 10-20k iterations (see src/crypto/native.ts),
// so this drives the key paths the backend does use 20,000 times with fresh keys: X25519
// with a fresh secret, x25519PublicFromSecret, x25519Ephemeral (HPKE), and Ed25519 key pair + sign + verify. Every
// result is checked for shape, and every 1000 iterations the latest of each kind is
// recomputed with noble. The loop runs in a child process under a 150 s watchdog (a freeze, not slowness: the machine is shared), so a
// freeze fails this file quickly instead of stalling the runner until its 8-minute limit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  ed25519KeyPair, ed25519PublicFromSeed, ed25519Sign, ed25519Verify, equalBytes, randomBytes, setBackend, withBackend,
  x25519, x25519Ephemeral, x25519KeyPair, x25519PublicFromSecret,
  type Ed25519Seed, type X25519PublicKey, type X25519SecretKey,
} from '../../src/crypto/index.js';

const ITERATIONS = 20_000;
const CHECK_EVERY = 1000;
const WATCHDOG_MS = 150_000;
const CHILD_FLAG = '--native-keys-stress-child';

interface Report { iterations: number; checkpoints: number; errors: string[]; ms: number }

function stress(): Report {
  setBackend('node');
  const started = performance.now();
  const errors: string[] = [];
  const peer = withBackend('noble', () => x25519KeyPair());
  // The latest inputs and outputs of each kind, for the checkpoints.
  const none = new Uint8Array(0) as Uint8Array;
  let dh: { sk: X25519SecretKey; shared: Uint8Array } = { sk: new Uint8Array(32) as X25519SecretKey, shared: none };
  let pub: { sk: X25519SecretKey; pk: Uint8Array } = { sk: new Uint8Array(32) as X25519SecretKey, pk: none };
  let ed: { seed: Ed25519Seed; msg: Uint8Array; pk: Uint8Array; sig: Uint8Array } = { seed: new Uint8Array(32) as Ed25519Seed, msg: none, pk: none, sig: none };
  let eph: { pk: Uint8Array; shared: Uint8Array } = { pk: none, shared: none };
  let checkpoints = 0;
  let i = 0;
  for (; i < ITERATIONS && errors.length < 10; i++) {
    try {
      switch (i % 4) {
        case 0: {
          const sk = randomBytes(32) as X25519SecretKey;
          dh = { sk, shared: x25519(sk, peer.publicKey) };
          if (dh.shared.length !== 32) errors.push(`iteration ${i}: x25519 gave ${dh.shared.length} bytes`);
          break;
        }
        case 1: {
          const sk = randomBytes(32) as X25519SecretKey;
          pub = { sk, pk: x25519PublicFromSecret(sk) };
          if (pub.pk.length !== 32 || (pub.pk[31]! & 0x80) !== 0) errors.push(`iteration ${i}: bad X25519 public key`);
          break;
        }
        case 2: {
          // HPKE's ephemeral path: OpenSSL makes the pair and returns its public key as a JWK.
          const e = x25519Ephemeral(peer.publicKey);
          eph = { pk: e.publicKey, shared: e.shared };
          if (e.publicKey.length !== 32 || e.shared.length !== 32) errors.push(`iteration ${i}: bad ephemeral X25519`);
          break;
        }
        default: {
          const kp = ed25519KeyPair();
          const msg = randomBytes(i % 200);
          const sig = ed25519Sign(kp.seed, msg);
          ed = { seed: kp.seed, msg, pk: kp.publicKey, sig };
          if (!ed25519Verify(sig, msg, kp.publicKey)) errors.push(`iteration ${i}: own Ed25519 signature did not verify`);
        }
      }
    } catch (e) {
      errors.push(`iteration ${i}: threw ${String(e)}`);
    }
    if ((i + 1) % CHECK_EVERY === 0) {
      checkpoints++;
      withBackend('noble', () => {
        if (!equalBytes(x25519(dh.sk, peer.publicKey), dh.shared)) errors.push(`iteration ${i}: X25519 differs from noble`);
        if (!equalBytes(x25519PublicFromSecret(pub.sk), pub.pk)) errors.push(`iteration ${i}: X25519 public key differs from noble`);
        if (!equalBytes(ed25519PublicFromSeed(ed.seed), ed.pk)) errors.push(`iteration ${i}: Ed25519 public key differs from noble`);
        if (!equalBytes(ed25519Sign(ed.seed, ed.msg), ed.sig)) errors.push(`iteration ${i}: Ed25519 signature differs from noble`);
      });
      if (eph.pk.length === 32 && !equalBytes(withBackend('noble', () => x25519(peer.secretKey, eph.pk as X25519PublicKey)), eph.shared)) {
        errors.push(`iteration ${i}: ephemeral X25519 differs from noble`);
      }
      // And the other way: noble's shared secret for the peer side matches the native one.
      const back = withBackend('noble', () => x25519(peer.secretKey, x25519PublicFromSecret(dh.sk) as X25519PublicKey));
      if (!equalBytes(back, dh.shared)) errors.push(`iteration ${i}: X25519 is not symmetric`);
    }
  }
  return { iterations: i, checkpoints, errors, ms: Math.round(performance.now() - started) };
}

if (process.argv.includes(CHILD_FLAG)) {
  process.stdout.write(JSON.stringify(stress()) + '\n');
} else {
  test(`native backend: ${ITERATIONS} fresh-key operations stay correct and finish within ${WATCHDOG_MS / 1000} s`, () => {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), CHILD_FLAG], {
      encoding: 'utf8', timeout: WATCHDOG_MS, killSignal: 'SIGKILL',
    });
    assert.is(child.signal, null, `the stress loop was killed by the watchdog (${child.signal}): the process froze or crawled`);
    assert.is(child.status, 0, `child exited ${child.status}: ${child.stderr}`);
    const report = JSON.parse(child.stdout.trim().split('\n').pop()!) as Report;
    assert.equal(report.errors, []);
    assert.is(report.iterations, ITERATIONS);
    assert.is(report.checkpoints, ITERATIONS / CHECK_EVERY);
    console.log(`  ${report.iterations} iterations in ${report.ms} ms`);
  });
  test.run();
}

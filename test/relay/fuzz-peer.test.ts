// Fuzzing the relay-to-relay wire (spec/federation.md §2, §3, §7), as fuzz.test.ts fuzzes client
// frames: the pure codecs on random and mutated bytes (only LinkError, and what decodes
// re-encodes to the same bytes), then a live relay over raw WebSockets with the peer
// subprotocol: random and mutated handshake messages from strangers and from a partner, and,
// on an established link, random ciphertexts, sealed random items and sealed requests that do
// not open. Every answer must be a link message, every LINK_ERR code and close code one the
// spec lists (the one it prescribes where the fuzzer can tell); afterwards the relay still
// serves clients and partners. Reproduce with FUZZ_SEED=<seed printed below>.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ed25519KeyPair, ed25519Sign, ed25519Verify, relayFingerprintOf, toBase64url, x25519KeyPair, type Ed25519PublicKey, type X25519PublicKey,
} from '../../src/crypto/index.js';
import { acceptMessage, authMessage, LinkCipher, linkKeys } from '../../src/relay/federation/link-crypto.js';
import { isLinkError, LINK_ERRORS } from '../../src/relay/federation/link-errors.js';
import { decodeItems, decodeLinkMessage, encodeItems, encodeLinkMessage, PEER_SUBPROTOCOL, type LinkItem } from '../../src/relay/federation/peer-wire.js';
import { parseRelayAddress } from '../../src/wire/index.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination } from '../../src/client/forwarding.js';
import { fuzzSeed, mutate, MUTATIONS, Prng, RawClient } from '../_support/frames-fuzz.js';
import { clientPool, envelope, makeMailbox, startTestRelay, type TestRelay } from './_helpers.js';

const SEED = fuzzSeed();
console.log(`peer fuzz seed: ${SEED} (reproduce with FUZZ_SEED=${SEED})`);
const rng = new Prng(SEED);
const LINK_CLOSES = new Set<number>([...Object.values(LINK_ERRORS).map((e) => e.close), 1009]);
const WIRE_CODES = new Set<number>(Object.values(LINK_ERRORS).map((e) => e.code));

test('codecs: random and mutated bytes decode or throw LinkError; what decodes re-encodes the same', () => {
  const partner = ed25519KeyPair();
  const seeds: Uint8Array[] = [
    encodeLinkMessage({ type: 'LINK_HELLO', minVersion: 1, maxVersion: 1, nonce: rng.bytes(32), signKey: partner.publicKey, ephemeral: rng.bytes(32) }),
    encodeLinkMessage({ type: 'LINK_AUTH', signature: rng.bytes(64) }),
    encodeLinkMessage({ type: 'LINK_READY' }),
    encodeLinkMessage({ type: 'LINK_ERR', code: 20 }),
    encodeLinkMessage({ type: 'LINK_DATA', ciphertext: rng.bytes(40) }),
  ];
  const itemSeeds = [encodeItems([{ kind: 'FWD', reqId: 7, body: rng.bytes(385) }, { kind: 'FWD_RESULT', reqId: 8, body: rng.bytes(18) }, { kind: 'FWD_FAIL', reqId: 9, body: new Uint8Array([0, 14]) }])];
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    const base = i % 3 === 0 ? rng.bytes(rng.int(300)) : mutate(rng, rng.pick(seeds), rng.pick(MUTATIONS));
    try {
      const m = decodeLinkMessage(base);
      decoded++;
      assert.equal(encodeLinkMessage(m), base, `round trip of ${m.type}`);
    } catch (e) {
      if (!isLinkError(e)) throw e;
    }
    const items = i % 3 === 0 ? rng.bytes(rng.int(300)) : mutate(rng, rng.pick(itemSeeds), rng.pick(MUTATIONS));
    try {
      assert.equal(encodeItems(decodeItems(items)), items);
    } catch (e) {
      if (!isLinkError(e)) throw e;
    }
  }
  assert.ok(decoded > 1000, `only ${decoded} decoded: the mutations are too blunt`);
});

let relay: TestRelay;
const partner = ed25519KeyPair();

test.before(async () => {
  relay = await startTestRelay({ helloTimeoutSeconds: 1, maxPeerLinks: 8 });
  relay.relay.partners.setFingerprints('test', [toBase64url(relayFingerprintOf(partner.publicKey))]);
});
test.after(async () => { await relay.stop(); });

const open = (): Promise<RawClient> => RawClient.open(relay.relay.port, { protocol: PEER_SUBPROTOCOL });

/** Reads until the close; checks every message and returns the LINK_ERR names and the close code. */
async function drain(c: RawClient, what: string): Promise<{ errs: number[]; close: number; messages: Uint8Array[] }> {
  const errs: number[] = [];
  const messages: Uint8Array[] = [];
  for (;;) {
    const r = await c.next(5_000);
    if (!r) throw new Error(`${what}: no close within 5 s`);
    if (r.kind === 'close') {
      assert.ok(LINK_CLOSES.has(r.code), `${what}: close code ${r.code} is not a documented link close`);
      return { errs, close: r.code, messages };
    }
    assert.not.ok(r.text, `${what}: a text message`);
    const m = decodeLinkMessage(r.bytes);
    messages.push(r.bytes);
    if (m.type === 'LINK_ERR') {
      assert.ok(WIRE_CODES.has(m.code), `${what}: LINK_ERR ${m.code} is not in the closed set`);
      errs.push(m.code);
    }
  }
}

function hello(sign = partner, min = 1, max = 1): { bytes: Uint8Array; eph: ReturnType<typeof x25519KeyPair> } {
  const eph = x25519KeyPair();
  return { bytes: encodeLinkMessage({ type: 'LINK_HELLO', minVersion: min, maxVersion: max, nonce: rng.bytes(32), signKey: sign.publicKey, ephemeral: eph.publicKey }), eph };
}

test('handshake: strangers, bad versions, bad proofs and noise are refused with the prescribed code', async () => {
  const cases: Array<{ what: string; send: (c: RawClient) => Promise<void> | void; code: keyof typeof LINK_ERRORS }> = [
    { what: 'a stranger', send: (c) => c.send(hello(ed25519KeyPair()).bytes), code: 'NOT_PARTNER' },
    { what: 'no common version', send: (c) => c.send(hello(partner, 2, 3).bytes), code: 'VERSION' },
    { what: 'message version 2', send: (c) => { const b = hello().bytes; b[0] = 2; c.send(b); }, code: 'VERSION' },
    { what: 'LINK_AUTH first', send: (c) => c.send(encodeLinkMessage({ type: 'LINK_AUTH', signature: rng.bytes(64) })), code: 'HANDSHAKE' },
    { what: 'LINK_DATA first', send: (c) => c.send(encodeLinkMessage({ type: 'LINK_DATA', ciphertext: rng.bytes(20) })), code: 'HANDSHAKE' },
    { what: 'HELLO one byte short', send: (c) => { const b = hello().bytes; c.send(b.subarray(0, b.length - 1)); }, code: 'MALFORMED' },
    { what: 'HELLO one byte long', send: (c) => c.send(new Uint8Array([...hello().bytes, 0])), code: 'MALFORMED' },
    {
      what: 'a partner key without its proof', code: 'PEER_AUTH',
      send: async (c) => { c.send(hello().bytes); await c.next(3_000); c.send(encodeLinkMessage({ type: 'LINK_AUTH', signature: rng.bytes(64) })); },
    },
  ];
  for (const k of cases) {
    const c = await open();
    await k.send(c);
    const r = await drain(c, k.what);
    assert.equal(r.errs, [LINK_ERRORS[k.code].code], k.what);
    assert.is(r.close, LINK_ERRORS[k.code].close, `${k.what}: close code`);
  }
  // Silence: the handshake deadline.
  const slow = await open();
  const r = await drain(slow, 'silence');
  assert.is(r.close, LINK_ERRORS.HANDSHAKE.close);
  assert.match(relay.relay.metricsText(), /sealpost_peer_refused_total\{reason="not_partner"\} [1-9]/);
});

test('handshake: random and mutated first messages always end in a documented refusal', async () => {
  const seeds = [hello().bytes, hello(ed25519KeyPair()).bytes, encodeLinkMessage({ type: 'LINK_AUTH', signature: rng.bytes(64) })];
  for (let i = 0; i < 100; i++) {
    const c = await open();
    const bytes = i % 4 === 0 ? rng.bytes(rng.int(200)) : mutate(rng, rng.pick(seeds), rng.pick(MUTATIONS));
    c.send(bytes);
    // A mutated HELLO may still be a partner's: it gets LINK_ACCEPT, then the deadline or a refusal.
    const r = await drain(c, `message ${i}`);
    assert.ok(r.errs.length <= 1, `message ${i}: at most one LINK_ERR`);
  }
});

/** A partner's side of the handshake (spec/federation.md §2), done with the pure functions. */
async function link(): Promise<{ c: RawClient; send: LinkCipher; receive: LinkCipher }> {
  const c = await open();
  const h = hello();
  c.send(h.bytes);
  const r = await c.next(3_000);
  assert.ok(r && r.kind === 'frame', 'LINK_ACCEPT');
  const accept = (r as { bytes: Uint8Array }).bytes;
  const a = decodeLinkMessage(accept);
  assert.ok(a.type === 'LINK_ACCEPT');
  assert.ok(ed25519Verify(a.signature, acceptMessage(h.bytes, accept.subarray(0, accept.length - 64)), a.signKey as Ed25519PublicKey));
  assert.is(toBase64url(relayFingerprintOf(a.signKey as Ed25519PublicKey)), relay.relay.fingerprint);
  c.send(encodeLinkMessage({ type: 'LINK_AUTH', signature: ed25519Sign(partner.seed, authMessage(h.bytes, accept)) }));
  const ready = await c.next(3_000);
  assert.ok(ready && ready.kind === 'frame' && decodeLinkMessage(ready.bytes).type === 'LINK_READY', 'LINK_READY');
  const keys = linkKeys(h.eph.secretKey, a.ephemeral as X25519PublicKey, h.bytes, accept, 'dialer');
  return { c, send: new LinkCipher(keys.send), receive: new LinkCipher(keys.receive) };
}

test('established link: random ciphertexts are PEER_AUTH, sealed garbage is MALFORMED, unopenable requests FORWARD_INVALID', async () => {
  for (let i = 0; i < 20; i++) {
    const l = await link();
    l.c.send(encodeLinkMessage({ type: 'LINK_DATA', ciphertext: rng.bytes(rng.int(100)) }));
    assert.is((await drain(l.c, `random ciphertext ${i}`)).close, LINK_ERRORS.PEER_AUTH.close);
  }
  for (let i = 0; i < 60; i++) {
    const l = await link();
    const items: LinkItem[] = [{ kind: 'FWD', reqId: i, body: rng.bytes(rng.int(600)) }, { kind: 'FWD', reqId: i + 1, body: rng.bytes(385) }];
    const plain = mutate(rng, encodeItems(items), rng.pick(MUTATIONS));
    let valid: LinkItem[] | null = null;
    try {
      valid = decodeItems(plain);
    } catch { /* the relay must refuse it too */ }
    l.c.send(encodeLinkMessage({ type: 'LINK_DATA', ciphertext: l.send.seal(plain) }));
    if (!valid || valid.some((it) => it.kind !== 'FWD')) {
      assert.is((await drain(l.c, `sealed garbage ${i}`)).close, LINK_ERRORS.MALFORMED.close);
      continue;
    }
    // Every FWD gets one FWD_FAIL FORWARD_INVALID with its reqId (nothing random opens).
    const want = valid.map((it) => it.reqId).sort();
    const got: number[] = [];
    while (got.length < want.length) {
      const r = await l.c.next(3_000);
      assert.ok(r && r.kind === 'frame', `answer ${i}`);
      const m = decodeLinkMessage((r as { bytes: Uint8Array }).bytes);
      assert.ok(m.type === 'LINK_DATA');
      for (const it of decodeItems(l.receive.open(m.ciphertext))) {
        assert.is(it.kind, 'FWD_FAIL');
        assert.equal([...it.body], [0, 17]);
        got.push(it.reqId);
      }
    }
    assert.equal(got.sort(), want);
    await l.c.close();
  }
});

test('afterwards the relay serves a client and a real partner relay', async () => {
  const other = await startTestRelay();
  try {
    other.relay.partners.setAddresses('test', [parseRelayAddress(relay.relay.address)]);
    relay.relay.partners.setFingerprints('other', [other.relay.fingerprint]);
    const onR = clientPool(relay.relay.address);
    const onO = clientPool(other.relay.address);
    try {
      const owner = await onR.connect();
      const { cap } = await makeMailbox(owner, relay.relay.address);
      const sender = await onO.connect();
      await forwardEnvelope(sender, await queryDestination(sender, relay.relay.address), cap, envelope(1024), newIdempotencyKey());
      assert.is(relay.relay.stats().envelopes, 1);
    } finally {
      await onR.closeAll();
      await onO.closeAll();
    }
  } finally {
    await other.stop();
  }
});

test.run();

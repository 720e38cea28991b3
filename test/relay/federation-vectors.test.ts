// spec/vectors/federation.json (spec/federation.md §11): recomputed from fixed keys on both
// backends, and checked with the receiving side's functions (open the request and the answers,
// verify both handshake signatures, open the first DATA message). SEALPOST_WRITE_VECTORS=1
// rewrites the file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import {
  ed25519KeyPair, ed25519Sign, ed25519Verify, forwardServerNonce, openForward, openForwardResponse, sealForward, sealForwardResponse,
  signRelayDeliveryKey, verifyRelayDeliveryKey, withBackend, x25519KeyPair, type AeadKey, type Ed25519PublicKey, type X25519PublicKey,
} from '../../src/crypto/index.js';
import { acceptMessage, authMessage, LinkCipher, linkKeys } from '../../src/relay/federation/link-crypto.js';
import { decodeItems, decodeLinkMessage, encodeItems, encodeLinkMessage } from '../../src/relay/federation/peer-wire.js';
import { hex, readJson, repoPath, toHexString as h } from '../_support/files.js';

const FILE = ['spec', 'vectors', 'federation.json'] as const;
const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);

function compute() {
  const relay = { sign: ed25519KeyPair(fill(32, 0x01)), dh: x25519KeyPair(fill(32, 0x02)) };
  const dialer = { sign: ed25519KeyPair(fill(32, 0x03)) };
  const request = { idempotencyKey: fill(16, 0x04), sendId: fill(32, 0x05), proof: fill(32, 0x06), envelope: fill(256, 0x07) };
  const { sealed, responseKey } = sealForward(relay.dh.publicKey, request, x25519KeyPair(fill(32, 0x08)));
  const dkSig = signRelayDeliveryKey(relay.sign.seed, relay.dh.publicKey);

  const ephD = x25519KeyPair(fill(32, 0x09));
  const ephL = x25519KeyPair(fill(32, 0x0a));
  const hello = encodeLinkMessage({ type: 'LINK_HELLO', minVersion: 1, maxVersion: 1, nonce: fill(32, 0x0b), signKey: dialer.sign.publicKey, ephemeral: ephD.publicKey });
  const accept = encodeLinkMessage({
    type: 'LINK_ACCEPT', version: 1, nonce: fill(32, 0x0c), signKey: relay.sign.publicKey, ephemeral: ephL.publicKey, deliveryKey: relay.dh.publicKey,
    deliveryKeySignature: dkSig, powDifficulty: 18, signature: new Uint8Array(64),
  });
  accept.set(ed25519Sign(relay.sign.seed, acceptMessage(hello, accept.subarray(0, accept.length - 64))), accept.length - 64);
  const auth = encodeLinkMessage({ type: 'LINK_AUTH', signature: ed25519Sign(dialer.sign.seed, authMessage(hello, accept)) });
  const keys = linkKeys(ephD.secretKey, ephL.publicKey, hello, accept, 'dialer');
  const items = encodeItems([{ kind: 'FWD', reqId: 1, body: sealed }, { kind: 'FWD', reqId: 2, body: fill(3, 0x0d) }]);
  const data = encodeLinkMessage({ type: 'LINK_DATA', ciphertext: new LinkCipher(keys.send).seal(items) });
  return {
    keys: {
      relaySignSeed: h(relay.sign.seed), relaySignKey: h(relay.sign.publicKey), relayDeliverySecret: h(relay.dh.secretKey), relayDeliveryKey: h(relay.dh.publicKey),
      dialerSignSeed: h(dialer.sign.seed), dialerSignKey: h(dialer.sign.publicKey),
    },
    forward: {
      idempotencyKey: h(request.idempotencyKey), sendId: h(request.sendId), proof: h(request.proof), envelope: h(request.envelope), ephemeralSecret: h(fill(32, 0x08)),
      sealed: h(sealed), responseKey: h(responseKey), responseOk: h(sealForwardResponse(responseKey, 0)), responseAuth: h(sealForwardResponse(responseKey, 5)),
      powServerNonce: h(forwardServerNonce(request.idempotencyKey)), deliveryKeySignature: h(dkSig),
    },
    link: {
      dialerEphemeralSecret: h(ephD.secretKey), listenerEphemeralSecret: h(ephL.secretKey),
      hello: h(hello), accept: h(accept), auth: h(auth), dialerSendKey: h(keys.send), listenerSendKey: h(keys.receive), firstData: h(data),
    },
  };
}

if (process.env['SEALPOST_WRITE_VECTORS'] === '1') writeFileSync(repoPath(...FILE), JSON.stringify(compute(), null, 2) + '\n');
const stored = readJson<ReturnType<typeof compute>>(...FILE);

for (const backend of ['node', 'noble'] as const) {
  test(`spec/vectors/federation.json recomputes on the ${backend} backend`, () => {
    assert.equal(withBackend(backend, compute), stored);
  });
}

test('the receiving side opens and verifies the stored vectors', () => {
  const { keys, forward: f, link } = stored;
  const relay = { secretKey: hex(keys.relayDeliverySecret), publicKey: hex(keys.relayDeliveryKey) } as never;
  const opened = openForward(relay, hex(f.sealed));
  assert.is(h(opened.request.sendId), f.sendId);
  assert.is(h(opened.request.envelope), f.envelope);
  assert.is(h(opened.responseKey), f.responseKey);
  assert.is(openForwardResponse(hex(f.responseKey) as AeadKey, hex(f.responseOk)), 0);
  assert.is(openForwardResponse(hex(f.responseKey) as AeadKey, hex(f.responseAuth)), 5);
  assert.is(hex(f.responseOk).length, hex(f.responseAuth).length, 'OK and an error have one size');
  assert.ok(verifyRelayDeliveryKey(hex(keys.relaySignKey) as Ed25519PublicKey, hex(keys.relayDeliveryKey) as X25519PublicKey, hex(f.deliveryKeySignature)));
  const hello = hex(link.hello);
  const accept = hex(link.accept);
  const a = decodeLinkMessage(accept);
  assert.ok(a.type === 'LINK_ACCEPT' && ed25519Verify(a.signature, acceptMessage(hello, accept.subarray(0, accept.length - 64)), hex(keys.relaySignKey) as Ed25519PublicKey));
  const auth = decodeLinkMessage(hex(link.auth));
  assert.ok(auth.type === 'LINK_AUTH' && ed25519Verify(auth.signature, authMessage(hello, accept), hex(keys.dialerSignKey) as Ed25519PublicKey));
  const d = decodeLinkMessage(hex(link.firstData));
  assert.ok(d.type === 'LINK_DATA');
  const items = decodeItems(new LinkCipher(hex(link.dialerSendKey) as AeadKey).open(d.ciphertext));
  assert.equal(items.map((i) => [i.kind, i.reqId, i.body.length]), [['FWD', 1, 256 + 129], ['FWD', 2, 3]]);
});

test('a changed byte anywhere is refused', () => {
  const { keys, forward: f } = stored;
  const relay = { secretKey: hex(keys.relayDeliverySecret), publicKey: hex(keys.relayDeliveryKey) } as never;
  const sealed = hex(f.sealed);
  for (const i of [0, 31, 32, 100, sealed.length - 1]) {
    const bad = sealed.slice();
    bad[i]! ^= 1;
    assert.throws(() => openForward(relay, bad), /DECRYPT_FAILED/, `byte ${i}`);
  }
  const resp = hex(f.responseOk);
  resp[0]! ^= 1;
  assert.throws(() => openForwardResponse(hex(f.responseKey) as AeadKey, resp), /DECRYPT_FAILED/);
});

test.run();

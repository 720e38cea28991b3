// The Double Ratchet (spec/ratchet.md): conversations with reordering, loss, replays and
// tampering; the skip limits; persistence; forward secrecy and post-compromise security
// against a thief holding a full copy of a state; the spec's vectors (spec/vectors/ratchet.json,
// rewritten with SEALPOST_WRITE_VECTORS=1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import {
  aeadKey, concat, fromHex, fromUtf8, toHex, utf8, withBackend, x25519, x25519KeyPair,
  xchacha20poly1305Open,
} from '../../src/crypto/index.js';
import {
  MAX_SKIP, MAX_SKIPPED_TOTAL, canSend, decodeState, decrypt, encodeState, encrypt, initReceiver, initSender,
  isRatchetError, kdfCk, kdfRk, wipeState,
  type ChainKey, type MessageKey, type RatchetState, type RootKey,
} from '../../src/ratchet/index.js';
import { HEADER_LENGTH, MIN_MESSAGE_LENGTH, decodeMessage } from '../../src/ratchet/codec.js';
import { readJson, repoPath } from '../_support/files.js';
import { drbg, type Random } from '../_support/drbg.js';
import { rejects, rejectsUnchanged } from '../_support/ratchet-asserts.js';

// ---- fixtures -------------------------------------------------------------------------

/** A party: its state (updated in place by the ratchet) and its randomness. */
class Party {
  constructor(public state: RatchetState, readonly random: Random) {}
  send(text: string): Uint8Array { return encrypt(this.state, utf8(text), { random: this.random }); }
  recv(m: Uint8Array): string { return fromUtf8(decrypt(this.state, m, { random: this.random })); }
  /** Persists and reloads the state, as a client restart does. */
  reload(): void { this.state = decodeState(encodeState(this.state)); }
}

const SK = Uint8Array.from({ length: 32 }, (_, i) => i);
const AD = utf8('identity:alice||identity:bob');

function pair(seed: string, ad: Uint8Array = AD): { alice: Party; bob: Party } {
  const ra = drbg(utf8(`alice/${seed}`)), rb = drbg(utf8(`bob/${seed}`));
  const bobKey = x25519KeyPair(rb(32));
  return {
    alice: new Party(initSender(SK, ad, bobKey.publicKey, { random: ra }), ra),
    bob: new Party(initReceiver(SK, ad, bobKey), rb),
  };
}

/** Uniform integers in [0, n) from a DRBG (test scheduling only). */
const ints = (r: Random) => (n: number): number => new DataView(r(4).buffer).getUint32(0) % n;


const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

function tryOpen(mk: MessageKey, ad: Uint8Array, m: Uint8Array): Uint8Array | null {
  const msg = decodeMessage(m);
  try {
    return xchacha20poly1305Open(aeadKey(mk), msg.nonce, msg.ciphertext, concat(ad, msg.header));
  } catch {
    return null;
  }
}

function openWithChain(ck: ChainKey | null, ad: Uint8Array, m: Uint8Array, depth = 64): Uint8Array | null {
  for (let c = ck, i = 0; c && i < depth; i++) {
    const { ck: next, mk } = kdfCk(c);
    const pt = tryOpen(mk, ad, m);
    if (pt) return pt;
    c = next;
  }
  return null;
}

/**
 * Everything a thief holding `state` can try on a captured message without the peer's
 * secrets: every stored skipped key, 64 steps of both chains, and 64 steps of the chain a
 * DH ratchet step with the message's key would start.
 */
function thiefOpens(state: RatchetState, m: Uint8Array): string | null {
  const { fields } = decodeMessage(m);
  for (const k of state.skipped.values()) {
    const pt = tryOpen(k.mk, state.ad, m);
    if (pt) return fromUtf8(pt);
  }
  const viaDh = kdfRk(state.rk, x25519(state.dhs.secretKey, fields.dh)).ck;
  for (const ck of [state.ckr, state.cks, viaDh]) {
    const pt = openWithChain(ck, state.ad, m);
    if (pt) return fromUtf8(pt);
  }
  return null;
}

// ---- conversations --------------------------------------------------------------------

test('first exchange; the receiver cannot send before its first message', () => {
  const { alice, bob } = pair('basic');
  assert.ok(canSend(alice.state));
  assert.not.ok(canSend(bob.state));
  rejectsUnchanged(bob, () => bob.send('too early'), 'BAD_STATE');
  assert.is(bob.recv(alice.send('hello bob')), 'hello bob');
  assert.ok(canSend(bob.state));
  assert.is(alice.recv(bob.send('hello alice')), 'hello alice');
  assert.is(bob.recv(alice.send('')), '', 'empty plaintext');
  const m = alice.send('x');
  assert.is(m.length, MIN_MESSAGE_LENGTH + 1);
});

test('a long conversation both ways: random interleaving, reordering within a window, reloads', () => {
  const { alice, bob } = pair('long');
  const int = ints(drbg(utf8('schedule/long')));
  const queues = { toBob: [] as { m: Uint8Array; t: string }[], toAlice: [] as { m: Uint8Array; t: string }[] };
  let delivered = 0;
  const deliver = (to: Party, q: { m: Uint8Array; t: string }[]): void => {
    const [x] = q.splice(int(Math.min(q.length, 8)), 1);
    assert.is(to.recv(x!.m), x!.t);
    delivered++;
  };
  for (let step = 0; step < 3000; step++) {
    const r = int(10);
    if (r < 3) queues.toBob.push({ m: alice.send(`a${step}`), t: `a${step}` });
    else if (r < 6 && canSend(bob.state)) queues.toAlice.push({ m: bob.send(`b${step}`), t: `b${step}` });
    else if (r < 8 && queues.toBob.length) deliver(bob, queues.toBob);
    else if (queues.toAlice.length) deliver(alice, queues.toAlice);
    if (int(200) === 0) alice.reload();
    if (int(200) === 0) bob.reload();
  }
  while (queues.toBob.length) deliver(bob, queues.toBob);
  while (queues.toAlice.length) deliver(alice, queues.toAlice);
  assert.ok(delivered > 1500, `${delivered} messages`);
  assert.is(alice.state.skipped.size, 0, 'every stored key was used');
  assert.is(bob.state.skipped.size, 0);
});

test('out of order: any permutation of a chain, and messages of a previous chain after the next one', () => {
  const { alice, bob } = pair('ooo');
  const int = ints(drbg(utf8('schedule/ooo')));
  const msgs = Array.from({ length: 200 }, (_, i) => ({ m: alice.send(`m${i}`), t: `m${i}` }));
  for (let i = msgs.length - 1; i > 0; i--) { const j = int(i + 1); [msgs[i], msgs[j]] = [msgs[j]!, msgs[i]!]; }
  for (const x of msgs) assert.is(bob.recv(x.m), x.t);
  assert.is(bob.state.skipped.size, 0);

  // a0..a2 on one chain; Bob gets a2, answers; Alice's next chain reaches Bob before a0, a1.
  const a = [alice.send('a0'), alice.send('a1'), alice.send('a2')];
  assert.is(bob.recv(a[2]!), 'a2');
  assert.is(alice.recv(bob.send('b0')), 'b0');
  const a3 = alice.send('a3'), a4 = alice.send('a4');
  assert.is(bob.recv(a4), 'a4');
  assert.is(bob.state.skipped.size, 3, 'a0, a1 of the old chain and a3 of the new one');
  assert.is(bob.recv(a[0]!), 'a0');
  assert.is(bob.recv(a3), 'a3');
  assert.is(bob.recv(a[1]!), 'a1');
  assert.is(bob.state.skipped.size, 0);
});

test('lost messages: the conversation goes on; a late one still opens; lost keys stay bounded', () => {
  const { alice, bob } = pair('lost');
  const lost: Uint8Array[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 6; i++) {
      const m = alice.send(`r${round}m${i}`);
      if (i % 3 === 1 || i === 5) lost.push(m); // in the middle and at the end of the chain
      else assert.is(bob.recv(m), `r${round}m${i}`);
    }
    assert.is(alice.recv(bob.send(`ack${round}`)), `ack${round}`);
  }
  assert.is(bob.recv(alice.send('final')), 'final');
  assert.is(bob.state.skipped.size, lost.length, 'one stored key per lost message, also at chain ends (PN)');
  assert.is(bob.recv(lost[0]!), 'r0m1', 'a message late by five DH steps');
  assert.is(bob.state.skipped.size, lost.length - 1);
});

// ---- replays and tampering ------------------------------------------------------------

test('replays are refused with REPLAY and change nothing', () => {
  const { alice, bob } = pair('replay');
  const m0 = alice.send('m0'), m1 = alice.send('m1'), m2 = alice.send('m2');
  assert.is(bob.recv(m0), 'm0');
  rejectsUnchanged(bob, () => bob.recv(m0), 'REPLAY'); // current chain
  assert.is(bob.recv(m2), 'm2');
  assert.is(bob.recv(m1), 'm1'); // from a stored key
  rejectsUnchanged(bob, () => bob.recv(m1), 'REPLAY'); // the stored key is gone
  rejectsUnchanged(bob, () => bob.recv(m2), 'REPLAY');
  assert.is(alice.recv(bob.send('b')), 'b');
  assert.is(bob.recv(alice.send('next chain')), 'next chain');
  rejectsUnchanged(bob, () => bob.recv(m0), 'REPLAY'); // a closed chain
  rejectsUnchanged(bob, () => bob.recv(m2), 'REPLAY');
  assert.is(bob.recv(alice.send('still fine')), 'still fine');
});

test('every single-bit change of a message is refused with the state unchanged; the real one then opens', () => {
  const { alice, bob } = pair('tamper');
  assert.is(bob.recv(alice.send('warm')), 'warm');
  assert.is(alice.recv(bob.send('up')), 'up');
  const newChain = alice.send('starts a chain for Bob'); // Bob must take a DH ratchet step
  const sameChain = alice.send('same chain');
  const codes = new Set<string>();
  for (const [m, text] of [[newChain, 'starts a chain for Bob'], [sameChain, 'same chain']] as const) {
    for (let i = 0; i < m.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const t = m.slice();
        t[i]! ^= bit;
        const before = encodeState(bob.state);
        try {
          bob.recv(t);
          assert.unreachable(`byte ${i} bit ${bit} accepted`);
        } catch (e) {
          assert.ok(isRatchetError(e), String(e));
          codes.add(e.code);
        }
        assert.equal(toHex(encodeState(bob.state)), toHex(before), `byte ${i}: state unchanged`);
      }
    }
    for (const t of [m.subarray(0, m.length - 1), m.subarray(0, HEADER_LENGTH), concat(m, new Uint8Array(1))]) {
      const before = encodeState(bob.state);
      assert.throws(() => bob.recv(t), (e: unknown) => isRatchetError(e));
      assert.equal(toHex(encodeState(bob.state)), toHex(before));
    }
    assert.is(bob.recv(m), text);
  }
  for (const c of ['DECRYPT_FAILED', 'MALFORMED', 'TOO_MANY_SKIPPED']) assert.ok(codes.has(c), c);
  for (const c of codes) assert.ok(['DECRYPT_FAILED', 'MALFORMED', 'TOO_MANY_SKIPPED', 'REPLAY'].includes(c), c); // REPLAY: n changed to one already used
  assert.is(alice.recv(bob.send('the conversation continues')), 'the conversation continues');
  assert.is(bob.recv(alice.send('both ways')), 'both ways');
});

test('associated data is bound: a session with other AD cannot read the messages', () => {
  const a = pair('ad');
  const b = pair('ad', utf8('identity:alice||identity:mallory'));
  rejectsUnchanged(b.bob, () => b.bob.recv(a.alice.send('for bob only')), 'DECRYPT_FAILED');
});

// ---- limits ---------------------------------------------------------------------------

test(`a message more than MAX_SKIP (${MAX_SKIP}) ahead in its chain is refused, state unchanged`, () => {
  const { alice, bob } = pair('skip');
  const msgs = Array.from({ length: MAX_SKIP + 2 }, (_, i) => alice.send(`m${i}`));
  rejectsUnchanged(bob, () => bob.recv(msgs[MAX_SKIP + 1]!), 'TOO_MANY_SKIPPED');
  assert.is(bob.recv(msgs[MAX_SKIP]!), `m${MAX_SKIP}`, 'exactly MAX_SKIP ahead is accepted');
  assert.is(bob.state.skipped.size, MAX_SKIP);
  assert.is(bob.recv(msgs[MAX_SKIP + 1]!), `m${MAX_SKIP + 1}`, 'now within reach');
  assert.is(bob.recv(msgs[0]!), 'm0');
  assert.is(bob.recv(msgs[MAX_SKIP - 1]!), `m${MAX_SKIP - 1}`);

  // The first message of a new chain counts from 0.
  assert.is(alice.recv(bob.send('b')), 'b');
  const next = Array.from({ length: MAX_SKIP + 2 }, (_, i) => alice.send(`n${i}`));
  rejectsUnchanged(bob, () => bob.recv(next[MAX_SKIP + 1]!), 'TOO_MANY_SKIPPED');
  assert.is(bob.recv(next[0]!), 'n0');
});

test(`skipped keys are capped at MAX_SKIPPED_TOTAL (${MAX_SKIPPED_TOTAL}), the oldest evicted`, () => {
  const { alice, bob } = pair('cap');
  const chains: Uint8Array[][] = [];
  for (let c = 0; c < 3; c++) {
    const msgs = Array.from({ length: MAX_SKIP + 1 }, (_, i) => alice.send(`c${c}m${i}`));
    chains.push(msgs);
    assert.is(bob.recv(msgs[MAX_SKIP]!), `c${c}m${MAX_SKIP}`);
    assert.is(alice.recv(bob.send(`ack${c}`)), `ack${c}`);
  }
  assert.is(bob.state.skipped.size, MAX_SKIPPED_TOTAL);
  rejectsUnchanged(bob, () => bob.recv(chains[0]![0]!), 'REPLAY'); // evicted: the oldest chain's keys
  rejectsUnchanged(bob, () => bob.recv(chains[0]![MAX_SKIP - 1]!), 'REPLAY');
  assert.is(bob.recv(chains[1]![0]!), 'c1m0');
  assert.is(bob.recv(chains[2]![MAX_SKIP - 1]!), `c2m${MAX_SKIP - 1}`);
  bob.reload();
  assert.is(bob.state.skipped.size, MAX_SKIPPED_TOTAL - 2);
});

test('a chain that ended more than MAX_SKIP messages ago is closed at MAX_SKIP keys, not wedged', () => {
  const { alice, bob } = pair('wedge');
  const old = Array.from({ length: 1500 }, (_, i) => alice.send(`old${i}`));
  assert.is(bob.recv(old[0]!), 'old0');
  assert.is(alice.recv(bob.send('answer')), 'answer');
  // PN = 1500 in every header of Alice's new chain; refusing would refuse them all forever.
  assert.is(bob.recv(alice.send('new chain')), 'new chain');
  assert.is(bob.state.skipped.size, MAX_SKIP, 'keys for old1 .. old1000');
  assert.is(bob.recv(old[MAX_SKIP]!), `old${MAX_SKIP}`);
  rejectsUnchanged(bob, () => bob.recv(old[MAX_SKIP + 1]!), 'REPLAY'); // beyond the cap: gone
  assert.is(bob.recv(alice.send('and on')), 'and on');
});

// ---- transactions, wiping, arguments ----------------------------------------------------

test('used and superseded keys are wiped; a failed decrypt wipes nothing of the state', () => {
  const { alice, bob } = pair('wipe');
  const m0 = alice.send('m0'), m1 = alice.send('m1');
  const cks = alice.state.cks!;
  alice.send('m2');
  assert.ok(isZero(cks), "the sender's previous chain key");
  assert.is(bob.recv(m1), 'm1');
  const [stored] = [...bob.state.skipped.values()];
  const tampered = m0.slice();
  tampered[tampered.length - 1]! ^= 1;
  rejects(() => bob.recv(tampered), 'DECRYPT_FAILED');
  assert.not.ok(isZero(stored!.mk), 'a failed attempt keeps the stored key');
  assert.is(bob.recv(m0), 'm0');
  assert.ok(isZero(stored!.mk), 'the stored key is wiped once used');
  assert.is(alice.recv(bob.send('b')), 'b');
  const { rk, ckr, dhs: { secretKey: secret } } = bob.state;
  assert.is(bob.recv(alice.send('DH step')), 'DH step');
  assert.ok(isZero(rk) && isZero(ckr!) && isZero(secret), 'root key, receiving chain key and ratchet secret of the past');
  const st = bob.state;
  wipeState(st);
  assert.ok(isZero(st.rk) && isZero(st.dhs.secretKey) && isZero(st.cks!) && isZero(st.ckr!));
});

test('decrypt is transactional even when the randomness source fails mid-step', () => {
  const { alice, bob } = pair('rng');
  const m = alice.send('needs a fresh key pair');
  const before = encodeState(bob.state);
  assert.throws(() => decrypt(bob.state, m, { random: () => { throw new Error('rng down'); } }), /rng down/);
  assert.equal(toHex(encodeState(bob.state)), toHex(before));
  rejectsUnchanged(bob, () => decrypt(bob.state, m, { random: () => new Uint8Array(31) }), 'INVALID_ARGUMENT');
  assert.is(bob.recv(m), 'needs a fresh key pair');
});

test('arguments are checked with INVALID_ARGUMENT; non-messages are MALFORMED', () => {
  const k = x25519KeyPair(new Uint8Array(32).fill(7));
  rejects(() => initSender(new Uint8Array(31), AD, k.publicKey), 'INVALID_ARGUMENT');
  rejects(() => initSender(SK, new Uint8Array(1025), k.publicKey), 'INVALID_ARGUMENT');
  rejects(() => initSender(SK, AD, new Uint8Array(32) as typeof k.publicKey), 'INVALID_ARGUMENT'); // low order
  rejects(() => initReceiver(SK, AD, { secretKey: k.secretKey, publicKey: x25519KeyPair().publicKey }), 'INVALID_ARGUMENT');
  rejects(() => initSender(SK, AD, k.publicKey, { random: () => new Uint8Array(16) }), 'INVALID_ARGUMENT');
  const { alice, bob } = pair('args');
  rejectsUnchanged(alice, () => encrypt(alice.state, 'text' as unknown as Uint8Array), 'INVALID_ARGUMENT');
  rejectsUnchanged(bob, () => decrypt(bob.state, 'text' as unknown as Uint8Array), 'MALFORMED');
  rejectsUnchanged(bob, () => decrypt(bob.state, new Uint8Array(MIN_MESSAGE_LENGTH - 1)), 'MALFORMED');
  const m = alice.send('x');
  const v2 = m.slice();
  v2[0] = 2;
  rejectsUnchanged(bob, () => bob.recv(v2), 'MALFORMED');
  const maxN = m.slice();
  maxN.fill(0xff, 37, 41);
  rejectsUnchanged(bob, () => bob.recv(maxN), 'MALFORMED');
  assert.is(bob.recv(m), 'x');
});

// ---- persistence ----------------------------------------------------------------------

test('encode/decode mid-conversation: identical bytes, and the reloaded states carry on', () => {
  const { alice, bob } = pair('persist');
  const fresh = [encodeState(bob.state), encodeState(alice.state)];
  for (const b of fresh) assert.equal(toHex(encodeState(decodeState(b))), toHex(b), 'fresh shapes');
  const held: Uint8Array[] = [];
  for (let r = 0; r < 4; r++) {
    held.push(alice.send(`held${r}`));
    assert.is(bob.recv(alice.send(`r${r}`)), `r${r}`);
    assert.is(alice.recv(bob.send(`b${r}`)), `b${r}`);
  }
  assert.is(bob.state.skipped.size, 4);
  assert.ok(bob.state.retired.length > 0);
  const bytes = encodeState(bob.state);
  const reloaded = decodeState(bytes);
  assert.equal(toHex(encodeState(reloaded)), toHex(bytes));
  bob.state = reloaded;
  alice.reload();
  for (let r = 0; r < 4; r++) assert.is(bob.recv(held[r]!), `held${r}`);
  assert.is(bob.recv(alice.send('after reload')), 'after reload');
  assert.is(alice.recv(bob.send('both ways')), 'both ways');
});

test('decodeState refuses malformed bytes with BAD_STATE, never anything else', () => {
  const { alice, bob } = pair('state-bytes');
  alice.send('h'); // never delivered: Bob stores its key
  assert.is(bob.recv(alice.send('x')), 'x');
  assert.is(alice.recv(bob.send('y')), 'y');
  const good = encodeState(bob.state);
  assert.is(bob.state.skipped.size, 1);
  for (let n = 0; n < good.length; n++) rejects(() => decodeState(good.subarray(0, n)), 'BAD_STATE');
  rejects(() => decodeState(concat(good, new Uint8Array(1))), 'BAD_STATE');
  rejects(() => decodeState('state' as unknown as Uint8Array), 'BAD_STATE');
  const edit = (at: number, v: number): Uint8Array => { const b = good.slice(); b[at] = v; return b; };
  rejects(() => decodeState(edit(0, 2)), 'BAD_STATE'); // version
  rejects(() => decodeState(edit(1, 0x01)), 'BAD_STATE'); // shape
  const dhrAt = 4 + AD.length + 64;
  const lowOrder = good.slice();
  lowOrder.fill(0, dhrAt, dhrAt + 32);
  rejects(() => decodeState(lowOrder), 'BAD_STATE');
  const int = ints(drbg(utf8('schedule/state-fuzz')));
  let decoded = 0;
  for (let i = 0; i < 3000; i++) {
    const b = good.slice();
    b[int(b.length)]! ^= 1 << int(8);
    try {
      decodeState(b);
      decoded++;
    } catch (e) {
      assert.ok(isRatchetError(e, 'BAD_STATE'), String(e));
    }
  }
  assert.ok(decoded > 0, 'flipped secret bytes still decode');
});

// ---- forward secrecy and post-compromise security --------------------------------------

test('forward secrecy: a full copy of the state opens no message it already received or sent', () => {
  const { alice, bob } = pair('fs');
  const toBob: Uint8Array[] = [], fromBob: Uint8Array[] = [];
  let late: Uint8Array | null = null;
  for (let r = 0; r < 4; r++) {
    for (let i = 0; i < 4; i++) {
      const m = alice.send(`a${r}.${i}`);
      if (r === 3 && i === 0) { late = m; continue; } // delayed by the network
      toBob.push(m);
      assert.is(bob.recv(m), `a${r}.${i}`);
    }
    const b = bob.send(`b${r}`);
    fromBob.push(b);
    assert.is(alice.recv(b), `b${r}`);
  }
  const thief = decodeState(encodeState(bob.state)); // everything Bob's device holds
  for (const m of toBob) {
    assert.throws(() => decrypt(thief, m), (e: unknown) => isRatchetError(e, 'REPLAY') || isRatchetError(e, 'DECRYPT_FAILED'));
    assert.is(thiefOpens(thief, m), null);
  }
  for (const m of fromBob) assert.is(thiefOpens(thief, m), null);
  // Not protected (spec/ratchet.md §10): a key kept for a message still in transit.
  assert.is(thiefOpens(thief, late!), 'a3.0');
});

/**
 * Eve copies `victim`'s full state (the encoded bytes) and then follows the conversation
 * passively: she runs her copy forward on every message to the victim, and tries every
 * key her copies can derive on every message from the victim.
 */
function postCompromise(victim: Party, peer: Party): void {
  const snapshot = decodeState(encodeState(victim.state));
  const running = decodeState(encodeState(victim.state));
  const eveRandom = drbg(utf8('eve'));
  const eveReadsToVictim = (m: Uint8Array): string | null => {
    try { return fromUtf8(decrypt(running, m, { random: eveRandom })); } catch { return thiefOpens(snapshot, m) ?? thiefOpens(running, m); }
  };
  const eveReadsFromVictim = (m: Uint8Array): string | null => thiefOpens(snapshot, m) ?? thiefOpens(running, m);
  const talk = (from: Party, to: Party, text: string): Uint8Array => {
    const m = from.send(text);
    assert.is(to.recv(m), text);
    return m;
  };

  // The current chains are exposed: the peer's chain to the victim, the victim's own.
  assert.is(eveReadsToVictim(talk(peer, victim, 'p1')), 'p1');
  assert.is(eveReadsFromVictim(talk(victim, peer, 'q1')), 'q1');
  // The peer's next chain is agreed with the victim's stolen ratchet key: still exposed.
  assert.is(eveReadsToVictim(talk(peer, victim, 'p2')), 'p2');
  // Receiving p2 made the victim a fresh key pair Eve never saw: healed from here on.
  assert.is(eveReadsFromVictim(talk(victim, peer, 'q2')), null);
  assert.is(eveReadsToVictim(talk(peer, victim, 'p3')), null);
  const int = ints(drbg(utf8('schedule/pcs')));
  for (let i = 0; i < 40; i++) {
    if (int(2)) assert.is(eveReadsToVictim(talk(peer, victim, `p${i}`)), null);
    else assert.is(eveReadsFromVictim(talk(victim, peer, `q${i}`)), null);
  }
}

test('post-compromise security: a stolen receiver state reads the current chains, then nothing after one round trip', () => {
  const { alice, bob } = pair('pcs-bob');
  assert.is(bob.recv(alice.send('warm-up')), 'warm-up');
  postCompromise(bob, alice);
});

test('post-compromise security: the same for a stolen sender state', () => {
  const { alice, bob } = pair('pcs-alice');
  assert.is(bob.recv(alice.send('warm-up')), 'warm-up');
  assert.is(alice.recv(bob.send('warm-up reply')), 'warm-up reply');
  postCompromise(alice, bob);
});

// ---- spec vectors (spec/ratchet.md §11) -------------------------------------------------

const VECTOR_FILE = ['spec', 'vectors', 'ratchet.json'] as const;
const V = {
  sharedSecret: SK,
  associatedData: utf8('sealpost ratchet vector: alice||bob'),
  bobRatchetSecret: fromHex('4242424242424242424242424242424242424242424242424242424242424242'),
  aliceSeed: utf8('sealpost/v1/ratchet/vector/alice'),
  bobSeed: utf8('sealpost/v1/ratchet/vector/bob'),
  kdfRk: { rk: fromHex('a0'.repeat(32)), dhOut: fromHex('b1'.repeat(32)) },
  kdfCk: { ck: fromHex('c2'.repeat(32)) },
};
/** [party, 'send', id] makes message `id` with plaintext "message <id>"; [party, 'recv', id] delivers it. */
const SCRIPT: readonly (readonly ['alice' | 'bob', 'send' | 'recv', string])[] = [
  ['alice', 'send', 'a0'], ['alice', 'send', 'a1'], ['alice', 'send', 'a2'],
  ['bob', 'recv', 'a0'], ['bob', 'recv', 'a2'], // a1 held back: Bob stores its key
  ['bob', 'send', 'b0'], ['alice', 'recv', 'b0'], // Alice: DH ratchet step
  ['alice', 'send', 'a3'], ['bob', 'recv', 'a3'], // Bob: DH ratchet step, PN = 3
  ['bob', 'recv', 'a1'], // from the stored key
  ['bob', 'send', 'b1'], ['bob', 'send', 'b2'], ['alice', 'recv', 'b2'], ['alice', 'recv', 'b1'],
  ['alice', 'send', 'a4'], ['bob', 'recv', 'a4'],
];

/** Runs the script from V; `deliver` may substitute the bytes a 'recv' step gets. */
function computeVector(deliver: (id: string, m: Uint8Array) => Uint8Array = (_, m) => m): Record<string, unknown> {
  const rk = kdfRk(V.kdfRk.rk as RootKey, V.kdfRk.dhOut);
  const ck = kdfCk(V.kdfCk.ck as ChainKey);
  const ra = drbg(V.aliceSeed), rb = drbg(V.bobSeed);
  const bobKey = x25519KeyPair(V.bobRatchetSecret);
  const parties = {
    alice: new Party(initSender(V.sharedSecret, V.associatedData, bobKey.publicKey, { random: ra }), ra),
    bob: new Party(initReceiver(V.sharedSecret, V.associatedData, bobKey), rb),
  };
  const sent = new Map<string, Uint8Array>();
  const steps = SCRIPT.map(([who, op, id]) => {
    const p = parties[who];
    const plaintext = `message ${id}`;
    if (op === 'send') sent.set(id, encrypt(p.state, utf8(plaintext), { random: p.random }));
    else assert.is(fromUtf8(decrypt(p.state, deliver(id, sent.get(id)!), { random: p.random })), plaintext);
    return { party: who, op, id, plaintext, ...(op === 'send' ? { message: toHex(sent.get(id)!) } : {}), stateAfter: toHex(encodeState(p.state)) };
  });
  return {
    description: 'Sealpost Double Ratchet vectors (spec/ratchet.md §11). Hex strings; randomness from the DRBG of §11.',
    kdfRk: { rk: toHex(V.kdfRk.rk), dhOut: toHex(V.kdfRk.dhOut), rkOut: toHex(rk.rk), ck: toHex(rk.ck) },
    kdfCk: { ck: toHex(V.kdfCk.ck), ckOut: toHex(ck.ck), mk: toHex(ck.mk) },
    session: {
      sharedSecret: toHex(V.sharedSecret),
      associatedData: toHex(V.associatedData),
      bobRatchetSecret: toHex(V.bobRatchetSecret),
      bobRatchetPublic: toHex(bobKey.publicKey),
      aliceSeed: toHex(V.aliceSeed),
      bobSeed: toHex(V.bobSeed),
      steps,
    },
  };
}

/** JSON paths where `a` and `b` differ. */
function diff(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b ? [] : [path];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`));
}

if (process.env['SEALPOST_WRITE_VECTORS'] === '1') {
  writeFileSync(repoPath(...VECTOR_FILE), JSON.stringify(computeVector(), null, 2) + '\n');
}
const stored = readJson<Record<string, unknown>>(...VECTOR_FILE);
type StoredStep = { id: string; message?: string };
const storedSteps = (v: Record<string, unknown>): StoredStep[] => (v['session'] as { steps: StoredStep[] }).steps;

for (const backend of ['node', 'noble'] as const) {
  test(`spec/vectors/ratchet.json recomputes byte for byte on the ${backend} backend`, () => {
    assert.equal(withBackend(backend, () => diff(stored, computeVector())), []);
  });
}

test('the vectors decrypt from their stored bytes, and a mutated vector fails', () => {
  const messages = new Map(storedSteps(stored).filter((s) => s.message).map((s) => [s.id, fromHex(s.message!)]));
  assert.equal(diff(stored, computeVector((id) => messages.get(id)!)), [], 'stored messages decrypt to the same trace');

  const mutated = JSON.parse(JSON.stringify(stored)) as Record<string, unknown>;
  const step = storedSteps(mutated).find((s) => s.id === 'a2' && s.message)!;
  step.message = step.message!.slice(0, -2) + (step.message!.endsWith('00') ? '01' : '00');
  const at = storedSteps(mutated).indexOf(step);
  assert.equal(diff(mutated, computeVector()), [`.session.steps.${at}.message`], 'the comparison sees it');
  rejects(() => computeVector((id, m) => (id === 'a2' ? fromHex(step.message!) : m)), 'DECRYPT_FAILED');
  const k = JSON.parse(JSON.stringify(stored)) as { kdfCk: { mk: string } };
  k.kdfCk.mk = 'ff' + k.kdfCk.mk.slice(2);
  assert.equal(diff(k, computeVector()), ['.kdfCk.mk']);
});

test.run();

// Mutation fuzzing of the group state machine (src/mls/group.ts), bounded and reproducible:
// random byte mutations of real group messages — an application message, a proposal, a
// commit as PrivateMessage and as PublicMessage, a competing commit for the previous epoch, a
// commit seen by a member it removed, and a Welcome — fed to Group.process and Group.join.
// Every mutation must either be refused with an MlsError (nothing else may escape) and leave
// the member's whole state as it was (its export() byte for byte, so the epoch authenticator
// too), after which the genuine message still processes; or, for a Welcome, join the very
// same epoch (a mutation in another joiner's EncryptedGroupSecrets does not concern us). A
// malicious member's mutants, re-signed, re-tagged and re-encrypted, reach the validation of
// the commit and of the Welcome's GroupInfo, ratchet tree and GroupSecrets.
// FUZZ_SEED and FUZZ_ROUNDS override the seed and the number of mutations per message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Group } from '../../src/mls/group.js';
import { MlsError } from '../../src/mls/errors.js';
import {
  decodeMlsMessage, encodeFramedContent, encodeMlsMessage, membershipTag, readFramedContent, signFramedContent, type FramedContent,
} from '../../src/mls/framing.js';
import { encodeGroupContext } from '../../src/mls/group-context.js';
import { decodeGroupInfo, encodeGroupInfo, signGroupInfo } from '../../src/mls/group-info.js';
import { keyPackageRef } from '../../src/mls/key-package.js';
import { EpochSecrets, welcomeKeyNonce } from '../../src/mls/key-schedule.js';
import { decode } from '../../src/mls/tls.js';
import { decodeGroupSecrets } from '../../src/mls/welcome.js';
import { equalBytes } from '../../src/crypto/index.js';
import { currentEpoch, hexOf, newGroup, newMember, Prng } from '../_support/mls-members.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5ea1) >>> 0;
const ROUNDS = Number(process.env['FUZZ_ROUNDS'] ?? 300);
const te = new TextEncoder();

/** One random mutation: bit flips, a random byte, truncation, insertion, deletion, a length byte blown up. */
function mutate(rng: Prng, original: Uint8Array): Uint8Array {
  const b = Uint8Array.from(original);
  // Half of the mutations land in the first 48 bytes, where the headers and lengths are.
  const pos = (): number => (rng.int(2) === 0 ? rng.int(Math.min(48, b.length)) : rng.int(b.length));
  switch (rng.int(7)) {
    case 0: { const n = 1 + rng.int(3); for (let i = 0; i < n; i++) b[pos()]! ^= 1 << rng.int(8); return b; }
    case 1: { const i = pos(); b[i] = (b[i]! + 1 + rng.int(255)) & 0xff; return b; }
    case 2: return b.subarray(0, rng.int(b.length));
    case 3: { const i = pos(); return Uint8Array.from([...b.subarray(0, i), rng.int(256), ...b.subarray(i)]); }
    case 4: { const i = pos(); return Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + 1)]); }
    case 5: { const i = pos(); b[i] = [0x00, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff][rng.int(8)]!; return b; }
    default: { const i = pos(); const n = 1 + rng.int(16); for (let j = i; j < Math.min(b.length, i + n); j++) b[j] = rng.int(256); return b; }
  }
}

interface Escape { what: string; mutant: string; error: string }

/**
 * Feeds ROUNDS mutants of `genuine` to `g.process`: each must throw an MlsError and leave
 * g.export() unchanged. Returns the codes seen (for the report on failure).
 */
function fuzzProcess(what: string, rng: Prng, g: Group, genuine: Uint8Array, escapes: Escape[]): Map<string, number> {
  const before = g.export();
  const auth = hexOf(g.epochAuthenticator);
  const codes = new Map<string, number>();
  for (let i = 0; i < ROUNDS; i++) {
    const m = mutate(rng, genuine);
    if (hexOf(m) === hexOf(genuine)) continue;
    try {
      g.process(m);
      escapes.push({ what, mutant: hexOf(m), error: 'accepted' });
    } catch (e) {
      if (!(e instanceof MlsError)) { escapes.push({ what, mutant: hexOf(m), error: String((e as Error)?.stack ?? e) }); continue; }
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
    if (hexOf(g.export()) !== hexOf(before)) {
      escapes.push({ what, mutant: hexOf(m), error: 'changed the state' });
      break;
    }
  }
  assert.is(hexOf(g.epochAuthenticator), auth, `${what}: epoch authenticator unchanged`);
  return codes;
}

function report(escapes: Escape[]): void {
  if (escapes.length === 0) return;
  const first = escapes.slice(0, 3).map((e) => `${e.what}: ${e.error}\n  mutant ${e.mutant.slice(0, 400)}`).join('\n');
  assert.unreachable(`${escapes.length} mutant(s) escaped (seed ${SEED}):\n${first}`);
}

for (const suiteId of [1, 3]) {
  test(`suite ${suiteId}: mutated group messages are MlsErrors and change nothing`, () => {
    const rng = new Prng(SEED + suiteId);
    const escapes: Escape[] = [];
    const t = newGroup(suiteId, 4);
    const [a, b, r, y] = t.groups as [Group, Group, Group, Group];
    // Warm R's ratchets for senders 0 and 1, so that export() compares like with like (the
    // secret tree derives a leaf's ratchets on first use, a change of form, not of content).
    for (const from of [a, b]) r.process(from.encrypt(te.encode('warm-up')));
    y.process(a.encrypt(te.encode('warm-up')));

    // Application message.
    const appMsg = a.encrypt(te.encode('the genuine application message'), te.encode('ad'));
    const codes = fuzzProcess('application', rng, r, appMsg, escapes);
    report(escapes);
    assert.is(r.process(appMsg).kind, 'application', 'the genuine application message after the mutants');
    assert.ok(codes.size >= 2, `several codes seen: ${[...codes.keys()].join(', ')}`);

    // Proposal (B proposes to remove Y), by reference.
    const prop = b.propose({ type: 3, removed: 3 });
    fuzzProcess('proposal', rng, r, prop, escapes);
    report(escapes);
    for (const g of [a, r, y]) assert.is(g.process(prop).kind, 'proposal');

    // Commit by A (the Remove by reference, an Add, a path), private and public.
    const x = newMember(suiteId, 'x');
    const aState = a.export();
    const commit = a.commit({ add: [x.kp.keyPackage], forcePath: true });
    const commitPublic = Group.restore(aState).commit({ add: [x.kp.keyPackage], forcePath: true, wire: 'public' });
    fuzzProcess('commit (private)', rng, r, commit.message, escapes);
    fuzzProcess('commit (public)', rng, r, commitPublic.message, escapes);
    fuzzProcess('commit (private), at the member it removes', rng, y, commit.message, escapes);
    report(escapes);
    const late = b.encrypt(te.encode('late')); // of the epoch the commit ends
    a.apply(commit);
    for (const g of [b, r]) assert.is(g.process(commit.message).kind, 'commit');
    assert.ok((y.process(commit.message) as { summary: { removedMe: boolean } }).summary.removedMe);
    assert.is(hexOf(r.epochAuthenticator), hexOf(a.epochAuthenticator));

    // The previous epoch: a mutated competing commit, a mutated late application message, and
    // a competing commit at the member the first one removed.
    fuzzProcess('competing commit (public)', rng, r, commitPublic.message, escapes);
    fuzzProcess('late application message', rng, r, late, escapes);
    fuzzProcess('competing commit at the removed member', rng, y, commitPublic.message, escapes);
    report(escapes);

    // Welcome: mutants either fail with an MlsError or join the same epoch.
    const welcome = commit.welcome!;
    const want = hexOf(a.epochAuthenticator);
    const wcodes = new Map<string, number>();
    for (let i = 0; i < ROUNDS; i++) {
      const m = mutate(rng, welcome);
      try {
        const g = Group.join(m, x.kp);
        if (hexOf(g.epochAuthenticator) !== want) escapes.push({ what: 'welcome', mutant: hexOf(m), error: 'joined another epoch' });
      } catch (e) {
        if (!(e instanceof MlsError)) escapes.push({ what: 'welcome', mutant: hexOf(m), error: String((e as Error)?.stack ?? e) });
        else wcodes.set(e.code, (wcodes.get(e.code) ?? 0) + 1);
      }
    }
    report(escapes);
    assert.ok(wcodes.size >= 2, `several codes seen: ${[...wcodes.keys()].join(', ')}`);
    const xg = Group.join(welcome, x.kp);
    assert.is(hexOf(xg.epochAuthenticator), want, 'the genuine Welcome after the mutants');

    // And the group goes on: the genuine messages still flow to R after all that.
    assert.is(r.process(late).kind, 'application');
    const next = xg.encrypt(te.encode('from the newcomer'));
    for (const g of [a, b, r]) assert.is(g.process(next).kind, 'application');
  });
}

// A malicious member goes deeper than a relay: it re-signs (and re-tags, re-encrypts) what it
// mutates, so that the mutants get past the signatures into the commit's and the Welcome's
// validation (proposal lists, UpdatePath, ratchet tree, GroupSecrets). Still only MlsErrors,
// no change of state, and a Welcome mutant that joins must join the genuine epoch.
for (const suiteId of [1, 3]) {
  test(`suite ${suiteId}: a member's re-signed mutants of its commit and Welcome are MlsErrors`, () => {
    const rng = new Prng(SEED + 100 + suiteId);
    const escapes: Escape[] = [];
    const t = newGroup(suiteId, 5);
    const [a, , r] = t.groups as [Group, Group, Group];
    const signer = t.members[0]!.identity.signer;
    const suite = a.suite;
    const x = newMember(suiteId, 'x');
    const e = currentEpoch(r);
    const ctx = encodeGroupContext(e.context);
    const aState = a.export();
    const pub = Group.restore(aState).commit({ add: [x.kp.keyPackage], remove: [3], forcePath: true, wire: 'public' });
    const m = decodeMlsMessage(pub.message);
    if (m.wireFormat !== 1) throw new Error('not a PublicMessage');
    const pm = m.publicMessage;
    const contentBytes = encodeFramedContent(pm.content);
    const before = hexOf(r.export());
    const codes = new Map<string, number>();
    for (let i = 0; i < ROUNDS * 2; i++) {
      const mb = mutate(rng, contentBytes);
      let content: FramedContent;
      try { content = decode(readFramedContent, mb, 'FramedContent'); } catch { continue; }
      if (hexOf(encodeFramedContent(content)) === hexOf(contentBytes)) continue;
      const signature = signFramedContent(suite, signer, 1, content, ctx);
      const auth = content.contentType === 3 ? { signature, confirmationTag: pm.auth.confirmationTag } : { signature };
      const tag = content.sender.type === 1 ? membershipTag(suite, e.secrets.membershipKey, content, auth, ctx) : undefined;
      const msg = encodeMlsMessage({ wireFormat: 1, publicMessage: tag ? { content, auth, membershipTag: tag } : { content, auth } });
      try {
        r.process(msg);
        escapes.push({ what: 're-signed commit', mutant: hexOf(mb), error: 'accepted' });
      } catch (err) {
        if (!(err instanceof MlsError)) escapes.push({ what: 're-signed commit', mutant: hexOf(mb), error: String((err as Error)?.stack ?? err) });
        else codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      }
      if (hexOf(r.export()) !== before) { escapes.push({ what: 're-signed commit', mutant: hexOf(mb), error: 'changed the state' }); break; }
    }
    report(escapes);
    assert.ok(codes.size >= 4, `several codes seen: ${[...codes.keys()].join(', ')}`);

    // The Welcome of the genuine commit, opened as the joiner can, mutated, re-signed, re-sealed.
    const commit = a.commit({ add: [x.kp.keyPackage], forcePath: true });
    a.apply(commit);
    const w = decodeMlsMessage(commit.welcome!);
    if (w.wireFormat !== 3) throw new Error('not a Welcome');
    const ref = keyPackageRef(suite, x.kp.keyPackage);
    const mine = w.welcome.secrets.find((q) => equalBytes(q.newMember, ref))!;
    const gsBytes = suite.decryptWithLabel(x.kp.initKey, 'Welcome', w.welcome.encryptedGroupInfo, mine.encryptedGroupSecrets);
    const { welcomeSecret } = EpochSecrets.fromJoinerSecret(suite, decodeGroupSecrets(gsBytes).joinerSecret, undefined, new Uint8Array(0));
    const { key, nonce } = welcomeKeyNonce(suite, welcomeSecret);
    const giBytes = suite.open(key, nonce, new Uint8Array(0), w.welcome.encryptedGroupInfo);
    const want = hexOf(a.epochAuthenticator);
    const wcodes = new Map<string, number>();
    const welcomeOf = (encryptedGroupInfo: Uint8Array, groupSecrets: Uint8Array): Uint8Array => encodeMlsMessage({
      wireFormat: 3,
      welcome: { cipherSuite: suiteId, encryptedGroupInfo, secrets: [{ newMember: ref, encryptedGroupSecrets: suite.encryptWithLabel(x.kp.keyPackage.initKey, 'Welcome', encryptedGroupInfo, groupSecrets) }] },
    });
    for (let i = 0; i < ROUNDS; i++) {
      let wb: Uint8Array;
      if (rng.int(4) === 0) {
        wb = welcomeOf(w.welcome.encryptedGroupInfo, mutate(rng, gsBytes));
      } else {
        let gi;
        try { gi = decodeGroupInfo(mutate(rng, giBytes)); } catch { continue; }
        wb = welcomeOf(suite.seal(key, nonce, new Uint8Array(0), encodeGroupInfo(signGroupInfo(suite, signer, gi))), gsBytes);
      }
      try {
        const g = Group.join(wb, x.kp);
        if (hexOf(g.epochAuthenticator) !== want) escapes.push({ what: 're-signed welcome', mutant: hexOf(wb), error: 'joined another epoch' });
      } catch (err) {
        if (!(err instanceof MlsError)) escapes.push({ what: 're-signed welcome', mutant: hexOf(wb), error: String((err as Error)?.stack ?? err) });
        else wcodes.set(err.code, (wcodes.get(err.code) ?? 0) + 1);
      }
    }
    report(escapes);
    assert.ok(wcodes.size >= 4, `several codes seen: ${[...wcodes.keys()].join(', ')}`);
    // The genuine messages still work.
    assert.is(r.process(commit.message).kind, 'commit');
    assert.is(hexOf(Group.join(commit.welcome!, x.kp).epochAuthenticator), want);
    assert.is(hexOf(r.epochAuthenticator), want);
  });
}

// Negative control: the harness notices a mutant that is accepted, one that changes the state,
// and an error that is not an MlsError.
test('the fuzz harness catches what it is meant to catch', () => {
  const rng = new Prng(1);
  const t = newGroup(1, 2);
  const msg = t.groups[0]!.encrypt(te.encode('x'));
  const accepting = { export: () => new Uint8Array([1]), process: () => ({ kind: 'application' }), epochAuthenticator: new Uint8Array(1) } as unknown as Group;
  const e1: Escape[] = [];
  fuzzProcess('control', rng, accepting, msg, e1);
  assert.ok(e1.length > 0 && e1[0]!.error === 'accepted');
  let n = 0;
  const changing = { export: () => new Uint8Array([n++]), process: () => { throw new MlsError('MALFORMED', 'x'); }, epochAuthenticator: new Uint8Array(1) } as unknown as Group;
  const e2: Escape[] = [];
  fuzzProcess('control', rng, changing, msg, e2);
  assert.ok(e2.some((e) => e.error === 'changed the state'));
  const crashing = { export: () => new Uint8Array([1]), process: () => { throw new TypeError('boom'); }, epochAuthenticator: new Uint8Array(1) } as unknown as Group;
  const e3: Escape[] = [];
  fuzzProcess('control', rng, crashing, msg, e3);
  assert.ok(e3.length > 0 && e3[0]!.error.includes('TypeError'));
});

test.run();

// The group state machine (src/mls/group.ts) in multi-member scenarios, on cipher suites 1 and
// 3: a) one commit adds four members, who agree and talk; b) a removed member reads nothing
// after its removal; c) two commits for one epoch delivered in different orders converge on the
// one with the smaller commit order (spec/groups.md §10), including for a member the losing
// commit removed; d) a member's own path update heals the compromise of its state; e) forged
// commits (foreign signer, flipped signature, wrong confirmation tag) are refused with their
// code and change nothing; f) a relay that replays, drops and reorders; g) the `authorize`
// policy hook; h) export()/restore() in the middle of a conversation, previous epoch included.
// Every check has a negative control where one makes sense.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Group, commitOrder, type PendingCommit, type Processed, type ProposedChange } from '../../src/mls/group.js';
import { MlsError, type MlsErrorCode } from '../../src/mls/errors.js';
import {
  decodeMlsMessage, encodeMlsMessage, membershipTag, type AuthenticatedContent, type MlsMessage, type PublicMessage,
} from '../../src/mls/framing.js';
import { encodeGroupContext } from '../../src/mls/group-context.js';
import { protectPrivateMessage, unprotectPrivateMessage, type ProtectionKeys } from '../../src/mls/message-protection.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { randomBytes } from '../../src/crypto/index.js';
import { currentEpoch, hexOf, newGroup, newMember, type TestGroup } from '../_support/mls-members.js';

const SUITES = [1, 3];
const te = new TextEncoder();
const td = new TextDecoder();

function codeOf(fn: () => unknown): MlsErrorCode | 'ok' {
  try { fn(); } catch (e) {
    if (!(e instanceof MlsError)) throw new Error(`not an MlsError: ${String(e)}`, { cause: e });
    return e.code;
  }
  return 'ok';
}
const throwsCode = (fn: () => unknown, code: MlsErrorCode, what: string): void => assert.is(codeOf(fn), code, what);

function agree(groups: readonly Group[], what: string): void {
  const want = hexOf(groups[0]!.epochAuthenticator);
  groups.forEach((g, i) => {
    assert.is(hexOf(g.epochAuthenticator), want, `${what}: member ${i} epoch authenticator`);
    assert.is(g.epoch, groups[0]!.epoch, `${what}: member ${i} epoch`);
  });
  const x = hexOf(groups[0]!.exporter('test', new Uint8Array(0), 32));
  for (const g of groups) assert.is(hexOf(g.exporter('test', new Uint8Array(0), 32)), x, `${what}: exporter`);
}

function app(r: Processed): { sender: number; text: string; epoch: bigint } {
  if (r.kind !== 'application') throw new Error(`expected an application message, got ${r.kind}`);
  return { sender: r.sender, text: td.decode(r.data), epoch: r.epoch };
}
function commitOf(r: Processed): Extract<Processed, { kind: 'commit' }> {
  if (r.kind !== 'commit') throw new Error(`expected a commit, got ${r.kind}`);
  return r;
}

/** Sends one message from `from` and checks every other live member reads it. */
function talk(t: { groups: Group[] }, from: number, text: string, to?: readonly number[]): Uint8Array {
  const m = t.groups[from]!.encrypt(te.encode(text));
  for (const [j, g] of t.groups.entries()) {
    if (j === from || (to && !to.includes(j))) continue;
    assert.equal(app(g.process(m)), { sender: t.groups[from]!.myLeaf, text, epoch: t.groups[from]!.epoch }, `member ${j} reads "${text}"`);
  }
  return m;
}

const cmp = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
};
const orderOf = (suiteId: number, p: PendingCommit): Uint8Array => commitOrder(cipherSuite(suiteId), p.summary.content);

for (const s of SUITES) {
  // ---- a) -------------------------------------------------------------------------------------
  test(`suite ${s}: a) the creator adds 4 members in one commit; all agree and exchange messages`, () => {
    const t = newGroup(s, 5);
    assert.equal(t.groups.map((g) => g.myLeaf), [0, 1, 2, 3, 4]);
    assert.equal(t.groups.map((g) => g.epoch), [1n, 1n, 1n, 1n, 1n]);
    agree(t.groups, 'after the add');
    assert.is(t.groups[3]!.members().length, 5);
    assert.is(t.groups[2]!.welcomeSigner, 0);
    for (let i = 0; i < 5; i++) talk(t, i, `hello from ${i}`);
    // Several messages from one sender, and authenticated data.
    const m = t.groups[4]!.encrypt(te.encode('with ad'), te.encode('header'));
    const r = t.groups[1]!.process(m);
    assert.ok(r.kind === 'application' && td.decode(r.authenticatedData) === 'header');
    // Negative control: another group of fresh members neither agrees nor reads ours.
    const u = newGroup(s, 2);
    assert.is.not(hexOf(u.groups[0]!.epochAuthenticator), hexOf(t.groups[0]!.epochAuthenticator));
    throwsCode(() => u.groups[1]!.process(m), 'WRONG_GROUP', 'a message of another group');
  });

  // ---- b) -------------------------------------------------------------------------------------
  test(`suite ${s}: b) a removed member learns it and reads nothing sent after`, () => {
    const t = newGroup(s, 5);
    const y = t.groups[3]!;
    talk(t, 4, 'before the remove'); // control: until its removal, member 3 reads the group
    const yBefore = y.export();
    const p = t.groups[0]!.commit({ remove: [3] });
    t.groups[0]!.apply(p);
    const rs = [1, 2, 3, 4].map((i) => commitOf(t.groups[i]!.process(p.message)).summary);
    assert.equal(rs.map((r) => r.removedMe), [false, false, true, false]);
    assert.equal(rs.map((r) => r.removed.map((x) => x.leaf)), [[3], [3], [3], [3]]);
    assert.ok(y.isRemoved);
    const rest = [0, 1, 2, 4].map((i) => t.groups[i]!);
    agree(rest, 'after the remove');
    assert.equal(rest[0]!.members().map((m) => m.leaf), [0, 1, 2, 4]);
    assert.is.not(hexOf(y.epochAuthenticator), hexOf(rest[0]!.epochAuthenticator));
    // Everything after: refused by the removed member, read by the others.
    const after = [t.groups[0]!.encrypt(te.encode('after')), t.groups[4]!.encrypt(te.encode('after 2'))];
    for (const m of after) throwsCode(() => y.process(m), 'STATE', 'the removed member processes nothing');
    for (const i of [1, 2, 4]) assert.is(app(t.groups[i]!.process(after[0]!)).text, 'after');
    for (const i of [0, 1, 2]) assert.is(app(t.groups[i]!.process(after[1]!)).text, 'after 2');
    throwsCode(() => y.encrypt(te.encode('x')), 'STATE', 'the removed member sends nothing');
    throwsCode(() => y.commit({ forcePath: true }), 'STATE', 'the removed member commits nothing');
    // Its state from just before the removal reads nothing of the new epoch either, and the
    // commit only tells it again that it was removed.
    const yOld = Group.restore(yBefore);
    for (const m of after) throwsCode(() => yOld.process(m), 'WRONG_EPOCH', 'the pre-removal state');
    assert.ok(commitOf(yOld.process(p.message)).summary.removedMe);
    throwsCode(() => yOld.process(after[0]!), 'STATE', 'the pre-removal state after the commit');
    // The removed state survives export/restore.
    assert.ok(Group.restore(y.export()).isRemoved);
    // The others go on: a path update by member 1.
    const q = t.groups[1]!.commit({ forcePath: true });
    t.groups[1]!.apply(q);
    for (const g of rest) if (g !== t.groups[1]) g.process(q.message);
    agree(rest, 'after a further commit');
    throwsCode(() => y.process(q.message), 'STATE', 'the removed member and a later commit');
  });

  // ---- c) -------------------------------------------------------------------------------------
  test(`suite ${s}: c) two commits for one epoch, delivered in different orders, converge (add vs remove)`, () => {
    const seen = new Set<string>();
    for (let round = 0; round < 40 && seen.size < 2; round++) {
      const t = newGroup(s, 6);
      const x = newMember(s, 'x');
      const [a, b] = [t.groups[0]!, t.groups[1]!];
      const epoch0 = a.epoch;
      const bystanderState = t.groups[2]!.export();
      const cA = a.commit({ add: [x.kp.keyPackage] });
      const cB = b.commit({ remove: [3] });
      a.apply(cA);
      b.apply(cB);
      const aWins = cmp(orderOf(s, cA), orderOf(s, cB)) < 0;
      seen.add(aWins ? 'a' : 'b');
      const [win, lose] = aWins ? [cA, cB] : [cB, cA];
      const [winner, loser] = aWins ? [a, b] : [b, a];
      // The committers: the loser's process of the winner reports its own commit superseded.
      const r = commitOf(loser.process(win.message));
      assert.ok(r.superseded, 'the losing committer learns its commit was superseded');
      assert.is(r.superseded!.committer, loser.myLeaf);
      assert.is(r.summary.committer, winner.myLeaf);
      throwsCode(() => winner.process(lose.message), 'WRONG_EPOCH', 'the winner refuses the losing commit');
      // Members 2 and 4 see A's commit first, 3 (the one B removes) and 5 see B's first.
      const orders: [number, PendingCommit, PendingCommit][] = [[2, cA, cB], [3, cB, cA], [4, cA, cB], [5, cB, cA]];
      for (const [i, first, second] of orders) {
        const g = t.groups[i]!;
        const r1 = commitOf(g.process(first.message));
        if (first === lose && r1.summary.removedMe) {
          // Member 3 removed by the commit that loses: the winner still brings it back in.
          const r2 = commitOf(g.process(second.message));
          assert.ok(r2.superseded?.removedMe, 'member 3: the removal was superseded');
          assert.not.ok(g.isRemoved);
        } else if (first === lose) {
          const r2 = commitOf(g.process(second.message));
          assert.is(r2.superseded?.committer, loser.myLeaf, `member ${i}: the first commit was superseded`);
        } else if (r1.summary.removedMe) {
          assert.ok(g.isRemoved);
          throwsCode(() => g.process(second.message), 'STATE', `member ${i} removed by the winner`);
        } else {
          throwsCode(() => g.process(second.message), 'WRONG_EPOCH', `member ${i}: the losing commit after the winner`);
        }
      }
      const live = t.groups.filter((g) => !g.isRemoved);
      assert.is(live.length, aWins ? 6 : 5);
      agree(live, `${aWins ? 'A' : 'B'} wins`);
      // Negative control: a member who sees only the losing commit ends elsewhere.
      const bystander = Group.restore(bystanderState);
      bystander.process(lose.message);
      assert.is.not(hexOf(bystander.epochAuthenticator), hexOf(live[0]!.epochAuthenticator));
      assert.is(live[0]!.epoch, epoch0 + 1n);
      const xg = Group.join(cA.welcome!, x.kp);
      if (aWins) {
        agree([...live, xg], 'the added member joins the winning epoch');
        assert.ok(t.groups[3]!.members().some((m) => m.leaf === 3), 'member 3 stays');
      } else {
        // The member added by the losing commit joined an epoch that does not exist.
        assert.is.not(hexOf(xg.epochAuthenticator), hexOf(live[0]!.epochAuthenticator));
        assert.ok(t.groups[3]!.isRemoved);
        // The loser makes its change again, in the new epoch.
        const again = a.commit({ add: [x.kp.keyPackage] });
        a.apply(again);
        for (const g of live) if (g !== a) g.process(again.message);
        agree([...live, Group.join(again.welcome!, x.kp)], 'the superseded add made again');
      }
      const all = t.groups.filter((g) => !g.isRemoved);
      talk({ groups: all }, 0, 'after the race');
    }
    assert.is(seen.size, 2, 'both outcomes were exercised');
  });

  test(`suite ${s}: c) two concurrent self-updates converge whatever the delivery order`, () => {
    const seen = new Set<string>();
    for (let round = 0; round < 40 && seen.size < 2; round++) {
      const t = newGroup(s, 5);
      const [a, b] = [t.groups[0]!, t.groups[1]!];
      const cA = a.commit({ forcePath: true });
      const cB = b.commit({ forcePath: true });
      a.apply(cA); b.apply(cB);
      const aWins = cmp(orderOf(s, cA), orderOf(s, cB)) < 0;
      seen.add(aWins ? 'a' : 'b');
      // Each committer receives the other's commit: the loser switches, the winner refuses.
      const [winner, loser, win, lose] = aWins ? [a, b, cA, cB] : [b, a, cB, cA];
      assert.is(commitOf(loser.process(win.message)).superseded?.committer, loser.myLeaf, 'the loser\'s own commit is superseded');
      throwsCode(() => winner.process(lose.message), 'WRONG_EPOCH', 'the winner refuses the losing commit');
      // Member 2 sees A then B; members 3 and 4 see B then A.
      for (const [i, seq] of [[2, [cA, cB]], [3, [cB, cA]], [4, [cB, cA]]] as const) {
        const g = t.groups[i]!;
        assert.is(commitOf(g.process(seq[0].message)).superseded, undefined);
        const firstWins = (seq[0] === cA) === aWins;
        if (firstWins) throwsCode(() => g.process(seq[1].message), 'WRONG_EPOCH', `member ${i}: the loser after the winner`);
        else assert.is(commitOf(g.process(seq[1].message)).superseded?.committer, seq[0] === cA ? 0 : 1, `member ${i}: the first was superseded`);
      }
      agree(t.groups, `self-updates, ${aWins ? 'A' : 'B'} wins`);
      talk(t, 1, 'after the race');
    }
    assert.is(seen.size, 2, 'both outcomes were exercised');
  });

  // ---- d) -------------------------------------------------------------------------------------
  test(`suite ${s}: d) a member's path update heals the compromise of its state`, () => {
    const t = newGroup(s, 5);
    const M = 2;
    const attacker = Group.restore(t.groups[M]!.export());
    // Control: others' commits, with and without a path, do not heal M's compromise: the
    // attacker, holding M's leaf key, follows them and reads the group.
    const c1 = t.groups[1]!.commit({ forcePath: true });
    t.groups[1]!.apply(c1);
    for (const g of [...t.groups.filter((_, i) => i !== 1), attacker]) g.process(c1.message);
    agree([...t.groups, attacker], 'the attacker follows a path update by another member');
    const newcomer = newMember(s, 'n');
    const c2 = t.groups[0]!.commit({ add: [newcomer.kp.keyPackage] });
    t.groups[0]!.apply(c2);
    for (const g of [...t.groups.filter((_, i) => i !== 0), attacker]) g.process(c2.message);
    t.groups.push(Group.join(c2.welcome!, newcomer.kp));
    agree([...t.groups, attacker], 'the attacker follows an add');
    const seen = t.groups[0]!.encrypt(te.encode('the attacker reads this'));
    assert.is(app(attacker.process(seen)).text, 'the attacker reads this');
    // The heal: M commits a path update of its own leaf.
    const oldLeafKey = hexOf(t.groups[0]!.tree.leafNode(M)!.encryptionKey);
    const heal = t.groups[M]!.commit({ forcePath: true });
    t.groups[M]!.apply(heal);
    for (const [i, g] of t.groups.entries()) if (i !== M) g.process(heal.message);
    agree(t.groups, 'after the heal');
    assert.is.not(hexOf(t.groups[0]!.tree.leafNode(M)!.encryptionKey), oldLeafKey, 'M has a new leaf key');
    assert.is.not(hexOf(attacker.epochAuthenticator), hexOf(t.groups[0]!.epochAuthenticator));
    // The attacker cannot take the commit (it is M's own, and it holds none of the new secrets)…
    assert.instance(catchErr(() => attacker.process(heal.message)), MlsError);
    // …nor read anything of the new epoch, nor any later commit.
    for (const from of [0, 1, M, 5]) {
      const m = t.groups[from]!.encrypt(te.encode(`secret from ${from}`));
      for (const [j, g] of t.groups.entries()) if (j !== from) assert.is(app(g.process(m)).text, `secret from ${from}`);
      throwsCode(() => attacker.process(m), 'WRONG_EPOCH', `the attacker and a message from ${from}`);
    }
    const c3 = t.groups[4]!.commit({ forcePath: true });
    t.groups[4]!.apply(c3);
    throwsCode(() => attacker.process(c3.message), 'WRONG_EPOCH', 'the attacker and the next commit');
    assert.is.not(hexOf(attacker.exporter('k', new Uint8Array(0), 32)), hexOf(t.groups[4]!.exporter('k', new Uint8Array(0), 32)));
  });

  // ---- e) -------------------------------------------------------------------------------------
  test(`suite ${s}: e) forged commits are refused with their code and change nothing`, () => {
    const t = newGroup(s, 4);
    const B = 1;
    const receivers = [0, 2, 3].map((i) => t.groups[i]!);
    const before = receivers.map((g) => hexOf(g.epochAuthenticator));
    const unchanged = (what: string): void => assert.equal(receivers.map((g) => hexOf(g.epochAuthenticator)), before, `${what}: unchanged`);
    const x = newMember(s, 'x');
    // The genuine commit, held back until the forgeries have been tried.
    const genuine = t.groups[B]!.commit({ add: [x.kp.keyPackage], forcePath: true });
    const genuinePublic = Group.restore(t.groups[B]!.export()).commit({ add: [x.kp.keyPackage], wire: 'public' });

    // 1. Signed by a key that is not a member's: B's state with another signer, B's leaf index.
    const state = t.groups[B]!.export();
    assert.is(state[3], 32, 'the signer seed follows version and suite');
    const foreign = Uint8Array.from(state);
    foreign.set(randomBytes(32), 4);
    for (const wire of ['private', 'public'] as const) {
      const forged = Group.restore(foreign).commit({ add: [x.kp.keyPackage], wire });
      for (const g of receivers) throwsCode(() => g.process(forged.message), 'BAD_SIGNATURE', `a ${wire} commit by a foreign key`);
      unchanged(`foreign signer (${wire})`);
    }
    // Control: the same state with B's own key makes a commit the members would take.
    const control = Group.restore(state).commit({ add: [x.kp.keyPackage], wire: 'public' });
    const probe = Group.restore(t.groups[2]!.export());
    assert.is(probe.process(control.message).kind, 'commit', 'control: B\'s key signs an acceptable commit');

    // 2. B's public commit with a byte of its signature flipped: the membership tag (a relay
    // cannot recompute it) catches it; re-tagged by an insider, the signature does.
    const pm = publicOf(genuinePublic.message);
    const flipSig = { ...pm, auth: { ...pm.auth, signature: flip(pm.auth.signature, 7) } };
    for (const g of receivers) throwsCode(() => g.process(encodePublic(flipSig)), 'BAD_MEMBERSHIP_TAG', 'flipped signature, relay');
    for (const g of receivers) throwsCode(() => g.process(encodePublic(retag(t.groups[0]!, flipSig))), 'BAD_SIGNATURE', 'flipped signature, re-tagged');
    unchanged('flipped signature');

    // 3. A wrong confirmation tag (not covered by the signature): re-tagged public, and private.
    const flipTag = { ...pm, auth: { ...pm.auth, confirmationTag: flip(pm.auth.confirmationTag!, 0) } };
    for (const g of receivers) throwsCode(() => g.process(encodePublic(flipTag)), 'BAD_MEMBERSHIP_TAG', 'wrong confirmation tag, relay');
    for (const g of receivers) throwsCode(() => g.process(encodePublic(retag(t.groups[0]!, flipTag))), 'BAD_CONFIRMATION', 'wrong confirmation tag, re-tagged');
    // Control: re-tagging alone (nothing changed) gives a commit that verifies.
    assert.is(Group.restore(t.groups[2]!.export()).process(encodePublic(retag(t.groups[0]!, pm))).kind, 'commit', 'control: re-tagging keeps a genuine commit valid');
    for (const at of ['next', 'same'] as const) {
      const privTag = reencryptPrivate(t.groups[3]!, genuine.message, (a) => ({ ...a, auth: { ...a.auth, confirmationTag: flip(a.auth.confirmationTag!, 3) } }), at);
      for (const g of receivers) throwsCode(() => g.process(privTag), 'BAD_CONFIRMATION', `wrong confirmation tag, private, ${at} generation`);
      // Refused, it leaves the ratchet too as it was: the same bytes are refused the same way again.
      for (const g of receivers) throwsCode(() => g.process(privTag), 'BAD_CONFIRMATION', `wrong confirmation tag, private, ${at} generation, again`);
    }
    unchanged('wrong confirmation tag');
    // An insider's forgery at the genuine commit's own generation (private, signature flipped):
    // refused, and it does not cost the genuine commit its key (checked below).
    const privSig = reencryptPrivate(t.groups[2]!, genuine.message, (a) => ({ ...a, auth: { ...a.auth, signature: flip(a.auth.signature, 9) } }), 'same');
    for (const g of receivers) throwsCode(() => g.process(privSig), 'BAD_SIGNATURE', 'flipped signature, private, same generation');
    unchanged('flipped signature, private');

    // 4. A commit from a leaf that is not in the tree.
    const ghost = { ...pm, content: { ...pm.content, sender: { type: 1 as const, leafIndex: 9 } } };
    for (const g of receivers) throwsCode(() => g.process(encodePublic(retag(t.groups[0]!, ghost))), 'UNKNOWN_SENDER', 'a sender outside the tree');
    unchanged('unknown sender');

    // The genuine commit still works everywhere.
    t.groups[B]!.apply(genuine);
    for (const g of receivers) assert.is(commitOf(g.process(genuine.message)).summary.committer, B);
    agree([...t.groups, Group.join(genuine.welcome!, x.kp)], 'the genuine commit after the forgeries');
    talk(t, 3, 'after the forgeries');
  });

  // ---- f) -------------------------------------------------------------------------------------
  test(`suite ${s}: f) a relay that replays, drops and reorders`, () => {
    const t = newGroup(s, 4);
    const [a, b, , d] = t.groups as [Group, Group, Group, Group];
    // Replay: the second copy of an application message is KEY_REUSED, and nothing breaks.
    const m = a.encrypt(te.encode('once'));
    assert.is(app(b.process(m)).text, 'once');
    throwsCode(() => b.process(m), 'KEY_REUSED', 'a replayed application message');
    throwsCode(() => b.process(m), 'KEY_REUSED', 'a replayed application message, again');
    assert.is(app(b.process(a.encrypt(te.encode('next')))).text, 'next');
    // Reorder within an epoch: any order of generations decrypts, each exactly once.
    const batch = Array.from({ length: 8 }, (_, i) => a.encrypt(te.encode(`m${i}`)));
    for (const i of [5, 2, 7, 0, 4, 1, 6, 3]) assert.is(app(b.process(batch[i]!)).text, `m${i}`);
    for (const i of [0, 7]) throwsCode(() => b.process(batch[i]!), 'KEY_REUSED', 'a reordered message replayed');
    // Control: in order works too (another member).
    for (let i = 0; i < 8; i++) assert.is(app(d.process(batch[i]!)).text, `m${i}`);
    // Drop: D misses the commit; messages of the new epoch are WRONG_EPOCH until it arrives.
    const c = b.commit({ forcePath: true });
    b.apply(c);
    a.process(c.message);
    t.groups[2]!.process(c.message);
    const next = [a.encrypt(te.encode('e+1 a')), t.groups[2]!.encrypt(te.encode('e+1 c'))];
    for (const n of next) throwsCode(() => d.process(n), 'WRONG_EPOCH', 'a message of the epoch D has not reached');
    assert.is(d.epoch, a.epoch - 1n);
    // Messages of D's epoch still flow to D meanwhile? The others left it: theirs are of the new one.
    d.process(c.message);
    assert.is(app(d.process(next[0]!)).text, 'e+1 a');
    assert.is(app(d.process(next[1]!)).text, 'e+1 c');
    agree(t.groups, 'after the late commit');
    // A replayed commit is refused and changes nothing.
    const auth = hexOf(d.epochAuthenticator);
    assert.instance(catchErr(() => d.process(c.message)), MlsError);
    assert.is(hexOf(d.epochAuthenticator), auth);
    talk(t, 3, 'D is back');
    // Reorder across handshake messages: a commit that overtakes the proposal it references is
    // refused (INVALID_COMMIT) without costing it its key; once the proposal is in, it processes.
    const x = newMember(s, 'x');
    const prop = t.groups[2]!.propose({ type: 1, keyPackage: x.kp.keyPackage });
    for (const i of [0, 1]) assert.is(t.groups[i]!.process(prop).kind, 'proposal');
    const pc = a.commit();
    a.apply(pc);
    assert.is(pc.summary.added.length, 1, 'the commit takes the proposal by reference');
    const dAuth = hexOf(d.epochAuthenticator);
    throwsCode(() => d.process(pc.message), 'INVALID_COMMIT', 'the commit before its proposal');
    assert.is(hexOf(d.epochAuthenticator), dAuth);
    assert.is(d.process(prop).kind, 'proposal');
    for (const i of [1, 2, 3]) assert.is(commitOf(t.groups[i]!.process(pc.message)).summary.added.length, 1, `member ${i} takes the commit`);
    agree([...t.groups, Group.join(pc.welcome!, x.kp)], 'after the reordered proposal and commit');
  });

  // ---- g) -------------------------------------------------------------------------------------
  test(`suite ${s}: g) a commit the authorize hook refuses leaves the group unchanged`, () => {
    const calls: ProposedChange[] = [];
    const policy = (c: ProposedChange): void => {
      calls.push(c);
      if (c.committer !== 0 && (c.applied.added.length > 0 || c.applied.removed.length > 0)) {
        throw new MlsError('NOT_AUTHORIZED', 'only the admin adds or removes');
      }
    };
    // Member 1 runs no policy (a rogue client); everyone else does.
    const t = newGroup(s, 4, (i) => (i === 1 ? {} : { authorize: policy }));
    calls.length = 0;
    const x = newMember(s, 'x');
    const rogue = t.groups[1]!.commit({ add: [x.kp.keyPackage] });
    const receivers = [0, 2, 3].map((i) => t.groups[i]!);
    const before = receivers.map((g) => hexOf(g.epochAuthenticator));
    for (const g of receivers) throwsCode(() => g.process(rogue.message), 'NOT_AUTHORIZED', 'the rogue add');
    assert.equal(receivers.map((g) => hexOf(g.epochAuthenticator)), before);
    assert.is(calls.length, 3);
    // Refused again the same way: the refusal changed nothing, not even the sender's ratchet.
    throwsCode(() => t.groups[2]!.process(rogue.message), 'NOT_AUTHORIZED', 'the rogue add, again');
    calls.splice(3);
    assert.is(calls[0]!.committer, 1);
    assert.is(calls[0]!.applied.added.length, 1);
    assert.is(calls[0]!.tree.leafCount, t.groups[0]!.tree.leafCount, 'the hook sees the tree before the commit');
    // Control: the same member's state without the policy takes the commit.
    assert.is(Group.restore(t.groups[2]!.export()).process(rogue.message).kind, 'commit');
    // Our own commits go through the hook too: member 2 may not remove.
    const own = hexOf(t.groups[2]!.epochAuthenticator);
    throwsCode(() => t.groups[2]!.commit({ remove: [1] }), 'NOT_AUTHORIZED', 'our own forbidden commit');
    assert.is(hexOf(t.groups[2]!.epochAuthenticator), own);
    // A permitted commit (a self-update by member 2) works for everyone, the rogue included.
    const ok = t.groups[2]!.commit({ forcePath: true });
    t.groups[2]!.apply(ok);
    for (const i of [0, 1, 3]) assert.is(t.groups[i]!.process(ok.message).kind, 'commit');
    agree(t.groups, 'after the permitted commit');
    // And the admin's add.
    const admin = t.groups[0]!.commit({ add: [x.kp.keyPackage] });
    t.groups[0]!.apply(admin);
    for (const i of [1, 2, 3]) t.groups[i]!.process(admin.message);
    agree([...t.groups, Group.join(admin.welcome!, x.kp)], 'after the admin\'s add');
  });

  // ---- h) -------------------------------------------------------------------------------------
  test(`suite ${s}: h) export()/restore() in the middle of a conversation`, () => {
    const t = newGroup(s, 4);
    talk(t, 0, 'before');
    const earlier = talk(t, 1, 'read before the export');
    // Restore member 2 from its stored state and drop the live object.
    t.groups[2] = Group.restore(t.groups[2]!.export());
    agree(t.groups, 'after restore');
    throwsCode(() => t.groups[2]!.process(earlier), 'KEY_REUSED', 'a message read before the export, replayed after');
    talk(t, 0, 'to the restored member');
    talk(t, 2, 'from the restored member');
    const c = t.groups[2]!.commit({ forcePath: true });
    t.groups[2]!.apply(c);
    for (const i of [0, 1, 3]) assert.is(commitOf(t.groups[i]!.process(c.message)).summary.committer, 2);
    agree(t.groups, 'after the restored member\'s commit');
    talk(t, 3, 'after');

    // The previous epoch survives: a late application message of epoch n after a commit to n+1.
    const late = t.groups[3]!.encrypt(te.encode('late'));
    const n = t.groups[3]!.epoch;
    const c2 = t.groups[0]!.commit({ forcePath: true });
    t.groups[0]!.apply(c2);
    for (const i of [1, 2, 3]) t.groups[i]!.process(c2.message);
    t.groups[2] = Group.restore(t.groups[2]!.export());
    t.groups[1] = Group.restore(t.groups[1]!.export());
    for (const i of [0, 1, 2]) assert.equal(app(t.groups[i]!.process(late)), { sender: 3, text: 'late', epoch: n }, `member ${i} reads the late message`);
    throwsCode(() => t.groups[2]!.process(late), 'KEY_REUSED', 'the late message replayed');
    agree(t.groups, 'after the late message');

    // The concurrent-commit rule survives a restore between the two commits.
    const r1 = t.groups[1]!.commit({ forcePath: true });
    const r3 = t.groups[3]!.commit({ forcePath: true });
    t.groups[1]!.apply(r1); t.groups[3]!.apply(r3);
    t.groups[0]!.process(r1.message);
    t.groups[2]!.process(r3.message);
    t.groups[0] = Group.restore(t.groups[0]!.export());
    t.groups[2] = Group.restore(t.groups[2]!.export());
    for (const [i, m] of [[0, r3], [2, r1], [1, r3], [3, r1]] as const) codeOf(() => t.groups[i]!.process(m.message));
    agree(t.groups, 'concurrent commits across a restore');

    // Corrupted state is MALFORMED, not a crash.
    const bytes = t.groups[0]!.export();
    throwsCode(() => Group.restore(bytes.subarray(0, bytes.length - 1)), 'MALFORMED', 'a truncated state');
    throwsCode(() => Group.restore(new Uint8Array([...bytes, 0])), 'MALFORMED', 'a state with a trailing byte');
  });
}

// ---- helpers for forging ---------------------------------------------------------------------

function catchErr(fn: () => unknown): unknown {
  try { fn(); } catch (e) { return e; }
  return undefined;
}
function flip(b: Uint8Array, i: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[i]! ^= 0x01;
  return c;
}
function publicOf(bytes: Uint8Array): PublicMessage {
  const m = decodeMlsMessage(bytes);
  if (m.wireFormat !== 1) throw new Error('not a PublicMessage');
  return m.publicMessage;
}
const encodePublic = (pm: PublicMessage): Uint8Array => encodeMlsMessage({ wireFormat: 1, publicMessage: pm } as MlsMessage);

/** What a member (an insider) can do: recompute the membership tag of a PublicMessage. */
function retag(insider: Group, pm: PublicMessage): PublicMessage {
  const e = currentEpoch(insider);
  return { ...pm, membershipTag: membershipTag(insider.suite, e.secrets.membershipKey, pm.content, pm.auth, encodeGroupContext(e.context)) };
}

/**
 * What an insider can do with a PrivateMessage: open it with a copy of its own state, change
 * the AuthenticatedContent, and encrypt it again for the same sender, at the genuine message's
 * own generation ('same') or the one after it ('next').
 */
function reencryptPrivate(insider: Group, bytes: Uint8Array, change: (a: AuthenticatedContent) => AuthenticatedContent, at: 'same' | 'next'): Uint8Array {
  const keysOf = (g: Group): ProtectionKeys => {
    const e = currentEpoch(g);
    return { suite: g.suite, groupContext: e.context, membershipKey: e.secrets.membershipKey, senderDataSecret: e.secrets.senderDataSecret, secretTree: e.secretTree };
  };
  const reader = Group.restore(insider.export());
  const m = decodeMlsMessage(bytes);
  if (m.wireFormat !== 2) throw new Error('not a PrivateMessage');
  const sigKey = (s: { type: number; leafIndex?: number }): Uint8Array | undefined => (s.type === 1 ? reader.tree.leafNode(s.leafIndex!)?.signatureKey : undefined);
  const { content: a, generation } = unprotectPrivateMessage(keysOf(reader), m.privateMessage, sigKey);
  if (a.content.sender.type !== 1) throw new Error('not from a member');
  const leaf = a.content.sender.leafIndex;
  const writer = Group.restore(insider.export());
  const tree = currentEpoch(writer).secretTree;
  const want = at === 'same' ? generation : generation + 1;
  while (tree.nextGeneration(leaf, a.content.contentType) < want) tree.nextKey(leaf, a.content.contentType);
  assert.is(tree.nextGeneration(leaf, a.content.contentType), want, 'the forgery\'s generation');
  return encodeMlsMessage({ wireFormat: 2, privateMessage: protectPrivateMessage(keysOf(writer), change(a)) });
}

test.run();

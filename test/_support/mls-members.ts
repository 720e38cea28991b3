// Test support for MLS group scenarios (src/mls/group.ts): members with fresh keys and
// KeyPackages, a group of n members built by one Add commit, fan-out of a message to every
// member but its sender, and a test-only view of a Group's private epoch (for forging messages
// as an insider would). Basic credentials; every leaf speaks suites 1 and 3.
import { Group, type GroupOptions, type KeyPackageSecrets, type MemberIdentity, type Processed } from '../../src/mls/group.js';
import { signKeyPackage } from '../../src/mls/key-package.js';
import { signLeafNode } from '../../src/mls/leaf-node.js';
import { cipherSuite } from '../../src/mls/suite.js';
import type { EpochSecrets } from '../../src/mls/key-schedule.js';
import type { GroupContext } from '../../src/mls/group-context.js';
import type { SecretTree } from '../../src/mls/secret-tree.js';
import { randomBytes, type Ed25519Seed } from '../../src/crypto/index.js';

export const CAPS = { versions: [1], cipherSuites: [1, 3], extensions: [], proposals: [], credentials: [1] };

export interface Member {
  readonly name: string;
  readonly identity: MemberIdentity;
  /** A fresh KeyPackage with its private keys. */
  readonly kp: KeyPackageSecrets;
}

/** A member with a fresh signature key and a KeyPackage for `suiteId`. */
export function newMember(suiteId: number, name = 'm'): Member {
  const suite = cipherSuite(suiteId);
  const signer = randomBytes(32) as Ed25519Seed;
  const pub = suite.signaturePublicKey(signer);
  const credential = { type: 1, identity: pub } as const;
  const initKey = suite.deriveKeyPair(randomBytes(32));
  const encryptionKey = suite.deriveKeyPair(randomBytes(32));
  const leafNode = signLeafNode(suite, signer, {
    encryptionKey: encryptionKey.publicKey, signatureKey: pub, credential, capabilities: CAPS, source: 1,
    lifetime: { notBefore: 0n, notAfter: 2n ** 63n }, extensions: [],
  });
  const keyPackage = signKeyPackage(suite, signer, { version: 1, cipherSuite: suiteId, initKey: initKey.publicKey, leafNode, extensions: [] });
  return { name, identity: { signer, leaf: { credential, capabilities: CAPS, extensions: [] } }, kp: { keyPackage, initKey, encryptionKey, signer } };
}

export interface TestGroup {
  readonly suiteId: number;
  /** groups[i] is member i's view; member i sits at leaf i. */
  readonly groups: Group[];
  readonly members: Member[];
}

/** Member 0 creates the group and adds members 1..n-1 in one commit; everyone joins from the Welcome. */
export function newGroup(suiteId: number, n: number, options: (i: number) => GroupOptions = () => ({})): TestGroup {
  const members = Array.from({ length: n }, (_, i) => newMember(suiteId, `m${i}`));
  const creator = Group.create(suiteId, randomBytes(16), members[0]!.identity, [], options(0));
  const groups = [creator];
  if (n > 1) {
    const p = creator.commit({ add: members.slice(1).map((m) => m.kp.keyPackage) });
    creator.apply(p);
    for (let i = 1; i < n; i++) groups.push(Group.join(p.welcome!, members[i]!.kp, undefined, options(i)));
  }
  return { suiteId, groups, members };
}

/** Delivers `msg` to every group in `to`, returning each result. */
export function deliver(msg: Uint8Array, to: readonly Group[]): Processed[] {
  return to.map((g) => g.process(msg));
}

/** Every group but `except`. */
export const others = (t: TestGroup, ...except: number[]): Group[] => t.groups.filter((_, i) => !except.includes(i));

export const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Test-only: the private current epoch of a Group (what an insider holding this state knows). */
export interface EpochView {
  readonly context: GroupContext;
  readonly secrets: EpochSecrets;
  readonly secretTree: SecretTree;
}
export const currentEpoch = (g: Group): EpochView => (g as unknown as { epochState: EpochView }).epochState;

/** The project's seeded PRNG (sfc32), shared with the relay's fuzzers. */
export { Prng } from './frames-fuzz.js';

// MLS group members for the groups suite, made the fast way: each member is an identity
// (Ed25519 signature key and X25519 key, a 64-byte credential as the SDK's), a group mailbox's
// keys, and a KeyPackage signed with them, without any Client, store or relay round trip. The
// leaves look like the SDK's (src/client/groups.ts mintKeyPackage): suite 1, the SDK's
// capabilities, and the Sealpost delivery extension carrying the member's group-mailbox send
// capability, so commits, Welcomes and exported states have the SDK's sizes. What is left out:
// the group's policy extension and its check on every commit (the SDK's `authorize`), and
// KeyPackage lifetimes (no clock is given to the Group).
import { concat, ed25519KeyPair, randomBytes, x25519KeyPair, type Ed25519KeyPair, type X25519KeyPair } from '../../src/crypto/index.js';
import { readCapability, writeCapability } from '../../src/client/capability.js';
import { newMailboxKeys, sendCapability, type MailboxKeys, type SendCapability } from '../../src/client/mailbox.js';
import { SEALPOST_DELIVERY_EXTENSION, SEALPOST_GROUP_STATE_EXTENSION } from '../../src/groups/group-state.js';
import { Group, type KeyPackageSecrets } from '../../src/mls/group.js';
import type { Extension } from '../../src/mls/extensions.js';
import { signKeyPackage } from '../../src/mls/key-package.js';
import { signLeafNode, type Capabilities, type LeafNode } from '../../src/mls/leaf-node.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { Reader, Writer } from '../../src/wire/bytes-codec.js';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

/** The SDK's groups use suite 1 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519). */
export const BENCH_SUITE = 1;

/** The SDK's leaf capabilities (src/client/groups.ts CAPABILITIES). */
const CAPABILITIES: Capabilities = {
  versions: [1], cipherSuites: [1, 3], extensions: [SEALPOST_DELIVERY_EXTENSION, SEALPOST_GROUP_STATE_EXTENSION], proposals: [], credentials: [1],
};

export interface BenchMember {
  /** The identity's signature key (signs the leaf, the KeyPackage and the member's messages). */
  readonly sign: Ed25519KeyPair;
  /** The identity's X25519 key: a sealed envelope's sender key. */
  readonly dh: X25519KeyPair;
  /** The member's group mailbox (created on the relay only by the end-to-end runs). */
  readonly mailbox: MailboxKeys;
  readonly cap: SendCapability;
  /** The KeyPackage and its private keys, for Group.join. */
  readonly secrets: KeyPackageSecrets;
}

const deliveryExtension = (cap: SendCapability): Extension =>
  ({ type: SEALPOST_DELIVERY_EXTENSION, data: writeCapability(new Writer(), cap).finish() });

/** The send capability a leaf carries (what src/client/groups.ts `deliveryOf` reads). */
export function deliveryCapOf(leaf: LeafNode): SendCapability {
  const e = leaf.extensions.find((x) => x.type === SEALPOST_DELIVERY_EXTENSION);
  if (!e) throw new Error('a leaf without a delivery capability');
  const r = new Reader(e.data);
  const cap = readCapability(r);
  r.end();
  return cap;
}

/** One member with its KeyPackage, on the current backend. `relayAddress` goes into its leaf's capability. */
export function makeMember(relayAddress: string): BenchMember {
  const suite = cipherSuite(BENCH_SUITE);
  const sign = ed25519KeyPair();
  const dh = x25519KeyPair();
  const mailbox = newMailboxKeys();
  const cap = sendCapability(relayAddress, mailbox);
  const initKey = x25519KeyPair();
  const encryptionKey = x25519KeyPair();
  const leafNode = signLeafNode(suite, sign.seed, {
    encryptionKey: encryptionKey.publicKey, signatureKey: sign.publicKey, credential: { type: 1, identity: concat(sign.publicKey, dh.publicKey) },
    capabilities: CAPABILITIES, extensions: [deliveryExtension(cap)], source: 1, lifetime: { notBefore: 0n, notAfter: 0xffffffffffffffffn },
  });
  const keyPackage = signKeyPackage(suite, sign.seed, { version: 1, cipherSuite: suite.id, initKey: initKey.publicKey, leafNode, extensions: [] });
  return { sign, dh, mailbox, cap, secrets: { keyPackage, initKey, encryptionKey, signer: sign.seed } };
}

/** A one-member group made by `creator` (its KeyPackage is not used: the creator's leaf is made afresh). */
export function createGroup(creator: BenchMember): Group {
  return Group.create(BENCH_SUITE, randomBytes(32), {
    signer: creator.sign.seed,
    leaf: { credential: { type: 1, identity: concat(creator.sign.publicKey, creator.dh.publicKey) }, capabilities: CAPABILITIES, extensions: [deliveryExtension(creator.cap)] },
  }, []);
}

let gcFn: (() => void) | null | undefined;
/**
 * A full garbage collection, before a timed phase that follows a large allocation (a thousand
 * group states): the collection of the previous phase's garbage should not land in the next
 * measurement. Uses `--expose-gc` if the process has it, else turns it on through V8's flags.
 */
export function forceGc(): void {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      try {
        setFlagsFromString('--expose-gc');
        gcFn = runInNewContext('gc') as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  gcFn?.();
}

// The secret tree and its ratchets (RFC 9420 §9, §9.1, §9.2), the reuse guard (§6.3.1) and
// the sender-data key and nonce (§6.3.2). Pure: state in memory, no I/O.
//
//   tree_node_[root]_secret = encryption_secret
//   left(x)  = ExpandWithLabel(tree_node_[x]_secret, "tree", "left",  Nh)
//   right(x) = ExpandWithLabel(tree_node_[x]_secret, "tree", "right", Nh)
//   handshake_ratchet_secret_[N]_[0]   = ExpandWithLabel(leaf secret, "handshake",   "", Nh)
//   application_ratchet_secret_[N]_[0] = ExpandWithLabel(leaf secret, "application", "", Nh)
//   ratchet_key_[N]_[j]   = DeriveTreeSecret(ratchet_secret_[N]_[j], "key",    j, Nk)
//   ratchet_nonce_[N]_[j] = DeriveTreeSecret(ratchet_secret_[N]_[j], "nonce",  j, Nn)
//   ratchet_secret_[N]_[j+1] = DeriveTreeSecret(ratchet_secret_[N]_[j], "secret", j, Nh)
//
// Tree nodes are derived lazily, only along the path from the lowest node still held down to
// the leaf asked for, so a group of 1,000 leaves costs ten derivations for its first message
// from a member. Deletion (§9.2): a node's secret is wiped once both children are derived, a
// leaf's once its two ratchets exist, a ratchet secret once the next one is derived, and a key
// once it is returned. Skipped keys (generations passed over to reach a later one) are kept
// for out-of-order delivery, at most `maxRetained` per ratchet (oldest dropped first); a
// generation more than `maxForward` ahead of the ratchet is GENERATION_TOO_FAR, and one
// whose key was used or dropped is KEY_REUSED.
import { MlsError } from './errors.js';
import { TlsReader, TlsWriter } from './tls.js';
import type { CipherSuite } from './suite.js';
import { directPath, left, leafToNode, right, root, type LeafIndex, type NodeIndex } from './tree-math.js';

const EMPTY = new Uint8Array(0);
const LEFT = new Uint8Array([0x6c, 0x65, 0x66, 0x74]); // "left"
const RIGHT = new Uint8Array([0x72, 0x69, 0x67, 0x68, 0x74]); // "right"
const MAX_GENERATION = 0xffffffff; // generation is a uint32 (§6.3.2 SenderData)

/** The two ratchets of each leaf (§9.1): handshake for proposals and commits, application for application data. */
export type RatchetType = 'handshake' | 'application';

/** The ratchet that protects a ContentType (§6, §9.1): application(1), proposal(2) or commit(3); MALFORMED otherwise. */
export function ratchetTypeOf(contentType: number): RatchetType {
  if (contentType === 1) return 'application';
  if (contentType === 2 || contentType === 3) return 'handshake';
  throw new MlsError('MALFORMED', `content type ${contentType}`);
}

/** The AEAD key and nonce of one generation of one ratchet. The nonce has no reuse guard applied. */
export interface RatchetKey { readonly generation: number; readonly key: Uint8Array; readonly nonce: Uint8Array }

export interface SecretTreeOptions {
  /** How far ahead of a ratchet's next generation a receiver may jump (default 1,000). */
  readonly maxForward?: number;
  /** How many skipped keys each ratchet keeps for out-of-order messages (default 1,000). */
  readonly maxRetained?: number;
}
export const DEFAULT_MAX_FORWARD = 1000;
export const DEFAULT_MAX_RETAINED = 1000;

interface Ratchet {
  /** The generation whose secret `secret` is; undefined secret once generation 2^32 - 1 is used. */
  next: number;
  secret: Uint8Array | undefined;
  /** Keys of skipped generations, in ascending order of generation (insertion order). */
  readonly skipped: Map<number, RatchetKey>;
}
interface LeafRatchets { readonly handshake: Ratchet; readonly application: Ratchet }

/** A key found but not yet consumed; `commit` applies the ratchet's change. */
interface Pending { readonly key: RatchetKey; commit(): void; abandon(): void }

function checkCount(n: number, what: string, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw new MlsError('STATE', `${what} must be an integer of at least ${min}`);
  return n;
}

export class SecretTree {
  private readonly nodes = new Map<NodeIndex, Uint8Array>();
  private readonly leaves = new Map<LeafIndex, LeafRatchets>();
  private readonly maxForward: number;
  private readonly maxRetained: number;
  private destroyed = false;

  /** The secret tree of an epoch with `leafCount` leaves (the ratchet tree's width, §9) from its encryption_secret. */
  constructor(private readonly suite: CipherSuite, encryptionSecret: Uint8Array, readonly leafCount: number, options: SecretTreeOptions = {}) {
    checkCount(leafCount, 'leafCount', 1);
    if (encryptionSecret.length !== suite.hashLength) throw new MlsError('STATE', `encryption_secret must be ${suite.hashLength} bytes`);
    this.maxForward = checkCount(options.maxForward ?? DEFAULT_MAX_FORWARD, 'maxForward', 0);
    this.maxRetained = checkCount(options.maxRetained ?? DEFAULT_MAX_RETAINED, 'maxRetained', 0);
    this.nodes.set(root(leafCount), encryptionSecret.slice());
  }

  /**
   * The key of `generation` for a message received from `leaf` (§9.1, §9.2): derives forward
   * as needed, keeps the skipped generations' keys, and consumes this one. KEY_REUSED when the
   * generation's key was already used (or dropped from the window), GENERATION_TOO_FAR when it
   * lies beyond `maxForward`, UNKNOWN_SENDER for a leaf outside the tree.
   */
  keyFor(leaf: LeafIndex, type: RatchetType | number, generation: number): RatchetKey {
    const p = this.find(leaf, type, generation);
    p.commit();
    return p.key;
  }

  /**
   * Like keyFor, but the key is consumed only when `use` returns: when it throws (a
   * ciphertext that does not open), the ratchet is left as it was, so a forged or corrupted
   * message does not cost the genuine one its key.
   */
  withKey<T>(leaf: LeafIndex, type: RatchetType | number, generation: number, use: (key: RatchetKey) => T): T {
    const p = this.find(leaf, type, generation);
    let out: T;
    try {
      out = use(p.key);
    } catch (e) {
      p.abandon();
      throw e;
    }
    p.commit();
    return out;
  }

  /** The sender's next key on its own ratchet (§9.1): the ratchet's next generation, consumed. */
  nextKey(leaf: LeafIndex, type: RatchetType | number): RatchetKey {
    const r = this.ratchet(leaf, type);
    return this.keyFor(leaf, type, r.next);
  }

  /** The generation nextKey would use next on this ratchet. */
  nextGeneration(leaf: LeafIndex, type: RatchetType | number): number {
    return this.ratchet(leaf, type).next;
  }

  /** Wipes every secret and key still held; any later call is STATE. */
  destroy(): void {
    for (const s of this.nodes.values()) s.fill(0);
    this.nodes.clear();
    for (const l of this.leaves.values()) {
      for (const r of [l.handshake, l.application]) {
        r.secret?.fill(0);
        r.secret = undefined;
        for (const k of r.skipped.values()) { k.key.fill(0); k.nonce.fill(0); }
        r.skipped.clear();
        r.next = MAX_GENERATION + 1;
      }
    }
    this.destroyed = true;
  }

  /**
   * The tree's secrets for a member's store (spec/groups.md §13.1): the node secrets still held,
   * and each leaf's two ratchets with their retained keys. Nothing consumed is in it.
   */
  writeState(w: TlsWriter): void {
    if (this.destroyed) throw new MlsError('STATE', 'the secret tree was destroyed');
    w.u32(this.leafCount).u32(this.maxForward).u32(this.maxRetained);
    w.vector([...this.nodes], (x, [n, secret]) => void x.u32(n).opaque(secret));
    const writeRatchet = (x: TlsWriter, r: Ratchet): void => {
      x.u64(BigInt(r.next)).optional(r.secret, (y, v) => void y.opaque(v));
      x.vector([...r.skipped.values()], (y, k) => void y.u32(k.generation).opaque(k.key).opaque(k.nonce));
    };
    w.vector([...this.leaves], (x, [leaf, l]) => { x.u32(leaf); writeRatchet(x, l.handshake); writeRatchet(x, l.application); });
  }

  static readState(suite: CipherSuite, r: TlsReader): SecretTree {
    const leafCount = r.u32();
    const options = { maxForward: r.u32(), maxRetained: r.u32() };
    const t = new SecretTree(suite, new Uint8Array(suite.hashLength), leafCount, options);
    t.nodes.clear();
    for (const [n, secret] of r.vector((x) => [x.u32(), x.opaque()] as const)) t.nodes.set(n, secret);
    const readRatchet = (x: TlsReader): Ratchet => {
      const next = Number(x.u64());
      const secret = x.optional((y) => y.opaque());
      const skipped = new Map<number, RatchetKey>();
      for (const k of x.vector((y) => ({ generation: y.u32(), key: y.opaque(), nonce: y.opaque() }))) skipped.set(k.generation, k);
      return { next, secret, skipped };
    };
    for (const [leaf, l] of r.vector((x) => [x.u32(), { handshake: readRatchet(x), application: readRatchet(x) }] as const)) t.leaves.set(leaf, l);
    return t;
  }

  private find(leaf: LeafIndex, type: RatchetType | number, generation: number): Pending {
    if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) {
      throw new MlsError('MALFORMED', `generation ${generation} is not a uint32`);
    }
    const r = this.ratchet(leaf, type);
    if (generation < r.next) {
      const k = r.skipped.get(generation);
      if (!k) throw new MlsError('KEY_REUSED', `generation ${generation} of leaf ${leaf} was already used or has left the window`);
      return { key: k, commit: () => { r.skipped.delete(generation); }, abandon: () => {} };
    }
    if (generation - r.next > this.maxForward) {
      throw new MlsError('GENERATION_TOO_FAR', `generation ${generation} is more than ${this.maxForward} past ${r.next}`);
    }
    if (!r.secret) throw new MlsError('STATE', 'ratchet exhausted');
    // Derive forward without touching the ratchet; commit() applies it.
    const skipped: RatchetKey[] = [];
    let secret = r.secret;
    let j = r.next;
    for (; j < generation; j++) {
      const k = this.derive(secret, j);
      if (generation - j <= this.maxRetained) skipped.push(k);
      const nextSecret = this.suite.deriveTreeSecret(secret, 'secret', j, this.suite.hashLength);
      if (secret !== r.secret) secret.fill(0);
      secret = nextSecret;
    }
    const key = this.derive(secret, generation);
    const following = generation < MAX_GENERATION ? this.suite.deriveTreeSecret(secret, 'secret', generation, this.suite.hashLength) : undefined;
    if (secret !== r.secret) secret.fill(0);
    return {
      key,
      commit: () => {
        r.secret?.fill(0);
        r.secret = following;
        r.next = generation + 1;
        for (const k of skipped) r.skipped.set(k.generation, k);
        for (const g of r.skipped.keys()) {
          if (r.skipped.size <= this.maxRetained) break;
          const old = r.skipped.get(g)!;
          old.key.fill(0); old.nonce.fill(0);
          r.skipped.delete(g);
        }
      },
      abandon: () => {
        // Nothing was applied; wipe what was derived for it.
        for (const k of [...skipped, key]) { k.key.fill(0); k.nonce.fill(0); }
        following?.fill(0);
      },
    };
  }

  private derive(secret: Uint8Array, generation: number): RatchetKey {
    const s = this.suite;
    return {
      generation,
      key: s.deriveTreeSecret(secret, 'key', generation, s.keyLength),
      nonce: s.deriveTreeSecret(secret, 'nonce', generation, s.nonceLength),
    };
  }

  private ratchet(leaf: LeafIndex, type: RatchetType | number): Ratchet {
    const t = typeof type === 'number' ? ratchetTypeOf(type) : type;
    if (t !== 'handshake' && t !== 'application') throw new MlsError('MALFORMED', `ratchet type ${String(t)}`);
    return this.leafRatchets(leaf)[t];
  }

  private leafRatchets(leaf: LeafIndex): LeafRatchets {
    if (this.destroyed) throw new MlsError('STATE', 'the secret tree was destroyed');
    if (!Number.isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) {
      throw new MlsError('UNKNOWN_SENDER', `leaf ${leaf} is outside a tree of ${this.leafCount} leaves`);
    }
    let l = this.leaves.get(leaf);
    if (l) return l;
    const secret = this.leafSecret(leafToNode(leaf));
    const s = this.suite;
    l = {
      handshake: { next: 0, secret: s.expandWithLabel(secret, 'handshake', EMPTY, s.hashLength), skipped: new Map() },
      application: { next: 0, secret: s.expandWithLabel(secret, 'application', EMPTY, s.hashLength), skipped: new Map() },
    };
    secret.fill(0);
    this.nodes.delete(leafToNode(leaf));
    this.leaves.set(leaf, l);
    return l;
  }

  /** The leaf node's secret, deriving down from its lowest ancestor still held (§9, §9.2). */
  private leafSecret(x: NodeIndex): Uint8Array {
    const held = this.nodes.get(x);
    if (held) return held;
    const path = directPath(x, this.leafCount); // parent first, root last
    let i = path.findIndex((p) => this.nodes.has(p));
    if (i < 0) throw new MlsError('STATE', `no secret left above node ${x}`);
    let node = path[i]!;
    for (;;) {
      const secret = this.nodes.get(node)!;
      const l = left(node), r = right(node);
      this.nodes.set(l, this.suite.expandWithLabel(secret, 'tree', LEFT, this.suite.hashLength));
      this.nodes.set(r, this.suite.expandWithLabel(secret, 'tree', RIGHT, this.suite.hashLength));
      secret.fill(0);
      this.nodes.delete(node);
      node = x < node ? l : r;
      if (node === x) return this.nodes.get(x)!;
      i--;
      if (path[i] !== node) throw new MlsError('STATE', 'secret tree path mismatch');
    }
  }
}

/** §6.3.1: the first four bytes of the nonce XORed with reuse_guard; a new array. */
export function applyReuseGuard(nonce: Uint8Array, reuseGuard: Uint8Array): Uint8Array {
  if (reuseGuard.length !== 4) throw new MlsError('MALFORMED', 'reuse_guard must be 4 bytes');
  const out = nonce.slice();
  for (let i = 0; i < 4; i++) out[i]! ^= reuseGuard[i]!;
  return out;
}

/**
 * §6.3.2: sender_data_key and sender_data_nonce from sender_data_secret and the first Nh
 * bytes of the PrivateMessage's ciphertext (all of it when shorter).
 */
export function senderDataKeyNonce(suite: CipherSuite, senderDataSecret: Uint8Array, ciphertext: Uint8Array): { readonly key: Uint8Array; readonly nonce: Uint8Array } {
  const sample = ciphertext.subarray(0, suite.hashLength);
  return {
    key: suite.expandWithLabel(senderDataSecret, 'key', sample, suite.keyLength),
    nonce: suite.expandWithLabel(senderDataSecret, 'nonce', sample, suite.nonceLength),
  };
}

// Fixtures for the group tests: clients that know each other as verified contacts and hold
// each other's KeyPackages, and waiting for group events.
import type { Client, Contact, GroupChange, GroupMessage, GroupView } from '../../src/client/index.js';
import type { ClientContext } from '../../src/client/context.js';
import { randomBytes, sealEnvelope } from '../../src/crypto/index.js';
import { writeChunk } from '../../src/client/chunks.js';
import { BODY_GROUP } from '../../src/client/groups.js';
import { sendCapability, sendEnvelope, type SendCapability } from '../../src/client/mailbox.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { Writer } from '../../src/wire/bytes-codec.js';
import { connect, until, withTimeout } from '../client/_helpers.js';

export interface Person { readonly client: Client; readonly name: string }

/** Connects every pair, verifies both ways, and waits until each holds the other's KeyPackage. */
export async function befriend(people: readonly Person[]): Promise<Map<string, Contact>> {
  const contacts = new Map<string, Contact>();
  for (let i = 0; i < people.length; i++) {
    for (let j = i + 1; j < people.length; j++) {
      const a = people[i]!, b = people[j]!;
      const { ab, ba } = await connect(a.client, b.client, { a: b.name, b: a.name });
      await a.client.verifyContact(ab.id, ab.safetyCode);
      await b.client.verifyContact(ba.id, ba.safetyCode);
      contacts.set(`${a.name}>${b.name}`, ab);
      contacts.set(`${b.name}>${a.name}`, ba);
    }
  }
  for (const p of people) await p.client.groups.prepare();
  for (const p of people) {
    await until(() => {
      const kp = (p.client as unknown as { ctx: { groupsState: { peerKeyPackages: Map<string, Uint8Array> } } }).ctx.groupsState.peerKeyPackages;
      return kp.size >= people.length - 1;
    }, 15_000, `${p.name}'s KeyPackages`);
  }
  return contacts;
}

export function collect<T>(c: Client, event: 'groupMessage' | 'groupChange' | 'group' | 'groupRefused' | 'groupReviewDue'): { items: T[]; until(n: number, ms?: number): Promise<T[]> } {
  const items: T[] = [];
  c.on(event, (v) => { items.push(v as T); });
  return {
    items,
    async until(n, ms = 15_000) {
      await until(() => items.length >= n, ms, `${n} '${event}' events`);
      return items;
    },
  };
}

export const joined = (c: Client, ms = 15_000): Promise<GroupView> => withTimeout(new Promise<GroupView>((resolve) => {
  const h = (g: GroupView): void => { c.off('group', h); resolve(g); };
  c.on('group', h);
}), ms, 'joining a group');

export type { GroupChange, GroupMessage };

// ---- looking inside a client (tests only) ----------------------------------------------------


/** The client's shared context (internal; tests only). */
export const ctxOf = (c: Client): ClientContext => (c as unknown as { ctx: ClientContext }).ctx;

/** The group as this client sees it: epoch, status and members' identity keys (sorted), or undefined. */
export function snapshot(c: Client, id: string): Snapshot | undefined {
  const g = c.groups.list().find((x) => x.id === id);
  if (!g) return undefined;
  return { epoch: g.epoch, status: g.status, name: g.name, members: c.groups.members(id).map((m) => m.identityKey).sort() };
}

type Snapshot = { epoch: number; status: string; members: string[]; name: string };

/** Waits until every client sees the same active group state (epoch, members, name), one that `want` accepts; returns it. */
export async function converged(clients: readonly Client[], id: string, ms = 20_000, want: (s: Snapshot) => boolean = () => true): Promise<{ epoch: number; members: string[]; name: string }> {
  let last = '';
  try {
    await until(() => {
      const s = clients.map((c) => snapshot(c, id));
      last = JSON.stringify(s);
      return s.every((x) => x && x.status === 'active' && JSON.stringify({ ...x }) === JSON.stringify({ ...s[0] })) && want(s[0]!);
    }, ms, 'the members to agree');
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${last}`);
  }
  const s = snapshot(clients[0]!, id)!;
  return { epoch: s.epoch, members: s.members, name: s.name };
}

/** Waits until `c` holds a KeyPackage from the contact `contactId`. */
export async function hasKeyPackageFrom(c: Client, contactId: string, ms = 15_000): Promise<void> {
  // KeyPackages are kept per channel (one per device of the contact, spec/devices.md §7).
  await until(() => ctxOf(c).channelsOf(contactId).some((ch) => ctxOf(c).groupsState.peerKeyPackages.has(ch.id)), ms, 'a KeyPackage');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The send capability of `c`'s group mailbox for group `id` (what its leaf carries). */
export function groupMailboxCap(c: Client, id: string): SendCapability {
  const ctx = ctxOf(c);
  const rec = ctx.groupsState.records.get(id)!;
  const mb = ctx.mailboxes.get(rec.mailboxId)!;
  return sendCapability(mb.address, mb.keys);
}

/** A group envelope's body (spec/groups.md §12.3): 0x03 || one chunk holding the whole MLS message. */
export function groupBody(mls: Uint8Array): Uint8Array {
  const w = new Writer().u8(BODY_GROUP);
  writeChunk(w, { messageId: randomBytes(8), index: 0, count: 1, data: mls });
  return w.finish();
}

/**
 * Delivers an MLS message straight to the group mailboxes of `to`, sealed by `from`'s identity
 * (sealed sender), over a raw relay connection: the bytes a member's SDK would send, without it.
 */
export async function deliverRaw(relayAddress: string, from: Client, to: readonly Client[], id: string, mls: Uint8Array): Promise<void> {
  const conn = await RelayConnection.connect(relayAddress, { timeoutMs: 5_000 });
  try {
    for (const c of to) {
      const cap = groupMailboxCap(c, id);
      await sendEnvelope(conn, cap, sealEnvelope({ mailboxKey: cap.mailboxKey, sender: ctxOf(from).identity.dh, body: groupBody(mls) }));
    }
  } finally {
    await conn.close();
  }
}

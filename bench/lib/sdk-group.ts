// A group of SDK Clients, as an app builder would run it: one creator and N−1 members, each a
// `Client` from the SDK's public entry with its profile in memory (MemoryRecords: the records
// are still encrypted by the profile store, nothing touches the disk), all on one relay. The
// creator befriends every member by a one-time invitation and both sides verify the safety
// code; once the creator holds every member's KeyPackage, `groups.create` makes the group and
// every member joins from its Welcome. A round: the creator's `groups.send` of a 100-character
// text, until every member has emitted its 'groupMessage'. Public API only (the creator retries
// `groups.create` while a KeyPackage is missing, as an app would), so the measurement survives
// rewrites of the SDK's insides. Bounded: every wait has a deadline and says what it waited for.
import { Client, type Contact, type GroupMessage } from '../../src/client/index.js';
import { isClientError } from '../../src/client/errors.js';
import { MemoryRecords } from '../../src/client/memory-records.js';
import { nodePlatform } from '../../src/client/node/platform.js';
import { now, sleep, watchdog } from './measure.js';

const BENCH_KDF = { N: 1 << 10, r: 8, p: 1 } as const;
const memoryPlatform = { ...nodePlatform, name: 'node-memory', openRecords: async () => new MemoryRecords() };

export interface SdkGroupRound {
  /** creator's groups.send() called → the last member's 'groupMessage', ms. */
  readonly totalMs: number;
  /** groups.send() resolved (the relay accepted every member's envelope), ms. */
  readonly sendMs: number;
  readonly firstMs: number;
  /** This process's CPU (every client, all threads) over the round, ms. */
  readonly clientCpuMs: number;
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const r = await Promise.race([p.then((v) => ({ v })), watchdog(ms).then(() => null)]);
  if (!r) throw new Error(`SDK group: ${what} did not happen within ${ms / 1000} s`);
  return r.v;
}

export class SdkGroup {
  private constructor(
    private readonly creator: Client,
    private readonly members: readonly Client[],
    private readonly groupId: string,
    /** Setup phases, ms. */
    readonly setup: { readonly openMs: number; readonly befriendMs: number; readonly createMs: number },
  ) {}

  static async start(relayAddress: string, n: number): Promise<SdkGroup> {
    const clients: Client[] = [];
    try {
      let t = now();
      const open = (workers?: number): Promise<Client> => Client.open({
        dataDir: 'memory', relay: relayAddress, passphrase: 'sealpost bench', kdf: BENCH_KDF, platform: memoryPlatform,
        ...(workers === undefined ? {} : { cryptoWorkers: workers }), handshakeTimeoutMs: 30_000, relayTimeoutMs: 30_000,
      });
      const creator = await open();
      clients.push(creator);
      const members: Client[] = [];
      for (let i = 1; i < n; i++) { const c = await open(0); clients.push(c); members.push(c); }
      const openMs = now() - t;

      t = now();
      const contactIds: string[] = [];
      for (const [i, m] of members.entries()) contactIds.push(await befriend(creator, m, `m${i + 1}`));
      // Members hand the creator a KeyPackage now, not at their next maintenance (spec/groups.md §12.1).
      await Promise.all(members.map((m) => m.groups.prepare()));
      const befriendMs = now() - t;

      t = now();
      const joined = members.map((m) => within(new Promise<void>((resolve) => { m.on('group', () => resolve()); }), 60_000 + 200 * n, 'every member joining'));
      let groupId: string | undefined;
      const deadline = now() + 30_000 + 100 * n;
      while (!groupId) {
        try {
          groupId = (await creator.groups.create('bench', contactIds)).id;
        } catch (e) {
          if (!isClientError(e, 'NO_KEY_PACKAGE') || now() > deadline) throw e;
          await sleep(50);
        }
      }
      await Promise.all(joined);
      return new SdkGroup(creator, members, groupId, { openMs, befriendMs, createMs: now() - t });
    } catch (e) {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      throw e;
    }
  }

  async round(text: string): Promise<SdkGroupRound> {
    let remaining = this.members.length, first = 0, last = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => { done = r; });
    const handlers = this.members.map((m) => {
      const h = (g: GroupMessage): void => {
        if (g.text !== text) return;
        const t = now();
        if (first === 0) first = t;
        last = t;
        if (--remaining === 0) done();
      };
      m.on('groupMessage', h);
      return [m, h] as const;
    });
    try {
      const c0 = process.cpuUsage();
      const t0 = now();
      await within(this.creator.groups.send(this.groupId, text), 60_000, 'groups.send');
      const sent = now();
      await within(all, 30_000 + 50 * this.members.length, `every member's 'groupMessage' (${this.members.length - remaining} of ${this.members.length} arrived)`);
      const cpu = process.cpuUsage(c0);
      return { totalMs: last - t0, sendMs: sent - t0, firstMs: first - t0, clientCpuMs: (cpu.user + cpu.system) / 1000 };
    } finally {
      for (const [m, h] of handlers) m.off('groupMessage', h);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.creator, ...this.members].map((c) => c.close().catch(() => undefined)));
  }
}

/** Invitation, both sides established and verified; the member's contact id on the creator's side. */
async function befriend(creator: Client, member: Client, name: string): Promise<string> {
  const link = await creator.createInvitation({ name });
  let onContact: ((c: Contact) => void) | undefined;
  const creatorSide = new Promise<Contact>((resolve) => {
    onContact = (c) => { if (c.established) resolve(c); };
    creator.on('contact', onContact);
  });
  try {
    const mine = await member.acceptInvitation(link, { name: 'creator', timeoutMs: 30_000 });
    const theirs = await within(creatorSide, 30_000, 'the invitation completing on the creator\'s side');
    await creator.verifyContact(theirs.id, theirs.safetyCode);
    await member.verifyContact(mine.id, mine.safetyCode);
    return theirs.id;
  } finally {
    creator.off('contact', onContact!);
  }
}

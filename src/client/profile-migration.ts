// Profiles made before devices (spec/devices.md §11): one contact record per person held the
// channel itself. On open each becomes a person and one channel with the same id, so that the
// session, the mailboxes, the outbox entries, the history and the KeyPackages (all keyed by that
// id) stay where they are. The person's account is learnt from its first device list (the
// client asks for it on open: device-sync.ts `askMigratedLists`).
import type { ProfileStore, StoreOp } from './profile-store.js';
import { decodeRecord } from './records.js';
import { KIND, put, type ChannelRecord, type ContactRecord } from './state.js';

/** The contact record of a profile made before devices. */
interface ContactRecordV1 {
  id: string; name: string; identity: Uint8Array; transcriptHash: Uint8Array; safetyCode: string; verified: boolean;
  established: boolean; role: 'inviter' | 'acceptor'; inboxId: string; nextInboxId: string | null; rotatedAt: number | null;
  peer: ChannelRecord['peer']; createdAt: number;
}

const isV1 = (r: object): r is ContactRecordV1 => 'identity' in r && !('announced' in r);

/** The ops that turn every contact record of the first format into a person and a channel; the ids of those channels. */
export function migrateContacts(store: ProfileStore): { ops: StoreOp[]; channels: string[] } {
  const ops: StoreOp[] = [];
  const channels: string[] = [];
  for (const [, raw] of store.entries(KIND.contact)) {
    const r = decodeRecord<object>(raw);
    if (!isV1(r)) continue;
    const channel: ChannelRecord = {
      id: r.id, contactId: r.id, identity: r.identity, transcriptHash: r.transcriptHash, established: r.established,
      establishedAt: r.established ? r.createdAt : 0, origin: 'invitation', role: r.role, inboxId: r.inboxId,
      nextInboxId: r.nextInboxId, rotatedAt: r.rotatedAt, peer: r.peer, createdAt: r.createdAt,
    };
    // The old safety code was over device identities; the new one is over accounts, known with the list.
    // A verification of the device stays: the account's signed list will name that very device.
    const person: ContactRecord = { id: r.id, name: r.name, account: null, deviceList: null, safetyCode: '', verified: r.verified, createdAt: r.createdAt, announced: [] };
    ops.push(put(KIND.channel, channel.id, channel), put(KIND.contact, person.id, person));
    channels.push(channel.id);
  }
  return { ops, channels };
}

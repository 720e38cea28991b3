// What the groups part (groups.ts) keeps in memory, held by the ClientContext.
import type { Group } from '../mls/group.js';
import { Reassembler } from './chunks.js';
import type { Handled } from './handled.js';
import type { GroupRecord, KeyPackageRecord } from './state.js';

/** Per client: the groups part's memory. */
export class GroupsState {
  readonly records = new Map<string, GroupRecord>();
  readonly groups = new Map<string, Group>();
  readonly keyPackages = new Map<string, KeyPackageRecord>();
  readonly peerKeyPackages = new Map<string, Uint8Array>();
  readonly chunks = new Reassembler();
  /** Per group: envelopes that wait for an epoch (or, by mailbox id, for our Welcome). */
  readonly waiting = new Map<string, Array<() => Handled | null>>();
  /** Per contact: groups whose add of it lost to a concurrent commit, made again at its next KeyPackage (spec/groups.md §10). */
  readonly readd = new Map<string, Set<string>>();
  /** Contacts a KeyPackage is being made for. */
  readonly minting = new Set<string>();
}


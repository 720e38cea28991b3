// `client.groups`: the SDK's group API (spec/groups.md §13), a thin front over groups.ts.
import type { ClientContext } from './context.js';
import {
  addMembers, createGroup, ensureKeyPackages, groupHistory, groupMembers, groupMessages, leaveGroup, listGroups, markReviewed, removeMembers,
  sendToGroup, setGroupPolicy, updateOwnLeaf,
} from './groups.js';
import type { GroupChange, GroupMember, GroupMessage, GroupPolicyUpdate, GroupView, SentMessage } from './types.js';

export class Groups {
  constructor(private readonly ctx: ClientContext) {}

  /**
   * Gives every established contact a KeyPackage of ours now, so that they can add us to groups
   * (otherwise a few are made per maintenance round, spec/groups.md §12.1). Returns how many
   * were made; stops early if the relay's CREATE budget is spent.
   */
  prepare(): Promise<number> { return ensureKeyPackages(this.ctx, Number.POSITIVE_INFINITY); }

  /** A new group of verified contacts, with this identity as its admin. */
  create(name: string, contactIds: readonly string[], policy: GroupPolicyUpdate = {}): Promise<GroupView> { return createGroup(this.ctx, name, contactIds, policy); }
  /** Adds verified contacts (admins only). */
  add(groupId: string, contactIds: readonly string[]): Promise<GroupView> { return addMembers(this.ctx, groupId, contactIds); }
  /** Removes members, by contact id or identity key (admins only). */
  remove(groupId: string, members: readonly string[]): Promise<GroupView> { return removeMembers(this.ctx, groupId, members); }
  /** Proposes our own removal; the next admin online commits it. */
  leave(groupId: string): Promise<void> { return leaveGroup(this.ctx, groupId); }
  /** Name, admins, disappearing timer, review interval and update policy (admins only). */
  setPolicy(groupId: string, update: GroupPolicyUpdate): Promise<GroupView> { return setGroupPolicy(this.ctx, groupId, update); }
  /** Replaces our leaf and path keys now (healing after a suspected compromise). */
  updateKeys(groupId: string): Promise<void> { return updateOwnLeaf(this.ctx, groupId); }
  send(groupId: string, text: string): Promise<SentMessage> { return sendToGroup(this.ctx, groupId, text); }
  list(): GroupView[] { return listGroups(this.ctx); }
  members(groupId: string): GroupMember[] { return groupMembers(this.ctx, groupId); }
  /** Every change since we joined, each with its committer's signature checked again. */
  history(groupId: string): (GroupChange & { readonly signatureValid: boolean })[] { return groupHistory(this.ctx, groupId); }
  messages(groupId: string): GroupMessage[] { return groupMessages(this.ctx, groupId); }
  /** Marks the membership reviewed now; the reminder comes again after the group's review interval. */
  markReviewed(groupId: string): Promise<GroupView> { return markReviewed(this.ctx, groupId); }
}

// Who may change a Sealpost group (spec/groups.md §11). Checked by every member on every
// commit before it applies (the MLS layer's `authorize` hook), and by the committer itself:
//   - Add, and any change to the group state (GroupContextExtensions): admins only;
//   - Remove: admins, or a Remove that the removed member proposed itself (leaving);
//   - a commit with only a path (a member's self-update) or PSKs: any member.
// The admins are the group state's admin keys (identity Ed25519 keys, which are the leaves'
// signature keys, spec/groups.md §3); a state whose admins are not all members is refused.
import { equalBytes } from '../crypto/bytes.js';
import { MlsError } from '../mls/errors.js';
import type { ProposedChange } from '../mls/group.js';
import { SEALPOST_GROUP_STATE_EXTENSION, groupStateOf } from './group-state.js';

const refuse = (m: string): MlsError => new MlsError('NOT_AUTHORIZED', m);

export function authorizeChange(change: ProposedChange): void {
  const committerLeaf = change.tree.leafNode(change.committer);
  if (!committerLeaf) throw refuse('the committer is not a member');
  const admins = groupStateOf(change.extensions).admins;
  const isAdmin = admins.some((a) => equalBytes(a, committerLeaf.signatureKey));
  for (const p of change.proposals) {
    switch (p.proposal.type) {
      case 1:
        if (!isAdmin) throw refuse('only an admin adds members');
        break;
      case 3: {
        const selfLeave = p.ref !== undefined && p.sender.kind === 'member' && p.sender.leaf === p.proposal.removed;
        if (!isAdmin && !selfLeave) throw refuse('only an admin removes members');
        break;
      }
      case 7:
        if (!isAdmin) throw refuse('only an admin changes the group state');
        break;
      case 2: case 4:
        break;
      default:
        throw refuse(`proposal type ${p.proposal.type} is not allowed`);
    }
  }
  if (change.applied.extensionsChanged) {
    if (!change.applied.extensions.some((e) => e.type === SEALPOST_GROUP_STATE_EXTENSION)) throw refuse('the group state was dropped');
    const next = groupStateOf(change.applied.extensions);
    const tree = change.applied.tree;
    const members = tree.members().map((l) => tree.leafNode(l)!.signatureKey);
    for (const a of next.admins) if (!members.some((m) => equalBytes(m, a))) throw refuse('an admin who is not a member');
  }
  // Removing an admin without changing the state would leave a non-member admin.
  if (change.applied.removed.length > 0) {
    const state = change.applied.extensionsChanged ? groupStateOf(change.applied.extensions) : groupStateOf(change.extensions);
    for (const r of change.applied.removed) {
      if (state.admins.some((a) => equalBytes(a, r.leafNode.signatureKey)) && !change.applied.extensionsChanged) {
        throw refuse('removing an admin needs the new admin list in the same commit');
      }
    }
  }
}

// The signed group state Sealpost keeps in the GroupContext (spec/groups.md §11): the group's
// name, its admins, the disappearing-messages timer, the membership review interval and the
// self-update policy. It travels in the `sealpost_group_state` extension (0xF5A2), so every
// change is a GroupContextExtensions proposal inside a Commit signed by its author, and every
// member derives the same epoch keys from it. Pure codec.
import { fromUtf8, utf8 } from '../crypto/bytes.js';
import { MlsError } from '../mls/errors.js';
import type { Extension } from '../mls/extensions.js';
import { TlsReader, TlsWriter, decode, encode } from '../mls/tls.js';

export const SEALPOST_DELIVERY_EXTENSION = 0xf5a1;
export const SEALPOST_GROUP_STATE_EXTENSION = 0xf5a2;

export const MAX_GROUP_NAME_BYTES = 256;
export const MAX_ADMINS = 64;

export interface GroupPolicyState {
  /** UTF-8, at most 256 bytes. */
  readonly name: string;
  /** The admins' identity Ed25519 keys (client.md §1), 32 bytes each. */
  readonly admins: readonly Uint8Array[];
  /** Messages disappear this many seconds after they are sent; 0: never. */
  readonly disappearingSeconds: number;
  /** Remind members to review the membership after this many days; 0: never. */
  readonly reviewIntervalDays: number;
  /** A member updates its leaf after sending this many messages (0: no count rule). */
  readonly updateAfterMessages: number;
  /** ... or after this many days since its last update (0: no age rule). */
  readonly updateAfterDays: number;
}

export const DEFAULT_POLICY: Omit<GroupPolicyState, 'name' | 'admins'> = {
  disappearingSeconds: 0,
  reviewIntervalDays: 90,
  updateAfterMessages: 100,
  updateAfterDays: 7,
};

function writeState(w: TlsWriter, s: GroupPolicyState): void {
  const name = utf8(s.name);
  if (name.length > MAX_GROUP_NAME_BYTES) throw new MlsError('STATE', `group name longer than ${MAX_GROUP_NAME_BYTES} bytes`);
  if (s.admins.length === 0 || s.admins.length > MAX_ADMINS) throw new MlsError('STATE', `a group has 1 to ${MAX_ADMINS} admins`);
  w.u8(1).opaque(name).vector(s.admins, (x, a) => {
    if (a.length !== 32) throw new MlsError('STATE', 'an admin key is 32 bytes');
    x.opaque(a);
  });
  w.u32(s.disappearingSeconds).u32(s.reviewIntervalDays).u32(s.updateAfterMessages).u32(s.updateAfterDays);
}

function readState(r: TlsReader): GroupPolicyState {
  if (r.u8() !== 1) throw new MlsError('UNSUPPORTED', 'group state version');
  const nameBytes = r.opaque();
  if (nameBytes.length > MAX_GROUP_NAME_BYTES) throw new MlsError('MALFORMED', 'group name too long');
  let name: string;
  try { name = fromUtf8(nameBytes); } catch { throw new MlsError('MALFORMED', 'group name is not UTF-8'); }
  const admins = r.vector((x) => x.opaqueOf(32, 'admin key'));
  if (admins.length === 0 || admins.length > MAX_ADMINS) throw new MlsError('MALFORMED', 'admin count');
  return {
    name, admins, disappearingSeconds: r.u32(), reviewIntervalDays: r.u32(), updateAfterMessages: r.u32(), updateAfterDays: r.u32(),
  };
}

export const encodeGroupPolicyState = (s: GroupPolicyState): Uint8Array => encode(writeState, s);
export const decodeGroupPolicyState = (b: Uint8Array): GroupPolicyState => decode(readState, b, 'group state');

export function groupStateExtension(s: GroupPolicyState): Extension {
  return { type: SEALPOST_GROUP_STATE_EXTENSION, data: encodeGroupPolicyState(s) };
}

/** The group state in a GroupContext's extensions, or MALFORMED when it is missing. */
export function groupStateOf(extensions: readonly Extension[]): GroupPolicyState {
  const e = extensions.find((x) => x.type === SEALPOST_GROUP_STATE_EXTENSION);
  if (!e) throw new MlsError('MALFORMED', 'the group has no sealpost_group_state extension');
  return decodeGroupPolicyState(e.data);
}

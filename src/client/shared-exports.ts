// What every entry of the SDK exports besides its Client (the Node entry index.ts, the browser
// entry browser/index.ts): errors, types and constants, the same on every platform.
export { ClientError, isClientError, type ClientErrorCode } from './errors.js';
export type {
  ClientEvents, ClientOptions, ClientStats, Contact, DropReason, HistoryEntry, Message, Receipt, RecipientOutcome, SentMessage, SentToMany,
  GroupChange, GroupMember, GroupMessage, GroupPolicyUpdate, GroupView, Device, DeviceNotice, SentElsewhere, TimerChange,
} from './types.js';
export type { Platform } from './platform.js';
export type { RecordBackend, RecordChange } from './profile-store.js';
export type { Connector, Socket, SocketOptions } from './transport.js';
export { INVITATION_PREFIX } from './invitation.js';
export type { Groups } from './groups-api.js';
export type { Devices } from './devices-api.js';
export type { LinkAttempt } from './link.js';
export type { OrganisationOptions } from './admission.js';
export { TOKEN_BATCH } from './admission.js';
export { LINK_PREFIX } from './link-exchange.js';

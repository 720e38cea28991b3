// sealpost: the client SDK on Node (spec/client.md). `import { Client } from 'sealpost'`.
// The in-process relay for apps and tests is `import { Relay } from 'sealpost/relay'`.
import { Client as CoreClient } from './client.js';
import type { Platform } from './platform.js';
import { nodePlatform } from './node/platform.js';

/** The client with Node's sockets and LMDB profile store. */
export class Client extends CoreClient {
  static override platform: Platform | null = nodePlatform;
}

export { ClientError, isClientError, type ClientErrorCode } from './errors.js';
export type {
  ClientEvents, ClientOptions, ClientStats, Contact, DropReason, HistoryEntry, Message, Receipt, RecipientOutcome, SentMessage, SentToMany,
  GroupChange, GroupMember, GroupMessage, GroupPolicyUpdate, GroupView, Device, DeviceNotice, SentElsewhere,
} from './types.js';
export type { Platform } from './platform.js';
export type { RecordBackend, RecordChange } from './profile-store.js';
export type { Connector, Socket, SocketOptions } from './transport.js';
export { INVITATION_PREFIX } from './invitation.js';
export type { Groups } from './groups-api.js';
export type { Devices } from './devices-api.js';
export type { LinkAttempt } from './link.js';
export { LINK_PREFIX } from './link-exchange.js';

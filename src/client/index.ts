// sealpost: the client SDK (spec/client.md). `import { Client, Relay } from 'sealpost'`.
export { Client } from './client.js';
export { Relay, type RelayStartOptions } from './relay.js';
export { ClientError, isClientError, type ClientErrorCode } from './errors.js';
export type {
  ClientEvents, ClientOptions, ClientStats, Contact, DropReason, HistoryEntry, Message, Receipt, RecipientOutcome, SentMessage, SentToMany,
} from './types.js';
export { INVITATION_PREFIX } from './invitation.js';

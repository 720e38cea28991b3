// The browser platform (spec/client.md §12.1): the WebSocket global and an IndexedDB profile
// store under a Web Lock.
import type { Platform } from '../platform.js';
import { openIdbRecords } from './idb-records.js';
import { browserConnector } from './ws-socket.js';

export const browserPlatform: Platform = {
  name: 'browser',
  connect: browserConnector,
  openRecords: openIdbRecords,
};

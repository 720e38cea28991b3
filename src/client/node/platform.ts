// The Node platform (spec/client.md §12): `ws` sockets and an LMDB profile store.
import type { Platform } from '../platform.js';
import { openLmdbRecords } from './lmdb-records.js';
import { wsConnector } from './ws-socket.js';

export const nodePlatform: Platform = {
  name: 'node',
  connect: wsConnector,
  openRecords: openLmdbRecords,
};

// sealpost: the client SDK on Node (spec/client.md). `import { Client } from 'sealpost'`.
// The in-process relay for apps and tests is `import { Relay } from 'sealpost/relay'`.
import { Client as CoreClient } from './client.js';
import type { Platform } from './platform.js';
import { nodePlatform } from './node/platform.js';

/** The client with Node's sockets and LMDB profile store. */
export class Client extends CoreClient {
  static override platform: Platform | null = nodePlatform;
}

export * from './shared-exports.js';

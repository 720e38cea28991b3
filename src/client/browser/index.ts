// sealpost in browsers (spec/client.md §12.1): the same Client API on the browser platform.
// Bundlers pick this entry through package.json's "browser" condition; dist/browser/sealpost.js
// is the same, bundled for a plain <script type="module">.
import { Client as CoreClient } from '../client.js';
import type { Platform } from '../platform.js';
import { browserPlatform } from './platform.js';

/** The client with the browser's WebSocket and an IndexedDB profile store. */
export class Client extends CoreClient {
  static override platform: Platform | null = browserPlatform;
}

export { browserPlatform };
export * from '../shared-exports.js';

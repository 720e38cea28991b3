// What the client core needs from the platform it runs on (spec/client.md §12): a socket to
// relays and a place for the profile's records. Node's implementation is in ./node/; the
// core imports neither it nor any platform module, so a browser adds only its own.
import type { RecordBackend } from './profile-store.js';
import type { Connector } from './transport.js';

export interface Platform {
  /** Short name, for diagnostics ('node', 'browser'). */
  readonly name: string;
  readonly connect: Connector;
  /**
   * Opens the raw record storage of the profile in `location` (a directory on Node, a
   * database name in browsers), taking the profile's lock: PROFILE_LOCKED if another live
   * process or tab holds it.
   */
  openRecords(location: string): Promise<RecordBackend>;
}

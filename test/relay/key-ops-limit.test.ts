// The per-connection budget for public-key commands (spec/protocol.md §8 keyOps): beyond it,
// CREATE/AUTH/ROTATE answer ERR RATE without doing the signature check; other connections
// and other commands are unaffected.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RelayConnection } from '../../src/client/node/connection.js';
import { authenticate, newMailboxKeys, sendEnvelope } from '../../src/client/mailbox.js';
import { envelope, errorOf, makeMailbox, withRelay } from './_helpers.js';

test('AUTHs beyond keyOpsBurst answer RATE; SEND and other connections still work', () => withRelay({ keyOpsPerSecond: 1, keyOpsBurst: 3 }, async ({ relay }) => {
  const owner = await RelayConnection.connect(relay.address);
  const box = await makeMailbox(owner, relay.address); // CREATE: one key op
  const stranger = newMailboxKeys();
  assert.is(await errorOf(authenticate(owner, stranger)), 'AUTH'); // second
  assert.is(await errorOf(authenticate(owner, stranger)), 'AUTH'); // third: the burst is spent
  assert.is(await errorOf(authenticate(owner, stranger)), 'RATE');
  assert.is(await errorOf(authenticate(owner, box.keys)), 'RATE', 'even a valid AUTH waits for the budget');
  await sendEnvelope(owner, box.cap, envelope(256)); // SEND is not a key op
  const other = await RelayConnection.connect(relay.address);
  await authenticate(other, box.keys); // a fresh connection has its own budget
  await new Promise((r) => setTimeout(r, 1100)); // one token refills
  await authenticate(owner, box.keys);
  await owner.close();
  await other.close();
}));

test.run();

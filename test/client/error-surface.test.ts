// One error surface (spec/client.md §11): every failure the SDK can meet, driven through the
// public API against real relays, rejects (or is emitted) as a ClientError with its code.
// RELAY_REFUSED and INTERNAL cannot be caused from outside today; the mapping test below
// covers every relay error name instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { open } from 'lmdb';
import { Client, ClientError, isClientError, type ClientErrorCode, type Platform } from '../../src/client/index.js';
import { CLIENT_ERROR_CODES, relayFailure } from '../../src/client/errors.js';
import { readFileSync } from 'node:fs';
import { ConnectionClosedError, RequestTimeoutError } from '../../src/client/connection.js';
import { MemoryRecords } from '../../src/client/memory-records.js';
import { nodePlatform } from '../../src/client/node/platform.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { authenticate, deleteMailbox } from '../../src/client/mailbox.js';
import { formatInvitationLink, invitationPayloadOf } from '../../src/client/invitation.js';
import { ERROR_CODES, ProtocolError, type ErrorName } from '../../src/wire/index.js';
import { Relay } from '../../src/relay/index.js';
import { startTcpProxy, withPort } from '../_support/tcp-proxy.js';
import { cleanup, openClient, startRelay, TEST_KDF, tempDir } from './_helpers.js';

async function rejects(p: Promise<unknown> | (() => unknown), code: ClientErrorCode): Promise<ClientError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.instance(e, ClientError, `expected a ClientError ${code}, got ${String(e)}`);
    assert.is((e as ClientError).code, code, String(e));
    return e as ClientError;
  }
  throw new assert.Assertion({ message: `expected ${code}, nothing was thrown`, operator: 'rejects', generated: false, expects: code, actual: 'resolved' });
}

const relay = await startRelay();

async function pair(): Promise<{ alice: Client; bob: Client; ab: string; ba: string }> {
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const link = await alice.createInvitation();
  const waiting = new Promise<string>((r) => alice.once('contact', (c) => r(c.id)));
  const ba = (await bob.acceptInvitation(link)).id;
  return { alice, bob, ab: await waiting, ba };
}

test('arguments: INVALID_ARGUMENT, MESSAGE_TOO_LARGE, UNKNOWN_CONTACT, CLOSED', async () => {
  await rejects(Client.open({} as never), 'INVALID_ARGUMENT');
  await rejects(Client.open({ dataDir: tempDir(), passphrase: 'x', relay: 'http://nope' }), 'INVALID_ARGUMENT');
  await rejects(Client.open({ dataDir: tempDir(), passphrase: 'x', kdf: TEST_KDF }), 'INVALID_ARGUMENT'); // a new profile needs a relay
  const c = await openClient(relay.address);
  await rejects(c.createInvitation({ ttlSeconds: 0 }), 'INVALID_ARGUMENT');
  await rejects(c.send('nobody', 'hi'), 'UNKNOWN_CONTACT');
  await rejects(c.verifyContact('nobody', '1'), 'UNKNOWN_CONTACT');
  await rejects(c.send('nobody', 42 as never), 'INVALID_ARGUMENT');
  await rejects(c.send('nobody', 'x'.repeat(70_000)), 'MESSAGE_TOO_LARGE');
  await rejects(c.sendToMany('x' as never, 'hi'), 'INVALID_ARGUMENT');
  await c.close();
  await rejects(c.send('nobody', 'hi'), 'CLOSED');
  await rejects(c.createInvitation(), 'CLOSED');
});

test('profile: WRONG_PASSPHRASE, PROFILE_LOCKED, STORE_CORRUPT', async () => {
  const dataDir = tempDir();
  const c = await openClient(relay.address, { dataDir });
  await rejects(openClient(relay.address, { dataDir }), 'PROFILE_LOCKED');
  await c.close();
  await rejects(openClient(relay.address, { dataDir, passphrase: 'not the passphrase' }), 'WRONG_PASSPHRASE');
  const root = open({ path: join(dataDir, 'store'), maxDbs: 2 } as Parameters<typeof open>[0]);
  const db = root.openDB<Uint8Array, Uint8Array>({ name: 'records', encoding: 'binary', keyEncoding: 'binary' });
  const rec = [...db.getRange({})].find((e) => (e.key as Uint8Array).length === 32)!;
  const bad = Buffer.from(rec.value);
  bad[bad.length - 1]! ^= 1;
  await db.put(rec.key as Buffer, bad);
  await root.close();
  await rejects(openClient(relay.address, { dataDir }), 'STORE_CORRUPT');
});

test('store: a failed commit rejects the send with STORE_FAILED, emits it, and closes the client', async () => {
  const records = new MemoryRecords();
  const platform: Platform = { ...nodePlatform, openRecords: async () => records };
  const carol = await openClient(relay.address, { platform });
  await carol.createInvitation();
  const errors: ClientError[] = [];
  carol.on('error', (e) => errors.push(e));
  records.failCommits = new Error('ENOSPC: no space left on device');
  await rejects(carol.createInvitation(), 'STORE_FAILED');
  assert.is(errors.length, 1);
  assert.is(errors[0]!.code, 'STORE_FAILED');
  await new Promise((r) => setTimeout(r, 50));
  await rejects(carol.createInvitation(), 'CLOSED');
});

test('invitations: BAD_INVITATION, INVITATION_VERSION, INVITATION_TAMPERED, OWN_INVITATION, INVITATION_USED, INVITATION_EXPIRED, HANDSHAKE_TIMEOUT, CONTACT_PENDING', async () => {
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  await rejects(bob.acceptInvitation('sealpost:invite/garbage'), 'BAD_INVITATION');
  await rejects(bob.acceptInvitation('https://example.org'), 'BAD_INVITATION');
  const link = await alice.createInvitation();
  const payload = invitationPayloadOf(link);
  const old = payload.slice(); old[0] = 1;
  await rejects(bob.acceptInvitation(formatInvitationLink(old)), 'INVITATION_VERSION');
  const edited = payload.slice(); edited[100]! ^= 1;
  await rejects(bob.acceptInvitation(formatInvitationLink(edited)), 'INVITATION_TAMPERED');
  await rejects(alice.acceptInvitation(link), 'OWN_INVITATION');
  await bob.acceptInvitation(link);
  await rejects(bob.acceptInvitation(link), 'INVITATION_USED');
  const short = await alice.createInvitation({ ttlSeconds: 1 });
  await new Promise((r) => setTimeout(r, 2_100));
  await rejects(bob.acceptInvitation(short), 'INVITATION_EXPIRED');
  // The inviter is gone: the HELLO waits at the relay, the acceptor's wait times out.
  const late = await alice.createInvitation();
  await alice.close();
  const carol = await openClient(relay.address);
  await rejects(carol.acceptInvitation(late, { timeoutMs: 300, name: 'alice' }), 'HANDSHAKE_TIMEOUT');
  await rejects(carol.send('alice', 'too early'), 'CONTACT_PENDING');
  await Promise.all([bob.close(), carol.close()]);
});

test('contacts: SAFETY_CODE_MISMATCH; a mailbox gone at the relay: SEND_REJECTED', async () => {
  const { alice, bob, ab, ba } = await pair();
  await rejects(alice.verifyContact(ab, '00000 00000 00000 00000'), 'SAFETY_CODE_MISMATCH');
  // Bob's mailbox for Alice disappears at the relay: her next send is refused for good.
  const keys = bob._internals().inboxKeys(ba)!;
  await bob.close();
  const raw = await RelayConnection.connect(relay.address);
  await authenticate(raw, keys);
  await deleteMailbox(raw, keys);
  await raw.close();
  await rejects(alice.send(ab, 'anyone there?'), 'SEND_REJECTED');
  await alice.close();
});

test('relay: RELAY_UNAVAILABLE, RELAY_HANDSHAKE, RELAY_BUSY, TIMEOUT', async () => {
  // Nobody listens: RELAY_UNAVAILABLE.
  const gone = await Relay.start({ dataDir: tempDir(), port: 0 });
  const goneAddress = gone.address;
  await gone.close();
  const lonely = await openClient(goneAddress, { relayTimeoutMs: 1_000 });
  await rejects(lonely.createInvitation(), 'RELAY_UNAVAILABLE');
  await lonely.close();
  // Another relay answers at the address: its key does not match the fingerprint.
  const other = await Relay.start({ dataDir: tempDir(), port: 0 });
  const impostor = await openClient(withPort(relay.address, other.port), { relayTimeoutMs: 1_500 });
  await rejects(impostor.createInvitation(), 'RELAY_HANDSHAKE');
  await impostor.close();
  await other.close();
  // A relay that refuses for now (its public-key command budget spent): RELAY_BUSY, with the relay's reason.
  const strict = await Relay.start({ dataDir: tempDir(), port: 0, keyOpsPerSecond: 1, keyOpsBurst: 3 });
  const busy = await openClient(strict.address);
  let err: ClientError | null = null;
  for (let i = 0; i < 10 && !err; i++) await busy.createInvitation().catch((e: unknown) => { err = e as ClientError; });
  assert.ok(err, 'the relay never refused');
  assert.ok(isClientError(err, 'RELAY_BUSY'), String(err));
  assert.is((err as ClientError).relayError, 'RATE');
  await busy.close();
  await strict.close();
  // A relay that stops answering: TIMEOUT, and incoming messages from others still flow.
  const proxy = await startTcpProxy(relay.port);
  const hung = await openClient(withPort(relay.address, proxy.port), { relayTimeoutMs: 800 });
  await hung.createInvitation(); // connected and working
  proxy.silence();
  await rejects(hung.createInvitation(), 'TIMEOUT');
  await hung.close();
  await proxy.close();
});

test('every relay error name maps to one client code; timeouts and closed connections too', () => {
  const expected: Record<ErrorName, ClientErrorCode> = {
    MALFORMED: 'RELAY_REFUSED', VERSION: 'RELAY_HANDSHAKE', HANDSHAKE: 'RELAY_HANDSHAKE', UNKNOWN_COMMAND: 'RELAY_REFUSED', AUTH: 'RELAY_REFUSED',
    QUOTA: 'RELAY_BUSY', SIZE: 'RELAY_REFUSED', RATE: 'RELAY_BUSY', LIMIT: 'RELAY_BUSY', DUPLICATE: 'RELAY_REFUSED', NO_MSG: 'RELAY_REFUSED',
    INVALID: 'RELAY_REFUSED', INTERNAL: 'RELAY_BUSY', BUSY: 'RELAY_BUSY', NO_PEER: 'RELAY_REFUSED', PEER_DOWN: 'RELAY_BUSY', FORWARD_INVALID: 'RELAY_REFUSED',
    ADMISSION_REQUIRED: 'ADMISSION_REQUIRED', ADMISSION_REFUSED: 'ADMISSION_REFUSED', TOKEN_SPENT: 'TOKEN_SPENT', TOKEN_EPOCH: 'TOKEN_EPOCH',
  };
  for (const name of Object.keys(ERROR_CODES) as ErrorName[]) {
    const e = relayFailure(new ProtocolError(name), 'test');
    assert.is(e.code, expected[name], name);
    assert.is(e.relayError, name);
  }
  assert.is(relayFailure(new RequestTimeoutError('CREATE'), 'test').code, 'TIMEOUT');
  assert.is(relayFailure(new ConnectionClosedError(1006, ''), 'test').code, 'RELAY_UNAVAILABLE');
  assert.is(relayFailure(new TypeError('bug'), 'test').code, 'INTERNAL');
  const own = new ClientError('CLOSED', 'x');
  assert.is(relayFailure(own, 'test'), own);
});

test('the spec table of client errors (spec/client.md §11) is the set in the code, in order', () => {
  const spec = readFileSync(new URL('../../../spec/client.md', import.meta.url), 'utf8');
  const section = spec.slice(spec.indexOf('## 11. Errors'), spec.indexOf('## 12.'));
  const codes = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.ok(codes.length > 10, 'the table was found');
  assert.equal(codes, [...CLIENT_ERROR_CODES]);
});

test.after(async () => {
  await relay.close();
  cleanup();
});
test.run();

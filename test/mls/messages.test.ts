// The wire codecs (src/mls/framing.ts, proposals.ts, commit.ts, welcome.ts, group-info.ts,
// key-package.ts, nodes.ts) against the MLS working group's messages vectors (RFC 9420 §6,
// §7, §10, §12): every field of every case decodes and re-encodes to the same bytes; a
// truncated or extended copy of each is MALFORMED.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeCommit, readCommit, writeCommit } from '../../src/mls/commit.js';
import { MlsError } from '../../src/mls/errors.js';
import { readMlsMessage, writeMlsMessage, type MlsMessage } from '../../src/mls/framing.js';
import { readRatchetTree, writeRatchetTree } from '../../src/mls/nodes.js';
import { readProposalBody, writeProposalBody, type Proposal } from '../../src/mls/proposals.js';
import { decode, encode, type TlsReader, type TlsWriter } from '../../src/mls/tls.js';
import { readGroupSecrets, writeGroupSecrets } from '../../src/mls/welcome.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type Field =
  | 'mls_welcome' | 'mls_group_info' | 'mls_key_package' | 'ratchet_tree' | 'group_secrets'
  | 'add_proposal' | 'update_proposal' | 'remove_proposal' | 'pre_shared_key_proposal' | 're_init_proposal'
  | 'external_init_proposal' | 'group_context_extensions_proposal' | 'commit'
  | 'public_message_application' | 'public_message_proposal' | 'public_message_commit' | 'private_message';
type Case = Record<Field, string>;
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'messages.json');

interface Codec { read: (r: TlsReader) => unknown; write: (w: TlsWriter, v: never) => void }
const codec = <T>(read: (r: TlsReader) => T, write: (w: TlsWriter, v: T) => void): Codec => ({ read, write: write as Codec['write'] });
const message = codec(readMlsMessage, writeMlsMessage);
const body = (type: Proposal['type']): Codec => codec((r) => readProposalBody(r, type), writeProposalBody);

/** Each field's codec; the *_proposal fields are the bare proposal body, without its type. */
const CODECS: Record<Field, Codec> = {
  mls_welcome: message, mls_group_info: message, mls_key_package: message,
  ratchet_tree: codec(readRatchetTree, writeRatchetTree),
  group_secrets: codec(readGroupSecrets, writeGroupSecrets),
  add_proposal: body(1), update_proposal: body(2), remove_proposal: body(3), pre_shared_key_proposal: body(4),
  re_init_proposal: body(5), external_init_proposal: body(6), group_context_extensions_proposal: body(7),
  commit: codec(readCommit, writeCommit),
  public_message_application: message, public_message_proposal: message, public_message_commit: message,
  private_message: message,
};
/** What each MLSMessage field must decode to: its wire format and, for a PublicMessage, its content type. */
const SHAPE: Partial<Record<Field, [number, number?]>> = {
  mls_welcome: [3], mls_group_info: [4], mls_key_package: [5],
  public_message_application: [1, 1], public_message_proposal: [1, 2], public_message_commit: [1, 3], private_message: [2],
};
const FIELDS = Object.keys(CODECS) as Field[];

const roundTrip = (c: Codec, b: Uint8Array, what: string): { value: unknown; bytes: Uint8Array } => {
  const value = decode(c.read, b, what);
  return { value, bytes: encode(c.write, value as never) };
};
const isMalformed = (e: unknown): boolean => e instanceof MlsError && e.code === 'MALFORMED';

test('every field of every messages case decodes and re-encodes to the same bytes', () => {
  let checked = 0;
  for (const [i, c] of cases.entries()) {
    assert.equal(Object.keys(c).sort(), [...FIELDS].sort(), `case ${i} fields`);
    for (const f of FIELDS) {
      const { value, bytes } = roundTrip(CODECS[f], hex(c[f]), f);
      assert.is(toHexString(bytes), c[f], `case ${i} ${f}`);
      const shape = SHAPE[f];
      if (shape) {
        const m = value as MlsMessage;
        assert.is(m.wireFormat, shape[0], `case ${i} ${f} wire format`);
        if (m.wireFormat === 1) {
          assert.is(m.publicMessage.content.contentType, shape[1], `case ${i} ${f} content type`);
          assert.is(m.publicMessage.auth.confirmationTag !== undefined, shape[1] === 3);
          assert.is(m.publicMessage.membershipTag !== undefined, m.publicMessage.content.sender.type === 1);
        }
      }
      checked++;
    }
  }
  assert.is(checked, cases.length * FIELDS.length);
  assert.is(cases.length, 60);
});

test('the decoded values carry what the bytes say', () => {
  const c = cases[0]!;
  const remove = decode(CODECS.remove_proposal.read, hex(c.remove_proposal), 'Remove') as Proposal;
  assert.equal(remove, { type: 3, removed: parseInt(c.remove_proposal, 16) });
  const gce = decode(CODECS.group_context_extensions_proposal.read, hex(c.group_context_extensions_proposal), 'GCE') as Proposal;
  assert.equal(gce, { type: 7, extensions: [] });
  const commit = decodeCommit(hex(c.commit));
  assert.ok(commit.proposals.length > 0);
  const pm = decode(readMlsMessage, hex(c.public_message_commit), 'MLSMessage');
  assert.ok(pm.wireFormat === 1 && pm.publicMessage.content.contentType === 3);
  if (pm.wireFormat === 1 && pm.publicMessage.content.contentType === 3) {
    // The commit inside the PublicMessage re-encodes within the message's bytes.
    assert.ok(c.public_message_commit.includes(toHexString(encode(writeCommit, pm.publicMessage.content.commit))));
  }
});

test('a truncated or an extended copy of every field is MALFORMED', () => {
  let checked = 0;
  for (const [i, c] of cases.entries()) {
    for (const f of FIELDS) {
      const b = hex(c[f]);
      const variants: [string, Uint8Array][] = [
        ['empty', b.subarray(0, 0)],
        ['half', b.subarray(0, b.length >> 1)],
        ['minus one', b.subarray(0, b.length - 1)],
        ['plus 00', Uint8Array.of(...b, 0)],
        ['plus ff', Uint8Array.of(...b, 0xff)],
      ];
      for (const [name, v] of variants) {
        assert.throws(() => decode(CODECS[f].read, v, f), isMalformed, `case ${i} ${f} ${name}`);
        checked++;
      }
    }
  }
  assert.is(checked, cases.length * FIELDS.length * 5);
});

test('every prefix of one case of each field is MALFORMED', () => {
  const c = cases[1]!;
  for (const f of FIELDS) {
    const b = hex(c[f]);
    for (let n = 0; n < b.length; n++) assert.throws(() => decode(CODECS[f].read, b.subarray(0, n), f), isMalformed, `${f} prefix ${n}`);
  }
});

test.run();

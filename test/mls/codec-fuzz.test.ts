// The wire codecs under random damage: thousands of mutations (bit flips, truncations,
// insertions, deletions, length-like bytes) of the messages vectors. Decoding either succeeds
// (and then, the codecs being canonical, re-encodes to the very bytes) or throws MlsError;
// never another exception. FUZZ_SEED=n replays a run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readCommit, writeCommit } from '../../src/mls/commit.js';
import { MlsError } from '../../src/mls/errors.js';
import { decodePrivateMessageContent, encodePrivateMessageContent, readAuthenticatedContent, readMlsMessage, writeAuthenticatedContent, writeMlsMessage, type ContentTypeValue } from '../../src/mls/framing.js';
import { readRatchetTree, writeRatchetTree } from '../../src/mls/nodes.js';
import { readProposal, readProposalBody, writeProposal, writeProposalBody } from '../../src/mls/proposals.js';
import { decode, encode, type TlsReader, type TlsWriter } from '../../src/mls/tls.js';
import { readGroupSecrets, writeGroupSecrets } from '../../src/mls/welcome.js';
import { fuzzSeed, Prng } from '../_support/frames-fuzz.js';
import { hex, readJson, toHexString } from '../_support/files.js';

const SEED = fuzzSeed();
const ROUNDS = 6000;
const BUDGET_MS = 10_000;

type Case = Record<string, string>;
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'messages.json');

interface Codec { readonly read: (r: TlsReader) => unknown; readonly write: (w: TlsWriter, v: never) => void }
const codec = <T>(read: (r: TlsReader) => T, write: (w: TlsWriter, v: T) => void): Codec => ({ read, write: write as Codec['write'] });
const message = codec(readMlsMessage, writeMlsMessage);
const CODECS: Record<string, Codec> = {
  mls_welcome: message, mls_group_info: message, mls_key_package: message, public_message_application: message,
  public_message_proposal: message, public_message_commit: message, private_message: message,
  ratchet_tree: codec(readRatchetTree, writeRatchetTree), group_secrets: codec(readGroupSecrets, writeGroupSecrets),
  commit: codec(readCommit, writeCommit),
};
['add', 'update', 'remove', 'pre_shared_key', 're_init', 'external_init', 'group_context_extensions'].forEach((name, i) => {
  CODECS[`${name}_proposal`] = codec((r) => readProposalBody(r, i + 1), writeProposalBody);
});
// The same bytes through codecs they were not made for: a proposal with its type, an AuthenticatedContent.
const CROSS: Codec[] = [codec(readProposal, writeProposal), codec(readAuthenticatedContent, writeAuthenticatedContent)];

const corpus: [Codec, Uint8Array][] = [];
for (const c of cases) for (const [f, h] of Object.entries(c)) corpus.push([CODECS[f]!, hex(h)]);

function mutate(p: Prng, b: Uint8Array): Uint8Array {
  const out = [...b];
  const at = (): number => p.int(out.length + 1);
  for (let k = 1 + p.int(3); k > 0; k--) {
    switch (p.int(6)) {
      case 0: if (out.length) { const i = p.int(out.length); out[i] = out[i]! ^ (1 << p.int(8)); } break;
      case 1: out.length = p.int(out.length + 1); break;
      case 2: out.splice(at(), 0, ...p.bytes(1 + p.int(8))); break;
      case 3: out.splice(p.int(out.length), 1 + p.int(8)); break;
      case 4: if (out.length) out[p.int(out.length)] = p.pick([0x00, 0x01, 0x02, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff]); break;
      default: if (out.length) { const i = p.int(out.length); out[i] = (out[i]! + p.pick([1, -1, 2, -2])) & 0xff; }
    }
  }
  return Uint8Array.from(out);
}

/** 'ok' when it decoded (and re-encoded to the same bytes), the MlsError code otherwise; anything else fails. */
function attempt(c: Codec, b: Uint8Array, what: string): string {
  try {
    const v = decode(c.read, b, what);
    assert.is(toHexString(encode(c.write, v as never)), toHexString(b), `${what}: a decoded mutant re-encodes to its bytes (seed ${SEED})`);
    return 'ok';
  } catch (e) {
    if (e instanceof MlsError) return e.code;
    if (e instanceof assert.Assertion) throw e;
    throw new Error(`${what}: ${String(e)} is not an MlsError (FUZZ_SEED=${SEED})`, { cause: e });
  }
}

test(`${ROUNDS} mutations of the messages vectors decode or throw MlsError (FUZZ_SEED=${SEED})`, () => {
  const p = new Prng(SEED);
  const started = Date.now();
  const outcomes = new Map<string, number>();
  const count = (k: string): void => void outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  for (let i = 0; i < ROUNDS; i++) {
    const [c, b] = p.pick(corpus);
    const m = mutate(p, b);
    count(attempt(c, m, 'mutant'));
    if (i % 4 === 0) count(attempt(p.pick(CROSS), m, 'cross'));
    if (i % 4 === 1) {
      // A damaged plaintext as a PrivateMessageContent of some content type.
      const ct = (1 + p.int(3)) as ContentTypeValue;
      try {
        const v = decodePrivateMessageContent(m, ct);
        assert.is(toHexString(encodePrivateMessageContent(v)), toHexString(m));
        count('ok');
      } catch (e) {
        if (!(e instanceof MlsError)) throw new Error(`PrivateMessageContent: ${String(e)} (FUZZ_SEED=${SEED})`, { cause: e });
        count(e.code);
      }
    }
  }
  const ms = Date.now() - started;
  console.log(`codec fuzz seed ${SEED}: ${ROUNDS} rounds in ${ms} ms`, Object.fromEntries(outcomes));
  assert.ok(ms < BUDGET_MS, `took ${ms} ms`);
  assert.ok((outcomes.get('MALFORMED') ?? 0) > ROUNDS / 4, 'most mutants are MALFORMED');
});

test.run();

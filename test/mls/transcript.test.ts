// Transcript hashes and the confirmation tag (src/mls/transcript.ts, RFC 9420 §8.1, §8.2)
// against the transcript-hashes vectors, every case on both crypto backends; a corrupted
// case fails, and a wrong confirmation tag is BAD_CONFIRMATION.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  confirmationTag, confirmedTranscriptHash, initialTranscriptHashes, interimTranscriptHash, nextTranscriptHashes, verifyConfirmationTag,
} from '../../src/mls/transcript.js';
import { decodeAuthenticatedContent } from '../../src/mls/framing.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError } from '../../src/mls/errors.js';
import { withBackend, type BackendName } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface Case {
  cipher_suite: number; confirmation_key: H; authenticated_content: H;
  interim_transcript_hash_before: H; confirmed_transcript_hash_after: H; interim_transcript_hash_after: H;
}
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'transcript-hashes.json');

function check(c: Case): string[] {
  const suite = cipherSuite(c.cipher_suite);
  const bad: string[] = [];
  const eq = (name: string, got: Uint8Array | undefined, want: H): void => { if (!got || toHexString(got) !== want) bad.push(name); };
  const a = decodeAuthenticatedContent(hex(c.authenticated_content));
  if (a.content.contentType !== 3) bad.push('not a commit');
  // The tag the commit carries is MAC(confirmation_key, confirmed_transcript_hash_after).
  eq('confirmation_tag', confirmationTag(suite, hex(c.confirmation_key), hex(c.confirmed_transcript_hash_after)), toHexString(a.auth.confirmationTag ?? new Uint8Array(0)));
  try { verifyConfirmationTag(suite, hex(c.confirmation_key), hex(c.confirmed_transcript_hash_after), a.auth.confirmationTag!); } catch { bad.push('verify confirmation_tag'); }
  const confirmed = confirmedTranscriptHash(suite, hex(c.interim_transcript_hash_before), a);
  eq('confirmed_transcript_hash', confirmed, c.confirmed_transcript_hash_after);
  eq('interim_transcript_hash', interimTranscriptHash(suite, confirmed, a.auth.confirmationTag!), c.interim_transcript_hash_after);
  const both = nextTranscriptHashes(suite, hex(c.interim_transcript_hash_before), a);
  eq('next confirmed', both.confirmed, c.confirmed_transcript_hash_after);
  eq('next interim', both.interim, c.interim_transcript_hash_after);
  return bad;
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every transcript-hashes case on the ${backend} backend`, () => {
    let checked = 0;
    withBackend(backend, () => {
      for (const c of cases) { assert.equal(check(c), [], `suite ${c.cipher_suite}`); checked++; }
    });
    assert.is(checked, 2);
  });
}

test('a corrupted case fails: another interim hash before, another confirmation key', () => {
  const c = structuredClone(cases[0]!);
  const flip = (h: H): H => (h.slice(0, -2) + ((parseInt(h.slice(-2), 16) ^ 1).toString(16).padStart(2, '0')));
  c.interim_transcript_hash_before = flip(c.interim_transcript_hash_before);
  c.confirmation_key = flip(c.confirmation_key);
  const bad = check(c);
  assert.ok(bad.includes('confirmed_transcript_hash') && bad.includes('interim_transcript_hash') && bad.includes('confirmation_tag') && bad.includes('verify confirmation_tag'), bad.join());
});

test('a wrong confirmation tag is BAD_CONFIRMATION; a new group\'s hashes start from ""', () => {
  const suite = cipherSuite(1);
  const key = new Uint8Array(32).fill(4);
  const tag = confirmationTag(suite, key, new Uint8Array(32));
  tag[0]! ^= 1;
  assert.throws(() => verifyConfirmationTag(suite, key, new Uint8Array(32), tag), (e: unknown) => e instanceof MlsError && e.code === 'BAD_CONFIRMATION');
  const init = initialTranscriptHashes(suite, key);
  assert.is(init.confirmed.length, 0);
  assert.is(toHexString(init.interim), toHexString(interimTranscriptHash(suite, new Uint8Array(0), confirmationTag(suite, key, new Uint8Array(0)))));
  const c = cases[0]!;
  const a = decodeAuthenticatedContent(hex(c.authenticated_content));
  assert.throws(() => nextTranscriptHashes(suite, new Uint8Array(32), { ...a, auth: { signature: a.auth.signature } }),
    (e: unknown) => e instanceof MlsError && e.code === 'MALFORMED');
});

test.run();

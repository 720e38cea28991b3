// The spec's own vectors (spec/vectors/constructions.json) are recomputed here on both backends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { withBackend } from '../../src/crypto/index.js';
import { readJson, repoPath } from '../_support/files.js';
import { computeVectors, diffVectors } from './constructions.js';

const FILE = ['spec', 'vectors', 'constructions.json'] as const;

if (process.env['SEALPOST_WRITE_VECTORS'] === '1') {
  writeFileSync(repoPath(...FILE), JSON.stringify(computeVectors(), null, 2) + '\n');
}
const stored = readJson<Record<string, unknown>>(...FILE);

for (const backend of ['node', 'noble'] as const) {
  test(`spec/vectors/constructions.json recomputes on the ${backend} backend`, () => {
    const diff = withBackend(backend, () => diffVectors(stored, computeVectors()));
    assert.equal(diff, []);
  });
}

test('a corrupted vector is detected', () => {
  const corrupted = JSON.parse(JSON.stringify(stored)) as { sas: { code: string }; ids: { sendId: string } };
  corrupted.sas.code = corrupted.sas.code.replace(/^\d/, (d) => String((Number(d) + 1) % 10));
  corrupted.ids.sendId = 'ff' + corrupted.ids.sendId.slice(2);
  assert.equal(diffVectors(corrupted, computeVectors()), ['.ids.sendId', '.sas.code']);
});

test.run();

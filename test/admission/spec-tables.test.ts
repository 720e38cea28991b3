// spec/admission.md's closed sets are the code's, in order: the error table (§8) and the
// audit entry kinds (§6.2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ADMISSION_ERROR_CODES, AUDIT_KINDS } from '../../src/admission/index.js';
import { repoPath } from '../_support/files.js';

const spec = readFileSync(repoPath('spec', 'admission.md'), 'utf8');
const section = (from: string, to: string): string => spec.slice(spec.indexOf(from), spec.indexOf(to));

test('the error table (§8) is ADMISSION_ERROR_CODES, in order', () => {
  const codes = [...section('## 8. Errors', '## 9.').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.equal(codes, [...ADMISSION_ERROR_CODES]);
});

test('the audit kinds (§6.2) are AUDIT_KINDS, numbered from 1 in order', () => {
  const rows = [...section('### 6.2', '### 6.3').matchAll(/^\| (\d+) \| `([a-z-]+)` \|/gm)];
  assert.equal(rows.map((m) => m[2]), [...AUDIT_KINDS]);
  assert.equal(rows.map((m) => Number(m[1])), AUDIT_KINDS.map((_, i) => i + 1));
});

test.run();

// Paths inside the repository, wherever the compiled test runs from (.build/test/...).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('.build')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot();
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);
export const readJson = <T = unknown>(...parts: string[]): T => JSON.parse(readFileSync(repoPath(...parts), 'utf8')) as T;
export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHexString = (b: Uint8Array): string => Buffer.from(b).toString('hex');

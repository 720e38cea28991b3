// The browser's stand-in for native.ts (package.json "browser"): no node:crypto, so the
// crypto core runs on @noble/* (spec/crypto.md §1).
import type { Backend } from './backend.js';

export const nativeBackend: Backend | null = null;

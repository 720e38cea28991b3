#!/usr/bin/env node
// A development OpenID Connect directory for trying a closed deployment on one machine: the
// tests' oidc-provider fixture (test/_support/directory.ts) with the users you name, a
// confidential client for the issuer, and its client file. Not for production: use your
// organisation's directory (Keycloak, Entra ID, ...). Needs `npx tsc -p tsconfig.json` first.
// usage: node scripts/dev-directory.mjs --redirect URI --client-file FILE [--users a,b] [--port P]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
if (!args.redirect || !args['client-file']) {
  console.error('usage: node scripts/dev-directory.mjs --redirect http://127.0.0.1:8443/callback --client-file client.json [--users alice,bob] [--port 9000]');
  process.exit(2);
}
const { startDirectory } = await import(join(import.meta.dirname, '..', '.build', 'test', '_support', 'directory.js'));
const users = (args.users ?? 'alice,bob').split(',');
const dir = await startDirectory([args.redirect], users, args.port ? Number(args.port) : undefined);
writeFileSync(args['client-file'], `${JSON.stringify({ client_id: dir.clientId, client_secret: dir.clientSecret })}\n`, { mode: 0o600 });
console.log(`development directory at ${dir.issuerUrl} (users: ${users.join(', ')}); client file ${args['client-file']}`);
console.log(`disable a user: type "disable NAME" and Enter; stop with Ctrl-C`);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (line) => {
  const m = /^(disable|enable) (\S+)/.exec(line.trim());
  if (m && dir.users.has(m[2])) { dir.users.get(m[2]).enabled = m[1] === 'enable'; console.log(`${m[2]} ${m[1]}d`); }
});
process.on('SIGINT', () => { void dir.stop().then(() => process.exit(0)); });

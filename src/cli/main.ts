#!/usr/bin/env node
// The `sealpost` command: relay | demo | chat | web | bench | issuer | login | admin.
const [command = 'help'] = process.argv.slice(2);

switch (command) {
  case 'relay':
    process.exitCode = await (await import('./relay-command.js')).relayCommand(process.argv.slice(3));
    break;
  case 'bench': process.exitCode = await (await import('./bench-command.js')).benchCommand(process.argv.slice(3)); break;
  case 'demo': process.exitCode = await (await import('./demo-command.js')).demoCommand(process.argv.slice(3)); break;
  case 'chat': process.exitCode = await (await import('./chat-command.js')).chatCommand(process.argv.slice(3)); break;
  case 'issuer': process.exitCode = await (await import('./issuer-command.js')).issuerCommand(process.argv.slice(3)); break;
  case 'login': process.exitCode = await (await import('./issuer-command.js')).loginCommand(process.argv.slice(3)); break;
  case 'admin': process.exitCode = await (await import('./admin-command.js')).adminCommand(process.argv.slice(3)); break;
  case 'web': process.exitCode = await (await import('./web-command.js')).webCommand(process.argv.slice(3)); break;
  default:
    console.log([
      'usage: sealpost <command> [options]',
      '  relay   run a relay (sealpost relay --help)',
      '  demo    an embedded relay and two clients, end to end',
      '  chat    an interactive client (sealpost chat --profile NAME --relay ADDRESS)',
      '  web     the web client, served on loopback (sealpost web --relay ADDRESS)',
      '  bench   the benchmark suite (sealpost bench --quick | --json FILE)',
      '  issuer  a closed deployment\'s token issuer (sealpost issuer --help)',
      '  login   a member\'s login to an issuer (sealpost login --issuer URL)',
      '  admin   a closed deployment\'s keys, policy, quota, counts, audit log (sealpost admin --help)',
    ].join('\n'));
    if (command !== 'help' && command !== '--help') process.exitCode = 2;
}

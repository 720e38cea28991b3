#!/usr/bin/env node
// The `sealpost` command: relay | demo | chat | bench | admin.
const [command = 'help'] = process.argv.slice(2);

switch (command) {
  case 'relay':
    console.log('sealpost relay: not built yet (see the relay issue). Nothing was started.');
    break;
  default:
    console.log('usage: sealpost <relay|demo|chat|bench|admin> [options]');
}

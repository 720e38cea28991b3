// Entry point without the CLI wrapper: `node .build/bench/main.js [--quick] ...` (after
// `npx tsc -p tsconfig.json`); `sealpost bench` compiles and calls the same main().
import { main } from './run.js';

process.exitCode = await main(process.argv.slice(2));

// A bare worker thread for the pool-scaling control (bench/suites/pool-scaling.ts): opens
// envelopes in a loop, with no pool, no packing and no messages per item. It prepares its
// envelopes, says 'ready', waits for 'go' with a duration, then reports how many it opened.
import { parentPort } from 'node:worker_threads';
import { openEnvelope, randomBytes, sealEnvelope, setBackend, x25519KeyPair } from '../src/crypto/index.js';

const port = parentPort!;
setBackend('node');
const mailbox = x25519KeyPair();
const sender = x25519KeyPair();
const body = randomBytes(900);
const items = Array.from({ length: 64 }, () => ({
  mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey,
  envelope: sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket: 1024 }),
}));
for (let i = 0; i < 200; i++) openEnvelope(items[i & 63]!);
port.on('message', (ms: number) => {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 16; i++) openEnvelope(items[(n + i) & 63]!);
    n += 16;
  }
  port.postMessage({ n, ms: performance.now() - t0 });
});
port.postMessage('ready');

// Suite: the hybrid ratchet's cost (spec/ratchet.md §12). One operation is one message sent by
// one side and opened by the other in a ping-pong conversation that goes on across operations,
// so a hybrid session's ML-KEM work (a key pair, an encapsulation and a decapsulation per
// exchange, one exchange every few dozen messages) is spread over the messages as in use.
// Classical and hybrid sessions are sampled round-robin; bytes are counted over 1,000 messages (200 with --quick).
import { utf8, x25519KeyPair } from '../../src/crypto/index.js';
import { decrypt, encrypt, initReceiver, initSender, type RatchetState } from '../../src/ratchet/index.js';
import { measureInterleaved } from '../lib/measure.js';
import { fmt, type Table } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

interface Session { send(): Uint8Array }

function session(hybrid: boolean): Session {
  const bob = x25519KeyPair();
  const sk = new Uint8Array(32).fill(1), ad = utf8('bench');
  const a: RatchetState = initSender(sk, ad, bob.publicKey, { hybrid });
  const b: RatchetState = initReceiver(sk, ad, bob, { hybrid });
  const text = utf8('a short message of some forty bytes....');
  let turn = 0;
  return {
    send: () => {
      const [from, to] = turn++ % 2 === 0 ? [a, b] : [b, a];
      const m = encrypt(from, text);
      decrypt(to, m);
      return m;
    },
  };
}

export interface RatchetBenchResult {
  readonly budgetMs: number;
  readonly messagesPerSec: { readonly classical: number; readonly hybrid: number };
  readonly usPerMessage: { readonly classical: number; readonly hybrid: number };
  readonly bytes: { readonly classical: number; readonly hybridMean: number; readonly hybridMax: number };
  readonly exchangesPer1000: number;
}

export async function runRatchet(ctx: SuiteContext): Promise<RatchetBenchResult> {
  ctx.progress.status('ratchet: bytes per message');
  const c = session(false), h = session(true);
  const count = ctx.quick ? 200 : 1000;
  let classical = 0, sum = 0, max = 0;
  for (let i = 0; i < count; i++) {
    const cm = c.send().length, hm = h.send().length;
    classical = cm;
    sum += hm - cm;
    max = Math.max(max, hm - cm);
  }
  ctx.progress.status('ratchet: messages per second, classical and hybrid');
  const [cr, hr] = measureInterleaved([{ name: 'classical', fn: session(false).send }, { name: 'hybrid', fn: session(true).send }], ctx.budgetMs);
  // Exchanges mixed in a fresh hybrid ping-pong of 1,000 messages.
  const bob = x25519KeyPair();
  const a = initSender(new Uint8Array(32), utf8('x'), bob.publicKey, { hybrid: true });
  const b = initReceiver(new Uint8Array(32), utf8('x'), bob, { hybrid: true });
  for (let i = 0; i < count; i++) { const [f, t] = i % 2 ? [b, a] : [a, b]; decrypt(t, encrypt(f, utf8('x'))); }
  ctx.progress.done();
  return {
    budgetMs: ctx.budgetMs,
    messagesPerSec: { classical: cr!.opsPerSec, hybrid: hr!.opsPerSec },
    usPerMessage: { classical: cr!.usPerOp, hybrid: hr!.usPerOp },
    bytes: { classical, hybridMean: sum / count, hybridMax: max },
    exchangesPer1000: (a.pq!.mixed * 1000) / count,
  };
}

export function ratchetTable(r: RatchetBenchResult): Table {
  return {
    title: 'Ratchet: one message sent and opened (ping-pong), classical vs hybrid ML-KEM-768',
    columns: ['session', 'messages/s', 'µs per message', 'bytes added per message (mean / max)'],
    rows: [
      ['classical (version 1)', fmt(r.messagesPerSec.classical), fmt(r.usPerMessage.classical), '–'],
      ['hybrid (version 2, §12)', fmt(r.messagesPerSec.hybrid), fmt(r.usPerMessage.hybrid), `${fmt(r.bytes.hybridMean)} / ${fmt(r.bytes.hybridMax)}`],
    ],
    notes: [
      `A classical message of this text is ${r.bytes.classical} bytes; KEM exchanges mixed per 1,000 hybrid messages: ${r.exchangesPer1000}.`,
      'ML-KEM runs on noble on both backends (Node 20 has no native ML-KEM); the rest on the default backend.',
    ],
  };
}

export const ratchetSuite: Suite = {
  id: 'ratchet',
  title: 'h. Ratchet: the cost of the hybrid ML-KEM ratchet',
  budget: { full: 20_000, quick: 1_500 },
  measure: (ctx) => runRatchet(ctx),
  render: (result) => ({ tables: [ratchetTable(result as RatchetBenchResult)], targets: [] }),
};

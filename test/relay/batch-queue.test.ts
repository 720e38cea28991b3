// batch-queue.ts: requests made while a batch is out go together in the next one, in order,
// within the bounds; one outcome each; a failed batch fails its requests only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BatchQueue } from '../../src/relay/batch-queue.js';

test('the first request goes at once; those made meanwhile wait and go together, in order', async () => {
  const batches: number[][] = [];
  const q = new BatchQueue<number, number>(async (items) => { batches.push([...items]); await new Promise((r) => setTimeout(r, 5)); return items.map((x) => x * 10); }, { maxItems: 100, maxBytes: Infinity });
  const got = await Promise.all([1, 2, 3, 4].map((x) => q.submit(x)));
  assert.equal(got, [10, 20, 30, 40]);
  assert.equal(batches, [[1], [2, 3, 4]]);
});

test('bounded by count and by bytes; a request over the byte bound goes alone', async () => {
  const batches: number[][] = [];
  const q = new BatchQueue<number, void>(async (items) => { batches.push([...items]); return items.map(() => undefined); }, { maxItems: 3, maxBytes: 100 });
  await Promise.all([
    q.submit(0, 1), // alone: nothing waited when it came
    ...[1, 2, 3, 4].map((x) => q.submit(x, 10)), // 3 by count, then 1
    q.submit(5, 500), q.submit(6, 60), q.submit(7, 60), // over the bytes: alone; then 60 + 60 > 100
  ]);
  assert.equal(batches, [[0], [1, 2, 3], [4], [5], [6], [7]]);
});

test('an Error outcome refuses its request only; a failed batch fails its own requests, not the next', async () => {
  let round = 0;
  const q = new BatchQueue<number, number>(async (items) => {
    round++;
    if (round === 2) throw new Error('database down');
    return items.map((x) => (x === 3 ? new RangeError('refused') : x));
  }, { maxItems: 2, maxBytes: Infinity });
  const settle = (p: Promise<number>): Promise<unknown> => p.then((v) => v, (e: unknown) => (e as Error).message);
  const got = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => settle(q.submit(x))));
  // Batches: [1], [2, 3] (fails whole), [4, 5], [6]
  assert.equal(got, [1, 'database down', 'database down', 4, 5, 6]);
  const refused = await settle(q.submit(3));
  assert.is(refused, 'refused');
});

test('idle resolves once every request made so far has its outcome', async () => {
  const q = new BatchQueue<number, number>(async (items) => { await new Promise((r) => setTimeout(r, 5)); return [...items]; }, { maxItems: 1, maxBytes: Infinity });
  let done = 0;
  for (const x of [1, 2, 3]) void q.submit(x).then(() => { done++; });
  await q.idle();
  assert.is(done, 3);
  await q.idle(); // nothing out: at once
});

test.run();

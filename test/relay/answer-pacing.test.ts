// The pacing of forwarded SENDs' refusals (spec/federation.md §5): a refusal leaves with the next
// OK's commit, or after about one commit time when none comes, never at once and never much later.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AnswerPacing } from '../../src/relay/federation/answer-pacing.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('held refusals leave at the next commit, all together, and not before', async () => {
  const p = new AnswerPacing();
  p.committed(400); // commits have been slow: the fallback is far off
  const left: number[] = [];
  void p.hold().then(() => left.push(1));
  void p.hold().then(() => left.push(2));
  await tick();
  assert.equal(left, [], 'held while no commit came');
  p.committed(30);
  await tick();
  assert.equal(left, [1, 2]);
  p.release();
});

test('without commits, a refusal waits about one commit time (0.5–1.5 × the average), then leaves', async () => {
  const p = new AnswerPacing();
  for (let i = 0; i < 200; i++) p.committed(40); // the average converges on 40 ms
  const t0 = performance.now();
  await p.hold();
  const waited = performance.now() - t0;
  assert.ok(waited >= 15 && waited < 400, `waited ${waited.toFixed(1)} ms`);
});

test('release lets every held refusal go (a stopping relay)', async () => {
  const p = new AnswerPacing();
  for (let i = 0; i < 200; i++) p.committed(900);
  const held = [p.hold(), p.hold(), p.hold()];
  p.release();
  await Promise.all(held);
});

test.run();

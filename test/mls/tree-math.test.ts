// Tree arithmetic (src/mls/tree-math.ts) against the MLS working group's tree-math vectors
// (RFC 9420 Appendix C): every node of every tree, each relation checked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { left, nodeWidth, parent, right, root, sibling, isLeaf, directPath, copath, commonAncestor } from '../../src/mls/tree-math.js';
import { readJson } from '../_support/files.js';

interface Case { n_leaves: number; n_nodes: number; root: number; left: (number | null)[]; right: (number | null)[]; parent: (number | null)[]; sibling: (number | null)[] }
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'tree-math.json');

const orNull = (f: () => number): number | null => { try { return f(); } catch { return null; } };

test('every tree-math case: width, root, left, right, parent, sibling', () => {
  let checked = 0;
  for (const c of cases) {
    assert.is(nodeWidth(c.n_leaves), c.n_nodes, `width of ${c.n_leaves}`);
    assert.is(root(c.n_leaves), c.root);
    for (let x = 0; x < c.n_nodes; x++) {
      assert.is(isLeaf(x) ? null : left(x), c.left[x], `left(${x})`);
      assert.is(isLeaf(x) ? null : right(x), c.right[x], `right(${x})`);
      assert.is(orNull(() => parent(x, c.n_leaves)), c.parent[x], `parent(${x}) n=${c.n_leaves}`);
      assert.is(orNull(() => sibling(x, c.n_leaves)), c.sibling[x], `sibling(${x}) n=${c.n_leaves}`);
      checked++;
    }
  }
  assert.is(checked, cases.reduce((s, c) => s + c.n_nodes, 0));
  assert.is(cases.length, 10);
});

test('direct path, copath and common ancestor agree with parent and sibling', () => {
  for (const c of cases) {
    for (let x = 0; x < c.n_nodes; x += 2) {
      const dp = directPath(x, c.n_leaves);
      let p = x;
      for (const y of dp) { assert.is(y, c.parent[p]); p = y; }
      assert.is(dp.length === 0 ? x : dp[dp.length - 1], c.root);
      assert.equal(copath(x, c.n_leaves), (dp.length ? [x, ...dp.slice(0, -1)] : []).map((y) => c.sibling[y]));
      for (let y = 0; y < c.n_nodes; y += 2) {
        const a = commonAncestor(x, y);
        const dpy = [y, ...directPath(y, c.n_leaves)];
        assert.ok([x, ...dp].includes(a) && dpy.includes(a), `common ancestor of ${x},${y}`);
      }
    }
  }
});

test.run();

// metrics-merge.ts: the primary's one /metrics for --processes (spec/scale-out.md §1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeMetrics } from '../../src/relay/metrics-merge.js';

const text = (connections: number, closes: number, mailboxes: number, writable: number, le: number): string => [
  '# HELP sealpost_connections Open WebSocket connections', '# TYPE sealpost_connections gauge', `sealpost_connections ${connections}`,
  '# HELP sealpost_closes_total Connections closed, by close code', '# TYPE sealpost_closes_total counter', `sealpost_closes_total{code="1000"} ${closes}`,
  '# HELP sealpost_mailboxes Mailboxes stored', '# TYPE sealpost_mailboxes gauge', `sealpost_mailboxes ${mailboxes}`,
  '# HELP sealpost_store_writable 1 while writable', '# TYPE sealpost_store_writable gauge', `sealpost_store_writable ${writable}`,
  '# HELP sealpost_commit_latency_seconds Commit time', '# TYPE sealpost_commit_latency_seconds histogram',
  `sealpost_commit_latency_seconds_bucket{le="0.001"} ${le}`, `sealpost_commit_latency_seconds_bucket{le="+Inf"} ${le + 1}`,
  `sealpost_commit_latency_seconds_sum 0.5`, `sealpost_commit_latency_seconds_count ${le + 1}`,
].join('\n') + '\n';

test('counters, histograms and per-process gauges add up; the store is counted once; writable only if all are', () => {
  const merged = mergeMetrics([text(3, 1, 10, 1, 4), text(5, 2, 12, 0, 6)]);
  assert.equal(merged.split('\n'), [
    '# HELP sealpost_connections Open WebSocket connections', '# TYPE sealpost_connections gauge', 'sealpost_connections 8',
    '# HELP sealpost_closes_total Connections closed, by close code', '# TYPE sealpost_closes_total counter', 'sealpost_closes_total{code="1000"} 3',
    '# HELP sealpost_mailboxes Mailboxes stored', '# TYPE sealpost_mailboxes gauge', 'sealpost_mailboxes 12',
    '# HELP sealpost_store_writable 1 while writable', '# TYPE sealpost_store_writable gauge', 'sealpost_store_writable 0',
    '# HELP sealpost_commit_latency_seconds Commit time', '# TYPE sealpost_commit_latency_seconds histogram',
    'sealpost_commit_latency_seconds_bucket{le="0.001"} 10', 'sealpost_commit_latency_seconds_bucket{le="+Inf"} 12',
    'sealpost_commit_latency_seconds_sum 1', 'sealpost_commit_latency_seconds_count 12', '',
  ]);
});

test('a series only one process has is kept; a process that did not answer (empty) changes nothing', () => {
  const a = '# HELP sealpost_errors_total ERR frames\n# TYPE sealpost_errors_total counter\nsealpost_errors_total{code="AUTH"} 2\n';
  const b = '# HELP sealpost_errors_total ERR frames\n# TYPE sealpost_errors_total counter\nsealpost_errors_total{code="QUOTA"} 1\n';
  assert.is(mergeMetrics([a, '', b]), '# HELP sealpost_errors_total ERR frames\n# TYPE sealpost_errors_total counter\nsealpost_errors_total{code="AUTH"} 2\nsealpost_errors_total{code="QUOTA"} 1\n');
  assert.is(mergeMetrics([a]), a, 'one process: its own text');
});

test.run();

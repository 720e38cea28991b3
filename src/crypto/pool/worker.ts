// A CryptoPool worker: selects the backend it was given, then runs packed chunks. Each
// request's buffer arrives transferred and goes back transferred with its results: it was
// allocated by the calling thread, whose memory accounting (and GC) should see it freed,
// rather than wait for this thread's collector, which may not run for a long time.
import { parentPort, workerData } from 'node:worker_threads';
import { getBackend, setBackend } from '../primitives.js';
import type { BackendName } from '../backend.js';
import { execPacked } from './exec.js';

export interface WorkerRequest { readonly id: number; readonly op: string; readonly buf: ArrayBuffer }
export type WorkerReply =
  | { readonly ready: true; readonly backend: BackendName }
  | { readonly id: number; readonly buf: ArrayBuffer; readonly spent: ArrayBuffer }
  | { readonly id: number; readonly error: string };

const port = parentPort;
if (port) {
  const data = workerData as { backend?: BackendName } | undefined;
  if (data?.backend) setBackend(data.backend);
  port.on('message', (msg: WorkerRequest) => {
    let reply: WorkerReply;
    try {
      const buf = execPacked(msg.op, msg.buf);
      reply = { id: msg.id, buf, spent: msg.buf };
      port.postMessage(reply, [buf, msg.buf]);
      return;
    } catch (e) {
      reply = { id: msg.id, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply);
  });
  port.postMessage({ ready: true, backend: getBackend() } satisfies WorkerReply);
}

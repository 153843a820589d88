/**
 * A scan worker thread: loads the engine once (TypeScript, the Python grammar), then reads and
 * analyses the batches of files it is sent and posts back plain findings. Reads only.
 */
import { parentPort } from 'node:worker_threads';
import { initEngine } from '../analyze';
import { processFile } from '../scan';
import type { BatchRequest, BatchResponse, WorkerHello } from './index';

const port = parentPort;
if (port) {
  initEngine().then(
    () => port.postMessage({ type: 'ready' } satisfies WorkerHello),
    (e: unknown) => port.postMessage({ type: 'failed', message: e instanceof Error ? e.message : String(e) } satisfies WorkerHello),
  );
  port.on('message', (req: BatchRequest) => {
    const results = req.tasks.map((t) => processFile(t.abs, t.rel, req.maxFileSize, req.detect, { hash: req.hash, knownHash: t.knownHash }));
    port.postMessage({ id: req.id, results } satisfies BatchResponse);
  });
}

// worker/node.ts: the Node side of the async API — an Explainer whose worker is a worker_threads Worker
// running worker/node-run.js — and explainAsync, one request on a fresh Explainer. A browser build swaps this
// file for one over Web Workers; worker/explainer.ts, run.ts and protocol.ts stay as they are.

import { fail } from '../errors.js';
import { startWorker } from '../platform/node.js';
import { Explainer, type WorkerHandle } from './explainer.js';
import type { ExplainArgs, ExplainResult, Reply, WorkerModelOptions } from './protocol.js';

function startNodeWorker(): WorkerHandle {
  const worker = startWorker(new URL('./node-run.js', import.meta.url));
  worker.unref();
  let onReply: (reply: Reply) => void = () => {};
  let onFailed: (error: Error) => void = () => {};
  let ending = false;
  worker.on('message', (reply: Reply) => onReply(reply));
  worker.on('error', (e: Error) => onFailed(new Error(`the Explainer's worker thread failed: ${e.message}`)));
  worker.on('exit', (code) => {
    if (!ending) onFailed(new Error(`the Explainer's worker thread exited (code ${code})`));
  });
  return {
    post: (message) => worker.postMessage(message),
    listen: (reply, failed) => { onReply = reply; onFailed = failed; },
    keepAlive: (on) => (on ? worker.ref() : worker.unref()),
    terminate: async () => { ending = true; await worker.terminate(); },
  };
}

/**
 * An Explainer over a model folder: a worker thread loads the model (loadClip(modelDir, { dtype, backend }))
 * and runs explain() there, so the calling thread's event loop stays free. Resolves once the model is loaded;
 * a bad folder rejects with loadClip's DecomcamError. Call close() when done (an idle one never keeps the
 * process alive).
 *
 *     const explainer = await createExplainer('weights/tiny-clip');
 *     const ex = await explainer.explain(loadImage('cat.png'), ['a photo of a cat']);
 *     await explainer.close();
 */
export function createExplainer(modelDir: string, options: WorkerModelOptions = {}): Promise<Explainer> {
  if (typeof modelDir !== 'string' || modelDir === '') fail('createExplainer: give the model folder as a path string', 'usage');
  return Explainer.start(startNodeWorker(), modelDir, options);
}

/**
 * explain() off the calling thread, once: loads the model from `modelDir` in a worker thread, explains, and
 * ends the worker. For several requests, keep one Explainer (createExplainer) and skip the reloads.
 */
export async function explainAsync(
  modelDir: string, image: ExplainArgs[0], texts: ExplainArgs[1], options?: ExplainArgs[2],
  modelOptions: WorkerModelOptions = {}): Promise<ExplainResult> {
  const explainer = await createExplainer(modelDir, modelOptions);
  try {
    return await explainer.explain(image, texts, options);
  } finally {
    await explainer.close();
  }
}

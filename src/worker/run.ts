// worker/run.ts: the body of an Explainer's worker. It loads the model from its folder on 'init' (choosing
// the backend as the tools do), then runs explain() for each request and posts the result back, its arrays
// transferred (no copy). Errors travel as data: the Explainer rethrows them as DecomcamError where they were one.
// The port (Node's parentPort, or a Web Worker's self) is given by the platform file (worker/node-run.ts).

import { explain } from '../cam/explain.js';
import type { ClipModel } from '../clip/model.js';
import { loadClip } from '../clip/load.js';
import { DecomcamError } from '../errors.js';
import { chooseBackend } from '../kernels/choose.js';
import { transferables, type ErrorData, type Reply, type Request } from './protocol.js';

/** A message port: how the worker hears requests and posts replies (with a transfer list). */
export interface WorkerPort {
  on(listener: (message: Request) => void): void;
  post(message: Reply, transfer: ArrayBuffer[]): void;
}

function errorData(e: unknown): ErrorData {
  if (e instanceof DecomcamError) return { name: e.name, message: e.message, code: e.code };
  return { name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

/**
 * The worker's message loop: loads the model on init and answers each explain request on port (errors come back as
 * ErrorData).
 */
export function serve(port: WorkerPort): void {
  let model: ClipModel | null = null;
  port.on((msg) => {
    if (msg.type === 'init') {
      try {
        const { dtype = 'float32', backend = 'auto', threads } = msg.options;
        const choice = chooseBackend(backend, threads === undefined ? {} : { threads });
        model = loadClip(msg.modelDir, { dtype, backend: choice.backend });
        port.post({ type: 'ready', backend: choice.backend.name, note: choice.note }, []);
      } catch (e) {
        port.post({ type: 'init-error', error: errorData(e) }, []);
      }
      return;
    }
    try {
      if (!model) throw new DecomcamError('Explainer: the model is not loaded', 'runtime');
      const result = explain(model, ...msg.args);
      port.post({ type: 'result', id: msg.id, result }, transferables(result));
    } catch (e) {
      port.post({ type: 'error', id: msg.id, error: errorData(e) }, []);
    }
  });
}

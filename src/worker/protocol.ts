// worker/protocol.ts: the messages between an Explainer (worker/explainer.ts) and its worker (worker/run.ts),
// the same for Node's worker_threads and a browser's Web Workers. The worker loads the model once ('init'),
// then answers 'explain' requests one at a time, in order; results come back with their arrays transferred.

import type { DType } from '../tensor/tensor.js';
import type { BackendName } from '../kernels/backend.js';
import type { explain } from '../cam/explain.js';

/** The arguments of explain() after the model: (image, texts, options). */
export type ExplainArgs = Parameters<typeof explain> extends [unknown, ...infer Rest] ? Rest : never;
/** What explain() returns. */
export type ExplainResult = ReturnType<typeof explain>;

/** How a worker loads its model: loadClip(modelDir, { dtype, backend }). */
export interface WorkerModelOptions {
  /** float32 (default) or float64. */
  dtype?: DType;
  /** The compute backend inside the worker: 'auto' (default, the fastest that works there) or one by name. */
  backend?: BackendName | 'auto';
  /** The wasm backend's threads inside the worker (default: min(2, cores)). */
  threads?: number;
}

/** The first message to a worker: load the model in modelDir with these options. */
export interface InitMessage { type: 'init'; modelDir: string; options: WorkerModelOptions }
/** A request to a worker: run explain with these arguments; id matches the reply. */
export interface ExplainMessage { type: 'explain'; id: number; args: ExplainArgs }
/** A message to the worker: init, then explain requests. */
export type Request = InitMessage | ExplainMessage;

/**
 * An error as plain data (an Error's class does not survive the structured clone).
 */
export interface ErrorData { name: string; message: string; code?: string }
/** A message from the worker: ready or init-error after init, then a result or an error per explain request id. */
export type Reply =
  | { type: 'ready'; backend: string; note: string }
  | { type: 'init-error'; error: ErrorData }
  | { type: 'result'; id: number; result: ExplainResult }
  | { type: 'error'; id: number; error: ErrorData };

/**
 * The ArrayBuffers under every typed array in a value (each once; shared memory is never transferable).
 */
export function transferables(value: unknown, out = new Set<ArrayBuffer>(), seen = new Set<object>()): ArrayBuffer[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return [...out];
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else {
    for (const v of Object.values(value)) transferables(v, out, seen);
  }
  return [...out];
}

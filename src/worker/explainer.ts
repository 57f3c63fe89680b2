// worker/explainer.ts: Explainer, explain() off the calling thread. It owns one worker (started by a platform
// file: worker/node.ts for Node's worker_threads) that holds the model; explain() posts the request and
// returns a promise, so the caller's event loop stays free while the forward, backward and SVDs run. Requests
// to one Explainer run one at a time, in order (make several Explainers for parallel work). The worker keeps
// the process alive only while a request is pending; close() ends it.

import { DecomcamError, type ErrorCode } from '../errors.js';
import type { ErrorData, ExplainArgs, ExplainResult, Reply, Request, WorkerModelOptions } from './protocol.js';

/** A started worker, as the platform file gives it to an Explainer. */
export interface WorkerHandle {
  post(message: Request): void;
  /** Replies from the worker; `failed` when it stopped (crashed, exited, or could not start). */
  listen(onReply: (reply: Reply) => void, onFailed: (error: Error) => void): void;
  /** Whether an idle worker may let the process exit (it may, until a request is pending). */
  keepAlive(on: boolean): void;
  terminate(): Promise<void>;
}

function rebuild(e: ErrorData): Error {
  if (e.name === 'DecomcamError') return new DecomcamError(e.message, e.code as ErrorCode);
  const err = new Error(`the Explainer's worker failed: ${e.message}`);
  err.name = e.name;
  return err;
}

/** explain() in a worker thread that holds the model: `await explainer.explain(image, texts, options)`. */
export class Explainer {
  private pending = new Map<number, { resolve: (r: ExplainResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;
  private failure: Error | null = null;

  /** The backend the worker runs on, and the line saying why it was chosen. */
  readonly backend: string;
  readonly note: string;

  /** Use createExplainer (worker/node.ts) rather than this: it starts the worker and waits for the model. */
  constructor(private handle: WorkerHandle, ready: { backend: string; note: string }) {
    this.backend = ready.backend;
    this.note = ready.note;
    handle.listen((reply) => this.onReply(reply), (error) => this.onFailed(error));
  }

  /** Starts `handle`'s worker on the model in `modelDir`; resolves once it is loaded (rejects with loadClip's error). */
  static start(handle: WorkerHandle, modelDir: string, options: WorkerModelOptions): Promise<Explainer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      handle.keepAlive(true);
      handle.listen((reply) => {
        if (settled) return;
        settled = true;
        handle.keepAlive(false);
        if (reply.type === 'ready') {
          resolve(new Explainer(handle, reply));
        } else {
          void handle.terminate();
          reject(reply.type === 'init-error' ? rebuild(reply.error) : new Error(`unexpected reply ${reply.type} from the worker`));
        }
      }, (error) => {
        if (!settled) { settled = true; reject(error); }
      });
      handle.post({ type: 'init', modelDir, options });
    });
  }

  /** explain(model, ...args) in the worker; the result is explain()'s, bit for bit. */
  explain(...args: ExplainArgs): Promise<ExplainResult> {
    if (this.closed) return Promise.reject(new DecomcamError('Explainer: explain() after close()', 'usage'));
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.handle.keepAlive(true);
      this.handle.post({ type: 'explain', id, args });
    });
  }

  /** Ends the worker; pending requests are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rejectAll(new DecomcamError('Explainer: closed before the request finished', 'usage'));
    await this.handle.terminate();
  }

  private onReply(reply: Reply): void {
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.handle.keepAlive(false);
    if (reply.type === 'result') p.resolve(reply.result);
    else p.reject(rebuild(reply.error));
  }

  private onFailed(error: Error): void {
    if (this.closed) return;
    this.failure = error;
    this.rejectAll(error);
  }

  private rejectAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.handle.keepAlive(false);
  }
}

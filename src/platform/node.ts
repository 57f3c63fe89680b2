// platform/node.ts: what the library needs from its host that differs between Node and a browser — binary
// files beside the code, the number of cores, environment variables, engine flags, threads (worker_threads)
// and the optional gpu.js package. The browser bundle swaps this file for platform/browser.ts (the same exports
// but startWorker, which only worker/node.ts uses, itself swapped there); nothing else in src/ imports node:os,
// node:v8, node:worker_threads or node:module.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker, workerData } from 'node:worker_threads';

/** Which host this file serves. */
export const PLATFORM: 'node' | 'browser' = 'node';

/** The bytes of a file shipped beside the code (the wasm kernels), by its URL; throws where it is missing. */
export function readBinary(url: URL): Uint8Array {
  return readFileSync(url);
}

/** How many threads the host can run at once. */
export function cpuCount(): number {
  return availableParallelism();
}

/** An environment variable (undefined where unset). */
export function envVar(name: string): string | undefined {
  return process.env[name];
}

/** Sets a V8 flag for the process (Node only; a browser ignores it). */
export function setEngineFlag(flag: string): void {
  setFlagsFromString(flag);
}

/** A running kernel thread, as the wasm backend's pool holds it; error() says why it stopped (null while well). */
export interface KernelThread {
  terminate(): void;
  error(): string | null;
}

/**
 * Starts a kernel thread running `url` (kernels/wasm/worker.js) with `data` (the shared memory, the compiled
 * module, its slot). Node: a worker_thread that never keeps the process alive.
 */
export function startKernelThread(url: URL, data: unknown): KernelThread {
  const worker = startWorker(url, data);
  worker.unref(); // an idle pool never keeps the process alive
  let failed: string | null = null;
  worker.on('error', (e: Error) => { failed = `a kernel thread failed: ${e.message}`; });
  return { terminate: () => void worker.terminate(), error: () => failed };
}

/** Inside a kernel thread: the data it was started with. */
export function kernelThreadData(): Promise<unknown> {
  return Promise.resolve(workerData);
}

/**
 * Whether a thread may block until a thread it just started runs. Node: yes. A browser starts a worker only
 * once its parent's event loop turns, so there the pool starts its threads asynchronously (WasmBackend.ready()).
 */
export const CAN_BLOCK_ON_THREAD_START = true;

/**
 * The parent's node options without those a worker refuses (`node --input-type=module -e …` would otherwise
 * stop every worker from starting).
 */
export function workerExecArgv(): string[] {
  return process.execArgv.filter((a) => !a.startsWith('--input-type'));
}

/**
 * What the library uses of a worker_threads Worker (declared here so that the published types need no
 * @types/node: a consumer's tsc --strict without skipLibCheck compiles).
 */
export interface StartedWorker {
  // 'message' gives the posted value, 'error' an Error, 'exit' the exit code
  on(event: 'message' | 'error' | 'exit', listener: (value: any) => void): unknown;
  postMessage(value: unknown): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/**
 * A worker_thread running `url` with `data`, under the parent's node options (workerExecArgv). V8 options
 * (`node --max-old-space-size=…`, `--wasm-…`) are refused in a worker's execArgv; they are the process's, so the
 * worker runs under them anyway: it is started again without the options Node names as refused. Every worker of
 * the library (the kernel threads, the Explainer's) starts here.
 */
export function startWorker(url: URL, data?: unknown): StartedWorker {
  const argv = workerExecArgv();
  try {
    return new Worker(url, { workerData: data, execArgv: argv });
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    const refused = new Set(String((e as Error).message).replace(/^[^:]*:\s*/, '').split(/,\s*/));
    return new Worker(url, { workerData: data, execArgv: argv.filter((a) => !refused.has(a)) });
  }
}

/** gpu.js's mode that runs GLSL on this host: headless-gl (the native `gl` addon) on Node. */
export const GL_MODE: 'headlessgl' | 'webgl2' = 'headlessgl';

/** The gpu.js package (loaded synchronously on first use; it is an optional peer dependency). */
export function requireGpuJs(): unknown {
  return createRequire(import.meta.url)('gpu.js');
}

/** Whether gpu.js's optional native addon `gl` loads (it is built at install where X11/GL headers are present). */
export function glAddonBuilt(): boolean {
  try {
    const gpujs = createRequire(import.meta.url).resolve('gpu.js');
    createRequire(gpujs)('gl'); // as gpu.js itself finds it
    return true;
  } catch {
    return false;
  }
}

// platform/browser.ts: platform/node.ts for a web page or Web Worker (the browser bundle, tools/build_browser.js,
// puts this file in node.ts's place). The wasm kernels are embedded in the bundle; kernel threads are module
// Web Workers (dist/browser/kernel-worker.js beside the bundle) sharing the wasm memory, which a browser allows
// only in a cross-origin isolated page (COOP/COEP headers); gpu.js is bundled and runs WebGL2.

import fmaKernels from 'decomcam-embedded:kernels-fma.wasm';
import plainKernels from 'decomcam-embedded:kernels.wasm';
import * as gpujs from 'gpu.js';

/** Which host this file serves. */
export const PLATFORM: 'node' | 'browser' = 'browser';

const EMBEDDED: Record<string, Uint8Array> = { 'kernels.wasm': plainKernels, 'kernels-fma.wasm': fmaKernels };

/** The bytes of a file shipped beside the code: here only the embedded wasm kernels, by file name. */
export function readBinary(url: URL): Uint8Array {
  const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  const bytes = EMBEDDED[name];
  if (!bytes) throw new Error(`${name} is not embedded in the browser bundle`);
  return bytes;
}

interface BrowserGlobals {
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  Worker?: new (url: URL, options: { type: 'module'; name: string }) => {
    postMessage(data: unknown): void; terminate(): void;
    addEventListener(type: 'error', fn: (e: { message?: string }) => void): void;
  };
  addEventListener?(type: 'message', fn: (e: { data: unknown }) => void, options: { once: boolean }): void;
}
const g = globalThis as unknown as BrowserGlobals;

/**
 * How many threads the page may use: navigator.hardwareConcurrency where the page is cross-origin isolated
 * (threads share memory only there), else 1.
 */
export function cpuCount(): number {
  return g.crossOriginIsolated ? Math.max(1, g.navigator?.hardwareConcurrency ?? 1) : 1;
}

/** A browser has no environment variables. */
export function envVar(_name: string): string | undefined {
  return undefined;
}

/** A page cannot set engine flags: nothing happens. */
export function setEngineFlag(_flag: string): void {}

/** A running kernel thread; error() says why it failed to start or run (null while it is well). */
export interface KernelThread {
  terminate(): void;
  error(): string | null;
}

/**
 * Starts a kernel thread: a module Web Worker running kernel-worker.js (kernels/wasm/worker.ts bundled) from the
 * bundle's folder, given `data` by message. `url` (the Node file) is not used.
 */
export function startKernelThread(_url: URL, data: unknown): KernelThread {
  if (!g.Worker) throw new Error('this JavaScript context has no Web Workers');
  if ((globalThis as { document?: unknown }).document !== undefined) {
    throw new Error('a page\'s main thread may not wait for kernel threads (Atomics.wait): run decomcam in a Web Worker, ' +
      'or use threads: 1');
  }
  if (!g.crossOriginIsolated) {
    throw new Error('the page is not cross-origin isolated (serve it with the headers Cross-Origin-Opener-Policy: same-origin ' +
      'and Cross-Origin-Embedder-Policy: require-corp), so threads cannot share memory: use threads: 1');
  }
  const worker = new g.Worker(new URL('./kernel-worker.js', import.meta.url), { type: 'module', name: 'decomcam-kernels' });
  let failed: string | null = null;
  worker.addEventListener('error', (e) => { failed = `a kernel thread failed: ${e.message ?? 'it could not load kernel-worker.js'}`; });
  worker.postMessage(data);
  return { terminate: () => worker.terminate(), error: () => failed };
}

/** Inside a kernel thread: the data of the first message. */
export function kernelThreadData(): Promise<unknown> {
  return new Promise((resolve) => g.addEventListener?.('message', (e) => resolve(e.data), { once: true }));
}

/** A browser starts a worker only once its parent's event loop turns: the pool starts threads asynchronously. */
export const CAN_BLOCK_ON_THREAD_START = false;

/** No engine options in a browser. */
export function workerExecArgv(): string[] {
  return [];
}

/** gpu.js's mode that runs GLSL here: WebGL2. */
export const GL_MODE: 'headlessgl' | 'webgl2' = 'webgl2';

/** gpu.js, bundled. */
export function requireGpuJs(): unknown {
  return gpujs;
}

/** No native addons in a browser. */
export function glAddonBuilt(): boolean {
  return false;
}

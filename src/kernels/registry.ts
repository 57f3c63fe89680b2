// kernels/registry.ts: the backends by name. createBackend makes a new one (its threads, memory or GPU
// context belong to the caller, who may close() it); getBackend hands out one shared instance per name
// (made on first ask, never closed by the library). The interface is kernels/backend.ts; choosing one by
// speed (`auto`) is kernels/choose.ts. Nothing starts here: the wasm and gpu backends compile, spawn threads
// or load gpu.js on first use.

import { fail } from '../errors.js';
import type { Backend, BackendName } from './backend.js';
import { createGpuBackend, type GpuMode } from './gpujs/backend.js';
import { tsBackend } from './reference.js';
import { createWasmBackend } from './wasm/backend.js';

/** Every backend name, the reference first. */
export const BACKEND_NAMES: readonly BackendName[] = ['ts', 'wasm', 'gpu'];

/** How to build a backend; each option applies to one backend and is ignored by the others. */
export interface BackendOptions {
  /** wasm: worker threads, ≥ 1 (default: min(2, the machine's cores)). */
  threads?: number;
  /** wasm: the fused multiply-add build — true (required), false, or 'auto' (default: where the engine has relaxed SIMD). */
  fma?: boolean | 'auto';
  /** gpu: gpu.js's mode (default: headlessgl where it works, else webasm). */
  gpuMode?: GpuMode;
}

/** Whether `name` is one of BACKEND_NAMES. */
export function isBackendName(name: unknown): name is BackendName {
  return typeof name === 'string' && (BACKEND_NAMES as readonly string[]).includes(name);
}

function checkName(name: unknown): BackendName {
  if (!isBackendName(name)) {
    fail(`backend "${String(name)}" is not available: choose one of ${BACKEND_NAMES.join(', ')}`, 'usage');
  }
  return name;
}

/** A new backend by name (`ts` is always the one shared reference). Close a wasm or gpu one when done with it. */
export function createBackend(name: BackendName, options: BackendOptions = {}): Backend {
  switch (checkName(name)) {
    case 'ts': return tsBackend;
    case 'wasm': return createWasmBackend({ threads: options.threads, fma: options.fma });
    case 'gpu': return createGpuBackend({ mode: options.gpuMode });
  }
}

const shared = new Map<BackendName, Backend>();

/** The process's shared backend of this name, with default options (an unknown name lists the known ones). */
export function getBackend(name: BackendName): Backend {
  const known = checkName(name);
  let be = shared.get(known);
  if (!be) shared.set(known, (be = createBackend(known)));
  return be;
}

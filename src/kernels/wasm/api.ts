// kernels/wasm/api.ts: the few parts of the JavaScript WebAssembly API the wasm backend uses, typed here
// because the project's TypeScript lib (ES2022, no DOM) does not declare the WebAssembly global.

/** A shared WebAssembly.Memory: its buffer and grow (in 64 KiB pages). */
export interface WasmMemoryObject {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
/** A compiled WebAssembly.Module (opaque). */
export type WasmModuleObject = object;
/** A WebAssembly.Instance: its exports by name. */
export interface WasmInstanceObject {
  readonly exports: Record<string, unknown>;
}

interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemoryObject;
  Module: new (bytes: Uint8Array) => WasmModuleObject;
  validate(bytes: Uint8Array): boolean;
  Instance: new (module: WasmModuleObject, imports: { env: { memory: WasmMemoryObject } }) => WasmInstanceObject;
}

/** The engine's WebAssembly global, typed. */
export const wasmApi: WebAssemblyApi = Reflect.get(globalThis, 'WebAssembly');

/**
 * An instance's exported kernels: every one takes numbers (addresses, sizes, scalars) and returns nothing.
 */
export type Kernels = Record<string, (...args: number[]) => void>;

/** Instantiates the kernels module over the shared memory and returns its exported functions by name. */
export function instantiate(module: WasmModuleObject, memory: WasmMemoryObject): Kernels {
  const kernels: Kernels = {};
  for (const [name, fn] of Object.entries(new wasmApi.Instance(module, { env: { memory } }).exports)) {
    if (typeof fn === 'function') kernels[name] = (...args: number[]) => fn(...args);
  }
  return kernels;
}

// test/helpers/backends.js: the backends a kernel test runs on — wasm on 1 and 2 threads (and the plain build where
// the fused one is the default), gpu.js in webasm and headless-gl mode — as [label, backend or why it is skipped].
import { createWasmBackend } from '../../dist/kernels/wasm/backend.js';
import { createGpuBackend, gpuModeUnavailable } from '../../dist/kernels/gpujs/backend.js';

export function backendsUnderTest() {
  const list = [];
  const wasm1 = createWasmBackend({ threads: 1 });
  const why = wasm1.unavailable();
  const fused = why ? '' : wasm1.fma ? ', fused multiply-add' : ', no relaxed SIMD here: multiply then add';
  list.push([`wasm (1 thread${fused})`, why ?? wasm1], [`wasm (2 threads${fused})`, why ?? createWasmBackend({ threads: 2 })]);
  // the plain build (kernels.wasm) too, where auto took the fused one
  if (!why && wasm1.fma) list.push(['wasm (2 threads, plain build: fma false)', createWasmBackend({ threads: 2, fma: false })]);
  for (const mode of ['webasm', 'headlessgl']) {
    const gwhy = gpuModeUnavailable(mode);
    list.push([`gpu (gpu.js ${mode})`, gwhy ?? createGpuBackend({ mode })]);
  }
  return list;
}

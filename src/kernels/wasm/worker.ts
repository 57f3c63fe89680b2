// kernels/wasm/worker.ts: one worker thread of the wasm backend. It instantiates the kernels over the shared
// memory, says it is ready, then waits on its slot for jobs (see threads.ts for the slot's layout, which,
// with the kernels' order, the starting thread passes in: workerData on Node, the first message in a browser,
// see platform/): run the kernel on its share, record any error, mark the job done.

import { kernelThreadData } from '../../platform/node.js';
import { instantiate } from './api.js';
import type { WasmMemoryObject, WasmModuleObject } from './api.js';
import type { SlotLayout } from './threads.js';

const { memory, module, slot, kernels: names, layout } = (await kernelThreadData()) as {
  memory: WasmMemoryObject; module: WasmModuleObject; slot: number; kernels: string[]; layout: SlotLayout;
};
const { SLOT_BYTES, SEQ, DONE, KERNEL, NARGS, ERROR, READY, ARGS, MAX_ARGS, MESSAGE, MESSAGE_BYTES } = layout;
const kernels = instantiate(module, memory);
const words = new Int32Array(memory.buffer, slot, SLOT_BYTES / 4);
const values = new Float64Array(memory.buffer, slot + ARGS, MAX_ARGS);

Atomics.store(words, READY, 1);
Atomics.notify(words, READY);
let seen = 0;
for (;;) {
  Atomics.wait(words, SEQ, seen);
  seen = Atomics.load(words, SEQ);
  try {
    kernels[names[words[KERNEL]]](...Array.from(values.subarray(0, words[NARGS])));
  } catch (e) {
    const text = new TextEncoder().encode(String(e instanceof Error ? e.message : e)).subarray(0, MESSAGE_BYTES - 1);
    const out = new Uint8Array(memory.buffer, slot + MESSAGE, MESSAGE_BYTES);
    out.fill(0);
    out.set(text);
    words[ERROR] = 1;
  }
  Atomics.store(words, DONE, seen);
  Atomics.notify(words, DONE);
}

// kernels/wasm/threads.ts: runs one exported kernel over a range of output rows (or attention units) on
// `threads` threads: the calling thread takes the first share, worker threads the others (started by
// platform/: worker_threads on Node, Web Workers in a browser), all over the same shared memory. A job is posted through a slot of 32-bit words in that memory and Atomics.wait/notify, so
// a call stays synchronous. Shares are contiguous and never split a sum (see kernels.wat), so the result does
// not depend on the number of threads. A `claimed` job gives every thread the whole range instead, and the
// kernel hands the work out itself, in pieces that again never split a sum ("linear" in kernels.wat).

import { fail } from '../../errors.js';
import { CAN_BLOCK_ON_THREAD_START, startKernelThread } from '../../platform/node.js';
import type { KernelThread } from '../../platform/node.js';
import type { Kernels, WasmModuleObject } from './api.js';
import type { WasmMemory } from './memory.js';

/**
 * The exported kernels a worker may run, by index; each takes its arguments, then lo, hi.
 */
export const KERNELS = ['linear', 'gemm', 'attention', 'attention_backward', 'layernorm', 'quick_gelu', 'quick_gelu_backward',
  'residual', 'linear_modes', 'im2col', 'im2col_panels', 'col2im', 'conv_panels', 'transpose', 'bn_act', 'avgpool'] as const;
/** The name of a kernel a worker may run (one of KERNELS). */
export type KernelName = (typeof KERNELS)[number];

/**
 * A slot: int32 words SEQ (job number, written by the caller), DONE (job number finished, by the worker),
 * KERNEL, NARGS, ERROR (1 if the kernel threw), READY (1 once the worker runs); float64 arguments from
 * byte ARGS; the error message, UTF-8, from byte MESSAGE.
 */
export const SLOT_BYTES = 512;
/** Int32 word indices of a slot's fields (see SLOT_BYTES). */
export const SEQ = 0, DONE = 1, KERNEL = 2, NARGS = 3, ERROR = 4, READY = 5;
/**
 * Byte offsets and sizes in a slot: float64 arguments from ARGS (at most MAX_ARGS), the error message from MESSAGE
 * (MESSAGE_BYTES).
 */
export const ARGS = 64, MAX_ARGS = 24, MESSAGE = 256, MESSAGE_BYTES = 256;
/** The slot layout in one object, as sent to the workers. */
export const SLOT_LAYOUT = { SLOT_BYTES, SEQ, DONE, KERNEL, NARGS, ERROR, READY, ARGS, MAX_ARGS, MESSAGE, MESSAGE_BYTES };
/** The type of SLOT_LAYOUT. */
export type SlotLayout = typeof SLOT_LAYOUT;
const STALL_MS = 120000; // a worker silent this long is taken as dead

/**
 * Options of ThreadPool.run: perThread gives one argument a different value per thread (its scratch), alone keeps
 * a small job on the calling thread, claimed gives every thread the whole range.
 */
export interface RunOptions {
  perThread?: { index: number; base: number; stride: number };
  alone?: boolean;
  claimed?: boolean;
}

/**
 * Runs one exported wasm kernel over a range of rows on the calling thread plus worker_threads, synchronously,
 * through a slot in the shared memory.
 */
export class ThreadPool {
  readonly threads: number;
  private workers: KernelThread[] = [];
  private starting: Promise<void> | null = null;
  private slots: number[] = [];
  private seq = 0;

  constructor(private mem: WasmMemory, private module: WasmModuleObject, private kernels: Kernels, threads: number) {
    this.threads = threads;
  }

  // Starts the workers on first use (the caller blocks until each has instantiated the module).
  private start(): void {
    for (let t = 1; t < this.threads; t++) {
      const slot = this.mem.alloc(SLOT_BYTES);
      new Int32Array(this.mem.memory.buffer, slot, SLOT_BYTES / 4).fill(0);
      // the worker is told the kernels' order and the slot's layout rather than importing them, so it never
      // disagrees with this thread even when the compiled files change on disk while the process runs
      this.workers.push(this.spawn(slot));
      this.slots.push(slot);
    }
    for (const slot of this.slots) {
      const words = new Int32Array(this.mem.memory.buffer, slot, SLOT_BYTES / 4);
      if (Atomics.wait(words, READY, 0, STALL_MS) === 'timed-out') {
        fail(`wasm backend: a worker thread did not start within ${STALL_MS / 1000} s`, 'runtime');
      }
    }
  }

  // One worker on `slot` (cleared here), by the platform: a worker_thread on Node, a Web Worker in a browser.
  private spawn(slot: number): KernelThread {
    new Int32Array(this.mem.memory.buffer, slot, SLOT_BYTES / 4).fill(0);
    return startKernelThread(new URL('./worker.js', import.meta.url),
      { memory: this.mem.memory, module: this.module, slot, kernels: [...KERNELS], layout: SLOT_LAYOUT });
  }

  // Starts the workers without blocking (a browser starts a worker only once the starting thread's event loop
  // turns): resolves once each has instantiated the module. Until then run() keeps every job on the calling
  // thread, which gives the same bits.
  startAsync(): Promise<void> {
    if (this.workers.length > 0 || this.threads < 2) return Promise.resolve();
    return (this.starting ??= (async () => {
      const slots: number[] = [];
      const workers: KernelThread[] = [];
      try {
        for (let t = 1; t < this.threads; t++) {
          const slot = this.mem.alloc(SLOT_BYTES);
          slots.push(slot);
          workers.push(this.spawn(slot));
        }
        const deadline = Date.now() + STALL_MS;
        for (const slot of slots) {
          while (Atomics.load(new Int32Array(this.mem.memory.buffer, slot, SLOT_BYTES / 4), READY) === 0) {
            const why = workers.map((w) => w.error()).find((e) => e !== null);
            if (why) fail(`wasm backend: ${why}`, 'runtime');
            if (Date.now() > deadline) fail(`wasm backend: a worker thread did not start within ${STALL_MS / 1000} s`, 'runtime');
            await new Promise((r) => setTimeout(r, 2));
          }
        }
      } catch (e) {
        for (const w of workers) w.terminate();
        for (const slot of slots) this.mem.release(slot);
        this.starting = null;
        throw e;
      }
      this.workers = workers;
      this.slots = slots;
    })());
  }

  // Ends the workers (a worker waiting for a job is interrupted). The backend drops the pool afterwards.
  close(): void {
    for (const worker of this.workers) worker.terminate();
    this.workers = [];
    this.slots = [];
  }

  // Runs kernel(...args, lo, hi) over [0, units) split in `threads` contiguous shares whose bounds are
  // multiples of `align`; `perThread` gives one argument a different value per thread (its scratch);
  // `alone` keeps a small job on the calling thread; `claimed`: every thread is given all of [0, units) and
  // the kernel hands out the work itself (see "linear" in kernels.wat, which claims items from a counter).
  run(kernel: KernelName, args: number[], units: number, align: number, options: RunOptions = {}): void {
    const { perThread, alone = false, claimed = false } = options;
    let shares = alone ? 1 : Math.max(1, Math.min(this.threads, Math.ceil(units / align)));
    if (shares > 1 && this.workers.length === 0 && !CAN_BLOCK_ON_THREAD_START) shares = 1; // until startAsync() is done
    const per = Math.ceil(units / shares / align) * align;
    const argsFor = (t: number): number[] => {
      const a = args.slice();
      if (perThread) a[perThread.index] = perThread.base + t * perThread.stride;
      return a;
    };
    const range = (t: number): [number, number] => (claimed ? [0, units] : [Math.min(units, t * per), Math.min(units, (t + 1) * per)]);
    if (shares > 1 && this.workers.length === 0) this.start();
    if (args.length + 2 > MAX_ARGS) fail(`wasm backend: ${kernel} has too many arguments`, 'runtime');
    const seq = ++this.seq;
    const posted: number[] = [];
    for (let t = 1; t < shares; t++) {
      const [lo, hi] = range(t);
      if (lo >= hi) continue;
      const slot = this.slots[t - 1];
      const words = new Int32Array(this.mem.memory.buffer, slot, SLOT_BYTES / 4);
      const values = new Float64Array(this.mem.memory.buffer, slot + ARGS, MAX_ARGS);
      const a = argsFor(t);
      a.push(lo, hi);
      values.set(a);
      words[KERNEL] = KERNELS.indexOf(kernel);
      words[NARGS] = a.length;
      words[ERROR] = 0;
      Atomics.store(words, SEQ, seq);
      Atomics.notify(words, SEQ);
      posted.push(slot);
    }
    let error: unknown = null;
    try {
      this.kernels[kernel](...argsFor(0), ...range(0));
    } catch (e) {
      error = e;
    }
    // wait for every posted share, even after an error here, so no worker still writes afterwards
    for (const slot of posted) {
      const words = new Int32Array(this.mem.memory.buffer, slot, SLOT_BYTES / 4);
      for (let done = Atomics.load(words, DONE); done !== seq; done = Atomics.load(words, DONE)) {
        if (Atomics.wait(words, DONE, done, STALL_MS) === 'timed-out') {
          fail(`wasm backend: a worker thread gave no answer for ${kernel} within ${STALL_MS / 1000} s`, 'runtime');
        }
      }
      if (words[ERROR] && !error) {
        const bytes = new Uint8Array(this.mem.memory.buffer, slot + MESSAGE, MESSAGE_BYTES).slice();
        const end = bytes.indexOf(0);
        error = new Error(new TextDecoder().decode(bytes.subarray(0, end < 0 ? MESSAGE_BYTES : end)));
      }
    }
    if (error) fail(`wasm backend: kernel ${kernel} failed: ${error instanceof Error ? error.message : String(error)}`, 'runtime');
  }
}

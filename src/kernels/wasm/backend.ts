// kernels/wasm/backend.ts: the `wasm` Backend — the kernels of kernels.wat (WebAssembly SIMD, float32) on one
// shared memory, on 1 or more threads. Matches the reference (nn/linear.ts, nn/attention.ts) within float32
// tolerances (its sums run in float32, the reference's in float64), and is bit-identical to itself run to run
// and for any number of threads.
// - matmul reads the weight w (N,K) as it lies (it computes outᵀ = w·inpᵀ): nothing is packed at load.
// - alloc(n) gives arrays inside the memory: those reach the kernels without a copy; any other float32 array
//   is copied in (and outputs back) on each call. A CLIP model on this backend keeps its parameters and its
//   activations there (clip/ allocates through kernels/workspace.ts), so its calls copy nothing. prepare(w)
//   copies a weight that lives elsewhere into the memory once (memory ≈ its size).
// - conv2d / conv2dBackward (nn/conv2d.ts, NCHW): im2col and the Linear tiles, one image at a time (conv.ts).
// - float64 arrays (the oracle mode) and gelu (erf) go to the reference kernels.
// - Two builds of the same kernels (see build.js): kernels-fma.wasm fuses the GEMM tiles' multiply-adds with
//   relaxed SIMD's f32x4.relaxed_madd, kernels.wasm multiplies then adds. `fma: 'auto'` (the default) takes the
//   fused one where the engine accepts it as it is: Node 22 and later; Node 20 (V8 11.3) only when started with
//   --experimental-wasm-relaxed-simd or after enableRelaxedSimd() (the library never turns the flag on by
//   itself). The engine fuses where the CPU has FMA and multiplies-then-adds where not, so the bits may differ
//   between machines and builds, never between runs or thread counts on one. DECOMCAM_WASM_FMA=0 (or fma:
//   false) keeps the plain build.
import { fail } from '../../errors.js';
import { cpuCount, envVar, readBinary, setEngineFlag } from '../../platform/node.js';
import type { Float } from '../../tensor/tensor.js';
import type { Activation } from '../../nn/gelu.js';
import { attentionBackward as tsAttentionBackward, attentionForward as tsAttention } from '../../nn/attention.js';
import { activationBackward as tsActivationBackward, activationForward as tsActivation } from '../../nn/gelu.js';
import { layernormForward as tsLayernorm } from '../../nn/layernorm.js';
import { residualForward as tsResidual } from '../../nn/residual.js';
import { batchnormAct as tsBatchnormAct } from '../../nn/batchnorm.js';
import { avgpoolForward as tsAvgpool } from '../../nn/avgpool.js';
import { conv2dBackward as tsConv2dBackward, conv2dForward as tsConv2d } from '../../nn/conv2d.js';
import { linearBackward as tsMatmulBackward, linearForward as tsMatmul } from '../../nn/linear.js';
import { isF32, type Backend } from '../backend.js';
import { instantiate, wasmApi } from './api.js';
import type { Kernels, WasmModuleObject } from './api.js';
import { WasmMemory } from './memory.js';
import { KERNELS, ThreadPool } from './threads.js';
import { convBackward, convForward, type ConvContext } from './conv.js';

/** Options of the wasm backend. */
export interface WasmOptions {
  /** Threads, ≥ 1 (default: the environment's DECOMCAM_THREADS, else min(2, the machine's cores)). */
  threads?: number;
  /** The fused build: true (required), false, or 'auto' (default: where the engine has relaxed SIMD as it runs). */
  fma?: boolean | 'auto';
  /**
   * How a convolution's forward gathers its input: 'fused' (default: im2col, or a 1×1 layer's packing, chunk by
   * chunk inside the GEMM, into a buffer per thread) or 'im2col' (the whole image first, then the GEMM). Both give
   * the same bits (test/conv_kernels.test.js); the choice exists for that test and for benchmarks.
   */
  conv?: 'fused' | 'im2col';
}

/** The wasm backend: WebAssembly SIMD kernels on one shared memory and `threads` threads; close() ends them. */
export interface WasmBackend extends Backend {
  /** How many threads share each kernel. */
  readonly threads: number;
  /** Whether the GEMM tiles fuse multiply-adds (kernels-fma.wasm). */
  readonly fma: boolean;
  // null where it can run here, else why not (the kernels were not built, or no wasm SIMD)
  unavailable(): string | null;
  alloc(n: number, zero?: boolean): Float32Array;
  free(arr: Float32Array): void;
  prepare(w: Float, N: number, K: number): void;
  layernorm(out: Float, mean: Float, rstd: Float, inp: Float, w: Float, b: Float,
    N: number, C: number, eps: number): void;
  activation(act: Activation, out: Float, inp: Float, n: number): void;
  activationBackward(act: Activation, dinp: Float, dout: Float, inp: Float, n: number): void;
  residual(out: Float, x: Float, y: Float, B: number, Nx: number, Ny: number, C: number): void;
  batchnormAct(y: Float, x: Float, w: Float, b: Float, mean: Float, variance: Float,
    N: number, C: number, HW: number, eps: number, add: Float | null, relu: boolean): void;
  avgpool(y: Float, x: Float, NC: number, H: number, W: number, k: number): void;
  conv2d(y: Float, x: Float, w: Float, b: Float | null,
    N: number, C: number, H: number, W: number, O: number, kh: number, kw: number, stride: number, pad: number): void;
  conv2dBackward(dx: Float | null, dw: Float | null, db: Float | null, dy: Float, x: Float, w: Float,
    N: number, C: number, H: number, W: number, O: number, kh: number, kw: number, stride: number, pad: number): void;
  describe(): string;
  // Bytes of the shared memory: handed out by alloc() and per-call scratch (inUse), and its size (grown, never shrunk).
  memoryStats(): { inUse: number; size: number };
  // Starts the worker threads without blocking and resolves once they run. Optional on Node (the first call
  // that needs them starts them); in a browser, where a thread cannot wait for a worker to start, calls keep to
  // the calling thread (the same bits) until ready() has resolved.
  ready(): Promise<void>;
  // Stops the worker threads (they hold the memory) and lets the memory go: the backend, every array from its
  // alloc() and every model on it are unusable afterwards. Without it, both last until the process exits.
  close(): void;
}

const WASM_FILE = new URL('./kernels.wasm', import.meta.url);
const WASM_FMA_FILE = new URL('./kernels-fma.wasm', import.meta.url);
const SMALL = 1 << 17; // multiply-adds below which a GEMM runs on the calling thread alone
const SMALL_ELEMENTWISE = 1 << 19; // elements below which layernorm and quick_gelu stay on the calling thread
// n rounded up to whole panels of 8 (what $pack writes)
const up8 = (n: number): number => Math.ceil(n / 8) * 8;

interface Compiled { module: WasmModuleObject | null; error: string | null }
const compiled = new Map<boolean, WasmModuleObject>();

// One build of the module, compiled once per process (workers receive it compiled). A failure is not kept:
// the fused build may compile later, once relaxed SIMD is enabled.
function compile(fma: boolean): Compiled {
  const done = compiled.get(fma);
  if (done) return { module: done, error: null };
  const file = fma ? WASM_FMA_FILE : WASM_FILE;
  let bytes: Uint8Array;
  try {
    bytes = readBinary(file);
  } catch {
    return { module: null, error: `${file.pathname} is missing (it is built from kernels.wat by \`npm run build\`)` };
  }
  if (fma && !wasmApi.validate(bytes)) {
    return { module: null, error: 'this JavaScript engine has no WebAssembly relaxed SIMD as it runs (Node 20: start ' +
      'node with --experimental-wasm-relaxed-simd, or call enableRelaxedSimd() first; Node 22 has it)' };
  }
  try {
    const module = new wasmApi.Module(bytes);
    compiled.set(fma, module);
    return { module, error: null };
  } catch (e) {
    return { module: null, error: `this JavaScript engine cannot compile the ${fma ? 'fused (relaxed SIMD) ' : ''}kernels ` +
      `(WebAssembly SIMD${fma ? ', relaxed SIMD' : ''} and threads are needed): ${String(e)}` };
  }
}

/**
 * Turns on Node 20's V8 flag --experimental-wasm-relaxed-simd (process-wide; Node 22 and later have relaxed
 * SIMD without it), so that wasm backends made afterwards with `fma: 'auto'` use the fused multiply-add build.
 * An explicit opt-in: the library never calls it; the command-line tools do (unless DECOMCAM_WASM_FMA=0).
 * Returns whether the engine now accepts the fused kernels.
 */
export function enableRelaxedSimd(): boolean {
  let bytes: Uint8Array;
  try {
    bytes = readBinary(WASM_FMA_FILE);
  } catch {
    return false;
  }
  if (wasmApi.validate(bytes)) return true;
  try { setEngineFlag('--experimental-wasm-relaxed-simd'); } catch { /* an engine without the flag */ }
  return wasmApi.validate(bytes);
}

// The build a backend uses: the fused one where asked for and possible.
function pick(fma: boolean | 'auto'): { fma: boolean } & Compiled {
  if (fma === false || (fma === 'auto' && envVar('DECOMCAM_WASM_FMA') === '0')) return { fma: false, ...compile(false) };
  const fused = compile(true);
  if (fused.module || fma === true) return { fma: true, ...fused };
  return { fma: false, ...compile(false) };
}

// A prepared weight: a copy of w (N·K floats, same layout) in the memory, at addr.
interface Resident { addr: number; length: number }

// The default thread count: DECOMCAM_THREADS where set (a job runner's share of the cores, e.g. one per shard
// process), else min(2, available cores).
function defaultThreads(): number {
  const env = envVar('DECOMCAM_THREADS');
  if (env === undefined || env === '') return Math.min(2, cpuCount());
  const n = Number(env);
  if (!/^\d+$/.test(env.trim()) || n < 1) fail(`DECOMCAM_THREADS is "${env}", expected a whole number ≥ 1 (the wasm backend's threads)`, 'usage');
  return n;
}

/**
 * Creates the WebAssembly Backend: kernels over one shared memory, run on options.threads threads (default:
 * DECOMCAM_THREADS where set, else min(2, available cores)).
 */
export function createWasmBackend(options: WasmOptions = {}): WasmBackend {
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) fail(`wasm backend: threads is ${threads}, expected an integer ≥ 1`, 'usage');
  const fmaOption = options.fma ?? 'auto';
  if (fmaOption !== true && fmaOption !== false && fmaOption !== 'auto') {
    fail(`wasm backend: fma is ${String(fmaOption)}, expected true, false or 'auto'`, 'usage');
  }
  const convOption = options.conv ?? 'fused';
  if (convOption !== 'fused' && convOption !== 'im2col') fail(`wasm backend: conv is ${String(convOption)}, expected 'fused' or 'im2col'`, 'usage');
  let build: ReturnType<typeof pick> | null = null;
  const chosen = (): ReturnType<typeof pick> => (build ??= pick(fmaOption));
  let mem: WasmMemory | null = null;
  let pool: ThreadPool | null = null;
  let kernels: Kernels | null = null;
  let closed = false;
  const resident = new WeakMap<ArrayBufferLike, Map<number, Resident>>();

  function init(): { mem: WasmMemory; pool: ThreadPool; kernels: Kernels } {
    if (mem && pool && kernels) return { mem, pool, kernels };
    if (closed) fail('backend "wasm" was closed (close()): create another one', 'usage');
    const { module, error } = chosen();
    if (!module) fail(`backend "wasm" is not available: ${error}`, 'usage');
    const memory = new WasmMemory(1 << 24);
    const exported = instantiate(module, memory.memory);
    const missing = [...KERNELS, 'pack'].filter((k) => !exported[k]);
    if (missing.length) {
      const file = chosen().fma ? WASM_FMA_FILE : WASM_FILE;
      fail(`backend "wasm": ${file.pathname} lacks the kernels ${missing.join(', ')}: it is older than this code ` +
        '(rebuild it with `npm run build`)', 'runtime');
    }
    mem = memory;
    kernels = exported;
    pool = new ThreadPool(mem, module, kernels, threads);
    return { mem, pool, kernels };
  }

  // Per call: the address of each operand, copying foreign arrays into scratch blocks released at the end.
  function call(body: (op: Operands) => void): void {
    const { mem } = init();
    const op = new Operands(mem);
    try {
      body(op);
      op.copyBack();
    } finally {
      op.release();
    }
  }

  // The address of w's values in the memory: w itself, its prepared copy, or a copy made now.
  function weightAddress(op: Operands, w: Float, n: number): number {
    const r = resident.get(w.buffer)?.get(w.byteOffset);
    return r && r.length === w.length ? r.addr : op.input(w, n);
  }

  // What kernels/wasm/conv.ts needs for one call.
  function convContext(op: Operands): ConvContext {
    const { pool, kernels, mem } = init();
    return {
      pool, kernels, mem,
      input: (arr, n) => op.input(arr, n),
      output: (arr, n, accumulate) => op.output(arr, n, accumulate),
      weight: (arr, n) => weightAddress(op, arr, n),
      scratch: (n) => op.scratch(n),
      fused: convOption === 'fused',
    };
  }

  const be: WasmBackend = {
    name: 'wasm',
    threads,

    get fma() {
      return chosen().fma;
    },

    unavailable() {
      return chosen().error;
    },

    describe() {
      return `wasm (WebAssembly SIMD${chosen().fma ? ' + relaxed FMA' : ''}, ${threads} thread${threads > 1 ? 's' : ''})`;
    },

    ready() {
      try {
        return init().pool.startAsync();
      } catch (e) {
        return Promise.reject(e);
      }
    },

    close() {
      pool?.close();
      mem = null;
      pool = null;
      kernels = null;
      closed = true;
    },

    memoryStats() {
      return mem ? { inUse: mem.bytesInUse, size: mem.memory.buffer.byteLength } : { inUse: 0, size: 0 };
    },

    alloc(n, zero = true) {
      const { mem } = init();
      // zeros (a fresh block is not touched: see WasmMemory), or a reused block as it is
      return mem.f32(zero ? mem.allocZeroed(4 * n) : mem.alloc(4 * n), n);
    },

    free(arr) {
      const { mem } = init();
      const addr = mem.blockOf(arr);
      if (addr < 0) fail('wasm backend: free() of an array that alloc() did not return', 'usage');
      mem.release(addr);
    },

    prepare(w, N, K) {
      if (!(w instanceof Float32Array)) return; // float64 weights run on the reference kernels
      if (w.length !== N * K) fail(`wasm backend: prepare of a weight of ${w.length} floats as (${N},${K})`, 'usage');
      const { mem } = init();
      if (mem.addressOf(w) >= 0) return; // already in the memory
      let byOffset = resident.get(w.buffer);
      if (!byOffset) resident.set(w.buffer, (byOffset = new Map()));
      const old = byOffset.get(w.byteOffset);
      if (old) mem.release(old.addr);
      const addr = mem.alloc(4 * N * K);
      mem.f32(addr, N * K).set(w);
      byOffset.set(w.byteOffset, { addr, length: w.length });
    },

    matmul(out, inp, w, b, M, K, N) {
      if (!isF32(out, inp, w, b)) return tsMatmul(out, inp, w, b, M, K, N);
      call((op) => {
        const { pool, kernels, mem } = init();
        // inpᵀ in panels of 8 rows of inp: xp[p][k][l] = inp[8p+l][k]
        const xp = op.scratch(up8(M) * K);
        kernels.pack(xp, op.input(inp, M * K), 4 * K, 4, K, M);
        // the counter the threads claim work items from (kernels.wat's "linear")
        const next = op.scratch(1);
        mem.f32(next, 1)[0] = 0; // the bits of 0.0 are the integer 0
        const args = [op.output(out, M * N, false), weightAddress(op, w, N * K), xp, b ? op.input(b, N) : 0, M, K, N, next];
        pool.run('linear', args, N, 4, { alone: M * N * K < SMALL, claimed: true });
      });
    },

    matmulBackward(dinp, dw, db, dout, inp, w, M, K, N) {
      if (!isF32(dinp, dw, db, dout, inp, w)) return tsMatmulBackward(dinp, dw, db, dout, inp, w, M, K, N);
      call((op) => {
        const { pool, kernels } = init();
        const pdout = op.input(dout, M * N);
        // B operands are packed into panels first: walking a plain (rows, K) matrix down its rows would touch
        // a new page every step
        const panels = (src: number, rows: number): number => {
          const dst = op.scratch(up8(K) * rows);
          kernels.pack(dst, src, 4, 4 * K, rows, K);
          return dst;
        };
        // dinp (M,K) += dout (M,N) · w (N,K)
        if (dinp) {
          pool.run('gemm', [op.output(dinp, M * K, true), 4 * K, pdout, 4 * N, 4,
            panels(weightAddress(op, w, N * K), N), 32 * N, 32, K, N, 1, 0, 1], M, 4, { alone: M * N * K < SMALL });
        }
        // dw (N,K) += doutᵀ (N,M) · inp (M,K): A(n, m) = dout[m,n]
        if (dw) {
          pool.run('gemm', [op.output(dw, N * K, true), 4 * K, pdout, 4, 4 * N,
            panels(op.input(inp, M * K), M), 32 * M, 32, K, M, 1, 0, 1], N, 4, { alone: M * N * K < SMALL });
        }
      });
      // db (N) += Σ_rows dout: O(M·N), the reference loop
      if (db) tsMatmulBackward(null, null, db, dout, inp, w, M, K, N);
    },

    attention(out, att, qkv, B, N, nq, H, hd, causal) {
      if (!isF32(out, att, qkv)) return tsAttention(out, att, qkv, B, N, nq, H, hd, causal);
      const D = H * hd;
      call((op) => {
        // per thread: the head's kᵀ, q, v and att in panels of 8 (see kernels.wat), bytes
        const per = 4 * (up8(N) * hd + up8(nq) * hd + up8(hd) * N + up8(nq) * N);
        const ws = op.scratch((per / 4) * threads);
        const args = [op.output(out, B * nq * D, false), op.output(att, B * H * nq * N, false),
          op.input(qkv, B * N * 3 * D), ws, N, nq, H, hd, causal ? 1 : 0, 1 / Math.sqrt(hd)];
        init().pool.run('attention', args, B * H, 1, { perThread: { index: 3, base: ws, stride: per } });
      });
    },

    attentionBackward(dqkv, datt, dout, att, qkv, B, N, nq, H, hd, causal) {
      if (!isF32(dqkv, datt, dout, att, qkv)) {
        return tsAttentionBackward(dqkv, datt, dout, att, qkv, B, N, nq, H, hd, causal);
      }
      const D = H * hd;
      call((op) => {
        const per = 4 * up8(N) * hd; // vᵀ panels, per thread
        const vt = op.scratch((per / 4) * threads);
        const args = [op.output(dqkv, B * N * 3 * D, true), op.output(datt, B * H * nq * N, false),
          op.input(dout, B * nq * D), op.input(att, B * H * nq * N), op.input(qkv, B * N * 3 * D), vt,
          N, nq, H, hd, causal ? 1 : 0, 1 / Math.sqrt(hd)];
        init().pool.run('attention_backward', args, B * H, 1, { perThread: { index: 5, base: vt, stride: per } });
      });
    },

    layernorm(out, mean, rstd, inp, w, b, N, C, eps) {
      if (!isF32(out, mean, rstd, inp, w, b) || C % 4 !== 0) return tsLayernorm(out, mean, rstd, inp, w, b, N, C, eps);
      call((op) => {
        const args = [op.output(out, N * C, false), op.output(mean, N, false), op.output(rstd, N, false),
          op.input(inp, N * C), op.input(w, C), op.input(b, C), C, eps];
        init().pool.run('layernorm', args, N, 1, { alone: N * C < SMALL_ELEMENTWISE });
      });
    },

    activation(act, out, inp, n) {
      if (act !== 'quick_gelu' || !isF32(out, inp)) return tsActivation(act, out, inp, n);
      call((op) => {
        init().pool.run('quick_gelu', [op.output(out, n, false), op.input(inp, n)], n, 4, { alone: n < SMALL_ELEMENTWISE });
      });
    },

    residual(out, x, y, B, Nx, Ny, C) {
      if (!isF32(out, x, y)) return tsResidual(out, x, y, B, Nx, Ny, C);
      call((op) => {
        const args = [op.output(out, B * Ny * C, false), op.input(x, B * Nx * C), op.input(y, B * Ny * C), Nx, Ny, C];
        init().pool.run('residual', args, B * Ny, 1, { alone: B * Ny * C < SMALL_ELEMENTWISE });
      });
    },

    batchnormAct(y, x, w, b, mean, variance, N, C, HW, eps, add, relu) {
      if (!isF32(y, x, w, b, mean, variance, add)) return tsBatchnormAct(y, x, w, b, mean, variance, N, C, HW, eps, add, relu);
      const n = N * C * HW;
      call((op) => {
        const args = [op.output(y, n, false), op.input(x, n), op.input(w, C), op.input(b, C), op.input(mean, C),
          op.input(variance, C), add ? op.input(add, n) : 0, C, HW, eps, relu ? 1 : 0];
        init().pool.run('bn_act', args, N * C, 1, { alone: n < SMALL_ELEMENTWISE });
      });
    },

    avgpool(y, x, NC, H, W, k) {
      if (!isF32(y, x)) return tsAvgpool(y, x, NC, H, W, k);
      const Ho = Math.floor(H / k), Wo = Math.floor(W / k);
      if (NC * Ho * Wo === 0) return;
      call((op) => {
        const args = [op.output(y, NC * Ho * Wo, false), op.input(x, NC * H * W), H, W, k];
        init().pool.run('avgpool', args, NC, 1, { alone: NC * H * W < SMALL_ELEMENTWISE });
      });
    },

    // nn/conv2d.ts on the GEMM tiles (kernels/wasm/conv.ts); float64 on the reference loops
    conv2d(y, x, w, b, N, C, H, W, O, kh, kw, stride, pad) {
      if (!isF32(y, x, w, b)) return tsConv2d(y, x, w, b, N, C, H, W, O, kh, kw, stride, pad);
      call((op) => convForward(convContext(op), y, x, w, b, N, C, H, W, O, kh, kw, stride, pad));
    },

    conv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad) {
      if (!isF32(dx, dw, db, dy, x, w)) return tsConv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad);
      call((op) => convBackward(convContext(op), dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad));
    },

    activationBackward(act, dinp, dout, inp, n) {
      if (act !== 'quick_gelu' || !isF32(dinp, dout, inp)) return tsActivationBackward(act, dinp, dout, inp, n);
      call((op) => {
        init().pool.run('quick_gelu_backward', [op.output(dinp, n, true), op.input(dout, n), op.input(inp, n)],
          n, 4, { alone: n < SMALL_ELEMENTWISE });
      });
    },
  };
  return be;
}

// The operands of one call. An array already in the memory is used where it is; any other is copied into a
// scratch block (an input, or an output the kernel adds into), and outputs are copied back by copyBack().
class Operands {
  private blocks: number[] = [];
  private back: [Float32Array, number, number][] = []; // [array, address, n]
  constructor(private mem: WasmMemory) {}

  scratch(n: number): number {
    const addr = this.mem.alloc(4 * n);
    this.blocks.push(addr);
    return addr;
  }

  input(arr: Float, n: number): number {
    const at = this.mem.addressOf(arr);
    if (at >= 0) return at;
    const addr = this.scratch(n);
    this.mem.f32(addr, n).set(arr.subarray(0, n));
    return addr;
  }

  output(arr: Float, n: number, accumulate: boolean): number {
    const at = this.mem.addressOf(arr);
    if (at >= 0) return at;
    const addr = accumulate ? this.input(arr, n) : this.scratch(n);
    this.back.push([arr as Float32Array, addr, n]);
    return addr;
  }

  copyBack(): void {
    for (const [arr, addr, n] of this.back) arr.set(this.mem.f32(addr, n));
  }

  release(): void {
    for (const addr of this.blocks) this.mem.release(addr);
  }
}

// kernels/backend.ts: the small interface for the heavy ops — the GEMM of a torch Linear layer and the
// attention core — with their backward. Only the interface: the reference loops live with their layer in
// nn/ (nn/linear.ts, nn/attention.ts; kernels/reference.ts wraps them as the `ts` backend), the backends in
// kernels/wasm and kernels/gpujs, their names and choice in kernels/registry.ts and kernels/choose.ts.
// Kernels are pure functions over flat row-major typed arrays and integer sizes (float32 or float64, same
// code). Forward kernels write (=) their output; backward kernels ADD (+=) into theirs.

import type { Activation } from '../nn/gelu.js';
import type { Float } from '../tensor/tensor.js';

/** The backends decomcam has: `ts` (plain loops, the reference), `wasm` (WebAssembly SIMD on threads), `gpu` (gpu.js). */
export type BackendName = 'ts' | 'wasm' | 'gpu';

/**
 * A compute backend: the GEMM of a Linear layer and the attention core, forward and backward, over flat
 * row-major float32 or float64 arrays. Get one from `chooseBackend` / `createBackend` (or use `tsBackend`).
 */
export interface Backend {
  readonly name: BackendName;

  // out (M,N) = inp (M,K) · w (N,K)ᵀ + b (N), as torch.nn.Linear (weight stored out × in); b null = no bias.
  matmul(out: Float, inp: Float, w: Float, b: Float | null, M: number, K: number, N: number): void;

  // dinp (M,K) += dout·w;  dw (N,K) += doutᵀ·inp;  db (N) += Σ_rows dout.  Each of dinp, dw, db may be null.
  matmulBackward(
    dinp: Float | null, dw: Float | null, db: Float | null,
    dout: Float, inp: Float, w: Float, M: number, K: number, N: number): void;

  // Multi-head self-attention core over qkv (B,N,3D) = [q | k | v] per token, head h in columns h·hd…(h+1)·hd
  // of each part, D = H·hd. For the first nq query tokens of each image (nq = N: all; nq = 1: the class
  // token only): att (B,H,nq,N) = softmax(q·kᵀ/√hd, causal: keys j > query t masked), out (B,nq,D) = att·v.
  attention(
    out: Float, att: Float, qkv: Float,
    B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void;

  // dqkv (B,N,3D) += the gradient of out; datt (B,H,nq,N) is scratch (overwritten).
  attentionBackward(
    dqkv: Float, datt: Float, dout: Float, att: Float, qkv: Float,
    B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void;

  // ---- Optional members (kernels/wasm, kernels/gpujs). Where one is absent, callers use the reference. ----
  /** Why this backend cannot run here (a missing build, engine or package), or null when it can. */
  unavailable?(): string | null;
  /** One line for logs: what runs and how (threads, gpu.js mode). */
  describe?(): string;
  /**
   * Lets the backend's threads, memory or GPU context go. The backend, arrays from its alloc() and every
   * model on it are unusable afterwards. Without it they last until the process exits (they never keep it alive).
   */
  close?(): void;
  // Takes a weight w (N,K) once, at load (the wasm backend copies one that lives outside its memory into it:
  // memory ≈ the weight's size); later matmul/matmulBackward calls given this same array use that copy and do
  // not read w's values again: prepare again after changing w.
  prepare?(w: Float, N: number, K: number): void;
  // n float32 zeros in the backend's own memory: arrays from here reach its kernels without a copy (the wasm
  // backend's shared memory). free() gives one back. zero false: the values are whatever was there (for an
  // output that a kernel writes whole).
  alloc?(n: number, zero?: boolean): Float32Array;
  free?(arr: Float32Array): void;
  // nn/layernorm.ts's layernormForward and nn/gelu.ts's activationForward/activationBackward, same arguments.
  layernorm?(out: Float, mean: Float, rstd: Float, inp: Float, w: Float, b: Float, N: number, C: number, eps: number): void;
  activation?(act: Activation, out: Float, inp: Float, n: number): void;
  activationBackward?(act: Activation, dinp: Float, dout: Float, inp: Float, n: number): void;
  // nn/residual.ts's residualForward, same arguments.
  residual?(out: Float, x: Float, y: Float, B: number, Nx: number, Ny: number, C: number): void;
  // nn/batchnorm.ts's batchnormForward, then (optional) + add as nn/residual.ts and ReLU as nn/relu.ts, in one
  // pass with the same bits as those three run in turn; add null = no sum. nn/batchnorm.ts batchnormActOn.
  batchnormAct?(
    y: Float, x: Float, w: Float, b: Float, mean: Float, variance: Float,
    N: number, C: number, HW: number, eps: number, add: Float | null, relu: boolean): void;
  // nn/avgpool.ts's avgpoolForward, same arguments and bits.
  avgpool?(y: Float, x: Float, NC: number, H: number, W: number, k: number): void;
  // nn/conv2d.ts's conv2dForward / conv2dBackward (NCHW, groups 1), same arguments. A backend that has them
  // handles float32 and float64 alike (falling back to the reference loops where it has no fast path).
  conv2d?(
    y: Float, x: Float, w: Float, b: Float | null,
    N: number, C: number, H: number, W: number, O: number, kh: number, kw: number, stride: number, pad: number): void;
  conv2dBackward?(
    dx: Float | null, dw: Float | null, db: Float | null, dy: Float, x: Float, w: Float,
    N: number, C: number, H: number, W: number, O: number, kh: number, kw: number, stride: number, pad: number): void;
}

/** Whether every given array is float32 (null counts as float32): the backends' fast paths are float32 only. */
export function isF32(...arrays: (Float | null)[]): boolean {
  return arrays.every((a) => a === null || a instanceof Float32Array);
}

// nn/linear.ts: a fully connected layer, as torch.nn.Linear: out = inp · wᵀ + b, w stored (out × in).
// M = rows (images × tokens), K = input features, N = output features. Arrays are flat and row-major.
// The loops live in the backend (kernels/ts/matmul.ts is the reference) so faster kernels can slot in.

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

export function linearForward(
  be: Backend,
  out: Float,                           // (M,N)
  inp: Float, w: Float, b: Float | null, // (M,K) (N,K) (N); b null: no bias (CLIP's projections)
  M: number, K: number, N: number): void {
  be.matmul(out, inp, w, b, M, K, N);
}

// dinp += dout·w,  dw += doutᵀ·inp,  db += Σ_rows dout
export function linearBackward(
  be: Backend,
  dinp: Float | null, dw: Float | null, db: Float | null, // ADDED into; null skips (weights: DecomCAM needs none)
  dout: Float, inp: Float, w: Float,                      // (M,N) (M,K) (N,K)
  M: number, K: number, N: number): void {
  be.matmulBackward(dinp, dw, db, dout, inp, w, M, K, N);
}

// nn/layernorm.ts: LayerNorm over the last axis, as torch.nn.LayerNorm (biased variance, eps inside the root).
// N = rows (images × tokens), C = channels. Arrays are flat and row-major.
// Mean and variance are summed in float64 (two passes), so the float32 result is rounded once.
// layernormOn runs the forward on the backend's own kernel where it has one (kernels/wasm), else this loop.

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

/**
 * LayerNorm forward over rows (N, C), as torch.nn.LayerNorm: out = (inp − mean)·rstd·w + b, keeping mean and rstd
 * (N) for backward.
 */
export function layernormForward(
  out: Float, mean: Float, rstd: Float, // (N,C) (N) (N); mean and 1/std are kept for backward
  inp: Float, w: Float, b: Float,       // (N,C) (C) (C)
  N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += inp[row + c];
    const m = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const x = inp[row + c] - m;
      v += x * x;
    }
    const r = 1 / Math.sqrt(v / C + eps);
    mean[n] = m;
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[row + c] = (inp[row + c] - m) * r * w[c] + b[c];
  }
}

/**
 * layernormForward, or the backend's kernel for it (same arguments, within its stated float32 tolerance).
 */
export function layernormOn(
  be: Backend, out: Float, mean: Float, rstd: Float, inp: Float, w: Float, b: Float,
  N: number, C: number, eps: number): void {
  if (be.layernorm) be.layernorm(out, mean, rstd, inp, w, b, N, C, eps);
  else layernormForward(out, mean, rstd, inp, w, b, N, C, eps);
}

/**
 * with xhat = (x − mean)·rstd and g = dout·w:
 *   dx = rstd·(g − mean(g) − xhat·mean(g·xhat)),   dw = Σ_rows dout·xhat,   db = Σ_rows dout
 */
export function layernormBackward(
  dinp: Float, dw: Float | null, db: Float | null,     // ADDED into (+=); null skips weight grads
  dout: Float, inp: Float, w: Float, mean: Float, rstd: Float, // (N,C) (N,C) (C) (N) (N)
  N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    const m = mean[n];
    const r = rstd[n];
    let gMean = 0;
    let gxMean = 0;
    for (let c = 0; c < C; c++) {
      const g = dout[row + c] * w[c];
      gMean += g;
      gxMean += g * (inp[row + c] - m) * r;
    }
    gMean /= C;
    gxMean /= C;
    for (let c = 0; c < C; c++) {
      const xhat = (inp[row + c] - m) * r;
      dinp[row + c] += r * (dout[row + c] * w[c] - gMean - xhat * gxMean);
    }
  }
  if (dw || db) {
    for (let c = 0; c < C; c++) {
      let sw = 0;
      let sb = 0;
      for (let n = 0; n < N; n++) {
        sw += dout[n * C + c] * (inp[n * C + c] - mean[n]) * rstd[n];
        sb += dout[n * C + c];
      }
      if (dw) dw[c] += sw;
      if (db) db[c] += sb;
    }
  }
}

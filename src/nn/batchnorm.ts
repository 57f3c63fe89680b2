// nn/batchnorm.ts: BatchNorm2d in eval mode, as torch.nn.BatchNorm2d after model.eval(): each channel is an
// affine map with the running statistics, y = (x − running_mean)·w/√(running_var + eps) + b (eps 1e-5).
// NCHW: N images, C channels, HW = H·W positions. The statistics are constants, so backward is a scale per channel.

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';
import { reluForward } from './relu.js';
import { residualForward } from './residual.js';

/**
 * BatchNorm2d forward (eval mode): y[n,c,i] = (x[n,c,i] − mean[c])·w[c]/√(var[c] + eps) + b[c]; float64 arithmetic.
 */
export function batchnormForward(
  y: Float,                                        // (N,C,HW)
  x: Float, w: Float, b: Float, mean: Float, variance: Float, // (N,C,HW) (C) (C) (C) (C)
  N: number, C: number, HW: number, eps: number): void {
  for (let c = 0; c < C; c++) {
    const scale = w[c] / Math.sqrt(variance[c] + eps);
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) y[o + i] = (x[o + i] - mean[c]) * scale + b[c];
    }
  }
}

/**
 * y = relu?(batchnorm(x) + add?): batchnormForward, then residualForward's sum where add is given, then
 * reluForward where relu is true — three passes here; a backend may fuse them (Backend.batchnormAct, same bits).
 */
export function batchnormAct(
  y: Float,                                        // (N,C,HW)
  x: Float, w: Float, b: Float, mean: Float, variance: Float, // (N,C,HW) (C) (C) (C) (C)
  N: number, C: number, HW: number, eps: number,
  add: Float | null, relu: boolean): void {         // (N,C,HW) or null
  const n = N * C * HW;
  batchnormForward(y, x, w, b, mean, variance, N, C, HW, eps);
  if (add) residualForward(y, y, add, 1, n, n, 1);
  if (relu) reluForward(y, y, n);
}

/** batchnormAct, or the backend's fused kernel for it. */
export function batchnormActOn(
  be: Backend, y: Float, x: Float, w: Float, b: Float, mean: Float, variance: Float,
  N: number, C: number, HW: number, eps: number, add: Float | null, relu: boolean): void {
  if (be.batchnormAct) be.batchnormAct(y, x, w, b, mean, variance, N, C, HW, eps, add, relu);
  else batchnormAct(y, x, w, b, mean, variance, N, C, HW, eps, add, relu);
}

/**
 * forward was y = (x − mean)·s + b with s = w/√(var + eps) a constant per channel, so
 *   dx += dy·s,   dw += Σ dy·(x − mean)/√(var + eps),   db += Σ dy   (over n and positions; null skips)
 */
export function batchnormBackward(
  dx: Float | null, dw: Float | null, db: Float | null, // (N,C,HW) (C) (C), ADDED into
  dy: Float, x: Float, w: Float, mean: Float, variance: Float, // (N,C,HW) (N,C,HW) (C) (C) (C)
  N: number, C: number, HW: number, eps: number): void {
  for (let c = 0; c < C; c++) {
    const rstd = 1 / Math.sqrt(variance[c] + eps);
    const scale = w[c] / Math.sqrt(variance[c] + eps);
    let sw = 0, sb = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) {
        if (dx) dx[o + i] += dy[o + i] * scale;
        sw += dy[o + i] * (x[o + i] - mean[c]) * rstd;
        sb += dy[o + i];
      }
    }
    if (dw) dw[c] += sw;
    if (db) db[c] += sb;
  }
}

// nn/avgpool.ts: average pooling with kernel = stride = k and no padding, as torch.nn.AvgPool2d(k) — the
// anti-aliased downsampling of OpenAI's ModifiedResNet (AvgPool2d(2) after the stem, AvgPool2d(stride) in a
// Bottleneck). NCHW: N·C planes of H × W → Ho × Wo = ⌊H/k⌋ × ⌊W/k⌋ (a ragged edge is dropped, as torch does).

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

/**
 * y[p,oy,ox] = (1/k²)·Σ_{ky,kx<k} x[p, oy·k+ky, ox·k+kx] over NC = N·C planes; sums in float64, row by row.
 */
export function avgpoolForward(
  y: Float,                                 // (NC,Ho,Wo)
  x: Float,                                 // (NC,H,W)
  NC: number, H: number, W: number, k: number): void {
  const Ho = Math.floor(H / k), Wo = Math.floor(W / k);
  const inv = 1 / (k * k);
  for (let p = 0; p < NC; p++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        let s = 0;
        for (let ky = 0; ky < k; ky++) {
          const r = (p * H + oy * k + ky) * W + ox * k;
          for (let kx = 0; kx < k; kx++) s += x[r + kx];
        }
        y[(p * Ho + oy) * Wo + ox] = s * inv;
      }
    }
  }
}

/** avgpoolForward, or the backend's kernel for it (same arguments, same bits). */
export function avgpoolOn(be: Backend, y: Float, x: Float, NC: number, H: number, W: number, k: number): void {
  if (be.avgpool) be.avgpool(y, x, NC, H, W, k);
  else avgpoolForward(y, x, NC, H, W, k);
}

/**
 * forward was y = mean of each k × k window, so each x in a window gets dx += dy/k² (the dropped edge gets 0)
 */
export function avgpoolBackward(
  dx: Float,                                // (NC,H,W) ADDED into
  dy: Float,                                // (NC,Ho,Wo)
  NC: number, H: number, W: number, k: number): void {
  const Ho = Math.floor(H / k), Wo = Math.floor(W / k);
  const inv = 1 / (k * k);
  for (let p = 0; p < NC; p++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const g = dy[(p * Ho + oy) * Wo + ox] * inv;
        for (let ky = 0; ky < k; ky++) {
          const r = (p * H + oy * k + ky) * W + ox * k;
          for (let kx = 0; kx < k; kx++) dx[r + kx] += g;
        }
      }
    }
  }
}

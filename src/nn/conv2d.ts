// nn/conv2d.ts: a 2-D convolution, as torch.nn.Conv2d with groups = 1, dilation = 1 and zero padding:
// y (N,O,Ho,Wo) = conv(x (N,C,H,W), w (O,C,kh,kw)) + b (O), Ho = ⌊(H + 2·pad − kh)/stride⌋ + 1 (Wo alike).
// conv2dForward / conv2dBackward are the reference: plain loops, every sum in float64 in a fixed order
// (c, then ky, then kx; for dw: n, then oy, then ox), rounded once on store. conv2dOn / conv2dBackwardOn run a
// backend's kernel where it has one (kernels/wasm, kernels/gpujs) and these loops otherwise.

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

/** The output side of a convolution: ⌊(size + 2·pad − k)/stride⌋ + 1. */
export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/**
 * Conv2d forward (reference loops): y[n,o,oy,ox] = b[o] + Σ_c Σ_ky Σ_kx x[n,c,oy·s−p+ky, ox·s−p+kx]·w[o,c,ky,kx],
 * positions outside x count as 0; sums in float64. b null = no bias.
 */
export function conv2dForward(
  y: Float,                                  // (N,O,Ho,Wo)
  x: Float, w: Float, b: Float | null,       // (N,C,H,W) (O,C,kh,kw) (O)
  N: number, C: number, H: number, W: number,
  O: number, kh: number, kw: number, stride: number, pad: number): void {
  const Ho = convOutSize(H, kh, stride, pad), Wo = convOutSize(W, kw, stride, pad);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const yo = (n * O + o) * Ho * Wo;
      for (let oy = 0; oy < Ho; oy++) {
        for (let ox = 0; ox < Wo; ox++) {
          let s = 0;
          for (let c = 0; c < C; c++) {
            const xc = (n * C + c) * H * W, wc = (o * C + c) * kh * kw;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * stride - pad + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * stride - pad + kx;
                if (ix < 0 || ix >= W) continue;
                s += x[xc + iy * W + ix] * w[wc + ky * kw + kx];
              }
            }
          }
          y[yo + oy * Wo + ox] = s + (b ? b[o] : 0);
        }
      }
    }
  }
}

/**
 * forward was y[n,o,oy,ox] = b[o] + Σ x[n,c,iy,ix]·w[o,c,ky,kx] with iy = oy·s−p+ky, ix = ox·s−p+kx, so
 *   dx[n,c,iy,ix] += Σ_{o,ky,kx} dy[n,o,oy,ox]·w[o,c,ky,kx]   (over the (oy,ox) that reach (iy,ix))
 *   dw[o,c,ky,kx] += Σ_{n,oy,ox} dy[n,o,oy,ox]·x[n,c,iy,ix],   db[o] += Σ_{n,oy,ox} dy[n,o,oy,ox]
 * Each of dx, dw, db may be null (skipped); all are ADDED into. Sums in float64.
 */
export function conv2dBackward(
  dx: Float | null, dw: Float | null, db: Float | null, // ADDED into; null skips
  dy: Float, x: Float, w: Float,                        // (N,O,Ho,Wo) (N,C,H,W) (O,C,kh,kw)
  N: number, C: number, H: number, W: number,
  O: number, kh: number, kw: number, stride: number, pad: number): void {
  const Ho = convOutSize(H, kh, stride, pad), Wo = convOutSize(W, kw, stride, pad);
  if (dx) {
    // gather form: for each input position, the output positions oy with oy·s − p + ky = iy
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const xc = (n * C + c) * H * W;
        for (let iy = 0; iy < H; iy++) {
          for (let ix = 0; ix < W; ix++) {
            let s = 0;
            for (let o = 0; o < O; o++) {
              const yo = (n * O + o) * Ho * Wo, wc = (o * C + c) * kh * kw;
              for (let ky = 0; ky < kh; ky++) {
                const t = iy + pad - ky;
                if (t < 0 || t % stride !== 0) continue;
                const oy = t / stride;
                if (oy >= Ho) continue;
                for (let kx = 0; kx < kw; kx++) {
                  const u = ix + pad - kx;
                  if (u < 0 || u % stride !== 0) continue;
                  const ox = u / stride;
                  if (ox >= Wo) continue;
                  s += dy[yo + oy * Wo + ox] * w[wc + ky * kw + kx];
                }
              }
            }
            dx[xc + iy * W + ix] += s;
          }
        }
      }
    }
  }
  if (dw) {
    for (let o = 0; o < O; o++) {
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            let s = 0;
            for (let n = 0; n < N; n++) {
              const yo = (n * O + o) * Ho * Wo, xc = (n * C + c) * H * W;
              for (let oy = 0; oy < Ho; oy++) {
                const iy = oy * stride - pad + ky;
                if (iy < 0 || iy >= H) continue;
                for (let ox = 0; ox < Wo; ox++) {
                  const ix = ox * stride - pad + kx;
                  if (ix < 0 || ix >= W) continue;
                  s += dy[yo + oy * Wo + ox] * x[xc + iy * W + ix];
                }
              }
            }
            dw[((o * C + c) * kh + ky) * kw + kx] += s;
          }
        }
      }
    }
  }
  if (db) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let n = 0; n < N; n++) {
        const yo = (n * O + o) * Ho * Wo;
        for (let i = 0; i < Ho * Wo; i++) s += dy[yo + i];
      }
      db[o] += s;
    }
  }
}

/** conv2dForward on the backend's kernel where it has one (float32 only there), else the reference loops. */
export function conv2dOn(
  be: Backend, y: Float, x: Float, w: Float, b: Float | null,
  N: number, C: number, H: number, W: number,
  O: number, kh: number, kw: number, stride: number, pad: number): void {
  if (be.conv2d) be.conv2d(y, x, w, b, N, C, H, W, O, kh, kw, stride, pad);
  else conv2dForward(y, x, w, b, N, C, H, W, O, kh, kw, stride, pad);
}

/** conv2dBackward on the backend's kernel where it has one, else the reference loops. */
export function conv2dBackwardOn(
  be: Backend, dx: Float | null, dw: Float | null, db: Float | null, dy: Float, x: Float, w: Float,
  N: number, C: number, H: number, W: number,
  O: number, kh: number, kw: number, stride: number, pad: number): void {
  if (be.conv2dBackward) be.conv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad);
  else conv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad);
}

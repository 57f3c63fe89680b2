// image/blur.ts: scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate) on (H, W), and per channel
// on (C, H, W) (sigma 0 along C). As scipy does it: one 1-D correlation per axis, axis 0 first; the kernel
// has radius int(truncate·σ + 0.5) and weights exp(−x²/2σ²) normalised to sum 1; 'reflect' extends a line as
// (d c b a | a b c d | d c b a), repeating as often as the radius needs. Each line is computed in double;
// between the two axes the values are stored in the tensor's dtype, as scipy stores them in its output.

import { fail } from '../errors.js';
import { allocFloat, dtypeOf, type Float, type Tensor } from '../tensor/tensor.js';

/**
 * scipy's _gaussian_kernel1d(sigma, 0, radius): weights for offsets −radius … radius (symmetric).
 */
export function gaussianKernel1d(sigma: number, radius: number): Float64Array {
  const c = -0.5 / (sigma * sigma);
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = 0; i < k.length; i++) {
    const x = i - radius;
    k[i] = Math.exp(c * x * x);
    sum += k[i];
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

// Index of position i (any integer) in a line of length n under 'reflect': period 2n, mirrored halves.
function reflect(i: number, n: number): number {
  const m = ((i % (2 * n)) + 2 * n) % (2 * n);
  return m < n ? m : 2 * n - 1 - m;
}

// scipy's correlate1d along one axis with a symmetric kernel: out[t] = x[t]·w0 + Σ_{j=r..1} (x[t−j] + x[t+j])·wj,
// summed in that order (ni_filters.c, symmetric branch). The array is (outer, n, inner) around the axis.
function correlateAxis(out: Float, inp: Float, outer: number, n: number, inner: number, k: Float64Array): void {
  const r = (k.length - 1) / 2;
  const line = new Float64Array(n + 2 * r); // the line with r reflected samples on each side
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let t = -r; t < n + r; t++) line[t + r] = inp[base + reflect(t, n) * inner];
      for (let t = 0; t < n; t++) {
        const c = t + r;
        let s = line[c] * k[r];
        for (let j = r; j >= 1; j--) s += (line[c - j] + line[c + j]) * k[r + j];
        out[base + t * inner] = s;
      }
    }
  }
}

/**
 * x: (H, W) or (C, H, W); a new tensor of the same shape and dtype. sigma ≤ 1e-15 leaves the image as is,
 * as scipy skips such axes.
 */
export function gaussianFilter(x: Tensor, sigma: number, truncate = 4.0): Tensor {
  const rank = x.shape.length;
  if (rank !== 2 && rank !== 3) fail(`gaussianFilter: expected an (H, W) or (C, H, W) tensor, got [${x.shape.join(', ')}]`);
  if (!Number.isFinite(sigma) || sigma < 0) fail(`gaussianFilter: sigma ${sigma} must be a finite number ≥ 0`);
  if (!Number.isFinite(truncate) || truncate < 0) fail(`gaussianFilter: truncate ${truncate} must be a finite number ≥ 0`);
  const [C, H, W] = rank === 3 ? x.shape : [1, ...x.shape];
  const dtype = dtypeOf(x.data);
  if (sigma <= 1e-15 || x.data.length === 0) return { data: x.data.slice(), shape: [...x.shape] };
  const k = gaussianKernel1d(sigma, Math.trunc(truncate * sigma + 0.5));
  const mid = allocFloat(dtype, x.data.length); // after the first axis, rounded to the dtype
  const out = allocFloat(dtype, x.data.length);
  correlateAxis(mid, x.data, C, H, W, k);      // along H (axis 0 of each image)
  correlateAxis(out, mid, C * H, W, 1, k);     // along W
  return { data: out, shape: [...x.shape] };
}

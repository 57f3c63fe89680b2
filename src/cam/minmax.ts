// cam/minmax.ts: the min-max normalisation every CAM ends with, in one home — pytorch-grad-cam's
// scale_cam_image ((x − min) / (max − min + eps)) on each map of a batch, and the ReLU before it.
// x is (B, n): B maps of n values each, row-major; everything is in place on float64.

/** pytorch-grad-cam's eps: / (max + 1e-7) keeps a constant map finite. */
export const MINMAX_EPS = 1e-7;

/** In place: x = max(x, 0). */
export function relu(x: Float64Array): Float64Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.max(x[i], 0);
  return x;
}

/** In place on x[o : o+n]: x − min, then / (max + eps) (max after the shift, which is max − min exactly). With
 * eps = 0 a constant map becomes all zeros rather than NaN: the division is skipped when max + eps is 0. */
export function minMax(x: Float64Array, eps: number, o = 0, n = x.length - o): Float64Array {
  let lo = Infinity;
  for (let i = o; i < o + n; i++) lo = Math.min(lo, x[i]);
  let hi = -Infinity;
  for (let i = o; i < o + n; i++) {
    x[i] -= lo;
    hi = Math.max(hi, x[i]);
  }
  const d = hi + eps;
  if (d > 0) for (let i = o; i < o + n; i++) x[i] /= d;
  return x;
}

/** In place: each of the B maps of x (B, n) min-max'd on its own. */
export function minMaxRows(x: Float64Array, B: number, eps: number): Float64Array {
  const n = x.length / B;
  for (let b = 0; b < B; b++) minMax(x, eps, b * n, n);
  return x;
}

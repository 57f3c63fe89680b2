// linalg/jacobi.ts: one-sided (Hestenes) Jacobi SVD in float64 of any m×n matrix, A = U·diag(S)·Vt,
// matching numpy.linalg.svd(A, full_matrices) up to the sign of each singular pair (and the choice of
// basis where singular values repeat or are zero). Plane rotations make the columns of A mutually
// orthogonal (the rows, for a wide A, i.e. the columns of Aᵀ); then S = their norms, U = them normalised, and
// V = the product of the rotations. m rows, n columns, r = min(m, n) singular values.

import { fail } from '../errors.js';
import { tensor, type Float, type Tensor } from '../tensor/tensor.js';
import { EPS, completeOrthonormalRows, readMatrix } from './matrix.js';

/** A singular value decomposition A = U·diag(S)·Vt (r = min(m, n)), float64. */
export interface Svd {
  U: Tensor;       // (m, r) thin, (m, m) full: orthonormal columns, float64
  S: Float64Array; // (r) descending, ≥ 0
  Vt: Tensor;      // (r, n) thin, (n, n) full: orthonormal rows, float64
  sweeps: number;  // Jacobi sweeps run, the last of which rotated nothing
}

/** Options of jacobiSvd: full gives U (m, m) and Vt (n, n) (default thin). */
export interface JacobiOptions {
  full?: boolean;  // U (m, m) and Vt (n, n), as full_matrices=True; default thin
}

// Convergence: a pair of columns (p, q) is rotated when |a_p·a_q| > tol·‖a_p‖·‖a_q‖ with
// tol = √L·eps (L = column length), i.e. when the cosine of their angle is above what rounding alone
// leaves (LAPACK's dgesvj uses the same √L·eps). The SVD has converged when a whole sweep over all
// pairs rotates nothing: then UᵀU = I to about √L·eps and U·S·Vt = A to rounding. Cyclic Jacobi
// converges quadratically, in 6–12 sweeps for the sizes here; JACOBI_MAX_SWEEPS only guards a bug.
const JACOBI_MAX_SWEEPS = 60;
// After scaling the matrix so that its largest entry is in [1, 2), a column whose squared norm is below
// 2^-1000 (norm below ~1e-150 of the largest entry) counts as zero: it is not rotated, and its singular
// vector comes from the orthonormal completion instead (dividing it by its norm would not be orthonormal).
const ZERO_COLUMN_SQ = 2 ** -1000;

/**
 * The SVD of a 2-D tensor (m, n) by one-sided cyclic Jacobi, computed in float64; throws DecomcamError for a
 * non-2-D or non-finite input.
 */
export function jacobiSvd(a: Tensor, opts?: JacobiOptions): Svd;
/** The SVD of a row-major (m, n) array by one-sided cyclic Jacobi, computed in float64. */
export function jacobiSvd(data: Float, m: number, n: number, opts?: JacobiOptions): Svd;
/** Implementation of the jacobiSvd overloads: reads the matrix, then jacobiSvd64. */
export function jacobiSvd(x: Tensor | Float, mOrOpts?: number | JacobiOptions, n?: number,
  opts: JacobiOptions = {}): Svd {
  const A = typeof mOrOpts === 'number' ? readMatrix('jacobiSvd input', x, mOrOpts, n) : readMatrix('jacobiSvd input', x);
  const o = typeof mOrOpts === 'object' ? mOrOpts : opts;
  return jacobiSvd64(A.data, A.m, A.n, o.full ?? false);
}

/**
 * The same, on a float64 matrix the caller has checked (finite, a (m, n) row-major array). `a` is not modified.
 */
export function jacobiSvd64(a: Float64Array, m: number, n: number, full = false): Svd {
  // The columns of A are rotated as rows of W: W = Aᵀ (n, m) when A is tall, W = A (m, n) when it is wide,
  // so W has k = min(m, n) rows of length L = max(m, n) and Jacobi works on the tall orientation.
  const tall = m >= n;
  const k = tall ? n : m;
  const L = tall ? m : n;
  const W = new Float64Array(k * L);
  if (tall) {
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) W[j * L + i] = a[i * n + j];
  } else {
    W.set(a);
  }
  const { sigma, isZero, Vrows, sweeps } = orthogonaliseRows(W, k, L);

  // Descending order; equal values keep their index order, so the result is deterministic.
  const order = Array.from({ length: k }, (_, i) => i).sort((p, q) => sigma[q] - sigma[p] || p - q);
  const S = Float64Array.from(order, (p) => sigma[p]);

  // Ū = the (normalised) rows of W, in order: (k, L) thin, (L, L) full. Rows of zero columns, and the extra
  // rows of the full form, are completed to an orthonormal set.
  const kU = full ? L : k;
  const Ubar = new Float64Array(kU * L);
  const valid = new Uint8Array(kU);
  for (let j = 0; j < k; j++) {
    const p = order[j];
    if (isZero[p]) continue;
    Ubar.set(W.subarray(p * L, (p + 1) * L), j * L);
    valid[j] = 1;
  }
  completeOrthonormalRows(Ubar, kU, L, valid);

  // V̄ (k, k): row j is the right singular vector of W's j-th singular value (the rotations' product).
  const Vbar = new Float64Array(k * k);
  for (let j = 0; j < k; j++) Vbar.set(Vrows.subarray(order[j] * k, order[j] * k + k), j * k);

  if (tall) {
    // A = Ūᵀ·S·V̄: U = Ūᵀ (m, kU), Vt = V̄ (n, n).
    const U = new Float64Array(m * kU);
    for (let j = 0; j < kU; j++) for (let i = 0; i < m; i++) U[i * kU + j] = Ubar[j * L + i];
    return { U: tensor(U, [m, kU]), S, Vt: tensor(Vbar, [n, n]), sweeps };
  }
  // Aᵀ = Ūᵀ·S·V̄, so A = V̄ᵀ·S·Ū: U = V̄ᵀ (m, m), Vt = Ū (kU, n).
  const U = new Float64Array(m * m);
  for (let j = 0; j < m; j++) for (let i = 0; i < m; i++) U[i * m + j] = Vbar[j * m + i];
  return { U: tensor(U, [m, m]), S, Vt: tensor(Ubar, [kU, n]), sweeps };
}

// Rotates the k rows of W (k, L), k ≤ L, until they are mutually orthogonal (see the convergence note
// above). On return the non-zero rows of W are normalised (they are the left singular vectors); also returns
// sigma (k), which rows count as zero, and the accumulated rotation as rows: Vrows (k, k) with
// W_original = Vrowsᵀ·diag(sigma)·W_final, i.e. row p of Vrows is the right singular vector of row p.
function orthogonaliseRows(W: Float64Array, k: number, L: number):
  { sigma: Float64Array; isZero: Uint8Array; Vrows: Float64Array; sweeps: number } {
  // Scale by a power of two (exact) so that squared norms neither overflow nor underflow.
  let maxAbs = 0;
  for (let i = 0; i < W.length; i++) maxAbs = Math.max(maxAbs, Math.abs(W[i]));
  const scale = maxAbs > 0 ? 2 ** -Math.floor(Math.log2(maxAbs)) : 1;
  for (let i = 0; i < W.length; i++) W[i] *= scale;

  const Vrows = new Float64Array(k * k);
  for (let p = 0; p < k; p++) Vrows[p * k + p] = 1;
  const tol = Math.sqrt(L) * EPS;
  let sweeps = 0;
  let rotated = 1;
  while (rotated > 0) {
    if (sweeps === JACOBI_MAX_SWEEPS) {
      fail(`jacobiSvd: no convergence after ${JACOBI_MAX_SWEEPS} sweeps on a ${k}×${L} problem (this is a bug: please report it with the matrix)`);
    }
    sweeps++;
    rotated = 0;
    for (let p = 0; p < k - 1; p++) {
      const op = p * L;
      for (let q = p + 1; q < k; q++) {
        const oq = q * L;
        // alpha = ‖w_p‖², beta = ‖w_q‖², gamma = w_p·w_q, in one pass.
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < L; i++) {
          const x = W[op + i];
          const y = W[oq + i];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (alpha < ZERO_COLUMN_SQ || beta < ZERO_COLUMN_SQ) continue;
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated++;
        // The rotation [c s; -s c] that makes the pair orthogonal: t = tan θ is the smaller root of
        // t² + 2ζt − 1 = 0 with ζ = (beta − alpha)/(2·gamma) (Rutishauser's formula, |θ| ≤ π/4).
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.abs(zeta) > 1e150
          ? 1 / (2 * zeta)
          : (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < L; i++) {
          const x = W[op + i];
          const y = W[oq + i];
          W[op + i] = c * x - s * y;
          W[oq + i] = s * x + c * y;
        }
        const vp = p * k;
        const vq = q * k;
        for (let i = 0; i < k; i++) {
          const x = Vrows[vp + i];
          const y = Vrows[vq + i];
          Vrows[vp + i] = c * x - s * y;
          Vrows[vq + i] = s * x + c * y;
        }
      }
    }
  }
  // Rounded rotations are not exactly orthogonal (c² + s² = 1 + O(eps), with a bias that thousands of
  // rotations per row add up to ~1e-14), and W and Vrows went through the same ones: W_final = Vrows·W_original.
  // So the singular vector is row p of Vrows normalised, and sigma_p = ‖w_p‖ / ‖Vrows_p‖ (then / scale).
  const sigma = new Float64Array(k);
  const isZero = new Uint8Array(k);
  for (let p = 0; p < k; p++) {
    let s2 = 0;
    for (let i = 0; i < L; i++) s2 += W[p * L + i] * W[p * L + i];
    let v2 = 0;
    for (let i = 0; i < k; i++) v2 += Vrows[p * k + i] * Vrows[p * k + i];
    const vn = Math.sqrt(v2);
    for (let i = 0; i < k; i++) Vrows[p * k + i] /= vn;
    sigma[p] = Math.sqrt(s2) / vn / scale;
    isZero[p] = s2 < ZERO_COLUMN_SQ ? 1 : 0;
    const wn = Math.sqrt(s2);
    if (!isZero[p]) for (let i = 0; i < L; i++) W[p * L + i] /= wn;
  }
  return { sigma, isZero, Vrows, sweeps };
}

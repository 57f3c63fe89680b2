// linalg/matrix.ts: the small shared pieces of the SVD files — reading an m×n input (a Tensor or
// data + sizes) into a checked float64 copy, transposing, and completing a set of orthonormal rows
// deterministically (for the zero singular values, and for the full U or V).
// Matrices are flat row-major Float64Arrays; m rows, n columns.

import { fail } from '../errors.js';
import type { Float, Tensor } from '../tensor/tensor.js';

/** Float64 machine epsilon, 2^-52. */
export const EPS = 2 ** -52; // float64 machine epsilon (numpy.finfo(float64).eps)

/**
 * An m×n float64 matrix that the linalg code owns (always a fresh copy of the caller's data).
 */
export interface Matrix64 {
  data: Float64Array; // (m, n) row-major
  m: number;
  n: number;
}

/**
 * Reads `x` (a 2-D Tensor, or a flat row-major array with its sizes m, n) into a float64 copy.
 * Validates at the boundary: the shape, and that every value is finite (NaN or ±Inf → an error that
 * names the position), because an SVD of a non-finite matrix has no meaning and would loop or return garbage.
 */
export function readMatrix(what: string, x: Tensor | Float, m?: number, n?: number): Matrix64 {
  let data: Float;
  let rows: number;
  let cols: number;
  if (x instanceof Float32Array || x instanceof Float64Array) {
    if (m === undefined || n === undefined) fail(`${what}: a flat array needs its sizes m and n`, 'usage');
    [data, rows, cols] = [x, m, n];
  } else {
    if (!x || !Array.isArray(x.shape) || x.shape.length !== 2) {
      fail(`${what}: expected a 2-D tensor (m×n), got shape [${x?.shape?.join(', ')}] (reshape it to [rows, columns])`, 'usage');
    }
    [data, rows, cols] = [x.data, x.shape[0], x.shape[1]];
  }
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    fail(`${what}: sizes ${rows}×${cols} are not positive integers (a matrix needs at least one row and one column)`, 'usage');
  }
  if (data.length !== rows * cols) {
    fail(`${what}: the array has ${data.length} values but ${rows}×${cols} needs ${rows * cols}`, 'usage');
  }
  const out = Float64Array.from(data);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      const r = Math.floor(i / cols);
      fail(`${what}: value ${out[i]} at row ${r}, column ${i - r * cols} (of ${rows}×${cols}); ` +
        'the SVD needs finite values (look for a NaN or Inf upstream, e.g. in the activations or gradients)');
    }
  }
  return { data: out, m: rows, n: cols };
}

/**
 * out (n, m) = aᵀ for a (m, n).
 */
export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) out[j * m + i] = a[i * n + j];
  }
  return out;
}

/**
 * Fills the rows of `rows` (k, L) whose `valid` flag is false with unit vectors orthogonal to every
 * other row, so that all k rows end orthonormal. The valid rows must already be orthonormal.
 * Deterministic: each new row starts from the standard basis vector e_i whose component outside the
 * current span is largest (ties: smallest i), and is orthogonalised twice (Gram–Schmidt, "twice is enough").
 * Since ‖P⊥e_i‖² sums to L − (rows so far) over i, the chosen one has ‖P⊥e_i‖² ≥ 1 − (rows so far)/L.
 */
export function completeOrthonormalRows(rows: Float64Array, k: number, L: number, valid: Uint8Array): void {
  const done: number[] = [];
  for (let r = 0; r < k; r++) if (valid[r]) done.push(r);
  // outside[i] = ‖P⊥ e_i‖² = 1 − Σ_r rows[r][i]², kept up to date as rows are added.
  const outside = new Float64Array(L).fill(1);
  for (const r of done) for (let i = 0; i < L; i++) outside[i] -= rows[r * L + i] ** 2;
  for (let r = 0; r < k; r++) {
    if (valid[r]) continue;
    let best = 0;
    for (let i = 1; i < L; i++) if (outside[i] > outside[best]) best = i;
    const o = r * L;
    rows.fill(0, o, o + L);
    rows[o + best] = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (const d of done) {
        let c = 0;
        for (let i = 0; i < L; i++) c += rows[d * L + i] * rows[o + i];
        for (let i = 0; i < L; i++) rows[o + i] -= c * rows[d * L + i];
      }
    }
    let nrm = 0;
    for (let i = 0; i < L; i++) nrm += rows[o + i] * rows[o + i];
    nrm = Math.sqrt(nrm);
    for (let i = 0; i < L; i++) rows[o + i] /= nrm;
    for (let i = 0; i < L; i++) outside[i] -= rows[o + i] ** 2;
    done.push(r);
  }
}

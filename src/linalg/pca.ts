// linalg/pca.ts: PCA exactly as scikit-learn's PCA(n_components=Q, svd_solver='full').fit_transform(X) before
// 1.5 (_pca.py _fit_full, extmath.py svd_flip): centre each column, thin SVD Xc = U·S·Vt, the sign rule
// svd_flip(U, Vt, u_based_decision=True), scores = U[:, :Q]·S[:Q] (the OSSMs), components = Vt[:Q], explained
// variance S²/(m − 1) and its ratio. Always float64 (sklearn keeps a float32 X in float32).
// m samples (rows: the h·w positions), n features (columns: the P kept channels), Q components.

import { fail } from '../errors.js';
import { tensor, type Float, type Tensor } from '../tensor/tensor.js';
import { jacobiSvd64 } from './jacobi.js';
import { lanczos64 } from './lanczos.js';
import { readMatrix } from './matrix.js';

/**
 * 'jacobi': the full thin SVD by one-sided Jacobi (linalg/jacobi.ts), the reference; slow for 196×500 (~1 s).
 * 'lanczos': the top Q by Golub–Kahan–Lanczos (linalg/lanczos.ts), ~30× faster at 196×500 → 10; when it reports
 *   itself reliable it agrees with LAPACK to rounding (values ~1e-15, vectors ~eps·σ_1/gap); used as is even
 *   when it does not (result.note then says why).
 * 'auto' (the default): Jacobi when min(m, n) ≤ AUTO_JACOBI_MAX_DIM (tiny: Jacobi is as fast, and simplest);
 *   otherwise Lanczos, falling back to Jacobi when Lanczos reports the result unreliable (σ_Q too close to
 *   σ_{Q+1} or to a neighbour, or a missed repeated value); result.note then gives Lanczos's reason.
 */
export type PcaSolver = 'auto' | 'jacobi' | 'lanczos';
/** Largest min(m, n) for which the 'auto' solver uses Jacobi directly. */
export const AUTO_JACOBI_MAX_DIM = 16;

/** Options of pca: the SVD solver (default 'auto'). */
export interface PcaOptions {
  solver?: PcaSolver; // default 'auto'
}

/**
 * PCA of X (m, n) to Q components, as scikit-learn's PCA fit_transform (field comments name the attribute each
 * matches).
 */
export interface PcaResult {
  scores: Tensor;                       // (m, Q) U·S: fit_transform's output, float64
  components: Tensor;                   // (Q, n) rows of Vt: components_
  singularValues: Float64Array;         // (Q) singular_values_
  explainedVariance: Float64Array;      // (Q) S²/(m − 1): explained_variance_
  explainedVarianceRatio: Float64Array; // (Q) explained_variance_ / total variance (0 when the total is 0)
  mean: Float64Array;                   // (n) mean_
  solver: 'jacobi' | 'lanczos';         // the SVD that produced the result
  note: string | null;                  // Lanczos's reliability problems (and the fallback taken), or null
}

/** PCA of a 2-D tensor (m samples, n features) to Q components, as scikit-learn's PCA (centred, float64). */
export function pca(x: Tensor, Q: number, opts?: PcaOptions): PcaResult;
/** PCA of a row-major (m, n) array to Q components, as scikit-learn's PCA (centred, float64). */
export function pca(data: Float, m: number, n: number, Q: number, opts?: PcaOptions): PcaResult;
/** Implementation of the pca overloads. */
export function pca(x: Tensor | Float, a1: number, a2?: number | PcaOptions, a3?: number, a4?: PcaOptions): PcaResult {
  const flat = typeof a2 === 'number';
  const X = flat ? readMatrix('pca input X', x, a1, a2) : readMatrix('pca input X', x);
  const Q = flat ? a3 : a1;
  const solver = ((flat ? a4 : a2) ?? {}).solver ?? 'auto';
  const { m, n } = X;
  if (Q === undefined || !Number.isInteger(Q) || Q < 1 || Q > Math.min(m, n)) {
    fail(`pca: n_components Q = ${Q} for a ${m}×${n} matrix; expected an integer in 1..${Math.min(m, n)} (= min(rows, columns))`, 'usage');
  }
  if (m < 2) fail(`pca: X has ${m} row; PCA needs at least 2 samples (the variance divides by m − 1)`, 'usage');
  if (!['auto', 'jacobi', 'lanczos'].includes(solver)) {
    fail(`pca: solver "${solver}" is not one of auto, jacobi, lanczos`, 'usage');
  }

  // Centre each column: mean_j = (Σ_i X_ij)/m, summed down the rows in order (numpy's mean over axis 0).
  const Xc = X.data;
  const mean = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) mean[j] += Xc[i * n + j];
  for (let j = 0; j < n; j++) mean[j] /= m;
  let total = 0; // ‖Xc‖_F² = Σ over all singular values of S²
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      Xc[i * n + j] -= mean[j];
      total += Xc[i * n + j] * Xc[i * n + j];
    }
  }

  const { U, uCols, S, Vt, used, note } = topSvd(Xc, m, n, Q, solver);

  // svd_flip(u_based_decision=True): per component, the entry of largest |U| (numpy argmax: the first on
  // ties) is made positive, and Vt's row flipped with U's column, so U·S·Vt is unchanged.
  const scores = new Float64Array(m * Q);
  const components = new Float64Array(Q * n);
  for (let q = 0; q < Q; q++) {
    let at = 0;
    for (let i = 1; i < m; i++) if (Math.abs(U[i * uCols + q]) > Math.abs(U[at * uCols + q])) at = i;
    const sign = U[at * uCols + q] < 0 ? -1 : 1;
    for (let i = 0; i < m; i++) scores[i * Q + q] = sign * U[i * uCols + q] * S[q];
    for (let j = 0; j < n; j++) components[q * n + j] = sign * Vt[q * n + j];
  }
  const singularValues = S.slice(0, Q);
  const explainedVariance = singularValues.map((s) => (s * s) / (m - 1));
  // scikit-learn divides by the total even when it is 0 (giving NaN); a constant X gives ratios 0 here.
  const totalVariance = total / (m - 1);
  const explainedVarianceRatio = explainedVariance.map((v) => (totalVariance > 0 ? v / totalVariance : 0));
  return {
    scores: tensor(scores, [m, Q]), components: tensor(components, [Q, n]), singularValues,
    explainedVariance, explainedVarianceRatio, mean, solver: used, note,
  };
}

// The Q largest singular triplets of Xc (m, n) by the chosen solver: U (m, uCols) whose first Q columns are
// wanted, S (≥ Q), Vt (≥ Q, n) row-major.
function topSvd(Xc: Float64Array, m: number, n: number, Q: number, solver: PcaSolver):
  { U: Float; uCols: number; S: Float64Array; Vt: Float; used: 'jacobi' | 'lanczos'; note: string | null } {
  let note: string | null = null;
  if (solver === 'lanczos' || (solver === 'auto' && Math.min(m, n) > AUTO_JACOBI_MAX_DIM)) {
    const top = lanczos64(Xc, m, n, Q);
    if (top.reliable || solver === 'lanczos') {
      if (!top.reliable) note = `Lanczos: ${top.problems.join('; ')}`;
      return { U: top.U.data, uCols: Q, S: top.S, Vt: top.Vt.data, used: 'lanczos', note };
    }
    note = `Lanczos: ${top.problems.join('; ')}; fell back to the Jacobi SVD`;
  }
  const svd = jacobiSvd64(Xc, m, n);
  return { U: svd.U.data, uCols: svd.U.shape[1], S: svd.S, Vt: svd.Vt.data, used: 'jacobi', note };
}

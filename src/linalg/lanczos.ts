// linalg/lanczos.ts: the k largest singular triplets of an m×n matrix by Golub–Kahan–Lanczos
// bidiagonalisation with full reorthogonalisation (Golub & Van Loan, Matrix Computations, §10.4):
//   A·V_j = U_j·B_j,   Aᵀ·U_j = V_j·B_jᵀ + β_{j−1}·v_j·e_jᵀ,   B_j upper bidiagonal (alpha on it, beta above),
// so each singular triplet (σ, p, q) of B_j gives a Ritz triplet (σ, U_j·p, V_j·q) of A with A·v = σ·u exactly
// and the residual ‖Aᵀu − σ·v‖ = β_{j−1}·|p_{j−1}|. m rows, n columns, k wanted, j steps (A·v and Aᵀ·u each).

import { fail } from '../errors.js';
import { seededUniform } from '../tensor/rng.js';
import { tensor, type Float, type Tensor } from '../tensor/tensor.js';
import { bidiagonalTop, type BidiagonalTop } from './bidiagonal.js';
import { EPS, readMatrix, transpose } from './matrix.js';

/** The top k singular triplets from lanczosSvd, with residuals, angle bounds and whether they are reliable. */
export interface TopSvd {
  U: Tensor;                 // (m, k) orthonormal columns, float64
  S: Float64Array;           // (k) descending
  Vt: Tensor;                // (k, n) orthonormal rows, float64
  steps: number;             // Lanczos steps of the main run
  residuals: Float64Array;   // (k) ‖Aᵀu_i − σ_i·v_i‖ (A·v_i = σ_i·u_i holds to rounding)
  angleBounds: Float64Array; // (k) bound on the angle between each returned vector pair and the exact one
  reliable: boolean;         // false when some angle bound exceeds angleTol, or a singular value was missed
  problems: string[];        // why not reliable, one line each (empty when reliable)
}

/** Options of lanczosSvd: residual and angle tolerances and the start vector (defaults in the field comments). */
export interface LanczosOptions {
  tol?: number;      // residual tolerance, relative to σ_1 (default LANCZOS_TOL)
  angleTol?: number; // largest acceptable angle bound (default LANCZOS_ANGLE_TOL)
  // The first Lanczos vector, length min(m, n): a right vector when m ≥ n, a left one when m < n (the run
  // works on the tall orientation). Default: seededUniform(LANCZOS_SEED, 'linalg.lanczos.0'), normalised.
  start?: Float64Array;
}

/**
 * Convergence: steps continue until the k+1 largest Ritz triplets (the (k+1)-th gives the gap below σ_k)
 * have residual ≤ tol·σ_1. Then each Ritz value is within residual²/gap of a singular value, and each
 * vector within an angle residual/gap of the exact one (Davis–Kahan). After min(m, n) steps B is the
 * whole of A (β = 0) and the result is exact, so the loop always ends.
 */
export const LANCZOS_TOL = 1e-14;
/**
 * A vector pair whose angle bound residual/(gap − residual) exceeds this is reported unreliable: its
 * singular value is so close to a neighbour (σ_k to σ_{k+1} included) that the pair is not determined to
 * this accuracy. The residual used is at least LANCZOS_RESIDUAL_FLOOR·σ_1, what rounding in A·v leaves.
 */
export const LANCZOS_ANGLE_TOL = 1e-10;
const LANCZOS_RESIDUAL_FLOOR = 16 * EPS;
const CHECK_EVERY = 4;       // steps between convergence checks (a check costs about half a step),
const CHECK_FAR = 1e4;       // twice that while the worst residual is above CHECK_FAR·tol·σ_1
const CHECK_REL_TOL = 1e-9;  // the checks' singular values need not be exact (bidiagonal.ts)
// A new direction (u or v) whose norm after reorthogonalisation is at most BREAKDOWN·‖A‖_F means the
// Krylov space is invariant: its β (or α) is set to 0 and a fresh random direction continues the run.
const BREAKDOWN = 64 * EPS;
// Missed-value check: a single start vector finds one copy of a repeated singular value only. A short
// second run on the complement of the k found right vectors must not see anything above σ_{k+1}.
const DEFLATION_STEPS = 8;
const DEFLATION_SLACK = 1e-12; // relative to σ_1
const LANCZOS_SEED = 0x5eed;   // start and restart vectors: seededUniform(LANCZOS_SEED, 'linalg.lanczos.<i>')

/**
 * The k largest singular triplets of a 2-D tensor (m, n) by Lanczos bidiagonalisation with full
 * reorthogonalisation, in float64.
 */
export function lanczosSvd(a: Tensor, k: number, opts?: LanczosOptions): TopSvd;
/** The k largest singular triplets of a row-major (m, n) array by Lanczos bidiagonalisation, in float64. */
export function lanczosSvd(data: Float, m: number, n: number, k: number, opts?: LanczosOptions): TopSvd;
/** Implementation of the lanczosSvd overloads. */
export function lanczosSvd(x: Tensor | Float, a1: number, a2?: number | LanczosOptions, a3?: number,
  a4?: LanczosOptions): TopSvd {
  const flat = typeof a2 === 'number';
  const A = flat ? readMatrix('lanczosSvd input', x, a1, a2) : readMatrix('lanczosSvd input', x);
  const k = flat ? a3 : a1;
  const opts = (flat ? a4 : a2) ?? {};
  if (k === undefined || !Number.isInteger(k) || k < 1 || k > Math.min(A.m, A.n)) {
    fail(`lanczosSvd: k = ${k} singular triplets requested from a ${A.m}×${A.n} matrix; expected an integer in 1..${Math.min(A.m, A.n)}`, 'usage');
  }
  return lanczos64(A.data, A.m, A.n, k, opts);
}

/**
 * The same on a checked float64 (m, n) row-major matrix, which is not modified.
 */
export function lanczos64(a: Float64Array, m: number, n: number, k: number, opts: LanczosOptions = {}): TopSvd {
  const tol = opts.tol ?? LANCZOS_TOL;
  const angleTol = opts.angleTol ?? LANCZOS_ANGLE_TOL;
  // Run on the tall orientation (M ≥ N), so that after N steps the v's span R^N and B is exact.
  const tall = m >= n;
  const M = tall ? m : n;
  const N = tall ? n : m;
  if (opts.start && (opts.start.length !== N || !opts.start.every(Number.isFinite) || !opts.start.some((v) => v !== 0))) {
    fail(`lanczosSvd: the start vector must be finite, non-zero and of length min(m, n) = ${N} (got length ${opts.start.length})`, 'usage');
  }
  // Both layouts of the operator are kept so that A·v and Aᵀ·u are both row-by-row dot products.
  const op: Operator = tall ? { A: a, At: transpose(a, m, n), M, N } : { A: transpose(a, m, n), At: a, M, N };
  const run = golubKahan(op, k, tol, opts.start);
  const found = ritzVectors(run, k, M, N);
  const { residuals, angleBounds, problems } = reliability(run, k, angleTol);
  if (run.steps < N && k < N) {
    const above = deflatedTop(op, found.Urows, found.Vrows, k, run.normF);
    const next = run.top.sigma[k];
    if (above > next + DEFLATION_SLACK * run.top.sigma[0]) {
      problems.push(`a singular value ≥ ${above.toPrecision(6)} lies outside the ${k} found (the next found is ` +
        `${next.toPrecision(6)}): a repeated singular value was missed; use the Jacobi SVD`);
    }
  }
  // Orientation back: for a wide A the run saw Aᵀ, whose left vectors are A's right vectors.
  const [Lrows, Rrows] = tall ? [found.Urows, found.Vrows] : [found.Vrows, found.Urows];
  const U = transpose(Lrows, k, m); // (m, k)
  return {
    U: tensor(U, [m, k]), S: run.top.sigma.slice(0, k), Vt: tensor(Rrows, [k, n]),
    steps: run.steps, residuals, angleBounds, reliable: problems.length === 0, problems,
  };
}

// The matrix that the run sees, M ≥ N: A (M, N) and the same values transposed, At (N, M).
interface Operator { A: Float64Array; At: Float64Array; M: number; N: number }

interface GolubKahanRun {
  Us: Float64Array;    // (steps, M) rows u_0 … u_{j−1}
  Vs: Float64Array;    // (steps + 1, N) rows v_0 … v_j
  alpha: Float64Array; // (N) B's diagonal
  beta: Float64Array;  // (N) B's superdiagonal; beta[j−1] multiplies v_j in the residual
  steps: number;
  top: BidiagonalTop;  // the `want` = min(k + 1, N) largest triplets of B_steps
  normF: number;       // ‖A‖_F
}

// The bidiagonalisation of A (M, N), M ≥ N, until the k+1 largest Ritz triplets converge (see above).
function golubKahan(op: Operator, k: number, tol: number, start?: Float64Array): GolubKahanRun {
  const { M, N } = op;
  const want = Math.min(k + 1, N);
  const normF = Math.sqrt(dot(op.A, 0, op.A, 0, M * N));
  const breakTol = BREAKDOWN * normF;
  const alpha = new Float64Array(N);
  const beta = new Float64Array(N);
  let cap = Math.min(N, Math.max(2 * want, want + 16)); // rows held; doubled when a run needs more
  let Us: Float64Array = new Float64Array(cap * M);
  let Vs: Float64Array = new Float64Array((cap + 1) * N);
  const coef = new Float64Array(N);
  const restart = { count: 0 };
  if (start) {
    Vs.set(start);
    scale(Vs.subarray(0, N), 1 / Math.sqrt(dot(start, 0, start, 0, N)));
    restart.count = 1;
  } else {
    freshDirection(Vs.subarray(0, N), Vs, 0, N, coef, restart);
  }
  let j = 0;
  let nextCheck = want;
  for (;;) {
    if (j === cap) {
      cap = Math.min(N, 2 * cap);
      Us = grow(Us, cap * M);
      Vs = grow(Vs, (cap + 1) * N);
    }
    // u_j = A·v_j − β_{j−1}·u_{j−1}, orthogonal to u_0 … u_{j−1}; α_j = its norm.
    const u = Us.subarray(j * M, (j + 1) * M);
    matvec(u, op.A, Vs.subarray(j * N, (j + 1) * N), M, N);
    if (j > 0) axpy(u, -beta[j - 1], Us.subarray((j - 1) * M, j * M));
    alpha[j] = reorthogonalise(u, Us, j, M, coef);
    if (alpha[j] <= breakTol) {
      alpha[j] = 0;
      freshDirection(u, Us, j, M, coef, restart);
    } else {
      scale(u, 1 / alpha[j]);
    }
    j++;
    if (j === N) { // the v's span R^N: A = U_N·B_N·V_Nᵀ exactly, nothing is left over
      beta[j - 1] = 0;
      return { Us, Vs, alpha, beta, steps: j, top: bidiagonalTop(alpha, beta, j, want), normF };
    }
    // v_j = Aᵀ·u_{j−1} − α_{j−1}·v_{j−1}, orthogonal to v_0 … v_{j−1}; β_{j−1} = its norm.
    const v = Vs.subarray(j * N, (j + 1) * N);
    matvec(v, op.At, u, N, M);
    axpy(v, -alpha[j - 1], Vs.subarray((j - 1) * N, j * N));
    beta[j - 1] = reorthogonalise(v, Vs, j, N, coef);
    if (beta[j - 1] <= breakTol) {
      beta[j - 1] = 0;
      freshDirection(v, Vs, j, N, coef, restart);
    } else {
      scale(v, 1 / beta[j - 1]);
    }
    if (j === nextCheck) {
      const t = bidiagonalTop(alpha, beta, j, want, false, CHECK_REL_TOL);
      let worst = 0;
      for (let i = 0; i < want; i++) worst = Math.max(worst, beta[j - 1] * Math.abs(t.P[i * j + j - 1]));
      if (worst <= tol * t.sigma[0]) {
        return { Us, Vs, alpha, beta, steps: j, top: bidiagonalTop(alpha, beta, j, want), normF };
      }
      nextCheck = j + (worst > CHECK_FAR * tol * t.sigma[0] ? 2 * CHECK_EVERY : CHECK_EVERY);
    }
  }
}

// The Ritz vectors of the k largest: rows u_i = Σ_l P[i, l]·u_l (k, M) and v_i = Σ_l Q[i, l]·v_l (k, N).
function ritzVectors(run: GolubKahanRun, k: number, M: number, N: number): { Urows: Float64Array; Vrows: Float64Array } {
  const j = run.steps;
  const Urows = new Float64Array(k * M);
  const Vrows = new Float64Array(k * N);
  for (let i = 0; i < k; i++) {
    for (let l = 0; l < j; l++) {
      axpy(Urows.subarray(i * M, (i + 1) * M), run.top.P[i * j + l], run.Us.subarray(l * M, (l + 1) * M));
      axpy(Vrows.subarray(i * N, (i + 1) * N), run.top.Qv[i * j + l], run.Vs.subarray(l * N, (l + 1) * N));
    }
  }
  return { Urows, Vrows };
}

// Residuals, angle bounds residual/(gap − residual) and the problems they reveal, for the k returned.
function reliability(run: GolubKahanRun, k: number, angleTol: number):
  { residuals: Float64Array; angleBounds: Float64Array; problems: string[] } {
  const { sigma, P } = run.top;
  const j = run.steps;
  const want = sigma.length;
  const residuals = new Float64Array(k);
  const angleBounds = new Float64Array(k);
  const problems: string[] = [];
  for (let i = 0; i < k; i++) {
    residuals[i] = run.beta[j - 1] * Math.abs(P[i * j + j - 1]);
    const r = Math.max(residuals[i], LANCZOS_RESIDUAL_FLOOR * sigma[0]);
    const above = i > 0 ? sigma[i - 1] - sigma[i] : Infinity;
    const below = i + 1 < want ? sigma[i] - sigma[i + 1] : Infinity;
    const gap = Math.min(above, below);
    angleBounds[i] = gap > r ? r / (gap - r) : Infinity;
    if (angleBounds[i] > angleTol) {
      const which = below <= above && i === k - 1
        ? `σ_${k} = ${sigma[i].toPrecision(6)} and σ_${k + 1} = ${sigma[i + 1].toPrecision(6)}`
        : `σ_${i + 1} = ${sigma[i].toPrecision(6)} and its neighbour`;
      problems.push(`the gap between ${which} (${gap.toExponential(2)}) leaves singular pair ${i + 1} ` +
        `determined only to an angle of ${angleBounds[i].toExponential(2)} > ${angleTol.toExponential(0)}`);
    }
  }
  return { residuals, angleBounds, problems };
}

// The largest Ritz value of DEFLATION_STEPS Lanczos steps on A restricted to the complement of the found
// right vectors (u's kept orthogonal to the found left vectors): at most σ_{k+1} unless a value was missed.
function deflatedTop(op: Operator, foundU: Float64Array, foundV: Float64Array, k: number, normF: number): number {
  const { M, N } = op;
  const s = Math.min(DEFLATION_STEPS, N - k);
  const Us = new Float64Array(s * M);
  const Vs = new Float64Array((s + 1) * N);
  const alpha = new Float64Array(s);
  const beta = new Float64Array(s);
  const coef = new Float64Array(Math.max(N, k));
  const restart = { count: 1000 }; // a stream of its own, apart from the main run's
  const v0 = Vs.subarray(0, N);
  freshDirection(v0, foundV, k, N, coef, restart);
  let j = 0;
  while (j < s) {
    const u = Us.subarray(j * M, (j + 1) * M);
    matvec(u, op.A, Vs.subarray(j * N, (j + 1) * N), M, N);
    if (j > 0) axpy(u, -beta[j - 1], Us.subarray((j - 1) * M, j * M));
    reorthogonalise(u, foundU, k, M, coef);
    alpha[j] = reorthogonalise(u, Us, j, M, coef);
    j++;
    if (alpha[j - 1] <= BREAKDOWN * normF) break; // the complement is exhausted
    scale(u, 1 / alpha[j - 1]);
    if (j === s) break;
    const v = Vs.subarray(j * N, (j + 1) * N);
    matvec(v, op.At, u, N, M);
    axpy(v, -alpha[j - 1], Vs.subarray((j - 1) * N, j * N));
    reorthogonalise(v, foundV, k, N, coef);
    beta[j - 1] = reorthogonalise(v, Vs, j, N, coef);
    if (beta[j - 1] <= BREAKDOWN * normF) break;
    scale(v, 1 / beta[j - 1]);
  }
  beta[j - 1] = 0;
  return bidiagonalTop(alpha, beta, j, 1, true).sigma[0];
}

// A unit vector orthogonal to the first `count` rows of `store` (count < len), from the seeded stream.
function freshDirection(x: Float64Array, store: Float64Array, count: number, len: number, coef: Float64Array,
  restart: { count: number }): void {
  for (;;) {
    x.set(seededUniform(LANCZOS_SEED, `linalg.lanczos.${restart.count++}`, len, 1, 0, 'float64'));
    const nx = reorthogonalise(x, store, count, len, coef);
    // A random vector keeps about √((len − count)/len) of its norm outside the span; far less is bad luck.
    if (nx > 1e-3 * Math.sqrt(len)) {
      scale(x, 1 / nx);
      return;
    }
  }
}

// x (len) −= Sᵀ·(S·x) for S the first `count` rows of `store` (classical Gram–Schmidt), repeated when the
// first pass removed more than 1 − 1/√2 of x's norm (the Daniel–Gragg–Kaufman–Stewart test: "twice is
// enough", and once is enough when little cancelled). Returns x's final norm.
const REORTH_AGAIN = Math.SQRT1_2;
function reorthogonalise(x: Float64Array, store: Float64Array, count: number, len: number, coef: Float64Array): number {
  let before = Math.sqrt(dot(x, 0, x, 0, len));
  for (let pass = 0; pass < 2; pass++) {
    for (let r = 0; r < count; r++) coef[r] = dot(store, r * len, x, 0, len);
    // x −= Σ_r coef[r]·row_r, two rows per sweep over x (half the passes over x; the same sum order every run).
    let r = 0;
    for (; r + 1 < count; r += 2) {
      const o0 = r * len;
      const o1 = o0 + len;
      const c0 = coef[r];
      const c1 = coef[r + 1];
      for (let i = 0; i < len; i++) x[i] -= c0 * store[o0 + i] + c1 * store[o1 + i];
    }
    if (r < count) {
      const o = r * len;
      const c = coef[r];
      for (let i = 0; i < len; i++) x[i] -= c * store[o + i];
    }
    const after = Math.sqrt(dot(x, 0, x, 0, len));
    if (after > REORTH_AGAIN * before) return after;
    before = after;
  }
  return before;
}

// y (rows) = A (rows, cols)·x (cols), one dot product per row.
function matvec(y: Float64Array, A: Float64Array, x: Float64Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) y[i] = dot(A, i * cols, x, 0, cols);
}

// Σ_i a[ao + i]·b[bo + i] over len terms, in four interleaved partial sums (a fixed order: the same bits every run).
function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    s0 += a[ao + i] * b[bo + i];
    s1 += a[ao + i + 1] * b[bo + i + 1];
    s2 += a[ao + i + 2] * b[bo + i + 2];
    s3 += a[ao + i + 3] * b[bo + i + 3];
  }
  for (; i < len; i++) s0 += a[ao + i] * b[bo + i];
  return (s0 + s1) + (s2 + s3);
}

function axpy(y: Float64Array, a: number, x: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += a * x[i];
}

function scale(x: Float64Array, a: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= a;
}

function grow(a: Float64Array, length: number): Float64Array {
  const b = new Float64Array(length);
  b.set(a.subarray(0, Math.min(a.length, length)));
  return b;
}

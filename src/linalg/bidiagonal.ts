// linalg/bidiagonal.ts: the w largest singular triplets of Lanczos's small upper bidiagonal B (j×j, diagonal
// alpha, superdiagonal beta), via its Golub–Kahan form: the 2j×2j tridiagonal T with zero diagonal and
// off-diagonal (α_0, β_0, α_1, β_1, …, α_{j−1}), eigenvalues ±σ_i, eigenvectors (q_0, p_0, q_1, p_1, …)/√2 for
// B·q = σ·p, Bᵀ·p = σ·q. Values by Sturm bisection (full relative accuracy, Demmel & Kahan 1990), vectors by
// inverse iteration (as LAPACK's dstebz + dstein): O(j) work per bisection step and per solve.

import { EPS, completeOrthonormalRows } from './matrix.js';
import { seededUniform } from '../tensor/rng.js';

/** The w largest singular triplets of the bidiagonal B (j×j): values descending and left/right vectors as rows. */
export interface BidiagonalTop {
  sigma: Float64Array; // (w) descending
  P: Float64Array;     // (w, j) row i: left singular vector p_i of B (B·q_i = σ_i·p_i)
  Qv: Float64Array;    // (w, j) row i: right singular vector q_i of B
}

const MIN_NORMAL = 2 ** -1022;
// Values below 2^-200 of ‖T‖ are zero for bisection (it would otherwise halve its way into subnormals).
const BISECT_ZERO = 2 ** -200;
// Singular values below ZERO_SIGMA·σ_max get no inverse iteration (there, +σ and −σ of T are too close to
// separate); their vectors are an orthonormal completion of the others. Every later value is smaller
// still, so the completed vectors span the right space to within ZERO_SIGMA·σ_max (‖B·q_i‖ ≤ that).
const ZERO_SIGMA = 64 * EPS;
// Values closer than CLUSTER·‖T‖ have their inverse-iteration vectors orthogonalised against each other
// (LAPACK dstein's choice, 1e-3).
const CLUSTER = 1e-3;
const INVERSE_ITERATIONS = 3;

/**
 * The w largest singular values of B (and, unless valuesOnly, their vectors), w ≤ j. Bisection stops at
 * adjacent doubles, or sooner when the bracket is within relTol (relative): Lanczos's convergence checks need
 * only the residual estimates, for which relTol = 1e-9 does (inverse iteration still converges), and the
 * final extraction uses the default 0 (full precision).
 */
export function bidiagonalTop(alpha: Float64Array, beta: Float64Array, j: number, w: number,
  valuesOnly = false, relTol = 0): BidiagonalTop {
  const n2 = 2 * j;
  const e = new Float64Array(n2 - 1); // T's off-diagonal
  for (let i = 0; i < j; i++) {
    e[2 * i] = alpha[i];
    if (i < j - 1) e[2 * i + 1] = beta[i];
  }
  const e2 = e.map((x) => x * x);
  let bound = 0; // Gershgorin: every |eigenvalue| ≤ the largest row sum of |T|
  let maxE2 = 1;
  for (let i = 0; i < n2; i++) {
    bound = Math.max(bound, (i > 0 ? Math.abs(e[i - 1]) : 0) + (i < n2 - 1 ? Math.abs(e[i]) : 0));
    if (i < n2 - 1) maxE2 = Math.max(maxE2, e2[i]);
  }
  const pivmin = MIN_NORMAL * maxE2; // LAPACK's smallest allowed pivot in the Sturm count

  // Bisection: sigma_i is the largest x with at least i+1 eigenvalues ≥ x.
  const sigma = new Float64Array(w);
  let hiPrev = bound * (1 + 4 * EPS) + pivmin;
  for (let i = 0; i < w; i++) {
    let lo = 0;
    let hi = hiPrev;
    while (hi > bound * BISECT_ZERO && hi - lo > relTol * hi) {
      const mid = 0.5 * (lo + hi);
      if (mid <= lo || mid >= hi) break;
      if (n2 - countBelow(e2, n2, mid, pivmin) > i) lo = mid; else hi = mid;
    }
    sigma[i] = hi > bound * BISECT_ZERO ? 0.5 * (lo + hi) : 0;
    hiPrev = hi;
  }
  const P = new Float64Array(valuesOnly ? 0 : w * j);
  const Qv = new Float64Array(valuesOnly ? 0 : w * j);
  if (valuesOnly) return { sigma, P, Qv };

  // Inverse iteration on T − σ_i·I for each value that is not (numerically) zero.
  const valid = new Uint8Array(w);
  const Z = new Float64Array(w * n2); // eigenvectors of T, row i for sigma_i
  const start = seededUniform(0x5eed, 'linalg.bidiagonal.start', n2, 1, 0, 'float64');
  const tiny = EPS * bound;
  let clusterStart = 0;
  for (let i = 0; i < w; i++) {
    if (!(sigma[i] > ZERO_SIGMA * sigma[0])) break;
    if (i > 0 && sigma[i - 1] - sigma[i] > CLUSTER * bound) clusterStart = i;
    const z = Z.subarray(i * n2, (i + 1) * n2);
    z.set(start);
    const lu = factorShifted(e, n2, sigma[i], tiny);
    for (let it = 0; it < INVERSE_ITERATIONS; it++) {
      solveFactored(lu, z, n2);
      for (let c = clusterStart; c < i; c++) subtractProjection(z, Z.subarray(c * n2, (c + 1) * n2));
      normalise(z);
    }
    // Split z into q (even entries) and p (odd entries), each normalised; sign so that p·(B·q) > 0.
    const q = Qv.subarray(i * j, (i + 1) * j);
    const p = P.subarray(i * j, (i + 1) * j);
    for (let l = 0; l < j; l++) {
      q[l] = z[2 * l];
      p[l] = z[2 * l + 1];
    }
    normalise(q);
    normalise(p);
    let pBq = 0;
    for (let l = 0; l < j; l++) pBq += p[l] * (alpha[l] * q[l] + (l < j - 1 ? beta[l] * q[l + 1] : 0));
    if (pBq < 0) for (let l = 0; l < j; l++) p[l] = -p[l];
    valid[i] = 1;
  }
  // Orthonormal to working accuracy (twice modified Gram–Schmidt), then complete the zero-σ rows.
  for (const M of [P, Qv]) {
    for (let i = 0; i < w; i++) {
      if (!valid[i]) continue;
      const r = M.subarray(i * j, (i + 1) * j);
      for (let pass = 0; pass < 2; pass++) {
        for (let c = 0; c < i; c++) subtractProjection(r, M.subarray(c * j, (c + 1) * j));
      }
      normalise(r);
    }
    completeOrthonormalRows(M, w, j, valid);
  }
  return { sigma, P, Qv };
}

// Number of eigenvalues of T below x: the negative pivots of the LDLᵀ factorisation of T − x·I
// (Sylvester's law of inertia). T has zero diagonal; e2 holds its squared off-diagonal.
function countBelow(e2: Float64Array, n2: number, x: number, pivmin: number): number {
  let d = -x;
  if (Math.abs(d) < pivmin) d = -pivmin;
  let count = d < 0 ? 1 : 0;
  for (let i = 1; i < n2; i++) {
    d = -x - e2[i - 1] / d;
    if (Math.abs(d) < pivmin) d = -pivmin;
    if (d < 0) count++;
  }
  return count;
}

// LU with partial pivoting of the tridiagonal T − shift·I (n2×n2): U has a diagonal `a` and two
// superdiagonals `b`, `d2`; `l` holds the multipliers and `swap` whether rows i, i+1 were exchanged.
// A pivot below `tiny` becomes ±tiny, so that the (nearly) singular system still solves.
interface ShiftedLU { a: Float64Array; b: Float64Array; d2: Float64Array; l: Float64Array; swap: Uint8Array }
function factorShifted(e: Float64Array, n2: number, shift: number, tiny: number): ShiftedLU {
  const a = new Float64Array(n2).fill(-shift);
  const b = Float64Array.from(e);
  const d2 = new Float64Array(Math.max(n2 - 2, 0));
  const l = new Float64Array(n2 - 1);
  const swap = new Uint8Array(n2 - 1);
  for (let i = 0; i < n2 - 1; i++) {
    const c = e[i]; // row i+1's entry below the diagonal (T is symmetric)
    if (Math.abs(a[i]) >= Math.abs(c)) {
      // Row i is the pivot row: row i+1 −= l·row i (row i has no second superdiagonal yet).
      if (Math.abs(a[i]) < tiny) a[i] = a[i] < 0 ? -tiny : tiny;
      l[i] = c / a[i];
      a[i + 1] -= l[i] * b[i];
    } else {
      // Row i+1 is the pivot row: swap, then the old row i −= l·(old row i+1).
      l[i] = a[i] / c;
      swap[i] = 1;
      const next = a[i + 1];
      a[i] = c;
      a[i + 1] = b[i] - l[i] * next;
      b[i] = next;
      if (i < n2 - 2) {
        d2[i] = b[i + 1];
        b[i + 1] = -l[i] * d2[i];
      }
    }
  }
  if (Math.abs(a[n2 - 1]) < tiny) a[n2 - 1] = a[n2 - 1] < 0 ? -tiny : tiny;
  return { a, b, d2, l, swap };
}

// y ← (T − shift·I)⁻¹·y with the factors above: forward through L (with the swaps), back through U.
function solveFactored(lu: ShiftedLU, y: Float64Array, n2: number): void {
  const { a, b, d2, l, swap } = lu;
  for (let i = 0; i < n2 - 1; i++) {
    if (swap[i]) {
      const t = y[i];
      y[i] = y[i + 1];
      y[i + 1] = t;
    }
    y[i + 1] -= l[i] * y[i];
  }
  for (let i = n2 - 1; i >= 0; i--) {
    let s = y[i];
    if (i + 1 < n2) s -= b[i] * y[i + 1];
    if (i + 2 < n2) s -= d2[i] * y[i + 2];
    y[i] = s / a[i];
  }
}

// x −= (x·u)·u for a unit vector u.
function subtractProjection(x: Float64Array, u: Float64Array): void {
  let c = 0;
  for (let i = 0; i < x.length; i++) c += x[i] * u[i];
  for (let i = 0; i < x.length; i++) x[i] -= c * u[i];
}

function normalise(x: Float64Array): void {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < x.length; i++) x[i] *= inv;
}

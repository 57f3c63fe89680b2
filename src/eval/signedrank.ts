// eval/signedrank.ts: the paired test of the eval table — Wilcoxon's signed-rank test on per-image differences,
// two-sided, with the normal approximation as scipy.stats.wilcoxon(d, zero_method='wilcox', correction=False,
// method='approx') computes it: zeros dropped, |d| ranked with ties averaged, T = min(W+, W-),
// z = (T - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 - Σ_ties (t³ - t)/48), p = 2·Φ(-|z|) = erfc(|z|/√2).
// Holm's step-down adjustment is applied across a metric's baselines. n = the non-zero differences.

/** The outcome of one signed-rank test. */
export interface SignedRankResult {
  n: number;          // non-zero differences (images where the two methods differ)
  statistic: number;  // T = min(W+, W-)
  z: number;          // <= 0
  p: number;          // two-sided; 1 when no difference is non-zero
}

/**
 * erfc(x) for x >= 0 to a few ulps over the range a p-value needs: below 2, 1 - erf(x) by the all-positive series
 * erf(x) = 2/√π · e^{-x²} · Σ_n 2ⁿ x^{2n+1} / (1·3·…·(2n+1)) (no cancellation inside the sum); from 2 on, the
 * continued fraction erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated backwards from
 * a depth at which it has converged.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    let term = x;
    let sum = x;
    for (let n = 1; term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  if (x > 27) return 0; // e^{-729} underflows
  let f = x;
  for (let k = 400; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Wilcoxon's signed-rank test of differences d (zeros dropped), two-sided, normal approximation. */
export function wilcoxonSignedRank(d: ArrayLike<number>): SignedRankResult {
  const nz: number[] = [];
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) nz.push(d[i]);
  const n = nz.length;
  if (n === 0) return { n: 0, statistic: 0, z: 0, p: 1 };
  // ranks of |d|, ties averaged (rank k+1 for the k-th smallest)
  const order = nz.map((_, i) => i).sort((a, b) => Math.abs(nz[a]) - Math.abs(nz[b]));
  let wPlus = 0;
  let wMinus = 0;
  let ties = 0; // Σ (t³ - t) over groups of equal |d|
  for (let a = 0; a < n;) {
    let b = a + 1;
    while (b < n && Math.abs(nz[order[b]]) === Math.abs(nz[order[a]])) b++;
    const rank = (a + 1 + b) / 2; // mean of ranks a+1 … b
    for (let k = a; k < b; k++) {
      if (nz[order[k]] > 0) wPlus += rank; else wMinus += rank;
    }
    const t = b - a;
    ties += t * t * t - t;
    a = b;
  }
  const T = Math.min(wPlus, wMinus);
  const mean = (n * (n + 1)) * 0.25;
  const variance = (n * (n + 1) * (2 * n + 1) - 0.5 * ties) / 24;
  // all |d| equal and n = 1: variance 0.5·… stays > 0 for n >= 1 (n(n+1)(2n+1) > (n³ - n)/2)
  const z = (T - mean) / Math.sqrt(variance);
  return { n, statistic: T, z, p: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)) };
}

/** Holm's step-down adjusted p-values (same order as p): p_(i) · (m - i), made monotone, capped at 1. */
export function holm(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b] || a - b);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((i, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p[i]));
    out[i] = running;
  });
  return out;
}

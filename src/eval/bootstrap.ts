// eval/bootstrap.ts: the seeded percentile bootstrap over images (clusters). Pairs of one image share its picture,
// so they are not independent draws: each replicate draws K of the K images with replacement and takes every pair
// of each drawn image, and a metric's replicate is Σ sums / Σ counts over the drawn images — the pair mean, as the
// table's. The draws come from mulberry32 (tensor/rng.ts) seeded by streamKey(seed, stream), the interval is
// numpy's percentile with linear interpolation; reference/eval_stats_fixtures.py computes both in numpy.
// K = images, B = replicates.

import { fail } from '../errors.js';
import { mulberry32, streamKey } from '../tensor/rng.js';

/**
 * B·K image indices, replicate-major: replicate r draws idx[r·K + k] = floor(u·K), u from mulberry32 seeded by
 * streamKey(seed, stream), consumed in that order.
 */
export function bootstrapDraws(K: number, B: number, seed: number, stream: string): Uint32Array {
  if (!Number.isInteger(K) || K < 1 || !Number.isInteger(B) || B < 1) fail(`bootstrap: ${K} images × ${B} replicates must be positive integers`, 'usage');
  const next = mulberry32(streamKey(seed, stream));
  const idx = new Uint32Array(B * K);
  for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(next() * K);
  return idx;
}

/** Each replicate's ratio Σ_k sums[idx] / Σ_k counts[idx], summed in draw order. Returns (B). */
export function bootstrapRatios(
  sums: Float64Array, counts: Float64Array, // (K) (K): a metric's sum over an image's pairs, and their number
  idx: Uint32Array, B: number,              // (B·K) from bootstrapDraws
): Float64Array {
  const K = sums.length;
  const out = new Float64Array(B);
  for (let r = 0; r < B; r++) {
    let s = 0;
    let n = 0;
    for (let k = 0; k < K; k++) {
      const c = idx[r * K + k];
      s += sums[c];
      n += counts[c];
    }
    out[r] = s / n;
  }
  return out;
}

/**
 * numpy.percentile(values, q) with its default linear interpolation: sorted x, h = (B - 1)·q/100,
 * x[floor h] + (h - floor h)·(x[floor h + 1] - x[floor h]).
 */
export function percentile(values: Float64Array, q: number): number {
  const x = Float64Array.from(values).sort();
  const h = ((x.length - 1) * q) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, x.length - 1);
  return x[lo] + (h - lo) * (x[hi] - x[lo]);
}

/** The central `level` interval (0.95 → the 2.5th and 97.5th percentiles). */
export function percentileInterval(values: Float64Array, level: number): [number, number] {
  const tail = (100 * (1 - level)) / 2;
  return [percentile(values, tail), percentile(values, 100 - tail)];
}

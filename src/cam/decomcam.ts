// cam/decomcam.ts: DecomCAM (Yang et al., arXiv 2405.18882), its steps numbered as the paper's: 1 score,
// 2 gradients (both done by the template), 3 top-P channels, 4 PCA → OSSMs, 5 masks, 6 perturbed scores,
// 7 integration. Each step is a plain function; `fullMap` at the bottom calls them in order, and timing,
// tracing and the per-image cache sit in small wrappers around those calls. Two presets, `official`
// (pytorch_grad_cam/decom_cam.py of the authors' repo) and `paper` (the paper's text), are option objects.
// Shapes: acts, grads (h·w, C); X (h·w, K), K = min(P, C) kept channels; ossm (Q,h,w); M, masks (Q,R,R);
// batch (Q,3,R,R), R the crop's side. S is the score. All float64.

import type { ScoreKind } from '../clip/score.js';
import { fail } from '../errors.js';
import { gaussianFilter } from '../image/blur.js';
import { interpolate } from '../image/interpolate.js';
import { pca } from '../linalg/pca.js';
import type { Float, Tensor } from '../tensor/tensor.js';
import { meanOverPositions } from './gradcam.js';
import { minMax } from './minmax.js';
import { checkChoice, checkInt, checkNumber } from './options.js';
import { checkScoreKind } from './target.js';
import { descendingOrder, type CamContext, type CamMethod, type FullMap, type LayerGrid, type StageTimer } from './template.js';

/** DecomCAM's options (the paper's names where it has them). */
export interface DecomcamOptions {
  /** The score of a target that names none: 'cosine' (paper) or 'scaledDot' (official); a target's own wins. */
  score: ScoreKind;
  /** Top-P: channels kept by signed α (clamped to the layer's width C). */
  P: number;
  /** Q: PCA components (OSSMs); at most min(h·w, P, C). */
  Q: number;
  /** σ of the Gaussian blur the masks perturb against, in pixels of the crop. */
  sigma: number;
  /** Blur radius = round(truncate · σ), as scipy. */
  truncate: number;
  /** A gain below this gets weight 0. */
  threshold: number;
  /** Masks mix the RGB crop (then normalise: 'rgb') or the normalised tensor ('normalized'). */
  perturb: 'rgb' | 'normalized';
  /** Gains r_q = s_q − S(blur) ('blur') or s_q ('none'). */
  baseline: 'blur' | 'none';
  /** eps of the final min-max: (x − min) / (max − min + eps). */
  finalEps: number;
  /** How many times ReLU + min-max is applied at the end. */
  finalPasses: number;
  /** Perturbed images per batched forward; does not change any result. */
  batchSize: number;
}

/** DecomCAM's named option sets. */
export type PresetName = 'official' | 'paper';

/** The defaults: the paper's P = 500, Q = 10, σ = 10 with scipy's truncate 4, threshold 0.001 (the `paper` preset). */
export const decomcamDefaults: Readonly<DecomcamOptions> = Object.freeze({
  score: 'cosine',
  P: 500,
  Q: 10,
  sigma: 10,
  truncate: 4,
  threshold: 0.001,
  perturb: 'rgb',
  baseline: 'blur',
  finalEps: 0,
  finalPasses: 1,
  batchSize: 16,
});

/** DecomCAM's presets; they change DecomCAM only, never another method. */
export const presets: Readonly<Record<PresetName, Readonly<DecomcamOptions>>> = Object.freeze({
  // The released class: S = logit_scale (the raw parameter) · <v, t>, unnormalised; masks mix the normalised
  // tensor; w_q = s_q / max s (0 below the threshold); ReLU + min-max (1e-7) applied twice (its get_cam_image,
  // then BaseCAM's scale_cam_image and aggregate_multi_layers).
  official: Object.freeze({ ...decomcamDefaults, score: 'scaledDot', perturb: 'normalized', baseline: 'none', finalEps: 1e-7, finalPasses: 2 }),
  // The paper: S = cosine; masks mix the RGB crop, then normalised; r_q = S(x_q) − S(blur); ReLU + min-max once.
  paper: decomcamDefaults,
});

// ---- the steps ---------------------------------------------------------------------------------------------

/**
 * Step 3: the top-P channels by signed α (α = dS/dA averaged over positions, step 2's gradients), descending (a
 * negative α ranks last), stable on ties — torch.sort(α, descending=True, stable=True); the official code's
 * torch.sort without stable=True leaves tie order unspecified, which only matters for an exact tie at the P-th
 * place. P > C takes all C channels, as Python's slicing `indices[:p]` does.
 */
export function topChannels(alpha: Float64Array, P: number): Int32Array {
  return descendingOrder(alpha).slice(0, Math.min(P, alpha.length));
}

/**
 * Step 3, continued: X[p, j] = A[p, top_j] · α[top_j], (h·w, K), with NaN → 0 (torch.where(isnan(X), 0, X)).
 */
export function weightedActivations(acts: Float, alpha: Float64Array, top: Int32Array, grid: LayerGrid): Float64Array {
  const { h, w, C } = grid;
  const K = top.length;
  const X = new Float64Array(h * w * K);
  for (let p = 0; p < h * w; p++) {
    for (let j = 0; j < K; j++) {
      const x = acts[p * C + top[j]] * alpha[top[j]];
      X[p * K + j] = Number.isNaN(x) ? 0 : x;
    }
  }
  return X;
}

// The largest Q X (positions × kept channels) allows.
function maxComponents(grid: LayerGrid, K: number): number {
  return Math.min(grid.h * grid.w, K);
}

function checkComponents(Q: number, grid: LayerGrid, K: number): void {
  const hw = grid.h * grid.w;
  if (!Number.isInteger(Q) || Q < 1 || Q > maxComponents(grid, K)) {
    fail(`DecomCAM components Q = ${Q}: X is ${hw}×${K} (positions × kept channels), so Q must be an integer in ` +
      `1..${maxComponents(grid, K)} (lower --components, or raise --top-p)`, 'usage');
  }
}

/**
 * Step 4: PCA of X (centred columns, SVD, scikit-learn < 1.5's svd_flip(u_based_decision=True) sign rule) to Q
 * components; OSSM_q = column q of the scores U·Σ, reshaped to h×w: ossm (Q,h,w). `note`: the PCA solver's
 * reliability note (its fallback), or null.
 */
export function ossmsByPca(X: Float64Array, grid: LayerGrid, K: number, Q: number): {
  ossm: Float64Array; singularValues: Float64Array; note: string | null;
  mean: Float64Array; components: Float64Array; explainedVarianceRatio: Float64Array; // (K) (Q,K) (Q), for the trace
} {
  checkComponents(Q, grid, K);
  const hw = grid.h * grid.w;
  const result = pca({ data: X, shape: [hw, K] }, Q);
  const scores = result.scores.data; // (h·w, Q) row-major
  const ossm = new Float64Array(Q * hw);
  for (let p = 0; p < hw; p++) for (let q = 0; q < Q; q++) ossm[q * hw + p] = scores[p * Q + q];
  return {
    ossm, singularValues: Float64Array.from(result.singularValues), note: result.note, mean: Float64Array.from(result.mean),
    components: Float64Array.from(result.components.data), explainedVarianceRatio: Float64Array.from(result.explainedVarianceRatio),
  };
}

/**
 * Step 5: M_q = bicubic upsample of ReLU(OSSM_q) to R×R (torch interpolate, align_corners=False, a = −0.75, no
 * antialias), and the masks m_q = min-max(M_q) (x − min, then / max when max > 0, as the official `normalize`).
 */
export function upsampledMasks(ossm: Float64Array, grid: LayerGrid, Q: number, R: number): { M: Float64Array; masks: Float64Array } {
  const relu = ossm.map((v) => Math.max(v, 0));
  const M = Float64Array.from(interpolate({ data: relu, shape: [Q, grid.h, grid.w] }, R, R, 'bicubic').data);
  const masks = Float64Array.from(M);
  for (let q = 0; q < Q; q++) minMax(masks, 0, q * R * R, R * R);
  return { M, masks };
}

/**
 * Step 6a: the perturbed images x_q = max(base · m_q, blur · (1 − m_q)), element by element, for every colour
 * channel; base (3,R,R) is the RGB crop or the normalised tensor, blur its Gaussian-blurred copy.
 */
export function perturbedBatch(base: Float64Array, blur: Float64Array, masks: Float64Array, Q: number, R: number): Float64Array {
  const RR = R * R;
  const batch = new Float64Array(Q * 3 * RR);
  for (let q = 0; q < Q; q++) {
    for (let ch = 0; ch < 3; ch++) {
      for (let i = 0; i < RR; i++) {
        const m = masks[q * RR + i];
        batch[(q * 3 + ch) * RR + i] = Math.max(base[ch * RR + i] * m, blur[ch * RR + i] * (1 - m));
      }
    }
  }
  return batch;
}

/**
 * Step 7a: w_q = 0 if r_q < threshold else r_q / max_q r (max over all Q gains, as the official ScaleNormalize).
 */
export function componentWeights(gains: Float64Array, threshold: number): Float64Array {
  let max = -Infinity;
  for (const r of gains) max = Math.max(max, r);
  return gains.map((r) => (r < threshold ? 0 : r / max));
}

/**
 * Step 7b: map = Σ_q w_q M_q, then `passes` × (ReLU, min-max with eps): (R,R); RR = R·R.
 */
export function integrate(M: Float64Array, weights: Float64Array, RR: number, eps: number, passes: number): Float64Array {
  const map = new Float64Array(RR);
  for (let q = 0; q < weights.length; q++) {
    if (weights[q] === 0) continue;
    for (let i = 0; i < RR; i++) map[i] += weights[q] * M[q * RR + i];
  }
  for (let k = 0; k < passes; k++) {
    for (let i = 0; i < RR; i++) map[i] = Math.max(map[i], 0);
    minMax(map, eps);
  }
  return map;
}

// ---- the wrappers: cache, trace ----------------------------------------------------------------------------

// A value computed once per image (shared by its texts and methods) under `key`.
function cached<T>(ctx: CamContext, key: string, make: () => T): T {
  if (!ctx.shared.has(key)) ctx.shared.set(key, make());
  return ctx.shared.get(key) as T;
}

// Every intermediate, into the trace (the `trace` option).
function traceSteps(tr: Map<string, Tensor>, grid: LayerGrid, R: number, Q: number, o: DecomcamOptions,
  v: Record<'alpha' | 'X' | 'singularValues' | 'M' | 'blur' | 'batch' | 's' | 'mean' | 'components' | 'explainedVarianceRatio', Float64Array>
    & { top: Int32Array; s0: number }): void {
  const hw = grid.h * grid.w;
  tr.set('alpha', { data: v.alpha, shape: [grid.C] });
  tr.set('top', { data: Float64Array.from(v.top), shape: [v.top.length] });
  tr.set('X', { data: v.X, shape: [hw, v.top.length] });
  tr.set('singularValues', { data: v.singularValues, shape: [v.singularValues.length] });
  tr.set('pcaMean', { data: v.mean, shape: [v.top.length] });                     // sklearn's mean_ (K)
  tr.set('components', { data: v.components, shape: [Q, v.top.length] });         // sklearn's components_ (Q,K)
  tr.set('explainedVarianceRatio', { data: v.explainedVarianceRatio, shape: [Q] }); // of the total variance of X
  tr.set('M', { data: v.M, shape: [Q, R, R] });
  tr.set('blur', { data: v.blur, shape: [3, R, R] });
  tr.set('batch', { data: v.batch, shape: [Q, 3, R, R] });
  tr.set('s', { data: v.s, shape: [Q] });
  if (o.baseline === 'blur') tr.set('s0', { data: Float64Array.of(v.s0), shape: [] });
}

// ---- the method --------------------------------------------------------------------------------------------

/** DecomCAM as a CAM method (explain's method 'decomcam'). */
export const decomcam: CamMethod<DecomcamOptions> = {
  name: 'decomcam',
  title: 'DecomCAM (arXiv 2405.18882)',
  usesGradients: true,
  defaults: decomcamDefaults,
  presets,
  defaultPreset: 'paper',
  check(o) {
    checkScoreKind(o.score, 'option score of method decomcam:');
    checkInt('decomcam', 'P (top-p)', o.P, 1);
    checkInt('decomcam', 'Q (components)', o.Q, 1);
    checkNumber('decomcam', 'sigma', o.sigma, 0);
    checkNumber('decomcam', 'truncate', o.truncate, 0);
    checkNumber('decomcam', 'threshold', o.threshold, -Infinity);
    checkChoice('decomcam', 'perturb', o.perturb, ['rgb', 'normalized']);
    checkChoice('decomcam', 'baseline', o.baseline, ['blur', 'none']);
    checkNumber('decomcam', 'finalEps', o.finalEps, 0);
    checkInt('decomcam', 'finalPasses', o.finalPasses, 0);
    checkInt('decomcam', 'batchSize', o.batchSize, 1);
  },
  // Q against the layer, before any forward runs.
  checkGrid(o, grid) {
    checkComponents(o.Q, grid, Math.min(o.P, grid.C));
  },
  targetScore: (o) => o.score,
  // Steps 1–2 (score, gradients at the layer) were done by the template; acts and grads are (h·w, C).
  fullMap(acts, grads, grid, ctx, time: StageTimer): FullMap {
    const o = ctx.options;
    const R = ctx.R;
    const Q = o.Q;
    // The default P (500, the paper's for ViT-B/16's 768 channels) takes a narrower layer whole, silently;
    // a P the caller chose that the layer cannot give is worth a warning.
    if (ctx.given.has('P') && o.P > grid.C) ctx.warn(`top-P ${o.P} exceeds the layer's ${grid.C} channels: all ${grid.C} are kept`);

    // 3. α, the top-P channels, X;  4. PCA → OSSMs
    const { alpha, top, X, ossm, singularValues, note, mean, components, explainedVarianceRatio } = time('decompose', () => {
      const alpha = meanOverPositions(grads, grid);
      const top = topChannels(alpha, o.P);
      const X = weightedActivations(acts, alpha, top, grid);
      return { alpha, top, X, ...ossmsByPca(X, grid, top.length, Q) };
    });
    if (note) ctx.warn(`PCA of X (${grid.h * grid.w}×${top.length}): ${note}`);
    // 5. masks;  6a. the perturbed images (the blurred base is made once per image)
    const base = o.perturb === 'rgb' ? ctx.rgb : ctx.pixels;
    const { M, masks, blur, batch } = time('masks', () => {
      const { M, masks } = upsampledMasks(ossm, grid, Q, R);
      const blur = cached(ctx, `blur:${o.perturb}:${o.sigma}:${o.truncate}`,
        () => Float64Array.from(gaussianFilter({ data: base, shape: [3, R, R] }, o.sigma, o.truncate).data));
      const mixed = perturbedBatch(base, blur, masks, Q, R);
      return { M, masks, blur, batch: o.perturb === 'rgb' ? ctx.normalize(mixed) : mixed };
    });
    // 6b. their scores s_q (one batched forward), and the gains r_q against the blurred image's score (paper)
    const { s, s0, gains } = time('perturbed', () => {
      const s = ctx.scoreImages(batch, Q, o.batchSize);
      const blurEmbedding = o.baseline === 'blur'
        ? cached(ctx, `blurEmbedding:${o.perturb}:${o.sigma}:${o.truncate}`,
          () => ctx.embedImages(o.perturb === 'rgb' ? ctx.normalize(blur) : blur, 1, 1))
        : null;
      const s0 = blurEmbedding ? ctx.scoreEmbeddings(blurEmbedding, 1)[0] : 0;
      return { s, s0, gains: s.map((v) => v - s0) };
    });
    // 7. component weights and the final map
    const weights = time('integrate', () => componentWeights(gains, o.threshold));
    if (weights.every((v) => v === 0)) {
      ctx.warn(`all ${Q} DecomCAM component weights are 0 (every score gain is below the threshold ${o.threshold}): ` +
        'the map is all zeros (try another text or layer)');
    }
    const map = time('integrate', () => integrate(M, weights, R * R, o.finalEps, o.finalPasses));

    if (ctx.trace) traceSteps(ctx.trace, grid, R, Q, o,
      { alpha, top, X, singularValues, M, blur, batch, s, s0, mean, components, explainedVarianceRatio });
    return { map, ossm, weights, masks, perturbedScores: s, Q };
  },
};

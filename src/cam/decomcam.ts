// cam/decomcam.ts: DecomCAM (Yang et al., arXiv 2405.18882), its steps numbered as the paper's: 1 score,
// 2 gradients, 3 top-P channels, 4 X = A[:,top]·α[top], 5 PCA → OSSMs, 6 masks, 7 perturbed images,
// 8 perturbed scores, 9 integration. Two presets: `official` (pytorch_grad_cam/decom_cam.py of the authors' repo)
// and `paper` (the paper's text); both are option objects, the code has no branch per preset.
// Shapes: acts, grads (h·w, C); X (h·w, P); ossm (Q,h,w); M, masks (Q,S,S); batch (Q,3,S,S). All float64.

import { fail } from '../errors.js';
import { gaussianFilter } from '../image/blur.js';
import { interpolate } from '../image/interpolate.js';
import { pca } from '../linalg/pca.js';
import type { Float } from '../tensor/tensor.js';
import { meanOverPositions } from './gradcam.js';
import { descendingOrder, minMax, type CamContext, type CamMethod, type CamOptions, type FullMap, type LayerGrid } from './template.js';

// The defaults (the paper's P = 500, Q = 10, σ = 10 with scipy's truncate 4, threshold 0.001, the last block's
// ln_1) and the `paper` preset.
export const decomcamDefaults: CamOptions = {
  layer: 'vision.blocks.-1.ln_1',
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
  topK: 300,
  batchSize: 16,
  trace: false,
};

export type PresetName = 'official' | 'paper';

export const presets: Record<PresetName, CamOptions> = {
  // The released class: S = logit_scale (the raw parameter) · <v, t>, unnormalised; masks mix the normalised
  // tensor; w_q = s_q / max s (0 below the threshold); ReLU + min-max (1e-7) applied twice (its get_cam_image,
  // then BaseCAM's scale_cam_image and aggregate_multi_layers).
  official: { ...decomcamDefaults, score: 'scaledDot', perturb: 'normalized', baseline: 'none', finalEps: 1e-7, finalPasses: 2 },
  // The paper: S = cosine; masks mix the RGB crop, then normalised; r_q = S(x_q) − S(blur); ReLU + min-max once.
  paper: { ...decomcamDefaults },
};

// Step 3: the top-P channels by signed α, descending (a negative α ranks last), stable on ties — torch.sort(α,
// descending=True, stable=True); the official code's torch.sort without stable=True leaves tie order
// unspecified, which only matters for an exact tie at the P-th place. P > C takes all C channels, as Python's
// slicing `indices[:p]` does.
export function topChannels(alpha: Float64Array, P: number): Int32Array {
  return descendingOrder(alpha).slice(0, Math.min(P, alpha.length));
}

// Step 4: X[p, j] = A[p, top_j] · α[top_j], (h·w, P'), with NaN → 0 (torch.where(isnan(X), 0, X)).
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

// Step 5: PCA of X (centred columns, SVD, scikit-learn < 1.5's svd_flip(u_based_decision=True) sign rule) to Q
// components; OSSM_q = column q of the scores U·S, reshaped to h×w: ossm (Q,h,w).
export function ossmsByPca(X: Float64Array, grid: LayerGrid, K: number, Q: number): { ossm: Float64Array; singularValues: Float64Array } {
  const n = grid.h * grid.w;
  if (!Number.isInteger(Q) || Q < 1 || Q > Math.min(n, K)) {
    fail(`DecomCAM components Q = ${Q}: X is ${n}×${K} (positions × kept channels), so Q must be an integer in 1..${Math.min(n, K)} ` +
      '(lower --components, or raise --top-p)', 'usage');
  }
  const result = pca({ data: X, shape: [n, K] }, Q);
  const scores = result.scores.data; // (n, Q) row-major
  const ossm = new Float64Array(Q * n);
  for (let p = 0; p < n; p++) for (let q = 0; q < Q; q++) ossm[q * n + p] = scores[p * Q + q];
  return { ossm, singularValues: Float64Array.from(result.singularValues) };
}

// Step 6: M_q = bicubic upsample of ReLU(OSSM_q) to S×S (torch interpolate, align_corners=False, a = −0.75, no
// antialias), and the masks m_q = min-max(M_q) (x − min, then / max when max > 0, as the official `normalize`).
export function upsampledMasks(ossm: Float64Array, grid: LayerGrid, Q: number, S: number): { M: Float64Array; masks: Float64Array } {
  const relu = ossm.map((v) => Math.max(v, 0));
  const M = Float64Array.from(interpolate({ data: relu, shape: [Q, grid.h, grid.w] }, S, S, 'bicubic').data);
  const masks = Float64Array.from(M);
  for (let q = 0; q < Q; q++) minMax(masks, 0, q * S * S, S * S);
  return { M, masks };
}

// Step 7: the perturbed images x_q = max(base · m_q, blur · (1 − m_q)), element by element, for every colour
// channel; base (3,S,S) is the RGB crop or the normalised tensor, blur its Gaussian-blurred copy.
export function perturbedBatch(base: Float64Array, blur: Float64Array, masks: Float64Array, Q: number, S: number): Float64Array {
  const SS = S * S;
  const batch = new Float64Array(Q * 3 * SS);
  for (let q = 0; q < Q; q++) {
    for (let ch = 0; ch < 3; ch++) {
      for (let i = 0; i < SS; i++) {
        const m = masks[q * SS + i];
        batch[(q * 3 + ch) * SS + i] = Math.max(base[ch * SS + i] * m, blur[ch * SS + i] * (1 - m));
      }
    }
  }
  return batch;
}

// Step 9a: w_q = 0 if r_q < threshold else r_q / max_q r (max over all Q gains, as the official ScaleNormalize).
export function componentWeights(gains: Float64Array, threshold: number): Float64Array {
  let max = -Infinity;
  for (const r of gains) max = Math.max(max, r);
  return gains.map((r) => (r < threshold ? 0 : r / max));
}

// Step 9b: map = Σ_q w_q M_q, then `passes` × (ReLU, min-max with eps): (S,S).
export function integrate(M: Float64Array, weights: Float64Array, SS: number, eps: number, passes: number): Float64Array {
  const map = new Float64Array(SS);
  for (let q = 0; q < weights.length; q++) {
    if (weights[q] === 0) continue;
    for (let i = 0; i < SS; i++) map[i] += weights[q] * M[q * SS + i];
  }
  for (let k = 0; k < passes; k++) {
    for (let i = 0; i < SS; i++) map[i] = Math.max(map[i], 0);
    minMax(map, eps);
  }
  return map;
}

// The blurred base image (3,S,S), scipy's gaussian_filter per colour channel (reflect borders), once per image.
function blurred(base: Float64Array, ctx: CamContext): Float64Array {
  const o = ctx.options;
  const key = `blur:${o.perturb}:${o.sigma}:${o.truncate}`;
  let blur = ctx.shared.get(key) as Float64Array | undefined;
  if (!blur) {
    blur = Float64Array.from(gaussianFilter({ data: base, shape: [3, ctx.S, ctx.S] }, o.sigma, o.truncate).data);
    ctx.shared.set(key, blur);
  }
  return blur;
}

// S(blur) for the `paper` gains: the blurred image's embedding is computed once per image, its score per text.
function blurScore(blur: Float64Array, ctx: CamContext): number {
  const key = `blurEmbedding:${ctx.options.perturb}:${ctx.options.sigma}:${ctx.options.truncate}`;
  let emb = ctx.shared.get(key) as Float | undefined;
  if (!emb) {
    const input = ctx.options.perturb === 'rgb' ? ctx.normalize(blur) : blur;
    emb = ctx.embedImages(input, 1);
    ctx.shared.set(key, emb);
  }
  return ctx.scoreEmbeddings(emb, 1)[0];
}

export const decomcam: CamMethod = {
  name: 'decomcam',
  title: 'DecomCAM (arXiv 2405.18882)',
  usesGradients: true,
  // Steps 1–2 (score, gradients at the layer) were done by the harness; acts and grads are (h·w, C).
  fullMap(acts, grads, grid, ctx): FullMap {
    const o = ctx.options;
    const { S } = ctx;
    const SS = S * S;
    const tr = ctx.trace;
    // 2–5. α, top-P, X, PCA → OSSMs
    const { alpha, top, X, ossm, singularValues } = ctx.time('decompose', () => {
      const alpha = meanOverPositions(grads, grid);
      // The default P (500, the paper's for ViT-B/16's 768 channels) takes a narrower layer whole, silently;
      // a P the caller chose that the layer cannot give is worth a warning.
      if (o.P > grid.C && o.P !== decomcamDefaults.P) {
        ctx.warn(`top-P ${o.P} exceeds the layer's ${grid.C} channels: all ${grid.C} are kept`);
      }
      const top = topChannels(alpha, o.P);
      const X = weightedActivations(acts, alpha, top, grid);
      return { alpha, top, X, ...ossmsByPca(X, grid, top.length, o.Q) };
    });
    // 6–7. masks and the perturbed batch
    const { M, masks, blur, batch } = ctx.time('masks', () => {
      const { M, masks } = upsampledMasks(ossm, grid, o.Q, S);
      const base = o.perturb === 'rgb' ? ctx.rgb : ctx.pixels;
      const blur = blurred(base, ctx);
      const mixed = perturbedBatch(base, blur, masks, o.Q, S);
      const batch = o.perturb === 'rgb' ? ctx.normalize(mixed) : mixed;
      return { M, masks, blur, batch };
    });
    // 8. one batched forward of the Q perturbed images; gains against the blurred image in the paper
    const { s, gains, s0 } = ctx.time('perturbed', () => {
      const s = ctx.scoreImages(batch, o.Q);
      const s0 = o.baseline === 'blur' ? blurScore(blur, ctx) : 0;
      return { s, s0, gains: s.map((v) => v - s0) };
    });
    // 9. weights and the final map
    const { weights, map } = ctx.time('integrate', () => {
      const weights = componentWeights(gains, o.threshold);
      if (weights.every((v) => v === 0)) {
        ctx.warn(`all ${o.Q} DecomCAM component weights are 0 (every score gain is below the threshold ${o.threshold}): ` +
          'the map is all zeros (try another text or layer)');
      }
      return { weights, map: integrate(M, weights, SS, o.finalEps, o.finalPasses) };
    });
    if (tr) {
      const n = grid.h * grid.w;
      tr.set('alpha', { data: alpha, shape: [grid.C] });
      tr.set('top', { data: Float64Array.from(top), shape: [top.length] });
      tr.set('X', { data: X, shape: [n, top.length] });
      tr.set('singularValues', { data: singularValues, shape: [singularValues.length] });
      tr.set('M', { data: M, shape: [o.Q, S, S] });
      tr.set('blur', { data: blur, shape: [3, S, S] });
      tr.set('batch', { data: batch, shape: [o.Q, 3, S, S] });
      tr.set('s', { data: s, shape: [o.Q] });
      if (o.baseline === 'blur') tr.set('s0', { data: Float64Array.of(s0), shape: [] });
    }
    return { map, ossm, weights, masks, perturbedScores: s, Q: o.Q };
  },
};

// report/stages.ts: stages.safetensors — every intermediate of one text's explanation, named and documented, so
// that a port of DecomCAM to another language can be compared with decomcam stage by stage. Written in the
// run's precision (F64 with --dtype float64, else F32). The names and shapes, with h×w the patch grid, C the
// layer's channels, K = min(P, C) kept channels, Q components, S the crop's side, are STAGE_DOCS below.
// Needs an explanation made with the `trace` option (cam/explain.ts).

import { integrate } from '../cam/decomcam.js';
import type { Explanation } from '../cam/explain.js';
import { fail } from '../errors.js';
import type { StTensor } from '../io/safetensors.js';

/** Each stage's name → its shape and meaning (README, "stages.safetensors"). DecomCAM writes all of them;
 * another method writes input.*, layer.*, alpha (its channel weights, when it has them), raw, map. */
export const STAGE_DOCS: Readonly<Record<string, string>> = Object.freeze({
  'input.rgb': '(3,S,S) the preprocessed crop in [0,1] (resize short side to S, centre crop)',
  'input.pixels': '(3,S,S) the crop normalised with CLIP mean/std: what the model saw',
  'layer.acts': '(h·w,C) the target layer\'s activations, class token dropped, row-major over the grid',
  'layer.grads': '(h·w,C) dS/dA at the target layer for this text\'s score',
  score: '() S(image), by the score kind of result.json (paper: cosine)',
  alpha: '(C) DecomCAM: α = mean over positions of dS/dA (step 2); other methods: their channel weights',
  top: '(K) the top-P channel indices by signed α, descending (step 3)',
  X: '(h·w,K) X = A[:, top]·α[top] (step 3)',
  'pca.mean': '(K) the column means of X removed before the SVD (sklearn mean_)',
  'pca.scores': '(h·w,Q) U·S, the PCA scores (sklearn fit_transform), sign rule of sklearn < 1.5',
  'pca.components': '(Q,K) the principal directions (sklearn components_)',
  'pca.singularValues': '(Q) σ_q',
  ossm: '(Q,h,w) the OSSMs: pca.scores reshaped, before ReLU (step 4)',
  M: '(Q,S,S) bicubic upsampling of ReLU(ossm) to the crop (step 5)',
  masks: '(Q,S,S) M min-max normalised per component (step 5)',
  blur: '(3,S,S) the Gaussian-blurred base the masks mix with (step 6)',
  batch: '(Q,3,S,S) the perturbed images, normalised as the model saw them (step 6)',
  s: '(Q) each perturbed image\'s score s_q (step 6)',
  s0: '() the blurred image\'s score, the baseline (paper preset; absent with baseline none)',
  gains: '(Q) r_q = s_q − s0 (or s_q without a baseline)',
  weights: '(Q) w_q = r_q / max r, 0 below the threshold (step 7)',
  mapRaw: '(S,S) Σ_q w_q M_q before ReLU and min-max (step 7)',
  map: '(S,S) the final map in [0,1] (after ReLU and min-max)',
  raw: '(h,w) a baseline\'s map before ReLU, min-max and upsampling',
});

/** The stages of text k of `ex` as safetensors tensors (F64 or F32), in STAGE_DOCS order. */
export function stageTensors(ex: Explanation, k: number, dtype: 'float32' | 'float64'): Record<string, StTensor> {
  const r = ex.results[k];
  if (!r) fail(`stageTensors: the explanation has no text ${k}`);
  const tr = r.trace;
  if (!tr) fail('stageTensors: the explanation was made without the trace option (explain(…, { trace: true }))');
  const S = ex.S;
  const { h, w, C } = ex.grid;
  const out: Record<string, StTensor> = {};
  const put = (name: string, data: ArrayLike<number>, shape: number[]) => {
    out[name] = { dtype: dtype === 'float64' ? 'F64' : 'F32', shape, data: dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data) };
  };
  put('input.rgb', ex.rgb.data, [3, S, S]);
  put('input.pixels', ex.pixels.data, [3, S, S]);
  put('layer.acts', tr.acts.data, [h * w, C]);
  put('layer.grads', tr.grads.data, [h * w, C]);
  put('score', [r.score], []);
  if (r.ossm && r.weights && r.perturbedScores) {
    const Q = r.weights.shape[0];
    const K = tr.top.data.length;
    put('alpha', tr.alpha.data, [C]);
    out.top = { dtype: 'I64', shape: [K], data: BigInt64Array.from(Array.from(tr.top.data, (i) => BigInt(i))) };
    put('X', tr.X.data, [h * w, K]);
    put('pca.mean', tr.pcaMean.data, [K]);
    const scores = new Float64Array(h * w * Q); // (h·w, Q) from ossm (Q, h·w)
    for (let q = 0; q < Q; q++) for (let p = 0; p < h * w; p++) scores[p * Q + q] = r.ossm.data[q * h * w + p];
    put('pca.scores', scores, [h * w, Q]);
    put('pca.components', tr.components.data, [Q, K]);
    put('pca.singularValues', tr.singularValues.data, [Q]);
    put('ossm', r.ossm.data, [Q, h, w]);
    put('M', tr.M.data, [Q, S, S]);
    put('masks', r.masks?.data ?? [], [Q, S, S]);
    put('blur', tr.blur.data, [3, S, S]);
    put('batch', tr.batch.data, [Q, 3, S, S]);
    put('s', r.perturbedScores.data, [Q]);
    const s0 = tr.s0 ? tr.s0.data[0] : 0;
    if (tr.s0) put('s0', [s0], []);
    put('gains', Array.from(r.perturbedScores.data, (v) => v - s0), [Q]);
    put('weights', r.weights.data, [Q]);
    // integrate with no ReLU/min-max pass is exactly the sum Σ_q w_q M_q the final map starts from
    put('mapRaw', integrate(Float64Array.from(tr.M.data), Float64Array.from(r.weights.data), S * S, 0, 0), [S, S]);
  } else {
    if (r.channelWeights) put('alpha', r.channelWeights.data, [C]);
    if (tr.raw) put('raw', tr.raw.data, [h, w]);
  }
  put('map', r.map.data, [S, S]);
  return out;
}

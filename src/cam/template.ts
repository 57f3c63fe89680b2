// cam/template.ts: the shared work of every CAM method on a CLIP ViT layer: preprocess; forward to the target
// layer (once per image); score through a target (cam/target.ts); backward to the layer; hand the method
// { acts, grads, grid } — the layer's patch tokens, class token dropped, row-major over the h×w grid, (h·w, C);
// then, for a method that returns channel weights (C) or a raw map (h·w), pytorch-grad-cam's post-processing:
// ReLU, min-max (eps 1e-7), bilinear resize to the input, ReLU, min-max again.
// Shape letters: h×w patch grid, C channels (the width D), S input side, E embedding, Q components.

import { patchGrid } from '../clip/config.js';
import { encodeImages, type ClipModel } from '../clip/model.js';
import { getActivation, releaseRun, visionBackward, visionForward, type VisionRun } from '../clip/vision.js';
import { fail } from '../errors.js';
import type { RgbImage } from '../image/decode.js';
import { interpolate } from '../image/interpolate.js';
import { centerCropResize, normalize, toTensor } from '../image/preprocess.js';
import { allocFloat, type Float, type Tensor } from '../tensor/tensor.js';
import { cosineRow, scoreAndGrad, scoreRows, type ScoreKind, type Target } from './target.js';

// The patch grid of the target layer and its channel count.
export interface LayerGrid {
  h: number;
  w: number;
  C: number;
}

// Every knob of the harness and of DecomCAM, in one object (defaults and presets: cam/decomcam.ts).
export interface CamOptions {
  layer: string;          // 'vision.blocks.N.ln_1' | '.ln_2' | 'vision.blocks.N' (output); N < 0 counts from the end
  score: ScoreKind;       // how a text target scores the image embedding (cam/target.ts)
  P: number;              // DecomCAM: channels kept by signed α (clamped to C)
  Q: number;              // DecomCAM: PCA components (OSSMs)
  sigma: number;          // DecomCAM: Gaussian blur σ (pixels of the crop)
  truncate: number;       // DecomCAM: blur radius = round(truncate·σ), as scipy
  threshold: number;      // DecomCAM: a gain below this gets weight 0
  perturb: 'rgb' | 'normalized';  // DecomCAM: masks mix the RGB crop (then normalise) or the normalised tensor
  baseline: 'blur' | 'none';      // DecomCAM: gains r_q = s_q − S(blur) ('blur') or s_q ('none')
  finalEps: number;       // DecomCAM: eps of the final min-max: (x − min) / (max − min + eps)
  finalPasses: number;    // DecomCAM: how many times ReLU + min-max is applied at the end
  topK: number;           // gScoreCAM: channels scored (clamped to C)
  batchSize: number;      // images per batched forward (perturbed images); does not change any result
  trace: boolean;         // keep every intermediate (α, top, X, masks, batch, …) in the result
}

// A decoded image (resized and centre-cropped as CLIP's preprocessing does) or an RGB crop already at the
// model's size: a (3,S,S) tensor with values in [0, 1].
export type CamImage = RgbImage | Tensor;

// One text's answer (runMethod).
export interface TextExplanation {
  text: string;                   // the prompt, or the embedding target's label
  score: number;                  // S(image) by the target's score kind
  cosine: number;                 // cos(v, t), whatever the score kind
  map: Tensor;                    // [S,S] final map in [0, 1], float64, in the preprocessed crop's frame
  ossm: Tensor | null;            // [Q,h,w] DecomCAM's PCA scores before ReLU
  weights: Tensor | null;         // [Q] DecomCAM's component weights
  masks: Tensor | null;           // [Q,S,S] DecomCAM's masks m_q
  perturbedScores: Tensor | null; // [Q] DecomCAM's s_q
  channelWeights: Tensor | null;  // [C] the weights of a channel-weight method (Grad-CAM, Score-CAM, …)
  warnings: string[];
  timings: Record<string, number>; // ms per stage of this text: backward, decompose, masks, perturbed, integrate, method
  trace: Record<string, Tensor> | null; // every intermediate (options.trace)
}

// What a method may use besides { acts, grads, grid }: the input and a way to score other images with the
// same target. Built per text by runMethod below.
export interface CamContext {
  S: number;                 // input side: the crop is S×S
  rgb: Float64Array;         // (3,S,S) the RGB crop in [0, 1]
  pixels: Float64Array;      // (3,S,S) the normalised input (the model saw it cast to its dtype)
  normalize(rgb: Float64Array): Float64Array;            // (B,3,S,S) RGB → normalised, as `pixels` was made
  embedImages(batch: Float64Array, B: number): Float;    // (B,E) embeddings of (B,3,S,S), no gradient
  scoreEmbeddings(embeddings: Float, B: number): Float64Array; // (B) the target's score of each embedding
  scoreImages(batch: Float64Array, B: number): Float64Array;   // (B) both of the above
  options: CamOptions;
  shared: Map<string, unknown>; // per image, shared by all its texts (e.g. the blurred image's embedding)
  warn(message: string): void;
  time<T>(stage: string, fn: () => T): T; // adds fn's wall time (ms) to the text's timings[stage]
  trace: Map<string, Tensor> | null;      // intermediates, when options.trace
}

// DecomCAM's richer answer (a map already at S×S, plus its decomposition).
export interface FullMap {
  map: Float64Array;     // (S,S) final, in [0, 1]
  ossm: Float64Array;    // (Q,h,w) PCA scores before ReLU
  weights: Float64Array; // (Q)
  masks: Float64Array;   // (Q,S,S) m_q in [0, 1]
  perturbedScores: Float64Array; // (Q) s_q
  Q: number;
}

// A method supplies exactly one of channelWeights, rawMap or fullMap.
export interface CamMethod {
  name: string;
  title: string;             // paper and reference, for help texts
  usesGradients: boolean;    // false: the harness skips the backward
  channelWeights?(acts: Float, grads: Float, grid: LayerGrid, ctx: CamContext): Float64Array; // (C)
  rawMap?(acts: Float, grads: Float, grid: LayerGrid, ctx: CamContext): Float64Array;         // (h·w)
  fullMap?(acts: Float, grads: Float, grid: LayerGrid, ctx: CamContext): FullMap;
}

export const MINMAX_EPS = 1e-7; // pytorch-grad-cam's scale_cam_image: / (max + 1e-7), keeps a constant map finite

// (h·w): map[p] = Σ_c weights[c] · acts[p,c]
export function weightedSum(acts: Float, weights: Float64Array, grid: LayerGrid): Float64Array {
  const { h, w, C } = grid;
  const map = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += weights[c] * acts[p * C + c];
    map[p] = s;
  }
  return map;
}

// In place: x = max(x, 0).
export function relu(x: Float64Array): Float64Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.max(x[i], 0);
  return x;
}

// In place: x − min, then / (max + eps) (max after the shift). With eps = 0 a constant map becomes all zeros
// rather than NaN: the division is skipped when max + eps is 0. Works on x[o : o+n].
export function minMax(x: Float64Array, eps: number, o = 0, n = x.length - o): Float64Array {
  let lo = Infinity;
  for (let i = o; i < o + n; i++) lo = Math.min(lo, x[i]);
  let hi = -Infinity;
  for (let i = o; i < o + n; i++) {
    x[i] -= lo;
    hi = Math.max(hi, x[i]);
  }
  const d = hi + eps;
  if (d > 0) for (let i = o; i < o + n; i++) x[i] /= d;
  return x;
}

// Indices of `values` sorted descending, equal values in increasing index order (torch.sort(descending=True,
// stable=True)); NaN counts as the largest value, as in torch's descending sort.
export function descendingOrder(values: Float64Array): Int32Array {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => {
    const va = values[a];
    const vb = values[b];
    if (Number.isNaN(va) || Number.isNaN(vb)) {
      if (Number.isNaN(va) && Number.isNaN(vb)) return a - b;
      return Number.isNaN(va) ? -1 : 1;
    }
    return vb - va || a - b;
  });
  return Int32Array.from(idx);
}

// pytorch-grad-cam's post-processing of a raw map (h·w) into the final (S,S) map: ReLU; scale_cam_image
// (min-max with 1e-7, cv2.resize INTER_LINEAR to the input size — for upscaling identical to
// interpolate(bilinear, align_corners=False)); then its layer aggregation: ReLU, mean over one layer, min-max.
export function postprocess(raw: Float64Array, grid: LayerGrid, S: number): Float64Array {
  const x = minMax(relu(Float64Array.from(raw)), MINMAX_EPS);
  const up = interpolate({ data: x, shape: [1, grid.h, grid.w] }, S, S, 'bilinear').data;
  return minMax(relu(Float64Array.from(up)), MINMAX_EPS);
}

// ---- the harness: preprocess, forward, score, backward, method -------------------------------------------

// The RGB crop (3,S,S) in float64: x / 255 of CLIP's resize + centre crop, or the given crop as is.
function rgbCrop(image: CamImage, S: number): Float64Array {
  if (image && 'shape' in image && 'data' in image) {
    const t = image as Tensor;
    if (t.shape.length !== 3 || t.shape[0] !== 3 || t.shape[1] !== S || t.shape[2] !== S) {
      fail(`image tensor has shape [${t.shape.join(', ')}], expected an RGB crop [3, ${S}, ${S}] in [0, 1] for this model ` +
        '(or pass a decoded image, which is resized and cropped as CLIP does)', 'usage');
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) fail(`image tensor has ${t.data[i]} at index ${i}: pixel values must be finite`, 'usage');
    }
    return Float64Array.from(t.data);
  }
  const img = image as RgbImage;
  if (!img || !Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1 ||
    !(img.data instanceof Uint8Array) || img.data.length !== img.width * img.height * 3) {
    fail('image: expected a decoded RGB image { width, height, data: Uint8Array (H·W·3) } or a [3, S, S] tensor', 'usage');
  }
  return Float64Array.from(toTensor(centerCropResize(img, S), 'float64').data);
}

// (B,3,S,S) float64 → the model's dtype.
function toModel(model: ClipModel, x: Float64Array, B: number, S: number): Tensor {
  const data = allocFloat(model.dtype, x.length);
  data.set(x);
  return { data, shape: [B, 3, S, S] };
}

// (B,3,S,S) RGB → CLIP-normalised, float64 (image/preprocess.ts's normalize on each image).
function normalizeBatch(x: Float64Array, S: number): Float64Array {
  const n = 3 * S * S;
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length / n; b++) {
    out.set(normalize({ data: x.subarray(b * n, (b + 1) * n), shape: [3, S, S] }).data, b * n);
  }
  return out;
}

// Embeddings (B,E) of a batch of images (B,3,S,S), batchSize images per forward, nothing kept for a backward
// (each forward's arrays are given back before the next: memory grows with batchSize, not with B).
function embedder(model: ClipModel, S: number, batchSize: number): (batch: Float64Array, B: number) => Float {
  const E = model.config.embedDim;
  return (batch, B) => {
    const out = allocFloat(model.dtype, B * E);
    for (let b0 = 0; b0 < B; b0 += batchSize) {
      const n = Math.min(batchSize, B - b0);
      const x = toModel(model, batch.subarray(b0 * 3 * S * S, (b0 + n) * 3 * S * S), n, S);
      out.set(encodeImages(model, x).data, b0 * E);
    }
    return out;
  };
}

function now(): number {
  return performance.now();
}

// What one image's forward gives every text.
export interface ImageRun {
  model: ClipModel;
  run: VisionRun;
  layer: string;
  grid: LayerGrid;
  S: number;
  rgb: Float64Array;     // (3,S,S)
  pixels: Float64Array;  // (3,S,S)
  acts: Float;           // (h·w, C) a view of the layer's tokens after the class token
  options: CamOptions;
  shared: Map<string, unknown>;
  embedImages: (batch: Float64Array, B: number) => Float;
}

// Preprocess (the crop in [0, 1], its normalisation in float64, cast to the model's dtype) and the one forward to
// the layer, shared by every text. `layer` is canonical (clip/vision.ts resolveLayer). Adds preprocess and forward
// to `timings` (ms).
export function prepareImage(model: ClipModel, image: CamImage, layer: string, options: CamOptions,
  timings: Record<string, number>): ImageRun {
  const S = model.config.vision.imageSize;
  const [h, w] = patchGrid(model.config);
  const grid: LayerGrid = { h, w, C: model.config.vision.width };
  const t0 = now();
  const rgb = rgbCrop(image, S);
  const pixels = normalizeBatch(rgb, S);
  timings.preprocess = now() - t0;
  const t1 = now();
  const run = visionForward(model, toModel(model, pixels, 1, S), { keep: [layer] });
  const acts = getActivation(run, layer).data.subarray(grid.C); // (N,C) → (h·w, C): the class token dropped
  timings.forward = now() - t1;
  return { model, run, layer, grid, S, rgb, pixels, acts, options, shared: new Map(), embedImages: embedder(model, S, options.batchSize) };
}

// Gives the image's forward arrays back to the backend (after its last text): im.acts is invalid afterwards.
export function releaseImage(im: ImageRun): void {
  releaseRun(im.run);
}

// One text with embedding t (E): its score, the backward to the layer, the method, the post-processing.
export function runMethod(im: ImageRun, method: CamMethod, target: Target, t: Float64Array): TextExplanation {
  const { model, run, layer, grid, S, acts, options } = im;
  const E = model.config.embedDim;
  const timings: Record<string, number> = {};
  const warnings: string[] = [];
  const trace = options.trace ? new Map<string, Tensor>() : null;
  const time = <T>(stage: string, fn: () => T): T => {
    const s = now();
    const r = fn();
    timings[stage] = (timings[stage] ?? 0) + now() - s;
    return r;
  };

  // score and its gradient at the embedding, then the backward to the layer (class token dropped)
  const v = run.embeddings.data;
  const { score, dv } = scoreAndGrad(target.kind, v, t, model.logitScale);
  const grads = method.usesGradients
    ? time('backward', () => visionBackward(model, run, { data: dv, shape: [1, E] }, layer).data.subarray(grid.C))
    : new Float64Array(acts.length); // not read by gradient-free methods
  if (method.usesGradients && grads.every((g) => g === 0)) {
    warnings.push(`the gradients at ${layer} are all zero: the score does not depend on these patch tokens ` +
      '(in the last block only ln_1 feeds the class token through attention; try vision.blocks.-1.ln_1)');
  }
  const ctx: CamContext = {
    S, rgb: im.rgb, pixels: im.pixels, normalize: (x) => normalizeBatch(x, S), embedImages: im.embedImages,
    scoreEmbeddings: (emb, B) => scoreRows(target.kind, emb, B, t, model.logitScale),
    scoreImages: (batch, B) => scoreRows(target.kind, im.embedImages(batch, B), B, t, model.logitScale),
    options, shared: im.shared, time, trace, warn: (m) => warnings.push(m),
  };
  const out: TextExplanation = {
    text: target.label, score, cosine: cosineRow(v, 0, t, E), map: { data: new Float64Array(S * S), shape: [S, S] },
    ossm: null, weights: null, masks: null, perturbedScores: null, channelWeights: null, warnings, timings, trace: null,
  };

  if (method.fullMap) {
    const r = method.fullMap(acts, grads, grid, ctx);
    out.map = { data: r.map, shape: [S, S] };
    out.ossm = { data: r.ossm, shape: [r.Q, grid.h, grid.w] };
    out.weights = { data: r.weights, shape: [r.Q] };
    out.masks = { data: r.masks, shape: [r.Q, S, S] };
    out.perturbedScores = { data: r.perturbedScores, shape: [r.Q] };
  } else {
    const raw = time('method', () => {
      if (method.channelWeights) {
        const cw = method.channelWeights(acts, grads, grid, ctx);
        out.channelWeights = { data: cw, shape: [grid.C] };
        return weightedSum(acts, cw, grid);
      }
      if (method.rawMap) return method.rawMap(acts, grads, grid, ctx);
      return fail(`method "${method.name}" defines none of channelWeights, rawMap, fullMap`);
    });
    trace?.set('raw', { data: raw, shape: [grid.h, grid.w] });
    out.map = { data: time('postprocess', () => postprocess(raw, grid, S)), shape: [S, S] };
  }
  if (trace) {
    trace.set('acts', { data: Float64Array.from(acts), shape: [grid.h * grid.w, grid.C] });
    trace.set('grads', { data: Float64Array.from(grads), shape: [grid.h * grid.w, grid.C] });
    out.trace = Object.fromEntries(trace);
  }
  return out;
}


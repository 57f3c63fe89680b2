// cam/template.ts: the shared work of every CAM method on a CLIP ViT layer: preprocess; forward to the target
// layer (once per image); score through a target (cam/target.ts) and backward to the layer (once per text and
// score kind, shared by every method that reads gradients); hand the method { acts, grads, grid } — the layer's
// patch tokens, class token dropped, row-major over the h×w grid, (h·w, C); then, for a method that returns
// channel weights (C) or a raw map (h·w), pytorch-grad-cam's post-processing: ReLU, min-max (eps 1e-7), bilinear
// resize to the input, ReLU, min-max again.
// Shape letters: h×w patch grid, C channels (the width D), R the crop's side in pixels (R×R), E embedding.
// (S is kept for the score, as in the paper.)

import { encodeImages, type ClipModel } from '../clip/model.js';
import { cosineRow, scoreAndGrad, scoreRows, type ScoreKind } from '../clip/score.js';
import {
  defaultLayer, getActivation, layerGridOf, releaseRun, visionBackward, visionForward, type VisionRun,
} from '../clip/vision.js';
import { fail } from '../errors.js';
import type { RgbImage } from '../image/decode.js';
import { interpolate } from '../image/interpolate.js';
import { centerCropResize, normalize, toTensor } from '../image/preprocess.js';
import { allocFloat, type Float, type Tensor } from '../tensor/tensor.js';
import { MINMAX_EPS, minMax, relu } from './minmax.js';
import { positionsOf, type Target } from './target.js';

export { MINMAX_EPS, minMax, relu };

/** The patch grid of the target layer (h×w positions) and its channel count C. */
export interface LayerGrid {
  h: number;
  w: number;
  C: number;
}

/** A decoded image (resized and centre-cropped as CLIP's preprocessing does) or an RGB crop already at the
 * model's size: a (3,R,R) tensor with values in [0, 1]. */
export type CamImage = RgbImage | Tensor;

/** One text's answer for one method. */
export interface TextExplanation {
  /** The prompt, or the embedding target's label. */
  text: string;
  /** S(image) by the target's score kind (`scoreKind`). */
  score: number;
  /** The score kind the target was scored with. */
  scoreKind: ScoreKind;
  /** cos(v, t), whatever the score kind. */
  cosine: number;
  /** [R,R] final map in [0, 1], float64, in the preprocessed crop's frame. */
  map: Tensor;
  /** [Q,h,w] DecomCAM's PCA scores before ReLU (OSSMs); null for other methods. */
  ossm: Tensor | null;
  /** [Q] DecomCAM's component weights. */
  weights: Tensor | null;
  /** [Q,R,R] DecomCAM's masks m_q. */
  masks: Tensor | null;
  /** [Q] DecomCAM's perturbed scores s_q. */
  perturbedScores: Tensor | null;
  /** [C] the weights of a channel-weight method (Grad-CAM, Score-CAM, …). */
  channelWeights: Tensor | null;
  /** What the caller should know (all-zero gradients, all-zero weights, a P the layer cannot give, the PCA
   * solver's fallback). */
  warnings: string[];
  /** ms per stage of this text: backward, then the method's (decompose, masks, perturbed, integrate; method, postprocess). */
  timings: Record<string, number>;
  /** Every intermediate (the `trace` option), else null. */
  trace: Record<string, Tensor> | null;
}

/** What a method may use besides { acts, grads, grid }: its own options, the input, and a way to score other
 * images with the same target. Built per text and method by runMethod below. */
export interface CamContext<O extends object = object> {
  /** The method's resolved options. */
  options: Readonly<O>;
  /** Option names the caller set (not from a preset or the defaults). */
  given: ReadonlySet<string>;
  /** The crop's side: the input is R×R. */
  R: number;
  /** (3,R,R) the RGB crop in [0, 1]. */
  rgb: Float64Array;
  /** (3,R,R) the normalised input (the model saw it cast to its dtype). */
  pixels: Float64Array;
  /** (B,3,R,R) RGB → normalised, as `pixels` was made. */
  normalize(rgb: Float64Array): Float64Array;
  /** (B,E) embeddings of (B,3,R,R), batchSize images per forward, no gradient. */
  embedImages(batch: Float64Array, B: number, batchSize: number): Float;
  /** (B) the target's score of each embedding row. */
  scoreEmbeddings(embeddings: Float, B: number): Float64Array;
  /** (B) both of the above. */
  scoreImages(batch: Float64Array, B: number, batchSize: number): Float64Array;
  /** Per image, shared by all its texts and methods (e.g. the blurred image's embedding). */
  shared: Map<string, unknown>;
  warn(message: string): void;
  /** Intermediates, when the `trace` option is on. */
  trace: Map<string, Tensor> | null;
}

/** DecomCAM's richer answer (a map already at R×R, plus its decomposition). */
export interface FullMap {
  map: Float64Array;             // (R,R) final, in [0, 1]
  ossm: Float64Array;            // (Q,h,w) PCA scores before ReLU
  weights: Float64Array;         // (Q)
  masks: Float64Array;           // (Q,R,R) m_q in [0, 1]
  perturbedScores: Float64Array; // (Q) s_q
  Q: number;
}

/** A stage timer a method may wrap its steps in (runMethod passes one that adds to the text's timings). */
export type StageTimer = <T>(stage: string, fn: () => T) => T;

/** A CAM method: its options (typed, with defaults and, for DecomCAM, named presets) and exactly one of
 * channelWeights, rawMap or fullMap. */
export interface CamMethod<O extends object = object> {
  /** The name explain's `method` option takes. */
  name: string;
  /** Paper and reference, for help texts. */
  title: string;
  /** false: the harness skips the backward. */
  usesGradients: boolean;
  /** Every option the method takes, with its default ({} for a method with none). */
  defaults: Readonly<O>;
  /** Named option sets (DecomCAM's `official` and `paper`); `preset` picks one, other options override it. */
  presets?: Readonly<Record<string, Readonly<O>>>;
  /** The preset used when none is given. */
  defaultPreset?: string;
  /** Validates resolved options (fail with a message naming the method). */
  check?(options: Readonly<O>): void;
  /** Checks that need only the layer's size, run before the forward (DecomCAM: Q against h·w and P). */
  checkGrid?(options: Readonly<O>, grid: LayerGrid): void;
  /** The score kind of a target that names none (default 'cosine'). */
  targetScore?(options: Readonly<O>): ScoreKind;
  channelWeights?(acts: Float, grads: Float, grid: LayerGrid, ctx: CamContext<O>): Float64Array; // (C)
  rawMap?(acts: Float, grads: Float, grid: LayerGrid, ctx: CamContext<O>): Float64Array;         // (h·w)
  fullMap?(acts: Float, grads: Float, grid: LayerGrid, ctx: CamContext<O>, time: StageTimer): FullMap;
}

/**
 * (h·w): map[p] = Σ_c weights[c] · acts[p,c]
 */
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

/**
 * Indices of `values` sorted descending, equal values in increasing index order (torch.sort(descending=True,
 * stable=True)); NaN counts as the largest value, as in torch's descending sort.
 */
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

/**
 * pytorch-grad-cam's post-processing of a raw map (h·w) into the final (R,R) map: ReLU; scale_cam_image
 * (min-max with 1e-7, cv2.resize INTER_LINEAR to the input size — for upscaling identical to
 * interpolate(bilinear, align_corners=False)); then its layer aggregation: ReLU, mean over one layer, min-max.
 */
export function postprocess(raw: Float64Array, grid: LayerGrid, R: number): Float64Array {
  const x = minMax(relu(Float64Array.from(raw)), MINMAX_EPS);
  const up = interpolate({ data: x, shape: [1, grid.h, grid.w] }, R, R, 'bilinear').data;
  return minMax(relu(Float64Array.from(up)), MINMAX_EPS);
}

// ---- the harness: preprocess, forward, score + backward, method -------------------------------------------

// The RGB crop (3,R,R) in float64: x / 255 of CLIP's resize + centre crop, or the given crop as is.
function rgbCrop(image: CamImage, R: number): Float64Array {
  if (image && 'shape' in image && 'data' in image) {
    const t = image as Tensor;
    if (t.shape.length !== 3 || t.shape[0] !== 3 || t.shape[1] !== R || t.shape[2] !== R) {
      fail(`image tensor has shape [${t.shape.join(', ')}], expected an RGB crop [3, ${R}, ${R}] in [0, 1] for this model ` +
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
    fail(`image: expected a decoded RGB image { width, height, data: Uint8Array (H·W·3) } or a [3, ${R}, ${R}] tensor`, 'usage');
  }
  return Float64Array.from(toTensor(centerCropResize(img, R), 'float64').data);
}

// (B,3,R,R) float64 → the model's dtype.
function toModel(model: ClipModel, x: Float64Array, B: number, R: number): Tensor {
  const data = allocFloat(model.dtype, x.length);
  data.set(x);
  return { data, shape: [B, 3, R, R] };
}

// (B,3,R,R) RGB → CLIP-normalised, float64 (image/preprocess.ts's normalize on each image).
function normalizeBatch(x: Float64Array, R: number): Float64Array {
  const n = 3 * R * R;
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length / n; b++) {
    out.set(normalize({ data: x.subarray(b * n, (b + 1) * n), shape: [3, R, R] }).data, b * n);
  }
  return out;
}

// Embeddings (B,E) of a batch of images (B,3,R,R), batchSize images per forward, nothing kept for a backward
// (each forward's arrays are given back before the next: memory grows with batchSize, not with B).
function embedBatches(model: ClipModel, R: number, batch: Float64Array, B: number, batchSize: number): Float {
  const E = model.config.embedDim;
  const out = allocFloat(model.dtype, B * E);
  for (let b0 = 0; b0 < B; b0 += batchSize) {
    const n = Math.min(batchSize, B - b0);
    const x = toModel(model, batch.subarray(b0 * 3 * R * R, (b0 + n) * 3 * R * R), n, R);
    out.set(encodeImages(model, x).data, b0 * E);
  }
  return out;
}

function now(): number {
  return performance.now();
}

/** What one image's forward gives every text and method. */
export interface ImageRun {
  model: ClipModel;
  run: VisionRun;
  layer: string;
  grid: LayerGrid;
  /** The crop's side in pixels. */
  R: number;
  rgb: Float64Array;     // (3,R,R)
  pixels: Float64Array;  // (3,R,R)
  acts: Float;           // (h·w, C) the layer's tokens after the class token (a view), or its map transposed (a copy)
  shared: Map<string, unknown>;
}

/** The layer's grid, from the config alone (for checks before the forward): the ViT's patch grid, or a ResNet
 * layer's map (clip/vision.ts layerGridOf); `layer` defaults to the model's default layer. */
export function layerGrid(model: ClipModel, layer?: string): LayerGrid {
  return layerGridOf(model.config, defaultLayer(model.config, layer));
}

/** Preprocess (the crop in [0, 1], its normalisation in float64, cast to the model's dtype) and the one forward
 * to the layer, shared by every text and method. `layer` is canonical (clip/vision.ts resolveLayer). Adds
 * preprocess and forward to `timings` (ms). */
export function prepareImage(model: ClipModel, image: CamImage, layer: string, timings: Record<string, number>): ImageRun {
  const R = model.config.vision.imageSize;
  const grid = layerGrid(model, layer);
  const t0 = now();
  const rgb = rgbCrop(image, R);
  const pixels = normalizeBatch(rgb, R);
  timings.preprocess = now() - t0;
  const t1 = now();
  const run = visionForward(model, toModel(model, pixels, 1, R), { keep: [layer] });
  const acts = positionsOf(getActivation(run, layer), grid); // (h·w, C): the class token dropped, or NCHW transposed
  timings.forward = now() - t1;
  return { model, run, layer, grid, R, rgb, pixels, acts, shared: new Map() };
}

/** Gives the image's forward arrays back to the backend (after its last text): im.acts is invalid afterwards. */
export function releaseImage(im: ImageRun): void {
  releaseRun(im.run);
}

/** One text scored one way: S, cos, and (once asked for) dS/dA at the layer — one backward, shared by every
 * method that scores this text the same way. */
export interface ScoredText {
  label: string;
  kind: ScoreKind;
  t: Float64Array;       // (E) the target's embedding
  score: number;
  cosine: number;
  dv: Float64Array;      // (E) dS/dv
  grads: Float | null;   // (h·w, C) once gradientsOf has run
  warnings: string[];
  backwardMs: number;
}

/** S and dS/dv of the image's embedding against t (E) by `kind`; no backward yet. */
export function scoreText(im: ImageRun, target: Target, t: Float64Array, kind: ScoreKind): ScoredText {
  const v = im.run.embeddings.data;
  const { score, dv } = scoreAndGrad(kind, v, t, im.model.logitScale);
  return {
    label: target.label, kind, t, score, cosine: cosineRow(v, 0, t, t.length), dv, grads: null, warnings: [], backwardMs: 0,
  };
}

/** dS/dA at the layer (h·w, C), class token dropped: the backward runs the first time only. */
export function gradientsOf(im: ImageRun, st: ScoredText): Float {
  if (st.grads) return st.grads;
  const { model, run, layer, grid } = im;
  const t0 = now();
  const grads = positionsOf(visionBackward(model, run, { data: st.dv, shape: [1, model.config.embedDim] }, layer), grid);
  st.backwardMs = now() - t0;
  if (grads.every((g) => g === 0)) {
    st.warnings.push(`the gradients at ${layer} are all zero: the score does not depend on these patch tokens ` +
      '(in the last block only ln_1 feeds the class token through attention; try vision.blocks.-1.ln_1)');
  }
  st.grads = grads;
  return grads;
}

/** One method on one scored text: the backward if the method reads gradients (shared through `st`), the method,
 * the post-processing. `given`: the option names the caller set; `trace`: keep every intermediate. */
export function runMethod<O extends object>(im: ImageRun, method: CamMethod<O>, options: Readonly<O>, st: ScoredText,
  opts: { given?: ReadonlySet<string>; trace?: boolean } = {}): TextExplanation {
  const { model, grid, R, acts } = im;
  const timings: Record<string, number> = {};
  const warnings: string[] = [];
  const trace = opts.trace ? new Map<string, Tensor>() : null;
  const time: StageTimer = (stage, fn) => {
    const s = now();
    const r = fn();
    timings[stage] = (timings[stage] ?? 0) + now() - s;
    return r;
  };
  let grads: Float;
  if (method.usesGradients) {
    grads = gradientsOf(im, st);
    timings.backward = st.backwardMs; // the shared backward's time, on every text that used it
    warnings.push(...st.warnings);
  } else {
    grads = new Float64Array(acts.length); // not read by gradient-free methods
  }
  const { t, kind } = st;
  const ctx: CamContext<O> = {
    options, given: opts.given ?? new Set(), R, rgb: im.rgb, pixels: im.pixels, normalize: (x) => normalizeBatch(x, R),
    embedImages: (batch, B, batchSize) => embedBatches(model, R, batch, B, batchSize),
    scoreEmbeddings: (emb, B) => scoreRows(kind, emb, B, t, model.logitScale),
    scoreImages: (batch, B, batchSize) => scoreRows(kind, embedBatches(model, R, batch, B, batchSize), B, t, model.logitScale),
    shared: im.shared, trace, warn: (m) => warnings.push(m),
  };
  const out: TextExplanation = {
    text: st.label, score: st.score, scoreKind: kind, cosine: st.cosine, map: { data: new Float64Array(R * R), shape: [R, R] },
    ossm: null, weights: null, masks: null, perturbedScores: null, channelWeights: null, warnings, timings, trace: null,
  };

  if (method.fullMap) {
    const r = method.fullMap(acts, grads, grid, ctx, time);
    out.map = { data: r.map, shape: [R, R] };
    out.ossm = { data: r.ossm, shape: [r.Q, grid.h, grid.w] };
    out.weights = { data: r.weights, shape: [r.Q] };
    out.masks = { data: r.masks, shape: [r.Q, R, R] };
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
    out.map = { data: time('postprocess', () => postprocess(raw, grid, R)), shape: [R, R] };
  }
  if (trace) {
    trace.set('acts', { data: Float64Array.from(acts), shape: [grid.h * grid.w, grid.C] });
    trace.set('grads', { data: Float64Array.from(grads), shape: [grid.h * grid.w, grid.C] });
    out.trace = Object.fromEntries(trace);
  }
  return out;
}

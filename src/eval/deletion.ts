// eval/deletion.ts: the deletion and insertion metrics of RISE (Petsiuk et al. 2018, arXiv 1806.07421): walk
// the pixels in decreasing saliency and replace them in `steps` batches — deletion turns the
// image into the substrate, insertion turns the substrate into the image — scoring the image after each step;
// the metric is the area under the score curve over x = fraction of pixels replaced, by the trapezoid rule.
// C = 3 channels, H, W = image and map rows, columns (the map is in the image's frame: the model input).

import { fail } from '../errors.js';
import type { Float } from '../tensor/tensor.js';
import { checkSize } from './frame.js';
import { checkMap } from '../image/checkmap.js';

/**
 * Scores a batch of images (each (3, H, W), row-major, in whatever space the model takes). May be async.
 */
export type Scorer = (images: Float32Array[]) => Promise<number[]> | number[];

/**
 * What replaced pixels become:
 *  'mean'  the image's own per-channel mean colour (default);
 *  'zero'  zeros — on a CLIP-normalised image that is the dataset mean colour; RISE's deletion and the
 *          DecomCAM authors' script use it;
 *  an array (3, H, W), e.g. a Gaussian-blurred copy of the image (RISE's insertion substrate).
 * All three act per pixel, so they work in pixel space or normalised space alike.
 */
export type Substrate = 'mean' | 'zero' | Float;

/** Options of deletionCurve and insertionCurve (defaults in CAUSAL_DEFAULTS). */
export interface CausalOptions {
  steps?: number;        // replacement steps, the curve has steps + 1 points; default 100 (or one pixel a
                         // step on images of fewer than 100 pixels). RISE moved 224 pixels a step at 224².
  substrate?: Substrate;
  batchSize?: number;    // images per scorer call
}

/** Causal-metric defaults: 100 steps, the mean substrate, 16 images per scorer call. */
export const CAUSAL_DEFAULTS = { steps: 100, substrate: 'mean' as Substrate, batchSize: 16 };

/**
 * A deletion or insertion curve: the share of pixels replaced, the score at each step (both steps + 1 long) and
 * the area under it.
 */
export interface CausalCurve {
  fractions: Float64Array; // (steps + 1) share of pixels replaced, 0 … 1
  scores: Float64Array;    // (steps + 1) the scorer's value at each
  auc: number;             // trapezoid area under scores over fractions
}

/**
 * RISE's deletion curve: the image (3, H, W) loses its pixels to the substrate, most salient first by map (H, W),
 * and is scored after each step (lower area is better).
 */
export function deletionCurve(image: Float, map: Float, H: number, W: number, scorer: Scorer,
  options: CausalOptions = {}): Promise<CausalCurve> {
  return causalCurve('deletion', image, map, H, W, scorer, options);
}

/**
 * RISE's insertion curve: starting from the substrate, the image's (3, H, W) pixels come back most salient first
 * by map (H, W), scored after each step (higher area is better).
 */
export function insertionCurve(image: Float, map: Float, H: number, W: number, scorer: Scorer,
  options: CausalOptions = {}): Promise<CausalCurve> {
  return causalCurve('insertion', image, map, H, W, scorer, options);
}

/**
 * Pixel indices in decreasing saliency. Ties keep row-major order (a stable sort): for a constant map the
 * walk is row by row from the top-left. (RISE's np.flip(np.argsort(...)) orders ties differently; we state
 * ours instead of inheriting quicksort's.)
 */
export function saliencyOrder(map: Float): Int32Array {
  const order = Array.from({ length: map.length }, (_, k) => k);
  order.sort((a, b) => (map[b] - map[a]) || (a - b));
  return Int32Array.from(order);
}

/**
 * Pixels replaced after step k of `steps`: floor(k·N / steps), so every step moves N/steps pixels up to
 * rounding and the last step reaches N. (RISE moves a fixed count per step, the last step being shorter.)
 */
export function stepCounts(N: number, steps: number): Int32Array {
  const counts = new Int32Array(steps + 1);
  for (let k = 0; k <= steps; k++) counts[k] = Math.floor((k * N) / steps);
  return counts;
}

/**
 * Area under ys over xs, trapezoid rule. For evenly spaced xs on [0, 1] it equals RISE's
 * auc(arr) = (sum - arr[0]/2 - arr[-1]/2) / (n - 1).
 */
export function trapezoidAuc(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  let area = 0;
  for (let k = 1; k < xs.length; k++) area += ((xs[k] - xs[k - 1]) * (ys[k] + ys[k - 1])) / 2;
  return area;
}

async function causalCurve(mode: 'deletion' | 'insertion', image: Float, map: Float, H: number, W: number,
  scorer: Scorer, options: CausalOptions): Promise<CausalCurve> {
  const what = `${mode}Curve`;
  checkMap(what, map, H, W, 'finite');
  const N = H * W;
  checkImage(what, 'image', image, H, W);
  const steps = options.steps ?? Math.min(CAUSAL_DEFAULTS.steps, N);
  const batchSize = options.batchSize ?? CAUSAL_DEFAULTS.batchSize;
  if (!Number.isInteger(steps) || steps < 1 || steps > N) {
    fail(`${what}: steps ${steps} must be an integer from 1 to the pixel count ${N}`, 'usage');
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) fail(`${what}: batchSize ${batchSize} must be a positive integer`, 'usage');
  if (typeof scorer !== 'function') fail(`${what}: scorer must be a function (images) => scores`, 'usage');

  const substrate = makeSubstrate(what, options.substrate ?? CAUSAL_DEFAULTS.substrate, image, H, W);
  // Deletion walks image → substrate; insertion substrate → image.
  const [start, finish] = mode === 'deletion' ? [image, substrate] : [substrate, image];
  const order = saliencyOrder(map);
  const counts = stepCounts(N, steps);

  const current = Float32Array.from(start);
  const scores = new Float64Array(steps + 1);
  let batch: Float32Array[] = [];
  let batchFirst = 0; // curve index of batch[0]
  for (let k = 0; k <= steps; k++) {
    // Step k replaces the pixels order[counts[k-1] .. counts[k]), all three channels.
    if (k > 0) {
      for (let r = counts[k - 1]; r < counts[k]; r++) {
        const p = order[r];
        for (let c = 0; c < 3; c++) current[c * N + p] = finish[c * N + p];
      }
    }
    batch.push(current.slice());
    if (batch.length === batchSize || k === steps) {
      const got = await scorer(batch);
      checkScores(what, got, batch.length, batchFirst);
      for (let b = 0; b < batch.length; b++) scores[batchFirst + b] = got[b];
      batchFirst += batch.length;
      batch = [];
    }
  }
  const fractions = Float64Array.from(counts, (n) => n / N);
  return { fractions, scores, auc: trapezoidAuc(fractions, scores) };
}

function makeSubstrate(what: string, substrate: Substrate, image: Float, H: number, W: number): Float {
  const N = H * W;
  if (substrate === 'zero') return new Float32Array(3 * N);
  if (substrate === 'mean') {
    const out = new Float32Array(3 * N);
    for (let c = 0; c < 3; c++) {
      let sum = 0; // float64, in index order
      for (let p = 0; p < N; p++) sum += image[c * N + p];
      out.fill(sum / N, c * N, (c + 1) * N);
    }
    return out;
  }
  if (substrate instanceof Float32Array || substrate instanceof Float64Array) {
    checkImage(what, 'substrate', substrate, H, W);
    return substrate;
  }
  return fail(`${what}: substrate ${String(substrate)} must be 'mean', 'zero' or a (3, H, W) float array `
    + '(e.g. a Gaussian-blurred copy of the image)', 'usage');
}

function checkImage(what: string, name: string, image: Float, H: number, W: number): void {
  checkSize(`${what}: ${name}`, W, H);
  if (!(image instanceof Float32Array) && !(image instanceof Float64Array)) {
    fail(`${what}: ${name} must be a Float32Array or Float64Array (3, H, W)`, 'usage');
  }
  if (image.length !== 3 * H * W) {
    fail(`${what}: ${name} has ${image.length} values but (3, ${H}, ${W}) needs ${3 * H * W} `
      + '(the map and the image must be in the same frame: the model input)', 'usage');
  }
  for (let i = 0; i < image.length; i++) {
    if (!Number.isFinite(image[i])) fail(`${what}: ${name} value ${image[i]} at flat index ${i} is not finite`, 'usage');
  }
}

function checkScores(what: string, got: unknown, n: number, first: number): asserts got is number[] {
  if (!Array.isArray(got) && !(got instanceof Float32Array) && !(got instanceof Float64Array)) {
    fail(`${what}: the scorer returned ${Object.prototype.toString.call(got)} for ${n} images; expected an array of ${n} numbers`);
  }
  const arr = got as ArrayLike<unknown>;
  if (arr.length !== n) fail(`${what}: the scorer returned ${arr.length} scores for a batch of ${n} images`);
  for (let b = 0; b < n; b++) {
    const v = arr[b];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      fail(`${what}: the scorer's score ${String(v)} for curve point ${first + b} is not a finite number`);
    }
  }
}

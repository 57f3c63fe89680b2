// eval/harness.ts: every CAM method over an annotated dataset (eval/datasets.ts), one row a method, one column a
// metric — what tools/eval.js prints. Zero-shot accuracy first (every image, batched forwards); then per image
// one explainMethods call for all its pairs and all methods (cam/explain.ts: one forward, each prompt encoded
// once, one backward per text shared by every gradient method; Score-CAM and DecomCAM still run their own
// perturbed forwards), then the metrics of every map: pointing game, energy PG, box IoU, deletion and insertion
// AUC and average drop / increase — whose scored images (all curves of all methods of a pair) go through the
// model together. A row's forward is bit for bit the same in any batch, so the numbers equal one-at-a-time runs.
// Shapes: crops (3,R,R) in [0, 1]; maps (R,R); embeddings (B,E); probabilities (B,P) over the P prompts.

import { encodeImages, encodeTexts, type ClipModel } from '../clip/model.js';
import { promptProbabilities, unitRows } from '../clip/score.js';
import { DEFAULT_LAYER, explainMethods, type Explanation, type ExplainOptions } from '../cam/explain.js';
import type { PresetName } from '../cam/decomcam.js';
import { builtinMethods, methodByName, type MethodRegistry } from '../cam/registry.js';
import { fail } from '../errors.js';
import { loadImage } from '../image/decode.js';
import { centerCropResize, normalize, toTensor } from '../image/preprocess.js';
import type { Float, Tensor } from '../tensor/tensor.js';
import { mapBoxIou } from './boxiou.js';
import { averageDropIncrease, camMultImage } from './confidence.js';
import type { EvalDataset, EvalImage, EvalObject } from './datasets.js';
import { deletionCurve, insertionCurve } from './deletion.js';
import { energyPointingGame } from './energy.js';
import { clipCenterCropFrame, type ObjectRegion } from './frame.js';
import { pointingGame } from './pointing.js';

/** What to evaluate and how. */
export interface EvalOptions {
  /** Method names (default: every method of the registry). */
  methods?: string[];
  /** Where the names are looked up (default: the built-ins). */
  registry?: MethodRegistry;
  /** DecomCAM's preset (default 'paper'); it changes DecomCAM only. */
  preset?: PresetName;
  /** Target layer (default DEFAULT_LAYER). */
  layer?: string;
  /** Only the first `limit` image–text pairs. */
  limit?: number;
  /** Deletion/insertion steps (default 20). */
  steps?: number;
  /** Pointing-game tolerance in original pixels (default 15). */
  tolerance?: number;
  /** Images per forward of the harness's own scoring (zero-shot, curves); does not change any number (default 64). */
  batchSize?: number;
  /** Called after each pair (k counts from 1). */
  onPair?(k: number, pairs: number, image: EvalImage, object: EvalObject): void;
}

/** One method's row: the mean of each metric over the pairs. */
export interface EvalRow {
  method: string;
  pairs: number;
  pointingGame: number;
  energyPG: number;
  boxIoU: number;
  deletionAUC: number;
  insertionAUC: number;
  /** Average drop in confidence, % (lower is better). */
  averageDrop: number;
  /** Increase in confidence, % of pairs (higher is better). */
  increase: number;
  /** The method's own time per pair (its backward, if first, and its steps) plus its share of the shared forward
   * and text encoding, in seconds. */
  secondsPerPair: number;
}

/** Zero-shot accuracy: the top prompt names an object of the image. */
export interface ZeroShot {
  accuracy: number;
  images: number;
  singleObjectAccuracy: number | null;
  singleObjectImages: number;
}

/**
 * The result of one evaluation run: dataset, preset, layer, settings, zero-shot accuracy and the table
 * (one row a method).
 */
export interface EvalResult {
  dataset: string;
  preset: PresetName;
  layer: string;
  pairs: number;
  steps: number;
  tolerance: number;
  zeroShot: ZeroShot;
  table: EvalRow[];
}

// The most crop bytes the pooled scorer holds at once (float32 crops: 3·R·R·4 bytes each).
const POOL_BYTES = 256 * 2 ** 20;

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

// RGB crops in [0, 1], each (3,R,R) → normalised batch (B,3,R,R) in the model's dtype.
function batchPixels(model: ClipModel, crops: Float[], R: number): Tensor {
  const B = crops.length;
  const n = 3 * R * R;
  const data = model.dtype === 'float64' ? new Float64Array(B * n) : new Float32Array(B * n);
  crops.forEach((c, b) => data.set(normalize({ data: c, shape: [3, R, R] }).data, b * n));
  return { data, shape: [B, 3, R, R] };
}

// The zero-shot probabilities (B,P) of a list of crops, batchSize images per forward.
function probabilitiesOf(model: ClipModel, crops: Float[], R: number, textUnit: Float64Array, P: number, batchSize: number): Float64Array {
  const out = new Float64Array(crops.length * P);
  for (let b0 = 0; b0 < crops.length; b0 += batchSize) {
    const part = crops.slice(b0, b0 + batchSize);
    const emb = encodeImages(model, batchPixels(model, part, R)).data;
    out.set(promptProbabilities(emb, part.length, textUnit, P, model.logitScale), b0 * P);
  }
  return out;
}

// Equal crops (same length, same values bit for bit) are scored once: FNV-1a over the float bits finds the
// candidates, an element-wise comparison decides.
function cropHash(c: Float): number {
  const bytes = new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
function sameCrop(a: Float, b: Float): boolean {
  if (a.constructor !== b.constructor || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

// A scorer whose calls are pooled: every call made before flush() is answered by one batched pass over the
// distinct crops. All curves of all methods of an image's pairs register their crops first, then one flush
// scores them: the curves' shared ends (the crop, the substrate) and the maps that do not depend on the text
// (Eigen-CAM's) are scored once per image.
class PooledScorer {
  private pending: { crops: Float[]; prompt: number; resolve: (scores: number[]) => void }[] = [];
  constructor(private readonly probabilities: (crops: Float[]) => Float64Array, private readonly P: number) {}

  // The probability of prompt `prompt` for each crop, once flushed.
  scorer(prompt: number): (crops: Float[]) => Promise<number[]> {
    return (crops) => new Promise((resolve) => this.pending.push({ crops, prompt, resolve }));
  }

  flush(): void {
    const jobs = this.pending;
    this.pending = [];
    const distinct: Float[] = [];
    const byHash = new Map<number, number[]>(); // hash → indices into distinct
    const rowOf = (c: Float): number => {
      const h = cropHash(c);
      const list = byHash.get(h) ?? [];
      for (const i of list) if (sameCrop(distinct[i], c)) return i;
      list.push(distinct.length);
      byHash.set(h, list);
      distinct.push(c);
      return distinct.length - 1;
    };
    const rows = jobs.map((j) => j.crops.map(rowOf));
    const probs = this.probabilities(distinct);
    jobs.forEach((j, n) => j.resolve(rows[n].map((r) => probs[r * this.P + j.prompt])));
  }

  // Awaits `work`, flushing whatever it registers until it settles.
  async drive<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const done = work.finally(() => { settled = true; });
    while (!settled) {
      await new Promise((r) => setImmediate(r)); // let the curves reach their next scorer call
      if (this.pending.length) this.flush();
    }
    return done;
  }
}

// An object's region: its mask (0/255 PNG at the image's size) where the dataset has one, else its boxes.
function regionOf(im: EvalImage, o: EvalObject): ObjectRegion {
  if (!o.maskFile) return { boxes: o.boxes };
  const img = loadImage(o.maskFile);
  if (img.width !== im.width || img.height !== im.height) {
    fail(`mask ${o.maskFile} is ${img.width}×${img.height}, its image ${im.width}×${im.height}`, 'usage');
  }
  const m = new Uint8Array(im.width * im.height);
  for (let i = 0; i < m.length; i++) m[i] = img.data[i * 3] > 127 ? 1 : 0;
  return { mask: m };
}

/** Every method over the dataset's image–text pairs; see EvalOptions for the knobs. */
export async function evaluate(model: ClipModel, dataset: EvalDataset, options: EvalOptions = {}): Promise<EvalResult> {
  const registry = options.registry ?? builtinMethods;
  const methods = (options.methods ?? [...registry.keys()]).map((name) => methodByName(registry, name));
  const preset = options.preset ?? 'paper';
  const layer = options.layer ?? DEFAULT_LAYER;
  const steps = options.steps ?? 20;
  const tolerance = options.tolerance ?? 15;
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) fail(`evaluate: batchSize ${batchSize} must be a positive integer`, 'usage');
  // DecomCAM alone takes the preset; Score-CAM, gScoreCAM and DecomCAM batch their perturbed forwards as we do
  const runs: ExplainOptions[] = methods.map((m) => ({
    method: m, layer, methods: registry,
    ...(m.presets ? { preset } : {}),
    ...(Object.hasOwn(m.defaults, 'batchSize') ? { batchSize } : {}),
  }));
  const R = model.config.vision.imageSize;
  const P = dataset.prompts.length;
  const textUnit = unitRows(encodeTexts(model, dataset.prompts).data, model.config.embedDim);
  const probabilities = (crops: Float[]): Float64Array => probabilitiesOf(model, crops, R, textUnit, P, batchSize);

  // zero-shot accuracy: the top prompt names an object of the image (all images; and single-object ones alone)
  const crops = dataset.images.map((im) => Float64Array.from(toTensor(centerCropResize(loadImage(im.file), R), 'float64').data));
  const zeroShotProbs = probabilities(crops);
  let hits = 0;
  let single = 0;
  let singleHits = 0;
  dataset.images.forEach((im, i) => {
    let top = 0;
    for (let p = 1; p < P; p++) if (zeroShotProbs[i * P + p] > zeroShotProbs[i * P + top]) top = p;
    const hit = im.objects.some((o) => o.prompt === dataset.prompts[top]);
    hits += Number(hit);
    if (im.objects.length === 1) {
      single++;
      singleHits += Number(hit);
    }
  });
  const zeroShot: ZeroShot = {
    accuracy: hits / dataset.images.length, images: dataset.images.length,
    singleObjectAccuracy: single ? singleHits / single : null, singleObjectImages: single,
  };

  // the image–text pairs, grouped by image (consecutive in the dataset's order)
  let pairs = dataset.images.flatMap((im, i) => im.objects.map((o) => ({ i, im, o })));
  if (options.limit !== undefined) pairs = pairs.slice(0, options.limit);
  const groups: (typeof pairs)[] = [];
  for (const pair of pairs) {
    const last = groups[groups.length - 1];
    if (last && last[0].i === pair.i) last.push(pair);
    else groups.push([pair]);
  }
  const rows = methods.map(() => ({ pointing: [] as number[], energy: [] as number[], boxIou: [] as number[],
    deletion: [] as number[], insertion: [] as number[], Y: [] as number[], O: [] as number[], seconds: [] as number[] }));
  const vectors = new Map<string, Float64Array>(); // each prompt encoded once, alone (as explain would)
  const vectorOf = (prompt: string): Float64Array => {
    if (!vectors.has(prompt)) vectors.set(prompt, Float64Array.from(encodeTexts(model, [prompt]).data));
    return vectors.get(prompt) as Float64Array;
  };
  const pool = new PooledScorer(probabilities, P);

  let done = 0;
  for (const group of groups) {
    const { i, im } = group[0];
    const crop = crops[i];
    const texts = group.map(({ o }) => o.prompt);
    const t0 = performance.now();
    const textVectors = texts.map(vectorOf);
    const encodeMs = performance.now() - t0;
    const explanations: Explanation[] = explainMethods(model, { data: crop, shape: [3, R, R] }, texts, runs, { vectors: textVectors });
    const frame = clipCenterCropFrame(im.height, im.width, R, R, R);
    // every pair's metrics of every method: the curves register their crops, one drive scores them all
    type Scores = { deletion: number; insertion: number; O: number; Y: number };
    const metricsOf = async (k: number, o: EvalObject): Promise<Scores[]> => {
      const scorer = pool.scorer(dataset.prompts.indexOf(o.prompt));
      const Y = scorer([crop]);
      return Promise.all(explanations.map(async (ex) => {
        const map = ex.results[k].map.data;
        const [deletion, insertion, O] = await Promise.all([
          deletionCurve(crop, map, R, R, scorer, { steps, batchSize: steps + 1 }),
          insertionCurve(crop, map, R, R, scorer, { steps, batchSize: steps + 1 }),
          scorer([camMultImage(crop, map, R, R)]),
        ]);
        return { deletion: deletion.auc, insertion: insertion.auc, O: O[0], Y: (await Y)[0] };
      }));
    };
    // pairs scored together (a slice of the image's pairs, so the crops held at once stay under POOL_BYTES)
    const perPair = methods.length * (2 * steps + 3) * 3 * R * R * 4;
    const slice = Math.max(1, Math.floor(POOL_BYTES / perPair));
    const scores: Scores[][] = [];
    for (let k0 = 0; k0 < group.length; k0 += slice) {
      const part = group.slice(k0, k0 + slice).map(({ o }, k) => metricsOf(k0 + k, o));
      scores.push(...(await pool.drive(Promise.all(part))));
    }
    for (const [k, { o }] of group.entries()) {
      const region = regionOf(im, o);
      explanations.forEach((ex, j) => {
        const map = ex.results[k].map.data;
        const r = rows[j];
        r.pointing.push(pointingGame(map, R, R, region, { tolerance, frame }).hit ? 1 : 0);
        r.energy.push(energyPointingGame(map, R, R, region, { frame }));
        r.boxIou.push(mapBoxIou(map, R, R, o.boxes, { frame }).iou);
        r.deletion.push(scores[k][j].deletion);
        r.insertion.push(scores[k][j].insertion);
        r.Y.push(scores[k][j].Y);
        r.O.push(scores[k][j].O);
        // the method's own stages for this text, plus its share of what all methods and texts shared
        const ownMs = Object.values(ex.results[k].timings).reduce((a, b) => a + b, 0);
        const sharedMs = (encodeMs + (ex.timings.preprocess ?? 0) + (ex.timings.forward ?? 0)) / (methods.length * group.length);
        r.seconds.push((ownMs + sharedMs) / 1000);
      });
      options.onPair?.(++done, pairs.length, im, o);
    }
  }

  const table: EvalRow[] = methods.map((m, j) => {
    const r = rows[j];
    const di = r.Y.length ? averageDropIncrease(r.Y, r.O) : { averageDrop: NaN, increase: NaN };
    return {
      method: m.name, pairs: r.seconds.length,
      pointingGame: mean(r.pointing), energyPG: mean(r.energy), boxIoU: mean(r.boxIou),
      deletionAUC: mean(r.deletion), insertionAUC: mean(r.insertion),
      averageDrop: di.averageDrop, increase: di.increase, secondsPerPair: mean(r.seconds),
    };
  });
  return { dataset: dataset.name, preset, layer, pairs: pairs.length, steps, tolerance, zeroShot, table };
}

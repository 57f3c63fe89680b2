// eval/harness.ts: every CAM method over an annotated dataset (eval/datasets.ts) as per-pair records
// (eval/records.ts) of one shard (eval/shard.ts), summarised by eval/summary.ts into what tools/eval.js prints.
// Zero-shot trials first (every image of the shard, batched forwards); then per image
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
import { camMultImage } from './confidence.js';
import type { EvalDataset, EvalImage, EvalObject } from './datasets.js';
import { deletionCurve, insertionCurve } from './deletion.js';
import { energyPointingGame } from './energy.js';
import { clipCenterCropFrame, type ObjectRegion } from './frame.js';
import { pointingGame } from './pointing.js';
import type { EvalRecord, PairRecord, ZeroShotRecord } from './records.js';
import { planPairs, type EvalPair, type Shard } from './shard.js';
import { summarize, type EvalResult } from './summary.js';

export type { EvalResult, EvalRow, ZeroShot } from './summary.js';

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
  /** Only this shard's images (eval/shard.ts; default the whole dataset). */
  shard?: Shard;
  /** What an earlier run of the same shard already recorded: skipped here (resume). */
  done?: { zeroShot: boolean; images: ReadonlySet<string> };
  /** Deletion/insertion steps (default 20). */
  steps?: number;
  /** Pointing-game tolerance in original pixels (default 15). */
  tolerance?: number;
  /** Images per forward of the harness's own scoring (zero-shot, curves); does not change any number (default 64). */
  batchSize?: number;
  /** Bootstrap replicates and seed of the summary (eval/summary.ts; defaults 2000 and 0). */
  bootstrap?: number;
  seed?: number;
  /** Called after each pair (k counts from 1 over the pairs this call runs). */
  onPair?(k: number, pairs: number, image: EvalImage, object: EvalObject): void;
  /** Called with each finished block of records (the zero-shot trials, then each image's pairs), to store them. */
  onBlock?(block: 'zeroShot' | 'image', records: EvalRecord[], image?: EvalImage): void;
}

// The most crop bytes the pooled scorer holds at once (float32 crops: 3·R·R·4 bytes each).
const POOL_BYTES = 256 * 2 ** 20;

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

// Equal crops (same length, same values bit for bit) are scored once: FNV-1a over the floats' 32-bit words finds the
// candidates, an element-wise comparison decides.
function cropHash(c: Float): number {
  // over 32-bit words (a float32's bits, half a float64's): a quarter of the steps of a byte-wise hash
  const words = new Uint32Array(c.buffer, c.byteOffset, c.byteLength >> 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
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

/**
 * The per-pair records (eval/records.ts) of every method over the dataset's image–text pairs (of one shard,
 * skipping what `done` names); see EvalOptions for the knobs.
 */
export async function evaluateRecords(model: ClipModel, dataset: EvalDataset, options: EvalOptions = {}): Promise<EvalRecord[]> {
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
  const plan = planPairs(dataset, options.limit, options.shard);
  const done = options.done ?? { zeroShot: false, images: new Set<string>() };
  const cropOf = (im: EvalImage): Float64Array => Float64Array.from(toTensor(centerCropResize(loadImage(im.file), R), 'float64').data);
  const records: EvalRecord[] = [];

  // zero-shot: the top prompt names an object of the image (every image of the shard, whatever the limit); a
  // batch at a time (the same batches probabilitiesOf makes, so the same bits), yielding to the event loop between
  // them so a SIGTERM handler (tools/eval.js releases its lock) runs within a batch, and crops are not all held
  if (!done.zeroShot) {
    const zeroShotProbs = new Float64Array(plan.images.length * P);
    for (let b0 = 0; b0 < plan.images.length; b0 += batchSize) {
      zeroShotProbs.set(probabilities(plan.images.slice(b0, b0 + batchSize).map(cropOf)), b0 * P);
      await new Promise((r) => setImmediate(r));
    }
    const block: ZeroShotRecord[] = plan.images.map((im, n) => {
      let top = 0;
      for (let p = 1; p < P; p++) if (zeroShotProbs[n * P + p] > zeroShotProbs[n * P + top]) top = p;
      const hit = im.objects.some((o) => o.prompt === dataset.prompts[top]);
      return { kind: 'zeroShot', image: im.id, hit: hit ? 1 : 0, objects: im.objects.length };
    });
    options.onBlock?.('zeroShot', block);
    records.push(...block);
  }

  // the image–text pairs still to do, grouped by image (consecutive in the dataset's order)
  const pairs = plan.pairs.filter((p) => !done.images.has(p.im.id));
  const groups: EvalPair[][] = [];
  for (const pair of pairs) {
    const last = groups[groups.length - 1];
    if (last && last[0].i === pair.i) last.push(pair);
    else groups.push([pair]);
  }
  const vectors = new Map<string, Float64Array>(); // each prompt encoded once, alone (as explain would)
  const vectorOf = (prompt: string): Float64Array => {
    if (!vectors.has(prompt)) vectors.set(prompt, Float64Array.from(encodeTexts(model, [prompt]).data));
    return vectors.get(prompt) as Float64Array;
  };
  const pool = new PooledScorer(probabilities, P);

  let count = 0;
  for (const group of groups) {
    const { im } = group[0];
    const crop = cropOf(im);
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
    const block: PairRecord[] = [];
    for (const [k, { o }] of group.entries()) {
      const region = regionOf(im, o);
      explanations.forEach((ex, j) => {
        const map = ex.results[k].map.data;
        const point = pointingGame(map, R, R, region, { tolerance, frame });
        // the method's own stages for this text, plus its share of what all methods and texts shared
        const ownMs = Object.values(ex.results[k].timings).reduce((a, b) => a + b, 0);
        const sharedMs = (encodeMs + (ex.timings.preprocess ?? 0) + (ex.timings.forward ?? 0)) / (methods.length * group.length);
        block.push({
          kind: 'pair', image: im.id, object: o.id, method: methods[j].name, group: o.group ?? null,
          pointingGame: point.hit ? 1 : 0, strictPointing: point.inside ? 1 : 0,
          energyPG: energyPointingGame(map, R, R, region, { frame }),
          boxIoU: mapBoxIou(map, R, R, o.boxes, { frame }).iou,
          deletionAUC: scores[k][j].deletion, insertionAUC: scores[k][j].insertion,
          Y: scores[k][j].Y, O: scores[k][j].O, seconds: (ownMs + sharedMs) / 1000,
        });
      });
      options.onPair?.(++count, pairs.length, im, o);
    }
    options.onBlock?.('image', block, im);
    records.push(...block);
  }
  return records;
}

/**
 * Every method over the dataset's image–text pairs, summarised (eval/summary.ts): one row a method, each metric
 * with its bootstrap interval, each baseline's paired test against DecomCAM, and the same per group.
 */
export async function evaluate(model: ClipModel, dataset: EvalDataset, options: EvalOptions = {}): Promise<EvalResult> {
  const records = await evaluateRecords(model, dataset, options);
  const registry = options.registry ?? builtinMethods;
  return summarize(records, {
    dataset: dataset.name, preset: options.preset ?? 'paper', layer: options.layer ?? DEFAULT_LAYER,
    methods: options.methods ?? [...registry.keys()], groups: dataset.groups ?? null,
    steps: options.steps ?? 20, tolerance: options.tolerance ?? 15,
  }, { replicates: options.bootstrap, seed: options.seed });
}

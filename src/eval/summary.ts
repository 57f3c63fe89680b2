// eval/summary.ts: the table of an evaluation from its per-pair records (eval/records.ts) — whoever made them: one
// run, a resumed run, or the shards of `eval.js merge`. Records are put in one canonical order first (image id,
// object id, then the methods' order), so every sum runs in the same order and the same records give the same
// table bit for bit. Each cell is a mean over pairs with a seeded 95% bootstrap interval over images
// (eval/bootstrap.ts); each baseline is compared with DecomCAM on the same pairs by the signed-rank test over
// per-image mean differences (eval/signedrank.ts), Holm-adjusted across baselines; all of it again per group.

import { fail } from '../errors.js';
import { bootstrapDraws, bootstrapRatios, percentileInterval } from './bootstrap.js';
import type { EvalRecord, PairRecord, ZeroShotRecord } from './records.js';
import { holm, wilcoxonSignedRank } from './signedrank.js';

/** The table's metrics and which way is better. */
export const METRICS = [
  { key: 'pointingGame', higherIsBetter: true },    // torchray's 15-px rule
  { key: 'strictPointing', higherIsBetter: true },  // the maximum inside the object
  { key: 'energyPG', higherIsBetter: true },
  { key: 'boxIoU', higherIsBetter: true },
  { key: 'deletionAUC', higherIsBetter: false },
  { key: 'insertionAUC', higherIsBetter: true },
  { key: 'averageDrop', higherIsBetter: false },    // %: 100·max(0, Y - O)/Y per pair
  { key: 'increase', higherIsBetter: true },        // %: 100·[O > Y] per pair
] as const;
export type MetricKey = (typeof METRICS)[number]['key'];

/** The method every baseline is tested against. */
export const REFERENCE_METHOD = 'decomcam';

/** One pair's value of a metric (the drop and increase per pair, as Grad-CAM++ averages them). */
function valueOf(r: PairRecord, key: MetricKey): number {
  if (key === 'averageDrop') return (100 * Math.max(0, r.Y - r.O)) / r.Y;
  if (key === 'increase') return r.O > r.Y ? 100 : 0;
  return r[key];
}

/** A baseline against DecomCAM on one metric: the difference (baseline − DecomCAM), its interval and the test. */
export interface PairedComparison {
  difference: number;
  ci: [number, number];
  better: string;        // the method with the better mean ('tie' when equal)
  images: number;        // images where the two differ (the test's n)
  statistic: number;     // signed-rank T
  z: number;
  p: number;             // two-sided
  pHolm: number;         // Holm-adjusted over the table's baselines, per metric
  significant: boolean;  // pHolm < ALPHA
}

/** One method's row: the mean of each metric over the pairs, intervals, and its test against DecomCAM. */
export interface EvalRow {
  method: string;
  pairs: number;
  pointingGame: number;
  strictPointing: number;
  energyPG: number;
  boxIoU: number;
  deletionAUC: number;
  insertionAUC: number;
  /** Average drop in confidence, % (lower is better). */
  averageDrop: number;
  /** Increase in confidence, % of pairs (higher is better). */
  increase: number;
  /** The method's own time per pair (its backward, if first, and its steps) plus its share of the shared forward
   * and text encoding, in seconds (measured, so it differs between runs: no interval, no test). */
  secondsPerPair: number;
  /** 95% bootstrap intervals over images, per metric. */
  ci: Record<MetricKey, [number, number]>;
  /** Against DecomCAM, per metric (absent on DecomCAM's row, and when DecomCAM is not evaluated). */
  vsDecomcam?: Record<MetricKey, PairedComparison>;
}

/** Zero-shot accuracy: the top prompt names an object of the image. */
export interface ZeroShot {
  accuracy: number;
  images: number;
  singleObjectAccuracy: number | null;
  singleObjectImages: number;
}

/** A group's table (its pairs alone, its own intervals and tests). */
export interface EvalGroup {
  group: string;
  pairs: number;
  images: number;
  table: EvalRow[];
}

/** How the intervals and tests were made, carried in the JSON. */
export interface EvalStatistics {
  bootstrap: { replicates: number; seed: number; level: number; over: 'images'; interval: 'percentile' };
  test: { name: string; against: string; alpha: number; adjustment: string };
}

/** The result of an evaluation: settings, zero-shot accuracy, the table, its statistics and the groups' tables. */
export interface EvalResult {
  dataset: string;
  preset: string;
  layer: string;
  pairs: number;
  images: number;
  steps: number;
  tolerance: number;
  zeroShot: ZeroShot;
  table: EvalRow[];
  statistics: EvalStatistics;
  groups: EvalGroup[];
}

/** What the records alone do not say. */
export interface SummaryMeta {
  dataset: string;
  preset: string;
  layer: string;
  methods: string[];       // the table's row order
  groups: string[] | null; // the dataset's groups, in order
  steps: number;
  tolerance: number;
}

/** Significance level of the paired tests (after Holm's adjustment). */
export const ALPHA = 0.05;
/** Bootstrap defaults: replicates, seed, interval level. */
export const BOOTSTRAP_DEFAULTS = { replicates: 2000, seed: 0, level: 0.95 };

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// One table over a set of pair records (canonical order): means, intervals, tests. `stream` names the bootstrap's
// random stream (one per group), so adding a group does not move another's draws.
function tableOf(pairs: PairRecord[], methods: string[], replicates: number, seed: number, level: number, stream: string): { table: EvalRow[]; images: number } {
  // images in canonical order, and each record's image index
  const imageIndex = new Map<string, number>();
  for (const r of pairs) if (!imageIndex.has(r.image)) imageIndex.set(r.image, imageIndex.size);
  const K = imageIndex.size;
  const draws = K > 0 ? bootstrapDraws(K, replicates, seed, stream) : new Uint32Array(0);
  const per = methods.map((m) => pairs.filter((r) => r.method === m));
  const counts = new Float64Array(K);
  for (const r of per[0] ?? []) counts[imageIndex.get(r.image) as number] += 1;
  const ref = methods.indexOf(REFERENCE_METHOD);

  // per method and metric: the pair mean, per-image sums, bootstrap replicates
  const stats = per.map((rs) => Object.fromEntries(METRICS.map(({ key }) => {
    const sums = new Float64Array(K);
    let total = 0;
    for (const r of rs) {
      const v = valueOf(r, key);
      total += v;
      sums[imageIndex.get(r.image) as number] += v;
    }
    const reps = K > 0 ? bootstrapRatios(sums, counts, draws, replicates) : new Float64Array(0);
    return [key, { mean: total / rs.length, sums, reps }];
  })) as Record<MetricKey, { mean: number; sums: Float64Array; reps: Float64Array }>);

  const interval = (reps: Float64Array): [number, number] => (reps.length ? percentileInterval(reps, level) : [NaN, NaN]);
  const table: EvalRow[] = methods.map((method, j) => {
    const ci = Object.fromEntries(METRICS.map(({ key }) => [key, interval(stats[j][key].reps)])) as Record<MetricKey, [number, number]>;
    const seconds = per[j].reduce((a, r) => a + r.seconds, 0) / per[j].length;
    const row: EvalRow = { method, pairs: per[j].length, ...Object.fromEntries(METRICS.map(({ key }) => [key, stats[j][key].mean])) as Record<MetricKey, number>,
      secondsPerPair: seconds, ci };
    return row;
  });
  if (ref < 0 || K === 0) return { table, images: K };

  // each baseline against DecomCAM: per-image mean differences → signed-rank test; replicate differences → interval
  for (const { key, higherIsBetter } of METRICS) {
    const baselines = methods.map((_, j) => j).filter((j) => j !== ref);
    const results = baselines.map((j) => {
      const a = stats[j][key];
      const d = stats[ref][key];
      const diffs = new Float64Array(K);
      for (let c = 0; c < K; c++) diffs[c] = a.sums[c] / counts[c] - d.sums[c] / counts[c];
      const repDiff = new Float64Array(replicates);
      for (let r = 0; r < replicates; r++) repDiff[r] = a.reps[r] - d.reps[r];
      const difference = a.mean - d.mean;
      const better = difference === 0 ? 'tie' : (difference > 0) === higherIsBetter ? methods[j] : REFERENCE_METHOD;
      return { j, difference, ci: interval(repDiff), better, test: wilcoxonSignedRank(diffs) };
    });
    const adjusted = holm(results.map((x) => x.test.p));
    results.forEach((x, k) => {
      const row = table[x.j];
      row.vsDecomcam ??= {} as Record<MetricKey, PairedComparison>;
      row.vsDecomcam[key] = {
        difference: x.difference, ci: x.ci, better: x.better, images: x.test.n, statistic: x.test.statistic, z: x.test.z,
        p: x.test.p, pHolm: adjusted[k], significant: adjusted[k] < ALPHA,
      };
    });
  }
  return { table, images: K };
}

/**
 * The result of a set of records. Every (image, object) must have one record per method and none twice; throws
 * DecomcamError ('usage') naming the first pair that does not.
 */
export function summarize(records: EvalRecord[], meta: SummaryMeta,
  options: { replicates?: number; seed?: number; level?: number } = {}): EvalResult {
  const replicates = options.replicates ?? BOOTSTRAP_DEFAULTS.replicates;
  const seed = options.seed ?? BOOTSTRAP_DEFAULTS.seed;
  const level = options.level ?? BOOTSTRAP_DEFAULTS.level;
  if (!Number.isInteger(replicates) || replicates < 1) fail(`summary: ${replicates} bootstrap replicates must be a positive integer`, 'usage');
  if (!(level > 0 && level < 1)) fail(`summary: interval level ${level} must lie between 0 and 1`, 'usage');
  const methodRank = new Map(meta.methods.map((m, j) => [m, j]));
  const pairs = records.filter((r): r is PairRecord => r.kind === 'pair');
  pairs.sort((a, b) => byCodeUnits(a.image, b.image) || byCodeUnits(a.object, b.object) ||
    (methodRank.get(a.method) ?? -1) - (methodRank.get(b.method) ?? -1));
  // complete and not counted twice: each pair's records are the methods, in order
  const M = meta.methods.length;
  for (let k = 0; k < pairs.length; k += M) {
    for (let j = 0; j < M; j++) {
      const r = pairs[k + j];
      const first = pairs[k];
      if (!r || r.image !== first.image || r.object !== first.object || r.method !== meta.methods[j]) {
        const where = `image "${first.image}" object "${first.object}"`;
        fail(`records: ${where} has ${r && r.image === first.image && r.object === first.object && r.method === meta.methods[j - 1] ?
          `method "${r.method}" twice (counted twice: were two runs' records combined?)` : `no record of method "${meta.methods[j]}"`}`, 'usage');
      }
    }
  }
  const zs = records.filter((r): r is ZeroShotRecord => r.kind === 'zeroShot').sort((a, b) => byCodeUnits(a.image, b.image));
  for (let k = 1; k < zs.length; k++) {
    if (zs[k].image === zs[k - 1].image) fail(`records: image "${zs[k].image}" has two zero-shot trials (counted twice)`, 'usage');
  }
  const single = zs.filter((r) => r.objects === 1);
  const hits = (rs: ZeroShotRecord[]): number => rs.reduce((a, r) => a + r.hit, 0);
  const zeroShot: ZeroShot = {
    accuracy: hits(zs) / zs.length, images: zs.length,
    singleObjectAccuracy: single.length ? hits(single) / single.length : null, singleObjectImages: single.length,
  };

  const all = tableOf(pairs, meta.methods, replicates, seed, level, 'bootstrap:all');
  const groups: EvalGroup[] = (meta.groups ?? []).map((g) => {
    const inGroup = pairs.filter((r) => r.group === g);
    const t = tableOf(inGroup, meta.methods, replicates, seed, level, `bootstrap:${g}`);
    return { group: g, pairs: inGroup.length / M, images: t.images, table: t.table };
  });
  return {
    dataset: meta.dataset, preset: meta.preset, layer: meta.layer, pairs: pairs.length / M, images: all.images,
    steps: meta.steps, tolerance: meta.tolerance, zeroShot, table: all.table,
    statistics: {
      bootstrap: { replicates, seed, level, over: 'images', interval: 'percentile' },
      test: {
        name: 'Wilcoxon signed-rank over per-image mean differences, two-sided, normal approximation with tie correction, zero differences dropped',
        against: REFERENCE_METHOD, alpha: ALPHA, adjustment: 'Holm over the baselines, per metric (and per group)',
      },
    },
    groups,
  };
}

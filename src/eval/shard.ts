// eval/shard.ts: which image–text pairs a run evaluates. `--limit N` keeps the first N pairs in the dataset's
// order; `--shard i/n` then keeps the images whose id hashes to i: shard(id) = fnv1a32(id) mod n (tensor/rng.ts),
// so an image's pairs stay together (they share one forward) and an image stays in its shard however the dataset's
// files are ordered. Every image's zero-shot trial belongs to the same shard as its pairs.

import { fail } from '../errors.js';
import { fnv1a32 } from '../tensor/rng.js';
import type { EvalDataset, EvalImage, EvalObject } from './datasets.js';

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** The whole dataset in one run. */
export const WHOLE: Shard = { index: 0, count: 1 };

/** Parses "i/n" (0 <= i < n), as `--shard` and JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID give it. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    fail(`shard "${text}" is not i/n with 0 <= i < n (e.g. --shard 0/4 … --shard 3/4; indices count from 0, as ` +
      'JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID with --array=0-3 do)', 'usage');
  }
  return { index, count };
}

/** The shard an image belongs to: fnv1a32 of its id, mod count. */
export function shardOf(imageId: string, count: number): number {
  return fnv1a32(imageId) % count;
}

/** One image–text pair: the image's index in the dataset, the image and the object queried. */
export interface EvalPair {
  i: number;
  im: EvalImage;
  o: EvalObject;
}

/**
 * The pairs of a run: the first `limit` pairs of the dataset (all without a limit), then those of `shard`'s
 * images; and the images whose zero-shot trial the shard runs (all of its images, whatever the limit). Throws
 * DecomcamError ('usage') when two images share an id, or two objects of one image — records could not tell them
 * apart.
 */
export function planPairs(dataset: EvalDataset, limit: number | undefined, shard: Shard = WHOLE): { pairs: EvalPair[]; images: EvalImage[] } {
  const seen = new Set<string>();
  for (const im of dataset.images) {
    if (seen.has(im.id)) fail(`${dataset.name}: two images have the id "${im.id}"; records name images by id, so ids must differ`, 'usage');
    seen.add(im.id);
    const objects = new Set<string>();
    for (const o of im.objects) {
      if (objects.has(o.id)) fail(`${dataset.name}: image "${im.id}" has two objects "${o.id}"; records name objects by id`, 'usage');
      objects.add(o.id);
    }
  }
  let pairs = dataset.images.flatMap((im, i) => im.objects.map((o) => ({ i, im, o })));
  if (limit !== undefined) pairs = pairs.slice(0, limit);
  const mine = (im: EvalImage): boolean => shardOf(im.id, shard.count) === shard.index;
  return { pairs: pairs.filter((p) => mine(p.im)), images: dataset.images.filter(mine) };
}

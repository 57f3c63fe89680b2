// cam/target.ts: what a CAM explains — a scalar score S(v) of the image embedding v (E) against a prompt or any
// embedding t (E). The score kind belongs to the target (textTarget(prompt, { score: 'cosine' })); a target
// that names none takes its method's (DecomCAM: its preset's; every other method: cosine). The formulas and
// their gradients live in clip/score.ts. positionsOf turns a layer's activation (or gradient) of one image into
// the (h·w, C) rows a CAM method reads: a ViT's patch tokens, or a ResNet's NCHW map transposed.

import { SCORE_KINDS, type ScoreKind } from '../clip/score.js';
import { fail } from '../errors.js';
import { allocFloat, dtypeOf, type Float, type Tensor } from '../tensor/tensor.js';

export { SCORE_KINDS, type ScoreKind };
export { cosineRow, scoreAndGrad, scoreRows } from '../clip/score.js'; // their home is clip/score.ts

/** A target before the model has been seen: a prompt (encoded by the model's text tower) or a ready embedding. */
export interface Target {
  /** What results call it: the prompt, or the embedding's label. */
  label: string;
  /** How the image embedding is scored against it; undefined: the method's default (cosine, or DecomCAM's preset's). */
  score?: ScoreKind;
  /** Set for text targets. */
  prompt?: string;
  /** (E) set for embedding targets. */
  vector?: Float;
}

/** Options of a target: its score kind and (embedding targets) its label. */
export interface TargetOptions {
  /** Default: the method's (cosine; DecomCAM's `official` preset: scaledDot). */
  score?: ScoreKind;
  /** What results call an embedding target (default 'embedding'). */
  label?: string;
}

// A bare ScoreKind is accepted in place of the options (the older signature textTarget(prompt, 'cosine')).
function targetOptions(opts: TargetOptions | ScoreKind | undefined, what: string): TargetOptions {
  if (opts === undefined) return {};
  if (typeof opts === 'string') return { score: opts };
  if (typeof opts !== 'object' || opts === null) fail(`${what}: options must be an object such as { score: 'cosine' }`, 'usage');
  for (const key of Object.keys(opts)) {
    if (key !== 'score' && key !== 'label') fail(`${what}: option "${key}" is unknown: a target takes score and label`, 'usage');
  }
  return opts;
}

/** A prompt to explain, e.g. textTarget('a photo of a cat', { score: 'cosine' }). */
export function textTarget(prompt: string, opts?: TargetOptions | ScoreKind): Target {
  if (typeof prompt !== 'string' || prompt.trim() === '') {
    fail(`text target ${JSON.stringify(prompt)} is empty: give a non-empty prompt (e.g. "a photo of a cat")`, 'usage');
  }
  const o = targetOptions(opts, `text target "${prompt}"`);
  if (o.score !== undefined) checkScoreKind(o.score);
  return { label: o.label ?? prompt, score: o.score, prompt };
}

/** Any embedding (E values, e.g. another image's) as a target. `label` may also be given in the options. */
export function embeddingTarget(vector: Float, opts?: TargetOptions | ScoreKind, label?: string): Target {
  const o = targetOptions(opts, 'embedding target');
  const name = label ?? o.label ?? 'embedding';
  if (!(vector instanceof Float32Array || vector instanceof Float64Array) || vector.length === 0) {
    fail(`embedding target "${name}" must be a non-empty Float32Array or Float64Array (E values)`, 'usage');
  }
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) fail(`embedding target "${name}" has ${vector[i]} at index ${i}: values must be finite`, 'usage');
  }
  if (o.score !== undefined) checkScoreKind(o.score);
  return { label: name, score: o.score, vector };
}

/** Fails unless `kind` is a ScoreKind. */
export function checkScoreKind(kind: unknown, what = 'score kind'): asserts kind is ScoreKind {
  if (!SCORE_KINDS.includes(kind as ScoreKind)) {
    fail(`${what} ${JSON.stringify(kind)} is unknown: expected one of ${SCORE_KINDS.join(', ')}`, 'usage');
  }
}

/**
 * One image's layer tensor as (h·w, C) position rows: a ViT's tokens (1,1+h·w,C) without the class token (a
 * view), or a ResNet map (1,C,h,w) transposed (a copy, positions row-major over h × w).
 */
export function positionsOf(t: Tensor, grid: { h: number; w: number; C: number }): Float {
  const { h, w, C } = grid;
  const HW = h * w;
  if (t.shape.length === 4) {
    if (t.shape[0] !== 1 || t.shape[1] !== C || t.shape[2] !== h || t.shape[3] !== w) {
      fail(`layer map has shape [${t.shape.join(', ')}], expected [1, ${C}, ${h}, ${w}]`);
    }
    const out = allocFloat(dtypeOf(t.data), HW * C);
    for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) out[p * C + c] = t.data[c * HW + p];
    return out;
  }
  if (t.data.length !== (1 + HW) * C) fail(`layer tokens have shape [${t.shape.join(', ')}], expected [1, ${1 + HW}, ${C}]`);
  return t.data.subarray(C);
}

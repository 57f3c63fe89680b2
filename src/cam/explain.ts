// cam/explain.ts: the top-level call — one image, one or more texts, one CAM method by name (the registry
// camMethods), options from a preset (cam/decomcam.ts) with overrides. The texts are encoded in one call, the image
// is preprocessed once and goes through one forward to the target layer, and each text then runs the template
// (cam/template.ts): its score, a backward to the layer, the method, the post-processing.
// Shapes: crop (3,S,S); map (S,S) in the preprocessed crop's frame; ossm (Q,h,w); E embedding.

import { encodeTexts, type ClipModel } from '../clip/model.js';
import { resolveLayer } from '../clip/vision.js';
import { fail } from '../errors.js';
import type { Float, Tensor } from '../tensor/tensor.js';
import { decomcam, presets, type PresetName } from './decomcam.js';
import { eigencam } from './eigencam.js';
import { eigengradcam } from './eigengradcam.js';
import { gradcam } from './gradcam.js';
import { gradcampp } from './gradcampp.js';
import { gscorecam } from './gscorecam.js';
import { hirescam } from './hirescam.js';
import { layercam } from './layercam.js';
import { scorecam } from './scorecam.js';
import { SCORE_KINDS, textTarget, type Target } from './target.js';
import {
  prepareImage, releaseImage, runMethod, type CamImage, type CamMethod, type CamOptions, type LayerGrid, type TextExplanation,
} from './template.js';
import { xgradcam } from './xgradcam.js';

// Every method by name (the --method values of tools/explain.js).
export const camMethods: Record<string, CamMethod> = {
  decomcam, gradcam, gradcampp, xgradcam, layercam, hirescam, eigencam, eigengradcam, scorecam, gscorecam,
};

export type { CamImage, TextExplanation };

export interface ExplainOptions extends Partial<CamOptions> {
  method?: string;      // default 'decomcam'
  preset?: PresetName;  // default 'paper'; the other options override the preset's values
}

export interface Explanation {
  method: string;
  preset: PresetName;
  layer: string;                   // canonical ('vision.blocks.11.ln_1')
  grid: LayerGrid;
  S: number;
  options: CamOptions;             // the resolved knobs
  rgb: Tensor;                     // [3,S,S] the crop in [0, 1] (for overlays)
  pixels: Tensor;                  // [3,S,S] the normalised input, float64
  results: TextExplanation[];
  timings: Record<string, number>; // ms of the shared stages: preprocess, encodeTexts, forward
  warnings: string[];
}

// ---- options -----------------------------------------------------------------------------------------------

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) fail(`option ${name} = ${v}: expected an integer ≥ ${min}`, 'usage');
}
function checkNumber(name: string, v: number, min: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(`option ${name} = ${v}: expected a finite number ≥ ${min}`, 'usage');
}

// The preset's options with the caller's overrides (undefined values ignored), validated.
export function resolveOptions(opts: ExplainOptions = {}): { preset: PresetName; options: CamOptions } {
  const preset = opts.preset ?? 'paper';
  if (!(preset in presets)) fail(`preset "${preset}" is unknown: expected one of ${Object.keys(presets).join(', ')}`, 'usage');
  const known = new Set(Object.keys(presets[preset]));
  const overrides = Object.fromEntries(
    Object.entries(opts).filter(([key, v]) => known.has(key) && v !== undefined)) as Partial<CamOptions>;
  const options: CamOptions = { ...presets[preset], ...overrides };
  checkInt('P (top-p)', options.P, 1);
  checkInt('Q (components)', options.Q, 1);
  checkNumber('sigma', options.sigma, 0);
  checkNumber('truncate', options.truncate, 0);
  checkNumber('threshold', options.threshold, -Infinity);
  checkNumber('finalEps', options.finalEps, 0);
  checkInt('finalPasses', options.finalPasses, 0);
  checkInt('topK', options.topK, 1);
  checkInt('batchSize', options.batchSize, 1);
  if (!SCORE_KINDS.includes(options.score)) fail(`option score = "${options.score}": expected one of ${SCORE_KINDS.join(', ')}`, 'usage');
  if (options.perturb !== 'rgb' && options.perturb !== 'normalized') fail(`option perturb = "${options.perturb}": expected rgb or normalized`, 'usage');
  if (options.baseline !== 'blur' && options.baseline !== 'none') fail(`option baseline = "${options.baseline}": expected blur or none`, 'usage');
  if (typeof options.layer !== 'string') fail(`option layer = ${options.layer}: expected a layer name such as vision.blocks.-1.ln_1`, 'usage');
  return { preset, options };
}

// Each target's embedding t (E) as float64: prompts encoded together in one call, vectors checked and copied.
function targetVectors(model: ClipModel, targets: Target[]): Float64Array[] {
  const E = model.config.embedDim;
  const prompts = targets.flatMap((t) => (t.prompt !== undefined ? [t.prompt] : []));
  const encoded = prompts.length ? encodeTexts(model, prompts).data : new Float64Array(0);
  let next = 0;
  return targets.map((t) => {
    if (t.prompt !== undefined) {
      const i = next++;
      return Float64Array.from(encoded.subarray(i * E, (i + 1) * E));
    }
    const vec = t.vector as Float;
    if (vec.length !== E) fail(`embedding target "${t.label}" has ${vec.length} values; this model's embeddings have ${E}`, 'usage');
    return Float64Array.from(vec);
  });
}

// Explain `image` for each text: a prompt (scored with options.score) or a Target (cam/target.ts: textTarget,
// embeddingTarget). Every text shares the one image forward; results come back in the order of `texts`.
export function explain(model: ClipModel, image: CamImage, texts: (string | Target)[], opts: ExplainOptions = {}): Explanation {
  const methodName = opts.method ?? 'decomcam';
  const method = camMethods[methodName];
  if (!method) fail(`method "${methodName}" is unknown: expected one of ${Object.keys(camMethods).join(', ')}`, 'usage');
  const { preset, options } = resolveOptions(opts);
  if (!Array.isArray(texts) || texts.length === 0) fail('explain: give at least one text (e.g. "a photo of a cat")', 'usage');
  const targets = texts.map((t, i) => {
    if (typeof t === 'string') return textTarget(t, options.score);
    if (!t || typeof t !== 'object' || (t.prompt === undefined && t.vector === undefined)) {
      fail(`text ${i} is neither a string nor a target (make one with textTarget(prompt) or embeddingTarget(vector))`, 'usage');
    }
    return t;
  });
  const layer = resolveLayer(model.config, options.layer); // an unknown layer fails here, before any work

  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const vectors = targetVectors(model, targets);
  timings.encodeTexts = performance.now() - t0;
  const im = prepareImage(model, image, layer, options, timings); // preprocess + the one forward
  let results: TextExplanation[];
  try {
    results = targets.map((target, k) => runMethod(im, method, target, vectors[k]));
  } finally {
    releaseImage(im); // every result holds copies, never views of the forward's arrays
  }
  const warnings = results.flatMap((r) => r.warnings.map((m: string) => `${r.text}: ${m}`));
  return {
    method: method.name, preset, layer, grid: im.grid, S: im.S, options, rgb: { data: im.rgb, shape: [3, im.S, im.S] },
    pixels: { data: im.pixels, shape: [3, im.S, im.S] }, results, timings, warnings,
  };
}

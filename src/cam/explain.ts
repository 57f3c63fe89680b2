// cam/explain.ts: the top-level calls — one image, one or more texts, one CAM method (explain) or several
// (explainMethods, which the evaluation harness uses). Each method's own options are resolved from its defaults
// (and DecomCAM's preset) by cam/options.ts; methods come by name from a registry (cam/registry.ts). The texts
// are encoded in one call, the image is preprocessed once and goes through one forward to each target layer, and
// each text is scored and differentiated once per score kind, shared by every method that reads gradients.
// Shapes: crop (3,R,R); map (R,R) in the preprocessed crop's frame; ossm (Q,h,w); E embedding.

import { encodeTexts, type ClipModel } from '../clip/model.js';
import type { ScoreKind } from '../clip/score.js';
import { defaultLayer, resolveLayer } from '../clip/vision.js';
import { fail } from '../errors.js';
import type { Float, Tensor } from '../tensor/tensor.js';
import type { DecomcamOptions, PresetName } from './decomcam.js';
import type { GscorecamOptions } from './gscorecam.js';
import { resolveMethodOptions } from './options.js';
import { builtinMethods, camMethods, methodByName, type MethodName, type MethodRegistry } from './registry.js';
import type { ScorecamOptions } from './scorecam.js';
import { textTarget, type Target } from './target.js';
import {
  layerGrid, prepareImage, releaseImage, runMethod, scoreText, type CamImage, type CamMethod, type ImageRun, type LayerGrid,
  type ScoredText, type TextExplanation,
} from './template.js';

export { camMethods };
/** Types of the explanations explain() returns, re-exported from cam/template.ts. */
export type { CamImage, TextExplanation };

/** The default target layer: the last block's ln_1 (its output is what the class token attends to). On a ResNet
 * CLIP this name stands for visual.layer4, the official DecomCAM target (clip/vision.ts defaultLayer). */
export const DEFAULT_LAYER = 'vision.blocks.-1.ln_1';

/** Options every method takes. */
export interface CommonOptions {
  /** 'vision.blocks.N.ln_1' | '.ln_2' | 'vision.blocks.N' (output); N < 0 counts from the end. Default: DEFAULT_LAYER. */
  layer?: string;
  /** Keep every intermediate (α, top, X, masks, batch, raw, acts, grads, …) in each result's `trace`. */
  trace?: boolean;
  /** Where `method` names are looked up (default: the built-ins); make one with createRegistry/registerMethod. */
  methods?: MethodRegistry;
}

/** Each built-in method's own options (all optional in explain; Grad-CAM and the like take none). */
export interface MethodOptionsMap {
  decomcam: DecomcamOptions & { preset: PresetName };
  gradcam: Record<never, never>;
  gradcampp: Record<never, never>;
  xgradcam: Record<never, never>;
  layercam: Record<never, never>;
  hirescam: Record<never, never>;
  eigencam: Record<never, never>;
  eigengradcam: Record<never, never>;
  scorecam: ScorecamOptions;
  gscorecam: GscorecamOptions;
}

/** explain's options for a built-in method: `method` plus that method's own options (e.g.
 * { method: 'decomcam', preset: 'official', Q: 5 } or { method: 'gscorecam', topK: 100 }). */
export type BuiltinExplainOptions = {
  [M in MethodName]: CommonOptions & { method?: M } & Partial<MethodOptionsMap[M]>
}[MethodName];

/** explain's options for a method of your own: the method object itself, or its name with the registry that holds it. */
export type CustomExplainOptions =
  | (CommonOptions & { method: CamMethod; preset?: string; [option: string]: unknown })
  | (CommonOptions & { method: string; methods: MethodRegistry; preset?: string; [option: string]: unknown });

/** The options of explain: which method, its own options, and the common ones. Unknown or misplaced options
 * (e.g. Q for gradcam, preset for anything but DecomCAM) are an error naming the method. */
export type ExplainOptions = BuiltinExplainOptions | CustomExplainOptions;

/** What explain returns: per text a map and (DecomCAM) its decomposition, with what was used to make them. */
export interface Explanation {
  /** The method's name. */
  method: string;
  /** DecomCAM's preset; null for a method without presets. */
  preset: string | null;
  /** Canonical layer name ('vision.blocks.11.ln_1'). */
  layer: string;
  grid: LayerGrid;
  /** The crop's side in pixels (maps are S×S; called R in cam/ where S is the score). */
  S: number;
  /** The method's resolved options (DecomCAM: P, Q, sigma, …; {} for Grad-CAM). */
  options: Readonly<Record<string, unknown>>;
  /** [3,S,S] the crop in [0, 1] (for overlays). */
  rgb: Tensor;
  /** [3,S,S] the normalised input, float64. */
  pixels: Tensor;
  /** One per text, in the order given. */
  results: TextExplanation[];
  /** ms of the shared stages: preprocess, encodeTexts, forward. */
  timings: Record<string, number>;
  /** Every text's warnings, each prefixed by its text. */
  warnings: string[];
}

const COMMON_KEYS = new Set(['method', 'layer', 'trace', 'methods']);

/** One method's resolution: the method, its options, and the common options. */
export interface ResolvedExplainOptions {
  method: CamMethod;
  preset: string | null;
  options: Readonly<Record<string, unknown>>;
  given: ReadonlySet<string>;
  layer: string;  // as given (resolveLayer makes it canonical against a model)
  trace: boolean;
}

/** explain's options resolved and checked: the method from the registry, its options from its defaults (and
 * DecomCAM's preset) with the caller's values, validated. */
export function resolveOptions(opts: ExplainOptions = {}): ResolvedExplainOptions {
  if (typeof opts !== 'object' || opts === null) fail('explain: options must be an object such as { method: \'gradcam\' }', 'usage');
  const o = opts as Record<string, unknown>;
  const registry = (o.methods ?? builtinMethods) as MethodRegistry;
  if (!(registry instanceof Map)) fail('option methods: expected a method registry (createRegistry() or registerMethod())', 'usage');
  const m = o.method ?? 'decomcam';
  const method = typeof m === 'object' && m !== null ? (m as CamMethod) : methodByName(registry, m as string);
  const own = Object.fromEntries(Object.entries(o).filter(([k]) => !COMMON_KEYS.has(k)));
  const r = resolveMethodOptions(method, own, registry.values());
  const layer = o.layer ?? DEFAULT_LAYER;
  if (typeof layer !== 'string') fail(`option layer = ${String(layer)}: expected a layer name such as ${DEFAULT_LAYER}`, 'usage');
  if (o.trace !== undefined && typeof o.trace !== 'boolean') fail(`option trace = ${String(o.trace)}: expected true or false`, 'usage');
  return { method, preset: r.preset, options: r.options as Readonly<Record<string, unknown>>, given: r.given, layer, trace: o.trace === true };
}

// Each text as a Target; a string becomes a text target with no score of its own.
function toTargets(texts: (string | Target)[]): Target[] {
  if (!Array.isArray(texts) || texts.length === 0) fail('explain: give at least one text (e.g. "a photo of a cat")', 'usage');
  return texts.map((t, i) => {
    if (typeof t === 'string') return textTarget(t);
    if (!t || typeof t !== 'object' || (t.prompt === undefined && t.vector === undefined)) {
      fail(`text ${i} is neither a string nor a target (make one with textTarget(prompt) or embeddingTarget(vector))`, 'usage');
    }
    return t;
  });
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

/** What explainMethods takes besides the options: text embeddings already computed (one per text, E values;
 * e.g. cached across calls), so the text tower is skipped. */
export interface ExplainMethodsExtras {
  vectors?: Float64Array[];
}

/** Several methods on one image and its texts, sharing everything they can: the text encoding, one forward per
 * target layer, and one backward per (text, score kind). Returns one Explanation per entry of `runs`, each as
 * explain would give it. */
export function explainMethods(model: ClipModel, image: CamImage, texts: (string | Target)[], runs: ExplainOptions[],
  extras: ExplainMethodsExtras = {}): Explanation[] {
  if (!Array.isArray(runs) || runs.length === 0) fail('explainMethods: give at least one method\'s options', 'usage');
  const resolved = runs.map((r) => resolveOptions(r));
  const targets = toTargets(texts);
  const layers = resolved.map((r) => resolveLayer(model.config, defaultLayer(model.config, r.layer))); // an unknown layer fails here
  resolved.forEach((r, j) => r.method.checkGrid?.(r.options, layerGrid(model, layers[j])));           // so does a Q the layer cannot give

  const shared: Record<string, number> = {};
  const t0 = performance.now();
  const vectors = extras.vectors ?? targetVectors(model, targets);
  if (vectors.length !== targets.length) fail(`explainMethods: ${vectors.length} text vectors for ${targets.length} texts`, 'usage');
  shared.encodeTexts = performance.now() - t0;

  const out: Explanation[] = new Array(runs.length);
  for (const layer of new Set(layers)) {
    const timings = { ...shared };
    const im: ImageRun = prepareImage(model, image, layer, timings); // preprocess + the one forward
    try {
      const scored = new Map<string, ScoredText>(); // `${text}:${kind}` → its score, and its backward once asked
      const scoredAs = (k: number, kind: ScoreKind): ScoredText => {
        const key = `${k}:${kind}`;
        if (!scored.has(key)) scored.set(key, scoreText(im, targets[k], vectors[k], kind));
        return scored.get(key) as ScoredText;
      };
      resolved.forEach((r, j) => {
        if (layers[j] !== layer) return;
        const results = targets.map((target, k) => {
          const kind = target.score ?? r.method.targetScore?.(r.options) ?? 'cosine';
          return runMethod(im, r.method, r.options, scoredAs(k, kind), { given: r.given, trace: r.trace });
        });
        out[j] = {
          method: r.method.name, preset: r.preset, layer, grid: im.grid, S: im.R, options: r.options,
          rgb: { data: im.rgb, shape: [3, im.R, im.R] }, pixels: { data: im.pixels, shape: [3, im.R, im.R] }, results,
          timings: { ...timings }, warnings: results.flatMap((res) => res.warnings.map((m: string) => `${res.text}: ${m}`)),
        };
      });
    } finally {
      releaseImage(im); // every result holds copies, never views of the forward's arrays
    }
  }
  return out;
}

/** Explain `image` for each text: a prompt or a Target (cam/target.ts: textTarget, embeddingTarget) with one
 * method (default DecomCAM, `paper` preset). Every text shares the one image forward; results come back in the
 * order of `texts`. */
export function explain(model: ClipModel, image: CamImage, texts: (string | Target)[], opts: ExplainOptions = {}): Explanation {
  return explainMethods(model, image, texts, [opts])[0];
}

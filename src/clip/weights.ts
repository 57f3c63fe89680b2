// clip/weights.ts: the table of CLIP's parameters — our name, shape, and the checkpoint keys it comes from
// (Hugging Face CLIPModel and openai/CLIP state dicts). The only file where checkpoint names appear: it also
// fills parameters from a checkpoint or the seeded generator, and infers an OpenAI checkpoint's configuration.
// Parameters live in one buffer with a named view per tensor; weight gradients use the same layout.
// Two layout differences: OpenAI's fused attn.in_proj (q, k, v stacked) is our qkv, which HF splits into
// q_proj, k_proj, v_proj; OpenAI stores the projections visual.proj and text_projection as (width, E).

import { fail } from '../errors.js';
import type { StTensor } from '../io/safetensors.js';
import type { Backend } from '../kernels/backend.js';
import { allocOn } from '../kernels/workspace.js';
import { seededUniform } from '../tensor/rng.js';
import { allocFloat, numel, shapeString, type DType, type Float } from '../tensor/tensor.js';
import { numTokens, validateConfig, type ClipConfig } from './config.js';
import { inferResnetVision, isResnetStateDict, resnetSeededScale, resnetVisionSpecs } from './resnet_weights.js';

/** One parameter of the model table: our name, shape, and the keys it has in HF and OpenAI checkpoints. */
export interface ParamSpec {
  name: string;             // ours, e.g. 'vision.blocks.3.attn.qkv.weight'
  shape: number[];
  hf: string[];             // HF keys, stacked along the first axis (one key except q, k, v)
  openai: string;           // openai/CLIP key
  openaiTransposed: boolean; // stored (in, out) by OpenAI: visual.proj, text_projection
}

/** Every parameter of a model in one buffer (table order), with a named view per parameter. */
export interface Params {
  specs: ParamSpec[];
  data: Float;              // every parameter, one after another in table order
  views: Map<string, Float>; // name -> view into data
  dtype: DType;
}

/**
 * One pre-LN residual block (both towers).
 */
export interface BlockParams {
  ln1W: Float; ln1B: Float;     // (D) (D)
  qkvW: Float; qkvB: Float;     // (3D,D) (3D)
  projW: Float; projB: Float;   // (D,D) (D)
  ln2W: Float; ln2B: Float;     // (D) (D)
  fcW: Float; fcB: Float;       // (F,D) (F)
  fc2W: Float; fc2B: Float;     // (D,F) (D)
}

/** Named views of the vision tower's parameters (shapes in the field comments). */
export interface VisionParams {
  patchW: Float;                // (D,3,P,P), the stride-P convolution (no bias)
  cls: Float;                   // (D) class token
  pos: Float;                   // (N,D)
  lnPreW: Float; lnPreB: Float; // (D)
  blocks: BlockParams[];        // L
  lnPostW: Float; lnPostB: Float;
  proj: Float;                  // (E,D)
}

/** Named views of the text tower's parameters (shapes in the field comments). */
export interface TextParams {
  token: Float;                 // (V,D)
  pos: Float;                   // (context,D)
  blocks: BlockParams[];
  lnFinalW: Float; lnFinalB: Float;
  proj: Float;                  // (E,D)
}

function blockSpecs(ours: string, hf: string, oa: string, D: number, F: number): ParamSpec[] {
  const p = (name: string, shape: number[], hfKeys: string[], openai: string): ParamSpec =>
    ({ name: `${ours}.${name}`, shape, hf: hfKeys.map((k) => `${hf}.${k}`), openai: `${oa}.${openai}`, openaiTransposed: false });
  return [
    p('ln_1.weight', [D], ['layer_norm1.weight'], 'ln_1.weight'),
    p('ln_1.bias', [D], ['layer_norm1.bias'], 'ln_1.bias'),
    p('attn.qkv.weight', [3 * D, D], ['q', 'k', 'v'].map((x) => `self_attn.${x}_proj.weight`), 'attn.in_proj_weight'),
    p('attn.qkv.bias', [3 * D], ['q', 'k', 'v'].map((x) => `self_attn.${x}_proj.bias`), 'attn.in_proj_bias'),
    p('attn.proj.weight', [D, D], ['self_attn.out_proj.weight'], 'attn.out_proj.weight'),
    p('attn.proj.bias', [D], ['self_attn.out_proj.bias'], 'attn.out_proj.bias'),
    p('ln_2.weight', [D], ['layer_norm2.weight'], 'ln_2.weight'),
    p('ln_2.bias', [D], ['layer_norm2.bias'], 'ln_2.bias'),
    p('mlp.fc.weight', [F, D], ['mlp.fc1.weight'], 'mlp.c_fc.weight'),
    p('mlp.fc.bias', [F], ['mlp.fc1.bias'], 'mlp.c_fc.bias'),
    p('mlp.proj.weight', [D, F], ['mlp.fc2.weight'], 'mlp.c_proj.weight'),
    p('mlp.proj.bias', [D], ['mlp.fc2.bias'], 'mlp.c_proj.bias'),
  ];
}

/**
 * The full table for a configuration, in a fixed order.
 */
export function paramSpecs(config: ClipConfig): ParamSpec[] {
  if (config.resnet) { // a ResNet image tower (clip/resnet_weights.ts), the same text tower
    return [...resnetVisionSpecs(config), ...paramSpecs({ ...config, resnet: undefined }).filter((s) => !s.name.startsWith('vision.'))];
  }
  const { vision: v, text: t, embedDim: E } = config;
  const one = (name: string, shape: number[], hf: string, openai: string, openaiTransposed = false): ParamSpec =>
    ({ name, shape, hf: [hf], openai, openaiTransposed });
  const specs: ParamSpec[] = [
    one('vision.patch.weight', [v.width, v.channels, v.patchSize, v.patchSize],
      'vision_model.embeddings.patch_embedding.weight', 'visual.conv1.weight'),
    one('vision.class', [v.width], 'vision_model.embeddings.class_embedding', 'visual.class_embedding'),
    one('vision.pos', [numTokens(config), v.width], 'vision_model.embeddings.position_embedding.weight',
      'visual.positional_embedding'),
    one('vision.ln_pre.weight', [v.width], 'vision_model.pre_layrnorm.weight', 'visual.ln_pre.weight'),
    one('vision.ln_pre.bias', [v.width], 'vision_model.pre_layrnorm.bias', 'visual.ln_pre.bias'),
  ];
  for (let i = 0; i < v.layers; i++) {
    specs.push(...blockSpecs(`vision.blocks.${i}`, `vision_model.encoder.layers.${i}`,
      `visual.transformer.resblocks.${i}`, v.width, v.mlpWidth));
  }
  specs.push(
    one('vision.ln_post.weight', [v.width], 'vision_model.post_layernorm.weight', 'visual.ln_post.weight'),
    one('vision.ln_post.bias', [v.width], 'vision_model.post_layernorm.bias', 'visual.ln_post.bias'),
    one('vision.proj', [E, v.width], 'visual_projection.weight', 'visual.proj', true),
    one('text.token', [t.vocabSize, t.width], 'text_model.embeddings.token_embedding.weight', 'token_embedding.weight'),
    one('text.pos', [t.contextLength, t.width], 'text_model.embeddings.position_embedding.weight', 'positional_embedding'),
  );
  for (let i = 0; i < t.layers; i++) {
    specs.push(...blockSpecs(`text.blocks.${i}`, `text_model.encoder.layers.${i}`,
      `transformer.resblocks.${i}`, t.width, t.mlpWidth));
  }
  specs.push(
    one('text.ln_final.weight', [t.width], 'text_model.final_layer_norm.weight', 'ln_final.weight'),
    one('text.ln_final.bias', [t.width], 'text_model.final_layer_norm.bias', 'ln_final.bias'),
    one('text.proj', [E, t.width], 'text_projection.weight', 'text_projection', true),
    one('logit_scale', [], 'logit_scale', 'logit_scale'),
  );
  return specs;
}

/**
 * The shape of each HF tensor stacked into a parameter (q, k, v each a third of qkv's rows).
 */
export function hfPartShape(s: ParamSpec): number[] {
  return s.hf.length === 1 ? s.shape : [s.shape[0] / s.hf.length, ...s.shape.slice(1)];
}

/**
 * Zero-filled parameters (or gradients) for a configuration. Given the model's backend, the buffer lives in
 * the backend's memory where it has one (the wasm backend's kernels then read the weights where they lie).
 */
export function allocParams(config: ClipConfig, dtype: DType, backend?: Backend): Params {
  const specs = paramSpecs(config);
  const total = specs.reduce((n, s) => n + numel(s.shape), 0);
  const data = backend ? allocOn(backend, dtype, total) : allocFloat(dtype, total);
  const views = new Map<string, Float>();
  let offset = 0;
  for (const s of specs) {
    const n = numel(s.shape);
    views.set(s.name, data.subarray(offset, offset + n));
    offset += n;
  }
  return { specs, data, views, dtype };
}

/** The view of one named parameter; throws DecomcamError when the model has no such parameter. */
export function param(params: Params, name: string): Float {
  const v = params.views.get(name);
  if (!v) fail(`parameter "${name}" is not part of this model`);
  return v;
}

function blockParams(p: Params, prefix: string): BlockParams {
  const g = (n: string): Float => param(p, `${prefix}.${n}`);
  return {
    ln1W: g('ln_1.weight'), ln1B: g('ln_1.bias'), qkvW: g('attn.qkv.weight'), qkvB: g('attn.qkv.bias'),
    projW: g('attn.proj.weight'), projB: g('attn.proj.bias'), ln2W: g('ln_2.weight'), ln2B: g('ln_2.bias'),
    fcW: g('mlp.fc.weight'), fcB: g('mlp.fc.bias'), fc2W: g('mlp.proj.weight'), fc2B: g('mlp.proj.bias'),
  };
}

/** The vision tower's named parameter views. */
export function visionParams(p: Params, config: ClipConfig): VisionParams {
  const blocks: BlockParams[] = [];
  for (let i = 0; i < config.vision.layers; i++) blocks.push(blockParams(p, `vision.blocks.${i}`));
  return {
    patchW: param(p, 'vision.patch.weight'), cls: param(p, 'vision.class'), pos: param(p, 'vision.pos'),
    lnPreW: param(p, 'vision.ln_pre.weight'), lnPreB: param(p, 'vision.ln_pre.bias'), blocks,
    lnPostW: param(p, 'vision.ln_post.weight'), lnPostB: param(p, 'vision.ln_post.bias'), proj: param(p, 'vision.proj'),
  };
}

/** The text tower's named parameter views. */
export function textParams(p: Params, config: ClipConfig): TextParams {
  const blocks: BlockParams[] = [];
  for (let i = 0; i < config.text.layers; i++) blocks.push(blockParams(p, `text.blocks.${i}`));
  return {
    token: param(p, 'text.token'), pos: param(p, 'text.pos'), blocks,
    lnFinalW: param(p, 'text.ln_final.weight'), lnFinalB: param(p, 'text.ln_final.bias'), proj: param(p, 'text.proj'),
  };
}

// ---- seeded weights: reference/clip_model.py's seeded_scale and seeded_clip, bit for bit ----------------

/**
 * (scale, offset) of a parameter by its HF name and HF shape: matrices ±1/√fan_in, biases ±0.02,
 * layer-norm weights 1 ± 0.1 and biases ±0.1, class/position/token embeddings ±0.1.
 */
export function seededScale(hfName: string, hfShape: number[]): [number, number] {
  if (/layer_norm|layrnorm|layernorm/.test(hfName)) return hfName.endsWith('.weight') ? [0.1, 1] : [0.1, 0];
  if (hfName.includes('embedding') && !hfName.includes('patch')) return [0.1, 0];
  if (hfName.endsWith('.bias')) return [0.02, 0];
  return [1 / Math.sqrt(numel(hfShape.slice(1))), 0];
}

/**
 * Every tensor from seededUniform(seed, hfName, …), float64 arithmetic then cast; logit_scale from the config.
 */
export function fillSeeded(params: Params, config: ClipConfig, seed: number): void {
  for (const s of params.specs) {
    const view = param(params, s.name);
    if (s.name === 'logit_scale') {
      view[0] = config.logitScaleInit;
      continue;
    }
    const partShape = hfPartShape(s);
    const n = numel(partShape);
    s.hf.forEach((key, i) => {
      const [scale, offset] = config.resnet && s.name.startsWith('vision.') ? resnetSeededScale(key, partShape) : seededScale(key, partShape);
      view.set(seededUniform(seed, key, n, scale, offset, params.dtype), i * n);
    });
  }
}

// ---- checkpoints ----------------------------------------------------------------------------------------

/** The key layout of a checkpoint: Hugging Face (transformers) or openai/CLIP. */
export type Layout = 'hf' | 'openai';

// Tensors a checkpoint may hold that the model does not use.
function ignorable(key: string): boolean {
  return key.endsWith('position_ids') || key === 'input_resolution' || key === 'context_length' || key === 'vocab_size' ||
    key.endsWith('.num_batches_tracked'); // a BatchNorm's training counter (ResNet CLIP)
}

/**
 * Checks, before anything is allocated, that the checkpoint holds every tensor the configuration implies, with
 * that shape and a float dtype, and nothing unexpected: a config.json that disagrees with its checkpoint (or
 * claims 10^9 layers) is refused here by name instead of after a multi-gigabyte allocation.
 */
export function checkCheckpoint(
  specs: ParamSpec[], tensors: Map<string, StTensor>, layout: Layout, source: string, configSource: string): void {
  const used = new Set<string>();
  const check = (key: string, shape: number[]): void => {
    const t = tensors.get(key);
    if (!t) fail(`tensor "${key}" not found in ${source} (${configSource} implies it)`);
    const ok = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
    const scalarOk = shape.length === 0 && numel(t.shape) === 1; // logit_scale stored as [] or [1]
    if (!ok && !scalarOk) {
      fail(`tensor "${key}" in ${source} has shape ${shapeString(t.shape)}, but ${configSource} implies ${shapeString(shape)}`);
    }
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array)) {
      fail(`tensor "${key}" in ${source} has dtype ${t.dtype}, expected a float dtype (F32, F16, BF16, F64)`);
    }
    used.add(key);
  };
  for (const s of specs) {
    if (layout === 'hf') for (const key of s.hf) check(key, hfPartShape(s));
    else check(s.openai, s.openaiTransposed ? [s.shape[1], s.shape[0]] : s.shape);
  }
  const extra = [...tensors.keys()].filter((k) => !used.has(k) && !ignorable(k));
  if (extra.length > 0) {
    const list = extra.slice(0, 5).map((k) => JSON.stringify(k.length > 200 ? k.slice(0, 197) + '...' : k)).join(', ');
    fail(`${source} holds ${extra.length} tensor(s) that ${configSource} does not describe: ${list}` +
      `${extra.length > 5 ? ', …' : ''} (does the configuration match the checkpoint?)`);
  }
}

/**
 * Copy a checkpoint's tensors into params, after checkCheckpoint.
 */
export function fillFromCheckpoint(
  params: Params, tensors: Map<string, StTensor>, layout: Layout, source: string, configSource: string): void {
  checkCheckpoint(params.specs, tensors, layout, source, configSource);
  const get = (key: string): Float => {
    const data = tensors.get(key)?.data;
    if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) fail(`tensor "${key}" vanished from ${source}`);
    return data;
  };
  for (const s of params.specs) {
    const view = param(params, s.name);
    if (layout === 'hf') {
      const n = numel(hfPartShape(s));
      s.hf.forEach((key, i) => view.set(get(key), i * n));
    } else if (s.openaiTransposed) {
      const [rows, cols] = s.shape; // ours (E, width); OpenAI's (width, E)
      const src = get(s.openai);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) view[r * cols + c] = src[c * rows + r];
    } else {
      view.set(get(s.openai));
    }
  }
}

/**
 * Which naming a checkpoint uses, from two tell-tale tensors; a ResNet CLIP is refused by name.
 */
export function detectLayout(tensors: Map<string, StTensor>, source: string): Layout {
  if (tensors.has('vision_model.embeddings.patch_embedding.weight')) return 'hf';
  if (tensors.has('visual.conv1.weight')) return 'openai';
  if (isResnetStateDict(tensors.keys())) return 'openai'; // a ResNet CLIP: OpenAI names only (HF has none)
  fail(`${source} is not a CLIP checkpoint: neither "vision_model.embeddings.patch_embedding.weight" (Hugging Face) ` +
    'nor "visual.conv1.weight" (OpenAI) is in it');
}

/**
 * openai/CLIP's build_model, for a ViT checkpoint: everything from tensor shapes. `shapes` maps each
 * state-dict key to its shape. Heads are width / 64 and the activation quick_gelu, as OpenAI's models.
 */
export function inferOpenAiConfig(shapes: Map<string, number[]>, source: string): ClipConfig {
  const rn = isResnetStateDict(shapes.keys()) ? inferResnetVision(shapes, source) : null; // clip/resnet_weights.ts
  const need = (key: string, rank: number): number[] => {
    const s = shapes.get(key);
    if (!s) fail(`${source}: tensor "${key}" not found; an OpenAI ViT CLIP state dict has it (is this a CLIP checkpoint?)`);
    if (s.length !== rank) fail(`${source}: tensor "${key}" has shape [${s.join(', ')}], expected ${rank} dimensions`);
    return s;
  };
  const countBlocks = (prefix: string): number => {
    const ids = new Set<number>();
    const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}(\\d+)\\.`);
    for (const k of shapes.keys()) {
      const m = re.exec(k);
      if (m) ids.add(Number(m[1]));
    }
    return ids.size;
  };
  const vitVision = (): ClipConfig['vision'] => {
    const conv = need('visual.conv1.weight', 4);
    const vWidth = conv[0];
    const patch = conv[3];
    const vPos = need('visual.positional_embedding', 2);
    const grid = Math.round(Math.sqrt(vPos[0] - 1));
    if (grid * grid + 1 !== vPos[0]) {
      fail(`${source}: visual.positional_embedding has ${vPos[0]} rows, expected 1 + a square number of patches`);
    }
    return {
      width: vWidth, layers: countBlocks('visual.transformer.resblocks.'), heads: heads(vWidth, 'vision'),
      mlpWidth: need('visual.transformer.resblocks.0.mlp.c_fc.weight', 2)[0],
      act: 'quick_gelu', eps: 1e-5, imageSize: patch * grid, patchSize: patch, channels: conv[1],
    };
  };
  const tLayers = countBlocks('transformer.resblocks.');
  const tWidth = need('ln_final.weight', 1)[0];
  const heads = (w: number, name: string): number => {
    if (w % 64 !== 0) fail(`${source}: ${name} width ${w} is not a multiple of 64, so OpenAI's heads = width / 64 does not apply`);
    return w / 64;
  };
  const vision = rn ? rn.vision : vitVision();
  const vLayers = vision.layers;
  const config: ClipConfig = {
    vision,
    text: {
      width: tWidth, layers: tLayers, heads: heads(tWidth, 'text'),
      mlpWidth: need('transformer.resblocks.0.mlp.c_fc.weight', 2)[0],
      act: 'quick_gelu', eps: 1e-5,
      contextLength: need('positional_embedding', 2)[0],
      vocabSize: need('token_embedding.weight', 2)[0],
      eotId: need('token_embedding.weight', 2)[0] - 1, // '<|endoftext|>' is the last id of CLIP's vocabulary
    },
    embedDim: need('text_projection', 2)[1],
    logitScaleInit: 2.6592,
    ...(rn ? { resnet: rn.resnet } : {}),
  };
  if (vLayers === 0 || tLayers === 0) fail(`${source}: no transformer blocks found (visual.transformer.resblocks.N.*, transformer.resblocks.N.*)`);
  validateConfig(config, source);
  return config;
}

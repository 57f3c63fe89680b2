// clip/config.ts: the configuration of a CLIP ViT model, read from a Hugging Face config.json (or inferred from
// an OpenAI state dict's tensor shapes by inferOpenAiConfig in clip/weights.ts, where checkpoint names live).
// Shape letters, used in every file of src/clip and src/nn:
//   B images · S image side (pixels) · P patch · h × w patch grid · N = 1 + h·w tokens (class token first)
//   D width · H heads · hd = D/H · F MLP width · L layers · E joint embedding
//   T text length (≤ context) · V vocab · Bt texts

import { describeJson, fail } from '../errors.js';
import type { Activation } from '../nn/gelu.js';

/** The sizes of one transformer tower (D, L, H, F), its MLP activation and layer-norm epsilon. */
export interface TowerConfig {
  width: number;      // D
  layers: number;     // L
  heads: number;      // H
  mlpWidth: number;   // F
  act: Activation;    // MLP activation
  eps: number;        // layer-norm epsilon
}

/** The vision tower's config: a tower plus its square input size S, patch size P and channels. */
export interface VisionConfig extends TowerConfig {
  imageSize: number;  // S (square input)
  patchSize: number;  // P
  channels: number;   // 3
}

/** The text tower's config: a tower plus context length, vocabulary size V and the end-of-text id. */
export interface TextConfig extends TowerConfig {
  contextLength: number; // position embeddings (77 for CLIP)
  vocabSize: number;     // V
  eotId: number;         // end-of-text id: pooling reads the first one
}

/** A CLIP model's config: both towers, the shared embedding width E and the initial logit scale. */
export interface ClipConfig {
  vision: VisionConfig;
  text: TextConfig;
  embedDim: number;       // E
  logitScaleInit: number; // HF logit_scale_init_value (the seeded model's logit_scale)
  resnet?: ResnetConfig;  // set: the image tower is OpenAI's ModifiedResNet (clip/resnet.ts), not a ViT
}

/**
 * OpenAI's ModifiedResNet image tower (RN50: layers [3,4,6,3], width 64). Its VisionConfig then reads:
 * width = the attention pool's C = 32·width, heads = C/64, layers = Σ layers, patchSize = 32 (the total
 * stride, so patchGrid is the layer4 grid), mlpWidth = C (unused), eps = BatchNorm's 1e-5.
 * Letters (clip/resnet.ts): w stem width, stage s has planes w·2^s and outputs 4·w·2^s channels at S/2^(s+2).
 */
export interface ResnetConfig {
  layers: number[];       // bottlenecks in layer1..layer4
  width: number;          // w: the stem's output channels (the first conv has w/2)
}

/** The ViT-shaped fields of a ResNet tower's VisionConfig (see ResnetConfig), for image side S. */
export function resnetVisionConfig(r: ResnetConfig, imageSize: number): VisionConfig {
  const C = 32 * r.width;
  return {
    width: C, layers: r.layers.reduce((a, b) => a + b, 0), heads: Math.max(1, Math.floor(C / 64)), mlpWidth: C,
    act: 'quick_gelu', eps: 1e-5, imageSize, patchSize: 32, channels: 3,
  };
}

/** The vision patch grid [h, w] = [S / P, S / P]. */
export function patchGrid(config: ClipConfig): [number, number] {
  const g = config.vision.imageSize / config.vision.patchSize;
  return [g, g];
}

/** Vision tokens N = 1 (class) + h·w patches. */
export function numTokens(config: ClipConfig): number {
  const [h, w] = patchGrid(config);
  return 1 + h * w;
}

// Hugging Face CLIPVisionConfig / CLIPTextConfig / CLIPConfig defaults: config.json files may omit fields
// that equal them.
const HF_VISION_DEFAULTS: Record<string, number | string> = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, num_channels: 3,
  image_size: 224, patch_size: 32, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5,
};
const HF_TEXT_DEFAULTS: Record<string, number | string> = {
  vocab_size: 49408, hidden_size: 512, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 8,
  max_position_embeddings: 77, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, eos_token_id: 49407,
};

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function field(obj: Record<string, unknown>, defaults: Record<string, number | string>, key: string): unknown {
  return key in obj ? obj[key] : defaults[key];
}

/**
 * Upper bounds on every size, far above any CLIP (ViT-bigG: width 1664, MLP 8192, 48 layers, 16 heads; images up
 * to 448, vocabularies 49408, contexts 77 to a few hundred), so that a hostile config.json is refused by name
 * before it drives a loop of 10^9 layers or an allocation of terabytes.
 */
export const CONFIG_LIMITS = {
  width: 16384, mlpWidth: 65536, layers: 1024, heads: 1024, imageSize: 8192, patchSize: 8192,
  contextLength: 65536, vocabSize: 2 ** 21, embedDim: 16384,
} as const;
/**
 * Parameters of a whole model (float32: 16 GiB). loadClip checks a checkpoint's shapes before allocating, so
 * this only stops a configuration that no checkpoint backs (e.g. the seeded model) from asking for terabytes.
 */
export const MAX_PARAMETERS = 2 ** 32;

// A positive integer no larger than `max`; messages name the field and say why the value is refused.
function positiveInt(v: unknown, max: number, name: string): number {
  if (typeof v !== 'number') fail(`${name} is ${describeJson(v)}, expected a positive integer`);
  if (!Number.isFinite(v)) fail(`${name} is ${v}: not a finite number (JSON cannot hold it), expected a positive integer`);
  if (!Number.isInteger(v) || v <= 0) fail(`${name} is ${v}, expected a positive integer`);
  if (v > max) fail(`${name} is ${v}, more than ${max}, the largest this library accepts (is the file damaged?)`);
  return v;
}

function int(obj: Record<string, unknown>, defaults: Record<string, number | string>, key: string,
  where: string, max: number): number {
  return positiveInt(field(obj, defaults, key), max, `${where}.${key}`);
}

function activation(v: unknown, where: string): Activation {
  if (v === 'quick_gelu' || v === 'gelu') return v;
  fail(`${where}.hidden_act is ${describeJson(v)}: supported activations are "quick_gelu" and "gelu"`);
}

function epsilon(v: unknown, where: string): number {
  if (typeof v === 'number' && !Number.isFinite(v)) {
    fail(`${where}.layer_norm_eps is ${v}: not a finite number (JSON cannot hold it), expected a small positive number`);
  }
  if (typeof v !== 'number' || !(v > 0)) {
    fail(`${where}.layer_norm_eps is ${describeJson(v)}, expected a positive number`);
  }
  return v;
}

/**
 * A Hugging Face CLIPConfig (config.json of a CLIPModel). `source` names the file in error messages.
 */
export function parseHfConfig(json: unknown, source: string): ClipConfig {
  if (!isObject(json)) fail(`${source}: expected a JSON object (a Hugging Face CLIPConfig)`);
  const type = json.model_type;
  if (type !== undefined && type !== 'clip') {
    fail(`${source}: model_type is ${describeJson(type)}, only "clip" (CLIPModel with a ViT image tower) is supported`);
  }
  const v = json.vision_config ?? json.vision_config_dict ?? {};
  const t = json.text_config ?? json.text_config_dict ?? {};
  if (!isObject(v)) fail(`${source}: vision_config is not an object`);
  if (!isObject(t)) fail(`${source}: text_config is not an object`);
  const vw = `${source} vision_config`;
  const tw = `${source} text_config`;
  const vocabSize = int(t, HF_TEXT_DEFAULTS, 'vocab_size', tw, CONFIG_LIMITS.vocabSize);
  // Old HF configs carry eos_token_id 2, a legacy default; HF then pools at argmax(ids), which is the first
  // end-of-text token of CLIP's vocabulary (its largest id, V − 1).
  const eos = field(t, HF_TEXT_DEFAULTS, 'eos_token_id');
  const eotId = eos === 2 || eos === undefined || eos === null ? vocabSize - 1 : eos;
  if (typeof eotId !== 'number' || !Number.isInteger(eotId) || eotId < 0 || eotId >= vocabSize) {
    fail(`${tw}.eos_token_id is ${describeJson(eos)}, expected an id below vocab_size ${vocabSize}`);
  }
  const proj = positiveInt(json.projection_dim ?? 512, CONFIG_LIMITS.embedDim, `${source}: projection_dim`);
  const scale = json.logit_scale_init_value ?? 2.6592;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    fail(`${source}: logit_scale_init_value is ${describeJson(scale)}, expected a finite number`);
  }
  const config: ClipConfig = {
    vision: {
      width: int(v, HF_VISION_DEFAULTS, 'hidden_size', vw, CONFIG_LIMITS.width),
      layers: int(v, HF_VISION_DEFAULTS, 'num_hidden_layers', vw, CONFIG_LIMITS.layers),
      heads: int(v, HF_VISION_DEFAULTS, 'num_attention_heads', vw, CONFIG_LIMITS.heads),
      mlpWidth: int(v, HF_VISION_DEFAULTS, 'intermediate_size', vw, CONFIG_LIMITS.mlpWidth),
      act: activation(field(v, HF_VISION_DEFAULTS, 'hidden_act'), vw),
      eps: epsilon(field(v, HF_VISION_DEFAULTS, 'layer_norm_eps'), vw),
      imageSize: int(v, HF_VISION_DEFAULTS, 'image_size', vw, CONFIG_LIMITS.imageSize),
      patchSize: int(v, HF_VISION_DEFAULTS, 'patch_size', vw, CONFIG_LIMITS.patchSize),
      channels: int(v, HF_VISION_DEFAULTS, 'num_channels', vw, Infinity),
    },
    text: {
      width: int(t, HF_TEXT_DEFAULTS, 'hidden_size', tw, CONFIG_LIMITS.width),
      layers: int(t, HF_TEXT_DEFAULTS, 'num_hidden_layers', tw, CONFIG_LIMITS.layers),
      heads: int(t, HF_TEXT_DEFAULTS, 'num_attention_heads', tw, CONFIG_LIMITS.heads),
      mlpWidth: int(t, HF_TEXT_DEFAULTS, 'intermediate_size', tw, CONFIG_LIMITS.mlpWidth),
      act: activation(field(t, HF_TEXT_DEFAULTS, 'hidden_act'), tw),
      eps: epsilon(field(t, HF_TEXT_DEFAULTS, 'layer_norm_eps'), tw),
      contextLength: int(t, HF_TEXT_DEFAULTS, 'max_position_embeddings', tw, CONFIG_LIMITS.contextLength),
      vocabSize,
      eotId,
    },
    embedDim: proj,
    logitScaleInit: scale,
  };
  validateConfig(config, source);
  return config;
}

/**
 * Consistency checks shared by both sources.
 */
export function validateConfig(config: ClipConfig, source: string): void {
  const { vision: v, text: t } = config;
  // every size a positive integer within CONFIG_LIMITS (a config built in code, or inferred from shapes, too)
  const L = CONFIG_LIMITS;
  for (const [name, c] of [['vision', v], ['text', t]] as const) {
    positiveInt(c.width, L.width, `${source}: ${name} width`);
    positiveInt(c.layers, L.layers, `${source}: ${name} layers`);
    positiveInt(c.heads, L.heads, `${source}: ${name} heads`);
    positiveInt(c.mlpWidth, L.mlpWidth, `${source}: ${name} MLP width`);
    if (typeof c.eps !== 'number' || !Number.isFinite(c.eps) || !(c.eps > 0)) {
      fail(`${source}: ${name} layer-norm epsilon is ${describeJson(c.eps)}, expected a finite positive number`);
    }
  }
  positiveInt(v.imageSize, L.imageSize, `${source}: image size`);
  positiveInt(v.patchSize, L.patchSize, `${source}: patch size`);
  positiveInt(v.channels, Infinity, `${source}: image channels`);
  positiveInt(t.contextLength, L.contextLength, `${source}: text context length`);
  positiveInt(t.vocabSize, L.vocabSize, `${source}: vocabulary size`);
  positiveInt(config.embedDim, L.embedDim, `${source}: embedding size`);
  if (v.channels !== 3) fail(`${source}: the image tower has ${v.channels} input channels, expected 3 (RGB)`);
  if (config.resnet) validateResnet(config.resnet, v, source);
  if (v.imageSize % v.patchSize !== 0) {
    fail(`${source}: image size ${v.imageSize} is not a multiple of patch size ${v.patchSize}`);
  }
  for (const [name, c] of [['vision', v], ['text', t]] as const) {
    if (c.width % c.heads !== 0) {
      fail(`${source}: ${name} width ${c.width} is not divisible by its ${c.heads} attention heads`);
    }
  }
  const n = parameterCount(config);
  if (n > MAX_PARAMETERS) {
    fail(`${source}: this configuration has ${n.toExponential(2)} parameters (vision: width ${v.width}, ${v.layers} layers, ` +
      `MLP ${v.mlpWidth}, ${numTokens(config)} tokens; text: width ${t.width}, ${t.layers} layers, MLP ${t.mlpWidth}, ` +
      `vocabulary ${t.vocabSize}), more than the ${MAX_PARAMETERS} this library allocates`);
  }
}

/**
 * The number of parameters the configuration implies (clip/weights.ts's table, counted; float64 arithmetic).
 */
export function parameterCount(config: ClipConfig): number {
  const { vision: v, text: t, embedDim: E } = config;
  if (config.resnet) return resnetParameterCount(config.resnet, v, E) + textParameterCount(config);
  const block = (D: number, F: number) => 4 * D * D + 4 * D + 2 * D * F + F + D + 4 * D; // attn, mlp, 2 layer norms
  const vision = v.width * v.channels * v.patchSize * v.patchSize + v.width + numTokens(config) * v.width +
    4 * v.width + v.layers * block(v.width, v.mlpWidth) + E * v.width;
  const text = (t.vocabSize + t.contextLength) * t.width + t.layers * block(t.width, t.mlpWidth) + 2 * t.width + E * t.width;
  return vision + text + 1; // + logit_scale
}

// The text tower's share of parameterCount (+ logit_scale).
function textParameterCount(config: ClipConfig): number {
  const { text: t, embedDim: E } = config;
  const block = (D: number, F: number) => 4 * D * D + 4 * D + 2 * D * F + F + D + 4 * D;
  return (t.vocabSize + t.contextLength) * t.width + t.layers * block(t.width, t.mlpWidth) + 2 * t.width + E * t.width + 1;
}

// A ResNet tower's parameters (clip/resnet_weights.ts's table, counted): stem, bottlenecks, attention pool.
function resnetParameterCount(r: ResnetConfig, v: VisionConfig, E: number): number {
  const w = r.width, h = w / 2;
  const bn = (c: number) => 4 * c; // weight, bias, running mean, running variance
  let n = 3 * h * 9 + bn(h) + h * h * 9 + bn(h) + h * w * 9 + bn(w);
  let inplanes = w;
  r.layers.forEach((count, s) => {
    const planes = w * 2 ** s;
    for (let i = 0; i < count; i++) {
      n += inplanes * planes + bn(planes) + planes * planes * 9 + bn(planes) + planes * 4 * planes + bn(4 * planes);
      if (i === 0 && (s > 0 || inplanes !== 4 * planes)) n += inplanes * 4 * planes + bn(4 * planes); // downsample
      inplanes = 4 * planes;
    }
  });
  const g = Math.floor(v.imageSize / 32);
  const C = v.width;
  return n + (g * g + 1) * C + 3 * (C * C + C) + E * C + E;
}

// A ResNet tower's own sizes, and its VisionConfig fields as resnetVisionConfig makes them.
function validateResnet(r: ResnetConfig, v: VisionConfig, source: string): void {
  if (!Array.isArray(r.layers) || r.layers.length !== 4) {
    fail(`${source}: a ResNet image tower has 4 stages (layer1-layer4), got ${describeJson(r.layers)}`);
  }
  r.layers.forEach((n, s) => positiveInt(n, CONFIG_LIMITS.layers, `${source}: ResNet layer${s + 1} bottleneck count`));
  positiveInt(r.width, CONFIG_LIMITS.width, `${source}: ResNet stem width`);
  if (r.width % 2 !== 0) fail(`${source}: ResNet stem width ${r.width} is odd; the first convolution has width/2 channels`);
  if (v.width !== 32 * r.width) fail(`${source}: ResNet attention pool width ${v.width} is not 32 × the stem width ${r.width}`);
  if (v.imageSize < 32) fail(`${source}: image size ${v.imageSize} is below 32, the ResNet's total stride`);
}

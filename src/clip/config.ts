// clip/config.ts: the configuration of a CLIP ViT model, read from a Hugging Face config.json (or inferred from
// an OpenAI state dict's tensor shapes by inferOpenAiConfig in clip/weights.ts, where checkpoint names live).
// Shape letters, used in every file of src/clip and src/nn:
//   B images · S image side (pixels) · P patch · h × w patch grid · N = 1 + h·w tokens (class token first)
//   D width · H heads · hd = D/H · F MLP width · L layers · E joint embedding
//   T text length (≤ context) · V vocab · Bt texts

import { fail } from '../errors.js';
import type { Activation } from '../nn/gelu.js';

export interface TowerConfig {
  width: number;      // D
  layers: number;     // L
  heads: number;      // H
  mlpWidth: number;   // F
  act: Activation;    // MLP activation
  eps: number;        // layer-norm epsilon
}

export interface VisionConfig extends TowerConfig {
  imageSize: number;  // S (square input)
  patchSize: number;  // P
  channels: number;   // 3
}

export interface TextConfig extends TowerConfig {
  contextLength: number; // position embeddings (77 for CLIP)
  vocabSize: number;     // V
  eotId: number;         // end-of-text id: pooling reads the first one
}

export interface ClipConfig {
  vision: VisionConfig;
  text: TextConfig;
  embedDim: number;       // E
  logitScaleInit: number; // HF logit_scale_init_value (the seeded model's logit_scale)
}

export function patchGrid(config: ClipConfig): [number, number] {
  const g = config.vision.imageSize / config.vision.patchSize;
  return [g, g];
}

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

function int(obj: Record<string, unknown>, defaults: Record<string, number | string>, key: string,
  where: string): number {
  const v = field(obj, defaults, key);
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    fail(`${where}.${key} is ${JSON.stringify(v)}, expected a positive integer`);
  }
  return v;
}

function activation(v: unknown, where: string): Activation {
  if (v === 'quick_gelu' || v === 'gelu') return v;
  fail(`${where}.hidden_act is ${JSON.stringify(v)}: supported activations are "quick_gelu" and "gelu"`);
}

function epsilon(v: unknown, where: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    fail(`${where}.layer_norm_eps is ${JSON.stringify(v)}, expected a positive number`);
  }
  return v;
}

// A Hugging Face CLIPConfig (config.json of a CLIPModel). `source` names the file in error messages.
export function parseHfConfig(json: unknown, source: string): ClipConfig {
  if (!isObject(json)) fail(`${source}: expected a JSON object (a Hugging Face CLIPConfig)`);
  const type = json.model_type;
  if (type !== undefined && type !== 'clip') {
    fail(`${source}: model_type is ${JSON.stringify(type)}, only "clip" (CLIPModel with a ViT image tower) is supported`);
  }
  const v = json.vision_config ?? json.vision_config_dict ?? {};
  const t = json.text_config ?? json.text_config_dict ?? {};
  if (!isObject(v)) fail(`${source}: vision_config is not an object`);
  if (!isObject(t)) fail(`${source}: text_config is not an object`);
  const vw = `${source} vision_config`;
  const tw = `${source} text_config`;
  const vocabSize = int(t, HF_TEXT_DEFAULTS, 'vocab_size', tw);
  // Old HF configs carry eos_token_id 2, a legacy default; HF then pools at argmax(ids), which is the first
  // end-of-text token of CLIP's vocabulary (its largest id, V − 1).
  const eos = field(t, HF_TEXT_DEFAULTS, 'eos_token_id');
  const eotId = eos === 2 || eos === undefined || eos === null ? vocabSize - 1 : eos;
  if (typeof eotId !== 'number' || !Number.isInteger(eotId) || eotId < 0 || eotId >= vocabSize) {
    fail(`${tw}.eos_token_id is ${JSON.stringify(eos)}, expected an id below vocab_size ${vocabSize}`);
  }
  const proj = json.projection_dim ?? 512;
  if (typeof proj !== 'number' || !Number.isInteger(proj) || proj <= 0) {
    fail(`${source}: projection_dim is ${JSON.stringify(proj)}, expected a positive integer`);
  }
  const scale = json.logit_scale_init_value ?? 2.6592;
  if (typeof scale !== 'number') fail(`${source}: logit_scale_init_value is ${JSON.stringify(scale)}, expected a number`);
  const config: ClipConfig = {
    vision: {
      width: int(v, HF_VISION_DEFAULTS, 'hidden_size', vw),
      layers: int(v, HF_VISION_DEFAULTS, 'num_hidden_layers', vw),
      heads: int(v, HF_VISION_DEFAULTS, 'num_attention_heads', vw),
      mlpWidth: int(v, HF_VISION_DEFAULTS, 'intermediate_size', vw),
      act: activation(field(v, HF_VISION_DEFAULTS, 'hidden_act'), vw),
      eps: epsilon(field(v, HF_VISION_DEFAULTS, 'layer_norm_eps'), vw),
      imageSize: int(v, HF_VISION_DEFAULTS, 'image_size', vw),
      patchSize: int(v, HF_VISION_DEFAULTS, 'patch_size', vw),
      channels: int(v, HF_VISION_DEFAULTS, 'num_channels', vw),
    },
    text: {
      width: int(t, HF_TEXT_DEFAULTS, 'hidden_size', tw),
      layers: int(t, HF_TEXT_DEFAULTS, 'num_hidden_layers', tw),
      heads: int(t, HF_TEXT_DEFAULTS, 'num_attention_heads', tw),
      mlpWidth: int(t, HF_TEXT_DEFAULTS, 'intermediate_size', tw),
      act: activation(field(t, HF_TEXT_DEFAULTS, 'hidden_act'), tw),
      eps: epsilon(field(t, HF_TEXT_DEFAULTS, 'layer_norm_eps'), tw),
      contextLength: int(t, HF_TEXT_DEFAULTS, 'max_position_embeddings', tw),
      vocabSize,
      eotId,
    },
    embedDim: proj,
    logitScaleInit: scale,
  };
  validateConfig(config, source);
  return config;
}

// Consistency checks shared by both sources.
export function validateConfig(config: ClipConfig, source: string): void {
  const { vision: v, text: t } = config;
  if (v.channels !== 3) fail(`${source}: the image tower has ${v.channels} input channels, expected 3 (RGB)`);
  if (v.imageSize % v.patchSize !== 0) {
    fail(`${source}: image size ${v.imageSize} is not a multiple of patch size ${v.patchSize}`);
  }
  for (const [name, c] of [['vision', v], ['text', t]] as const) {
    if (c.width % c.heads !== 0) {
      fail(`${source}: ${name} width ${c.width} is not divisible by its ${c.heads} attention heads`);
    }
  }
}

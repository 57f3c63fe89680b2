// clip/model.ts: a CLIP model — configuration, parameters, tokenizer, backend — and its encoders:
// encodeImages (B,3,S,S) → (B,E), encodeTexts / encodeTokens → (Bt,E), both unnormalised as HF get_*_features;
// clipLogits = exp(logit_scale)·cos, as CLIPModel.forward's logits_per_image (formulas: clip/score.ts). `logitScale` is the raw
// parameter (ln 100 ≈ 4.605 for trained OpenAI models), not its exponential.

import { fail } from '../errors.js';
import type { Backend } from '../kernels/backend.js';
import { tsBackend } from '../kernels/reference.js';
import { allocFloat, tensor, type DType, type Tensor } from '../tensor/tensor.js';
import { validateConfig, type ClipConfig } from './config.js';
import { scoreRows } from './score.js';
import { encodeTokens } from './text.js';
import type { ClipTokenizer } from './tokenizer.js';
import { resnetParams, type ResnetParams } from './resnet_weights.js';
import { releaseRun, visionForward } from './vision.js';
import { allocParams, fillSeeded, param, textParams, visionParams, type Params, type TextParams, type VisionParams } from './weights.js';

export { encodeTokens };

/**
 * A loaded CLIP model: its config, the dtype and backend it computes with, every parameter in one buffer with
 * named views, and its tokenizer.
 */
export interface ClipModel {
  config: ClipConfig;
  dtype: DType;
  backend: Backend;
  params: Params;                  // every parameter in one buffer
  vision: VisionParams | null;     // named views into params (a ViT tower; null for a ResNet)
  resnet: ResnetParams | null;     // a ResNet tower's views (clip/resnet_weights.ts); null for a ViT
  text: TextParams;
  logitScale: number;              // the raw logit_scale parameter
  tokenizer: ClipTokenizer | null; // null when the folder has no vocabulary (encodeTokens still works)
  source: string;                  // where the weights came from, for messages
}

/**
 * A model around filled parameters.
 */
export function createClip(
  config: ClipConfig, params: Params,
  opts: { backend?: Backend; tokenizer?: ClipTokenizer | null; source?: string } = {}): ClipModel {
  return {
    config, dtype: params.dtype, backend: opts.backend ?? tsBackend, params,
    vision: config.resnet ? null : visionParams(params, config), resnet: config.resnet ? resnetParams(params, config) : null, text: textParams(params, config),
    logitScale: param(params, 'logit_scale')[0], tokenizer: opts.tokenizer ?? null, source: opts.source ?? 'memory',
  };
}

/**
 * A model whose weights come from the seeded generator, bit for bit as reference/clip_model.py's seeded_clip.
 */
export function seededClip(config: ClipConfig, seed: number, dtype: DType = 'float32', backend?: Backend): ClipModel {
  validateConfig(config, 'seededClip config');
  const params = allocParams(config, dtype, backend);
  fillSeeded(params, config, seed);
  return createClip(config, params, { backend, source: `seeded(${seed})` });
}

/** Unnormalised image embeddings (B, E) of preprocessed pixels (B, 3, S, S). */
export function encodeImages(model: ClipModel, pixels: Tensor): Tensor {
  const run = visionForward(model, pixels, { keep: [] });
  releaseRun(run);
  return run.embeddings;
}

/**
 * Unnormalised text embeddings (B, E) of the given strings; throws DecomcamError ('usage') when the model has no
 * tokenizer.
 */
export function encodeTexts(model: ClipModel, texts: string[]): Tensor {
  const tok = model.tokenizer;
  if (!tok) {
    fail(`model ${model.source} has no tokenizer: put vocab.json + merges.txt (or bpe_simple_vocab_16e6.txt.gz) ` +
      'beside the weights, or call encodeTokens with token ids', 'usage');
  }
  return encodeTokens(model, texts.map((t) => tok.tokenize(t, model.config.text.contextLength)));
}

/** CLIP's logits (B,Bt) = exp(logit_scale) · cos(image b, text t), as CLIPModel.forward's logits_per_image
 * (the cosine and the scale: clip/score.ts). */
export function clipLogits(model: ClipModel, images: Tensor, texts: Tensor): Tensor {
  const E = model.config.embedDim;
  if (images.shape[1] !== E || texts.shape[1] !== E) {
    fail(`clipLogits: embeddings must be [·, ${E}], got [${images.shape.join(', ')}] and [${texts.shape.join(', ')}]`, 'usage');
  }
  const B = images.shape[0];
  const T = texts.shape[0];
  const out = allocFloat(model.dtype, B * T);
  for (let t = 0; t < T; t++) {
    const logits = scoreRows('logit', images.data, B, texts.data.subarray(t * E, (t + 1) * E), model.logitScale);
    for (let b = 0; b < B; b++) out[b * T + t] = logits[b];
  }
  return tensor(out, [B, T]);
}

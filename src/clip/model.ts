// clip/model.ts: a CLIP model — configuration, parameters, tokenizer, backend — and its encoders:
// encodeImages (B,3,S,S) → (B,E), encodeTexts / encodeTokens → (Bt,E), both unnormalised as HF get_*_features;
// clipLogits = exp(logit_scale)·cos, as CLIPModel.forward's logits_per_image. `logitScale` is the raw
// parameter (ln 100 ≈ 4.605 for trained OpenAI models), not its exponential.

import { fail } from '../errors.js';
import type { Backend } from '../kernels/backend.js';
import { tsBackend } from '../kernels/reference.js';
import { allocFloat, tensor, type DType, type Tensor } from '../tensor/tensor.js';
import { validateConfig, type ClipConfig } from './config.js';
import { encodeTokens } from './text.js';
import type { ClipTokenizer } from './tokenizer.js';
import { releaseRun, visionForward } from './vision.js';
import { allocParams, fillSeeded, param, textParams, visionParams, type Params, type TextParams, type VisionParams } from './weights.js';

export { encodeTokens };

export interface ClipModel {
  config: ClipConfig;
  dtype: DType;
  backend: Backend;
  params: Params;                  // every parameter in one buffer
  vision: VisionParams;            // named views into params
  text: TextParams;
  logitScale: number;              // the raw logit_scale parameter
  tokenizer: ClipTokenizer | null; // null when the folder has no vocabulary (encodeTokens still works)
  source: string;                  // where the weights came from, for messages
}

// A model around filled parameters.
export function createClip(
  config: ClipConfig, params: Params,
  opts: { backend?: Backend; tokenizer?: ClipTokenizer | null; source?: string } = {}): ClipModel {
  return {
    config, dtype: params.dtype, backend: opts.backend ?? tsBackend, params,
    vision: visionParams(params, config), text: textParams(params, config),
    logitScale: param(params, 'logit_scale')[0], tokenizer: opts.tokenizer ?? null, source: opts.source ?? 'memory',
  };
}

// A model whose weights come from the seeded generator, bit for bit as reference/clip_model.py's seeded_clip.
export function seededClip(config: ClipConfig, seed: number, dtype: DType = 'float32', backend?: Backend): ClipModel {
  validateConfig(config, 'seededClip config');
  const params = allocParams(config, dtype, backend);
  fillSeeded(params, config, seed);
  return createClip(config, params, { backend, source: `seeded(${seed})` });
}

export function encodeImages(model: ClipModel, pixels: Tensor): Tensor {
  const run = visionForward(model, pixels, { keep: [] });
  releaseRun(run);
  return run.embeddings;
}

export function encodeTexts(model: ClipModel, texts: string[]): Tensor {
  const tok = model.tokenizer;
  if (!tok) {
    fail(`model ${model.source} has no tokenizer: put vocab.json + merges.txt (or bpe_simple_vocab_16e6.txt.gz) ` +
      'beside the weights, or call encodeTokens with token ids', 'usage');
  }
  return encodeTokens(model, texts.map((t) => tok.tokenize(t, model.config.text.contextLength)));
}

// logits (B,Bt) = exp(logit_scale) · cos(image b, text t)
export function clipLogits(model: ClipModel, images: Tensor, texts: Tensor): Tensor {
  const E = model.config.embedDim;
  if (images.shape[1] !== E || texts.shape[1] !== E) {
    fail(`clipLogits: embeddings must be [·, ${E}], got [${images.shape.join(', ')}] and [${texts.shape.join(', ')}]`, 'usage');
  }
  const B = images.shape[0];
  const T = texts.shape[0];
  const scale = Math.exp(model.logitScale);
  const norm = (x: Tensor, i: number): number => {
    let s = 0;
    for (let c = 0; c < E; c++) s += x.data[i * E + c] * x.data[i * E + c];
    return Math.sqrt(s);
  };
  const out = allocFloat(model.dtype, B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let dot = 0;
      for (let c = 0; c < E; c++) dot += images.data[b * E + c] * texts.data[t * E + c];
      out[b * T + t] = (scale * dot) / (norm(images, b) * norm(texts, t));
    }
  }
  return tensor(out, [B, T]);
}

// cam/scoremasks.ts: the perturbed inputs of Score-CAM and gScoreCAM, as pytorch-grad-cam's ScoreCAM builds them:
// channel c's map A[:,c] (h×w) is upsampled bilinearly with align_corners=True (torch.nn.UpsamplingBilinear2d) to
// R×R, min-max'd to [0,1] with an eps, multiplied into the normalised input (every colour channel), and scored.
// Computed in float64; the products are cast to the model's dtype by ctx.scoreImages.

import { interpolate } from '../image/interpolate.js';
import type { Float } from '../tensor/tensor.js';
import { minMaxRows } from './minmax.js';
import type { CamContext, LayerGrid } from './template.js';

/**
 * (len(channels)): the target's score of the input masked by each listed channel's normalised map, with
 * mask = (up − min) / (max − min + eps). batchSize images go through the model at a time (the same batches
 * are upsampled together, so memory grows with batchSize, not with the channel count). The masked images
 * depend on the image and layer only, not on the text: their embeddings are kept per image (ctx.shared), so
 * the image's other texts score them without another forward.
 */
export function channelScores(acts: Float, grid: LayerGrid, channels: ArrayLike<number>, eps: number, batchSize: number,
  ctx: CamContext): Float64Array {
  const E = maskedEmbeddings(acts, grid, channels, eps, batchSize, ctx);
  return ctx.scoreEmbeddings(E, channels.length);
}

// (len(channels), E): the embeddings of the masked images, from the per-image cache or batched forwards.
function maskedEmbeddings(acts: Float, grid: LayerGrid, channels: ArrayLike<number>, eps: number, batchSize: number,
  ctx: CamContext): Float64Array {
  const cache = ctx.shared;
  const key = (c: number): string => `scoremask:${eps}:${c}`;
  const missing = Array.from(channels).filter((c, i, all) => !cache.has(key(c)) && all.indexOf(c) === i);
  const chunk = Math.max(1, batchSize);
  for (let k0 = 0; k0 < missing.length; k0 += chunk) {
    const part = missing.slice(k0, k0 + chunk);
    const emb = ctx.embedImages(maskedBatch(acts, grid, part, eps, ctx), part.length, chunk);
    const E = emb.length / part.length;
    part.forEach((c, b) => cache.set(key(c), Float64Array.from(emb.subarray(b * E, (b + 1) * E))));
  }
  const rows = Array.from(channels, (c) => cache.get(key(c)) as Float64Array);
  const E = rows.length ? rows[0].length : 0;
  const out = new Float64Array(rows.length * E);
  rows.forEach((r, i) => out.set(r, i * E));
  return out;
}

// (B,3,R,R): the normalised input times each listed channel's mask.
function maskedBatch(acts: Float, grid: LayerGrid, channels: number[], eps: number, ctx: CamContext): Float64Array {
  const { h, w, C } = grid;
  const R = ctx.R;
  const RR = R * R;
  const B = channels.length;
  const maps = new Float64Array(B * h * w); // (B,h,w) the chosen channels' maps
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < h * w; p++) maps[b * h * w + p] = acts[p * C + channels[b]];
  }
  const up = minMaxRows(interpolate({ data: maps, shape: [B, h, w] }, R, R, 'bilinear', true).data as Float64Array, B, eps);
  const batch = new Float64Array(B * 3 * RR);
  for (let b = 0; b < B; b++) {
    for (let ch = 0; ch < 3; ch++) {
      for (let i = 0; i < RR; i++) batch[(b * 3 + ch) * RR + i] = ctx.pixels[ch * RR + i] * up[b * RR + i];
    }
  }
  return batch;
}

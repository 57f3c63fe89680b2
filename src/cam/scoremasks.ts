// cam/scoremasks.ts: the perturbed inputs of Score-CAM and gScoreCAM, as pytorch-grad-cam's ScoreCAM builds them:
// channel c's map A[:,c] (h×w) is upsampled bilinearly with align_corners=True (torch.nn.UpsamplingBilinear2d) to
// R×R, min-max'd to [0,1] with an eps, multiplied into the normalised input (every colour channel), and scored.
// Computed in float64; the products are cast to the model's dtype by ctx.scoreImages.

import { interpolate } from '../image/interpolate.js';
import type { Float } from '../tensor/tensor.js';
import { minMaxRows } from './minmax.js';
import type { CamContext, LayerGrid } from './template.js';

// (len(channels)): the target's score of the input masked by each listed channel's normalised map, with
// mask = (up − min) / (max − min + eps). batchSize images go through the model at a time (the same batches
// are upsampled together, so memory grows with batchSize, not with the channel count).
export function channelScores(acts: Float, grid: LayerGrid, channels: ArrayLike<number>, eps: number, batchSize: number,
  ctx: CamContext): Float64Array {
  const { h, w, C } = grid;
  const R = ctx.R;
  const RR = R * R;
  const K = channels.length;
  const scores = new Float64Array(K);
  const chunk = Math.max(1, batchSize);
  for (let k0 = 0; k0 < K; k0 += chunk) {
    const B = Math.min(chunk, K - k0);
    const maps = new Float64Array(B * h * w); // (B,h,w) the chosen channels' maps
    for (let b = 0; b < B; b++) {
      const c = channels[k0 + b];
      for (let p = 0; p < h * w; p++) maps[b * h * w + p] = acts[p * C + c];
    }
    const up = minMaxRows(interpolate({ data: maps, shape: [B, h, w] }, R, R, 'bilinear', true).data as Float64Array, B, eps);
    const batch = new Float64Array(B * 3 * RR); // (B,3,R,R)
    for (let b = 0; b < B; b++) {
      for (let ch = 0; ch < 3; ch++) {
        for (let i = 0; i < RR; i++) batch[(b * 3 + ch) * RR + i] = ctx.pixels[ch * RR + i] * up[b * RR + i];
      }
    }
    scores.set(ctx.scoreImages(batch, B, chunk), k0);
  }
  return scores;
}

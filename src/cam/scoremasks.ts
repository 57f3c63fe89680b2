// cam/scoremasks.ts: the perturbed inputs of Score-CAM and gScoreCAM, as pytorch-grad-cam's ScoreCAM builds them:
// channel c's map A[:,c] (h×w) is upsampled bilinearly with align_corners=True (torch.nn.UpsamplingBilinear2d) to
// S×S, min-max'd to [0,1] with an eps, multiplied into the normalised input (every colour channel), and scored.
// Computed in float64; the products are cast to the model's dtype by ctx.embedImages.

import type { Float } from '../tensor/tensor.js';
import type { CamContext, LayerGrid } from './template.js';

// out[oo + (y·S + x)] = bilinear value at (y, x) of src (h×w) stretched to S×S with align_corners=True:
// source coordinate = destination · (in − 1) / (out − 1), neighbours i0 = ⌊src⌋ and min(i0 + 1, in − 1).
export function upsampleBilinearAlignCorners(
  out: Float64Array, oo: number, // (S,S) written at offset oo
  src: Float64Array,             // (h,w)
  h: number, w: number, S: number): void {
  const sy = S > 1 ? (h - 1) / (S - 1) : 0;
  const sx = S > 1 ? (w - 1) / (S - 1) : 0;
  for (let y = 0; y < S; y++) {
    const fy = y * sy;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ly = fy - y0;
    for (let x = 0; x < S; x++) {
      const fx = x * sx;
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const lx = fx - x0;
      const top = (1 - lx) * src[y0 * w + x0] + lx * src[y0 * w + x1];
      const bottom = (1 - lx) * src[y1 * w + x0] + lx * src[y1 * w + x1];
      out[oo + y * S + x] = (1 - ly) * top + ly * bottom;
    }
  }
}

// (len(channels)): the target's score of the input masked by each listed channel's normalised map, with
// mask = (up − min) / (max − min + eps). Images go through the model ctx.options.batchSize at a time.
export function channelScores(acts: Float, grid: LayerGrid, channels: ArrayLike<number>, eps: number,
  ctx: CamContext): Float64Array {
  const { h, w, C } = grid;
  const S = ctx.S;
  const SS = S * S;
  const K = channels.length;
  const scores = new Float64Array(K);
  const chunk = Math.max(1, ctx.options.batchSize);
  const map = new Float64Array(h * w);
  const up = new Float64Array(SS);
  for (let k0 = 0; k0 < K; k0 += chunk) {
    const B = Math.min(chunk, K - k0);
    const batch = new Float64Array(B * 3 * SS); // (B,3,S,S)
    for (let b = 0; b < B; b++) {
      const c = channels[k0 + b];
      for (let p = 0; p < h * w; p++) map[p] = acts[p * C + c];
      upsampleBilinearAlignCorners(up, 0, map, h, w, S);
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < SS; i++) {
        lo = Math.min(lo, up[i]);
        hi = Math.max(hi, up[i]);
      }
      const d = hi - lo + eps;
      for (let ch = 0; ch < 3; ch++) {
        for (let i = 0; i < SS; i++) batch[(b * 3 + ch) * SS + i] = ctx.pixels[ch * SS + i] * ((up[i] - lo) / d);
      }
    }
    scores.set(ctx.scoreImages(batch, B), k0);
  }
  return scores;
}

// softmax over a vector (max subtracted first, as torch.softmax, for range).
export function softmax(x: Float64Array): Float64Array {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  const out = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.exp(x[i] - m);
    sum += out[i];
  }
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

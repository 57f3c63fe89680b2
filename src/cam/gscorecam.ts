// cam/gscorecam.ts: gScoreCAM (Chen et al., ACCV 2022), as its code (anguyen8/gScoreCAM, GScoreCAM.get_cam_weights):
// only the top-k channels by mean gradient (k = 300) are scored as Score-CAM scores them (bilinear
// align_corners=True, min-max eps 1e-6); unselected channels score 0, NaN scores become 0, and the weights are
// the softmax of that C-vector over all channels. k > C is clamped to C. torch.topk leaves the order of
// equal values unspecified; we take the stable descending order (lower index first), which only matters on ties.

import { meanOverPositions } from './gradcam.js';
import { softmax } from '../clip/score.js';
import { checkInt } from './options.js';
import { channelScores } from './scoremasks.js';
import { descendingOrder, type CamMethod } from './template.js';

/** gScoreCAM's options. */
export interface GscorecamOptions {
  /** k: channels scored, the top k by mean gradient (clamped to C). */
  topK: number;
  /** Masked images per batched forward; does not change any result. */
  batchSize: number;
}

const GSCORECAM_EPS = 1e-6; // gScoreCAM's (up − min) / (max − min + 1e-6)

/**
 * gScoreCAM: Score-CAM on the top-k channels by mean gradient (k defaults to 300), softmax weights over all
 * channels.
 */
export const gscorecam: CamMethod<GscorecamOptions> = {
  name: 'gscorecam',
  title: 'gScoreCAM (Chen et al., ACCV 2022)',
  usesGradients: true,
  defaults: Object.freeze({ topK: 300, batchSize: 16 }),
  check(o) {
    checkInt('gscorecam', 'topK', o.topK, 1);
    checkInt('gscorecam', 'batchSize', o.batchSize, 1);
  },
  channelWeights(acts, grads, grid, ctx) {
    const importance = meanOverPositions(grads, grid); // (C) mean gradient
    const k = Math.min(ctx.options.topK, grid.C);
    const top = descendingOrder(importance).subarray(0, k);
    const selected = channelScores(acts, grid, top, GSCORECAM_EPS, ctx.options.batchSize, ctx);
    const scores = new Float64Array(grid.C); // unselected channels keep 0
    for (let i = 0; i < k; i++) scores[top[i]] = Number.isNaN(selected[i]) ? 0 : selected[i];
    if (ctx.trace) {
      ctx.trace.set('top', { data: Float64Array.from(top), shape: [k] });
      ctx.trace.set('scores', { data: scores, shape: [grid.C] });
    }
    return softmax(scores);
  },
};

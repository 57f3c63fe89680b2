// cam/scorecam.ts: Score-CAM (arXiv 1910.01279, eq. 8), as pytorch-grad-cam's ScoreCAM: every channel's
// normalised, upsampled map masks the input; weight_c = softmax over channels of the target's score of that
// masked input. No gradients. Batched forwards (its batchSize option, images at a time; the size does not
// change the result). With the cosine target, scores lie in [−1, 1] and the softmax is nearly uniform — that
// is the formula with that target; the `logit` score kind scores as CLIP's logits (×exp(logit_scale)).

import { softmax } from '../clip/score.js';
import { checkInt } from './options.js';
import { channelScores } from './scoremasks.js';
import type { CamMethod } from './template.js';

/** Score-CAM's options. */
export interface ScorecamOptions {
  /** Masked images per batched forward; does not change any result. */
  batchSize: number;
}

const SCORECAM_EPS = 1e-8; // pytorch-grad-cam's ScoreCAM: (up − min) / (max − min + 1e-8)

/**
 * Score-CAM: each channel's upsampled, normalised map masks the input; weights are the softmax of the masked
 * inputs' scores. No gradients.
 */
export const scorecam: CamMethod<ScorecamOptions> = {
  name: 'scorecam',
  title: 'Score-CAM (arXiv 1910.01279)',
  usesGradients: false,
  defaults: Object.freeze({ batchSize: 16 }),
  check(o) {
    checkInt('scorecam', 'batchSize', o.batchSize, 1);
  },
  channelWeights(acts, grads, grid, ctx) {
    const all = Array.from({ length: grid.C }, (_, c) => c);
    const scores = channelScores(acts, grid, all, SCORECAM_EPS, ctx.options.batchSize, ctx);
    if (ctx.trace) ctx.trace.set('scores', { data: scores, shape: [grid.C] });
    return softmax(scores);
  },
};

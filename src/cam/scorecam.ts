// cam/scorecam.ts: Score-CAM (arXiv 1910.01279, eq. 8), as pytorch-grad-cam's ScoreCAM: every channel's
// normalised, upsampled map masks the input; weight_c = softmax over channels of the target's score of that
// masked input. No gradients. Batched forwards (ctx.options.batchSize images at a time; the size does not
// change the result). With the cosine target, scores lie in [−1, 1] and the softmax is nearly uniform — that
// is the formula with that target; the `logit` score kind scores as CLIP's logits (×exp(logit_scale)).

import { channelScores, softmax } from './scoremasks.js';
import type { CamMethod } from './template.js';

const SCORECAM_EPS = 1e-8; // pytorch-grad-cam's ScoreCAM: (up − min) / (max − min + 1e-8)

export const scorecam: CamMethod = {
  name: 'scorecam',
  title: 'Score-CAM (arXiv 1910.01279)',
  usesGradients: false,
  channelWeights(acts, grads, grid, ctx) {
    const all = Array.from({ length: grid.C }, (_, c) => c);
    const scores = channelScores(acts, grid, all, SCORECAM_EPS, ctx);
    if (ctx.trace) ctx.trace.set('scores', { data: scores, shape: [grid.C] });
    return softmax(scores);
  },
};

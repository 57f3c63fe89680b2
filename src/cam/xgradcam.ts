// cam/xgradcam.ts: XGrad-CAM (arXiv 2008.02312, eq. 11), as pytorch-grad-cam's XGradCAM:
// weight_c = Σ_p g[p,c] · A[p,c] / (Σ_p A[p,c] + eps).  acts, grads: (h·w, C) row-major.

import type { CamMethod } from './template.js';

const XGRADCAM_EPS = 1e-7; // pytorch-grad-cam's eps, keeps a channel whose activations sum to 0 finite

/** XGrad-CAM: weight_c = Σ_p g[p,c] · A[p,c] / (Σ_p A[p,c] + eps). */
export const xgradcam: CamMethod = {
  name: 'xgradcam',
  title: 'XGrad-CAM (arXiv 2008.02312)',
  usesGradients: true,
  defaults: {}, // no options
  channelWeights(acts, grads, grid) {
    const { h, w, C } = grid;
    const n = h * w;
    const sumActs = new Float64Array(C);
    for (let p = 0; p < n; p++) for (let c = 0; c < C; c++) sumActs[c] += acts[p * C + c];
    const weights = new Float64Array(C);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < C; c++) weights[c] += (grads[p * C + c] * acts[p * C + c]) / (sumActs[c] + XGRADCAM_EPS);
    }
    return weights;
  },
};

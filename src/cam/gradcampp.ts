// cam/gradcampp.ts: Grad-CAM++ (arXiv 1710.11063, eq. 19 with the ReLU of eq. 7), as pytorch-grad-cam's
// GradCAMPlusPlus: a[p,c] = g² / (2g² + (Σ_p A[p,c]) · g³ + eps), zero where g = 0;
// weight_c = Σ_p ReLU(g[p,c]) · a[p,c].  g = grads, (h·w, C) row-major, like acts.

import type { CamMethod } from './template.js';

const GRADCAMPP_EPS = 1e-6; // pytorch-grad-cam's eps in the denominator of a[p,c]

/** Grad-CAM++: channel weights Σ_p ReLU(g)·a with the second/third-order a of eq. 19. */
export const gradcampp: CamMethod = {
  name: 'gradcampp',
  title: 'Grad-CAM++ (arXiv 1710.11063)',
  usesGradients: true,
  defaults: {}, // no options
  channelWeights(acts, grads, grid) {
    const { h, w, C } = grid;
    const n = h * w;
    const sumActs = new Float64Array(C); // Σ_p A[p,c]
    for (let p = 0; p < n; p++) for (let c = 0; c < C; c++) sumActs[c] += acts[p * C + c];
    const weights = new Float64Array(C);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < C; c++) {
        const g = grads[p * C + c];
        if (g === 0) continue; // a[p,c] = 0 where the gradient is 0 (and ReLU(0) = 0 anyway)
        const g2 = g * g;
        const a = g2 / (2 * g2 + sumActs[c] * g2 * g + GRADCAMPP_EPS);
        weights[c] += Math.max(g, 0) * a;
      }
    }
    return weights;
  },
};

// cam/gradcam.ts: Grad-CAM (arXiv 1610.02391, eq. 1), as pytorch-grad-cam's GradCAM:
// alpha_c = mean over positions of dS/dA[p,c]; the map is Σ_c alpha_c · A[:,c] (the template sums it).
// acts, grads: (h·w, C) row-major. DecomCAM's α (its step 2) is this same mean, so it is exported.

import type { Float } from '../tensor/tensor.js';
import type { CamMethod, LayerGrid } from './template.js';

/**
 * (C): alpha_c = (1 / h·w) Σ_p grads[p,c]
 */
export function meanOverPositions(grads: Float, grid: LayerGrid): Float64Array {
  const { h, w, C } = grid;
  const n = h * w;
  const alpha = new Float64Array(C);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < C; c++) alpha[c] += grads[p * C + c];
  }
  for (let c = 0; c < C; c++) alpha[c] /= n;
  return alpha;
}

/** Grad-CAM: channel weights are the gradients' mean over positions. */
export const gradcam: CamMethod = {
  name: 'gradcam',
  title: 'Grad-CAM (arXiv 1610.02391)',
  usesGradients: true,
  defaults: {}, // no options
  channelWeights(acts, grads, grid) {
    return meanOverPositions(grads, grid);
  },
};

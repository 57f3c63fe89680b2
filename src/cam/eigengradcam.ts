// cam/eigengradcam.ts: EigenGrad-CAM, pytorch-grad-cam's variant of Eigen-CAM (arXiv 2008.00299) on the
// element-wise product of gradients and activations: map = first principal projection of (g ∘ A), (h·w),
// with the sign rule of cam/eigencam.ts.  acts, grads: (h·w, C) row-major.

import { firstProjection } from './eigencam.js';
import type { CamMethod } from './template.js';

/** EigenGrad-CAM: the first principal projection (h·w) of gradients ∘ activations. */
export const eigengradcam: CamMethod = {
  name: 'eigengradcam',
  title: 'EigenGrad-CAM (pytorch-grad-cam; after arXiv 2008.00299)',
  usesGradients: true,
  defaults: {}, // no options
  rawMap(acts, grads, grid) {
    const ga = new Float64Array(acts.length);
    for (let i = 0; i < ga.length; i++) ga[i] = grads[i] * acts[i];
    return firstProjection(ga, grid);
  },
};
